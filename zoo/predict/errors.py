"""The error zoo-predict reports to the user, and the input-file check every reader shares."""

from __future__ import annotations

import os
from pathlib import Path

PathLike = str | os.PathLike[str]


class PredictError(Exception):
    """A problem with zoo-predict's input that the user can fix; the CLI prints it and exits 1."""


def require_file(path: PathLike, what: str) -> Path:
    """``path`` as a Path, or a PredictError when it is not an existing file."""
    path = Path(path)
    if not path.is_file():
        raise PredictError(f"{what} {os.fspath(path)!r} does not exist")
    return path
