"""FASTA records as a job: one row per record, or one per model-length window of each record.

Records are read as a stream (:mod:`zoo.predict.inputs.fastx`, which checks every byte), so
memory does not grow with the input. Nothing here imports torch: a reader process
(:mod:`zoo.predict.running.processes`) runs :func:`fasta_window_groups` and starts in a
fraction of a second.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from zoo._types import PathLike
from zoo.predict.errors import PredictError, require_file
from zoo.predict.inputs.fastx import STDIN, Shard, describe_source, in_record, plain_fasta, read_records
from zoo.predict.inputs.job import InputReader, Item, Job


def fasta_windows(path: PathLike, seq_len: int, step: int | None = None) -> Iterator[Item]:
    """The items of the FASTA file ``path`` for a model of ``seq_len`` bases.

    With ``step`` None, one item per record (every record must be seq_len long); else one
    per window at 0, step, 2*step, ..., plus a last window ending at the record's end when
    the steps do not reach it.
    """
    for _, item in fasta_window_groups(path, seq_len, step):
        yield item


def fasta_window_groups(
    path: PathLike, seq_len: int, step: int | None = None, shard: Shard | None = None
) -> Iterator[tuple[int, Item]]:
    """:func:`fasta_windows` of the records of ``shard`` (default: all), each item with the
    shard group of its record (:meth:`Shard.group_of`; without a shard, the record's place).

    ``path``, ``seq_len`` and ``step`` as in :func:`fasta_windows`.
    """
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


def fasta_job(path: PathLike, seq_len: int, step: int | None = None) -> Job:
    """Rows ``name`` (and ``start``, the 0-based window start, with ``step``), then targets.

    A regular file can also be read by other processes (the job's ``reader``).

    Args:
        path: the FASTA (or FASTQ) file; may be a pipe or ``-`` (standard input): the records
            are read once, in order.
        seq_len: as in :func:`fasta_windows`.
        step: as in :func:`fasta_windows`.
    """
    if os.fspath(path) != STDIN:
        require_file(path, "FASTA file", stream_ok=True)
    size = _regular_file_size(path)
    reader = None
    if size is not None:
        args = (os.fspath(path), seq_len, step)
        reader = InputReader(fasta_window_groups, args, input_bytes=size, shardable=plain_fasta(path))
    return Job(
        meta_columns=["name"] if step is None else ["name", "start"],
        items=fasta_windows(path, seq_len, step),
        empty_message=f"{describe_source(path)} has no records",
        reader=reader,
    )


def _regular_file_size(path: PathLike) -> int | None:
    """The size of ``path`` if another process opening it reads what this one would: a regular
    file named outside /dev and /proc (not standard input, a pipe, or a descriptor of this
    process such as /dev/stdin or /dev/fd/63); else None."""
    name = os.path.abspath(os.fspath(path))
    if os.fspath(path) == STDIN or any(
        p.startswith(("/dev/", "/proc/")) for p in (name, os.path.realpath(name))
    ):
        return None
    try:
        info = os.stat(name)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None
