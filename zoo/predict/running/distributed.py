"""Scoring in parts: one share of the rows per job (``--shard I/N``) or per process of a
``torchrun``/``srun`` launch, merged into the output one process would have written.

Under a launcher (``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` from torchrun, or ``SLURM_PROCID``/
``SLURM_NTASKS``/``SLURM_LOCALID`` from srun) each process joins the process group
(``torch.distributed``: NCCL on ``cuda:LOCAL_RANK``, gloo on the CPU), scores its share into a
part (:mod:`zoo.predict.outputs.parts`), and the processes tell each other how it went: when
every part is written, rank 0 merges them (:mod:`zoo.predict.outputs.merge`) and removes
them; when one process failed, every process stops with an error naming it, no output is
written, and the finished parts stay for a rerun, which reuses them (their manifests match)
and scores only the rest.
"""

from __future__ import annotations

import datetime
import os
import secrets
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zoo._types import PathLike
from zoo.predict.errors import PredictError
from zoo.predict.inputs.job import Item, Job
from zoo.predict.outputs.merge import merge_parts
from zoo.predict.outputs.parts import PartWriter, Share, finished_part, part_manifest, remove_parts
from zoo.predict.running.run import RunSummary, run_job
from zoo.predict.running.scorer import Scorer

# a process waits this long for the others (a share may take a day on a slow card)
_WAIT = datetime.timedelta(days=7)


@dataclass(frozen=True)
class Launch:
    """This process's place in a launch of several: its ``rank`` of ``world_size`` and its
    ``local_rank`` on its machine, and the launcher (``torchrun`` or ``srun``)."""

    rank: int
    world_size: int
    local_rank: int
    launcher: str


def detect_launch(environ: Mapping[str, str] | None = None) -> Launch | None:
    """This process's :class:`Launch` when a launcher started several (torchrun's variables,
    else srun's), else None (one process, or a launch of one).

    Args:
        environ: the environment (default: ``os.environ``).
    """
    env = os.environ if environ is None else environ
    try:
        if "RANK" in env and "WORLD_SIZE" in env:
            launch = Launch(
                int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", "0")), "torchrun"
            )
        elif "SLURM_PROCID" in env and int(env.get("SLURM_NTASKS", "1")) > 1 and "SLURM_STEP_ID" in env:
            launch = Launch(
                int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", "0")), "srun"
            )
        else:
            return None
    except ValueError as err:
        raise PredictError(f"the launcher's rank variables are not whole numbers: {err}") from None
    return launch if launch.world_size > 1 else None


def launch_device(launch: Launch | None, device: str) -> str:
    """The device a process of ``launch`` scores on: ``cuda:LOCAL_RANK`` for ``cuda``.

    Args:
        launch: the launch (None: one process).
        device: ``cpu`` or ``cuda``.
    """
    if launch is None or device != "cuda":
        return device
    import torch

    if launch.local_rank >= torch.cuda.device_count():
        raise PredictError(
            f"rank {launch.rank} has local rank {launch.local_rank} but this machine shows "
            f"{torch.cuda.device_count()} GPUs; start at most one process per GPU"
        )
    return f"cuda:{launch.local_rank}"


class Stopped(PredictError):
    """This process stopped its share because another process of the launch failed."""


class FailureFlags:
    """How the processes of a launch learn, between batches, that one of them failed: a failing
    process leaves a file ``.failed-TOKEN-rank-R`` (its error inside) in the parts folder,
    which every process can read (rank 0 reads all the parts from it); ``TOKEN`` is this
    launch's, so flags of earlier launches mean nothing.

    Args:
        folder: the parts folder.
        token: the launch's token (rank 0's, sent to all).
        rank: this process's rank.
    """

    def __init__(self, folder: Path, token: str, rank: int) -> None:
        self.folder, self.token, self.rank = folder, token, rank
        self._prefix = f".failed-{token}-rank-"

    def raise_failure(self) -> None:
        """Raise :class:`Stopped` when another process has failed."""
        try:
            names = [e.name for e in os.scandir(self.folder) if e.name.startswith(self._prefix)]
        except OSError:
            return
        if names:
            raise Stopped(f"stopped: rank {names[0].removeprefix(self._prefix)} failed")

    def fail(self, message: str) -> None:
        """Tell the other processes that this one failed."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{self._prefix}{self.rank}").write_text(message + "\n")
        except OSError:
            pass  # they learn it when they finish their shares

    def clear(self) -> None:
        """Remove this launch's flags."""
        try:
            for entry in os.scandir(self.folder):
                if entry.name.startswith(self._prefix):
                    os.unlink(entry.path)
        except OSError:
            pass


