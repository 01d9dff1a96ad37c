"""Loading and saving weights: the zoo's own format, plain state_dicts, and the public layouts.

The zoo format is a ``.safetensors`` file whose metadata holds the registry name and
constructor arguments, so :func:`load_model` rebuilds the model without being told.

:func:`load_weights` reads any of: the zoo format; plain ``.safetensors``; ``.pt``/``.pth``
state_dicts (also with DDP ``module.`` or torch.compile ``_orig_mod.`` prefixes); checkpoint
dicts holding a ``state_dict`` (Lightning ``.ckpt`` with the task's attribute prefix such as
``model.``, ``generator.``, ``decoder.``; Selene ``.pth.tar``); and the public layouts of
Kipoi, ExPecto, Selene and pytorch/examples (see ``zoo._convert.layouts``), converted by
the functions at the end of each family's file.

Safety: pickled files are read only through ``torch.load(weights_only=True)``, never with
a fallback, so a file whose unpickling would run code is refused. The model passed in is
changed only after the whole file has been converted and checked.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo._files import new_file_mode
from zoo._registry import create_model, model_args, spec_for_class

PathLike = str | os.PathLike[str]
StateDict = dict[str, torch.Tensor]
Shape = tuple[int, ...]

# Keys of checkpoint dicts under which other code nests the model's state_dict.
_NESTED_KEYS = ("state_dict", "model_state_dict")
_EXPECTED = (
    "expected a zoo .safetensors file, a .safetensors state_dict, or a .pt/.pth/.ckpt/.pth.tar "
    "file written by torch.save holding a state_dict (a dict of tensors) or a checkpoint dict "
    "with a 'state_dict' entry"
)


_CKPT_ADVICE = (
    " Lightning checkpoints load when their hyper_parameters are plain Python values: pass OmegaConf "
    "configs through OmegaConf.to_container(cfg, resolve=True) before save_hyperparameters."
)


class WeightsFileError(ValueError):
    """The file is missing, empty, truncated, unsafe, or not a weights file."""


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


class LayoutWarning(UserWarning):
    """The weights loaded, but the file's original model computed something the model does not."""


@dataclass
class LoadReport:
    """What a load found: the layout, where in the file, and every key that did not fit."""

    path: str
    layout: str  # "zoo" for the zoo's own keys, else a zoo._convert layout name
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


# --- the zoo format -------------------------------------------------------------------------


def save_weights(model: nn.Module, path: PathLike) -> Path:
    """Save ``model`` in the zoo format (safetensors + name + constructor arguments).

    The file is written to a temporary name and renamed, so a failure never leaves a
    half-written file behind.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"save_weights writes .safetensors files, got {path.name!r}")
    spec = spec_for_class(type(model))
    metadata = {"zoo_model": spec.name, "zoo_args": json.dumps(model_args(model))}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.chmod(tmp, new_file_mode())  # mkstemp made it 0600
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_metadata(path: PathLike) -> dict[str, str]:
    """The metadata stored in a safetensors file's header ({} for other files)."""
    from safetensors import safe_open

    if not _is_safetensors(require_weights_file(path)):
        return {}
    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as err:  # safetensors raises its own error types for bad headers
        raise WeightsFileError(
            f"{os.fspath(path)}: not a readable safetensors file ({err}); {_EXPECTED}"
        ) from None


def stored_args(path: PathLike, meta: dict[str, str]) -> dict[str, Any]:
    """The constructor arguments in a zoo file's ``zoo_args`` metadata ({} when absent)."""
    raw = meta.get("zoo_args", "{}")
    try:
        args = json.loads(raw)
    except json.JSONDecodeError as err:
        raise WeightsFileError(
            f"{os.fspath(path)}: its safetensors metadata 'zoo_args' is not valid JSON ({err}); expected "
            "the JSON object of constructor arguments that zoo.save_weights writes"
        ) from None
    if not isinstance(args, dict):
        raise WeightsFileError(
            f"{os.fspath(path)}: its safetensors metadata 'zoo_args' holds a {type(args).__name__}; "
            "expected the JSON object of constructor arguments that zoo.save_weights writes"
        )
    return args


def load_model(path: PathLike) -> nn.Module:
    """Rebuild a model saved by :func:`save_weights` (or ``zoo-convert``), in eval mode."""
    require_weights_file(path)
    meta = read_metadata(path)
    if "zoo_model" not in meta:
        raise WeightsFileError(
            f"{os.fspath(path)}: not a zoo weights file (no 'zoo_model' in its safetensors metadata); "
            "use zoo.create_model(name, weights=path) for files from other code, or convert it "
            "with `zoo-convert SRC DST.safetensors`"
        )
    model = _create_uninitialised(meta["zoo_model"], stored_args(path, meta))
    load_weights(model, path)  # strict: every tensor of the state dict comes from the file
    return model.eval()


