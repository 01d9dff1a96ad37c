"""The errors and warnings of loading weights."""

from __future__ import annotations

from zoo.errors import ZooError


class WeightsFileError(ZooError):
    """The file is missing, empty, truncated, unsafe, or not a weights file."""


class LayoutWarning(UserWarning):
    """The weights loaded, but the file's original model computed something the model does not."""
