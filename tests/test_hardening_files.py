"""What commands leave of the user's files: folder outputs that replace only what an earlier run
of the same command wrote, outputs that do not hang on a FIFO, and no leftovers."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from _io_support import signal_when_writing

from zoo._io.writing import atomic_path, publish_folder, staging_folder

DATA = Path(__file__).parent / "data" / "predict"
WEIGHTS = DATA / "tiny_deepsea.safetensors"


def _interpret(*argv: str) -> int:
    pytest.importorskip("captum")
    from zoo.cli.interpret import call

    return call([*argv, "--targets", "0", "--no-progress"])


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".zoo-outputs")


def test_interpret_overwrite_keeps_a_folder_holding_inputs_and_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "work"
    out.mkdir()
    fasta, weights = out / "seqs.fa", out / "model.safetensors"
    shutil.copy(DATA / "seqs.fa", fasta)
    shutil.copy(WEIGHTS, weights)
    (out / "notes.txt").write_text("mine")
    before = sorted(p.name for p in out.iterdir())
    assert _interpret("--weights", str(weights), "--fasta", str(fasta), "--out", str(out), "--overwrite") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("zoo-interpret: error: --out")
    assert "model.safetensors" in err[0] or "seqs.fa" in err[0] or "notes.txt" in err[0]
    assert sorted(p.name for p in out.iterdir()) == before
    assert (out / "notes.txt").read_text() == "mine" and fasta.read_bytes() == (DATA / "seqs.fa").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]  # no staging or .old folder left


def test_interpret_overwrite_replaces_an_earlier_output_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "interp"
    args = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--out", str(out)]
    assert _interpret(*args) == 0
    written = sorted(p.name for p in out.iterdir())
    assert ".zoo-outputs" in written and "ism.npy" in written
    assert _interpret(*args) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert _interpret(*args, "--overwrite") == 0
    assert sorted(p.name for p in out.iterdir()) == written
    (out / "notes.txt").write_text("mine")
    assert _interpret(*args, "--overwrite") == 1
    err = capsys.readouterr().err
    assert "notes.txt" in err and "did not write" in err
    assert (out / "notes.txt").read_text() == "mine" and (out / "ism.npy").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["interp"] and _hidden(out) == []


def test_interpret_out_dot_writes_the_current_folder_and_leaves_nothing_beside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    args = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--out", "."]
    assert _interpret(*args) == 0
    assert (here / "ism.npy").exists() and (here / "index.tsv").exists()
    assert _interpret(*args, "--overwrite") == 0
    assert os.path.samefile(".", here) and (here / "ism.npy").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here"] and _hidden(here) == []


def test_a_file_added_while_the_folder_is_written_is_not_deleted(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    tmp = staging_folder(target)
    (tmp / "result.txt").write_text("new")
    (target / "added.txt").write_text("mine")  # by the user, while the run was going
    with pytest.raises(FileExistsError, match="added.txt"):
        publish_folder(tmp, target, command="zoo-x")
    assert (target / "added.txt").read_text() == "mine"


def _command(module: str, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a console script in its own process; the timeout only keeps a hang from stalling CI."""
    code = f"import sys; from zoo.cli.{module} import main; sys.argv[0] = 'x'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *argv], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_verify_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    path = "/dev/zero"
    if kind == "fifo":
        path = str(tmp_path / "pipe")
        os.mkfifo(path)
    done = _command("pretrained", "verify", "basset.kipoi", path, cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and path in err[0] and "not a regular file" in err[0], err


@pytest.mark.parametrize("out", ["pipe", "pipe.tsv"])
def test_an_output_fifo_without_a_reader_is_refused_not_waited_on(tmp_path: Path, out: str) -> None:
    fifo = tmp_path / out
    os.mkfifo(fifo)
    args = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--out", str(fifo), "--no-progress"]
    done = _command("predict", *args, cwd=tmp_path)
    assert done.returncode == 1
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and str(fifo) in err[0] and "no reader" in err[0], err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_bedgraph_tracks_into_a_fifo_without_a_reader_are_refused(tmp_path: Path) -> None:
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    os.mkfifo(tracks / "target_0.bedGraph")
    args = ["--weights", str(WEIGHTS), "--genome", str(DATA / "genome.fa"), "--regions", "chr1:1-2000"]
    args += ["--step", "200", "--targets", "0", "--track-format", "bedgraph", "--out", str(tracks)]
    done = _command("predict", *args, "--no-progress", cwd=tmp_path)
    assert done.returncode == 1 and "no reader" in done.stderr, done.stderr
    assert sorted(p.name for p in tracks.iterdir()) == ["target_0.bedGraph"]


def _dead_pid() -> int:
    """The id of a process that has ended (and been waited for)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_a_killed_runs_temporary_file_is_swept_by_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "out.tsv"
    argv = [sys.executable, "-m", "zoo.predict", "--weights", str(WEIGHTS), "--fasta", "-"]
    proc = subprocess.Popen([*argv, "--batch-size", "2", "--out", str(out)], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write((DATA / "seqs.fa").read_bytes())  # rows to write; the input then stalls
    proc.stdin.flush()
    signal_when_writing(proc, tmp_path, ".out.tsv.", signal.SIGKILL)  # nothing can clean up
    proc.stdin.close()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.tsv.")]  # left behind
    argv[-1] = str(DATA / "seqs.fa")
    assert subprocess.run([*argv, "--out", str(out), "--no-progress"]).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tsv"]


def test_only_stale_temporaries_of_the_same_output_are_swept(tmp_path: Path) -> None:
    target = tmp_path / "interp"
    dead, alive = _dead_pid(), os.getppid()
    stale = [f".interp.{dead}-abcdefgh.tmp", f".interp.{dead}-abcdefgh.old"]
    kept = [f".interp.{alive}-abcdefgh.tmp", f".other.{dead}-abcdefgh.tmp", ".interp.notes", "interp.txt"]
    for name in stale + kept:
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (1, 1))
    busy = tmp_path / f".interp.{dead}-ijklmnop.tmp"  # its files still written (another host)
    busy.mkdir()
    (busy / "ism.npy").write_text("rows")
    os.utime(busy, (1, 1))
    staging_folder(target)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert not set(stale) & set(left) and {*kept, busy.name} <= set(left)


def test_a_failed_write_removes_the_folders_it_created_only(tmp_path: Path) -> None:
    (tmp_path / "kept").mkdir()
    for out in (tmp_path / "new" / "deeper" / "out.tsv", tmp_path / "kept" / "new" / "out.tsv"):
        with pytest.raises(RuntimeError), atomic_path(out) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"] and not any((tmp_path / "kept").iterdir())


def test_a_failed_zoo_predict_leaves_no_folder_it_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from zoo.cli.predict import call

    fasta = tmp_path / "bad.fa"
    records = (DATA / "seqs.fa").read_text()
    fasta.write_text(records + ">bad\n" + "AC!T" * 100 + "\n")  # fails after the first rows
    out = tmp_path / "made" / "here" / "out.tsv"
    argv = ["--weights", str(WEIGHTS), "--fasta", str(fasta), "--batch-size", "2", "--no-progress"]
    assert call([*argv, "--out", str(out)]) == 1
    assert "not a DNA symbol" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.fa"]


BOM = b"\xef\xbb\xbf"


def test_text_tables_with_a_byte_order_mark_read_as_without(tmp_path: Path) -> None:
    from zoo.data.labels import read_label_header, read_labels
    from zoo.predict.inputs.bed import bed_intervals
    from zoo.predict.inputs.target_names import read_target_names

    labels = tmp_path / "labels.tsv"
    labels.write_bytes(BOM + b"name\tA\tB\nr1\t0\t1\nr2\t1\t0\n")
    assert read_label_header(labels) == ["A", "B"]
    names, targets, values, *_ = read_labels(labels)
    assert names == ["r1", "r2"] and targets == ["A", "B"] and values.tolist() == [[0, 1], [1, 0]]
    bed = tmp_path / "peaks.bed"
    bed.write_bytes(BOM + b"chr1\t10\t20\tp1\n")
    assert [row[1] for row in bed_intervals(bed)] == ["chr1"]
    target_names = tmp_path / "names.txt"
    target_names.write_bytes(BOM + b"CTCF\nDNase\n")
    assert read_target_names(target_names, 2) == ["CTCF", "DNase"]


def test_a_target_regex_takes_linear_time_however_it_is_written(tmp_path: Path) -> None:
    # (a+)+$ backtracks 2**40 times on each name with a backtracking matcher: a hang
    code = (
        "from zoo.targets import match_targets\n"
        "names = ['a' * 40 + 'b'] * 50 + ['xaay', 'aaa']\n"
        "print(match_targets(names, ['re:(a+)+$', 're:(x|xa)*a{2}y']))\n"
        "from zoo.data.fasta import split_indices\n"
        "print(split_indices(names, 0.0, 0.0, 0, val_pattern='(a+)+$')['val'].tolist())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.split("\n")[:2] == ["[51, 50]", "[51]"], done.stderr


@pytest.mark.parametrize("pattern", [r"re:(a)\1", r"re:a(?=b)", "re:" + "a" * 1001])
def test_a_target_regex_that_cannot_be_bounded_is_refused(pattern: str) -> None:
    from zoo.targets import match_targets

    with pytest.raises(ValueError, match=r"target pattern .* (backreference|longer than)"):
        match_targets(["aa", "ab"], [pattern])


def test_a_killed_index_builds_folder_is_swept_by_the_next_build(tmp_path: Path) -> None:
    from zoo._faidx import build_index

    fasta = tmp_path / "genome.fa"
    shutil.copy(DATA / "genome.fa", fasta)
    stale = tmp_path / f".genome.fa.index.{_dead_pid()}-abcdefgh"
    stale.mkdir()
    (stale / "genome.fa.fai").write_text("partial")
    for path in (stale / "genome.fa.fai", stale):  # before this process started
        os.utime(path, (1, 1))
    build_index(fasta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genome.fa", "genome.fa.fai"]