def _create_uninitialised(name: str, args: dict[str, Any]) -> nn.Module:
    """``create_model(name, **args)`` with its tensors allocated but not randomly initialised
    (the random init of a large model costs more than reading its weights).

    Built on the meta device, then given empty CPU storage; only for models whose whole
    tensor state is in the state dict, which a strict load then overwrites. Any other model
    is built normally.
    """
    with torch.device("meta"):
        model = create_model(name, **args)
    every = [n for n, _ in model.named_parameters(remove_duplicate=False)]
    every += [n for n, _ in model.named_buffers(remove_duplicate=False)]
    unique = len(list(model.parameters())) + len(list(model.buffers()))
    # a non-persistent buffer would be left uninitialised, a shared tensor would come apart
    if not set(every) <= set(model.state_dict()) or len(every) != unique:
        return create_model(name, **args)
    for module in model.modules():  # (not Module.to_empty, whose meta path imports sympy: 0.4 s)
        for key, param in module._parameters.items():
            if param is not None:
                empty = torch.empty(param.shape, dtype=param.dtype)
                module._parameters[key] = nn.Parameter(empty, requires_grad=param.requires_grad)
        for key, buf in module._buffers.items():
            if buf is not None:
                module._buffers[key] = torch.empty(buf.shape, dtype=buf.dtype)
    return model


# --- reading files safely -------------------------------------------------------------------


