"""Scores as arrays: score_variants / score_job return what the writers would have written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _predict_support import DATA, WEIGHTS, direct_probs, example_model, read_fasta

from zoo.predict import Scorer, run_job
from zoo.predict.inputs.bed import bed_job
from zoo.predict.inputs.variants import variant_job
from zoo.predict.running.results import (
    MemoryWriter,
    ScoreTable,
    score_fasta,
    score_intervals,
    score_job,
    score_variants,
)

GENOME, VCF = DATA / "genome.fa", DATA / "variants.vcf"
LABELS = (DATA / "labels.txt").read_text().splitlines()


def test_score_variants_equals_the_written_table(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    table = score_variants(
        example_model(), GENOME, VCF, scores=["diff", "ref"], targets=[2, 0], labels=LABELS
    )
    scorer = Scorer(example_model(), targets=[2, 0], labels=LABELS)
    run_job(variant_job(GENOME, VCF, scorer.seq_len, ["diff", "ref"]), scorer, tmp_path / "effects.parquet")
    written = pq.read_table(tmp_path / "effects.parquet")
    assert isinstance(table, ScoreTable) and len(table) == written.num_rows == 10
    assert list(table.meta) == ["chrom", "pos", "id", "ref", "alt", "status"]
    assert (
        table.columns
        == written.column_names[6:]
        == [f"{s}:{LABELS[t]}" for t in (2, 0) for s in ("diff", "ref")]
    )
    np.testing.assert_array_equal(
        table.scores, np.stack([written[c].to_numpy() for c in table.columns], axis=1)
    )
    for name, column in table.meta.items():
        assert column.tolist() == written[name].to_pylist()
    assert table.scores.dtype == np.float32 and table.meta["pos"].dtype == np.int64
    assert np.isnan(table.scores[table.meta["status"] != "ok"]).all()
    assert not np.isnan(table.scores[table.meta["status"] == "ok"]).any()


def test_to_pandas_has_the_columns_of_the_table() -> None:
    pd = pytest.importorskip("pandas")
    table = score_variants(WEIGHTS, GENOME, VCF, scores=["logfc"])  # a checkpoint path works too
    frame = table.to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [*table.meta, *table.columns]
    np.testing.assert_array_equal(frame[table.columns].to_numpy(), table.scores)
    assert frame["id"].tolist() == table.meta["id"].tolist()


def test_a_scorer_carries_its_own_options() -> None:
    scorer = Scorer(example_model(), targets=["target_1"], rc="mean")
    table = score_variants(scorer, GENOME, VCF, scores=["alt"])
    assert table.columns == ["alt:target_1"]
    with pytest.raises(ValueError, match="rc, targets apply to a model, not to a Scorer"):
        score_variants(scorer, GENOME, VCF, targets=[0], rc="max")


def test_score_job_takes_any_job_and_the_memory_writer_starts_afresh() -> None:
    scorer = Scorer(example_model(), batch_size=3)
    table = score_job(bed_job(GENOME, DATA / "peaks.bed", scorer.seq_len), scorer)
    assert list(table.meta) == ["chrom", "start", "end", "name", "status"]
    assert table.meta["name"].tolist() == ["peak1", "peak2", "peak3", "edge"]
    sink = MemoryWriter()
    for _ in range(2):  # the same sink, opened twice, holds only the second run
        run_job(bed_job(GENOME, DATA / "peaks.bed", scorer.seq_len), scorer, sink)
    again = sink.table()
    np.testing.assert_array_equal(again.scores, table.scores)
    assert sink.rows == 4


def test_score_fasta_and_score_intervals_return_the_probabilities() -> None:
    records = read_fasta(DATA / "seqs.fa")
    table = score_fasta(WEIGHTS, DATA / "seqs.fa", targets=[4, 1], batch_size=3)
    assert table.meta["name"].tolist() == list(records) and table.columns == ["target_4", "target_1"]
    expected = direct_probs(example_model(), list(records.values()))[:, [4, 1]]
    np.testing.assert_allclose(table.scores, expected, rtol=1e-5, atol=1e-6)
    peaks = score_intervals(example_model(), GENOME, DATA / "peaks.bed", rc="mean")
    scorer = Scorer(example_model(), rc="mean")
    np.testing.assert_array_equal(
        peaks.scores, score_job(bed_job(GENOME, DATA / "peaks.bed", scorer.seq_len), scorer).scores
    )
    assert peaks.meta["status"].tolist() == ["ok", "ok", "ok", "off_contig_end"]
