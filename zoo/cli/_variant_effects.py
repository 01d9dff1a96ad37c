"""zoo-predict's variant-effect options: Sei sequence classes, significance against a
background (and making one), every SNV of a region, sorted output and pictures.

:func:`add_arguments` adds the options to zoo-predict's parser; :func:`requested` tells
whether a command line uses them, and :func:`run` then does the whole run (the plain
prediction path of :mod:`zoo.cli.predict` is left as it is).
"""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from typing import Any

import torch

from zoo.cli._command import parse_key_values
from zoo.cli._predict_files import refuse_input_as_output
from zoo.predict.errors import PredictError

# the scores only this path computes (the plain ones, and unknown names, go the usual way)
EFFECT_SCORES = frozenset({"seqclass", "evalue", "zscore", "funsig", "prob"})
MAX_PLOTS = 1000
TABLE_SUFFIX = ".tsv.gz"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the variant-effect options (a group of their own) to zoo-predict's parser.

    Args:
        p: the parser.
    """
    g = p.add_argument_group("variant effects and significance")
    g.add_argument(
        "--seqclass-files",
        action="append",
        metavar="PATH",
        help="for --scores seqclass: a folder holding Sei's projvec_targets.npy and histone_inds.npy, or "
        "those two files (repeat the option); default: the published files, from the cache (they come "
        "with sei.sei_framework's archive)",
    )
    g.add_argument(
        "--background",
        metavar="FILE",
        help="a background made with --make-background for the same weights and options: needed by "
        "--scores evalue, zscore and funsig",
    )
    g.add_argument(
        "--background-statistic",
        choices=["effect", "absdiff"],
        default="effect",
        help="what evalue ranks: effect = |diff x log2 odds diff| (DeepSEA's, the default) or |diff|",
    )
    g.add_argument(
        "--make-background",
        action="store_true",
        help="score --vcf (common variants) or --random-snvs of --genome and write their per-target "
        "background to --out (.npz) instead of a table",
    )
    g.add_argument(
        "--random-snvs", type=int, metavar="N", help="with --make-background: N SNVs drawn from --genome"
    )
    g.add_argument("--seed", type=int, default=0, help="random seed of --random-snvs (default 0)")
    g.add_argument(
        "--saturate",
        action="store_true",
        help="score every SNV (3 per base) of the --regions of --genome; --out is a bgzipped, "
        "tabix-indexed table (.tsv.gz)",
    )
    g.add_argument(
        "--sort",
        action="store_true",
        help="rows sorted by the largest absolute sequence-class effect (else |diff|), largest first "
        "(a table output; rows are held in memory)",
    )
    g.add_argument(
        "--plot",
        type=int,
        metavar="N",
        help="bar charts of the largest effects of the N strongest variants, as PNGs in the folder "
        "<--out>.plots",
    )


def requested(ns: argparse.Namespace) -> bool:
    """Whether the command line asks for anything :func:`run` does.

    Args:
        ns: the parsed command line.
    """
    names = {s.strip() for s in ns.scores.split(",") if s.strip()}
    return bool(
        names & EFFECT_SCORES
        or ns.make_background
        or ns.saturate
        or ns.sort
        or ns.plot is not None
        or ns.background
        or ns.seqclass_files
    )


def _check(ns: argparse.Namespace) -> str:
    """The run's kind (background, saturate, vcf, sequences), after refusing what cannot work."""

    if ns.plot is not None and not 1 <= ns.plot <= MAX_PLOTS:
        raise PredictError(f"--plot {ns.plot}: expected 1 to {MAX_PLOTS} variants")
    if ns.make_background:
        if not ns.genome or (ns.vcf is None) == (ns.random_snvs is None):
            raise PredictError("--make-background needs --genome and either --vcf or --random-snvs N")
        if ns.targets or ns.fasta or ns.bed or ns.regions or ns.saturate or ns.sort or ns.plot:
            raise PredictError("--make-background scores every target of --vcf or --random-snvs only")
        kind = "background"
    elif ns.random_snvs is not None:
        raise PredictError("--random-snvs applies to --make-background")
    elif ns.saturate:
        if not ns.genome or not ns.regions or ns.fasta or ns.bed or ns.vcf:
            raise PredictError("--saturate needs --genome and --regions (and no --fasta, --bed or --vcf)")
        if not ns.out.endswith(TABLE_SUFFIX):
            raise PredictError(
                f"--saturate writes a bgzipped, tabix-indexed table: --out must end in {TABLE_SUFFIX}"
            )
        if ns.sort:
            raise PredictError(
                "--sort does not apply to --saturate (its table is in genome order, for tabix)"
            )
        kind = "saturate"
    elif ns.regions:
        raise PredictError("--regions with variant-effect options needs --saturate")
    elif ns.vcf and ns.genome:
        kind = "vcf"
    elif ns.fasta or (ns.genome and ns.bed):
        kind = "sequences"
        if ns.sort or ns.plot is not None or ns.background:
            raise PredictError("--sort, --plot and --background apply to variants (--vcf or --saturate)")
    else:
        raise PredictError("nothing to score: give --fasta, or --genome with --bed, --vcf or --regions")
    if kind == "vcf" and ns.sort and ns.out.endswith((".vcf", ".vcf.gz")):
        raise PredictError("--sort applies to a table; a VCF output keeps the input's order")
    refuse_input_as_output(ns.out, ns)
    return kind


