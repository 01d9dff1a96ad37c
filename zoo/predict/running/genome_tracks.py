"""Genome tracks end to end: regions read and tiled, their bins scored, one track per target written."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

from zoo._types import PathLike
from zoo.predict.inputs.contigs import ContigWarning
from zoo.predict.inputs.genome import genome_contigs
from zoo.predict.inputs.job import Job
from zoo.predict.inputs.regions import read_regions, track_job
from zoo.predict.outputs.tracks import FORMATS, TrackWriter, track_file_names
from zoo.predict.running.run import RunSummary, run_job
from zoo.predict.running.scorer import Scorer


def tracks_job(
    scorer: Scorer,
    genome: PathLike,
    *,
    regions: Sequence[str] = (),
    bed: PathLike | None = None,
    step: int,
) -> tuple[Job, dict[str, int]]:
    """The job that scores the bins of the regions (as :func:`write_tracks` reads them, with its
    warning about renamed contigs), and the genome's contig lengths (the tracks' header).

    Args:
        scorer: the model ready to score (its window length).
        genome: the genome FASTA.
        regions: ``chr:start-end`` strings.
        bed: a BED file of regions.
        step: the bin size.
    """
    lengths = genome_contigs(genome)
    placed, warning = read_regions(genome, lengths, regions, bed)
    if warning:
        warnings.warn(warning, ContigWarning, stacklevel=3)
    return track_job(genome, placed, scorer.seq_len, step), dict(lengths)


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
    matched, with a warning naming the renaming.

    Args:
        scorer: the model, ready to score.
        genome: the FASTA genome.
        folder: where the tracks are written.
        regions: ``chr:start-end`` strings.
        bed: a BED file of regions.
        step: the bases between windows.
        fmt: the track format, ``bigwig`` or ``bedgraph``.
        prefix: prepended to each track's file name.
        progress: show progress.
        overwrite: replace read-only tracks.
        inputs: name -> path of files no track may be (besides the genome, its index and
            the BED file).
    """
    read = {"the genome": genome, "its index": f"{os.fspath(genome)}.fai", "the regions BED": bed}
    read = {**(inputs or {}), **read}  # the caller's names first: they are what it reports
    job, lengths = tracks_job(scorer, genome, regions=regions, bed=bed, step=step)
    opener = partial(TrackWriter, folder, lengths, fmt=fmt, prefix=prefix, overwrite=overwrite, inputs=read)
    summary = run_job(job, scorer, opener, progress=progress)
    return [Path(folder) / name for name in track_file_names(scorer.columns, FORMATS[fmt], prefix)], summary
