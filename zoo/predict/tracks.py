"""Genome tracks: regions tiled with model-length windows, one bigWig (or bedGraph) per target.

Each region is cut into bins of ``step`` bases from its start (the last bin ends with the
region); the value of a bin is the model's prediction for the window of ``seq_len`` bases
centred on the bin (window start = bin start + step // 2 - seq_len // 2). With DeepSEA's
1000 bp windows and ``step=200`` that is its training layout: a 200 bp bin with 400 bp of
context on each side. Bins whose window runs off the contig get no value (a gap).

Regions come from a BED file or ``chr:start-end`` strings (1-based, inclusive, as samtools
and genome browsers write them); chromosome sizes from the genome's .fai index. Every file
is written under a temporary name and renamed when all are complete.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from zoo._io.outputs import same_file_as
from zoo.predict.columnar import rows_to_columns
from zoo.predict.contigs import ContigMatcher, ContigWarning
from zoo.predict.errors import PathLike, PredictError
from zoo.predict.items import Item
from zoo.predict.scoring import Job, RunSummary, Scorer, run_job
from zoo.predict.sources import Genome, bed_intervals, genome_contigs, probabilities
from zoo.predict.staged import StagedWriter, stage_path
from zoo.predict.textformat import text_column, tsv_blocks
from zoo.predict.writers import write_error

FORMATS = {"bigwig": ".bw", "bedgraph": ".bedGraph"}
_NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+)"  # 1200 or 1,200
_SPAN = re.compile(rf"{_NUMBER}-{_NUMBER}")
# names Windows reserves for devices, with any extension
_RESERVED = {"con", "prn", "aux", "nul", *(f"{port}{i}" for port in ("com", "lpt") for i in range(1, 10))}
_ROWS_PER_FLUSH = 1 << 15
_SPARE_FILES = 64  # file descriptors left for everything else while one file per target is open


@dataclass(frozen=True)
class Region:
    """A genome interval, 0-based and half-open (as BED)."""

    chrom: str
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.chrom}:{self.start + 1}-{self.end}"


def parse_region(text: str) -> Region:
    """``chrom:start-end`` (1-based, inclusive; thousands may be separated by commas) as a Region.

    The contig name may itself contain colons (the last one separates the span).
    """
    chrom, sep, span = text.strip().rpartition(":")
    found = _SPAN.fullmatch(span) if sep and chrom and not re.search(r"\s", chrom) else None
    if found is None:
        raise PredictError(
            f"region {text!r}: expected CHROM:START-END, 1-based and inclusive (e.g. chr1:1000001-1100000)"
        )
    start, end = (int(g.replace(",", "")) for g in found.groups())
    if start < 1 or end < start:
        raise PredictError(f"region {text!r}: expected 1 <= START <= END, got {start}-{end}")
    return Region(chrom, start - 1, end)


def read_regions(
    genome: PathLike,
    lengths: Mapping[str, int],
    regions: Sequence[str] = (),
    bed: PathLike | None = None,
) -> tuple[list[Region], str | None]:
    """The regions of ``regions`` (strings) and ``bed``, on the genome's contig names, sorted
    as the genome's contigs (its .fai order), then by start; and the contig renaming warning.

    Refuses a region on a contig the genome lacks, one past the contig's end, and regions that
    overlap (a track holds one value per base).
    """
    named = [(f"region {text!r}", parse_region(text)) for text in regions]
    if bed is not None:
        for number, chrom, start, end, _ in bed_intervals(bed):
            if end > start:
                named.append((f"{os.fspath(bed)} line {number}", Region(chrom, start, end)))
    if not named:
        raise PredictError("no regions: give chr:start-end strings or a BED file with intervals")
    source = os.fspath(bed) if bed is not None and not regions else "the regions"
    contigs = ContigMatcher(lengths, source=source, genome=genome)
    placed = []
    for where, region in named:
        chrom = contigs(region.chrom)
        if chrom is None:
            raise PredictError(f"{where}: contig {region.chrom!r} is not in genome {os.fspath(genome)!r}")
        if region.end > lengths[chrom]:
            raise PredictError(
                f"{where}: {region} runs past the end of {chrom} "
                f"({lengths[chrom]} bp in {os.fspath(genome)!r})"
            )
        placed.append(Region(chrom, region.start, region.end))
    order = {name: i for i, name in enumerate(lengths)}
    placed.sort(key=lambda r: (order[r.chrom], r.start, r.end))
    for before, after in zip(placed, placed[1:]):
        if before.chrom == after.chrom and after.start < before.end:
            raise PredictError(f"regions {before} and {after} overlap; a track holds one value per base")
    return placed, contigs.match.warning


def tile_region(
    start: int, end: int, step: int, seq_len: int, contig_length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bins of [start, end) and their windows: (bin starts, bin ends, window starts, inside),
    ``inside`` telling the windows that lie within [0, contig_length)."""
    if step < 1:
        raise PredictError(f"--step must be >= 1, got {step}")
    bin_starts = np.arange(start, end, step, dtype=np.int64)
    bin_ends = np.minimum(bin_starts + step, end)
    window_starts = bin_starts + step // 2 - seq_len // 2
    inside = (window_starts >= 0) & (window_starts + seq_len <= contig_length)
    return bin_starts, bin_ends, window_starts, inside


