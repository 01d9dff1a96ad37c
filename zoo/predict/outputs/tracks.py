"""Genome tracks: one bigWig (or bedGraph) file per target, written from the rows of a
region job (:func:`zoo.predict.inputs.regions.track_job`: chrom, bin start, bin end, status).

Every file is written under a temporary name and renamed when all are complete.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo._io.outputs import same_file_as
from zoo._types import PathLike
from zoo.predict.errors import PredictError
from zoo.predict.outputs.columnar import rows_to_columns
from zoo.predict.outputs.staged import StagedWriter, stage_path
from zoo.predict.outputs.textformat import text_column, tsv_blocks
from zoo.predict.outputs.writers import write_error

FORMATS = {"bigwig": ".bw", "bedgraph": ".bedGraph"}
# names Windows reserves for devices, with any extension
_RESERVED = {"con", "prn", "aux", "nul", *(f"{port}{i}" for port in ("com", "lpt") for i in range(1, 10))}
_ROWS_PER_FLUSH = 1 << 15
_SPARE_FILES = 64  # file descriptors left for everything else while one file per target is open


def track_file_names(targets: Sequence[str], suffix: str, prefix: str = "") -> list[str]:
    """A file name for each target: ``prefix + name + suffix``, with characters other than
    letters, digits and ``._+-`` as ``_``, no leading dot or dash, at most 200 characters,
    and unique even on file systems that ignore case."""
    names, taken = [], set()
    for target in targets:
        stem = re.sub(r"[^0-9A-Za-z._+-]", "_", prefix + target)[:200]
        stem = re.sub(r"^[.-]", "_", stem) or "_"
        if stem.split(".")[0].lower() in _RESERVED:
            stem = f"_{stem}"
        name, k = stem, 2
        while name.lower() in taken:
            name, k = f"{stem}_{k}", k + 1
        taken.add(name.lower())
        names.append(name + suffix)
    return names


class TrackWriter(StagedWriter):
    """Writes the rows of a track job as one file per score column (target) in ``folder``:
    bigWig (pyBigWig) or bedGraph, as run_job's writer:
    ``run_job(job, scorer, functools.partial(TrackWriter, folder, chrom_sizes))``.

    ``chrom_sizes`` (ordered as the genome) makes the bigWig header. Rows must come sorted
    as those contigs, then by start, without overlaps (as
    :func:`zoo.predict.inputs.regions.read_regions` orders them).
    """

    def __init__(
        self,
        folder: PathLike,
        chrom_sizes: Mapping[str, int],
        meta_columns: Sequence[str],
        score_columns: Sequence[str],
        *,
        fmt: str = "bigwig",
        prefix: str = "",
        overwrite: bool = False,
        inputs: Mapping[str, PathLike | None] | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise PredictError(f"track format {fmt!r} is not one of {', '.join(FORMATS)}")
        if list(meta_columns)[:3] != ["chrom", "start", "end"]:
            raise ValueError(f"TrackWriter takes rows chrom, start, end[, status], got {meta_columns}")
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise PredictError(f"--out {os.fspath(self.folder)!r} is a file; tracks go into a folder")
        self.fmt, self.chrom_sizes = fmt, dict(chrom_sizes)
        self.meta_columns, self.score_columns = list(meta_columns), list(score_columns)
        names = track_file_names(self.score_columns, FORMATS[fmt], prefix)
        self.paths = [self.folder / name for name in names]
        inputs = dict(inputs or {})
        for path in self.paths:  # a track must not replace a file the run reads
            clash = same_file_as(path, inputs)
            if clash is not None:
                raise PredictError(
                    f"track {os.fspath(path)!r} is the same file as {clash} {os.fspath(inputs[clash])!r}: "
                    "it would be overwritten; write the tracks elsewhere"
                )
        self.overwrite = overwrite
        self.rows = 0
        self._order = {name: i for i, name in enumerate(self.chrom_sizes)}
        self._last = (-1, 0)  # (contig index, end) of the last row written
        self._buffer: list[tuple[list[np.ndarray], np.ndarray]] = []
        self._buffered = 0
        self._files: list[Any] = []
        super().__init__()

    def __enter__(self) -> TrackWriter:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if limit != resource.RLIM_INFINITY and len(self.paths) > limit - _SPARE_FILES:
            raise PredictError(
                f"{len(self.paths)} tracks would keep {len(self.paths)} files open, more than this "
                f"process may ({limit}); pick fewer targets (--targets) or raise the limit (ulimit -n)"
            )
        return super().__enter__()

    def _stage(self, stack: contextlib.ExitStack) -> None:
        for path in self.paths:
            tmp = stage_path(stack, path, FORMATS[self.fmt], self.overwrite)
            if tmp == path and self.fmt == "bigwig":  # atomic_path writes a pipe or device in place
                raise PredictError(
                    f"track {os.fspath(path)!r} is a pipe or device: bigWig is written to regular files only"
                )
            self._files.append(self._open(tmp))
            stack.callback(self._files[-1].close)

    def _open(self, tmp: Path) -> Any:
        if self.fmt == "bedgraph":
            return open(tmp, "wb")  # noqa: SIM115 (closed by the exit stack)
        try:
            import pyBigWig
        except ImportError:
            raise PredictError(
                "writing bigWig needs pyBigWig, which is not installed; install it with "
                "pip install 'sigmoid-zoo[tracks]' (or write bedGraph instead)"
            ) from None
        track = pyBigWig.open(os.fspath(tmp), "w")
        track.addHeader(list(self.chrom_sizes.items()))
        return track

    def write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        """Append rows (bins); rows not scored (status other than ok) leave a gap."""
        if len(meta_rows) != len(scores) or scores.shape[1:] != (len(self.score_columns),):
            raise ValueError(f"got {len(meta_rows)} meta rows and scores of shape {scores.shape}")
        columns = rows_to_columns(meta_rows, len(self.meta_columns))
        self._check_order(columns[0], columns[1], columns[2])
        self._buffer.append((columns, np.asarray(scores, np.float32)))
        self._buffered += len(scores)
        self.rows += len(scores)
        if self._buffered >= _ROWS_PER_FLUSH:
            self._write_out()

    def _check_order(self, chroms: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        if not len(chroms):
            return
        try:
            index = np.array([self._order[c] for c in chroms.tolist()])
        except KeyError as err:
            raise ValueError(f"contig {err.args[0]!r} is not among the chromosome sizes") from None
        prev_index = np.concatenate([[self._last[0]], index[:-1]])
        prev_end = np.concatenate([[self._last[1]], ends[:-1]])
        bad = (index < prev_index) | ((index == prev_index) & (starts < prev_end))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"track rows out of order at {chroms[i]}:{starts[i]}-{ends[i]}")
        self._last = (int(index[-1]), int(ends[-1]))

    def _flush(self) -> None:
        if not self._buffer:
            return
        chroms, starts, ends, *rest = (np.concatenate(parts) for parts in zip(*(c for c, _ in self._buffer)))
        scores = np.concatenate([s for _, s in self._buffer])
        ok = rest[0] == "ok" if rest else np.ones(len(scores), bool)
        self._buffer, self._buffered = [], 0
        for j, track in enumerate(self._files):
            keep = ok & np.isfinite(scores[:, j])
            if not keep.any():
                continue
            if self.fmt == "bigwig":
                track.addEntries(
                    chroms[keep].tolist(),
                    starts[keep].astype(np.int64),
                    ends=ends[keep].astype(np.int64),
                    values=scores[keep, j].astype(np.float64),
                )
            else:
                coordinates = [text_column(c[keep]) for c in (chroms, starts, ends)]
                for block in tsv_blocks(coordinates, scores[keep, j : j + 1]):
                    track.write(block)

    def _finish(self) -> None:
        self._write_out()

    def _write_out(self) -> None:
        """Write the buffered bins; a failed write (a full disk) is an OSError naming the folder."""
        try:
            self._flush()
        except OSError as err:
            raise write_error(self.folder, err) from None
