"""zoo-interpret on the tiny DeepSEA example of tests/data/predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.cli.interpret import call as run
from zoo.dna import one_hot
from zoo.interpret import attribute, ism
from zoo.predict.running.loading import load_predict_model

pytest.importorskip("captum")
DATA = Path(__file__).parent / "data" / "predict"
WEIGHTS = str(DATA / "tiny_deepsea.safetensors")
LABELS = (DATA / "labels.txt").read_text().splitlines()


def _fasta_records() -> list[tuple[str, str]]:
    records, name = [], None
    for line in (DATA / "seqs.fa").read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            records.append((name, ""))
        elif line.strip():
            records[-1] = (name, records[-1][1] + line.strip().upper())
    return records


def _index(folder: Path) -> tuple[list[str], list[list[str]]]:
    lines = (folder / "index.tsv").read_text().splitlines()
    assert lines[0].startswith("#targets\t")
    return lines[0].split("\t")[1:], [line.split("\t") for line in lines[1:]]


def test_fasta_ism_and_saliency_arrays(tmp_path: Path) -> None:
    out = tmp_path / "interp"
    args = ["--weights", WEIGHTS, "--labels", str(DATA / "labels.txt"), "--fasta", str(DATA / "seqs.fa")]
    code = run([*args, "--method", "ism,saliency", "--targets", "2,0", "--out", str(out), "--no-progress"])
    assert code == 0
    records = _fasta_records()
    n, length = len(records), len(records[0][1])
    targets, rows = _index(out)
    assert targets == [LABELS[2], LABELS[0]]
    assert rows[0] == ["row", "name"]
    assert [r[1] for r in rows[1:]] == [name for name, _ in records]
    ohe = np.load(out / "ohe.npz")["arr_0"]
    assert ohe.dtype == np.float32 and ohe.shape == (n, 4, length)
    assert np.array_equal(ohe, one_hot([s for _, s in records]).numpy())
    delta = np.load(out / "ism.npy")
    assert delta.dtype == np.float32 and delta.shape == (n, length, 4, 2)
    model, _ = load_predict_model(None, WEIGHTS)
    expected = ism(model, [s for _, s in records], [2, 0]).delta.numpy()
    np.testing.assert_allclose(delta, expected, atol=1e-5)
    for k, target in enumerate([2, 0]):
        sal = np.load(out / f"saliency.{k}.npz")["arr_0"]
        assert sal.dtype == np.float32 and sal.shape == (n, 4, length)
        grad = attribute(model, torch.from_numpy(ohe), target, method="saliency").hypothetical.numpy()
        np.testing.assert_allclose(sal, grad, atol=1e-6)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary folder left


def test_bed_and_vcf_windows(tmp_path: Path) -> None:
    genome = ["--weights", WEIGHTS, "--genome", str(DATA / "genome.fa"), "--no-progress"]
    bed_out, vcf_out = tmp_path / "bed", tmp_path / "vcf"
    assert run([*genome, "--bed", str(DATA / "peaks.bed"), "--targets", "1", "--out", str(bed_out)]) == 0
    assert run([*genome, "--vcf", str(DATA / "variants.vcf"), "--targets", "1", "--out", str(vcf_out)]) == 0
    model, _ = load_predict_model(None, WEIGHTS)
    fasta = {}
    for block in (DATA / "genome.fa").read_text().split(">")[1:]:
        head, *seq = block.splitlines()
        fasta[head.split()[0]] = "".join(seq).upper()
    for folder, first in ((bed_out, ["chrom", "start", "end", "name"]), (vcf_out, ["chrom", "pos", "id"])):
        targets, rows = _index(folder)
        assert targets == ["target_1"] and rows[0][1 : 1 + len(first)] == first
        assert rows[0][-1] == "window_start"
        windows = [fasta[r[1]][int(r[-1]) : int(r[-1]) + model.seq_len] for r in rows[1:]]
        assert np.array_equal(np.load(folder / "ohe.npz")["arr_0"], one_hot(windows).numpy())
        assert np.load(folder / "ism.npy").shape == (len(windows), model.seq_len, 4, 1)
    # peaks.bed's last interval runs off chr2; only the VCF's scorable records, ALTs of one record together
    assert [r[4] for r in _index(bed_out)[1][1:]] == ["peak1", "peak2", "peak3"]
    vcf_rows = _index(vcf_out)[1][1:]
    assert ["rs2", "A,C,T"] == vcf_rows[1][3:6:2]
    assert all(int(r[2]) - 1 - int(r[-1]) == model.seq_len // 2 - 1 for r in vcf_rows)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--fasta", str(DATA / "seqs.fa"), "--targets", "no_such_target"], "unknown target"),
        (["--fasta", str(DATA / "long.fa")], "the model takes"),
        (["--fasta", str(DATA / "seqs.fa"), "--method", "ism,shap"], "--method"),
    ],
)
def test_errors_exit_1_and_leave_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "interp"
    assert run(["--weights", WEIGHTS, *extra, "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("zoo-interpret: error:") and message in err[0]
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_needs_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "interp"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    args = ["--weights", WEIGHTS, "--fasta", str(DATA / "seqs.fa"), "--targets", "0", "--no-progress"]
    for extra in ([], ["--overwrite"]):  # a file zoo-interpret did not write is never replaced
        assert run([*args, "--out", str(out), *extra]) == 1
        assert "'keep.txt', which zoo-interpret did not write" in capsys.readouterr().err
        assert (out / "keep.txt").read_text() == "x"
    (out / "keep.txt").unlink()
    assert run([*args, "--out", str(out)]) == 0
    assert run([*args, "--out", str(out)]) == 1
    assert "not empty" in capsys.readouterr().err
    assert run([*args, "--out", str(out), "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [".zoo-outputs", "index.tsv", "ism.npy", "ohe.npz"]
    assert [p.name for p in tmp_path.iterdir()] == ["interp"]


def test_deeplift_and_plots(tmp_path: Path) -> None:
    pytest.importorskip("logomaker")
    out = tmp_path / "interp"
    args = ["--weights", WEIGHTS, "--labels", str(DATA / "labels.txt"), "--fasta", str(DATA / "seqs.fa")]
    args += ["--method", "deeplift_shap,ism", "--n-shuffles", "2", "--targets", "0", "--plot", "2"]
    assert run([*args, "--out", str(out), "--no-progress"]) == 0
    hyp = np.load(out / "deeplift_shap.npz")["arr_0"]  # one target: the name modisco examples use
    assert hyp.dtype == np.float32 and hyp.shape == np.load(out / "ohe.npz")["arr_0"].shape
    pngs = sorted((out / "plots").iterdir())
    assert len(pngs) == 2 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert all(p.name.endswith(".png") and p.stat().st_size > 1000 for p in pngs)
    from PIL import Image

    names = [name for name, _ in _fasta_records()[:2]]
    for png, name in zip(pngs, names):  # titled with the FASTA record's name, not its row
        with Image.open(png) as picture:
            title = picture.text["Title"]
        assert title.startswith(f"{name}: {LABELS[0]} (deeplift_shap)") and "record" not in title


def test_a_plot_is_titled_with_what_names_its_record() -> None:
    from zoo.interpret.run_folder import record_label

    assert record_label(["name"], ("chr1_enhancer",)) == "chr1_enhancer"
    assert (
        record_label(["chrom", "start", "end", "name", "window_start"], ("1", 10, 20, "peak7", 0)) == "peak7"
    )
    assert record_label(["chrom", "start", "end", "name", "window_start"], ("1", 10, 20, ".", 0)) == "1:10-20"
    variant = ["chrom", "pos", "id", "ref", "alt", "window_start"]
    assert record_label(variant, ("2", 101, "rs12", "A", "G,T", 0)) == "rs12"
    assert record_label(variant, ("2", 101, ".", "A", "G,T", 0)) == "2:101 A>G,T"


def test_api_takes_target_names_from_the_model() -> None:
    model, _ = load_predict_model(None, WEIGHTS)
    seqs = [s for _, s in _fasta_records()[:2]]
    with pytest.raises(ValueError, match="pass target_names"):
        ism(model, seqs, LABELS[3])
    model.target_names = list(LABELS)  # what weights that record names give the model
    by_name = ism(model, seqs, [LABELS[3], LABELS[1]])
    assert by_name.targets == [3, 1] and by_name.target_names == [LABELS[3], LABELS[1]]
    assert torch.equal(by_name.delta, ism(model, seqs, [3, 1]).delta)
    result = attribute(model, seqs, LABELS[4], method="saliency")
    assert result.target == 4 and result.target_name == LABELS[4]


@pytest.mark.parametrize(
    ("option", "value", "limit"),
    [
        ("--n-steps", "1000000000", "10,000"),
        ("--n-shuffles", "1000000", "1,000"),
        ("--n-steps", "9" * 5000, "10,000"),
    ],
)
def test_absurd_step_and_shuffle_counts_are_usage_errors_naming_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, limit: str
) -> None:
    argv = [
        "--weights",
        WEIGHTS,
        "--fasta",
        str(DATA / "seqs.fa"),
        option,
        value,
        "--out",
        str(tmp_path / "o"),
    ]
    with pytest.raises(SystemExit) as exit_:
        run(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(f"zoo-interpret: error: argument {option}") and f"at most {limit}" in err
    assert len(err) < 200 and list(tmp_path.iterdir()) == []


def test_the_api_bounds_steps_and_shuffles_before_allocating() -> None:
    model = load_predict_model(None, WEIGHTS, {})[0]
    x = one_hot(["ACGT" * (model.seq_len // 4)])
    with pytest.raises(ValueError, match="n_shuffles.*at most 1,000"):
        attribute(model, x, 0, method="deeplift_shap", n_shuffles=10**9)
    with pytest.raises(ValueError, match="n_steps.*at most 10,000"):
        attribute(model, x, 0, method="integrated_gradients", n_steps=10**9)


def test_ism_window_and_width_write_those_positions(tmp_path: Path) -> None:
    """--ism-window START:END and --ism-width N: ism.npy holds those positions of the whole
    window's ISM, and index.tsv's second header line says which."""
    model, _ = load_predict_model(None, WEIGHTS)
    length = model.seq_len
    args = ["--weights", WEIGHTS, "--fasta", str(DATA / "seqs.fa"), "--targets", "1", "--no-progress"]
    assert run([*args, "--out", str(tmp_path / "all")]) == 0
    whole = np.load(tmp_path / "all" / "ism.npy")
    half = 7 // 2
    for option, (start, end) in (
        (["--ism-window", "3:20"], (3, 20)),
        (["--ism-width", "7"], (length // 2 - half, length // 2 - half + 7)),
    ):
        out = tmp_path / option[0].strip("-")
        assert run([*args, *option, "--out", str(out)]) == 0
        lines = (out / "index.tsv").read_text().splitlines()
        assert lines[1] == f"#ism_positions\t{start}\t{end}"
        np.testing.assert_allclose(np.load(out / "ism.npy"), whole[:, start:end], atol=1e-6)
    out = tmp_path / "variants"
    genome = ["--weights", WEIGHTS, "--genome", str(DATA / "genome.fa"), "--vcf", str(DATA / "variants.vcf")]
    assert run([*genome, "--ism-width", "4", "--targets", "1", "--out", str(out), "--no-progress"]) == 0
    variant = length // 2 - 1  # the variant's base in its window
    assert (out / "index.tsv").read_text().splitlines()[1] == f"#ism_positions\t{variant - 2}\t{variant + 2}"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--ism-window", "20:3"], "--ism-window '20:3': expected START:END with 0 <= START < END <= "),
        (["--ism-window", "0:100000"], "--ism-window '0:100000': expected START:END with 0 <= START < END"),
        (["--ism-window", "five"], "--ism-window 'five': expected START:END"),
        (["--ism-width", "0"], "--ism-width 0: expected 1 to "),
        (["--ism-width", "100000"], "--ism-width 100000: expected 1 to "),
        (["--ism-width", "3", "--ism-window", "0:3"], "give --ism-window or --ism-width, not both"),
    ],
)
def test_bad_ism_windows_exit_1_and_leave_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str], message: str
) -> None:
    out = tmp_path / "interp"
    assert run(["--weights", WEIGHTS, "--fasta", str(DATA / "seqs.fa"), *option, "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert list(tmp_path.iterdir()) == []


def test_windowed_ism_plots(tmp_path: Path) -> None:
    pytest.importorskip("logomaker")
    out = tmp_path / "interp"
    args = ["--weights", WEIGHTS, "--fasta", str(DATA / "seqs.fa"), "--targets", "0", "--no-progress"]
    args += ["--method", "saliency,ism", "--plot", "1", "--ism-window", "10:30", "--out", str(out)]
    assert run(args) == 0
    (png,) = (out / "plots").iterdir()
    from PIL import Image

    with Image.open(png) as picture:
        title = picture.text["Title"]
    assert title.endswith(": positions 10-29")  # the window's own positions, labelled as such
