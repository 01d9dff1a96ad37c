"""Which model to score with: rebuilt from the weights file where it records one, or a
published checkpoint of the catalogue; its target names and the one-hot value of N it expects."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo._types import PathLike
from zoo.create import create_model, load_hub_model, load_model
from zoo.hub import is_hub_ref
from zoo.models import build_model, list_models, spec_for_class
from zoo.models import n_targets_of as n_targets_of  # (zoo.predict exports it from here)
from zoo.predict.errors import PredictError
from zoo.weights import (
    attach_info,
    check_buildable,
    describe_records,
    fitting_info,
    load_weights,
    read_metadata,
    read_model_records,
    recorded_info,
    records_named,
    require_weights_file,
    stored_args,
    stored_info,
)


def default_n_value(model: nn.Module) -> float:
    """The one-hot value of N the model was trained with: the one it records (``model.n_value``,
    from a published checkpoint, a zoo file or a zoo-train checkpoint), else that of its model's
    conventions (0.0 for Beluga), else 0.25.

    Args:
        model: a DNA model.
    """
    recorded = getattr(model, "n_value", None)
    if isinstance(recorded, (int, float)) and not isinstance(recorded, bool):
        return float(recorded)
    try:
        n_value = spec_for_class(type(model)).conventions.n_value
    except ValueError:  # not a registered model
        n_value = None
    return 0.25 if n_value is None else n_value


def trained_n_value(weights: PathLike) -> float | None:
    """The one-hot value of N a zoo-train checkpoint's model learned with (its data module's
    ``n_value``); None for other files, which get the model's convention instead. A stored
    value that is not finite is a PredictError.

    Args:
        weights: the weight file.
    """
    try:
        value = recorded_info(weights).get("n_value")
    except (OSError, ValueError):  # load_predict_model reports unreadable files
        return None
    if value is not None and not math.isfinite(value):  # NaN in every N column: NaN scores
        raise PredictError(
            f"{os.fspath(weights)} records the data's n_value={value!r}, not a finite number; "
            "pass --n-value (0.25, or 0 for beluga)"
        )
    return value


def is_catalogue_name(name: str | None) -> bool:
    """Whether ``name`` names a published checkpoint (``deepsea.kipoi_predict``) rather than a model."""
    return name is not None and name not in list_models() and "." in name


def _zoo_file_model(path: Path) -> tuple[str, dict[str, Any]] | None:
    """The (registry name, constructor arguments) in a zoo .safetensors file's metadata, or None."""
    try:
        meta = read_metadata(path)
        return (meta["zoo_model"], stored_args(path, meta)) if meta.get("zoo_model") else None
    except (OSError, ValueError) as err:  # unreadable safetensors header, corrupt zoo_args
        raise PredictError(f"cannot read weights file {os.fspath(path)}: {err}") from err


def _recorded_model(path: Path, name: str | None) -> tuple[str, dict[str, Any]] | None:
    """The (registry name, constructor arguments) of the network named ``name`` (or the only
    one) that a zoo Lightning checkpoint records; None for files with no records."""
    try:
        records = read_model_records(path)
    except (OSError, ValueError) as err:  # unreadable or unsafe file
        raise PredictError(f"cannot read weights file {os.fspath(path)}: {err}") from err
    if not records:
        return None
    try:
        chosen = list(records_named(path, records, name).values())
    except ValueError as err:
        raise PredictError(str(err)) from err
    if len(chosen) > 1:
        held = describe_records(records)
        raise PredictError(f"the Lightning checkpoint {os.fspath(path)} holds {held}; pick one with --model")
    return chosen[0]["name"], chosen[0]["args"]


def load_predict_model(
    name: str | None,
    weights: PathLike | None,
    model_args: dict[str, Any] | None = None,
    *,
    pretrained: bool = False,
    progress: bool = True,
    dna_only: bool = True,
) -> tuple[nn.Module, str]:
    """The model to score with (eval mode) and its registry name.

    A zoo checkpoint (written by zoo.save_weights) or a zoo Lightning checkpoint rebuilds the
    model it stores. Any other file zoo.load_weights reads needs ``name`` and is loaded into
    ``zoo.create_model(name, **model_args)``. A file that does not fit the model is a
    PredictError naming the file and the model. The model carries the target names and N
    value the weights record.

    Args:
        name: the registered model; picks the network when a checkpoint holds several; a
            catalogue name (``deepsea.kipoi_predict``) loads the published checkpoint.
        weights: the weight file, required (scoring with random weights is never what is
            meant) unless ``pretrained``; for a catalogue ``name`` a local copy of it (md5
            checked); ``hf://OWNER/REPO[@REVISION]`` is a zoo repository on the Hugging Face
            Hub (read through its cache).
        model_args: override the stored arguments.
        pretrained: download the published checkpoint of a catalogue ``name``.
        progress: show a progress bar while downloading.
        dna_only: refuse models that do not read DNA.
    """
    if is_hub_ref(weights):
        return _load_hub(name, str(weights), model_args or {}, dna_only)
    if pretrained or is_catalogue_name(name):
        return _load_published(name, weights, model_args or {}, pretrained, progress, dna_only)
    if weights is None:
        raise PredictError(
            "--weights is needed: a zoo checkpoint, a zoo Lightning checkpoint, or (with --model NAME) any "
            "weights file zoo.load_weights reads; or --pretrained with a published model (zoo-pretrained "
            "list); zoo-predict does not score with random weights"
        )
    try:
        path = require_weights_file(weights)
    except OSError as err:  # missing, or a directory
        raise PredictError(str(err)) from None
    model_args = dict(model_args or {})
    zoo_file = _zoo_file_model(path)
    if zoo_file is not None and name is not None and name != zoo_file[0]:
        raise PredictError(f"--model {name!r} but {os.fspath(path)} is a zoo checkpoint of {zoo_file[0]!r}")
    if zoo_file is not None and not model_args:
        name, model = zoo_file[0], _load_zoo_file(path)  # no random initialisation to pay for
    else:
        stored = zoo_file or _recorded_model(path, name)
        if stored is not None:
            name, model_args = stored[0], {**stored[1], **model_args}  # --model-arg overrides stored
        if name is None:
            raise PredictError(
                "--model is needed unless --weights is a zoo checkpoint (a .safetensors file written by "
                "zoo.save_weights) or a Lightning checkpoint of a zoo task"
            )
        model = _create_and_load(name, model_args, path)
        _attach_recorded(model, path, zoo_file is not None)
    return _dna_model(model, name) if dna_only else (model.eval(), name)


