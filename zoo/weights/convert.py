"""Converting a weight file from other code into the zoo format (what ``zoo-convert`` runs).

The model and its constructor arguments come from the record the file stores when it has
one (the zoo format; the zoo's Lightning checkpoints keep each network's name and arguments
in ``hyper_parameters``), else they are told from the file's layout and tensor shapes, which
cannot tell settings such as ``head`` or ``rc_average`` (those keep their defaults unless
the layout implies them). The target names and N value the file records are kept.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from typing import Any

import torch

from zoo._io.writing import check_output, same_file_as
from zoo.models import args_from_state, build_model, default_args, list_models, model_args
from zoo.weights.building import check_buildable
from zoo.weights.checkpoint_records import read_model_records, recorded_info, records_named
from zoo.weights.errors import WeightsFileError
from zoo.weights.matching import load_weights, readings, views
from zoo.weights.safe_load import PathLike, StateDict, read_metadata, read_state_dict
from zoo.weights.zoo_format import attach_info, fitting_info, save_weights, stored_args, stored_info

Choice = tuple[str, dict[str, Any], str]  # (model name, constructor arguments, where in the file)


def _fits(name: str, args: dict[str, Any], state: StateDict) -> bool:
    """Whether ``state`` has exactly the keys and shapes of ``name`` built with ``args``."""
    try:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            wanted = build_model(name, **args).state_dict()
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
    """The models (``model`` only, when given) whose keys and shapes ``path``'s tensors fit,
    under each registered layout that fits (or as they are, when none does); arguments the
    shapes cannot tell keep their defaults unless the layout implies them."""
    names = [model] if model else list_models()
    found: list[Choice] = []
    for prefix, view in views(read_state_dict(path)):
        fitting, _ = readings(view)
        for name in names:
            ways = (
                [(lay, state) for lay, state in fitting if lay.model == name] if fitting else [(None, view)]
            )
            for layout, state in ways:
                implied = layout.args_under(prefix) if layout is not None else {}
                args = {**args_from_state(name, state, default_args(name)), **implied}
                if args and _fits(name, args, state):
                    where = (layout.description if layout else "zoo keys") + (
                        f" under {prefix!r}" if prefix else ""
                    )
                    found.append((name, args, where))
    return found


def check_destination(src: PathLike, dst: PathLike, overwrite: bool = False) -> None:
    """Refuse a ``dst`` that is ``src`` itself (by inode: also a hardlink or symlink to it;
    ValueError) or a read-only file without ``overwrite`` (ReadOnlyOutputError)."""
    if same_file_as(dst, {"SRC": src}):
        raise ValueError(
            f"DST {os.fspath(dst)!r} is the same file as SRC {os.fspath(src)!r}: converting would "
            "overwrite it; write the converted file elsewhere"
        )
    check_output(dst, overwrite_readonly=overwrite)


def _keep_info(net: torch.nn.Module, src: PathLike) -> None:
    """The target names and N value ``src`` records (a zoo file's metadata, a zoo Lightning
    checkpoint's task and data module), on ``net``; names that do not fit its outputs (after
    overrides) are left out."""
    info = {**recorded_info(src), **stored_info(src, read_metadata(src))}
    attach_info(net, **fitting_info(net, info))


def convert(
    src: PathLike,
    dst: PathLike,
    model: str | None = None,
    overrides: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> str:
    """Convert ``src`` into the zoo format at ``dst``; returns a one-line description.

    ``dst`` is checked before ``src`` is read: it must not be ``src`` (ValueError), and a
    read-only file is replaced only with ``overwrite`` (else PermissionError).
    """
    check_destination(src, dst, overwrite)
    choices = identify(src, model)
    if not choices:
        hint = "" if model else " (pass --model NAME if it holds a zoo model's keys under an unusual prefix)"
        raise WeightsFileError(f"{os.fspath(src)}: no zoo model fits this file's tensors{hint}")
    if overrides:  # --set may pick among readings that differ in those arguments
        same = lambda a, b: json.dumps(a, default=str) == json.dumps(b, default=str)  # noqa: E731
        picked = [c for c in choices if all(same(c[1].get(k, v), v) for k, v in overrides.items())]
        choices = picked or choices
    distinct = {(n, json.dumps(a, sort_keys=True, default=str)) for n, a, _ in choices}
    if len(distinct) > 1:
        listed = "; ".join(f"{n} ({where})" for n, _, where in choices)
        raise WeightsFileError(
            f"{os.fspath(src)}: holds several models: {listed}; pick one with --model NAME "
            "(or, for readings of one model, with the --set KEY=VALUE that tells them apart)"
        )
    name, args, where = choices[0]
    args = {**args, **(overrides or {})}
    check_buildable(name, args, src)  # a stored record's sizes are the file's before memory is allocated
    net = build_model(name, **args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_weights(net, src)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    _keep_info(net, src)
    save_weights(net, dst, overwrite=overwrite)
    spelled = ", ".join(f"{k}={v!r}" for k, v in model_args(net).items())
    return f"{os.fspath(src)} [{where}] -> {os.fspath(dst)}: {name}({spelled})"
