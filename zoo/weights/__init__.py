"""Weights: where published files are, how they are read, matched to a model and written.

- :mod:`zoo.weights.layouts`: foreign checkpoint layouts as data, and their conversion.
- :mod:`zoo.weights.published`: the record of one published weights file.
- :mod:`zoo.weights.download`: the verified download cache.
- :mod:`zoo.weights.catalogue`: the published files the model families register, by name.
- :mod:`zoo.weights.safe_load`: reading files without running code from them.
- :mod:`zoo.weights.zoo_format`: ``save_weights`` and the metadata it writes.
- :mod:`zoo.weights.matching`: ``load_weights``, ``check_weights`` and their ``LoadReport``.
- :mod:`zoo.weights.checkpoint_records`: the networks a zoo Lightning checkpoint describes.
- :mod:`zoo.weights.building`: checking a stored record against the file before building it.
- :mod:`zoo.weights.convert`: turning any readable file into the zoo format (zoo-convert).

The names below load their module on first use: the model registry imports
``zoo.weights.layouts`` and ``zoo.weights.published`` while the families register, before
the modules that read the registry (matching, building, ...) can be imported.
"""

# ruff: noqa: F401 (the names are re-exported lazily through __getattr__)

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo._lazy import lazy_exports

# public name -> module that defines it
_EXPORTS = {
    "NonFiniteWarning": "zoo._checks",
    "check_buildable": "zoo.weights.building",
    "LayoutWarning": "zoo.weights.errors",
    "WeightsFileError": "zoo.weights.errors",
    "LoadReport": "zoo.weights.matching",
    "PartialLoadWarning": "zoo.weights.matching",
    "WeightsMismatchError": "zoo.weights.matching",
    "check_weights": "zoo.weights.matching",
    "load_weights": "zoo.weights.matching",
    "views": "zoo.weights.matching",
    "describe_records": "zoo.weights.checkpoint_records",
    "read_model_records": "zoo.weights.checkpoint_records",
    "recorded_info": "zoo.weights.checkpoint_records",
    "records_named": "zoo.weights.checkpoint_records",
    "PathLike": "zoo.weights.safe_load",
    "StateDict": "zoo.weights.safe_load",
    "checkpoint_hparams": "zoo.weights.safe_load",
    "read_checkpoint": "zoo.weights.safe_load",
    "read_metadata": "zoo.weights.safe_load",
    "read_state_dict": "zoo.weights.safe_load",
    "require_weights_file": "zoo.weights.safe_load",
    "attach_info": "zoo.weights.zoo_format",
    "fitting_info": "zoo.weights.zoo_format",
    "save_weights": "zoo.weights.zoo_format",
    "stored_args": "zoo.weights.zoo_format",
    "stored_info": "zoo.weights.zoo_format",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from zoo._checks import NonFiniteWarning
    from zoo.weights.building import check_buildable
    from zoo.weights.checkpoint_records import (
        describe_records,
        read_model_records,
        recorded_info,
        records_named,
    )
    from zoo.weights.errors import LayoutWarning, WeightsFileError
    from zoo.weights.matching import (
        LoadReport,
        PartialLoadWarning,
        WeightsMismatchError,
        check_weights,
        load_weights,
        views,
    )
    from zoo.weights.safe_load import (
        PathLike,
        StateDict,
        checkpoint_hparams,
        read_checkpoint,
        read_metadata,
        read_state_dict,
        require_weights_file,
    )
    from zoo.weights.zoo_format import attach_info, fitting_info, save_weights, stored_args, stored_info


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, submodules=True)