def _model_and_scorer(ns: argparse.Namespace) -> tuple[Any, Any]:
    """The model and a Scorer of every target (the scores pick --targets themselves)."""
    from zoo.predict.inputs.target_names import read_target_names
    from zoo.predict.running.loading import load_predict_model, n_targets_of
    from zoo.predict.running.scorer import Scorer

    args = parse_key_values(ns.model_arg, "--model-arg")
    model, _ = load_predict_model(
        ns.model, ns.weights, args, pretrained=ns.pretrained, progress=not ns.no_progress
    )
    labels = read_target_names(ns.labels, n_targets_of(model)) if ns.labels else None
    device = ns.device or ("cuda" if torch.cuda.is_available() else "cpu")
    scorer = Scorer(
        model,
        labels=labels,
        rc=ns.rc,
        precision=ns.precision,
        device=device,
        n_value=ns.n_value,
        batch_size=ns.batch_size,
    )
    return model, scorer


def run(ns: argparse.Namespace) -> int:
    """Do what the parsed command line asks (see :func:`requested`); returns the exit status.

    Args:
        ns: the parsed command line.
    """
    from zoo.predict.outputs.writers import require_output_path

    kind = _check(ns)
    require_output_path(ns.out, ns.overwrite)
    model, scorer = _model_and_scorer(ns)
    progress = not ns.no_progress
    if kind == "background":
        from zoo.effects.jobs import build_background

        summary = build_background(
            model, ns.out, genome=ns.genome, vcf=ns.vcf, random_snvs=ns.random_snvs, seed=ns.seed,
            scorer=scorer, progress=progress,
        )  # fmt: skip
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(summary.skipped.items()))
        note = f" ({sum(summary.skipped.values())} not scored: {reasons})" if reasons else ""
        print(
            f"zoo-predict: wrote a background of {summary.rows} variants to {ns.out}{note}", file=sys.stderr
        )
        return 0
    from zoo.effects.jobs import make_scoring

    targets = [t.strip() for t in ns.targets.split(",") if t.strip()] if ns.targets else None
    scoring = make_scoring(
        model,
        scorer,
        ns.scores,
        variants=kind != "sequences",
        targets=targets,
        seqclass_files=ns.seqclass_files,
        background=ns.background,
        statistic=ns.background_statistic,
        progress=progress,
    )
    if kind == "saturate":
        return _saturate(ns, model, scorer, scoring)
    return _table(ns, kind, scorer, scoring)


def _table(ns: argparse.Namespace, kind: str, scorer: Any, scoring: Any) -> int:
    from zoo.effects.jobs import with_scoring
    from zoo.effects.scoring import SortedWriter, StrongestRows, TeeWriter
    from zoo.predict.inputs.bed import bed_job
    from zoo.predict.inputs.fasta import fasta_job
    from zoo.predict.inputs.variants import variant_job
    from zoo.predict.outputs.vcf import VCFWriter
    from zoo.predict.outputs.writers import open_writer
    from zoo.predict.running.run import run_job

    if kind == "vcf":
        job = variant_job(ns.genome, ns.vcf, scorer.seq_len, ["diff"])
    elif ns.fasta:
        job = fasta_job(ns.fasta, scorer.seq_len, ns.step)
    else:
        job = bed_job(ns.genome, ns.bed, scorer.seq_len)
    job = with_scoring(job, scoring)
    out: Any
    if ns.out.endswith((".vcf", ".vcf.gz")):
        out = partial(VCFWriter, ns.vcf, ns.out, overwrite=ns.overwrite)
    else:
        out = partial(open_writer, ns.out, overwrite=ns.overwrite)
    if ns.sort:
        out = SortedWriter(out)
    strongest = StrongestRows(ns.plot) if ns.plot else None
    if strongest is not None:
        out = TeeWriter(out, strongest)
    summary = run_job(job, scorer, out, progress=not ns.no_progress, reader_processes=ns.reader_processes)
    if job.contigs is not None and job.contigs.match.warning:
        print(f"zoo-predict: warning: {job.contigs.match.warning}", file=sys.stderr)
    print(f"zoo-predict: {summary.describe(ns.out)}", file=sys.stderr)
    if strongest is not None:
        _plots(ns, strongest, scoring.columns())
    return 0


def _plots(ns: argparse.Namespace, strongest: Any, columns: list[str]) -> None:
    from zoo.effects.bar_charts import write_effect_plots

    folder = f"{ns.out}.plots"
    paths = write_effect_plots(folder, strongest.rows(), columns)
    print(
        f"zoo-predict: wrote {len(paths)} picture{'' if len(paths) == 1 else 's'} to {folder}",
        file=sys.stderr,
    )


def _saturate(ns: argparse.Namespace, model: Any, scorer: Any, scoring: Any) -> int:
    from zoo.effects.saturate import saturate_regions
    from zoo.effects.scoring import StrongestRows

    strongest = StrongestRows(ns.plot) if ns.plot else None
    files = [r for r in ns.regions if os.path.isfile(r)]
    strings = [r for r in ns.regions if r not in files]
    summary = saturate_regions(
        model, scorer, scoring, ns.genome, ns.out, regions=strings, bed=files[0] if files else None,
        progress=not ns.no_progress, overwrite=ns.overwrite, strongest=strongest,
    )  # fmt: skip
    print(f"zoo-predict: {summary.describe(ns.out)}", file=sys.stderr)
    if strongest is not None:
        _plots(ns, strongest, scoring.columns())
    return 0
