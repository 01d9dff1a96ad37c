"""Reading weight files safely: safetensors, and pickles only through torch's weights_only loader.

Pickled files are read only with ``torch.load(weights_only=True)``, never with a fallback,
so a file whose unpickling would run code is refused.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import torch

from zoo._io.reading import require_input
from zoo._types import PathLike
from zoo.weights.errors import WeightsFileError

StateDict = dict[str, torch.Tensor]

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


def read_metadata(path: PathLike) -> dict[str, str]:
    """The metadata stored in a safetensors file's header ({} for other files).

    Args:
        path: the weight file.
    """
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
    """``path`` as a Path; FileNotFoundError when nothing is there, IsADirectoryError for a folder,
    PermissionError when it cannot be read (not "does not exist"), OSError for a pipe or device.

    Args:
        path: the weight file.
    """
    try:
        return require_input(path, "weights file")
    except IsADirectoryError as err:
        raise IsADirectoryError(f"{err}; expected a weights file") from None


def read_state_dict(path: PathLike, *, lazy: bool = False) -> StateDict:
    """The tensors of a .safetensors or pickled (.pt/.pth/.ckpt) file, read safely.

    Checkpoint dicts are unwrapped to their ``state_dict``; prefixes are left as they are.
    ``lazy=True`` reads no tensor data, for checking shapes before anything is built: a
    safetensors file gives meta tensors of its header's shapes and dtypes, a zip pickle
    (torch.save's format) memory-mapped tensors.

    Args:
        path: the weight file.
        lazy: read no tensor data, for checking shapes before anything is built.
    """
    path = require_weights_file(path)
    name = os.fspath(path)
    if path.stat().st_size == 0:
        raise WeightsFileError(f"{name}: the file is empty (0 bytes); {_EXPECTED}")
    if _is_safetensors(path):
        try:
            return _safetensors_shapes(name) if lazy else _safetensors_tensors(name)
        except Exception as err:  # truncated or corrupt header/data
            raise WeightsFileError(f"{name}: not a readable safetensors file ({err}); {_EXPECTED}") from None
    return _unwrap(_load_pickled(path, mmap=lazy and zipfile.is_zipfile(path)), name)


def _safetensors_tensors(name: str) -> StateDict:
    from safetensors.torch import load_file

    return load_file(name)


def _safetensors_shapes(name: str) -> StateDict:
    """Meta tensors of the shapes and dtypes in a safetensors header (no data is read)."""
    from safetensors import safe_open

    out: StateDict = {}
    with safe_open(name, framework="pt") as f:
        for key in f.keys():
            part = f.get_slice(key)
            dtype = _SAFETENSORS_DTYPES.get(part.get_dtype(), torch.uint8)
            out[key] = torch.empty(part.get_shape(), dtype=dtype, device="meta")
    return out


_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool, "C64": torch.complex64,
}  # fmt: skip


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
    ``datamodule_hyper_parameters`` of the data); empty for files without one.

    Args:
        path: the checkpoint.
        key: the dict's key.
    """
    path = require_weights_file(path)
    if path.stat().st_size == 0 or _is_safetensors(path):
        return {}
    # mmap: only the small pickle is read here, not the tensors (torch.save's zip format only)
    obj = _load_pickled(path, mmap=zipfile.is_zipfile(path))
    hparams = obj.get(key) if isinstance(obj, dict) else None
    return hparams if isinstance(hparams, dict) else {}


def read_checkpoint(path: PathLike) -> dict[str, Any]:
    """The dict a pickled checkpoint holds, read with ``torch.load(weights_only=True)``;
    a WeightsFileError naming the file for anything else (empty, corrupt, not a dict).

    Its tensors are memory-mapped (torch.save's zip format), so only the pickle is read.

    Args:
        path: the checkpoint.
    """
    path = require_weights_file(path)
    name = os.fspath(path)
    if path.stat().st_size == 0:
        raise WeightsFileError(
            f"{name}: the file is empty (0 bytes); expected a checkpoint written by torch.save"
        )
    obj = _load_pickled(path, mmap=zipfile.is_zipfile(path))
    if not isinstance(obj, dict):
        raise WeightsFileError(f"{name}: holds a {type(obj).__name__}, not a checkpoint dict")
    return obj


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
