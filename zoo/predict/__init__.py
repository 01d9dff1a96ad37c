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

Importing the package is cheap: each name loads its module on first use, so that a reader
process, which needs only the FASTA reader, starts without torch.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

# public name -> module of this package that defines it
_EXPORTS = {
    "PredictError": "errors",
    "require_file": "errors",
    "default_n_value": "loading",
    "load_predict_model": "loading",
    "n_targets_of": "loading",
    "trained_n_value": "loading",
    "ScoreTable": "results",
    "score_fasta": "results",
    "score_intervals": "results",
    "score_job": "results",
    "score_variants": "results",
    "RC_MODES": "scoring",
    "Job": "scoring",
    "RunSummary": "scoring",
    "Scorer": "scoring",
    "run_job": "scoring",
    "Item": "items",
    "Genome": "sources",
    "bed_job": "sources",
    "fasta_job": "sources",
    "default_labels": "targets",
    "read_target_names": "targets",
    "select_targets": "targets",
    "unique_labels": "targets",
    "Consumer": "threads",
    "Prefetcher": "threads",
    "write_tracks": "tracks",
    "SCORES": "variants",
    "allele_windows": "variants",
    "variant_job": "variants",
    "variant_position": "variants",
    "variant_values": "variants",
    "TableWriter": "writers",
    "open_writer": "writers",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from zoo.predict.errors import PredictError, require_file
    from zoo.predict.items import Item
    from zoo.predict.loading import default_n_value, load_predict_model, n_targets_of, trained_n_value
    from zoo.predict.results import ScoreTable, score_fasta, score_intervals, score_job, score_variants
    from zoo.predict.scoring import RC_MODES, Job, RunSummary, Scorer, run_job
    from zoo.predict.sources import Genome, bed_job, fasta_job
    from zoo.predict.targets import default_labels, read_target_names, select_targets, unique_labels
    from zoo.predict.threads import Consumer, Prefetcher
    from zoo.predict.tracks import write_tracks
    from zoo.predict.variants import SCORES, allele_windows, variant_job, variant_position, variant_values
    from zoo.predict.writers import TableWriter, open_writer


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        if importlib.util.find_spec(f"{__name__}.{name}") is not None:  # a submodule: zoo.predict.sources
            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module 'zoo.predict' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"zoo.predict.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
