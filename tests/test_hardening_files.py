"""What commands leave of the user's files: folder outputs that replace only what an earlier run
of the same command wrote, outputs that do not hang on a FIFO, and no leftovers."""

from __future__ import annotations

import os
import shutil
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
