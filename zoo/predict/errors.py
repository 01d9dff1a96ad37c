"""The error prediction raises about what a user gave it, and the input-file check every reader shares.

Both sides of the prediction path use these: the readers of :mod:`zoo.predict.inputs`, the
writers of :mod:`zoo.predict.outputs` and the runner of :mod:`zoo.predict.running`.
"""

from __future__ import annotations

from pathlib import Path

from zoo._io.reading import require_input
from zoo._types import PathLike
from zoo.errors import ZooError


class PredictError(ZooError):
    """A problem with prediction's input, files or options that the user can fix.

    A :class:`zoo.errors.ZooError` (so a ``ValueError``); zoo-predict and zoo-interpret print
    it as one line and exit 1.
    """


def require_file(path: PathLike, what: str, *, stream_ok: bool = False) -> Path:
    """``path`` as a Path, or a PredictError when it cannot be read.

    A path that is missing, a directory or unreadable is refused, and so (unless
    ``stream_ok``) is a pipe or device.

    Args:
        path: the file.
        what: names the file in the message (``"FASTA file"``).
        stream_ok: accept a pipe or device, for inputs read once from start to end.
    """
    try:
        return require_input(path, what, stream_ok=stream_ok)
    except OSError as err:
        raise PredictError(str(err)) from None
