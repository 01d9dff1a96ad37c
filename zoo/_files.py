"""File helpers shared by the readers and writers."""

from __future__ import annotations

import gzip
import os
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"  # the first two bytes of every gzip (and bgzip) file


def open_bytes(path: str | os.PathLike[str]) -> IO[bytes]:
    """``path`` opened for reading bytes, decompressed on the fly when it is gzip (or bgzip)."""
    with open(path, "rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else open(path, "rb")  # noqa: SIM115 (the caller closes)


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask can only set it,
    and setting it briefly would race with threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0o666 less the umask.

    Files written to a ``tempfile.mkstemp`` name and renamed into place get 0o600 from
    mkstemp; chmod them to this so they look like any other new file.
    """
    return 0o666 & ~_umask()