def _dna_model(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    if not hasattr(model, "seq_len"):
        raise PredictError(f"model {name!r} does not take DNA sequences; zoo-predict scores DNA models only")
    return model.eval(), name


def _attach_recorded(model: nn.Module, path: Path, zoo_file: bool) -> None:
    """The target names and N value the file records (a zoo file's metadata, or a zoo-train
    checkpoint's task and data module), on ``model``; names that do not fit its outputs (after
    --model-arg n_targets=...) are left out."""
    try:
        info = stored_info(path, read_metadata(path)) if zoo_file else recorded_info(path)
    except (OSError, ValueError) as err:
        raise PredictError(f"cannot read weights file {os.fspath(path)}: {err}") from err
    try:
        attach_info(model, **fitting_info(model, info))
    except ValueError as err:
        raise PredictError(f"weights file {os.fspath(path)}: {err}") from err


def _load_hub(
    name: str | None, ref: str, model_args: dict[str, Any], dna_only: bool
) -> tuple[nn.Module, str]:
    """The model of a zoo repository on the Hugging Face Hub; ``name``, when given, must be its model."""
    try:
        model = load_hub_model(ref, **model_args)
    except (OSError, TypeError) as err:  # unreadable cached file, a wrong --model-arg
        raise PredictError(f"cannot load {ref}: {err}") from err
    stored = spec_for_class(type(model)).name
    if name is not None and name != stored:
        raise PredictError(f"--model {name!r} but {ref} holds a {stored!r} model")
    return _dna_model(model, stored) if dna_only else (model, stored)


def _load_published(
    name: str | None,
    weights: PathLike | None,
    model_args: dict[str, Any],
    pretrained: bool,
    progress: bool,
    dna_only: bool = True,
) -> tuple[nn.Module, str]:
    """A published checkpoint: downloaded (``pretrained``) or a local copy, md5 checked."""
    if name is None:
        raise PredictError("--pretrained needs --model: a published model (see zoo-pretrained list)")
    if weights is None and not pretrained:
        raise PredictError(
            f"--model {name!r} is a published checkpoint: give --pretrained to download it (into the cache) "
            "or --weights with a local copy of the published file"
        )
    try:
        model = create_model(name, weights, pretrained=pretrained, progress=progress, **model_args)
    except (OSError, ValueError, TypeError) as err:  # download, md5, layout and argument errors
        raise PredictError(f"cannot load published model {name!r}: {err}") from err
    registered = spec_for_class(type(model)).name
    return _dna_model(model, registered) if dna_only else (model.eval(), registered)


def _load_zoo_file(path: Path) -> nn.Module:
    """zoo.load_model(path), any failure as one PredictError."""
    try:
        return load_model(path)
    except Exception as err:  # any loader failure becomes one clear message
        raise PredictError(f"cannot load zoo checkpoint {os.fspath(path)}: {err}") from err


def _create_and_load(name: str, model_args: dict[str, Any], path: Path) -> nn.Module:
    """build_model(name, **model_args) with ``path`` loaded, failures as PredictErrors.

    The arguments (perhaps a checkpoint's record) are checked against the file's tensors on
    the meta device first, so none can make this allocate more than the file holds.
    """
    try:
        with torch.device("meta"):  # the arguments' own errors (no memory), before the file is compared
            build_model(name, **model_args)
    except (ValueError, TypeError, RuntimeError, OverflowError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__  # (torch appends a C++ trace)
        raise PredictError(f"model {name!r} with {json.dumps(model_args)}: {first}") from err
    try:
        check_buildable(name, model_args, path)
        model = build_model(name, **model_args)
        load_weights(model, path)
    except Exception as err:  # size mismatch, missing keys, unreadable file
        args = json.dumps(model_args) if model_args else "paper defaults"
        fitting = getattr(getattr(err, "report", None), "fitting_args", None)
        hint = ""
        if fitting:  # the same overrides, spelled as this command's options
            spelled = " ".join(f"--model-arg {k}={_cli_json(v)}" for k, v in fitting.items())
            hint = f"\nzoo-predict: these sizes fit the file: {spelled}"
        raise PredictError(
            f"weights file {os.fspath(path)} does not fit model {name!r} ({args}): {err}{hint}"
        ) from err
    return model


def _cli_json(value: Any) -> str:
    """A --model-arg VALUE: compact JSON, so the shell sees one word."""
    return json.dumps(list(value) if isinstance(value, tuple) else value, separators=(",", ":"))