@dataclass
class ShareResult:
    """How a share went: ``reused`` (a finished part was there), else scored, with its summary."""

    folder: Path
    reused: bool
    summary: RunSummary | None


def _share_items(items: Iterator[Item] | Any, share: Share, counted: list[int]) -> Iterator[Item]:
    """The items of ``share``; ``counted[0]`` ends as the number of items in all."""
    n = 0
    for n, item in enumerate(items, 1):
        if share.takes(n - 1):
            yield item
    counted[0] = n


def score_share(
    job: Job,
    scorer: Scorer,
    share: Share,
    folder: PathLike,
    manifest: Mapping[str, Any],
    *,
    progress: bool = False,
    stop: Callable[[], None] | None = None,
) -> ShareResult:
    """Score ``share`` of ``job`` into the part ``folder``; a finished part made the same way
    (its manifest starts as ``manifest``) is reused instead.

    Args:
        job: the whole job (every share reads all of its items, and scores its own).
        scorer: the model ready to score.
        share: which rows.
        folder: the part folder.
        manifest: the part's manifest so far (:func:`zoo.predict.outputs.parts.part_manifest`).
        progress: show a progress bar.
        stop: called before each batch is written; raises to stop the share.
    """
    folder = Path(folder)
    if finished_part(folder, manifest) is not None:
        return ShareResult(folder, True, None)
    counted = [0]
    shared = replace(job, items=_share_items(job.items, share, counted), reader=None)
    summary = run_job(
        shared,
        scorer,
        lambda meta, scores: PartWriter(folder, manifest, lambda: counted[0], stop=stop),
        progress=progress,
        allow_empty=True,
    )
    if counted[0] == 0:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)  # the part of an empty input, just written
        raise PredictError(job.empty_message)
    return ShareResult(folder, False, summary)


