"""Label tables: a TSV header ``name`` + one column per target, rows of 0/1."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from zoo._files import atomic_path
from zoo.data._errors import DataFileError, require_nonempty, text_lines


def read_label_header(path: str | os.PathLike[str]) -> list[str]:
    """The target names in the header of a labels TSV (all columns after ``name``)."""
    path = require_nonempty(path, "labels file")
    header = next(text_lines(path))[1].rstrip("\r\n").split("\t")
    if header[0] != "name" or len(header) < 2:
        raise DataFileError(
            path, f"expected a header 'name<TAB>target1<TAB>...', got {'<TAB>'.join(header)!r}", line=1
        )
    return header[1:]


def count_targets(path: str | os.PathLike[str]) -> int:
    """How many targets a labels TSV has (read from its header line only)."""
    return len(read_label_header(path))


def read_labels(path: str | os.PathLike[str]) -> tuple[list[str], list[str], np.ndarray, list[int]]:
    """(record names, target names, (N, T) uint8 labels, line number of each row) of a labels TSV.

    Every row must have one 0 or 1 per target; anything else names the file and line.
    """
    targets = read_label_header(path)
    names: list[str] = []
    rows: list[list[int]] = []
    lines: list[int] = []
    seen: dict[str, int] = {}
    numbered = text_lines(path)
    next(numbered)  # the header
    for number, raw in numbered:
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(targets) + 1:
            raise DataFileError(
                path, f"expected {len(targets) + 1} tab-separated fields, got {len(fields)}", line=number
            )
        name, values = fields[0], fields[1:]
        bad = [(t, v) for t, v in zip(targets, values) if v not in ("0", "1")]
        if bad:
            target, value = bad[0]
            raise DataFileError(path, f"label {value!r} for target {target!r} is not 0 or 1", line=number)
        if name in seen:
            raise DataFileError(path, f"record {name!r} repeats line {seen[name]}", line=number)
        seen[name] = number
        names.append(name)
        rows.append([int(v) for v in values])
        lines.append(number)
    if not names:
        raise DataFileError(Path(path), "the labels file has a header but no rows")
    return names, targets, np.asarray(rows, dtype=np.uint8), lines


def write_labels(
    path: str | os.PathLike[str], names: list[str], targets: list[str], labels: np.ndarray
) -> None:
    """Write a labels TSV (atomically: a temporary file, then a rename)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write("\t".join(["name", *targets]) + "\n")
        for name, row in zip(names, labels):
            f.write(name + "\t" + "\t".join(str(int(v)) for v in row) + "\n")
