"""Matching a file's tensors to a model: wrapper prefixes, the registered foreign layouts,
and a :class:`LoadReport` of every key that did not fit, with the arguments that would.

:func:`load_weights` reads any of: the zoo format; plain ``.safetensors``; ``.pt``/``.pth``
state_dicts (also with DDP ``module.`` or torch.compile ``_orig_mod.`` prefixes); checkpoint
dicts holding a ``state_dict`` (Lightning ``.ckpt`` with the task's attribute prefix such as
``model.``, ``generator.``, ``decoder.``; Selene ``.pth.tar``); and the public layouts each
model family registers (``zoo.layouts``). The model passed in is changed only after the
whole file has been converted and checked.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from zoo import layouts
from zoo.models import args_from_state, layout_for_keys, model_args, spec_for_class
from zoo.weights.errors import LayoutWarning
from zoo.weights.safe_load import PathLike, StateDict, read_metadata, read_state_dict
from zoo.weights.zoo_format import stored_args

Shape = tuple[int, ...]


@dataclass
class LoadReport:
    """What a load found: the layout, where in the file, and every key that did not fit."""

    path: str
    layout: str  # "zoo" for the zoo's own keys, else a registered layout name (zoo.layouts)
    prefix: str  # the wrapper prefix stripped from the file's keys, e.g. "module." or "generator."
    loaded: list[str] = field(default_factory=list)
    missing: list[tuple[str, Shape]] = field(default_factory=list)  # in the model, not in the file
    unexpected: list[tuple[str, Shape]] = field(default_factory=list)  # in the file, not in the model
    mismatched: list[tuple[str, Shape, Shape]] = field(default_factory=list)  # key, file shape, model shape
    hint: str = ""  # the overrides that would fit, when they can be told
    fitting_args: dict[str, Any] = field(default_factory=dict)  # those overrides as values

    @property
    def complete(self) -> bool:
        """True when every tensor of the model and of the file matched."""
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        """The hint, then every offending key with its shapes, one per line."""
        lines = [self.hint] if self.hint else []
        lines += [f"  {k}: shape in file {list(f)}, in model {list(m)}" for k, f, m in self.mismatched]
        lines += [f"  {k}: missing from the file (model expects {list(s)})" for k, s in self.missing]
        lines += [
            f"  {k}: unexpected (in the file with shape {list(s)}, not in the model)"
            for k, s in self.unexpected
        ]
        return "\n".join(lines)


class WeightsMismatchError(ValueError):
    """The file's tensors do not fit the model; ``report`` says which and what would fit."""

    def __init__(self, message: str, report: LoadReport) -> None:
        super().__init__(message)
        self.report = report


class PartialLoadWarning(UserWarning):
    """``strict=False`` left some of the model's tensors unloaded; ``report`` lists them."""

    def __init__(self, message: str, report: LoadReport) -> None:
        super().__init__(message)
        self.report = report


def views(state: StateDict, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, StateDict]]:
    """``state`` and every sub-dict under a shared non-numeric key prefix (``module.``,
    ``_orig_mod.``, a Lightning task's ``model.``/``generator.``/``decoder.``...), shallow first."""
    level = [(prefix, state)]
    while level and depth <= 3:
        yield from level
        nxt = []
        for pre, sub in level:
            heads = sorted({k.split(".", 1)[0] for k in sub if "." in k})
            for head in heads:
                if head.isdigit():  # numbered prefixes (Kipoi's 1./2.) are part of a layout
                    continue
                inner = {k[len(head) + 1 :]: v for k, v in sub.items() if k.startswith(head + ".")}
                nxt.append((f"{pre}{head}.", inner))
        level, depth = nxt, depth + 1


@dataclass
class _Candidate:
    prefix: str
    layout: str
    state: StateDict  # in the zoo's key names
    implied: dict[str, Any]  # behaviour arguments the layout's original model used
    warning: str
    description: str
    score: tuple[int, int] = (0, 0)


def _compare(
    path: str, cand: _Candidate, wanted: dict[str, torch.Tensor]
) -> tuple[LoadReport, dict[str, torch.Tensor]]:
    report = LoadReport(path, cand.layout, cand.prefix)
    fits = {}
    for key, target in wanted.items():
        if key not in cand.state:
            report.missing.append((key, tuple(target.shape)))
        elif cand.state[key].shape != target.shape:
            report.mismatched.append((key, tuple(cand.state[key].shape), tuple(target.shape)))
        else:
            fits[key] = cand.state[key]
    report.unexpected = [(k, tuple(v.shape)) for k, v in cand.state.items() if k not in wanted]
    report.loaded = sorted(fits)
    return report, fits


def _candidates(state: StateDict, model_name: str | None, foreign: list[str]) -> Iterator[_Candidate]:
    """Each view of ``state`` in zoo key names: converted when it is a known layout for
    ``model_name``; known layouts of other models are noted in ``foreign``."""
    for prefix, view in views(state):
        layout = layout_for_keys(frozenset(view))
        if layout is None:
            yield _Candidate(prefix, "zoo", view, {}, "", "the zoo's own keys")
            continue
        if layout.model != model_name:
            foreign.append(
                f"{layout.description} (load it with zoo.create_model({layout.model!r}, weights=...))"
            )
            continue
        try:
            converted = layouts.convert(layout, view)
        except layouts.LayoutError as err:
            foreign.append(f"{layout.description} with an unexpected tensor: {err}")
            continue
        implied = layout.args_under(prefix)
        yield _Candidate(prefix, layout.name, converted, implied, layout.warning, layout.description)


