"""zoo-predict on bad input: a clear message, exit status 1, and no output file left behind."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from _checkpoints import lightning_style_checkpoint
from _predict_support import DATA, WEIGHTS, example_model, read_fasta, variant_argv
from _predict_support import predict_fails as _fails

import zoo
from zoo.cli.predict import call as run
from zoo.tasks import ClassificationTask

FASTA = str(DATA / "seqs.fa")


def test_empty_fasta(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    assert "has no records" in _fails(tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", str(empty))


@pytest.mark.parametrize("out", ["out.tsv", "out.parquet"])
def test_wrong_length_record_after_many_good_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], out: str
) -> None:
    if out.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    records = list(read_fasta(DATA / "seqs.fa").values())
    fasta = tmp_path / "mixed.fa"
    # the bad record comes after several batches have been written
    fasta.write_text("".join(f">ok{i}\n{records[i % 8]}\n" for i in range(40)) + ">short\nACGTACGT\n")
    err = _fails(
        tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", str(fasta), "--batch-size", "4", out=out
    )
    assert "'short' has 8 bp, the model takes 200 bp" in err and "--step" in err


def test_record_shorter_than_the_model_with_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fasta = tmp_path / "short.fa"
    fasta.write_text(">tiny\nACGT\n")
    err = _fails(tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", str(fasta), "--step", "50")
    assert "'tiny' has 4 bp, shorter than the model's 200 bp" in err


def test_invalid_symbol_names_the_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fasta = tmp_path / "bad.fa"
    fasta.write_text(">good\n" + "A" * 200 + "\n>weird\n" + "A" * 150 + "X" + "A" * 49 + "\n")
    err = _fails(tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", str(fasta))
    assert "weird" in err and "'X'" in err


def test_unknown_target_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--weights", str(WEIGHTS), "--fasta", FASTA, "--labels", str(DATA / "labels.txt")]
    err = _fails(tmp_path, capsys, *argv, "--targets", "K562|CTCF|Nne")
    assert "unknown target 'K562|CTCF|Nne'" in err and "did you mean 'K562|CTCF|None'" in err
    assert "unknown target '7'" in _fails(
        tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", FASTA, "--targets", "7"
    )


def test_labels_of_the_wrong_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "three.txt"
    labels.write_text("a\nb\nc\n")
    err = _fails(tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", FASTA, "--labels", str(labels))
    assert "has 3 names, the model has 5 targets" in err


def test_weights_that_do_not_fit_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "tiny.pt"
    torch.save(example_model().state_dict(), weights)
    args = ["--model-arg", "seq_len=200", "--model-arg", "n_targets=5", "--model-arg", "hidden=32"]
    args += ["--model-arg", "conv_channels=[8,8,8]"]
    err = _fails(tmp_path, capsys, "--model", "deepsea", *args, "--weights", str(weights), "--fasta", FASTA)
    assert f"weights file {weights} does not fit model 'deepsea'" in err
    assert "classifier.1.weight" in err and "hidden=16" in err  # the loader names the tensor and the fix


def test_checkpoint_of_another_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(tmp_path, capsys, "--model", "basset", "--weights", str(WEIGHTS), "--fasta", FASTA)
    assert "zoo checkpoint of 'deepsea'" in err


def test_missing_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "does not exist" in _fails(
        tmp_path, capsys, "--weights", str(tmp_path / "nope.pt"), "--fasta", FASTA
    )
    err = _fails(tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", str(tmp_path / "nope.fa"))
    assert "FASTA file" in err and "does not exist" in err
    assert "nothing to score" in _fails(tmp_path, capsys, "--weights", str(WEIGHTS))
    folder = _fails(tmp_path, capsys, "--weights", str(tmp_path), "--fasta", FASTA)
    assert "is a directory; expected a weights file" in folder


def test_weights_are_required(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--fasta", FASTA], ["--model", "danq", "--fasta", FASTA]):
        err = _fails(tmp_path, capsys, *argv)
        assert "--weights is needed" in err and "does not score with random weights" in err
    weights = tmp_path / "plain.pt"
    torch.save(example_model().state_dict(), weights)  # no stored model: --model must say which
    assert "--model is needed" in _fails(tmp_path, capsys, "--weights", str(weights), "--fasta", FASTA)


def test_lightning_checkpoint_of_another_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = lightning_style_checkpoint(ClassificationTask(example_model()), tmp_path / "run.ckpt")
    err = _fails(tmp_path, capsys, "--model", "danq", "--weights", str(ckpt), "--fasta", FASTA)
    assert f"--model 'danq' but the Lightning checkpoint {ckpt} holds 'deepsea' (as model)" in err


def test_labels_that_are_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "latin1.txt"
    labels.write_bytes("Zellkern \xe4\nb\nc\nd\ne\n".encode("latin-1"))
    err = _fails(tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", FASTA, "--labels", str(labels))
    assert f"--labels {labels} is not UTF-8 text" in err and "one target name per line" in err


def test_bad_bed_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bed = tmp_path / "bad.bed"
    bed.write_text("chr1\t300\t500\nchr1\tten\t20\n")
    argv = ["--weights", str(WEIGHTS), "--genome", str(DATA / "genome.fa"), "--bed", str(bed)]
    assert "line 2: expected 'chrom<TAB>start<TAB>end'" in _fails(tmp_path, capsys, *argv)


def test_unknown_score_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = variant_argv()
    assert "each score must be one of ref, alt, diff, logfc" in _fails(
        tmp_path, capsys, *argv, "--scores", "delta"
    )


def test_parquet_without_pyarrow_says_how_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    err = _fails(tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", FASTA, out="out.parquet")
    assert "needs pyarrow" in err and "sigmoid-zoo[parquet]" in err


def test_console_script_exit_status(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "zoo.predict", "--weights", str(WEIGHTS), "--fasta", str(tmp_path / "x.fa")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2  # argparse: --out is required
    assert "--out" in done.stderr


def test_missing_labels_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--labels", str(tmp_path / "no.txt")]
    err = _fails(tmp_path, capsys, *argv)
    assert f"--labels {str(tmp_path / 'no.txt')!r} does not exist" in err


def test_unwritable_output_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")  # a file where the output's folder should be
    argv = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa")]
    assert run([*argv, "--out", str(blocker / "out.tsv"), "--no-progress"]) == 1
    assert "zoo-predict: error: cannot write --out" in capsys.readouterr().err


def _no_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any model call fail the test: the check under test must come before scoring."""

    def scored(*args: object) -> None:
        raise AssertionError("scored before refusing")

    monkeypatch.setattr("zoo.predict.running.scorer.Scorer.logits", scored)


