"""Prediction jobs and writers for the variant-effect scores: sequence classes and
significance on VCF, FASTA and BED input, random SNVs of a genome, and backgrounds.

>>> table = score_effects(model, "hg.fa", "calls.vcf", scores=["seqclass", "diff"],
...                       seqclass_files="sei_resources/")                     # doctest: +SKIP
>>> build_background(model, "bg.npz", genome="hg.fa", random_snvs=100_000, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo._types import PathLike
from zoo.effects.background import Background, BackgroundAccumulator, model_fingerprint
from zoo.effects.scoring import SortedWriter, VariantScoring, parse_scores
from zoo.effects.seqclass import SequenceClasses, load_sequence_classes
from zoo.predict.errors import PredictError, require_file
from zoo.predict.inputs.genome import Genome
from zoo.predict.inputs.job import Item, Job
from zoo.predict.inputs.variants import allele_windows, variant_job
from zoo.predict.outputs.columns import pick_targets
from zoo.predict.outputs.memory import MemoryWriter, ScoreTable
from zoo.predict.running.run import RunSummary, run_job
from zoo.predict.running.scorer import Scorer

MAX_RANDOM_SNVS = 100_000_000
_BASES = "ACGT"
VARIANT_META = ["chrom", "pos", "id", "ref", "alt"]


def scorer_fingerprint(model: nn.Module, scorer: Scorer) -> dict:
    """:func:`~zoo.effects.background.model_fingerprint` of ``model`` as ``scorer`` runs it.

    Args:
        model: the DNA model.
        scorer: its Scorer (strand combination, N's value).
    """
    return model_fingerprint(model, rc=scorer.rc, n_value=scorer.n_value)


def make_scoring(
    model: nn.Module,
    scorer: Scorer,
    scores: str | Sequence[str],
    *,
    variants: bool = True,
    targets: Sequence[str | int] | None = None,
    seqclass_files: Sequence[PathLike] | PathLike | None = None,
    classes: SequenceClasses | None = None,
    background: Background | PathLike | None = None,
    statistic: str = "effect",
    progress: bool = False,
) -> VariantScoring:
    """The scores asked for, with what they need loaded and checked.

    Args:
        model: the DNA model (for a background's fingerprint check).
        scorer: a Scorer of every model target (the per-target scores pick ``targets``).
        scores: the score names (see :mod:`zoo.effects.scoring`).
        variants: variant input (else FASTA or BED).
        targets: targets of the per-target scores (names, indices, globs; default all).
        seqclass_files: local copies of the sequence-class arrays (a folder or the two
            files); None takes the published ones (the cache) when ``seqclass`` is asked.
        classes: the sequence-class arrays already loaded (instead of ``seqclass_files``).
        background: a :class:`Background` or its file, for evalue, zscore and funsig.
        statistic: the background statistic of evalue (``effect`` or ``absdiff``).
        progress: show a progress bar if the Sei resources are downloaded.
    """
    names = parse_scores(scores, variants)
    n_targets = len(scorer.columns)
    picked, columns = pick_targets(scorer.columns, n_targets, [str(t) for t in targets] if targets else None)
    if "seqclass" in names and classes is None:
        classes = load_sequence_classes(n_targets, seqclass_files, progress=progress)
    if background is not None and not isinstance(background, Background):
        where = f"background {os.fspath(background)!r}"
        background = Background.load(require_file(background, "background file"))
    else:
        where = "the background"
    if background is not None and variants:
        background.check(scorer_fingerprint(model, scorer), where)
    return VariantScoring(names, picked, columns, classes, background, statistic, variants)


def with_scoring(job: Job, scoring: VariantScoring) -> Job:
    """``job`` (a variant, FASTA or BED job) with its values computed by ``scoring``.

    Args:
        job: the job whose items are scored.
        scoring: the scores.
    """
    columns = scoring.columns()
    return dataclasses.replace(job, value_columns=lambda _: columns, values=scoring.values)


def random_snv_items(genome: PathLike, n: int, seed: int, seq_len: int) -> Iterator[Item]:
    """``n`` single-nucleotide variants drawn at random from ``genome``: a contig with
    probability proportional to its length, a position uniformly on it where the variant's
    window fits, a reference base among A, C, G, T (others are drawn again) and one of the
    three other bases as the alternative; ``seed`` makes the draw repeatable.

    Args:
        genome: the FASTA genome (indexed).
        n: how many variants.
        seed: the random seed.
        seq_len: the model's window, which must fit on the contig.
    """
    fasta = Genome(genome)
    try:
        contigs = [(c, length) for c, length in fasta.lengths.items() if length >= seq_len + 1]
        if not contigs:
            raise PredictError(f"genome {os.fspath(genome)!r} has no contig of at least {seq_len + 1} bp")
        names = [c for c, _ in contigs]
        lengths = np.array([length for _, length in contigs], np.float64)
        rng = np.random.default_rng(seed)
        made, tries = 0, 0
        while made < n:
            tries += 1
            if tries > 100 * n + 1000:
                raise PredictError(
                    f"genome {os.fspath(genome)!r}: too few A, C, G, T bases to draw SNVs from"
                )
            contig = names[rng.choice(len(names), p=lengths / lengths.sum())]
            length = fasta.lengths[contig]
            pos = int(rng.integers(seq_len // 2, length - seq_len // 2)) + 1  # 1-based, window inside
            ref = fasta.fetch(contig, pos - 1, pos).upper()
            if ref not in _BASES:
                continue
            alt = [b for b in _BASES if b != ref][int(rng.integers(3))]
            status, windows = allele_windows(fasta, contig, pos, ref, alt, seq_len)
            if status != "ok":
                continue
            made += 1
            yield Item((contig, pos, ".", ref, alt), windows, status)
    finally:
        fasta.close()


def random_snv_job(genome: PathLike, n: int, seed: int, seq_len: int) -> Job:
    """A variant job of :func:`random_snv_items` (rows as a VCF's: chrom, pos, id, ref, alt).

    Args:
        genome: the FASTA genome.
        n: how many variants (at most :data:`MAX_RANDOM_SNVS`).
        seed: the random seed.
        seq_len: the model's window.
    """
    require_file(genome, "genome FASTA")
    if not 1 <= n <= MAX_RANDOM_SNVS:
        raise PredictError(f"--random-snvs {n}: expected 1 to {MAX_RANDOM_SNVS:,} variants")
    return Job(
        meta_columns=list(VARIANT_META),
        items=random_snv_items(genome, n, seed, seq_len),
        windows_per_item=2,
        with_status=True,
        empty_message="no random SNVs were drawn",
    )


class BackgroundWriter:
    """A writer (as :func:`zoo.predict.run_job` takes) that adds each batch of (diff, logfc)
    columns to a :class:`~zoo.effects.background.BackgroundAccumulator` and writes the
    background to ``path`` when the run ends (atomically; nothing on an error).

    Args:
        accumulator: collects the summary.
        path: the background file to write.
    """

    def __init__(self, accumulator: BackgroundAccumulator, path: PathLike) -> None:
        self.accumulator, self.path = accumulator, path
        self.rows = 0

    def __call__(self, meta_columns: Sequence[str], score_columns: Sequence[str]) -> BackgroundWriter:
        """Start (the columns are diff of every target, then logfc of every target)."""
        self.score_columns = list(score_columns)
        return self

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            background = self.accumulator.finish()
            if not background.n:
                raise PredictError("no background variant could be scored (see their status)")
            background.save(self.path)

    def write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        """Add a batch of rows."""
        t = self.accumulator.n_targets
        self.accumulator.add(scores[:, :t], scores[:, t:])
        self.rows += len(scores)


def _background_values(logits: torch.Tensor) -> torch.Tensor:
    """(n, 2, T) logits -> (n, 2T): diff of every target, then logfc, in float64 as scored."""
    p = torch.sigmoid(logits.detach().to("cpu", torch.float64))
    logfc = (logits[:, 1] - logits[:, 0]).detach().to("cpu", torch.float64)
    return torch.cat([p[:, 1] - p[:, 0], logfc], dim=1)


def build_background(
    model: nn.Module | Scorer,
    out: PathLike,
    *,
    genome: PathLike,
    vcf: PathLike | None = None,
    random_snvs: int | None = None,
    seed: int = 0,
    scorer: Scorer | None = None,
    progress: bool = False,
    top_k: int | None = None,
) -> RunSummary:
    """Score a background set of variants with ``model`` and write its summary to ``out``.

    Args:
        model: the DNA model.
        out: the background file (.npz).
        genome: the FASTA genome.
        vcf: the variants (common variants, e.g. from gnomAD or 1000 Genomes); or
        random_snvs: that many SNVs drawn from ``genome`` with ``seed``.
        seed: the random seed of ``random_snvs``.
        scorer: how to run the model (default: a Scorer of every target, fp32, CPU).
        progress: show a progress bar.
        top_k: exact largest values kept per target (default
            :data:`~zoo.effects.background.TOP_K`).

    Returns:
        the run's summary: ``rows`` the variants in the background, ``skipped`` those that
        could not be scored, by reason.
    """
    if (vcf is None) == (random_snvs is None):
        raise PredictError("a background needs either a VCF of variants or a number of random SNVs, not both")
    if scorer is None:
        scorer = Scorer(model)
    if len(scorer.columns) != _n_targets(model):
        raise PredictError("a background is made over every target of the model: build it without --targets")
    fingerprint = scorer_fingerprint(model, scorer)
    if vcf is not None:
        job = variant_job(genome, vcf, scorer.seq_len, ["diff"])
    else:
        assert random_snvs is not None
        job = random_snv_job(genome, random_snvs, seed, scorer.seq_len)
    names = list(scorer.columns)
    job = dataclasses.replace(
        job,
        value_columns=lambda _: [f"diff:{t}" for t in names] + [f"logfc:{t}" for t in names],
        values=_background_values,
    )
    options = {} if top_k is None else {"top_k": top_k}
    accumulator = BackgroundAccumulator(len(names), fingerprint, names, **options)
    summary = run_job(job, scorer, BackgroundWriter(accumulator, out), progress=progress)
    summary.rows = accumulator.n  # the variants in the background (rows not scored are left out)
    return summary


def _n_targets(model: nn.Module) -> int:
    from zoo.models import n_targets_of

    return n_targets_of(model)


def score_effects(
    model: nn.Module | PathLike,
    genome: PathLike,
    vcf: PathLike,
    *,
    scores: Sequence[str] = ("seqclass",),
    targets: Sequence[str | int] | None = None,
    labels: Sequence[str] | None = None,
    seqclass_files: Sequence[PathLike] | PathLike | None = None,
    background: Background | PathLike | None = None,
    statistic: str = "effect",
    sort: bool = False,
    rc: str = "none",
    batch_size: int = 128,
    device: str = "cpu",
) -> ScoreTable:
    """Variant effects of every ALT allele of ``vcf`` with the scores of
    :mod:`zoo.effects.scoring` (sequence classes, e-values, z-scores, funsig, and the per-target
    ref, alt, diff, logfc), as zoo-predict ``--vcf --scores ...`` computes them.

    Args:
        model: a DNA model, or a zoo checkpoint's path.
        genome: the FASTA genome.
        vcf: the variants.
        scores: the score names.
        targets: targets of the per-target scores (default all).
        labels: names of all the model's targets (default: the names the model carries).
        seqclass_files: local copies of the sequence-class arrays (see :func:`make_scoring`).
        background: a background or its file (evalue, zscore, funsig).
        statistic: the background statistic of evalue.
        sort: rows sorted by the largest absolute class effect (else by ``diff``), largest first.
        rc: strand combination (none, mean, max).
        batch_size: windows per model call.
        device: where the model runs.

    Returns:
        meta chrom, pos, id, ref, alt, status and the score columns.
    """
    if isinstance(model, Scorer):
        raise PredictError(
            "the variant-effect scores take the model (they pick the targets themselves), not a Scorer"
        )
    if isinstance(model, (str, os.PathLike)):
        from zoo.predict.running.loading import load_predict_model

        model, _ = load_predict_model(None, model)
    scorer = Scorer(model, labels=labels, rc=rc, batch_size=batch_size, device=device)
    scoring = make_scoring(
        model,
        scorer,
        scores,
        targets=targets,
        seqclass_files=seqclass_files,
        background=background,
        statistic=statistic,
    )
    job = with_scoring(variant_job(genome, vcf, scorer.seq_len, ["diff"]), scoring)
    sink = MemoryWriter()
    run_job(job, scorer, SortedWriter(sink) if sort else sink)
    return sink.table()
