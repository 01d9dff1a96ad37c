"""Matching a file's tensors to a model: wrapper prefixes, the registered foreign layouts,
and a :class:`LoadReport` of every key that did not fit, with the arguments that would.

:func:`load_weights` reads any of: the zoo format; plain ``.safetensors``; ``.pt``/``.pth``
state_dicts (also with DDP ``module.`` or torch.compile ``_orig_mod.`` prefixes); checkpoint
dicts holding a ``state_dict`` (Lightning ``.ckpt`` with the task's attribute prefix such as
``model.``, ``generator.``, ``decoder.``; Selene ``.pth.tar``); and the public layouts each
model family registers (``zoo.weights.layouts``). The model passed in is changed only after the
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

from zoo._checks import NonFiniteWarning, list_names, non_finite_tensors
from zoo.errors import ZooError
from zoo.models import args_from_state, layouts_for_keys, model_args, spec_for_class
from zoo.weights import layouts
from zoo.weights.checkpoint_records import TASK_ATTRIBUTES, read_model_records
from zoo.weights.errors import LayoutWarning
from zoo.weights.layouts import Layout
from zoo.weights.safe_load import PathLike, StateDict, read_metadata, read_state_dict
from zoo.weights.zoo_format import stored_args

TensorShape = tuple[int, ...]


@dataclass
class LoadReport:
    """What a load found: the layout, where in the file, and every key that did not fit.

    Attributes:
        path: the weight file.
        layout: ``"zoo"`` for the zoo's own keys, else a registered layout name
            (:mod:`zoo.weights.layouts`).
        prefix: the wrapper prefix stripped from the file's keys, e.g. ``module.`` or
            ``generator.``.
        loaded: the keys loaded.
        missing: the model's keys the file lacks, with their shapes.
        unexpected: the file's keys the model lacks, with their shapes.
        mismatched: keys whose shapes differ: (key, the file's shape, the model's shape).
        unusable: keys that cannot be loaded, with why (sparse, no values, dtype).
        hint: the overrides that would fit, when they can be told.
        fitting_args: those overrides as values.
    """

    path: str
    layout: str  # "zoo" for the zoo's own keys, else a registered layout name (zoo.weights.layouts)
    prefix: str  # the wrapper prefix stripped from the file's keys, e.g. "module." or "generator."
    loaded: list[str] = field(default_factory=list)
    missing: list[tuple[str, TensorShape]] = field(default_factory=list)  # in the model, not in the file
    unexpected: list[tuple[str, TensorShape]] = field(default_factory=list)  # in the file, not in the model
    mismatched: list[tuple[str, TensorShape, TensorShape]] = field(
        default_factory=list
    )  # key, file shape, model shape
    unusable: list[tuple[str, str]] = field(default_factory=list)  # key, why (sparse, no values, dtype)
    hint: str = ""  # the overrides that would fit, when they can be told
    fitting_args: dict[str, Any] = field(default_factory=dict)  # those overrides as values

    @property
    def complete(self) -> bool:
        """True when every tensor of the model and of the file matched."""
        return not (self.missing or self.unexpected or self.mismatched or self.unusable)

    def describe(self) -> str:
        """The hint, then every offending key with its shapes, one per line."""
        lines = [self.hint] if self.hint else []
        lines += [f"  {k}: shape in file {list(f)}, in model {list(m)}" for k, f, m in self.mismatched]
        lines += [f"  {k}: {why}" for k, why in self.unusable]
        lines += [f"  {k}: missing from the file (model expects {list(s)})" for k, s in self.missing]
        lines += [
            f"  {k}: unexpected (in the file with shape {list(s)}, not in the model)"
            for k, s in self.unexpected
        ]
        return "\n".join(lines)


class WeightsMismatchError(ZooError):
    """The file's tensors do not fit the model; ``report`` says which and what would fit.

    Args:
        message: the error.
        report: which tensors differ and what would fit.
    """

    def __init__(self, message: str, report: LoadReport) -> None:
        super().__init__(message)
        self.report = report


class PartialLoadWarning(UserWarning):
    """``strict=False`` left some of the model's tensors unloaded; ``report`` lists them.

    Args:
        message: the warning.
        report: the tensors left unloaded.
    """

    def __init__(self, message: str, report: LoadReport) -> None:
        super().__init__(message)
        self.report = report


def views(state: StateDict, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, StateDict]]:
    """``state`` and every sub-dict under a shared non-numeric key prefix (``module.``,
    ``_orig_mod.``, a Lightning task's ``model.``/``generator.``/``decoder.``...), shallow first.

    Args:
        state: a state dict.
        prefix: the prefix ``state`` was found under, prepended to each view's prefix.
        depth: how many prefixes deep ``state`` is (views go at most 3 deep).
    """
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


def readings(view: StateDict) -> tuple[list[tuple[Layout, StateDict]], list[tuple[Layout, str]]]:
    """The registered layouts with exactly ``view``'s keys: those that convert it (with the
    tensors in the zoo's names), and those whose shapes it does not have (with the reason).
    Several layouts may fit one file: their original models differ in what no tensor records."""
    fitting, failing = [], []
    for layout in layouts_for_keys(frozenset(view)):
        try:
            fitting.append((layout, layouts.apply_layout(layout, view)))
        except layouts.LayoutError as err:
            failing.append((layout, str(err)))
    return fitting, failing


def _unusable(tensor: torch.Tensor, target: torch.Tensor) -> str:
    """Why ``tensor`` cannot be copied into ``target`` ("" when it can): a layout other than
    dense, no values, or a dtype that copying would cast across kinds (int into float...)."""
    if tensor.layout != torch.strided:
        return f"a sparse tensor ({tensor.layout}) in the file; expected a dense one"
    if tensor.device.type == "meta":
        return "a tensor without values (on the meta device) in the file"
    if tensor.is_quantized or _kind(tensor) != _kind(target):
        return f"dtype {tensor.dtype} in the file, {target.dtype} in the model"
    return ""


def _kind(t: torch.Tensor) -> str:
    if t.is_quantized:
        return "quantized"
    if t.is_complex():
        return "complex"
    if t.is_floating_point():
        return "float"
    return "bool" if t.dtype == torch.bool else "integer"


def _compare(
    path: str, cand: _Candidate, wanted: dict[str, torch.Tensor], lazy: bool = False
) -> tuple[LoadReport, dict[str, torch.Tensor]]:
    """The report of ``cand`` against the model's tensors ``wanted``, and the tensors that fit
    (``lazy``: the file's tensors are meta tensors of its shapes and dtypes, checked by shape)."""
    report = LoadReport(path, cand.layout, cand.prefix)
    fits = {}
    for key, target in wanted.items():
        tensor = cand.state.get(key)
        if tensor is None:
            report.missing.append((key, tuple(target.shape)))
        elif tensor.shape != target.shape:
            report.mismatched.append((key, tuple(tensor.shape), tuple(target.shape)))
        elif not lazy and _unusable(tensor, target):
            report.unusable.append((key, _unusable(tensor, target)))
        else:
            fits[key] = tensor
    report.unexpected = [(k, tuple(v.shape)) for k, v in cand.state.items() if k not in wanted]
    report.loaded = sorted(fits)
    return report, fits


def _own_prefixes(path: PathLike, state: StateDict, meta: dict[str, str]) -> set[str] | None:
    """Where ``path`` holds the zoo's own networks, which no foreign layout applies to: None
    for everywhere (a zoo file), else the prefixes of the networks a zoo Lightning checkpoint
    records (``generator.``, ...). Keeps a zoo network whose tensors happen to have a
    published layout's shapes from being read as that layout."""
    if meta.get("zoo_model"):
        return None
    if not any(key.split(".", 1)[0] in TASK_ATTRIBUTES for key in state):
        return set()  # no task attribute: not a zoo checkpoint, so no need to read its records
    try:
        return {f"{attribute}." for attribute in read_model_records(path)}
    except (OSError, ValueError):
        return set()


def _candidates(
    state: StateDict, model_name: str | None, foreign: list[str], own: set[str] | None
) -> Iterator[_Candidate]:
    """Each view of ``state`` in zoo key names: converted by each layout of ``model_name``
    that fits it, else as it is when no model's layout fits (and always as it is under the
    ``own`` prefixes, None meaning everywhere); the fitting layouts of other models, and
    layouts with the view's keys but other shapes, are noted in ``foreign``."""
    for prefix, view in views(state):
        zoo_keys = _Candidate(prefix, "zoo", view, {}, "", "the zoo's own keys")
        if own is None or prefix in own:
            yield zoo_keys
            continue
        fitting, failing = readings(view)
        for layout, converted in fitting:
            if layout.model == model_name:
                implied = layout.args_under(prefix)
                yield _Candidate(prefix, layout.name, converted, implied, layout.warning, layout.description)
            else:
                foreign.append(
                    f"{layout.description} (load it with zoo.create_model({layout.model!r}, weights=...))"
                )
        foreign += [f"{lay.description} with an unexpected tensor: {err}" for lay, err in failing]
        if not fitting:
            yield zoo_keys


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
    diff = _differing(implied, current)
    if not diff:
        return "", {}
    spelled = _spell(diff)
    what = (
        "the zoo file's arguments" if meta.get("zoo_model") else f"this is the layout of {cand.description}"
    )
    use = f"Use zoo.create_model({model_name!r}, {spelled}, weights=...)"
    return f"Overrides that fit: {spelled}: {what}. {use}", diff


def _spell(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


def _norm(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _differing(implied: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The arguments in ``implied`` that ``current`` has with another value."""
    return {k: v for k, v in implied.items() if k in current and _norm(current[k]) != _norm(v)}


def _match(
    model: nn.Module, path: PathLike, lazy: bool = False
) -> tuple[LoadReport, dict[str, torch.Tensor], _Candidate | None]:
    """Read ``path`` and find the view of it that fits ``model`` best; nothing is loaded.

    Of several complete fits (layouts that differ only in what no tensor records), the one
    whose original model ran with ``model``'s arguments wins; with none, the first (and
    :func:`load_weights` warns that the original ran with other arguments). ``lazy`` reads
    no tensor data (:func:`read_state_dict`), for checking shapes only."""
    _require_module(model, path)
    name = os.fspath(path)
    state = read_state_dict(path, lazy=lazy)
    meta = read_metadata(path)
    model_name = _registered_name(model)
    wanted = model.state_dict()
    current = model_args(model) if model_name else {}
    foreign: list[str] = []
    complete: list[tuple[LoadReport, dict, _Candidate]] = []
    best: list[tuple[tuple[int, int], LoadReport, dict, _Candidate]] = []  # the best score, ties kept
    for cand in _candidates(state, model_name, foreign, _own_prefixes(path, state, meta)):
        report, fits = _compare(name, cand, wanted, lazy)
        if report.complete:
            complete.append((report, fits, cand))
            continue
        score = (len(wanted) - len(report.missing), len(fits))
        if not best or score > best[0][0]:
            best = [(score, report, fits, cand)]
        elif score == best[0][0]:
            best.append((score, report, fits, cand))
    if complete:
        agreeing = [c for c in complete if not _differing(c[2].implied, current)]
        return (agreeing or complete)[0]
    if not best or best[0][0] == (0, 0):
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
    _, report, fits, cand = best[0]
    if model_name:
        report.hint, report.fitting_args = _hint(model, model_name, cand, meta, name)
        for _, _, _, other in best[1:]:  # as good a fit under another layout: name it too
            _, other_args = _hint(model, model_name, other, meta, name)
            if other_args and other_args != report.fitting_args:
                report.hint += f" Or, if it is {other.description}: {_spell(other_args)}."
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


def mismatch_error(
    path: PathLike, name: str, report: LoadReport, strict: bool = True
) -> WeightsMismatchError:
    """The error of a load whose ``report`` is not complete: every offending key, one per line."""
    why = "strict load" if strict else "nothing fits"
    return WeightsMismatchError(
        f"{os.fspath(path)} does not fit {name} ({why}; layout {report.layout!r}"
        f"{', prefix ' + repr(report.prefix) if report.prefix else ''}):\n{report.describe()}",
        report,
    )


def check_weights(model: nn.Module, path: PathLike) -> LoadReport:
    """What :func:`load_weights` would load from ``path`` into ``model``, without loading it.

    Args:
        model: the model.
        path: the weight file.

    Returns:
        The :class:`LoadReport`.
    """
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

    Args:
        model: the model to load into.
        path: the weight file.
        strict: raise on any missing, unexpected or mis-shaped tensor; False loads the tensors
            that fit and warns.
    """
    report, fits, cand = _match(model, path)
    name = type(model).__name__
    if not report.complete and (strict or not fits):
        raise mismatch_error(path, name, report, strict)
    full = model.state_dict()
    unallocated = [k for k, v in full.items() if v.device.type == "meta"]
    if unallocated:
        raise ValueError(
            f"{name} has tensors on the meta device ({list_names(unallocated)}), which hold no values to "
            "load into; allocate them first (model.to_empty(device='cpu'))"
        )
    # Converted to each tensor's dtype and device before any is copied: a failure here
    # (memory, a device) leaves the model as it was, and the copies below cannot fail.
    full.update({k: v.to(device=full[k].device, dtype=full[k].dtype) for k, v in fits.items()})
    broken = non_finite_tensors(fits)
    model.load_state_dict(full, strict=True)
    assert cand is not None  # a candidate fitted, or fits would be empty
    if broken:
        warnings.warn(
            f"{os.fspath(path)}: NaN or infinite values in {list_names(broken)}; the outputs they reach "
            "will be NaN or infinite",
            NonFiniteWarning,
            stacklevel=2,
        )
    if cand.warning:
        warnings.warn(f"{os.fspath(path)}: {cand.warning}", LayoutWarning, stacklevel=2)
    current = model_args(model) if cand.implied else {}
    differ = _differing(cand.implied, current)
    if differ:
        spelled = _spell(differ)
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
