"""Genome regions tiled into bins, each valued by the model-length window centred on it.

Each region is cut into bins of ``step`` bases from its start (the last bin ends with the
region); the value of a bin is the model's prediction for the window of ``seq_len`` bases
centred on the bin (window start = bin start + step // 2 - seq_len // 2). With DeepSEA's
1000 bp windows and ``step=200`` that is its training layout: a 200 bp bin with 400 bp of
context on each side. Bins whose window runs off the contig get no value (a gap).

Regions come from a BED file or ``chr:start-end`` strings (1-based, inclusive, as samtools
and genome browsers write them); chromosome sizes from the genome's .fai index. The tracks
themselves are written by :mod:`zoo.predict.outputs.tracks`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from zoo._io.text import abbreviated, too_many_digits
from zoo._types import PathLike
from zoo.predict.errors import PredictError
from zoo.predict.inputs.bed import bed_intervals
from zoo.predict.inputs.contigs import ContigMatcher
from zoo.predict.inputs.genome import Genome
from zoo.predict.inputs.job import Item, Job

_NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+)"  # 1200 or 1,200
_SPAN = re.compile(rf"{_NUMBER}-{_NUMBER}")


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
    digits = [g.replace(",", "") for g in found.groups()]
    long = too_many_digits(*digits)
    if long is not None:
        raise PredictError(f"region {abbreviated(text, 40)!r}: {long}")
    start, end = (int(g) for g in digits)
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
        with_status=True,
        empty_message="the regions hold no bins",
    )
