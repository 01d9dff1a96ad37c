"""Scoring windows in batches: encoding on a background thread, strands combined, targets picked.

Every model call goes through :func:`zoo.inference.prepare_logits`. Strands are combined
in logit space so that probabilities and log fold changes both come from logits:
``mean`` is the logit of the mean probability (stable, as the models' ``rc_average``),
``max`` is the larger logit (sigmoid is monotonic, so it is also the larger probability).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo._checks import require_number
from zoo.dna import base_codes, one_hot, one_hot_codes
from zoo.inference import prepare_logits
from zoo.models._dna import strand_mean_logits, strand_pair
from zoo.predict.contigs import ContigMatcher
from zoo.predict.errors import PathLike, PredictError
from zoo.predict.items import Item
from zoo.predict.loading import default_n_value, n_targets_of
from zoo.predict.processes import ProcessBatches
from zoo.predict.targets import check_picked_targets, default_labels, select_targets, unique_labels
from zoo.predict.threads import Consumer, Prefetcher
from zoo.predict.writers import open_writer

RC_MODES: tuple[str, ...] = ("none", "mean", "max")
_PROCESS_READ_BYTES = 64 << 20  # on CUDA, inputs this large are read in child processes


class Scorer:
    """A DNA model ready to score: selected targets, strand combination, precision and device.

    ``labels`` names all of the model's targets (default: the model's ``target_names``, else
    ``target_0`` ...); ``targets`` keeps a subset (names, indices as strings or ints, globs
    such as ``*K562*`` or ``re:REGEX`` patterns over the names). ``batch_size`` is the number
    of windows per model call (reverse complements double it).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        labels: Sequence[str] | None = None,
        targets: Sequence[str | int] | None = None,
        rc: str = "none",
        precision: str = "fp32",
        device: str | torch.device = "cpu",
        n_value: float | None = None,
        batch_size: int = 128,
    ) -> None:
        if rc not in RC_MODES:
            raise PredictError(f"rc={rc!r} is not one of {list(RC_MODES)}")
        if batch_size < 1:
            raise PredictError(f"batch size must be >= 1, got {batch_size}")
        if not hasattr(model, "seq_len"):
            raise PredictError(f"{type(model).__name__} does not take DNA sequences")
        n_targets = n_targets_of(model)
        if labels is None:  # the names the weights record, else target_0, target_1, ...
            labels = getattr(model, "target_names", None) or default_labels(n_targets)
        all_labels = list(labels)
        if len(all_labels) != n_targets:
            raise PredictError(f"got {len(all_labels)} labels for a model with {n_targets} targets")
        wanted = [str(t) for t in targets] if targets else None
        columns = unique_labels(all_labels)
        picked = select_targets(columns, wanted, all_labels)
        check_picked_targets(all_labels, columns, wanted)
        self.seq_len: int = model.seq_len
        self.columns = [columns[i] for i in picked]
        try:
            self.n_value = default_n_value(model) if n_value is None else require_number(n_value, "n_value")
        except (TypeError, ValueError) as err:
            raise PredictError(str(err)) from None
        self.rc, self.batch_size = rc, batch_size
        try:
            self.device = torch.device(device)
            self._logits_fn = prepare_logits(model, precision, self.device)  # type: ignore[arg-type]
        except (ValueError, RuntimeError) as err:
            raise PredictError(str(err)) from err
        keep_all = picked == list(range(n_targets))
        self._picked = None if keep_all else torch.tensor(picked, device=self.device)

    def encode(self, seqs: Sequence[str]) -> torch.Tensor:
        """What :meth:`logits` takes: one-hot (N, 4, seq_len) for the CPU; for CUDA the checked
        base codes (N, seq_len) uint8, pinned, which the GPU one-hot encodes itself (1 byte a
        base crosses the bus instead of 16, and the CPU thread that feeds the GPU does less)."""
        if self.device.type != "cuda":
            return one_hot(list(seqs), n_value=self.n_value)
        return base_codes(list(seqs)).pin_memory()

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Strand-combined float32 logits of the selected targets, (N, T), on the scoring device.

        ``x`` is one-hot (N, 4, seq_len) or base codes (N, seq_len) from :meth:`encode`.
        """
        x = x.to(self.device, non_blocking=True)
        if x.dtype == torch.uint8:
            x = one_hot_codes(x, self.n_value)
        if self.rc == "none":
            out = self._logits_fn(x)
            return out if self._picked is None else out.index_select(1, self._picked)
        forward, reverse = strand_pair(self._logits_fn, x)
        if self._picked is not None:
            forward, reverse = forward.index_select(1, self._picked), reverse.index_select(1, self._picked)
        if self.rc == "mean":
            return strand_mean_logits(forward, reverse)
        return torch.maximum(forward, reverse)

    def from_codes(self, codes: np.ndarray) -> torch.Tensor:
        """What :meth:`logits` takes, from the checked base codes (N, seq_len) of
        :func:`zoo.dna.base_codes` made elsewhere (pinned for CUDA; the CPU one-hot encodes
        them in :meth:`logits`, as the GPU does)."""
        x = torch.from_numpy(codes)
        return x.pin_memory() if self.device.type == "cuda" else x

    def predict(self, seqs: Sequence[str]) -> np.ndarray:
        """Probabilities (N, T) of the selected targets for sequences of exactly seq_len bases."""
        outs = [
            torch.sigmoid(self.logits(self.encode(seqs[i : i + self.batch_size]))).cpu()
            for i in range(0, len(seqs), self.batch_size)
        ]
        return torch.cat(outs).numpy() if outs else np.zeros((0, len(self.columns)), np.float32)


@dataclass
class Job:
    """What to score and how its rows look.

    ``values`` maps strand-combined logits (n, windows_per_item, T) to the row values
    (n, len(value_columns)), a new tensor (the writer may keep it); ``value_columns`` names
    them from the scorer's target names.
    ``contigs`` is the matcher that read a BED's or VCF's contig names as the genome's (its
    ``match.warning`` is for the user once the run is done). ``reader``, where set, makes the
    same items in other processes: a module-level function and its (picklable) arguments,
    which with a :class:`zoo.predict.fastx.Shard` more yields the shard's ``(group, item)``
    pairs; ``input_bytes`` is the size of what it reads; ``shardable``: several processes
    may share the reading (one shard each), not just one.
    """

    meta_columns: list[str]
    items: Iterable[Item]
    windows_per_item: int
    value_columns: Callable[[list[str]], list[str]]
    values: Callable[[torch.Tensor], torch.Tensor]
    with_status: bool = False
    empty_message: str = "the input has no records"
    contigs: ContigMatcher | None = None
    reader: tuple[Callable[..., Iterable[tuple[int, Item]]], tuple[Any, ...]] | None = None
    input_bytes: int = 0
    shardable: bool = False


@dataclass
class RunSummary:
    """Rows written, and how many rows were not scored, by reason."""

    rows: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def describe(self, out: PathLike) -> str:
        """One line for stderr."""
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
    """The batches of ``job``, read and checked in child processes (:mod:`zoo.predict.processes`)."""
    assert job.reader is not None
    make_groups, args = job.reader
    per_batch = max(1, scorer.batch_size // job.windows_per_item)
    with ProcessBatches(make_groups, args, per_batch, processes if job.shardable else 1) as batches:
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
) -> RunSummary:
    """Score every item of ``job`` and write one row per item to ``out``: a file name (.tsv,
    .parquet, .h5), or a function that opens a writer given the leading and the score column
    names (a TableWriter, or anything with its ``with``, ``write``, ``rows`` and ``score_columns``).

    The output appears only when every row is written; an error leaves no file behind
    (a pipe or device ``out`` is streamed into instead). ``overwrite`` replaces a read-only file.
    ``reader_processes`` reads a job that can be read elsewhere (``job.reader``) in that
    many child processes (0: a thread of this process; a job that is not ``shardable`` takes
    one). The default (None) is a thread, except on CUDA for inputs of 64 MiB or more,
    where one reader thread cannot keep up: there a process per 4 CPU cores, up to 4.
    """
    from tqdm import tqdm

    value_columns = job.value_columns(scorer.columns)
    meta_columns = job.meta_columns + (["status"] if job.with_status else [])
    opener = out if callable(out) else partial(open_writer, out, overwrite=overwrite)
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
                values = job.values(logits.reshape(len(batch.scored), job.windows_per_item, -1))
            emit.put(batch, values)
        emit.finish()
        if writer.rows == 0:
            raise PredictError(job.empty_message)
    summary.rows = writer.rows
    return summary


def _batch_source(
    job: Job, scorer: Scorer, reader_processes: int | None
) -> contextlib.AbstractContextManager[Iterable[_Batch]]:
    """The batches of ``job``: from child processes, or from a background thread."""
    if reader_processes is None:
        large = scorer.device.type == "cuda" and job.input_bytes >= _PROCESS_READ_BYTES
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
