"""Loading and saving weights: the zoo's own safetensors format and plain state_dicts.

The zoo format is a ``.safetensors`` file whose metadata holds the registry name and
constructor arguments, so :func:`load_model` rebuilds the model without being told.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo._registry import create_model, model_args, spec_for_class

PathLike = str | os.PathLike[str]
_PREFIXES = ("module.", "_orig_mod.", "model.")


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
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_metadata(path: PathLike) -> dict[str, str]:
    """The metadata stored in a safetensors file's header."""
    from safetensors import safe_open

    with safe_open(os.fspath(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_model(path: PathLike) -> nn.Module:
    """Rebuild a model saved by :func:`save_weights`, in eval mode."""
    meta = read_metadata(path)
    if "zoo_model" not in meta:
        raise ValueError(
            f"{os.fspath(path)}: not a zoo weights file (no 'zoo_model' in its metadata); "
            "use zoo.create_model(name, weights=path) for files from other code"
        )
    model = create_model(meta["zoo_model"], **json.loads(meta.get("zoo_args", "{}")))
    load_weights(model, path)
    return model.eval()


def read_state_dict(path: PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors or pickled (.pt/.pth/.ckpt) file, read safely."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {os.fspath(path)!r} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(os.fspath(path))
    # weights_only=True: unpickling runs no code from the file; never fall back.
    obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{os.fspath(path)}: expected a state_dict (a dict of tensors)")
    return obj


def _strip_prefixes(state: dict[str, torch.Tensor], wanted: set[str]) -> dict[str, torch.Tensor]:
    changed = True
    while changed and not set(state) <= wanted:
        changed = False
        for prefix in _PREFIXES:
            if state and all(k.startswith(prefix) for k in state):
                state = {k[len(prefix) :]: v for k, v in state.items()}
                changed = True
    return state


def load_weights(model: nn.Module, path: PathLike, strict: bool = True) -> nn.Module:
    """Load the weight file at ``path`` into ``model`` and return ``model``."""
    state = _strip_prefixes(read_state_dict(path), set(model.state_dict()))
    model.load_state_dict(state, strict=strict)
    return model
