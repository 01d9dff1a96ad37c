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

from zoo._io.space import require_free_space
from zoo._io.writing import same_file_as
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
# libBigWig crashes the process when a write fails (a full disk), so the free space is checked
# before each write: an entry is 12 bytes in a data block (zlib can make it a little larger),
# its share of the zoom levels and index written at close is under 16, and each file has a
# header, a contig tree and an index root.
_BIGWIG_ENTRY_BYTES = 16
_BIGWIG_FILE_BYTES = 64 * 1024


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
        self._entries = 0  # bigWig entries written so far, over all files
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
        if not self.folder.exists():  # made for the tracks: a failed run removes it again
            stack.push(self._remove_new_folder)
        for path in self.paths:
            tmp = stage_path(stack, path, FORMATS[self.fmt], self.overwrite)
            if tmp == path and self.fmt == "bigwig":  # atomic_path writes a pipe or device in place
                raise PredictError(
                    f"track {os.fspath(path)!r} is a pipe or device: bigWig is written to regular files only"
                )
            try:
                self._files.append(self._open(tmp))
            except OSError as err:  # a full disk while the header is written
                raise write_error(self.folder, err) from None
            stack.callback(self._close, self._files[-1])

    def _close(self, track: Any) -> None:
        """Close one file; its last bytes failing to go out (a full disk) is an OSError naming
        the folder."""
        try:
            track.close()
        except OSError as err:
            raise write_error(self.folder, err) from None

    def _remove_new_folder(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """After a failure (its temporary files deleted), remove the folder this writer made."""
        if exc_type is not None:
            with contextlib.suppress(OSError):  # something else is in it, or it is gone
                self.folder.rmdir()

    def _open(self, tmp: Path) -> Any:
        if self.fmt == "bedgraph":
            return open(tmp, "wb")  # noqa: SIM115 (closed by the exit stack)
        self._require_space(0)
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
        if self.fmt == "bigwig":
            entries = int((ok[:, None] & np.isfinite(scores)).sum())
            self._require_space(2 * entries)  # the block now, its zoom levels and index at close
            self._entries += entries
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

    def _require_space(self, entries: int) -> None:
        """Raise a full disk's OSError, before libBigWig would crash on it, when the folder's
        file system cannot take ``entries`` more bigWig entries and what closing the files
        writes."""
        need = (entries + self._entries) * _BIGWIG_ENTRY_BYTES + len(self.paths) * _BIGWIG_FILE_BYTES
        require_free_space(self.folder, need)

    def _finish(self) -> None:
        self._write_out()
        if self.fmt == "bigwig":
            try:
                self._require_space(0)  # closing writes the zoom levels and the index
            except OSError as err:
                raise write_error(self.folder, err) from None

    def _write_out(self) -> None:
        """Write the buffered bins; a failed write (a full disk) is an OSError naming the folder."""
        try:
            self._flush()
        except OSError as err:
            raise write_error(self.folder, err) from None
