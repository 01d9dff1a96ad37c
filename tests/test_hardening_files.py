"""What commands leave of the user's files: folder outputs that replace only what an earlier run
of the same command wrote, outputs that do not hang on a FIFO, and no leftovers."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from zoo._io.outputs import publish_folder, staging_folder

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
