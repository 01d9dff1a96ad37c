"""``zoo-convert SRC DST.safetensors``: turn a weight file from other code into the zoo format.

The model and its constructor arguments come from the record the file stores when it has
one (the zoo format; the zoo's Lightning checkpoints keep each network's name and arguments
in ``hyper_parameters``), else they are told from the file's layout and tensor shapes, which
cannot tell settings such as ``head`` or ``rc_average`` (those keep their defaults).
``--model`` picks one when the file holds several (a GAN checkpoint), ``--set k=v`` adds
or overrides arguments. The result loads with ``zoo.load_model(DST)``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from typing import Any

import torch

from zoo._registry import create_model, get_spec, list_models, model_args
from zoo.weights import (
    PathLike,
    StateDict,
    WeightsFileError,
    _views,
    load_weights,
    read_metadata,
    read_model_records,
    read_state_dict,
    records_named,
    save_weights,
    stored_args,
)

Choice = tuple[str, dict[str, Any], str]  # (model name, constructor arguments, where in the file)


def _fits(name: str, args: dict[str, Any], state: StateDict) -> bool:
    """Whether ``state`` has exactly the keys and shapes of ``name`` built with ``args``."""
    try:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            wanted = create_model(name, **args).state_dict()
    except (TypeError, ValueError):
        return False
    return set(wanted) == set(state) and all(wanted[k].shape == state[k].shape for k in wanted)


def identify(path: PathLike, model: str | None = None) -> list[Choice]:
    """The (model name, constructor arguments, where) choices for ``path``: its stored record
    (zoo file, or the zoo's Lightning checkpoint), else the models its tensors fit."""
    meta = read_metadata(path)
    if meta.get("zoo_model"):
        if model and model != meta["zoo_model"]:
            raise WeightsFileError(
                f"{os.fspath(path)}: --model {model!r}, but this is a zoo {meta['zoo_model']!r} file"
            )
        return [(meta["zoo_model"], stored_args(path, meta), "zoo file")]
    records = read_model_records(path)
    if records:
        return _recorded(path, records, model)
    return _fitting(path, model)


def _recorded(path: PathLike, records: dict[str, dict[str, Any]], model: str | None) -> list[Choice]:
    """The networks a checkpoint's records describe; only those named ``model`` when given."""
    return [
        (r["name"], r["args"], f"zoo Lightning checkpoint, hyper_parameters['{attr}_record']")
        for attr, r in records_named(path, records, model).items()
    ]


def _fitting(path: PathLike, model: str | None) -> list[Choice]:
    """The models (``model`` only, when given) whose keys and shapes ``path``'s tensors fit;
    arguments the shapes cannot tell keep their defaults."""
    from zoo._convert import LayoutError, args_from_state, layout_for_keys

    names = [model] if model else list_models()
    found: list[Choice] = []
    for prefix, view in _views(read_state_dict(path)):
        layout = layout_for_keys(frozenset(view))
        for name in names:
            if layout is not None and layout.model != name:
                continue
            try:
                state = layout.convert(view) if layout is not None else view
            except LayoutError:
                continue
            defaults = model_args_defaults(name)
            args = {**args_from_state(name, state, defaults), **(layout.implied_args if layout else {})}
            if layout is not None and layout.name.startswith("selene") and "model" in prefix.split("."):
                args["rc_average"] = True  # Selene's NonStrandSpecific wrapper averaged both strands
            if args and _fits(name, args, state):
                where = (layout.description if layout else "zoo keys") + (
                    f" under {prefix!r}" if prefix else ""
                )
                found.append((name, args, where))
    return found


def model_args_defaults(name: str) -> dict[str, Any]:
    """The constructor arguments ``name`` gets with no overrides (required ones left out)."""
    import inspect

    from zoo._registry import constructor_params

    spec = get_spec(name)
    params = constructor_params(spec.cls)
    return {
        k: spec.defaults.get(k, p.default)
        for k, p in params.items()
        if k in spec.defaults or p.default is not inspect.Parameter.empty
    }


def _parse_set(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"zoo-convert: --set expects key=value, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def convert(
    src: PathLike, dst: PathLike, model: str | None = None, overrides: dict[str, Any] | None = None
) -> str:
    """Convert ``src`` into the zoo format at ``dst``; returns a one-line description."""
    choices = identify(src, model)
    if not choices:
        hint = "" if model else " (pass --model NAME if it holds a zoo model's keys under an unusual prefix)"
        raise WeightsFileError(f"{os.fspath(src)}: no zoo model fits this file's tensors{hint}")
    distinct = {(n, json.dumps(a, sort_keys=True, default=str)) for n, a, _ in choices}
    if len(distinct) > 1:
        listed = "; ".join(f"{n} ({where})" for n, _, where in choices)
        raise WeightsFileError(
            f"{os.fspath(src)}: holds several models: {listed}; pick one with --model NAME"
        )
    name, args, where = choices[0]
    args = {**args, **(overrides or {})}
    net = create_model(name, **args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_weights(net, src)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    save_weights(net, dst)
    spelled = ", ".join(f"{k}={v!r}" for k, v in model_args(net).items())
    return f"{os.fspath(src)} [{where}] -> {os.fspath(dst)}: {name}({spelled})"


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``zoo-convert``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "src", help="weight file from Kipoi, ExPecto, Selene, pytorch/examples, Lightning, ..."
    )
    parser.add_argument("dst", help="output .safetensors file (zoo format)")
    parser.add_argument("--model", choices=list_models(), help="the zoo model to convert into")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="constructor argument"
    )
    args = parser.parse_args(argv)
    try:
        print(convert(args.src, args.dst, args.model, _parse_set(args.set)))
    except (OSError, ValueError, TypeError) as err:
        raise SystemExit(f"zoo-convert: {err}") from None


if __name__ == "__main__":
    main()
