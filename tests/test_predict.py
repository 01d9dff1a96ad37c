"""zoo-predict on FASTA records and BED intervals: values against direct model calls."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _checkpoints import trained_deepsea_checkpoint
from _predict_support import (
    DATA,
    WEIGHTS,
    direct_probs,
    example_model,
    float_columns,
    read_fasta,
    read_tsv,
)

import zoo
import zoo.targets
import zoo.weights
from zoo._registry import model_args
from zoo.cli.predict import call as run
from zoo.dna import base_codes, one_hot
from zoo.predict import Scorer, unique_labels

LABELS = (DATA / "labels.txt").read_text().splitlines()
TARGETS = [f"target_{i}" for i in range(5)]


def _run(*argv: str) -> int:
    return run([*argv, "--no-progress"])


def test_fasta_rows_equal_sigmoid_of_model_logits(tmp_path: Path) -> None:
    out = tmp_path / "preds.tsv"
    assert (
        _run(
            "--weights",
            str(WEIGHTS),
            "--fasta",
            str(DATA / "seqs.fa"),
            "--out",
            str(out),
            "--batch-size",
            "3",
        )
        == 0
    )
    header, rows = read_tsv(out)
    records = read_fasta(DATA / "seqs.fa")
    assert header == ["name", *TARGETS]
    assert [r[0] for r in rows] == list(records)
    expected = direct_probs(example_model(), list(records.values()))
    assert expected.std() > 0.05  # the example model's outputs are spread, so the check means something
    np.testing.assert_allclose(float_columns(header, rows, TARGETS), expected, rtol=1e-5, atol=1e-9)


def test_scorer_predict_matches_direct_call() -> None:
    seqs = list(read_fasta(DATA / "seqs.fa").values())
    model = example_model()
    got = Scorer(model, batch_size=4).predict(seqs)
    np.testing.assert_allclose(got, direct_probs(model, seqs), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("rc", ["none", "mean"])
def test_scorer_logits_of_base_codes_equal_logits_of_one_hot(rc: str) -> None:
    # On CUDA the Scorer sends base codes and one-hot encodes them on the GPU; same logits
    seqs = list(read_fasta(DATA / "seqs.fa").values())
    seqs[0] = "N" * 20 + seqs[0][20:]  # N is where n_value shows
    scorer = Scorer(example_model(), rc=rc, n_value=0.0)
    assert scorer.encode(seqs).dtype == torch.float32  # a CPU scorer encodes one-hot itself
    torch.testing.assert_close(
        scorer.logits(base_codes(seqs)), scorer.logits(one_hot(seqs, n_value=0.0)), rtol=0, atol=0
    )
    assert not torch.equal(
        scorer.logits(one_hot(seqs[:1], n_value=0.25)), scorer.logits(base_codes(seqs[:1]))
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_scorer_on_cuda_sends_pinned_base_codes() -> None:
    seqs = list(read_fasta(DATA / "seqs.fa").values())
    seqs[0] = "N" * 20 + seqs[0][20:]
    model = example_model()
    scorer = Scorer(model, device="cuda", n_value=0.0)
    codes = scorer.encode(seqs)
    assert codes.dtype == torch.uint8 and codes.is_pinned()
    expected = Scorer(model, n_value=0.0).predict(seqs)
    np.testing.assert_allclose(scorer.predict(seqs), expected, atol=1e-4)  # TF32 convolutions on CUDA


@pytest.mark.parametrize("rc", ["mean", "max"])
def test_rc_combines_forward_and_reverse_complement(tmp_path: Path, rc: str) -> None:
    out = tmp_path / "preds.tsv"
    assert (
        _run("--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--rc", rc, "--out", str(out)) == 0
    )
    header, rows = read_tsv(out)
    seqs = list(read_fasta(DATA / "seqs.fa").values())
    expected = direct_probs(example_model(), seqs, rc=rc)
    assert not np.allclose(expected, direct_probs(example_model(), seqs))  # strands do differ
    np.testing.assert_allclose(float_columns(header, rows, TARGETS), expected, rtol=1e-5, atol=1e-9)


def test_step_cuts_long_records_into_windows(tmp_path: Path) -> None:
    out = tmp_path / "tiles.tsv"
    argv = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "long.fa"), "--step", "200", "--out", str(out)]
    assert _run(*argv) == 0
    header, rows = read_tsv(out)
    seq = read_fasta(DATA / "long.fa")["long1"]  # 650 bp
    assert header[:2] == ["name", "start"]
    starts = [int(r[1]) for r in rows]
    assert starts == [0, 200, 400, 450]  # the last window ends at the record's end
    expected = direct_probs(example_model(), [seq[s : s + 200] for s in starts])
    np.testing.assert_allclose(float_columns(header, rows, TARGETS), expected, rtol=1e-5, atol=1e-9)


def test_labels_name_columns_and_targets_pick_by_name_or_index(tmp_path: Path) -> None:
    out = tmp_path / "subset.tsv"
    argv = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--labels", str(DATA / "labels.txt")]
    assert _run(*argv, "--targets", f"{LABELS[3]},1", "--out", str(out)) == 0
    header, rows = read_tsv(out)
    assert header == ["name", LABELS[3], LABELS[1]]
    expected = direct_probs(example_model(), list(read_fasta(DATA / "seqs.fa").values()))[:, [3, 1]]
    np.testing.assert_allclose(float_columns(header, rows, header[1:]), expected, rtol=1e-5, atol=1e-9)


def test_model_name_with_plain_state_dict(tmp_path: Path) -> None:
    import torch

    model = example_model()
    torch.save(model.state_dict(), tmp_path / "tiny.pt")
    out = tmp_path / "preds.tsv"
    args = ["--model-arg", "seq_len=200", "--model-arg", "n_targets=5", "--model-arg", "hidden=16"]
    args += ["--model-arg", "conv_channels=[8,8,8]"]
    argv = [
        "--model",
        "deepsea",
        *args,
        "--weights",
        str(tmp_path / "tiny.pt"),
        "--fasta",
        str(DATA / "seqs.fa"),
    ]
    assert _run(*argv, "--out", str(out)) == 0
    header, rows = read_tsv(out)
    expected = direct_probs(model, list(read_fasta(DATA / "seqs.fa").values()))
    np.testing.assert_allclose(float_columns(header, rows, TARGETS), expected, rtol=1e-5, atol=1e-9)


def test_lightning_checkpoint_builds_the_recorded_model(tmp_path: Path) -> None:
    task, ckpt = trained_deepsea_checkpoint(tmp_path)  # relu, rc_average=True: shapes cannot tell
    seqs = list(read_fasta(DATA / "seqs.fa").values())
    argv = ["--weights", str(ckpt), "--fasta", str(DATA / "seqs.fa")]
    assert _run(*argv, "--out", str(tmp_path / "a.tsv")) == 0  # no --model needed
    header, rows = read_tsv(tmp_path / "a.tsv")
    expected = direct_probs(task.model.eval(), seqs)
    np.testing.assert_allclose(float_columns(header, rows, TARGETS), expected, rtol=1e-5, atol=1e-9)
    # --model-arg overrides the recorded arguments
    assert _run(*argv, "--model-arg", "rc_average=false", "--out", str(tmp_path / "b.tsv")) == 0
    forward = zoo.create_model("deepsea", **{**model_args(task.model), "rc_average": False})
    forward.load_state_dict(task.model.state_dict())
    header, rows = read_tsv(tmp_path / "b.tsv")
    expected = direct_probs(forward.eval(), seqs)
    np.testing.assert_allclose(float_columns(header, rows, TARGETS), expected, rtol=1e-5, atol=1e-9)


def test_lightning_checkpoint_scores_n_as_its_training_data_encoded_it(tmp_path: Path) -> None:
    task, _ = trained_deepsea_checkpoint(tmp_path)
    ckpt = torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=True)
    ckpt["datamodule_hyper_parameters"] = {"n_value": 0.0}  # as a run with data.n_value=0.0 saves it
    torch.save(ckpt, tmp_path / "n0.ckpt")
    fasta = tmp_path / "n.fa"
    fasta.write_text(">a\n" + "N" * 60 + "ACGT" * 35 + "\n")
    assert (
        _run("--weights", str(tmp_path / "n0.ckpt"), "--fasta", str(fasta), "--out", str(tmp_path / "a.tsv"))
        == 0
    )
    header, rows = read_tsv(tmp_path / "a.tsv")
    model = task.model.eval()
    with torch.no_grad():
        expected = [
            torch.sigmoid(model.logits(zoo.one_hot(["N" * 60 + "ACGT" * 35], n_value=v))).numpy()
            for v in (0.0, 0.25)
        ]
    got = float_columns(header, rows, TARGETS)
    np.testing.assert_allclose(got, expected[0], rtol=1e-5, atol=1e-9)
    assert np.abs(got - expected[1]).max() > 1e-4  # 0.25 would have scored differently
    # --n-value still wins
    argv = ["--weights", str(tmp_path / "n0.ckpt"), "--fasta", str(fasta), "--n-value", "0.25"]
    assert _run(*argv, "--out", str(tmp_path / "b.tsv")) == 0
    header, rows = read_tsv(tmp_path / "b.tsv")
    np.testing.assert_allclose(float_columns(header, rows, TARGETS), expected[1], rtol=1e-5, atol=1e-9)


def test_model_arg_overrides_a_zoo_checkpoints_stored_arguments(tmp_path: Path) -> None:
    out = tmp_path / "rc.tsv"
    argv = ["--weights", str(WEIGHTS), "--model-arg", "rc_average=true", "--fasta", str(DATA / "seqs.fa")]
    assert _run(*argv, "--out", str(out)) == 0
    averaged = zoo.create_model("deepsea", **{**model_args(example_model()), "rc_average": True})
    averaged.load_state_dict(example_model().state_dict())
    header, rows = read_tsv(out)
    expected = direct_probs(averaged.eval(), list(read_fasta(DATA / "seqs.fa").values()))
    np.testing.assert_allclose(float_columns(header, rows, TARGETS), expected, rtol=1e-5, atol=1e-9)


def test_bed_scores_centred_windows_and_reports_the_rest(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "peaks.parquet"
    argv = ["--weights", str(WEIGHTS), "--genome", str(DATA / "genome.fa"), "--bed", str(DATA / "peaks.bed")]
    assert _run(*argv, "--out", str(out)) == 0
    table = pq.read_table(out).to_pydict()
    assert table["name"] == ["peak1", "peak2", "peak3", "edge"]
    assert table["status"] == ["ok", "ok", "ok", "off_contig_end"]
    genome = read_fasta(DATA / "genome.fa")
    # midpoint - 100 .. midpoint + 100 for a 200 bp model
    windows = [genome["chr1"][300:500], genome["chr1"][950:1150], genome["chr2"][450:650]]
    got = np.array([table[t][:3] for t in TARGETS]).T
    np.testing.assert_allclose(got, direct_probs(example_model(), windows), rtol=1e-5, atol=1e-7)
    assert all(np.isnan(table[t][3]) for t in TARGETS)


def test_parquet_and_tsv_hold_the_same_table(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    base = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "long.fa"), "--step", "100"]
    assert _run(*base, "--out", str(tmp_path / "t.tsv")) == 0
    assert _run(*base, "--out", str(tmp_path / "t.parquet")) == 0
    header, rows = read_tsv(tmp_path / "t.tsv")
    table = pq.read_table(tmp_path / "t.parquet").to_pydict()
    assert list(table) == header
    assert table["start"] == [int(r[1]) for r in rows]
    np.testing.assert_allclose(
        np.array([table[t] for t in TARGETS]).T, float_columns(header, rows, TARGETS), rtol=1e-5
    )


def _readme_block() -> str:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Predicting", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)[0]


def test_readme_predicting_commands_run(tmp_path: Path) -> None:
    script = _readme_block()
    assert script.count("zoo-predict") >= 5
    script = script.replace("D=tests/data/predict", f"D={DATA}")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    outputs = sorted(p.name for p in tmp_path.iterdir())
    assert outputs == ["effects.tsv", "peaks.parquet", "seqs.tsv", "subset.tsv", "tiles.tsv"], outputs
    assert "4 not scored" in done.stderr


def test_example_files_are_reproducible(tmp_path: Path) -> None:
    """make_example.py regenerates the shipped text files byte for byte and the same weights."""
    import shutil

    import torch

    import zoo

    script = tmp_path / "make_example.py"
    shutil.copy(DATA / "make_example.py", script)
    subprocess.run([sys.executable, str(script)], check=True, cwd=tmp_path)
    for name in ["labels.txt", "genome.fa", "seqs.fa", "long.fa", "peaks.bed", "variants.vcf"]:
        assert (tmp_path / name).read_text() == (DATA / name).read_text(), name
    fresh, shipped = zoo.load_model(tmp_path / "tiny_deepsea.safetensors"), example_model()
    for (k, a), (_, b) in zip(fresh.state_dict().items(), shipped.state_dict().items()):
        assert torch.equal(a, b), k
    assert WEIGHTS.stat().st_size < 1_000_000


def test_bf16_is_close_to_fp32_and_progress_goes_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    import zoo

    # 16 channels: torch 2.14.1's oneDNN bf16 conv1d is wrong for 8 or 12 input channels on CPU
    model = zoo.create_model("deepsea", seq_len=200, n_targets=5, hidden=16, conv_channels=(16, 16, 16))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)  # spread the outputs so that a 2e-2 tolerance means something
    zoo.save_weights(model, tmp_path / "m16.safetensors")
    argv = [
        "--weights",
        str(tmp_path / "m16.safetensors"),
        "--fasta",
        str(DATA / "seqs.fa"),
        "--device",
        "cpu",
    ]
    assert run([*argv, "--precision", "bf16", "--out", str(tmp_path / "bf16.tsv")]) == 0
    err = capsys.readouterr().err
    assert "8 rows" in err and "wrote 8 rows" in err  # tqdm's bar, then the summary
    header, rows = read_tsv(tmp_path / "bf16.tsv")
    expected = direct_probs(model.eval(), list(read_fasta(DATA / "seqs.fa").values()))
    assert expected.std() > 0.05
    np.testing.assert_allclose(float_columns(header, rows, TARGETS), expected, atol=2e-2)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--device", "cuda"]
    assert _run(*argv, "--out", str(tmp_path / "x.tsv")) == 1
    assert "torch sees no CUDA device" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_scorer_uses_each_models_n_convention() -> None:
    import zoo
    from zoo.predict import Scorer

    beluga = zoo.create_model("beluga", seq_len=400, n_targets=2, hidden=4)
    deepsea = zoo.create_model("deepsea", seq_len=200, n_targets=2, conv_channels=(16, 16, 16), hidden=4)
    assert Scorer(beluga).n_value == 0.0  # ExPecto encodes N as zeros
    assert Scorer(deepsea).n_value == 0.25
    assert Scorer(beluga, n_value=0.25).n_value == 0.25


# --- target names from the weights, patterns, published models -------------------------------

NAMES = ["K562_CTCF_None", "K562_DNase_None", "HepG2_CTCF_None", "GM12878_POLR2A_None", "HeLa_EP300_None"]


def _named_weights(tmp_path: Path) -> Path:
    """The example model with target names and an N value in its zoo file."""
    model = example_model()
    zoo.weights.attach_info(model, target_names=NAMES, n_value=0.0)
    return zoo.save_weights(model, tmp_path / "named.safetensors")


def test_columns_are_named_from_the_weights_and_labels_override(tmp_path: Path) -> None:
    weights = _named_weights(tmp_path)
    argv = ["--weights", str(weights), "--fasta", str(DATA / "seqs.fa")]
    assert _run(*argv, "--out", str(tmp_path / "named.tsv")) == 0
    header, rows = read_tsv(tmp_path / "named.tsv")
    assert header == ["name", *NAMES]
    seqs = list(read_fasta(DATA / "seqs.fa").values())
    expected = direct_probs(example_model(), seqs)
    np.testing.assert_allclose(float_columns(header, rows, NAMES), expected, rtol=1e-5, atol=1e-9)
    assert _run(*argv, "--labels", str(DATA / "labels.txt"), "--out", str(tmp_path / "labels.tsv")) == 0
    assert read_tsv(tmp_path / "labels.tsv")[0] == ["name", *LABELS]
    assert Scorer(zoo.load_model(weights)).n_value == 0.0  # the file's N value


@pytest.mark.parametrize(
    ("targets", "picked"),
    [
        ("*_CTCF_*", [0, 2]),  # a glob over whole names
        ("re:^K562,4", [0, 1, 4]),  # a regular expression searched in the names, then an index
        ("re:(?i)ctcf,HepG2_CTCF_None", [0, 2]),  # a name a pattern already picked comes once
        ("GM12878_POLR2A_None,*K562*", [3, 0, 1]),  # in the order given
    ],
)
def test_targets_take_globs_and_regular_expressions(tmp_path: Path, targets: str, picked: list[int]) -> None:
    argv = ["--weights", str(_named_weights(tmp_path)), "--fasta", str(DATA / "seqs.fa")]
    assert _run(*argv, "--targets", targets, "--out", str(tmp_path / "picked.tsv")) == 0
    header, rows = read_tsv(tmp_path / "picked.tsv")
    assert header == ["name", *(NAMES[i] for i in picked)]
    expected = direct_probs(example_model(), list(read_fasta(DATA / "seqs.fa").values()))[:, picked]
    np.testing.assert_allclose(float_columns(header, rows, header[1:]), expected, rtol=1e-5, atol=1e-9)


def test_a_pattern_that_matches_nothing_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--weights", str(_named_weights(tmp_path)), "--fasta", str(DATA / "seqs.fa")]
    assert _run(*argv, "--targets", "*_H3K4me3_*", "--out", str(tmp_path / "x.tsv")) == 1
    assert "target pattern '*_H3K4me3_*' matches none of the 5 targets" in capsys.readouterr().err
    assert _run(*argv, "--targets", "re:(", "--out", str(tmp_path / "x.tsv")) == 1
    assert "'re:(' is not a valid regular expression" in capsys.readouterr().err
    assert not (tmp_path / "x.tsv").exists()


def test_a_zoo_train_checkpoint_names_the_columns(tmp_path: Path) -> None:
    from _checkpoints import lightning_style_checkpoint

    from zoo.tasks import ClassificationTask

    task = ClassificationTask(example_model(), target_names=NAMES)
    path = lightning_style_checkpoint(task, tmp_path / "named.ckpt")
    assert (
        _run("--weights", str(path), "--fasta", str(DATA / "seqs.fa"), "--out", str(tmp_path / "c.tsv")) == 0
    )
    assert read_tsv(tmp_path / "c.tsv")[0] == ["name", *NAMES]


def test_a_published_model_by_name_with_a_local_copy_or_downloaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, publish
) -> None:
    import hashlib
    import urllib.request

    model = zoo.create_model("deepsea", seq_len=200, n_targets=919, hidden=8, rc_average=True).eval()
    torch.save(model.state_dict(), tmp_path / "published.pt")
    data = (tmp_path / "published.pt").read_bytes()
    published = publish(
        "deepsea.kipoi_predict",
        name="deepsea.test",
        md5=hashlib.md5(data).hexdigest(),
        url="https://example.org/published.pt",
    )
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    argv = ["--fasta", str(DATA / "seqs.fa"), "--model-arg", "seq_len=200", "--model-arg", "hidden=8"]
    argv += ["--targets", "*_CTCF_*"]

    out = tmp_path / "local.tsv"
    assert (
        _run("--model", "deepsea.test", "--weights", str(tmp_path / "published.pt"), *argv, "--out", str(out))
        == 0
    )
    header, rows = read_tsv(out)
    names = zoo.targets.load_target_names("deepsea_919")
    ctcf = [i for i, name in enumerate(names) if "_CTCF_" in name]
    columns = unique_labels(names)  # the list repeats names: the k-th gets "#k"
    assert header[1:] == [columns[i] for i in ctcf] and len(ctcf) > 10 and "H1-hESC_CTCF_None#2" in header
    expected = direct_probs(model, list(read_fasta(DATA / "seqs.fa").values()))[:, ctcf]
    np.testing.assert_allclose(float_columns(header, rows, header[1:]), expected, rtol=1e-5, atol=1e-9)

    class Response(io.BytesIO):
        headers = {"Content-Length": str(len(data))}

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Response(data))
    out = tmp_path / "downloaded.tsv"
    assert _run("--model", "deepsea.test", "--pretrained", *argv, "--out", str(out)) == 0
    assert read_tsv(out) == (header, rows)

    (tmp_path / "other.pt").write_bytes(data + b"\0")
    other = ["--model", "deepsea.test", "--weights", str(tmp_path / "other.pt"), *argv]
    assert _run(*other, "--out", str(tmp_path / "x.tsv")) == 1
    err = capsys.readouterr().err
    assert hashlib.md5(data + b"\0").hexdigest() in err and published.md5 in err
    assert _run("--model", "deepsea.test", *argv, "--out", str(tmp_path / "x.tsv")) == 1
    assert "give --pretrained to download it" in capsys.readouterr().err


def test_sei_scores_windows_and_variants_like_direct_calls(tmp_path: Path) -> None:
    sei = zoo.create_model("sei", seq_len=192, n_targets=3, conv_channels=(8, 8, 16), rc_average=True).eval()
    with torch.no_grad():
        for p in sei.parameters():
            p.mul_(1.7)  # spread the outputs (logits of a few units) so that the comparison means something
    weights = zoo.save_weights(sei, tmp_path / "sei.safetensors")
    out = tmp_path / "windows.tsv"
    assert (
        _run("--weights", str(weights), "--fasta", str(DATA / "long.fa"), "--step", "100", "--out", str(out))
        == 0
    )
    header, rows = read_tsv(out)
    seq = read_fasta(DATA / "long.fa")["long1"]
    starts = [int(r[1]) for r in rows]
    assert starts == [0, 100, 200, 300, 400, 458]
    expected = direct_probs(sei, [seq[s : s + 192] for s in starts])
    assert expected.std() > 0.01 and ((expected > 0.01) & (expected < 0.99)).all()
    targets = [f"target_{i}" for i in range(3)]
    np.testing.assert_allclose(float_columns(header, rows, targets), expected, rtol=1e-5, atol=1e-7)

    vcf = tmp_path / "snv.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t500\trs1\tT\tA\t.\t.\t.\n"
    )
    out = tmp_path / "effects.tsv"
    argv = [
        "--weights",
        str(weights),
        "--genome",
        str(DATA / "genome.fa"),
        "--vcf",
        str(vcf),
        "--scores",
        "ref,alt",
    ]
    assert _run(*argv, "--out", str(out)) == 0
    header, rows = read_tsv(out)
    genome = read_fasta(DATA / "genome.fa")["chr1"]
    centre = 192 // 2 - 1
    ref = genome[499 - centre : 499 - centre + 192]
    alt = ref[:centre] + "A" + ref[centre + 1 :]
    assert ref[centre] == "T"
    for column, window in (("ref", ref), ("alt", alt)):
        got = float_columns(header, rows, [f"{column}:{t}" for t in targets])
        np.testing.assert_allclose(got, direct_probs(sei, [window]), rtol=1e-5, atol=1e-7)
