"""zoo-predict on hostile input and output paths: every fault named, nothing silently dropped,
nothing the user has destroyed."""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from _io_support import fifo_reader, signal_when_writing
from _predict_support import DATA, WEIGHTS, direct_probs, example_model, float_columns, read_fasta, read_tsv
from _predict_support import predict_fails as fails

from zoo.cli.predict import call as run

LONG = read_fasta(DATA / "long.fa")["long1"]  # 650 bp
TARGETS = [f"target_{i}" for i in range(5)]
SEQ = LONG[:200].encode() + b"\n"  # one record's sequence line


def _wrapped(seq: bytes, width: int = 60) -> bytes:
    return b"\n".join(seq[i : i + width] for i in range(0, len(seq), width)) + b"\n"


def _fasta_argv(path: Path | str, *extra: str) -> list[str]:
    return ["--weights", str(WEIGHTS), "--fasta", str(path), *extra]


@pytest.mark.parametrize("byte", [b"\x00", b"\x01", b"\xe9", b"\x7f", b"-"])
@pytest.mark.parametrize("step", [None, "200"])
def test_a_byte_that_is_no_dna_symbol_names_record_position_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], byte: bytes, step: str | None
) -> None:
    seq = LONG.encode() if step else LONG[:200].encode()
    at = 300 if step else 150
    fasta = tmp_path / "bad.fa"
    # a good record first: its rows must not be written either
    fasta.write_bytes(
        b">good\n" + _wrapped(seq) + b">weird desc\n" + _wrapped(seq[:at] + byte + seq[at + 1 :])
    )
    err = fails(tmp_path, capsys, *_fasta_argv(fasta, *(["--step", step] if step else [])))
    header = 2 + -(-len(seq) // 60)  # 60 bases a line
    shown = repr(byte)[1:]  # '\x00', '-'
    assert (
        f"FASTA file {str(fasta)!r} line {header}: record 'weird': byte {shown} at position {at} "
        f"(line {header + 1 + at // 60}) is not a DNA symbol; expected A, C, G, T or N"
    ) in err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b">caf\xe9 x\n" + SEQ, "line 1: the header is not UTF-8 text"),
        (b">ok\n" + SEQ + b">\n" + SEQ, "line 3: the header has no record name"),
        (b">a\x00b\n" + SEQ, "line 1: the header holds the control byte '\\x00'"),
        (
            b">a\r" + SEQ[:-1] + b"\r>b\r" + SEQ[:-1] + b"\r",
            "line 1 holds a carriage return (CR) that ends no line",
        ),
        (b">a\n" + b"ACGT\r" * 50 + b"\n", "line 2 holds a carriage return (CR) that ends no line"),
    ],
    ids=["latin1-header", "no-name", "nul-header", "cr-only", "lone-cr"],
)
def test_a_header_or_line_ending_that_cannot_be_read_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    fasta = tmp_path / "odd.fa"
    fasta.write_bytes(content)
    err = fails(tmp_path, capsys, *_fasta_argv(fasta, "--step", "1"))
    assert f"FASTA file {str(fasta)!r} {message}" in err
    assert len(err.strip().splitlines()) == 1


