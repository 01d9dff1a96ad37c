"""Variant effects: scores on hand-placed variants against direct calls on hand-built windows."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from _predict_support import (
    DATA,
    direct_logits,
    example_model,
    float_columns,
    read_fasta,
    read_tsv,
    variant_argv,
)

from zoo.cli.predict import call as run
from zoo.predict import variant_position

L = 200
C = L // 2 - 1  # 99: the variant's first base in a 200 bp window
GENOME = read_fasta(DATA / "genome.fa")
G = GENOME["chr1"]


def _window(pos: int) -> str:
    """The reference window for a variant at 1-based ``pos`` on chr1, built by hand."""
    return G[pos - 1 - C : pos - 1 - C + L]


# (id, alt) -> (reference window, alternative window), spelled out from the indel rule
HAND_BUILT = {
    ("rs1", "A"): (_window(500), _window(500)[:C] + "A" + _window(500)[C + 1 :]),
    **{("rs2", b): (_window(800), _window(800)[:C] + b + _window(800)[C + 1 :]) for b in "ACT"},
    # insertion T -> TTTGACA at 1000: left context, the 7 ALT bases, then the genome after REF
    ("ins1", "TTTGACA"): (_window(1000), G[999 - C : 999] + "TTTGACA" + G[1000 : 1000 + L - C - 7]),
    # deletion GAGTGG -> G at 1200: left context, G, then the genome after the 6 REF bases
    ("del1", "G"): (_window(1200), G[1199 - C : 1199] + "G" + G[1205 : 1205 + L - C - 1]),
}


def _score_table(
    tmp_path: Path, vcf: Path, scores: str = "ref,alt,diff,logfc"
) -> tuple[list[str], list[list[str]]]:
    out = tmp_path / "effects.tsv"
    argv = [
        *variant_argv(vcf),
        "--out",
        str(out),
    ]
    assert run([*argv, "--scores", scores, "--no-progress"]) == 0
    return read_tsv(out)


def test_variant_position_follows_the_lua_convention() -> None:
    assert variant_position(1000) == 499
    assert variant_position(2000) == 999
    assert variant_position(L) == C


def test_hand_built_windows_are_what_the_rule_says() -> None:
    for (vid, alt), (ref_w, alt_w) in HAND_BUILT.items():
        assert len(ref_w) == len(alt_w) == L, vid
        assert alt_w[C : C + len(alt)] == alt[: L - C], vid
        assert ref_w[:C] == alt_w[:C], vid


def test_scores_match_direct_model_calls_on_hand_built_windows(tmp_path: Path) -> None:
    header, rows = _score_table(tmp_path, DATA / "variants.vcf")
    assert header[:6] == ["chrom", "pos", "id", "ref", "alt", "status"]
    assert header[6:10] == ["ref:target_0", "alt:target_0", "diff:target_0", "logfc:target_0"]
    scored = [r for r in rows if r[5] == "ok"]
    assert [(r[2], r[4]) for r in scored] == list(HAND_BUILT)  # multi-allelic rs2 split into 3 rows
    model = example_model()
    ref_logits = direct_logits(model, [w[0] for w in HAND_BUILT.values()]).astype(np.float64)
    alt_logits = direct_logits(model, [w[1] for w in HAND_BUILT.values()]).astype(np.float64)
    p_ref, p_alt = 1 / (1 + np.exp(-ref_logits)), 1 / (1 + np.exp(-alt_logits))
    targets = [f"target_{i}" for i in range(5)]
    for name, expected, atol in [
        ("ref", p_ref, 1e-9),
        ("alt", p_alt, 1e-9),
        ("diff", p_alt - p_ref, 1e-6),
        ("logfc", alt_logits - ref_logits, 1e-4),
    ]:
        got = float_columns(header, scored, [f"{name}:{t}" for t in targets])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=atol, err_msg=name)
    assert np.abs(p_alt - p_ref).max() > 0.05  # the variants do move the example model


def test_unplaceable_alleles_are_reported_not_scored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header, rows = _score_table(tmp_path, DATA / "variants.vcf", scores="diff")
    status = {r[2]: r[5] for r in rows}
    assert status["bad_ref"] == "ref_mismatch"
    assert status["near_start"] == "off_contig_end"
    assert status["sv1"] == "unsupported_alt"
    assert status["no_contig"] == "missing_contig"
    for r in rows:
        values = [float(v) for v in r[6:]]
        assert all(np.isnan(values)) == (r[5] != "ok")
    err = capsys.readouterr().err
    assert "4 not scored" in err and "ref_mismatch=1" in err and "missing_contig=1" in err


def test_window_running_off_the_contig_end(tmp_path: Path) -> None:
    end = len(G)  # a SNV 50 bp before chr1's end has no room for 100 bp of right context
    vcf = tmp_path / "end.vcf"
    text = (DATA / "variants.vcf").read_text().split("#CHROM")[0]
    vcf.write_text(
        text + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"chr1\t{end - 50}\tlate\t{G[end - 51]}\tN\t.\t.\t.\n"
        f"chr1\t{end - L + C + 1}\tlast_fit\t{G[end - L + C]}\tN\t.\t.\t.\n"
    )
    _, rows = _score_table(tmp_path, vcf, scores="diff")
    assert [r[5] for r in rows] == ["off_contig_end", "ok"]


def test_bgzipped_vcf_gives_the_same_table(tmp_path: Path) -> None:
    import pysam

    plain = _score_table(tmp_path, DATA / "variants.vcf")
    gz = tmp_path / "variants.vcf.gz"
    shutil.copy(DATA / "variants.vcf", tmp_path / "variants.vcf")
    pysam.tabix_compress(str(tmp_path / "variants.vcf"), str(gz))
    assert gz.read_bytes()[:2] == b"\x1f\x8b"
    assert _score_table(tmp_path, gz) == plain


def test_plain_gzip_vcf_gives_the_same_table(tmp_path: Path) -> None:
    import gzip

    from zoo.predict.inputs.vcf import is_plain_gzip

    plain = _score_table(tmp_path, DATA / "variants.vcf")
    gz = tmp_path / "variants.vcf.gz"
    gz.write_bytes(gzip.compress((DATA / "variants.vcf").read_bytes()))  # gzip, not bgzip
    assert is_plain_gzip(gz)
    assert _score_table(tmp_path, gz) == plain


def test_rc_mean_applies_to_variant_scores(tmp_path: Path) -> None:
    from zoo.dna import reverse_complement_str

    out = tmp_path / "rc.tsv"
    argv = variant_argv()
    assert run([*argv, "--rc", "mean", "--scores", "diff", "--no-progress", "--out", str(out)]) == 0
    header, rows = read_tsv(out)
    model = example_model()

    def mean_prob(windows: list[str]) -> np.ndarray:
        f = direct_logits(model, windows).astype(np.float64)
        r = direct_logits(model, [reverse_complement_str(w) for w in windows]).astype(np.float64)
        return (1 / (1 + np.exp(-f)) + 1 / (1 + np.exp(-r))) / 2

    expected = mean_prob([w[1] for w in HAND_BUILT.values()]) - mean_prob([w[0] for w in HAND_BUILT.values()])
    got = float_columns(header, [r for r in rows if r[5] == "ok"], [f"diff:target_{i}" for i in range(5)])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
