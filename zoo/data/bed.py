"""DNA windows from a genome FASTA and a BED-like table (chrom, start, end, one 0/1 column per target)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoo._checks import require_number
from zoo._io.text import too_many_digits, whole_number
from zoo.data._errors import DataFileError, require_nonempty, text_lines
from zoo.data.fasta import DnaDataModule, EncodedDnaDataset, fasta_lengths
from zoo.data.labels import read_label_columns
from zoo.dna import ambiguity_as_n


def _has_header(fields: list[str]) -> bool:
    """A first line is a header when its start and end hold no digit of any script: a line
    with odd numbers (``+30``, ``３０``) is then a bad data line, named, not a header taken silently."""
    return len(fields) >= 3 and not any(ch.isdigit() for ch in fields[1] + fields[2])


def count_bed_targets(path: str | os.PathLike[str]) -> int:
    """How many 0/1 target columns a BED-like table has (read from its first line).

    Args:
        path: the table.
    """
    path = require_nonempty(path, "BED table")
    fields = next(text_lines(path))[1].rstrip("\r\n").split("\t")
    if len(fields) < 4:
        raise DataFileError(path, "expected chrom, start, end and at least one target column", line=1)
    return len(fields) - 3


def read_bed(
    path: str | os.PathLike[str],
) -> tuple[list[str], np.ndarray, np.ndarray, list[str], Sequence[int]]:
    """(chroms, (N, 2) start/end, (N, T) uint8 labels, target names, line numbers) of a BED table.

    A first line whose start/end are not integers is a header naming the targets. The
    table is parsed by pyarrow; one it refuses, or one with comment, track or browser lines
    or an empty interval, is read line by line, which skips those lines and names bad ones.
    """
    path = require_nonempty(path, "BED table")
    n_targets = count_bed_targets(path)
    first = next(text_lines(path))[1].rstrip("\r\n").split("\t")
    header = _has_header(first)
    targets = first[3:] if header else [f"target_{i}" for i in range(n_targets)]
    fast = read_label_columns(path, 1, 2, n_targets, skip_rows=int(header))
    if fast is not None:
        (chroms,), (starts, ends), labels = fast
        skipped = any(c.startswith(("#", "track", "browser")) for c in set(chroms))
        if chroms and not skipped and bool(np.all(ends > starts)):
            first_line = 1 + int(header)
            lines = range(first_line, first_line + len(chroms))
            return chroms, np.stack([starts, ends], axis=1), labels, targets, lines
    return _read_bed_by_line(path, n_targets, targets)


def _read_bed_by_line(
    path: Path, n_targets: int, targets: list[str]
) -> tuple[list[str], np.ndarray, np.ndarray, list[str], list[int]]:
    """:func:`read_bed` line by line: skips blank, comment, track and browser lines; names bad ones."""
    chroms: list[str] = []
    spans: list[tuple[int, int]] = []
    codes = bytearray()  # one ASCII "0"/"1" per label: a byte each, not a Python int
    lines: list[int] = []
    for number, raw in text_lines(path):
        fields = raw.rstrip("\r\n").split("\t")
        if number == 1 and _has_header(fields):
            continue
        if not raw.strip() or raw.startswith(("#", "track", "browser")):
            continue
        if len(fields) != n_targets + 3:
            raise DataFileError(
                path, f"expected {n_targets + 3} tab-separated fields, got {len(fields)}", line=number
            )
        start, end = whole_number(fields[1]), whole_number(fields[2])
        long = too_many_digits(fields[1], fields[2])
        if long is not None:
            raise DataFileError(path, long, line=number)
        if start is None or end is None or end <= start:
            raise DataFileError(
                path,
                f"start/end {fields[1]!r}, {fields[2]!r} are not integers (digits 0-9) with start < end",
                line=number,
            )
        bad = [v for v in fields[3:] if v not in ("0", "1")]
        if bad:
            raise DataFileError(path, f"label {bad[0]!r} is not 0 or 1", line=number)
        chroms.append(fields[0])
        spans.append((start, end))
        codes += "".join(fields[3:]).encode("ascii")
        lines.append(number)
    if not chroms:
        raise DataFileError(path, "the BED table has no intervals")
    labels = np.frombuffer(codes, dtype=np.uint8).reshape(len(chroms), n_targets) - ord("0")
    return chroms, np.asarray(spans, dtype=np.int64), labels, targets, lines


def centred_window(start: int, end: int, seq_len: int) -> tuple[int, int]:
    """The ``seq_len`` window centred on [start, end) (0-based, end exclusive)."""
    left = (start + end) // 2 - seq_len // 2
    return left, left + seq_len


class GenomeWindowDataset(EncodedDnaDataset):
    """(one-hot (4, seq_len), labels) for windows centred on intervals; off-chromosome bases are N."""

    def __init__(
        self,
        genome: str | os.PathLike[str],
        chroms: Sequence[str],
        spans: np.ndarray,
        labels: np.ndarray,
        seq_len: int,
        rc_augment: bool = False,
        n_value: float = 0.25,
    ) -> None:
        super().__init__(genome, labels, rc_augment, n_value)
        self.chroms, self.spans, self.seq_len = list(chroms), spans, seq_len

    def sequence(self, i: int) -> str:
        """The window centred on interval ``i``, N beyond the chromosome's ends."""
        record = self.fasta[self.chroms[i]]
        left, right = centred_window(int(self.spans[i, 0]), int(self.spans[i, 1]), self.seq_len)
        seq = ambiguity_as_n(str(record[max(left, 0) : min(right, len(record))]))
        return "N" * max(-left, 0) + seq + "N" * max(right - len(record), 0)