def _is_safetensors(path: Path) -> bool:
    """By extension, or by content: an 8-byte header length followed by a JSON header."""
    if path.suffix == ".safetensors":
        return True
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{" and not head.startswith(b"PK")


def _weights_only_refusal(err: Exception) -> tuple[bool, str] | None:
    """(whether it is a global or callable the file wants built, torch's detail) when torch's
    weights_only unpickler refused the file; None for other errors."""
    text = str(err)
    if "Weights only load failed" not in text:
        return None
    lines = [ln.strip() for ln in text.splitlines()]
    detail = " ".join(ln for ln in lines if "GLOBAL" in ln or "Unsupported" in ln or "WeightsUnpickler" in ln)
    unsafe = any(word in detail for word in ("GLOBAL", "global", "reduce", "Unsupported class"))
    return unsafe, detail or lines[0]


def require_weights_file(path: PathLike) -> Path:
    """``path`` as a Path; FileNotFoundError when nothing is there, IsADirectoryError for a folder."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"weights file {os.fspath(path)!r} is a directory; expected a weights file")
    if not path.is_file():
        raise FileNotFoundError(f"weights file {os.fspath(path)!r} does not exist")
    return path


def read_state_dict(path: PathLike) -> StateDict:
    """The tensors of a .safetensors or pickled (.pt/.pth/.ckpt) file, read safely.

    Checkpoint dicts are unwrapped to their ``state_dict``; prefixes are left as they are.
    """
    path = require_weights_file(path)
    name = os.fspath(path)
    if path.stat().st_size == 0:
        raise WeightsFileError(f"{name}: the file is empty (0 bytes); {_EXPECTED}")
    if _is_safetensors(path):
        from safetensors.torch import load_file

        try:
            return load_file(name)
        except Exception as err:  # truncated or corrupt header/data
            raise WeightsFileError(f"{name}: not a readable safetensors file ({err}); {_EXPECTED}") from None
    return _unwrap(_load_pickled(path), name)


def _load_pickled(path: Path, mmap: bool = False) -> Any:
    """``torch.load(path, weights_only=True)``, its failures turned into WeightsFileErrors."""
    name = os.fspath(path)
    try:
        # weights_only=True: unpickling runs no code from the file. Never fall back.
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as err:
        refusal = _weights_only_refusal(err)
        if refusal is not None and not refusal[0]:
            raise WeightsFileError(
                f"{name}: could not be read by torch.load(weights_only=True): it is corrupt, or a pickle "
                f"using features the safe loader does not allow ({refusal[1]}); {_EXPECTED}"
            ) from None
        if refusal is not None:
            reason = refusal[1]
            raise WeightsFileError(
                f"{name}: refused to load: the pickle holds Python objects other than tensors and plain "
                f"containers ({reason}), and unpickling them could run arbitrary code. The zoo reads pickled "
                "files only with torch.load(weights_only=True). If you trust the file, re-save just its "
                "state_dict (torch.save(model.state_dict(), ...)) or convert it to .safetensors."
                + _CKPT_ADVICE
                * (path.suffix == ".ckpt")
            ) from None
        raise WeightsFileError(
            f"{name}: could not be read as a PyTorch checkpoint, it is truncated, corrupt or not a "
            f"checkpoint ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no detail'}); "
            f"{_EXPECTED}"
        ) from None


def checkpoint_hparams(path: PathLike, key: str) -> dict[str, Any]:
    """A Lightning checkpoint's ``key`` dict (``hyper_parameters`` of the task,
    ``datamodule_hyper_parameters`` of the data); empty for files without one."""
    path = require_weights_file(path)
    if path.stat().st_size == 0 or _is_safetensors(path):
        return {}
    # mmap: only the small pickle is read here, not the tensors (torch.save's zip format only)
    obj = _load_pickled(path, mmap=zipfile.is_zipfile(path))
    hparams = obj.get(key) if isinstance(obj, dict) else None
    return hparams if isinstance(hparams, dict) else {}


def read_model_records(path: PathLike) -> dict[str, dict[str, Any]]:
    """The model records a zoo Lightning checkpoint stores, by the task attribute they rebuild.

    The zoo's tasks save each network's registry name and constructor arguments as
    ``hyper_parameters["<attribute>_record"] = {"name": ..., "args": {...}}`` (``model``,
    ``generator``/``discriminator``, ``decoder``); returns e.g. ``{"generator": {...}}``.
    Empty for files without them (safetensors, plain state_dicts, other code's checkpoints).
    """
    hparams = checkpoint_hparams(path, "hyper_parameters")
    from zoo._registry import list_models

    records = {}
    for attribute in _TASK_RECORDS:
        record = hparams.get(f"{attribute}_record")
        # Another program's hyperparameter of that name is no zoo record: the shapes decide then.
        if (
            isinstance(record, dict)
            and record.get("name") in list_models()
            and isinstance(record.get("args", {}), dict)
        ):
            records[attribute] = {"name": record["name"], "args": dict(record.get("args", {}))}
    return records


def describe_records(records: dict[str, dict[str, Any]]) -> str:
    """``'image_decoder' (as generator), ...``: what a checkpoint's records hold, for messages."""
    return ", ".join(f"{r['name']!r} (as {attribute})" for attribute, r in records.items())


def records_named(
    path: PathLike, records: dict[str, dict[str, Any]], name: str | None
) -> dict[str, dict[str, Any]]:
    """The records of the network called ``name`` (all of them for None); a WeightsFileError
    naming what the checkpoint holds when none is."""
    chosen = {attribute: r for attribute, r in records.items() if name is None or r["name"] == name}
    if not chosen:
        raise WeightsFileError(
            f"--model {name!r} but the Lightning checkpoint {os.fspath(path)} holds "
            f"{describe_records(records)}; pass one of those names or leave --model out"
        )
    return chosen


# The task attributes whose networks the zoo's tasks record (ClassificationTask, GANTask, VAETask).
_TASK_RECORDS = ("model", "generator", "discriminator", "decoder")


def _unwrap(obj: Any, name: str) -> StateDict:
    """The dict of tensors inside a loaded object (a state_dict or a checkpoint dict)."""
    if isinstance(obj, dict):
        for key in _NESTED_KEYS:
            if isinstance(obj.get(key), dict):
                return _unwrap(obj[key], f"{name}['{key}']")
        if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
            return dict(obj)
        odd = sorted(str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor))[:8]
        raise WeightsFileError(f"{name}: a dict whose entries {odd} are not tensors; {_EXPECTED}")
    raise WeightsFileError(f"{name}: holds a {type(obj).__name__}, not a dict of tensors; {_EXPECTED}")


# --- matching a file's tensors to a model ---------------------------------------------------


def _views(state: StateDict, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, StateDict]]:
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
    from zoo._convert import LayoutError, layout_for_keys

    for prefix, view in _views(state):
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
            converted = layout.convert(view)
        except LayoutError as err:
            foreign.append(f"{layout.description} with an unexpected tensor: {err}")
            continue
        implied = dict(layout.implied_args)
        if layout.name.startswith("selene") and "model" in prefix.split("."):
            implied["rc_average"] = True  # Selene's NonStrandSpecific (mode='mean') averages both strands
        yield _Candidate(prefix, layout.name, converted, implied, layout.warning, layout.description)


def _hint(
    model: nn.Module, model_name: str, cand: _Candidate, meta: dict[str, str], path: str
) -> tuple[str, dict[str, Any]]:
    """The constructor overrides that would make ``cand`` fit, when they can be told: as a
    sentence, and as values."""
    from zoo._convert import args_from_state

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