def test_a_truncated_gzip_fasta_is_an_error_not_a_shorter_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = gzip.compress(b"".join(b">r%d\n" % i + _wrapped(LONG.encode()) for i in range(200)))
    fasta = tmp_path / "cut.fa.gz"
    fasta.write_bytes(data[: len(data) // 2])
    err = fails(tmp_path, capsys, *_fasta_argv(fasta, "--step", "200"))
    assert f"FASTA file {str(fasta)!r}: the gzip data ends early (a truncated file)" in err
    assert len(err.strip().splitlines()) == 1
    fasta.write_bytes(data[:-8] + bytes(4) + data[-4:])  # every byte there, the checksum wrong
    err = fails(tmp_path, capsys, *_fasta_argv(fasta, "--step", "200"))
    assert f"FASTA file {str(fasta)!r}: cannot decompress it" in err


def test_crlf_gzip_and_wrapped_fasta_read_like_the_plain_file(tmp_path: Path) -> None:
    plain = DATA / "seqs.fa"
    records = read_fasta(plain)
    body = b"".join(
        b">" + n.encode() + b" some description\r\n" + _wrapped(s.encode(), 70) for n, s in records.items()
    )
    variants = {
        "crlf.fa": body.replace(b"\n", b"\r\n").replace(b"\r\r", b"\r"),
        "wrapped.fa.gz": gzip.compress(body),
    }
    assert run([*_fasta_argv(plain), "--out", str(tmp_path / "plain.tsv"), "--no-progress"]) == 0
    for name, content in variants.items():
        (tmp_path / name).write_bytes(content)
        assert (
            run([*_fasta_argv(tmp_path / name), "--out", str(tmp_path / f"{name}.tsv"), "--no-progress"]) == 0
        )
        assert (tmp_path / f"{name}.tsv").read_text() == (tmp_path / "plain.tsv").read_text(), name


def test_fasta_from_standard_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = read_fasta(DATA / "seqs.fa")
    fasta_bytes = (DATA / "seqs.fa").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(fasta_bytes))))
    out = tmp_path / "dash.tsv"
    assert run([*_fasta_argv("-"), "--out", str(out), "--no-progress"]) == 0
    header, rows = read_tsv(out)
    expected = direct_probs(example_model(), list(records.values()))
    assert [r[0] for r in rows] == list(records)
    assert abs(float_columns(header, rows, TARGETS) - expected).max() < 1e-5
    # /dev/stdin (a pipe from another process): read as a stream, the same table
    done = subprocess.run(
        [sys.executable, "-m", "zoo.predict", *_fasta_argv("/dev/stdin"), "--out", str(tmp_path / "dev.tsv")],
        input=fasta_bytes,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert (tmp_path / "dev.tsv").read_text() == out.read_text()


def test_fastq_records_whose_quality_starts_with_an_at_sign(tmp_path: Path) -> None:
    from zoo.predict.inputs.fastx import read_records

    fastq = tmp_path / "r.fq"
    fastq.write_bytes(b"@r1 x\nACGT\nAC\n+\n@III\nII\n\n@r2\nGGNN\n+r2\nIIII\n")
    assert [tuple(r) for r in read_records(fastq)] == [("r1", "ACGTAC", 1, 0), ("r2", "GGNN", 8, 1)]


@pytest.mark.parametrize("out", ["out.tsv", "out.parquet"])
@pytest.mark.parametrize(
    ("names", "message"),
    [
        (b"a\nb\tc\nd\ne\nf\n", "line 2: the target name 'b\\tc' holds a tab"),
        (b"a\nb\n\nd\ne\n", "line 3 is blank; every target needs a name"),
        (b"a\nb\rc\nd\ne\nf\n", "line 2: the target name 'b\\rc' holds a line break"),
        (b"a\n \nc\nd\ne\n", "line 2 is blank; every target needs a name"),
        (b"a\nb\x00\nc\nd\ne\n", "line 2: the target name 'b\\x00' holds the control character '\\x00'"),
    ],
    ids=["tab", "blank", "cr", "space", "nul"],
)
def test_a_label_that_would_break_the_table_is_refused_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], names: bytes, message: str, out: str
) -> None:
    if out.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    labels = tmp_path / "labels.txt"
    labels.write_bytes(names)
    err = fails(tmp_path, capsys, *_fasta_argv(DATA / "seqs.fa", "--labels", str(labels)), out=out)
    assert f"--labels {labels} {message}" in err


@pytest.mark.parametrize("out", ["out.tsv", "out.parquet"])
def test_the_writers_refuse_column_names_with_tabs_newlines_or_nothing(tmp_path: Path, out: str) -> None:
    if out.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    from zoo.predict import PredictError, Scorer, fasta_job, open_writer, run_job

    for bad, problem in (("x\ty", "holds a tab"), ("x\ny", "holds a line break"), ("", "is empty")):
        with pytest.raises(PredictError, match=re.escape(f"column name {bad!r} {problem}")):
            open_writer(tmp_path / out, ["name"], ["ok", bad])
    scorer = Scorer(example_model(), labels=["a", "b\nc", "d", "e", "f"])
    with pytest.raises(PredictError, match=re.escape("column name 'b\\nc' holds a line break")):
        run_job(fasta_job(DATA / "seqs.fa", scorer.seq_len), scorer, tmp_path / out)
    assert list(tmp_path.iterdir()) == []  # no table, no temporary file


@pytest.mark.parametrize("start", ["3_00", "+300", "\uff13\uff10\uff10", " 300", "300 ", "3e2", "\u00b3"])
def test_bed_coordinates_are_digits_0_to_9_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], start: str
) -> None:
    bed = tmp_path / "odd.bed"
    bed.write_text(f"chr1\t300\t500\nchr1\t{start}\t500\n", encoding="utf-8")
    argv = ["--weights", str(WEIGHTS), "--genome", str(DATA / "genome.fa"), "--bed", str(bed)]
    err = fails(tmp_path, capsys, *argv)
    assert f"{bed} line 2: expected 'chrom<TAB>start<TAB>end' with whole numbers (digits 0-9)" in err


