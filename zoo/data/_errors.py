"""Data-file errors that name the file and the line, so bad input is found at once."""

from __future__ import annotations

import os
from pathlib import Path


class DataFileError(ValueError):
    """A problem in a data file, located by file and (1-based) line."""

    def __init__(self, path: str | os.PathLike[str], message: str, line: int | None = None) -> None:
        where = os.fspath(path) + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {message}")


def require_nonempty(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a Path if it is an existing, non-empty file; else a DataFileError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {os.fspath(path)!r} does not exist")
    if path.stat().st_size == 0:
        raise DataFileError(path, f"the {what} is empty")
    return path


def fasta_header_line(path: str | os.PathLike[str], name: str) -> int | None:
    """The line number of record ``name``'s header in a FASTA file (scanned only on error)."""
    with open(path, encoding="ascii", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if line.startswith(">") and line[1:].split(maxsplit=1)[0:1] == [name]:
                return number
    return None
