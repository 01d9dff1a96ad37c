"""The error zoo-predict reports to the user, and the input-file check every reader shares."""

from __future__ import annotations

from pathlib import Path

from zoo._io.inputs import require_input
from zoo._types import PathLike


class PredictError(Exception):
    """A problem with zoo-predict's input that the user can fix; the CLI prints it and exits 1."""


def require_file(path: PathLike, what: str, *, stream_ok: bool = False) -> Path:
    """``path`` as a Path, or a PredictError when it cannot be read: missing, a directory,
    unreadable, or (unless ``stream_ok``, for inputs read once from start to end) a pipe or device."""
    try:
        return require_input(path, what, stream_ok=stream_ok)
    except OSError as err:
        raise PredictError(str(err)) from None
