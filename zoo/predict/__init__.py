"""Predicting with zoo models: ``zoo-predict`` and the Python API underneath.

>>> from zoo.predict import Scorer, fasta_job, run_job
>>> scorer = Scorer(zoo.load_model("model.safetensors"), rc="mean")   # doctest: +SKIP
>>> probs = scorer.predict(["ACGT" * 250])                            # doctest: +SKIP
>>> run_job(fasta_job("seqs.fa", scorer.seq_len), scorer, "preds.tsv")  # doctest: +SKIP

A job streams items (one output row each) from FASTA, BED or VCF input; the scorer runs
them through the model in batches; the writer appends rows to a temporary file that is
renamed to the output only when everything is written.
"""

from zoo.predict.cli import main, run
from zoo.predict.model import load_predict_model, read_labels, select_targets
from zoo.predict.scoring import RC_MODES, Item, Job, RunSummary, Scorer, run_job
from zoo.predict.sources import Genome, bed_job, fasta_job
from zoo.predict.variants import SCORES, allele_windows, variant_job, variant_position, variant_values
from zoo.predict.writers import PredictError

__all__ = [
    "RC_MODES",
    "SCORES",
    "Genome",
    "Item",
    "Job",
    "PredictError",
    "RunSummary",
    "Scorer",
    "allele_windows",
    "bed_job",
    "fasta_job",
    "load_predict_model",
    "main",
    "read_labels",
    "run",
    "run_job",
    "select_targets",
    "variant_job",
    "variant_position",
    "variant_values",
]
