"""The model records the zoo's Lightning tasks store in their checkpoints."""

from __future__ import annotations

import os
from typing import Any

from zoo.models import list_models
from zoo.weights.errors import WeightsFileError
from zoo.weights.safe_load import PathLike, checkpoint_hparams

# The task attributes whose networks the zoo's tasks record (ClassificationTask, GANTask, VAETask).
TASK_ATTRIBUTES = ("model", "generator", "discriminator", "decoder")


def read_model_records(path: PathLike) -> dict[str, dict[str, Any]]:
    """The model records a zoo Lightning checkpoint stores, by the task attribute they rebuild.

    The zoo's tasks save each network's registry name and constructor arguments as
    ``hyper_parameters["<attribute>_record"] = {"name": ..., "args": {...}}`` (``model``,
    ``generator``/``discriminator``, ``decoder``); returns e.g. ``{"generator": {...}}``.
    Empty for files without them (safetensors, plain state_dicts, other code's checkpoints).

    Args:
        path: the checkpoint.
    """
    hparams = checkpoint_hparams(path, "hyper_parameters")
    records = {}
    for attribute in TASK_ATTRIBUTES:
        record = hparams.get(f"{attribute}_record")
        # Another program's hyperparameter of that name is no zoo record: the shapes decide then.
        if (
            isinstance(record, dict)
            and record.get("name") in list_models()
            and isinstance(record.get("args", {}), dict)
        ):
            records[attribute] = {"name": record["name"], "args": dict(record.get("args", {}))}
    return records


def recorded_info(path: PathLike) -> dict[str, Any]:
    """What a zoo Lightning checkpoint records of its training data: ``target_names`` (the
    classification task's, from the labels' header) and ``n_value`` (the data module's), as
    :func:`zoo.weights.attach_info` takes them; those absent are left out ({} for other files).

    Args:
        path: the checkpoint.
    """
    names = checkpoint_hparams(path, "hyper_parameters").get("target_names")
    n_value = checkpoint_hparams(path, "datamodule_hyper_parameters").get("n_value")
    info: dict[str, Any] = {}
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        info["target_names"] = list(names)
    if isinstance(n_value, (int, float)) and not isinstance(n_value, bool):
        info["n_value"] = float(n_value)
    return info


def describe_records(records: dict[str, dict[str, Any]]) -> str:
    """``'image_decoder' (as generator), ...``: what a checkpoint's records hold, for messages.

    Args:
        records: the records, as :func:`read_model_records` returns them.
    """
    return ", ".join(f"{r['name']!r} (as {attribute})" for attribute, r in records.items())


def records_named(
    path: PathLike, records: dict[str, dict[str, Any]], name: str | None
) -> dict[str, dict[str, Any]]:
    """The records of the network called ``name`` (all of them for None); a WeightsFileError
    naming what the checkpoint holds when none is.

    Args:
        path: the checkpoint, for the message.
        records: its records, as :func:`read_model_records` returns them.
        name: the task attribute (``generator``, ...); None for all.
    """
    chosen = {attribute: r for attribute, r in records.items() if name is None or r["name"] == name}
    if not chosen:
        raise WeightsFileError(
            f"--model {name!r} but the Lightning checkpoint {os.fspath(path)} holds "
            f"{describe_records(records)}; pass one of those names or leave --model out"
        )
    return chosen