def test_a_bed_name_with_a_carriage_return_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bed = tmp_path / "cr.bed"
    bed.write_bytes(b"chr1\t300\t500\tpeak\rone\n")
    argv = ["--weights", str(WEIGHTS), "--genome", str(DATA / "genome.fa"), "--bed", str(bed)]
    assert f"{bed} line 1: holds the control character '\\r'" in fails(tmp_path, capsys, *argv)


def _as_an_ordinary_user() -> list[str]:
    """A command prefix under which a file of mode 000 cannot be read: none for an ordinary
    user; for root, setpriv dropping the capabilities that let root read anything."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: every file is readable")
    return [
        setpriv,
        "--inh-caps=-all",
        "--ambient-caps=-all",
        "--bounding-set=-dac_override,-dac_read_search",
    ]


def test_unreadable_inputs_are_named_as_unreadable_not_missing(tmp_path: Path) -> None:
    weights, fasta, labels = tmp_path / "w.safetensors", tmp_path / "s.fa", tmp_path / "l.txt"
    shutil.copy(WEIGHTS, weights)
    shutil.copy(DATA / "seqs.fa", fasta)
    shutil.copy(DATA / "labels.txt", labels)
    locked = tmp_path / "locked"
    locked.mkdir()
    shutil.copy(WEIGHTS, locked / "w.safetensors")
    ok = {"--weights": str(WEIGHTS), "--fasta": str(DATA / "seqs.fa")}
    cases = [
        (
            {**ok, "--weights": str(weights)},
            f"weights file {str(weights)!r} cannot be read: permission denied",
        ),
        ({**ok, "--fasta": str(fasta)}, f"FASTA file {str(fasta)!r} cannot be read: permission denied"),
        ({**ok, "--labels": str(labels)}, f"--labels {str(labels)!r} cannot be read: permission denied"),
        (
            {**ok, "--weights": str(locked / "w.safetensors")},
            "cannot be reached: permission denied on a folder on its path",
        ),
    ]
    for path in (weights, fasta, labels, locked):
        path.chmod(0)
    script = (
        "import sys, zoo\nfrom zoo.cli.predict import call as run\n"
        f"for argv in {[[a for kv in opts.items() for a in kv] for opts, _ in cases]!r}:\n"
        f"    print(run([*argv, '--out', {str(tmp_path / 'o.tsv')!r}, '--no-progress']), file=sys.stderr)\n"
        "try:\n"
        f"    zoo.load_weights(zoo.create_model('deepsea', seq_len=200, n_targets=5), {str(weights)!r})\n"
        "except OSError as err:\n"
        "    print('load_weights:', err, file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [*_as_an_ordinary_user(), sys.executable, "-c", script], capture_output=True, text=True, env=env
    )
    locked.chmod(0o755)
    lines = done.stderr.splitlines()
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    for (_, message), (error, code) in zip(cases, zip(lines[0:8:2], lines[1:8:2])):
        assert message in error and error.startswith("zoo-predict: error: ") and code == "1", done.stderr
    assert lines[8] == f"load_weights: weights file {str(weights)!r} cannot be read: permission denied"
    assert not (tmp_path / "o.tsv").exists()


def _loading_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make loading the model fail the test: the check under test must come before it."""

    def loaded(*args: object) -> None:
        raise AssertionError("read the weights before refusing")

    monkeypatch.setattr("zoo.cli.predict.load_predict_model", loaded)


def test_a_read_only_out_is_replaced_only_with_overwrite_and_modes_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, private = tmp_path / "out.tsv", tmp_path / "private.tsv"
    out.write_text("precious")
    out.chmod(0o444)
    with monkeypatch.context() as m:
        _loading_fails(m)
        err = fails(tmp_path, capsys, *_fasta_argv(DATA / "seqs.fa"), out="out.tsv")
    assert f"--out {str(out)!r} is a read-only file; pass --overwrite to replace it" in err
    assert out.read_text() == "precious"
    assert run([*_fasta_argv(DATA / "seqs.fa"), "--out", str(out), "--overwrite", "--no-progress"]) == 0
    assert read_tsv(out)[0][0] == "name" and stat.S_IMODE(out.stat().st_mode) == 0o444
    private.write_text("old")
    private.chmod(0o600)
    assert run([*_fasta_argv(DATA / "seqs.fa"), "--out", str(private), "--no-progress"]) == 0
    assert read_tsv(private)[0][0] == "name" and stat.S_IMODE(private.stat().st_mode) == 0o600


