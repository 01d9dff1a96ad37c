"""The zoo's own weights format: a ``.safetensors`` file whose metadata holds the registry name
(``zoo_model``) and constructor arguments (``zoo_args``, JSON) of the model, so it can be
rebuilt without being told what it is (``zoo.load_model``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch import nn

from zoo._files import ReadOnlyOutputError, atomic_path
from zoo.models import model_args, spec_for_class
from zoo.weights.errors import WeightsFileError
from zoo.weights.safe_load import PathLike


def save_weights(model: nn.Module, path: PathLike, overwrite: bool = False) -> Path:
    """Save ``model`` in the zoo format (safetensors + name + constructor arguments).

    The file is written to a temporary name and renamed, so a failure never leaves a
    half-written file behind. An existing file is replaced keeping its permissions; a
    read-only one only with ``overwrite=True`` (else PermissionError). A symlink is followed.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"save_weights writes .safetensors files, got {path.name!r}")
    spec = spec_for_class(type(model))
    metadata = {"zoo_model": spec.name, "zoo_args": json.dumps(model_args(model))}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    try:
        with atomic_path(path, overwrite_readonly=overwrite) as tmp:
            save_file(tensors, os.fspath(tmp), metadata=metadata)
    except ReadOnlyOutputError as err:
        raise ReadOnlyOutputError(f"{err}; pass overwrite=True to replace it") from None
    return path


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
