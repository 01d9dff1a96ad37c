"""Reading inputs: gzip-aware opening of files and streams, and checks that tell an unreadable
input apart from a missing one."""

from __future__ import annotations

import gzip
import io
import os
import stat
from pathlib import Path
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"  # the first two bytes of every gzip (and bgzip) file


class _OwnedGzip(gzip.GzipFile):
    """A GzipFile over a file it opened itself: closing it closes that file too."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def open_bytes(source: str | os.PathLike[str] | IO[bytes]) -> IO[bytes]:
    """``source`` (a path, or an open binary stream such as ``sys.stdin.buffer``) for reading
    bytes, decompressed on the fly when it is gzip (or bgzip).

    The file is opened once and its first bytes are peeked at, so pipes, FIFOs and
    ``/dev/stdin`` work too. A stream passed in is not closed with the result.
    """
    if not isinstance(source, (str, os.PathLike)):
        stream = source if hasattr(source, "peek") else io.BufferedReader(source)  # type: ignore[arg-type]
        return gzip.GzipFile(fileobj=stream, mode="rb") if stream.peek(2)[:2] == GZIP_MAGIC else stream
    raw = open(source, "rb")  # noqa: SIM115 (the caller closes)
    try:
        return _OwnedGzip(raw) if raw.peek(2)[:2] == GZIP_MAGIC else raw
    except BaseException:
        raw.close()
        raise


def cr_only_line_ends(path: str | os.PathLike[str]) -> bool:
    """Whether a text file's lines end in CR alone (classic Mac OS): its first 64 KiB hold a
    CR but no LF. Readers take such a file for one long line; callers name the cause."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    return b"\r" in head and b"\n" not in head


CR_ONLY_ADVICE = "its lines end in CR only (classic Mac): convert them to LF first (tr '\\r' '\\n')"


def require_input(path: str | os.PathLike[str], what: str, *, stream_ok: bool = False) -> Path:
    """``path`` as a Path when it can be read as the input ``what`` (e.g. "weights file").

    Otherwise an OSError whose message (``str(err)``) names ``what`` and ``path``: FileNotFoundError when
    missing, IsADirectoryError, PermissionError when unreadable (told apart from missing,
    also for a folder on the path that cannot be searched), and OSError for a pipe or device
    unless ``stream_ok`` (index-based readers need to seek or read twice; a stream is
    not opened here, which would block or take its data). Regular files are opened to check.
    """
    name = f"{what} {os.fspath(path)!r}"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{name} does not exist") from None
    except PermissionError:
        raise PermissionError(
            f"{name} cannot be reached: permission denied on a folder on its path"
        ) from None
    except OSError as err:
        raise OSError(f"{name} cannot be read ({err.strerror})") from None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{name} is a directory")
    if not stat.S_ISREG(mode):
        if stream_ok:
            return Path(path)
        raise OSError(f"{name} is not a regular file (it is {file_kind(mode)})")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise PermissionError(f"{name} cannot be read: permission denied") from None
    except OSError as err:
        raise OSError(f"{name} cannot be read ({err.strerror})") from None
    return Path(path)


def file_kind(mode: int) -> str:
    """What a file that is not regular is, in words."""
    if stat.S_ISFIFO(mode):
        return "a FIFO or pipe"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
