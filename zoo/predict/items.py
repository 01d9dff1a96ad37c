"""What a job's rows are made of, and the rows of FASTA input: :class:`Item` (one output row
and the windows to score for it) and the windows of FASTA records.

Nothing here imports torch, so that a reader process (:mod:`zoo.predict.processes`) starts
in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from zoo.predict.errors import PathLike, PredictError
from zoo.predict.fastx import Shard, describe_source, in_record, read_records


@dataclass
class Item:
    """One output row: its leading column values and the windows to score (none: not scored)."""

    meta: tuple[Any, ...]
    windows: tuple[str, ...] = ()
    status: str = "ok"


def fasta_windows(path: PathLike, seq_len: int, step: int | None = None) -> Iterator[Item]:
    """One item per record (``step`` None: every record must be seq_len long), else one per
    window at 0, step, 2*step, ..., plus a last window ending at the record's end when the
    steps do not reach it."""
    for _, item in fasta_window_groups(path, seq_len, step):
        yield item


def fasta_window_groups(
    path: PathLike, seq_len: int, step: int | None = None, shard: Shard | None = None
) -> Iterator[tuple[int, Item]]:
    """:func:`fasta_windows` of the records of ``shard`` (default: all), each item with the
    shard group of its record (:meth:`Shard.group_of`; without a shard, the record's place)."""
    if step is not None and step < 1:
        raise PredictError(f"--step must be >= 1, got {step}")
    where = describe_source(path)
    group_of = shard.group_of if shard is not None else int
    for record in read_records(path, shard):
        name, seq, group = record.name, record.sequence, group_of(record.index)
        if step is None:
            if len(seq) != seq_len:
                message = (
                    f"{where} line {record.line}: record {name!r} has {len(seq)} bp, the model takes "
                    f"{seq_len} bp; pass --step to cut longer records into windows"
                )
                raise in_record(PredictError(message), record.index)
            yield group, Item((name,), (seq,))
            continue
        if len(seq) < seq_len:
            message = (
                f"{where} line {record.line}: record {name!r} has {len(seq)} bp, shorter than the "
                f"model's {seq_len} bp window"
            )
            raise in_record(PredictError(message), record.index)
        starts = list(range(0, len(seq) - seq_len + 1, step))
        if starts[-1] + seq_len < len(seq):
            starts.append(len(seq) - seq_len)
        for start in starts:
            yield group, Item((name, start), (seq[start : start + seq_len],))
