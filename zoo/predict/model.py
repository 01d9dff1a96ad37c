"""Which model to score with, and which of its targets to report under what names."""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from zoo.predict.writers import PathLike, PredictError, require_file

# ExPecto/Beluga was trained with N as all zeros; Kipoi and Selene use 0.25 (see legacy-layouts.md).
N_VALUE_BY_MODEL = {"beluga": 0.0}


def default_n_value(model: nn.Module) -> float:
    """The one-hot value of N the model was trained with: 0.0 for Beluga, else 0.25."""
    from zoo._registry import spec_for_class

    try:
        return N_VALUE_BY_MODEL.get(spec_for_class(type(model)).name, 0.25)
    except ValueError:  # not a registered model
        return 0.25


def _zoo_checkpoint_name(path: Path) -> str | None:
    """The registry name stored in a zoo .safetensors checkpoint, or None for other files."""
    if path.suffix != ".safetensors" or not path.is_file():
        return None
    from zoo.weights import read_metadata

    try:
        return read_metadata(path).get("zoo_model")
    except Exception:  # not a readable safetensors header: let the loader give its own error
        return None


def load_predict_model(
    name: str | None, weights: PathLike | None, model_args: dict[str, Any] | None = None
) -> tuple[nn.Module, str]:
    """The model to score with (eval mode) and its registry name.

    ``weights`` alone must be a zoo checkpoint (written by zoo.save_weights); with
    ``name`` it may be any file zoo.load_weights reads, loaded into
    ``zoo.create_model(name, **model_args)``. A file that does not fit the model is a
    PredictError naming the file and the model.
    """
    import zoo

    model_args = dict(model_args or {})
    path = Path(weights) if weights is not None else None
    if path is not None and not path.is_file():
        raise PredictError(f"weights file {os.fspath(path)!r} does not exist")
    stored = _zoo_checkpoint_name(path) if path is not None else None
    if stored is not None and not model_args:
        if name is not None and name != stored:
            raise PredictError(f"--model {name!r} but {os.fspath(path)} is a zoo checkpoint of {stored!r}")
        try:
            return zoo.load_model(path), stored
        except Exception as err:  # any loader failure becomes one clear message
            raise PredictError(f"cannot load zoo checkpoint {os.fspath(path)}: {err}") from err
    if name is None:
        raise PredictError(
            "--model is needed unless --weights is a zoo checkpoint (a .safetensors file written by "
            "zoo.save_weights)"
        )
    try:
        model = zoo.create_model(name, **model_args)
    except (ValueError, TypeError) as err:
        raise PredictError(str(err)) from err
    if path is not None:
        try:
            zoo.load_weights(model, path)
        except Exception as err:  # size mismatch, missing keys, unreadable file
            args = json.dumps(model_args) if model_args else "paper defaults"
            raise PredictError(
                f"weights file {os.fspath(path)} does not fit model {name!r} ({args}): {err}"
            ) from err
    if not hasattr(model, "seq_len"):
        raise PredictError(f"model {name!r} does not take DNA sequences; zoo-predict scores DNA models only")
    return model.eval(), name


def read_labels(path: PathLike, n_targets: int) -> list[str]:
    """Target names from a file with one name per line (e.g. Kipoi's predictor_names.txt)."""
    with open(require_file(path, "--labels"), encoding="utf-8") as f:
        labels = [line.rstrip("\r\n") for line in f]
    while labels and not labels[-1].strip():
        labels.pop()  # tolerate trailing blank lines
    if len(labels) != n_targets:
        raise PredictError(
            f"--labels {os.fspath(path)} has {len(labels)} names, the model has {n_targets} targets"
        )
    return labels


def default_labels(n_targets: int) -> list[str]:
    """``target_0``, ``target_1``, ...: the column names when no labels are given."""
    return [f"target_{i}" for i in range(n_targets)]


def select_targets(labels: Sequence[str], wanted: Sequence[str] | None) -> list[int]:
    """Indices of the targets ``wanted`` (names, or indices when no name matches); all if None."""
    if not wanted:
        return list(range(len(labels)))
    by_name = {label: i for i, label in enumerate(labels)}
    indices = []
    for item in wanted:
        if item in by_name:
            indices.append(by_name[item])
        elif item.lstrip("-").isdigit() and -len(labels) <= int(item) < len(labels):
            indices.append(int(item) % len(labels))
        else:
            close = difflib.get_close_matches(item, list(labels), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise PredictError(
                f"unknown target {item!r}: not a target name and not an index in 0..{len(labels) - 1}{hint}"
            )
    return indices


def n_targets_of(model: nn.Module) -> int:
    """How many targets ``model`` predicts."""
    n = getattr(model, "n_targets", None)
    if isinstance(n, int):
        return n
    import torch

    with torch.no_grad():
        return int(model.logits(torch.zeros(1, 4, model.seq_len)).shape[-1])
