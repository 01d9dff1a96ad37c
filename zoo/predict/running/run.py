"""Running a job: its items scored in batches, the rows handed to a writer as they come.

Items are read and encoded on a background thread (or, for a large FASTA file on a GPU,
in child processes: :mod:`zoo.predict.running.processes`), the model runs on the calling
thread, and a writer thread formats the rows while the next batch is scored.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch

from zoo._types import PathLike
from zoo.dna import one_hot
from zoo.predict.errors import PredictError
from zoo.predict.inputs.job import Item, Job
from zoo.predict.outputs.writers import open_writer
from zoo.predict.running.processes import ProcessBatches
from zoo.predict.running.scorer import Scorer
from zoo.predict.running.threads import Consumer, Prefetcher

_PROCESS_READ_BYTES = 64 << 20  # on CUDA, inputs this large are read in child processes


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """The values of a job without its own (``Job.values`` None): (n, 1, T) logits of one
    window per row -> (n, T) probabilities."""
    return torch.sigmoid(logits[:, 0])


@dataclass
class RunSummary:
    """Rows written, and how many rows were not scored, by reason.

    Attributes:
        rows: the rows written.
        skipped: reason -> the rows not scored for it.
    """

    rows: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def describe(self, out: PathLike) -> str:
        """One line for stderr.

        Args:
            out: the output, named in the line.
        """
        text = f"wrote {self.rows} rows to {os.fspath(out)}"
        if self.skipped:
            reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.skipped.items()))
            text += f"; {sum(self.skipped.values())} not scored (status column): {reasons}"
        return text


@dataclass
class _Batch:
    metas: list[tuple[Any, ...]]  # the rows' leading values
    statuses: list[str]
    scored: list[int]  # positions of the rows whose windows are in x
    x: torch.Tensor | None


def _batches(job: Job, scorer: Scorer) -> Iterator[_Batch]:
    per_batch = max(1, scorer.batch_size // job.windows_per_item)
    items: list[Item] = []
    for item in job.items:
        items.append(item)
        if len(items) == per_batch:
            yield _encode_batch(items, scorer)
            items = []
    if items:
        yield _encode_batch(items, scorer)


def _encode_batch(items: list[Item], scorer: Scorer) -> _Batch:
    scored = [i for i, item in enumerate(items) if item.status == "ok"]
    windows = [w for i in scored for w in items[i].windows]
    metas, statuses = [item.meta for item in items], [item.status for item in items]
    if not windows:
        return _Batch(metas, statuses, scored, None)
    try:
        x = scorer.encode(windows)
    except ValueError:
        for i in scored:  # find the row to name in the error (only on the failure path)
            try:
                one_hot(list(items[i].windows))
            except ValueError as err:
                raise PredictError(f"record {items[i].meta}: {err}") from None
        raise
    return _Batch(metas, statuses, scored, x)


@contextlib.contextmanager
def _batches_from_processes(job: Job, scorer: Scorer, processes: int) -> Iterator[Iterator[_Batch]]:
    """The batches of ``job``, read and checked in child processes (:mod:`zoo.predict.running.processes`)."""
    reader = job.reader
    assert reader is not None
    per_batch = max(1, scorer.batch_size // job.windows_per_item)
    count = processes if reader.shardable else 1
    with ProcessBatches(reader.make_groups, reader.args, per_batch, count) as batches:
        yield (
            _Batch(
                metas,
                statuses,
                [i for i, status in enumerate(statuses) if status == "ok"],
                None if codes is None else scorer.from_codes(codes),
            )
            for metas, statuses, codes in batches
        )


def run_job(
    job: Job,
    scorer: Scorer,
    out: PathLike | Callable[[list[str], list[str]], Any],
    progress: bool = False,
    overwrite: bool = False,
    reader_processes: int | None = None,
    allow_empty: bool = False,
) -> RunSummary:
    """Score every item of ``job`` and write one row per item to ``out``: a file name (.tsv,
    .parquet, .h5), or a function that opens a writer given the leading and the score column
    names (a TableWriter, or anything with its ``with``, ``write``, ``rows`` and ``score_columns``).

    The output appears only when every row is written; an error leaves no file behind
    (a pipe or device ``out`` is streamed into instead).

    Args:
        job: what to score.
        scorer: the model, ready to score.
        out: the output file, or a function opening a writer.
        progress: show progress.
        overwrite: replace a read-only file.
        reader_processes: read a job that can be read elsewhere (``job.reader``) in that
            many child processes (0: a thread of this process; a reader that is not
            ``shardable`` takes one). The default (None) is a thread, except on CUDA for
            inputs of 64 MiB or more, where one reader thread cannot keep up: there a process
            per 4 CPU cores, up to 4.
        allow_empty: no rows is no error (a share of the rows that got none of them).
    """
    from tqdm import tqdm

    value_columns = job.value_columns(scorer.columns)
    meta_columns = job.meta_columns + (["status"] if job.with_status else [])
    opener = out if callable(out) else partial(open_writer, out, overwrite=overwrite)
    job_values = job.values or probabilities
    summary = RunSummary()
    # the writer checks the column names and the output before the bar shows
    with (
        opener(meta_columns, value_columns) as writer,
        tqdm(unit=" rows", file=sys.stderr, disable=not progress, desc="zoo-predict") as bar,
        _batch_source(job, scorer, reader_processes) as batches,
        Consumer(partial(_emit, writer=writer, summary=summary, status=job.with_status, bar=bar)) as emit,
    ):
        for batch in batches:
            # The next model call starts while the writer thread formats this batch's rows
            # (text formatting holds the GIL, the model's kernels do not).
            values = None
            if batch.x is not None:
                logits = scorer.logits(batch.x)
                values = job_values(logits.reshape(len(batch.scored), job.windows_per_item, -1))
            emit.put(batch, values)
        emit.finish()
        if writer.rows == 0 and not allow_empty:
            raise PredictError(job.empty_message)
    summary.rows = writer.rows
    return summary


def _batch_source(
    job: Job, scorer: Scorer, reader_processes: int | None
) -> contextlib.AbstractContextManager[Iterable[_Batch]]:
    """The batches of ``job``: from child processes, or from a background thread."""
    if reader_processes is None:
        size = job.reader.input_bytes if job.reader is not None else 0
        large = scorer.device.type == "cuda" and size >= _PROCESS_READ_BYTES
        reader_processes = default_reader_processes() if large else 0
    if reader_processes < 0:
        raise PredictError(f"--reader-processes must be >= 0, got {reader_processes}")
    if reader_processes and job.reader is not None:
        return _batches_from_processes(job, scorer, reader_processes)
    return Prefetcher(_batches(job, scorer))


def default_reader_processes() -> int:
    """Reader processes for a large input on a GPU: one per 4 CPU cores this process may use,
    at least 1 and at most 4 (the rest run the model's thread, the writer and the pipes)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # (macOS, Windows)
        cores = os.cpu_count() or 1
    return max(1, min(4, cores // 4))


def _emit(
    batch: _Batch,
    values: torch.Tensor | None,
    *,
    writer: Any,
    summary: RunSummary,
    status: bool,
    bar: Any,
) -> None:
    n = len(batch.metas)
    if values is not None and len(batch.scored) == n:  # every row scored: no copy
        table = values.float().cpu().numpy()
    else:
        table = np.full((n, len(writer.score_columns)), np.nan, dtype=np.float32)
        if values is not None:
            table[batch.scored] = values.float().cpu().numpy()
    meta = batch.metas
    if status:
        meta = [(*m, s) for m, s in zip(batch.metas, batch.statuses)]
        for s in batch.statuses:
            if s != "ok":
                summary.skipped[s] = summary.skipped.get(s, 0) + 1
    writer.write(meta, table)
    bar.update(n)
