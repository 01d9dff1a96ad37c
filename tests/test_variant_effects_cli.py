"""zoo-predict's variant-effect scores on the shipped tiny model and genome, each compared with
an independent computation from the formulas (windows cut here, the model run here)."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pysam
import pytest

from tests._predict_support import (
    DATA,
    WEIGHTS,
    direct_logits,
    example_model,
    float_columns,
    predict_fails,
    read_fasta,
    read_tsv,
)
from zoo.cli.predict import call as run
from zoo.predict import score_variants

GENOME = DATA / "genome.fa"
SEQ_LEN = 200
CENTRE = SEQ_LEN // 2 - 1


@pytest.fixture
def seqclass_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    folder = tmp_path / "sei"
    folder.mkdir()
    np.save(folder / "projvec_targets.npy", rng.normal(size=(44, 5)))
    np.save(folder / "histone_inds.npy", np.array([0, 2, 3]))
    return folder


def _snvs(chrom: str, first: int, last: int) -> list[tuple[str, int, str, str]]:
    seq = read_fasta(GENOME)[chrom]
    return [(chrom, p, seq[p - 1], b) for p in range(first, last + 1) for b in "ACGT" if b != seq[p - 1]]


def _write_vcf(path: Path, snvs: list[tuple[str, int, str, str]]) -> Path:
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=2000>",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    lines += [f"{c}\t{p}\t.\t{r}\t{a}\t.\t.\t." for c, p, r, a in snvs]
    path.write_text("\n".join(lines) + "\n")
    return path


def _direct(snvs: list[tuple[str, int, str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """ref and alt logits (float64) of each SNV, its windows cut here."""
    genome = read_fasta(GENOME)
    refs, alts = [], []
    for chrom, pos, _, alt in snvs:
        window = genome[chrom][pos - 1 - CENTRE : pos - 1 - CENTRE + SEQ_LEN]
        refs.append(window)
        alts.append(window[:CENTRE] + alt + window[CENTRE + 1 :])
    model = example_model()
    return direct_logits(model, refs).astype(np.float64), direct_logits(model, alts).astype(np.float64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _class_effects(p_ref: np.ndarray, p_alt: np.ndarray, folder: Path) -> np.ndarray:
    v = np.load(folder / "projvec_targets.npy")[:40]
    h = np.load(folder / "histone_inds.npy")
    ref, alt = p_ref.copy(), p_alt.copy()
    s_ref, s_alt = ref[:, h].sum(1, keepdims=True), alt[:, h].sum(1, keepdims=True)
    ref[:, h] *= (s_ref + s_alt) / 2 / s_ref
    alt[:, h] *= (s_ref + s_alt) / 2 / s_alt
    return (
        alt @ (v / np.linalg.norm(v, axis=1, keepdims=True)).T
        - ref @ (v / np.linalg.norm(v, axis=1, keepdims=True)).T
    )


def test_seqclass_evalue_zscore_funsig_of_a_vcf(tmp_path, seqclass_dir):
    background_snvs = _snvs("chr1", 300, 420)  # 363 variants: fewer than the exact top, so exact
    bg = tmp_path / "bg.npz"
    argv = ["--weights", str(WEIGHTS), "--genome", str(GENOME), "--no-progress"]
    assert (
        run(
            [
                *argv,
                "--vcf",
                str(_write_vcf(tmp_path / "bg.vcf", background_snvs)),
                "--make-background",
                "--out",
                str(bg),
            ]
        )
        == 0
    )
    snvs = _snvs("chr1", 700, 704)
    vcf = _write_vcf(tmp_path / "v.vcf", snvs)
    out = tmp_path / "v.tsv"
    scores = "seqclass,diff,evalue,zscore,funsig"
    common = [
        "--seqclass-files",
        str(seqclass_dir),
        "--background",
        str(bg),
        "--targets",
        "target_1,target_3",
    ]
    assert run([*argv, "--vcf", str(vcf), "--scores", scores, *common, "--out", str(out)]) == 0
    header, rows = read_tsv(out)
    ref_l, alt_l = _direct(snvs)
    p_ref, p_alt = _sigmoid(ref_l), _sigmoid(alt_l)
    classes = [c for c in header if c.startswith("seqclass:")]
    assert len(classes) == 40 and classes[0] == "seqclass:PC1 Polycomb / Heterochromatin"
    expected = _class_effects(p_ref, p_alt, seqclass_dir)
    np.testing.assert_allclose(float_columns(header, rows, classes), expected, atol=2e-6, rtol=1e-4)
    np.testing.assert_allclose(
        float_columns(header, rows, ["seqclass_max_absdiff"])[:, 0], np.abs(expected).max(1), rtol=1e-4
    )
    # the background, scored here: diff and log2 odds of each background SNV
    b_ref, b_alt = _direct(background_snvs)
    b_diff = _sigmoid(b_alt) - _sigmoid(b_ref)
    b_effect = np.abs(b_diff * ((b_alt - b_ref) / math.log(2)))
    log_e = np.zeros(len(snvs))
    for t in (1, 3):
        diff = p_alt[:, t] - p_ref[:, t]
        effect = np.abs(diff * ((alt_l[:, t] - ref_l[:, t]) / math.log(2)))
        np.testing.assert_allclose(float_columns(header, rows, [f"diff:target_{t}"])[:, 0], diff, atol=1e-5)
        evalues = []
        for x in effect:
            larger = sorted(b_effect[:, t])  # plain sorted background
            e = sum(1 for v in larger if v > x * (1 + 1e-4)) / len(larger)  # fp32 batches differ slightly
            e_hi = sum(1 for v in larger if v > x * (1 - 1e-4)) / len(larger)
            evalues.append((e or 1e-6, e_hi or 1e-6))
        got = float_columns(header, rows, [f"evalue:target_{t}"])[:, 0]
        for g, (lo, hi) in zip(got, evalues):
            assert lo * (1 - 1e-5) <= g <= hi * (1 + 1e-5)
        log_e += np.log(got)
        rms = np.sqrt((b_diff[:, t] ** 2).mean())
        np.testing.assert_allclose(
            float_columns(header, rows, [f"zscore:target_{t}"])[:, 0], diff / rms, rtol=1e-4
        )
    np.testing.assert_allclose(float_columns(header, rows, ["funsig"])[:, 0], np.exp(log_e / 2), rtol=1e-5)
    assert "diff:target_0" not in header  # --targets picks the per-target columns


def test_score_variants_from_python_sorted_by_the_largest_class_effect(tmp_path, seqclass_dir):
    snvs = _snvs("chr1", 700, 703)
    vcf = _write_vcf(tmp_path / "v.vcf", snvs)
    table = score_variants(
        WEIGHTS, GENOME, vcf, scores=["seqclass", "diff"], seqclass_files=seqclass_dir, sort=True
    )
    ref_l, alt_l = _direct(snvs)
    strength = np.abs(_class_effects(_sigmoid(ref_l), _sigmoid(alt_l), seqclass_dir)).max(1)
    order = np.argsort(-strength, kind="stable")
    assert list(table.meta["pos"]) == [snvs[i][1] for i in order]
    assert list(table.meta["alt"]) == [snvs[i][3] for i in order]
    assert table.columns[-5:] == [f"diff:target_{t}" for t in range(5)]


def test_seqclass_of_sequences(tmp_path, seqclass_dir):
    out = tmp_path / "s.tsv"
    argv = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--scores", "seqclass"]
    assert run([*argv, "--seqclass-files", str(seqclass_dir), "--out", str(out), "--no-progress"]) == 0
    header, rows = read_tsv(out)
    seqs = [s for s in read_fasta(DATA / "seqs.fa").values() if len(s) == SEQ_LEN]
    probs = _sigmoid(direct_logits(example_model(), seqs).astype(np.float64))
    v = np.load(seqclass_dir / "projvec_targets.npy")[:40]
    expected = probs @ v.T / np.linalg.norm(v, axis=1)
    got = float_columns(
        header,
        [r for r in rows if r[header.index("seqclass:PC1 Polycomb / Heterochromatin")] != "nan"],
        [c for c in header if c.startswith("seqclass:")],
    )
    np.testing.assert_allclose(got[: len(expected)], expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("rc", ["none", "mean"])  # the band ISM, and whole windows with both strands
def test_saturation_equals_scoring_the_same_snvs_from_a_vcf(tmp_path, rc):
    bg = tmp_path / "bg.npz"
    argv = ["--weights", str(WEIGHTS), "--genome", str(GENOME), "--no-progress", "--rc", rc]
    assert run([*argv, "--random-snvs", "200", "--seed", "1", "--make-background", "--out", str(bg)]) == 0
    scores = ["--scores", "ref,alt,diff,logfc,evalue,zscore,funsig", "--background", str(bg)]
    sat = tmp_path / "snvs.tsv.gz"
    assert run([*argv, "--regions", "chr1:95-300", "--saturate", *scores, "--out", str(sat)]) == 0
    vcf_out = tmp_path / "v.tsv"
    snvs = _snvs("chr1", 100, 300)  # positions 95..99 have no window of 200 bp: no rows
    assert (
        run([*argv, "--vcf", str(_write_vcf(tmp_path / "v.vcf", snvs)), *scores, "--out", str(vcf_out)]) == 0
    )
    with gzip.open(sat, "rt") as f:
        lines = [line.rstrip("\n").split("\t") for line in f]
    header, rows = lines[0], lines[1:]
    assert header[:4] == ["#chrom", "pos", "ref", "alt"]
    assert [(r[0], int(r[1]), r[2], r[3]) for r in rows] == snvs
    v_header, v_rows = read_tsv(vcf_out)
    columns = header[4:]
    assert columns == v_header[6:]
    probabilities = [c for c in columns if c.split(":")[0] in ("ref", "alt", "diff")]
    np.testing.assert_allclose(
        float_columns(header, rows, probabilities), float_columns(v_header, v_rows, probabilities), atol=1e-5
    )
    # logits reach 25 here, where two fp32 computations of them differ by about 1e-5: their
    # differences agree to 3e-5, and z-scores (diff / RMS) to 1e-5 of the diff
    logfc = [c for c in columns if c.startswith("logfc:")]
    np.testing.assert_allclose(
        float_columns(header, rows, logfc), float_columns(v_header, v_rows, logfc), atol=3e-5
    )
    for t in range(5):
        z, want = (
            float_columns(h, r, [f"zscore:target_{t}"])[:, 0] for h, r in ((header, rows), (v_header, v_rows))
        )
        rms = float_columns(v_header, v_rows, [f"diff:target_{t}"])[0, 0] / want[0]
        np.testing.assert_allclose(z * rms, want * rms, atol=1e-5)
    # an e-value is a step function of the statistic: fp32 noise (1e-7) next to a background
    # value moves it by one background variant (1/200) at most
    ranked = [c for c in columns if c.startswith("evalue:")]
    got, want = float_columns(header, rows, ranked), float_columns(v_header, v_rows, ranked)
    assert np.abs(got - want).max() <= 1 / 200 + 1e-6 and (got == want).mean() > 0.95
    fetched = list(pysam.TabixFile(str(sat)).fetch("chr1", 109, 110))  # 0-based half-open: position 110
    assert [line.split("\t")[1] for line in fetched] == ["110"] * 3


def test_plots_of_the_strongest_variants(tmp_path):
    out = tmp_path / "v.tsv"
    argv = ["--weights", str(WEIGHTS), "--genome", str(GENOME), "--vcf", str(DATA / "variants.vcf")]
    assert run([*argv, "--scores", "diff", "--plot", "2", "--sort", "--out", str(out), "--no-progress"]) == 0
    header, rows = read_tsv(out)
    diffs = np.nan_to_num(
        np.abs(float_columns(header, rows, [c for c in header if c.startswith("diff:")])), nan=-1
    )
    strongest = [rows[i] for i in np.argsort(-diffs.max(1), kind="stable")[:2]]
    assert [r[1] for r in rows[:2]] == [r[1] for r in strongest]  # sorted, largest first
    pictures = sorted(p.name for p in (tmp_path / "v.tsv.plots").glob("*.png"))
    assert pictures == [f"{k:03d}_{r[0]}_{r[1]}_{r[3]}_{r[4]}.png" for k, r in enumerate(strongest, 1)]


def test_mismatched_background_and_arrays_are_one_line_errors(tmp_path, capsys, seqclass_dir):
    bg = tmp_path / "bg.npz"
    argv = ["--weights", str(WEIGHTS), "--genome", str(GENOME), "--no-progress"]
    assert run([*argv, "--random-snvs", "50", "--make-background", "--out", str(bg)]) == 0
    capsys.readouterr()
    vcf = ["--vcf", str(DATA / "variants.vcf")]
    err = predict_fails(
        tmp_path, capsys, *argv, *vcf, "--scores", "evalue", "--background", str(bg), "--rc", "mean"
    )
    assert "was made with model fingerprint" in err and "this run's is" in err and "differ in rc" in err
    assert err.count("\n") == 1
    np.save(seqclass_dir / "projvec_targets.npy", np.ones((61, 21907), np.float32))
    err = predict_fails(
        tmp_path, capsys, *argv, *vcf, "--scores", "seqclass", "--seqclass-files", str(seqclass_dir)
    )
    assert (
        "shape (61, 21907) does not fit the model's 5 targets: expected (K, 5)" in err
        and err.count("\n") == 1
    )


def test_saturation_shares_windows_where_the_model_allows_it():
    from zoo.effects.saturate import _SNVLogits
    from zoo.predict import Scorer

    model = example_model()
    assert _SNVLogits(model, Scorer(model)).method == "shared"
    assert _SNVLogits(model, Scorer(model, rc="mean")).method == "model"


def test_a_sei_shaped_model_saturates_with_sequence_classes_as_from_a_vcf(tmp_path):
    """Sei has no band ISM: its SNVs run as whole windows; classes agree with the VCF path."""
    import torch

    import zoo
    from zoo.effects.jobs import make_scoring, score_effects
    from zoo.effects.saturate import saturate_regions
    from zoo.effects.seqclass import SequenceClasses
    from zoo.predict import Scorer

    torch.manual_seed(0)
    model = zoo.create_model("sei", seq_len=64, n_targets=40, conv_channels=(4, 4, 8), rc_average=True).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.3)
    rng = np.random.default_rng(4)
    folder = tmp_path / "sei"
    folder.mkdir()
    np.save(folder / "projvec_targets.npy", rng.normal(size=(61, 40)))
    np.save(folder / "histone_inds.npy", np.arange(5, 25))
    scorer = Scorer(model)
    classes = SequenceClasses(
        np.load(folder / "projvec_targets.npy"), np.load(folder / "histone_inds.npy"), 40
    )
    scoring = make_scoring(model, scorer, "seqclass", classes=classes)
    out = tmp_path / "snvs.tsv.gz"
    saturate_regions(model, scorer, scoring, GENOME, out, regions=["chr1:600-605"])
    with gzip.open(out, "rt") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    snvs = _snvs("chr1", 600, 605)
    table = score_effects(
        model, GENOME, _write_vcf(tmp_path / "v.vcf", snvs), scores=["seqclass"], seqclass_files=folder
    )
    assert [(r[0], int(r[1]), r[2], r[3]) for r in rows] == snvs
    assert np.abs(table.scores).max() > 1e-3  # effects that can disagree
    np.testing.assert_allclose(np.array([[float(v) for v in r[4:]] for r in rows]), table.scores, atol=3e-5)


def test_sort_holds_a_bounded_number_of_rows():
    from zoo.effects.scoring import ScoreOptionError, SortedWriter
    from zoo.predict.running.results import MemoryWriter

    writer = SortedWriter(MemoryWriter(), max_rows=3)(["chrom"], ["diff:a"])
    writer.write([("c",)] * 2, np.zeros((2, 1), np.float32))
    with pytest.raises(ScoreOptionError, match=r"--sort holds every row in memory: at most 3 rows"):
        writer.write([("c",)] * 2, np.zeros((2, 1), np.float32))


def test_failed_runs_leave_nothing_behind(tmp_path, capsys):
    argv = ["--weights", str(WEIGHTS), "--genome", str(GENOME), "--no-progress"]
    err = predict_fails(tmp_path, capsys, *argv, "--regions", "chr1:1990-2000", "--saturate", out="s.tsv.gz")
    assert "no position of the regions could be scored" in err
    err = predict_fails(tmp_path, capsys, *argv, "--regions", "chr1:100-200", "--saturate", out="s.tsv")
    assert "--out must end in .tsv.gz" in err
    only_bad = _write_vcf(tmp_path / "bad.vcf", [("chr1", 5, "A", "G")])  # no window fits
    err = predict_fails(tmp_path, capsys, *argv, "--vcf", str(only_bad), "--make-background", out="bg.npz")
    assert "no background variant could be scored" in err


def test_shared_windows_of_a_model_that_averages_both_strands(tmp_path):
    from zoo.effects.jobs import make_scoring, score_effects
    from zoo.effects.saturate import _SNVLogits, saturate_regions
    from zoo.predict import Scorer

    model = example_model()
    model.rc_average = True
    scorer = Scorer(model)
    assert _SNVLogits(model, scorer).method == "shared"
    scoring = make_scoring(model, scorer, "ref,diff,logfc")
    out = tmp_path / "snvs.tsv.gz"
    saturate_regions(model, scorer, scoring, GENOME, out, regions=["chr1:1700-1801"])
    with gzip.open(out, "rt") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    snvs = _snvs("chr1", 1700, 1801)  # the contig is 2000 bp: positions past 1801 have no window
    table = score_effects(
        model, GENOME, _write_vcf(tmp_path / "v.vcf", snvs), scores=["ref", "diff", "logfc"]
    )
    assert [(r[0], int(r[1]), r[2], r[3]) for r in rows] == snvs
    np.testing.assert_allclose(np.array([[float(v) for v in r[4:]] for r in rows]), table.scores, atol=3e-5)


def test_effect_scores_refuse_scoring_in_parts(tmp_path, capsys, seqclass_dir):
    argv = ["--weights", str(WEIGHTS), "--genome", str(GENOME), "--vcf", str(DATA / "variants.vcf")]
    err = predict_fails(
        tmp_path,
        capsys,
        *argv,
        "--scores",
        "seqclass",
        "--seqclass-files",
        str(seqclass_dir),
        "--shard",
        "0/2",
    )
    assert "run in one process: drop --shard/--out-parts" in err and err.count("\n") == 1