def run_parts(
    job: Job,
    scorer: Scorer,
    *,
    out: str | None,
    parts: PathLike,
    group_batches: int,
    shard: tuple[int, int] | None,
    launch: Launch | None,
    inputs: Mapping[str, Any],
    weights: Any,
    conventions: Mapping[str, Any],
    sources: Mapping[str, Any] | None = None,
    tracks: str | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> str:
    """Score ``job`` in parts: one share (``shard``: (I, N)), or this process's share of a
    ``launch``, merged by rank 0 into ``out`` (None: the parts are the output, a Parquet data
    set in ``parts``); returns the line that reports what was done.

    Args:
        job: the job.
        scorer: the model ready to score.
        out: the final output's name (its format), or None for an ``--out-parts`` data set.
        parts: the folder of the parts.
        group_batches: batches per group of rows (the unit shares are made of).
        shard: (I, N) for one share run alone.
        launch: this process's place in a launch of several.
        inputs: the input files' fingerprints.
        weights: the weights' fingerprint.
        conventions: the scoring options the values depend on.
        sources: what the merge needs besides the rows (the input VCF of an annotated VCF, the
            contig lengths of tracks).
        tracks: the track format, when ``out`` is a folder of tracks.
        progress: show a progress bar (rank 0's only, in a launch).
        overwrite: replace a read-only ``out``.
    """
    if shard is not None and launch is not None:
        raise PredictError(
            f"--shard splits the work itself, but {launch.launcher} started {launch.world_size} processes; "
            "give one or the other"
        )
    per_batch = max(1, scorer.batch_size // job.windows_per_item)
    index, count = shard if shard is not None else (launch.rank, launch.world_size) if launch else (0, 1)
    share = Share(index, count, per_batch * group_batches)
    from zoo.predict.outputs.parts import data_kind

    kind = "parquet-parts" if out is None else f"tracks-{tracks}" if tracks else _output_kind(out)
    meta_columns = job.meta_columns + (["status"] if job.with_status else [])
    manifest = part_manifest(
        share,
        output=kind,
        data="npy" if tracks else data_kind(out),
        columns=(meta_columns, job.value_columns(scorer.columns)),
        batch_items=per_batch,
        inputs=inputs,
        weights=weights,
        conventions=conventions,
    )
    manifest["sources"] = dict(sources or {})
    folder = Path(parts) / share.name
    if launch is None:
        result = score_share(job, scorer, share, folder, manifest, progress=progress)
        return _share_line(result, share)
    return _launched(job, scorer, share, folder, manifest, launch, out, progress, overwrite)


def _output_kind(out: str) -> str:
    for suffix in (".tsv.gz", ".vcf.gz", ".parquet", ".hdf5", ".h5", ".vcf"):
        if out.endswith(suffix):
            return suffix[1:]
    return "tsv"


def _share_line(result: ShareResult, share: Share) -> str:
    if result.reused:
        return f"share {share.index} of {share.count}: reused the finished part {os.fspath(result.folder)}"
    rows = result.summary.rows if result.summary else 0
    return f"share {share.index} of {share.count}: wrote {rows} rows to the part {os.fspath(result.folder)}"


def _launched(
    job: Job,
    scorer: Scorer,
    share: Share,
    folder: Path,
    manifest: Mapping[str, Any],
    launch: Launch,
    out: str | None,
    progress: bool,
    overwrite: bool,
) -> str:
    """This process's share of a launch, then the exchange of how it went and rank 0's merge."""
    import torch.distributed as dist

    joined = not dist.is_initialized()  # (a caller's own process group is used, and kept)
    group = _join(launch, scorer) if joined else None
    token: list[Any] = [secrets.token_hex(6) if launch.rank == 0 else None]
    dist.broadcast_object_list(token, src=0, group=group)
    flags = FailureFlags(folder.parent, token[0], launch.rank)
    try:
        failure: tuple[str, str] | None = None
        try:
            result = score_share(
                job,
                scorer,
                share,
                folder,
                manifest,
                progress=progress and launch.rank == 0,
                stop=flags.raise_failure,
            )
            print(f"zoo-predict: rank {launch.rank}: {_share_line(result, share)}", file=sys.stderr)
        except Stopped as err:
            failure = ("stopped", str(err))
        except (PredictError, OSError, ValueError, RuntimeError) as err:
            failure = ("failed", str(err).splitlines()[0] if str(err) else type(err).__name__)
            flags.fail(failure[1])
        outcomes: list[Any] = [None] * launch.world_size
        dist.all_gather_object(outcomes, failure, group=group)
        if launch.rank == 0:
            flags.clear()
        failed = [
            (rank, why[1]) for rank, why in enumerate(outcomes) if why is not None and why[0] == "failed"
        ]
        if not failed and any(outcome is not None for outcome in outcomes):
            failed = [(rank, why[1]) for rank, why in enumerate(outcomes) if why is not None]
        if failed:
            rank, why = failed[0]
            more = f" (and {len(failed) - 1} other ranks)" if len(failed) > 1 else ""
            raise PredictError(
                f"rank {rank} of {launch.world_size} failed{more}: {why}; no output written (the finished "
                f"parts in {os.fspath(folder.parent)} are reused by a rerun)"
            )
        folders = [
            folder.parent / Share(r, launch.world_size, share.group_items).name
            for r in range(launch.world_size)
        ]
        merged: list[Any] = [None]
        if launch.rank == 0:
            try:
                if out is None:
                    merged[0] = (
                        "ok",
                        f"wrote {launch.world_size} Parquet parts to {os.fspath(folder.parent)}",
                    )
                else:
                    rows = merge_parts(folders, out, overwrite=overwrite, progress=progress)
                    remove_parts(folders)
                    merged[0] = ("ok", f"wrote {rows} rows to {out} (merged from {launch.world_size} ranks)")
            except (PredictError, OSError, ValueError) as err:
                merged[0] = ("failed", f"the merge on rank 0 failed: {err}")
        dist.broadcast_object_list(merged, src=0, group=group)
        status, line = merged[0]
        if status != "ok":
            raise PredictError(line)
        return line if launch.rank == 0 else ""
    finally:
        if joined:
            dist.destroy_process_group()


def _join(launch: Launch, scorer: Scorer) -> Any:
    """Join the launch's process group; returns the gloo group the processes talk in."""
    import torch.distributed as dist

    if launch.launcher == "srun" and "MASTER_ADDR" not in os.environ:
        from lightning.fabric.plugins.environments import SLURMEnvironment

        slurm = SLURMEnvironment()
        os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = slurm.main_address, str(slurm.main_port)
    os.environ.setdefault("RANK", str(launch.rank))
    os.environ.setdefault("WORLD_SIZE", str(launch.world_size))
    cuda = scorer.device.type == "cuda"
    dist.init_process_group(
        "nccl" if cuda else "gloo",
        rank=launch.rank,
        world_size=launch.world_size,
        timeout=_WAIT,
        **({"device_id": scorer.device} if cuda else {}),
    )
    # how the shares went is told over gloo, on the CPU, whatever the scoring devices
    return dist.new_group(backend="gloo", timeout=_WAIT) if cuda else None