def _hint(
    model: nn.Module, model_name: str, cand: _Candidate, meta: dict[str, str], path: str
) -> tuple[str, dict[str, Any]]:
    """The constructor overrides that would make ``cand`` fit, when they can be told: as a
    sentence, and as values."""
    current = model_args(model)
    if meta.get("zoo_model"):
        if meta["zoo_model"] != model_name:
            return f"This is a zoo {meta['zoo_model']!r} file: rebuild it with zoo.load_model(path).", {}
        implied = stored_args(path, meta)
    else:
        implied = {**args_from_state(model_name, cand.state, current), **cand.implied}
    diff = {k: v for k, v in implied.items() if k in current and _norm(current[k]) != _norm(v)}
    if not diff:
        return "", {}
    spelled = ", ".join(f"{k}={v!r}" for k, v in diff.items())
    what = (
        "the zoo file's arguments" if meta.get("zoo_model") else f"this is the layout of {cand.description}"
    )
    use = f"Use zoo.create_model({model_name!r}, {spelled}, weights=...)"
    return f"Overrides that fit: {spelled}: {what}. {use}", diff


def _norm(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _match(model: nn.Module, path: PathLike) -> tuple[LoadReport, dict[str, torch.Tensor], _Candidate | None]:
    """Read ``path`` and find the view of it that fits ``model`` best; nothing is loaded."""
    _require_module(model, path)
    name = os.fspath(path)
    state = read_state_dict(path)
    meta = read_metadata(path)
    model_name = _registered_name(model)
    wanted = model.state_dict()
    foreign: list[str] = []
    best: tuple[tuple[int, int], LoadReport, dict, _Candidate] | None = None
    for cand in _candidates(state, model_name, foreign):
        report, fits = _compare(name, cand, wanted)
        if report.complete:
            return report, fits, cand
        named = len(wanted) - len(report.missing)
        score = (named, len(fits))
        if best is None or score > best[0]:
            best = (score, report, fits, cand)
    if best is None or best[0] == (0, 0):
        report = LoadReport(name, "unknown", "", unexpected=[(k, tuple(v.shape)) for k, v in state.items()])
        report.missing = [(k, tuple(v.shape)) for k, v in wanted.items()]
        known = "; ".join(dict.fromkeys(foreign))
        if meta.get("zoo_model"):
            known = f"a zoo {meta['zoo_model']!r} model (rebuild it with zoo.load_model(path))"
        report.hint = (
            f"The file holds {known}."
            if known
            else f"No part of the file has {type(model).__name__}'s key names."
        )
        return report, {}, None
    _, report, fits, cand = best
    if model_name:
        report.hint, report.fitting_args = _hint(model, model_name, cand, meta, name)
    return report, fits, cand


def _require_module(model: Any, path: PathLike) -> None:
    """A TypeError unless ``model`` is an nn.Module (a common slip: passing the model's name)."""
    if isinstance(model, nn.Module):
        return
    hint = (
        f"; to build the model and load the file in one step use "
        f"zoo.create_model({model!r}, weights={os.fspath(path)!r})"
        if isinstance(model, str)
        else ""
    )
    raise TypeError(f"expected a model (an nn.Module) to load weights into, got {type(model).__name__}{hint}")


def _registered_name(model: nn.Module) -> str | None:
    """The registry name of ``model``'s class; None for other modules (e.g. a task's encoder),
    which load from zoo-keyed files only."""
    try:
        return spec_for_class(type(model)).name
    except ValueError:
        return None


def check_weights(model: nn.Module, path: PathLike) -> LoadReport:
    """What :func:`load_weights` would load from ``path`` into ``model``, without loading it."""
    return _match(model, path)[0]


def load_weights(model: nn.Module, path: PathLike, strict: bool = True) -> nn.Module:
    """Load the weight file at ``path`` into ``model`` and return ``model``.

    The format is told from the extension and the keys (see the module docstring); foreign
    layouts are converted to the zoo's key names and channel order. With ``strict=True``
    (default) any missing, unexpected or mis-shaped tensor raises one
    :class:`WeightsMismatchError` listing them all, with the overrides that would fit when
    they can be told. With ``strict=False`` the tensors that fit are loaded and a
    :class:`PartialLoadWarning` carries the :class:`LoadReport` of the rest (also available
    beforehand from :func:`check_weights`); a file of which nothing fits still raises.
    On any error ``model`` is left unchanged.
    """
    report, fits, cand = _match(model, path)
    name = type(model).__name__
    if not report.complete and (strict or not fits):
        why = "strict load" if strict else "nothing fits"
        raise WeightsMismatchError(
            f"{os.fspath(path)} does not fit {name} ({why}; layout {report.layout!r}"
            f"{', prefix ' + repr(report.prefix) if report.prefix else ''}):\n{report.describe()}",
            report,
        )
    full = model.state_dict()
    full.update(fits)
    model.load_state_dict(full, strict=True)
    assert cand is not None  # a candidate fitted, or fits would be empty
    if cand.warning:
        warnings.warn(f"{os.fspath(path)}: {cand.warning}", LayoutWarning, stacklevel=2)
    current = model_args(model) if cand.implied else {}
    differ = {k: v for k, v in cand.implied.items() if k in current and current[k] != v}
    if differ:
        spelled = ", ".join(f"{k}={v!r}" for k, v in differ.items())
        warnings.warn(
            f"{os.fspath(path)}: loaded {cand.description}, whose original model ran with {spelled}; "
            f"this {name} has {', '.join(f'{k}={current[k]!r}' for k in differ)}, so its outputs will "
            f"differ. Create it with {spelled} to reproduce the original.",
            LayoutWarning,
            stacklevel=2,
        )
    if not report.complete:
        warnings.warn(
            PartialLoadWarning(
                f"{os.fspath(path)}: loaded {len(fits)} of {len(full)} tensors into {name}; the rest keep "
                f"their values:\n{report.describe()}",
                report,
            ),
            stacklevel=2,
        )
    return model