def track_items(genome: PathLike, regions: Sequence[Region], seq_len: int, step: int) -> Iterator[Item]:
    """One item per bin: meta (chrom, bin start, bin end), the window centred on the bin."""
    fasta = Genome(genome)
    try:
        for region in regions:
            tiles = tile_region(region.start, region.end, step, seq_len, fasta.lengths[region.chrom])
            for bin_start, bin_end, window, inside in zip(*(t.tolist() for t in tiles)):
                meta = (region.chrom, bin_start, bin_end)
                if inside:
                    yield Item(meta, (fasta.fetch(region.chrom, window, window + seq_len),))
                else:
                    yield Item(meta, status="off_contig_end")
    finally:
        fasta.close()


def track_job(genome: PathLike, regions: Sequence[Region], seq_len: int, step: int) -> Job:
    """Rows chrom, start, end (the bin), status, then the targets' probabilities."""
    return Job(
        meta_columns=["chrom", "start", "end"],
        items=track_items(genome, regions, seq_len, step),
        windows_per_item=1,
        value_columns=list,
        values=probabilities,
        with_status=True,
        empty_message="the regions hold no bins",
    )


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
    as those contigs, then by start, without overlaps (as :func:`read_regions` orders them).
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


def write_tracks(
    scorer: Scorer,
    genome: PathLike,
    folder: PathLike,
    *,
    regions: Sequence[str] = (),
    bed: PathLike | None = None,
    step: int,
    fmt: str = "bigwig",
    prefix: str = "",
    progress: bool = False,
    overwrite: bool = False,
    inputs: Mapping[str, PathLike | None] | None = None,
) -> tuple[list[Path], RunSummary]:
    """Tile the regions (``chr:start-end`` strings and/or a BED file) with the scorer's windows
    ``step`` bases apart and write one track per target into ``folder``; returns the paths
    (in the scorer's target order) and the run summary.

    Contig names that differ from the genome's only by convention (``chr1`` / ``1``) are
    matched, with a warning naming the renaming. ``overwrite`` replaces read-only tracks;
    no track may be the genome, its index, the BED file or any of ``inputs`` (name -> path).
    """
    read = {"the genome": genome, "its index": f"{os.fspath(genome)}.fai", "the regions BED": bed}
    read = {**(inputs or {}), **read}  # the caller's names first: they are what it reports
    lengths = genome_contigs(genome)
    placed, warning = read_regions(genome, lengths, regions, bed)
    if warning:
        warnings.warn(warning, ContigWarning, stacklevel=2)
    opener = partial(TrackWriter, folder, lengths, fmt=fmt, prefix=prefix, overwrite=overwrite, inputs=read)
    summary = run_job(track_job(genome, placed, scorer.seq_len, step), scorer, opener, progress=progress)
    return [Path(folder) / name for name in track_file_names(scorer.columns, FORMATS[fmt], prefix)], summary
