"""Variant scores written into the VCF: INFO fields read back with pysam equal the scored table."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest
from _predict_support import DATA, example_model

from zoo.predict import Scorer, run_job
from zoo.predict.errors import PredictError
from zoo.predict.inputs.variants import variant_job
from zoo.predict.outputs.vcf import VCFWriter, info_key, info_keys
from zoo.predict.running.results import score_job

GENOME = DATA / "genome.fa"
LABELS = ["CTCF K562", "1x", "a:b", "DNase", "x"]


def _sorted_vcf(folder: Path, keep_contig_lines: bool = True) -> Path:
    """The example VCF with its records sorted (it lists one record out of order on purpose)."""
    lines = (DATA / "variants.vcf").read_text().splitlines()
    header = [line for line in lines if line.startswith("#") and (keep_contig_lines or "contig" not in line)]
    body = sorted(
        (line for line in lines if not line.startswith("#")),
        key=lambda r: (r.split("\t")[0], int(r.split("\t")[1])),
    )
    path = folder / ("sorted.vcf" if keep_contig_lines else "bare.vcf")
    path.write_text("\n".join(header + body) + "\n")
    return path


def test_info_keys_follow_the_vcf_rules() -> None:
    assert info_key("diff:CTCF K562") == "diff_CTCF_K562"
    assert info_key("1x") == "_1x" and info_key(".x") == "_.x" and info_key("a.b_c9") == "a.b_c9"
    assert info_keys(["d:a b", "d:a_b", "DP"], taken=["DP", "AF"]) == ["d_a_b", "d_a_b_2", "DP_2"]


def _score(vcf: Path, out: Path, scores: list[str]) -> None:
    scorer = Scorer(example_model(), labels=LABELS)
    run_job(variant_job(GENOME, vcf, scorer.seq_len, scores), scorer, functools.partial(VCFWriter, vcf, out))


@pytest.mark.parametrize("name", ["scored.vcf.gz", "scored.vcf"])
def test_info_fields_hold_the_scores_of_each_allele(tmp_path: Path, name: str) -> None:
    import pysam

    vcf = _sorted_vcf(tmp_path)
    out = tmp_path / name
    _score(vcf, out, ["diff", "logfc"])
    table = score_job(
        variant_job(GENOME, vcf, 200, ["diff", "logfc"]), Scorer(example_model(), labels=LABELS)
    )
    keys = info_keys(table.columns)
    assert keys[:2] == ["diff_CTCF_K562", "logfc_CTCF_K562"] and keys[2] == "diff_1x"
    with pysam.VariantFile(str(vcf)) as original, pysam.VariantFile(str(out)) as scored:
        header = str(scored.header)
        assert '##zoo_predict_score=<ID=diff_a_b,Score="diff",Target="a:b">' in header
        assert "##INFO=<ID=logfc_a_b,Number=A,Type=Float" in header
        records = list(scored)
        assert [(r.chrom, r.pos, r.ref, r.alts) for r in records] == [
            (r.chrom, r.pos, r.ref, r.alts) for r in original
        ]
    row = 0
    for record in records:
        alleles = len(record.alts or (None,))
        for j, key in enumerate(keys):
            expected = table.scores[row : row + alleles, j]
            if np.isnan(expected).all():
                assert key not in record.info
                continue
            got = [math.nan if v is None else v for v in record.info[key]]
            as_text = [float(f"{v:.6g}") for v in expected.tolist()]  # htslib writes 6 digits
            np.testing.assert_allclose(got, as_text, rtol=1e-6)
        statuses = list(table.meta["status"][row : row + alleles])
        if statuses == ["ok"] * alleles:
            assert "ZOO_STATUS" not in record.info
        else:
            assert list(record.info["ZOO_STATUS"]) == statuses
        row += alleles
    assert row == len(table) == 10
    by_id = {r.id: r for r in records}
    assert list(by_id["no_contig"].info["ZOO_STATUS"]) == ["missing_contig"]
    assert len(by_id["rs2"].info["diff_DNase"]) == 3  # one value per ALT allele
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["sorted.vcf", name] + ([name + ".tbi"] if name.endswith(".gz") else [])
    )


def test_the_bgzipped_output_is_indexed(tmp_path: Path) -> None:
    import pysam

    out = tmp_path / "scored.vcf.gz"
    _score(_sorted_vcf(tmp_path, keep_contig_lines=False), out, ["alt"])
    with pysam.VariantFile(str(out)) as scored:
        assert [r.id for r in scored.fetch("chr1", 700, 1100)] == ["rs2", "ins1"]
        assert set(scored.header.contigs) >= {"chr1", "chr3"}  # declared from the records


def test_an_unsorted_vcf_is_refused_for_an_index_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out" / "scored.vcf.gz"
    with pytest.raises(PredictError, match=r"is not sorted \(chr1:20 after chr1:1400\).*bcftools sort"):
        _score(DATA / "variants.vcf", out, ["diff"])
    assert not out.parent.exists()  # the folder it made for the output goes too
    _score(DATA / "variants.vcf", tmp_path / "plain.vcf", ["diff"])  # a plain VCF needs no order
    assert (tmp_path / "plain.vcf").read_text().count("\n") > 10
