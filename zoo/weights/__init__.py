"""Loading and saving weights: safe file reading, the zoo's own format, matching a file's
tensors to a model (foreign layouts included), and the records of the zoo's Lightning tasks.

- :mod:`zoo.weights.safe_load`: reading files without running code from them.
- :mod:`zoo.weights.zoo_format`: ``save_weights`` and the metadata it writes.
- :mod:`zoo.weights.matching`: ``load_weights``, ``check_weights`` and their ``LoadReport``.
- :mod:`zoo.weights.records`: the networks a zoo Lightning checkpoint describes.
- :mod:`zoo.weights.building`: checking a stored record against the file before building it.
- :mod:`zoo.weights.convert`: turning any readable file into the zoo format (zoo-convert).
"""

from zoo._checks import NonFiniteWarning
from zoo.weights.building import check_buildable
from zoo.weights.errors import LayoutWarning, WeightsFileError
from zoo.weights.matching import (
    LoadReport,
    PartialLoadWarning,
    WeightsMismatchError,
    check_weights,
    load_weights,
    views,
)
from zoo.weights.records import describe_records, read_model_records, recorded_info, records_named
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

__all__ = [
    "LayoutWarning",
    "LoadReport",
    "NonFiniteWarning",
    "PartialLoadWarning",
    "PathLike",
    "StateDict",
    "WeightsFileError",
    "WeightsMismatchError",
    "attach_info",
    "check_buildable",
    "check_weights",
    "fitting_info",
    "checkpoint_hparams",
    "describe_records",
    "load_weights",
    "read_checkpoint",
    "read_metadata",
    "read_model_records",
    "read_state_dict",
    "recorded_info",
    "records_named",
    "require_weights_file",
    "save_weights",
    "stored_args",
    "stored_info",
    "views",
]