class DnaBedDataModule(DnaDataModule):
    """Genome FASTA + BED-like table; windows of ``seq_len`` centred on each interval.

    Split by chromosome: DeepSEA held out chr8 and chr9 for testing and used chr7 for
    validation, the defaults here.

    Args:
        genome: the genome FASTA (indexed).
        table: the BED-like table: chrom, start, end, then one 0/1 column per target.
        seq_len: the window length.
        n_targets: checked against the table when given.
        val_chroms: the validation chromosomes.
        test_chroms: the test chromosomes.
        batch_size: windows per batch.
        num_workers: DataLoader worker processes.
        rc_augment: reverse-complement each training record with probability 0.5.
        n_value: the one-hot value of N.
    """

    def __init__(
        self,
        genome: str,
        table: str,
        seq_len: int,
        n_targets: int | None = None,
        val_chroms: Sequence[str] = ("chr7",),
        test_chroms: Sequence[str] = ("chr8", "chr9"),
        batch_size: int = 64,
        num_workers: int = 0,
        rc_augment: bool = False,
        n_value: float = 0.25,
    ) -> None:
        super().__init__(batch_size, num_workers)
        require_number(n_value, "data.n_value")  # NaN would make every N a NaN input
        self.save_hyperparameters()
        self.genome, self.table, self.seq_len, self.n_targets = genome, table, seq_len, n_targets

    def setup(self, stage: str | None = None) -> None:
        """Read and check the table against the genome index, then split by chromosome.

        Args:
            stage: Lightning's stage (every split is made whatever it is).
        """
        if self.datasets:
            return
        hp = self.hparams
        chroms, spans, labels, targets, lines = read_bed(self.table)
        if self.n_targets is not None and len(targets) != self.n_targets:
            raise DataFileError(self.table, f"has {len(targets)} targets, the model expects {self.n_targets}")
        lengths = fasta_lengths(self.genome)
        for chrom, line in zip(chroms, lines):
            if chrom not in lengths:
                raise DataFileError(
                    self.table, f"chromosome {chrom!r} is not in the genome {self.genome!r}", line=line
                )
        self.target_names = targets
        chrom_arr = np.asarray(chroms, dtype=object)
        is_test = np.isin(chrom_arr, list(hp.test_chroms))
        is_val = np.isin(chrom_arr, list(hp.val_chroms)) & ~is_test
        for which, mask in (("train", ~is_test & ~is_val), ("val", is_val), ("test", is_test)):
            rows = np.flatnonzero(mask)
            self.datasets[which] = GenomeWindowDataset(
                self.genome,
                [chroms[i] for i in rows],
                spans[rows],
                labels[rows],
                self.seq_len,
                rc_augment=hp.rc_augment and which == "train",
                n_value=hp.n_value,
            )