def test_parquet_into_a_pipe_is_refused_before_reading_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "out.parquet"
    os.mkfifo(fifo)
    _loading_fails(monkeypatch)
    err = fails(tmp_path, capsys, *_fasta_argv(DATA / "seqs.fa"), out="out.parquet")
    assert f"--out {str(fifo)!r} is a FIFO or pipe: Parquet is written to regular files only" in err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_tsv_into_a_fifo_streams_and_leaves_the_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    streamed = fifo_reader(fifo)
    assert run([*_fasta_argv(DATA / "seqs.fa"), "--out", str(fifo), "--no-progress"]) == 0
    assert run([*_fasta_argv(DATA / "seqs.fa"), "--out", str(tmp_path / "file.tsv"), "--no-progress"]) == 0
    assert streamed() == (tmp_path / "file.tsv").read_text() and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_out_dev_stdout_pipes_the_table(tmp_path: Path) -> None:
    before = os.lstat("/dev/stdout")
    done = subprocess.run(
        [sys.executable, "-m", "zoo.predict", *_fasta_argv(DATA / "seqs.fa"), "--out", "/dev/stdout"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert run([*_fasta_argv(DATA / "seqs.fa"), "--out", str(tmp_path / "file.tsv"), "--no-progress"]) == 0
    assert done.stdout == (tmp_path / "file.tsv").read_text()
    assert "wrote 8 rows to /dev/stdout" in done.stderr
    after = os.lstat("/dev/stdout")
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)  # not replaced


@pytest.mark.parametrize("via", ["name", "symlink", "hardlink", "relative"])
@pytest.mark.parametrize(
    "which", ["--fasta", "--labels", "--weights", "--genome", "--bed", "--vcf", "genome index"]
)
def test_out_that_is_one_of_the_inputs_is_refused_before_reading_anything(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    which: str,
    via: str,
) -> None:
    files = {}
    for option, name in [("--fasta", "seqs.fa"), ("--labels", "labels.txt"), ("--genome", "genome.fa"),
                         ("--bed", "peaks.bed"), ("--vcf", "variants.vcf"), ("genome index", "genome.fa.fai"),
                         ("--weights", WEIGHTS.name)]:  # fmt: skip
        files[option] = tmp_path / name
        shutil.copy(DATA / name, files[option])
    victim = files[which]
    out = {"name": victim, "relative": Path(os.path.relpath(victim)), "symlink": tmp_path / "link.tsv"}
    out["hardlink"] = tmp_path / "hard.tsv"
    if via == "symlink":
        out[via].symlink_to(victim)
    elif via == "hardlink":
        os.link(victim, out[via])
    before = victim.read_bytes()
    inputs = ["--fasta", str(files["--fasta"])]
    if which in ("--genome", "--bed", "genome index"):
        inputs = ["--genome", str(files["--genome"]), "--bed", str(files["--bed"])]
    elif which == "--vcf":
        inputs = ["--genome", str(files["--genome"]), "--vcf", str(files["--vcf"])]
    _loading_fails(monkeypatch)
    argv = ["--weights", str(files["--weights"]), "--labels", str(files["--labels"]), *inputs]
    assert run([*argv, "--out", str(out[via]), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert (
        f"--out {str(out[via])!r} is the same file as {which} " in err and "write the table elsewhere" in err
    )
    assert victim.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_mid_run_removes_the_temporary_file_and_exits_128_plus_signum(
    tmp_path: Path, signum: int
) -> None:
    out = tmp_path / "out.tsv"
    records = (DATA / "seqs.fa").read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo.predict", *_fasta_argv("-"), "--batch-size", "2", "--out", str(out)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(records)  # some rows to write; the input then stalls, as a slow pipe does
    proc.stdin.flush()
    err = signal_when_writing(proc, tmp_path, ".out.tsv.", signum)
    assert proc.returncode == 128 + signum, err.decode()
    assert list(tmp_path.iterdir()) == []  # neither the output nor a temporary file
    assert err.decode().strip().splitlines()[-1] == f"zoo-predict: stopped by {signal.Signals(signum).name}"
    assert b"Traceback" not in err


def test_a_failed_write_is_one_named_error() -> None:
    if not os.path.exists("/dev/full") or not stat.S_ISCHR(os.stat("/dev/full").st_mode):
        pytest.skip("no /dev/full device here")  # (a regular file of that name fills no disk)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo.predict",
            *_fasta_argv(DATA / "seqs.fa"),
            "--out",
            "/dev/full",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr == "zoo-predict: error: cannot write --out /dev/full: No space left on device\n"


@pytest.mark.parametrize("index_time", ["older", "newer"])
def test_a_stale_genome_index_is_rebuilt_not_trusted(tmp_path: Path, index_time: str) -> None:
    genome = tmp_path / "genome.fa"
    shutil.copy(DATA / "genome.fa", genome)
    shutil.copy(DATA / "genome.fa.fai", tmp_path / "genome.fa.fai")  # describes the shipped genome
    # the genome changes: a new contig first shifts every offset the index holds
    genome.write_bytes(b">chr0\n" + _wrapped(LONG.encode(), 60) + (DATA / "genome.fa").read_bytes())
    later = genome.stat().st_mtime + (-100 if index_time == "older" else 100)
    os.utime(tmp_path / "genome.fa.fai", (later, later))
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(genome, fresh / "genome.fa")  # no index: pysam builds a right one
    for g, out in ((genome, tmp_path / "stale.tsv"), (fresh / "genome.fa", tmp_path / "fresh.tsv")):
        argv = ["--weights", str(WEIGHTS), "--genome", str(g), "--bed", str(DATA / "peaks.bed")]
        assert run([*argv, "--out", str(out), "--no-progress"]) == 0
    assert (tmp_path / "stale.tsv").read_text() == (tmp_path / "fresh.tsv").read_text()
    assert (tmp_path / "genome.fa.fai").read_text() == (fresh / "genome.fa.fai").read_text()


@pytest.mark.parametrize("byte", [b"\x00", b"\xe9", b"-"])
def test_a_genome_byte_that_is_no_base_names_contig_and_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], byte: bytes
) -> None:
    data = bytearray((DATA / "genome.fa").read_bytes())
    at = len(">chr1\n") + 350 // 60 * 61 + 350 % 60  # 0-based position 350 of chr1, 60 bases a line
    data[at : at + 1] = byte
    (tmp_path / "g").mkdir()
    genome = tmp_path / "g" / "genome.fa"  # pysam writes its index there
    genome.write_bytes(bytes(data))
    argv = ["--weights", str(WEIGHTS), "--genome", str(genome), "--bed", str(DATA / "peaks.bed")]
    err = fails(tmp_path, capsys, *argv)
    shown = repr(byte)[1:]
    assert f"genome {str(genome)!r} chr1: byte {shown} at position 350 is not a DNA symbol" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b">chr1\r" + b"ACGT" * 300 + b"\r", "its lines end in CR only (classic Mac)"),
        (
            b">chr1\nACGT\n" + b"ACGT" * 15 + b"\n",
            "Different line length in sequence 'chr1'",
        ),
    ],
    ids=["cr-only", "ragged"],
)
def test_a_genome_that_cannot_be_indexed_is_one_named_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], content: bytes, reason: str
) -> None:
    (tmp_path / "g").mkdir()
    genome = tmp_path / "g" / "genome.fa"
    genome.write_bytes(content)
    argv = ["--weights", str(WEIGHTS), "--genome", str(genome), "--bed", str(DATA / "peaks.bed")]
    err = fails(tmp_path, capfd, *argv)  # capfd: htslib writes to the process's stderr itself
    assert err.startswith(f"zoo-predict: error: genome {str(genome)!r}: cannot index it: ") and reason in err
    assert len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path / "g") == ["genome.fa"]