def _column_names(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_schema(path).names
    return path.read_text().split("\n", 1)[0].split("\t")


@pytest.mark.parametrize("out", ["out.tsv", "out.parquet"])
def test_repeated_or_reserved_column_names_are_refused_before_scoring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, out: str
) -> None:
    if out.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    reserved, repeated = tmp_path / "reserved.txt", tmp_path / "repeated.txt"
    reserved.write_text("chrom\nb\nc\nd\ne\n")
    repeated.write_text("a\nb\na\nc\nd\n")
    # repeated labels get numbered columns (Kipoi's label files repeat names); picked by that name too
    ok = ["--weights", str(WEIGHTS), "--fasta", FASTA, "--labels", str(repeated), "--no-progress"]
    assert run([*ok, "--out", str(tmp_path / out)]) == 0
    assert _column_names(tmp_path / out) == ["name", "a", "b", "a#2", "c", "d"]
    assert run([*ok, "--targets", "a#2,1", "--out", str(tmp_path / f"picked.{out}")]) == 0
    assert _column_names(tmp_path / f"picked.{out}") == ["name", "a#2", "b"]
    capsys.readouterr()
    _no_scoring(monkeypatch)
    bed = ["--weights", str(WEIGHTS), "--genome", str(DATA / "genome.fa"), "--bed", str(DATA / "peaks.bed")]
    err = _fails(tmp_path, capsys, *bed, "--labels", str(reserved), out=out)
    assert "target name 'chrom' is also the name of a leading column" in err
    assert "chrom, start, end, name, status" in err
    err = _fails(tmp_path, capsys, *bed, "--labels", str(repeated), "--targets", "a", out=out)
    assert "--targets 'a' is ambiguous: 2 targets carry that name" in err
    assert "their columns are 'a' (index 0), 'a#2' (index 2)" in err
    err = _fails(tmp_path, capsys, *bed, "--targets", "0,target_0", out=out)
    assert "--targets picks target 'target_0' (index 0) more than once ('0', 'target_0')" in err
    assert "more than once ('1', '1')" in _fails(tmp_path, capsys, *bed, "--targets", "1,1", out=out)
    err = _fails(tmp_path, capsys, *variant_argv(), "--scores", "ref,alt,ref", out=out)
    assert "--scores 'ref,alt,ref' repeats 'ref'" in err


def test_writer_refuses_repeated_column_names(tmp_path: Path) -> None:
    from zoo.predict import PredictError, open_writer

    for name in ("out.tsv", "out.parquet"):
        with pytest.raises(PredictError, match="column names repeat: 'x'"):
            open_writer(tmp_path / name, ["name"], ["x", "y", "x"])
    assert list(tmp_path.iterdir()) == []


