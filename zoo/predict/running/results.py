"""Scores as arrays in memory instead of a file: the Python entry to zoo-predict's scoring.

Examples:
    >>> table = score_variants(model, "hg.fa", "calls.vcf.gz", scores=["diff"], targets=[0])  # doctest: +SKIP
    >>> table.scores.shape, table.meta["pos"][:3], table.columns[:2]                     # doctest: +SKIP
    >>> frame = table.to_pandas()                                                        # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

from torch import nn

from zoo._types import PathLike
from zoo.predict.errors import PredictError
from zoo.predict.inputs.bed import bed_job
from zoo.predict.inputs.contigs import ContigWarning
from zoo.predict.inputs.fasta import fasta_job
from zoo.predict.inputs.job import Job
from zoo.predict.inputs.variants import DEFAULT_SCORES, SCORES, variant_job
from zoo.predict.outputs.memory import MemoryWriter, ScoreTable
from zoo.predict.running.loading import load_predict_model
from zoo.predict.running.run import run_job
from zoo.predict.running.scorer import Scorer


def score_job(job: Job, scorer: Scorer) -> ScoreTable:
    """Score every item of ``job`` (see :mod:`zoo.predict.inputs`)
    and return the rows a written table would hold.

    Contig names the job read under another name (``chr1`` as ``1``) are named in one
    :class:`ContigWarning`.

    Args:
        job: what to score.
        scorer: the model, ready to score.
    """
    sink = MemoryWriter()
    run_job(job, scorer, sink)
    if job.contigs is not None and job.contigs.match.warning:
        warnings.warn(job.contigs.match.warning, ContigWarning, stacklevel=2)
    return sink.table()


def _scorer(model: nn.Module | Scorer | PathLike, **options: Any) -> Scorer:
    """``model`` as a Scorer: a Scorer as it is, a module wrapped, a path loaded (a zoo checkpoint)."""
    if isinstance(model, Scorer):
        ignored = sorted(k for k, v in options.items() if v is not None)
        if ignored:
            raise PredictError(f"{', '.join(ignored)} apply to a model, not to a Scorer, which has its own")
        return model
    if isinstance(model, (str, os.PathLike)):
        model, _ = load_predict_model(None, model)
    return Scorer(model, **{k: v for k, v in options.items() if v is not None})


def score_variants(
    model: nn.Module | Scorer | PathLike,
    genome: PathLike,
    vcf: PathLike,
    *,
    scores: Sequence[str] = DEFAULT_SCORES,
    targets: Sequence[str | int] | None = None,
    labels: Sequence[str] | None = None,
    rc: str | None = None,
    batch_size: int | None = None,
    device: str | None = None,
    seqclass_files: Sequence[PathLike] | PathLike | None = None,
    background: Any = None,
    sort: bool = False,
) -> ScoreTable:
    """Variant effects of every ALT allele of ``vcf``, as zoo-predict ``--vcf`` computes them,
    without writing a file.

    Contig names that differ between the VCF and the genome only by convention (``chr1`` /
    ``1``, ``chrM`` / ``MT``) are matched, with a warning naming the renaming; a VCF none of
    whose contigs is in the genome raises a PredictError. See
    :func:`zoo.effects.jobs.score_effects` for the variant-effect scores.

    Args:
        model: a DNA model, a :class:`Scorer` (which carries its own targets, labels, rc,
            batch size and device) or a zoo checkpoint's path.
        genome: the FASTA genome.
        vcf: the variants.
        scores: among ref, alt, diff, logfc, and the variant-effect scores of
            :mod:`zoo.effects.scoring` (``seqclass``, ``evalue``, ``zscore``, ``funsig``).
        targets: names or indices of the targets to keep (default: all).
        labels: names of all of the model's targets (default: the model's ``target_names``).
        rc: how each window is combined with its reverse complement (one of :data:`RC_MODES`).
        batch_size: windows per model call.
        device: where to run the model.
        seqclass_files: Sei's sequence-class arrays, for the variant-effect scores (default:
            the published ones, from the cache).
        background: a :class:`zoo.effects.Background` or its file, for the variant-effect
            scores.
        sort: order the rows by the largest absolute class effect (else |diff|), largest
            first.

    Returns:
        Meta chrom, pos, id, ref, alt, status and columns ``<score>:<target>``.
    """
    names = [scores] if isinstance(scores, str) else list(scores)
    if set(names) - set(SCORES) or seqclass_files is not None or background is not None or sort:
        from zoo.effects.jobs import score_effects  # (zoo.effects builds on this module)

        options = {"rc": rc, "batch_size": batch_size, "device": device}
        return score_effects(
            model, genome, vcf, scores=names, targets=targets, seqclass_files=seqclass_files,
            background=background, sort=sort, **{k: v for k, v in options.items() if v is not None},
        )  # fmt: skip
    scorer = _scorer(model, targets=targets, labels=labels, rc=rc, batch_size=batch_size, device=device)
    return score_job(variant_job(genome, vcf, scorer.seq_len, scores), scorer)


def score_intervals(
    model: nn.Module | Scorer | PathLike,
    genome: PathLike,
    bed: PathLike,
    *,
    targets: Sequence[str | int] | None = None,
    labels: Sequence[str] | None = None,
    rc: str | None = None,
    batch_size: int | None = None,
    device: str | None = None,
) -> ScoreTable:
    """Probabilities of the model-length window centred on each interval of ``bed``, as
    zoo-predict ``--genome --bed`` computes them, without writing a file.

    Contig names are matched as in :func:`score_variants`.

    Args:
        model: as in :func:`score_variants`.
        genome: the FASTA genome.
        bed: the intervals.
        targets: names or indices of the targets to keep (default: all).
        labels: names of all of the model's targets (default: the model's ``target_names``).
        rc: how each window is combined with its reverse complement (one of :data:`RC_MODES`).
        batch_size: windows per model call.
        device: where to run the model.

    Returns:
        Meta chrom, start, end, name, status and one column a target.
    """
    scorer = _scorer(model, targets=targets, labels=labels, rc=rc, batch_size=batch_size, device=device)
    return score_job(bed_job(genome, bed, scorer.seq_len), scorer)


def score_fasta(
    model: nn.Module | Scorer | PathLike,
    fasta: PathLike,
    *,
    step: int | None = None,
    targets: Sequence[str | int] | None = None,
    labels: Sequence[str] | None = None,
    rc: str | None = None,
    batch_size: int | None = None,
    device: str | None = None,
) -> ScoreTable:
    """Probabilities of each record of ``fasta`` (or of its model-length windows ``step`` bp
    apart), as zoo-predict ``--fasta`` computes them, without writing a file.

    Args:
        model: as in :func:`score_variants`.
        fasta: the FASTA file.
        step: score the model-length windows this many bp apart (None: each record).
        targets: names or indices of the targets to keep (default: all).
        labels: names of all of the model's targets (default: the model's ``target_names``).
        rc: how each window is combined with its reverse complement (one of :data:`RC_MODES`).
        batch_size: windows per model call.
        device: where to run the model.

    Returns:
        The meta columns of zoo-predict's FASTA table and one column a target.
    """
    scorer = _scorer(model, targets=targets, labels=labels, rc=rc, batch_size=batch_size, device=device)
    return score_job(fasta_job(fasta, scorer.seq_len, step), scorer)