def test_out_that_is_the_file_on_standard_input_is_refused(tmp_path: Path) -> None:
    fasta = tmp_path / "seqs.fa"
    shutil.copy(DATA / "seqs.fa", fasta)
    with open(fasta, "rb") as stdin:  # zoo-predict --fasta - --out seqs.fa < seqs.fa
        done = subprocess.run(
            [sys.executable, "-m", "zoo.predict", *_fasta_argv("-"), "--out", str(fasta)],
            stdin=stdin,
            capture_output=True,
            text=True,
        )
    assert done.returncode == 1 and f"--out {str(fasta)!r} is the same file as --fasta" in done.stderr
    assert fasta.read_bytes() == (DATA / "seqs.fa").read_bytes()


@pytest.mark.parametrize("index_time", ["older", "same", "newer"])
def test_an_index_missing_a_contig_added_at_the_end_is_rebuilt(tmp_path: Path, index_time: str) -> None:
    genome = tmp_path / "genome.fa"
    shutil.copy(DATA / "genome.fa", genome)
    shutil.copy(DATA / "genome.fa.fai", tmp_path / "genome.fa.fai")  # describes the shipped genome
    with open(genome, "ab") as f:  # every offset the index holds stays right
        f.write(b">chr3\n" + _wrapped(LONG.encode(), 60))
    shift = {"older": -100, "same": 0, "newer": 100}[index_time]
    at = genome.stat().st_mtime_ns + shift * 10**9
    os.utime(tmp_path / "genome.fa.fai", ns=(at, at))
    bed = tmp_path / "peaks.bed"
    bed.write_text("chr3\t100\t300\tnew\n")
    out = tmp_path / "out.tsv"
    argv = ["--weights", str(WEIGHTS), "--genome", str(genome), "--bed", str(bed), "--out", str(out)]
    assert run([*argv, "--no-progress"]) == 0
    header, rows = read_tsv(out)
    assert len(rows) == 1 and "missing_contig" not in "\t".join(rows[0]) and "nan" not in rows[0]
    assert "chr3\t650\t" in (tmp_path / "genome.fa.fai").read_text()


