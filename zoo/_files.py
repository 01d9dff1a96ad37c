"""File helpers shared by every reader and writer: gzip-aware reading, atomic writes, and
the ``KEY=VALUE`` options of the command lines."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

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
    """The mode ``open(path, "w")`` gives a new file: 0o666 less the umask."""
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """A hidden temporary path beside ``path`` to write to; renamed to ``path`` when the block
    ends without an exception, deleted otherwise, so ``path`` is either the complete new file
    or untouched.

    The temporary file exists (empty) when the block starts; the renamed file has the mode a
    new file would get. ``suffix`` keeps writers that choose a format by extension working.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes 0600 (and some writers replace the file): outputs get the usual mode
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def parse_key_values(items: Sequence[str], option: str) -> dict[str, Any]:
    """``["k=v", ...]`` as a dict, each value read as JSON where it parses (``3``, ``[1, 2]``,
    ``true``) and kept as a string otherwise (``activation=relu``).

    Raises ValueError naming ``option`` and the item for one without ``=`` or a key.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{option} {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
