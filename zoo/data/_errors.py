"""Data-file errors that name the file and the line, so bad input is found at once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from zoo._io.reading import require_input
from zoo.errors import ZooError


class DataFileError(ZooError):
    """A problem in a data file, located by file and (1-based) line."""

    def __init__(self, path: str | os.PathLike[str], message: str, line: int | None = None) -> None:
        where = os.fspath(path) + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {message}")


def require_nonempty(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a Path if it is a readable, non-empty file; else an OSError naming the problem
    (missing, a directory, unreadable) or a DataFileError (empty)."""
    path = require_input(path, what)
    if path.stat().st_size == 0:
        raise DataFileError(path, f"the {what} is empty")
    return path


def text_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """(1-based line number, line with its line end) of a UTF-8 text file; a line that is not
    UTF-8 is a DataFileError naming it (a plain decode error names neither file nor line)."""
    with open(path, "rb") as f:
        # LF, CRLF and a lone CR each end a line, as text mode's universal newlines read them
        pieces = (piece for raw in f for piece in raw.splitlines(keepends=True))
        for number, piece in enumerate(pieces, start=1):
            try:
                # a byte-order mark (from some editors) is no part of the first field
                yield number, piece.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise DataFileError(path, "not UTF-8 text", line=number) from None


def fasta_header_line(path: str | os.PathLike[str], name: str) -> int | None:
    """The line number of record ``name``'s header in a FASTA file (scanned only on error)."""
    with open(path, encoding="ascii", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if line.startswith(">") and line[1:].split(maxsplit=1)[0:1] == [name]:
                return number
    return None


def check_loader_args(batch_size: object, num_workers: object = 0) -> None:
    """Refuse a batch size below 1 or a negative worker count, naming the data option."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"data.batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
        raise ValueError(f"data.num_workers must be an integer >= 0, got {num_workers!r}")


def check_fractions(**fractions: float) -> None:
    """Held-out fractions each in [0, 1) and together below 1, so training keeps some rows."""
    for name, value in fractions.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ValueError(f"data.{name} must be a number in [0, 1), got {value!r}")
    if sum(fractions.values()) >= 1:
        spelled = " + ".join(f"data.{name}={value}" for name, value in fractions.items())
        raise ValueError(f"{spelled} leaves nothing to train on: the held-out fractions must sum below 1")