@pytest.mark.parametrize("indexed", [False, True])
def test_a_genome_with_a_repeated_contig_name_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], indexed: bool
) -> None:
    genome = tmp_path / "genome.fa"
    genome.write_bytes((DATA / "genome.fa").read_bytes() + b">chr1\n" + _wrapped(LONG.encode(), 60))
    if indexed:  # samtools faidx leaves the second chr1 out of the index, with a warning
        with open(f"{genome}.fai", "w") as f:
            f.write((DATA / "genome.fa.fai").read_text())
    argv = ["--weights", str(WEIGHTS), "--genome", str(genome), "--bed", str(DATA / "peaks.bed")]
    err = fails(tmp_path, capsys, *argv)
    assert str(genome) in err and "'chr1'" in err and "repeated" in err and err.count("\n") == 1


def test_an_index_with_a_number_of_absurd_length_is_rebuilt(tmp_path: Path) -> None:
    genome = tmp_path / "genome.fa"
    shutil.copy(DATA / "genome.fa", genome)
    (tmp_path / "genome.fa.fai").write_text(f"chr1\t{'9' * 5000}\t6\t60\t61\nchr2\t1000\t2046\t60\t61\n")
    out = tmp_path / "out.tsv"
    argv = ["--weights", str(WEIGHTS), "--genome", str(genome), "--bed", str(DATA / "peaks.bed")]
    assert run([*argv, "--out", str(out), "--no-progress"]) == 0
    assert (tmp_path / "genome.fa.fai").read_text() == (DATA / "genome.fa.fai").read_text()


def test_a_bgzip_genomes_index_missing_an_added_contig_is_rebuilt_whatever_its_age(tmp_path: Path) -> None:
    import pysam

    plain = tmp_path / "plain.fa"
    shutil.copy(DATA / "genome.fa", plain)
    genome = tmp_path / "genome.fa.gz"
    pysam.tabix_compress(str(plain), str(genome))
    pysam.faidx(str(genome))  # .fai and .gzi of the first version
    with open(plain, "ab") as f:
        f.write(b">chr3\n" + _wrapped(LONG.encode(), 60))
    index = {p: p.read_bytes() for p in (tmp_path / "genome.fa.gz.fai", tmp_path / "genome.fa.gz.gzi")}
    pysam.tabix_compress(str(plain), str(genome), force=True)
    for path, data in index.items():  # the old index, as new as the genome (one clock tick)
        path.write_bytes(data)
        os.utime(path, ns=(genome.stat().st_mtime_ns,) * 2)
    bed = tmp_path / "peaks.bed"
    bed.write_text("chr3\t100\t300\tnew\n")
    out = tmp_path / "out.tsv"
    argv = ["--weights", str(WEIGHTS), "--genome", str(genome), "--bed", str(bed), "--out", str(out)]
    assert run([*argv, "--no-progress"]) == 0
    header, rows = read_tsv(out)
    assert len(rows) == 1 and "missing_contig" not in "\t".join(rows[0])
    assert "chr3\t650\t" in (tmp_path / "genome.fa.gz.fai").read_text()
