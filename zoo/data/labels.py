"""Label tables: a TSV header ``name`` + one column per target, rows of 0/1.

Tables are split into lines by pyarrow's CSV reader, a block at a time, and their labels
decoded from the bytes by numpy into one (N, T) uint8 array: a byte per label, where lists
of Python ints hold an 8-byte pointer per label and Python loops parse each field. A table
these checks refuse (a bad value, a wrong field count, a blank line) is read again line by
line, which names the file and line of the first problem, or reads files with blank lines
the way it always did.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo._io.writing import atomic_path
from zoo.data._errors import DataFileError, require_nonempty, text_lines

# Bytes pyarrow parses at a time: big enough to amortise the per-block work, small enough
# that a block's temporaries stay far below the size of the label array.
ARROW_BLOCK_BYTES = 8 << 20
TAB = ord("\t")
UTF8_BOM = b"\xef\xbb\xbf"


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
    """How many targets a labels TSV has (read from its header line only).

    Args:
        path: the labels TSV.
    """
    return len(read_label_header(path))


def _count_lines(path: str | os.PathLike[str]) -> int:
    """Lines in a file (a last line without a newline counts), read in large blocks."""
    lines, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(16 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def read_label_columns(
    path: str | os.PathLike[str], n_str: int, n_int: int, n_labels: int, skip_rows: int = 0
) -> tuple[list[list[str]], list[np.ndarray], np.ndarray] | None:
    """(``n_str`` text columns, then ``n_int`` integer columns, then the (N, n_labels) uint8
    0/1 labels) of a tab-separated table; None where a row is not exactly what the line
    readers accept.

    pyarrow splits the lines (one text column per line, UTF-8 checked); numpy checks and
    decodes the labels from the bytes: each row must end in a tab and a ``0`` or ``1`` per
    label, the rest of it hold ``n_str + n_int`` fields, and integer fields must be plain
    decimal digits (ASCII 0-9, as :func:`zoo._io.text.whole_number` reads them). Anything else
    (a blank line, another field count, another value, text that is not UTF-8) gives None,
    and the caller reads the table line by line, where the problem is found and named.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    with open(path, "rb") as f:
        if f.read(len(UTF8_BOM)) == UTF8_BOM:  # the line reader drops it (as pyarrow does) and counts lines
            return None
    n_lead = n_str + n_int
    width = 2 * n_labels  # the row's tail: a tab and a digit per label
    labels = np.empty((max(_count_lines(path) - skip_rows, 0), n_labels), dtype=np.uint8)
    leads: list[pa.Array] = []
    rows = 0
    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(
                skip_rows=skip_rows, column_names=["line"], block_size=ARROW_BLOCK_BYTES
            ),
            # Only line ends split: the delimiter is ASCII's unit separator, which no table
            # holds (a row that does gets two fields, is refused and read line by line).
            parse_options=pcsv.ParseOptions(
                delimiter="\x1f", quote_char=False, escape_char=False, ignore_empty_lines=False
            ),
            convert_options=pcsv.ConvertOptions(
                # check_utf8: a row that is not UTF-8 raises ArrowInvalid (then read line by line)
                column_types={"line": pa.string()},
                null_values=[],
                strings_can_be_null=False,
                check_utf8=True,
            ),
        )
        for batch in reader:
            lines = batch.column(0)
            block = _label_tails(lines, n_labels)
            lead = pc.utf8_slice_codeunits(lines, 0, -width)
            # The tail holds exactly n_labels tabs; the lead must hold one less than its fields.
            if block is None or not pc.all(pc.equal(pc.count_substring(lead, "\t"), n_lead - 1)).as_py():
                return None
            if rows + len(block) > len(labels):  # only for line ends other than \n: grow
                labels = np.concatenate(
                    [labels[:rows], np.empty((max(len(block), rows), n_labels), np.uint8)]
                )
            labels[rows : rows + len(block)] = block
            leads.append(lead)
            rows += len(block)
    except pa.ArrowInvalid:  # also "Empty CSV file" for a header with no rows
        return None
    lead = pa.chunked_array(leads, type=pa.string())
    fields = pc.split_pattern(lead, "\t") if n_lead > 1 else None
    columns = [lead if fields is None else pc.list_element(fields, i) for i in range(n_lead)]
    ints = []
    for column in columns[n_str:]:
        # ASCII digits only, as str.isdigit + int read them (18 at most: no int64 overflow).
        if rows and not pc.all(pc.match_substring_regex(column, r"^[0-9]{1,18}$")).as_py():
            return None
        ints.append(pc.cast(column, pa.int64()).to_numpy())
    return [column.to_pylist() for column in columns[:n_str]], ints, labels[:rows]


def _label_tails(lines: Any, n_labels: int) -> np.ndarray | None:
    """(n, n_labels) uint8 labels from a pyarrow string array of whole rows, each of which
    must end in a tab and a ``0`` or ``1`` per label; None otherwise."""
    width = 2 * n_labels
    if len(lines) == 0:
        return np.empty((0, n_labels), np.uint8)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    ends = offsets[1:] - offsets[0]
    starts = ends - width
    if np.any(starts < np.concatenate([[0], ends[:-1]])):  # a row too short for its labels
        return None
    data = np.frombuffer(lines.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    # Each row's tail, copied row by row from windows over the bytes; then read as
    # little-endian (tab, digit) byte pairs.
    pairs = np.lib.stride_tricks.sliding_window_view(data, width)[starts].view("<u2")
    one = pairs == TAB + (ord("1") << 8)
    if not np.all(one | (pairs == TAB + (ord("0") << 8))):
        return None
    return one.view(np.uint8)


def read_labels(
    path: str | os.PathLike[str],
) -> tuple[list[str], list[str], np.ndarray, Sequence[int]]:
    """(record names, target names, (N, T) uint8 labels, line number of each row) of a labels TSV.

    Every row must have one 0 or 1 per target; anything else names the file and line.

    Args:
        path: the labels TSV.
    """
    targets = read_label_header(path)
    fast = read_label_columns(path, 1, 0, len(targets), skip_rows=1)
    if fast is not None:
        (names,), _, labels = fast
        if names and len(set(names)) == len(names):
            # pyarrow refuses blank lines, so row i is on line i + 2.
            return names, targets, labels, range(2, len(names) + 2)
    return _read_labels_by_line(path, targets)


def _read_labels_by_line(
    path: str | os.PathLike[str], targets: list[str]
) -> tuple[list[str], list[str], np.ndarray, list[int]]:
    """:func:`read_labels` line by line: skips blank lines and names the first bad one."""
    names: list[str] = []
    codes = bytearray()  # one ASCII "0"/"1" per label: a byte each, not a Python int
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
        codes += "".join(values).encode("ascii")
        lines.append(number)
    if not names:
        raise DataFileError(Path(path), "the labels file has a header but no rows")
    labels = np.frombuffer(codes, dtype=np.uint8).reshape(len(names), len(targets)) - ord("0")
    return names, targets, labels, lines


def write_labels(
    path: str | os.PathLike[str], names: list[str], targets: list[str], labels: np.ndarray
) -> None:
    """Write a labels TSV (atomically: a temporary file, then a rename)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write("\t".join(["name", *targets]) + "\n")
        for name, row in zip(names, labels):
            f.write(name + "\t" + "\t".join(str(int(v)) for v in row) + "\n")
