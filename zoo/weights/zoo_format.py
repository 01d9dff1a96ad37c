"""The zoo's own weights format: a ``.safetensors`` file whose metadata holds the registry name
(``zoo_model``) and constructor arguments (``zoo_args``, JSON) of the model, so it can be
rebuilt without being told what it is (``zoo.load_model``).

Where the model knows them, the metadata also holds its output names (``zoo_targets``, a
JSON list), the one-hot value of N it expects (``zoo_n_value``) and where its weights came
from (``zoo_source``, a JSON object: catalogue name, URL, md5, license).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from zoo._io.writing import ReadOnlyOutputError, atomic_path
from zoo.models import model_args, spec_for_class
from zoo.weights.errors import WeightsFileError
from zoo.weights.safe_load import PathLike


def save_weights(model: nn.Module, path: PathLike, overwrite: bool = False) -> Path:
    """Save ``model`` in the zoo format (safetensors + name + constructor arguments).

    The file is written to a temporary name and renamed, so a failure never leaves a
    half-written file behind. An existing file is replaced keeping its permissions; a
    read-only one only with ``overwrite=True`` (else PermissionError). A symlink is followed.

    Args:
        model: a zoo model.
        path: the file to write.
        overwrite: replace a read-only file.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"save_weights writes .safetensors files, got {path.name!r}")
    spec = spec_for_class(type(model))
    metadata = {"zoo_model": spec.name, "zoo_args": json.dumps(model_args(model)), **_info_metadata(model)}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    try:
        with atomic_path(path, overwrite_readonly=overwrite) as tmp:
            try:
                save_file(tensors, os.fspath(tmp), metadata=metadata)
            except Exception as err:  # safetensors' own error type for a failed write
                failed = _write_failure(path, err)
                if failed is None:
                    raise
                raise failed from None
    except ReadOnlyOutputError as err:
        raise ReadOnlyOutputError(f"{err}; pass overwrite=True to replace it") from None
    return path


def _write_failure(path: Path, err: Exception) -> OSError | None:
    """safetensors' error for a write the system refused (``... (os error 28)``: a full disk) as
    an OSError naming ``path``, with its errno; None for any other error."""
    found = re.search(r"\(os error (\d+)\)", str(err))
    if isinstance(err, OSError) or found is None:
        return None
    code = int(found.group(1))
    failed = OSError(f"cannot write {os.fspath(path)}: {os.strerror(code)}")
    failed.errno = code  # (str(failed) stays the message: no strerror or filename set)
    return failed


def stored_args(path: PathLike, meta: dict[str, str]) -> dict[str, Any]:
    """The constructor arguments in a zoo file's ``zoo_args`` metadata ({} when absent).

    Args:
        path: the zoo file, for messages.
        meta: its metadata (:func:`read_metadata`).
    """
    raw = meta.get("zoo_args", "{}")
    try:
        args = json.loads(raw)
    except json.JSONDecodeError as err:
        raise WeightsFileError(
            f"{os.fspath(path)}: its safetensors metadata 'zoo_args' is not valid JSON ({err}); expected "
            "the JSON object of constructor arguments that zoo.save_weights writes"
        ) from None
    except RecursionError:
        raise WeightsFileError(
            f"{os.fspath(path)}: its safetensors metadata 'zoo_args' is nested too deep to be the JSON "
            "object of constructor arguments that zoo.save_weights writes"
        ) from None
    if not isinstance(args, dict):
        raise WeightsFileError(
            f"{os.fspath(path)}: its safetensors metadata 'zoo_args' holds a {type(args).__name__}; "
            "expected the JSON object of constructor arguments that zoo.save_weights writes"
        )
    return args


# model attribute -> metadata key
_INFO_KEYS = {"target_names": "zoo_targets", "n_value": "zoo_n_value", "source": "zoo_source"}


def _info_metadata(model: nn.Module) -> dict[str, str]:
    """The metadata entries of the model's ``target_names``, ``n_value`` and ``source`` that are set."""
    out = {}
    for attribute, key in _INFO_KEYS.items():
        value = getattr(model, attribute, None)
        if value is not None:
            out[key] = json.dumps(value)
    return out


def attach_info(
    model: nn.Module,
    target_names: Sequence[str] | None = None,
    n_value: float | None = None,
    source: dict[str, Any] | None = None,
) -> nn.Module:
    """Set the model's ``target_names``, ``n_value`` and ``source`` (those given), checked:
    one name per output, N's value a number in [0, 1]. Returns ``model``.

    Args:
        model: the model.
        target_names: one name per output.
        n_value: the one-hot value of N, a number in [0, 1].
        source: where the weights came from (name, url, md5, license).
    """
    if target_names is not None:
        names = list(target_names)
        if not all(isinstance(n, str) for n in names):
            raise ValueError("target_names: expected a list of str, one name per output")
        n_targets = getattr(model, "n_targets", None)
        if isinstance(n_targets, int) and len(names) != n_targets:
            raise ValueError(
                f"target_names: {len(names)} names for a {type(model).__name__} with {n_targets} targets"
            )
        model.target_names = names
    if n_value is not None:
        if isinstance(n_value, bool) or not isinstance(n_value, (int, float)) or not 0 <= n_value <= 1:
            raise ValueError(f"n_value: expected a number in [0, 1], got {n_value!r}")
        model.n_value = float(n_value)
    if source is not None:
        model.source = dict(source)
    return model


def fitting_info(model: nn.Module, info: dict[str, Any]) -> dict[str, Any]:
    """``info`` without target names that do not fit ``model``'s outputs (a file's names after
    its model was rebuilt with another ``n_targets``).

    Args:
        model: the model.
        info: what :func:`stored_info` read.
    """
    names = info.get("target_names")
    if names is None or len(names) == getattr(model, "n_targets", len(names)):
        return info
    return {k: v for k, v in info.items() if k != "target_names"}


def stored_info(path: PathLike, meta: dict[str, str]) -> dict[str, Any]:
    """The ``target_names``, ``n_value`` and ``source`` a zoo file's metadata holds (those present),
    as :func:`attach_info` takes them.

    Args:
        path: the zoo file, for messages.
        meta: its metadata (:func:`read_metadata`).
    """
    out = {}
    for attribute, key in _INFO_KEYS.items():
        if key not in meta:
            continue
        try:
            out[attribute] = json.loads(meta[key])
        except json.JSONDecodeError as err:
            raise WeightsFileError(
                f"{os.fspath(path)}: its safetensors metadata {key!r} is not valid JSON ({err})"
            ) from None
        except RecursionError:
            raise WeightsFileError(
                f"{os.fspath(path)}: its safetensors metadata {key!r} is nested too deep"
            ) from None
    return out