def test_out_that_is_a_directory_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    # checked before the model is loaded: the missing weights are not what is reported
    err = _fails(tmp_path, capsys, "--weights", str(tmp_path / "nope.pt"), "--fasta", FASTA, out="results")
    assert f"--out {str(folder)!r} is a directory; expected a file path ending in .tsv or .parquet" in err


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("chr1\tabc\trs2\tG\tA\t.\tPASS\t.", "POS 'abc' is not a whole number"),
        ("chr1\t800\trs2\tG\tA", "5 tab-separated columns, a record needs 8 (CHROM POS ID REF ALT"),
        ("", "an empty line"),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_malformed_vcf_record_names_its_line_and_the_reason(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], record: str, reason: str, compress: bool
) -> None:
    # capfd: htslib writes to the process's stderr directly
    import gzip

    lines = (DATA / "variants.vcf").read_text().splitlines()
    text = "\n".join(lines[:7] + [record] + lines[7:]) + "\n"  # after 2 good records, as line 8
    vcf = tmp_path / ("bad.vcf.gz" if compress else "bad.vcf")
    vcf.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    err = _fails(tmp_path, capfd, *variant_argv(vcf))
    assert f"VCF {str(vcf)!r} line 8: bad record, {reason}" in err
    assert "[E::" not in err  # only zoo-predict's own line, not htslib's as well


def test_bed_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip

    bed = tmp_path / "latin1.bed"
    bed.write_bytes(b"chr1\t300\t500\tok\nchr1\t600\t800\tna\xefve\n")
    argv = ["--weights", str(WEIGHTS), "--genome", str(DATA / "genome.fa"), "--bed"]
    err = _fails(tmp_path, capsys, *argv, str(bed))
    assert f"BED file {str(bed)!r} line 2: not UTF-8 text" in err
    gz = tmp_path / "peaks.bed.gz"
    gz.write_bytes(gzip.compress((DATA / "peaks.bed").read_bytes()))
    err = _fails(tmp_path, capsys, *argv, str(gz))
    assert "line 1: not UTF-8 text; it is gzip-compressed: decompress it" in err


