"""Predicting with zoo models: the Python API underneath ``zoo-predict`` (whose command line
is :mod:`zoo.cli.predict`).

>>> from zoo.predict import Scorer, fasta_job, run_job
>>> scorer = Scorer(zoo.load_model("model.safetensors"), rc="mean")   # doctest: +SKIP
>>> probs = scorer.predict(["ACGT" * 250])                            # doctest: +SKIP
>>> run_job(fasta_job("seqs.fa", scorer.seq_len), scorer, "preds.tsv")  # doctest: +SKIP
>>> table = score_variants(scorer, "hg.fa", "calls.vcf.gz")             # doctest: +SKIP

A job streams items (one output row each) from FASTA, BED or VCF input; the scorer runs
them through the model in batches; the writer appends rows to a temporary file that is
renamed to the output only when everything is written (or, with score_job / score_variants,
the rows come back as arrays).
"""

from zoo.predict.errors import PredictError, require_file
from zoo.predict.loading import default_n_value, load_predict_model, n_targets_of, trained_n_value
from zoo.predict.results import ScoreTable, score_fasta, score_intervals, score_job, score_variants
from zoo.predict.scoring import RC_MODES, Item, Job, RunSummary, Scorer, run_job
from zoo.predict.sources import Genome, bed_job, fasta_job
from zoo.predict.targets import default_labels, read_target_names, select_targets, unique_labels
from zoo.predict.threads import Consumer, Prefetcher
from zoo.predict.tracks import write_tracks
from zoo.predict.variants import SCORES, allele_windows, variant_job, variant_position, variant_values
from zoo.predict.writers import TableWriter, open_writer

__all__ = [
    "RC_MODES",
    "SCORES",
    "Consumer",
    "Genome",
    "Item",
    "Job",
    "Prefetcher",
    "PredictError",
    "RunSummary",
    "ScoreTable",
    "Scorer",
    "TableWriter",
    "allele_windows",
    "bed_job",
    "default_labels",
    "default_n_value",
    "fasta_job",
    "load_predict_model",
    "n_targets_of",
    "open_writer",
    "read_target_names",
    "require_file",
    "run_job",
    "score_fasta",
    "score_intervals",
    "score_job",
    "score_variants",
    "select_targets",
    "trained_n_value",
    "unique_labels",
    "variant_job",
    "variant_position",
    "variant_values",
    "write_tracks",
]
