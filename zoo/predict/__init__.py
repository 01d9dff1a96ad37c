"""Predicting with zoo models: the Python API underneath ``zoo-predict`` (whose command line
is :mod:`zoo.cli.predict`).

Examples:
    >>> from zoo.predict import Scorer, fasta_job, run_job
    >>> scorer = Scorer(zoo.load_model("model.safetensors"), rc="mean")   # doctest: +SKIP
    >>> probs = scorer.predict(["ACGT" * 250])                            # doctest: +SKIP
    >>> run_job(fasta_job("seqs.fa", scorer.seq_len), scorer, "preds.tsv")  # doctest: +SKIP
    >>> table = score_variants(scorer, "hg.fa", "calls.vcf.gz")             # doctest: +SKIP

Three layers, arrows one way: :mod:`zoo.predict.inputs` makes a job that streams items
(one output row each) from FASTA, BED or VCF input or genome regions;
:mod:`zoo.predict.running` runs them through the model in batches (the scorer, reader
threads and processes); a writer of :mod:`zoo.predict.outputs` appends rows to a temporary
file that is renamed to the output only when everything is written (or, with score_job /
score_variants, the rows come back as arrays). Inputs and outputs never import the runner.

Importing the package is cheap: each name loads its module on first use, so that a reader
process, which needs only the FASTA reader, starts without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo._lazy import lazy_exports

# public name -> the module of this package that defines it
_EXPORTS = {
    "PredictError": ".errors",
    "require_file": ".errors",
    "Item": ".inputs.job",
    "Job": ".inputs.job",
    "fasta_job": ".inputs.fasta",
    "Genome": ".inputs.genome",
    "bed_job": ".inputs.bed",
    "SCORES": ".inputs.variants",
    "allele_windows": ".inputs.variants",
    "variant_job": ".inputs.variants",
    "variant_position": ".inputs.variants",
    "variant_values": ".inputs.variants",
    "read_target_names": ".inputs.target_names",
    "default_n_value": ".running.loading",
    "load_predict_model": ".running.loading",
    "n_targets_of": ".running.loading",
    "trained_n_value": ".running.loading",
    "RC_MODES": ".running.scorer",
    "Scorer": ".running.scorer",
    "RunSummary": ".running.run",
    "run_job": ".running.run",
    "Consumer": ".running.threads",
    "Prefetcher": ".running.threads",
    "ScoreTable": ".running.results",
    "score_fasta": ".running.results",
    "score_intervals": ".running.results",
    "score_job": ".running.results",
    "score_variants": ".running.results",
    "write_tracks": ".running.genome_tracks",
    "default_labels": ".outputs.columns",
    "select_targets": ".outputs.columns",
    "unique_labels": ".outputs.columns",
    "TableWriter": ".outputs.writers",
    "open_writer": ".outputs.writers",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from zoo.predict.errors import PredictError, require_file
    from zoo.predict.inputs.bed import bed_job
    from zoo.predict.inputs.fasta import fasta_job
    from zoo.predict.inputs.genome import Genome
    from zoo.predict.inputs.job import Item, Job
    from zoo.predict.inputs.target_names import read_target_names
    from zoo.predict.inputs.variants import (
        SCORES,
        allele_windows,
        variant_job,
        variant_position,
        variant_values,
    )
    from zoo.predict.outputs.columns import default_labels, select_targets, unique_labels
    from zoo.predict.outputs.writers import TableWriter, open_writer
    from zoo.predict.running.genome_tracks import write_tracks
    from zoo.predict.running.loading import default_n_value, load_predict_model, n_targets_of, trained_n_value
    from zoo.predict.running.results import (
        ScoreTable,
        score_fasta,
        score_intervals,
        score_job,
        score_variants,
    )
    from zoo.predict.running.run import RunSummary, run_job
    from zoo.predict.running.scorer import RC_MODES, Scorer
    from zoo.predict.running.threads import Consumer, Prefetcher


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, submodules=True)
