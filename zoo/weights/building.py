"""Building the model a file's record describes without trusting the record.

A zoo file (``zoo_args``) or a zoo Lightning checkpoint (``hyper_parameters``) names the
model and its constructor arguments; a corrupt or hostile record could ask for a model of
hundreds of gigabytes. :func:`check_buildable` builds the model on the meta device (no
memory) and compares its tensors with the file's, read without their data, before
anything is allocated; a model that matches them is no larger than the file.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from zoo.models import build_model
from zoo.weights.errors import WeightsFileError
from zoo.weights.matching import _match, mismatch_error
from zoo.weights.safe_load import PathLike, read_state_dict


def check_buildable(name: str, args: dict[str, Any], path: PathLike) -> None:
    """Refuse ``build_model(name, **args)`` unless its tensors are exactly those of ``path``
    (as a strict :func:`zoo.load_weights` would load them), before any memory is allocated.

    A WeightsFileError when the arguments do not build a model (or a list among them is
    longer than the file has tensors: every entry makes a layer), a WeightsMismatchError
    listing the tensors that differ otherwise.

    Args:
        name: a registered model name.
        args: its constructor arguments.
        path: the weight file whose tensors the model must have.
    """
    n_tensors = len(read_state_dict(path, lazy=True))
    for key, value in args.items():
        if isinstance(value, (list, tuple)) and len(value) > n_tensors:
            raise WeightsFileError(
                f"{os.fspath(path)}: the stored argument {key!r} has {len(value)} entries, more than the "
                f"file's {n_tensors} tensors could describe; the file's record of {name!r} is corrupt"
            )
    try:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            model = build_model(name, **args)
    except (TypeError, ValueError, RuntimeError, OverflowError, MemoryError, RecursionError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__  # (torch appends a C++ trace)
        raise WeightsFileError(
            f"{os.fspath(path)}: the arguments for {name!r} do not build a model: {first}"
        ) from None
    report, _, _ = _match(model, path, lazy=True)
    if not report.complete:
        raise mismatch_error(path, type(model).__name__, report)