@pytest.mark.parametrize(
    ("content", "line", "shown"),
    [
        (b"my sequences\n>a\n" + b"A" * 200 + b"\n", 1, "'my sequences'"),
        (b"\n\n\x7fELF\x02\x01", 3, "'\\x7fELF"),  # binary junk after two blank lines
    ],
)
def test_fasta_with_text_before_the_first_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, line: int, shown: str
) -> None:
    fasta = tmp_path / "odd.fa"
    fasta.write_bytes(content)
    err = _fails(tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", str(fasta))
    assert f"--fasta {str(fasta)!r} is not a FASTA file: no '>' header before line {line} ({shown}" in err


@pytest.mark.parametrize("start", [b"\xef\xbb\xbf>", b"@"])
def test_fasta_with_a_byte_order_mark_or_fastq_records_is_read(tmp_path: Path, start: bytes) -> None:
    name, seq = next(iter(read_fasta(DATA / "seqs.fa").items()))
    path = tmp_path / "r.fa"
    quality = b"\n+\n" + b"I" * len(seq) if start == b"@" else b""
    path.write_bytes(start + name.encode() + b"\n" + seq.encode() + quality + b"\n")
    out = tmp_path / "out.tsv"
    assert run(["--weights", str(WEIGHTS), "--fasta", str(path), "--out", str(out), "--no-progress"]) == 0
    assert out.read_text().splitlines()[1].split("\t")[0] == name


def test_weights_of_other_sizes_get_the_model_args_that_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = zoo.create_model("deepsea", seq_len=200, n_targets=5, hidden=64, conv_channels=(8, 8, 8))
    torch.save(small.state_dict(), tmp_path / "sd.pt")
    argv = ["--model", "deepsea", "--weights", str(tmp_path / "sd.pt"), "--fasta", FASTA]
    err = _fails(tmp_path, capsys, *argv)
    hint = err.splitlines()[-1]
    assert hint.startswith("zoo-predict: these sizes fit the file: --model-arg ")
    args = hint.split(": ", 2)[2].split()
    out = tmp_path / "fits.tsv"
    assert run([*argv, *args, "--out", str(out), "--no-progress"]) == 0  # the hint, pasted, works


@pytest.mark.parametrize("compress", [False, True])
def test_blank_lines_at_the_end_of_a_vcf_are_no_records(tmp_path: Path, compress: bool) -> None:
    import gzip

    text = (DATA / "variants.vcf").read_text().rstrip("\n") + "\n\n\n"
    vcf = tmp_path / ("trail.vcf.gz" if compress else "trail.vcf")
    vcf.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    for name, source in (("trail.tsv", vcf), ("plain.tsv", DATA / "variants.vcf")):
        assert run([*variant_argv(source), "--out", str(tmp_path / name), "--no-progress"]) == 0
    assert (tmp_path / "trail.tsv").read_text() == (tmp_path / "plain.tsv").read_text()


def test_a_checkpoint_record_of_absurd_size_is_refused_before_allocating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = ClassificationTask(zoo.create_model("binary_classifier", in_features=4))
    ckpt = lightning_style_checkpoint(task, tmp_path / "task.ckpt")
    saved = torch.load(ckpt, weights_only=True)
    saved["hyper_parameters"]["model_record"]["args"]["hidden"] = [100_000, 100_000]  # 40 GB of weights
    torch.save(saved, ckpt)
    err = _fails(tmp_path, capsys, "--weights", str(ckpt), "--fasta", FASTA)
    assert "net.0.weight: shape in file [1, 4], in model [100000, 4]" in err
    assert "Traceback" not in err


def test_deeply_nested_zoo_args_are_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safetensors.torch import save_file

    bad = tmp_path / "deep.safetensors"
    meta = {"zoo_model": "deepsea", "zoo_args": "[" * 100_000 + "]" * 100_000}
    save_file(zoo.load_model(WEIGHTS).state_dict(), bad, metadata=meta)
    err = _fails(tmp_path, capsys, "--weights", str(bad), "--fasta", FASTA)
    assert "'zoo_args' is nested too deep" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_non_finite_n_value_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    err = _fails(tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", FASTA, f"--n-value={value}")
    assert f"--n-value {value} is not a finite number" in err


def test_a_checkpoint_that_stored_a_nan_n_value_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = ClassificationTask(example_model())
    ckpt = lightning_style_checkpoint(task, tmp_path / "task.ckpt")
    saved = torch.load(ckpt, weights_only=True)
    saved["datamodule_hyper_parameters"] = {"n_value": float("nan")}
    torch.save(saved, ckpt)
    err = _fails(tmp_path, capsys, "--weights", str(ckpt), "--fasta", FASTA)
    assert f"{ckpt}: n_value: expected a number in [0, 1], got nan" in err
    from zoo.predict import PredictError, trained_n_value

    with pytest.raises(PredictError, match=r"records the data's n_value=nan, not a finite number"):
        trained_n_value(ckpt)


def test_a_model_arg_nested_too_deep_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    err = _fails(
        tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", FASTA, "--model-arg", f"hidden={deep}"
    )
    assert "--model-arg hidden=...: the value is nested too deep" in err


def test_a_model_arg_too_large_for_torch_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _fails(tmp_path, capsys, "--model", "deepsea", "--weights", str(WEIGHTS), "--fasta", FASTA,
                 "--model-arg", "seq_len=100000000000000000000000")  # fmt: skip
    assert "model 'deepsea' with " in err and "Overflow" in err and len(err.strip().splitlines()) == 1


def test_the_library_raises_library_errors_which_the_command_prints_as_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Scorer raises a PredictError, a zoo.errors.ZooError (so a ValueError) a library caller
    can catch; zoo-predict prints the same error as one line and exits 1."""
    from zoo.errors import ZooError
    from zoo.predict import PredictError, Scorer

    assert issubclass(PredictError, ZooError) and issubclass(PredictError, ValueError)
    with pytest.raises(ZooError, match=r"unknown target 'no_such_target'") as caught:
        Scorer(example_model(), targets=["no_such_target"])
    with pytest.raises(PredictError, match=r"rc='sideways' is not one of"):
        Scorer(example_model(), rc="sideways")
    err = _fails(tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", FASTA, "--targets", "no_such_target")
    assert err == f"zoo-predict: error: {caught.value}\n"


def test_numbers_of_absurd_length_are_one_line_naming_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = "9" * 5000  # past Python's 4,300-digit limit of int()
    genome = ["--weights", str(WEIGHTS), "--genome", str(DATA / "genome.fa")]
    bed = tmp_path / "huge.bed"
    bed.write_text(f"chr1\t{huge}\t{huge}9\n")
    err = _fails(tmp_path, capsys, *genome, "--bed", str(bed))
    assert str(bed) in err and "line 1" in err and "at most 18 digits" in err
    assert err.count("\n") == 1 and len(err) < 300
    err = _fails(tmp_path, capsys, "--weights", str(WEIGHTS), "--fasta", FASTA, "--targets", huge)
    assert "--targets" in err and "at most 18 digits" in err and err.count("\n") == 1 and len(err) < 300
    regions = [*genome, "--step", "100", "--track-format", "bedgraph", "--regions", f"chr1:1-{huge}"]
    err = _fails(tmp_path, capsys, *regions, out="tracks")
    assert "region" in err and "at most 18 digits" in err and err.count("\n") == 1 and len(err) < 300
