"""A full disk: every writer stops with one line naming the output and "no space left", and
leaves nothing partial (no output, no temporary file), without a crash."""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _predict_support import DATA, WEIGHTS

from zoo.predict.outputs.writers import HDF5Writer

NO_SPACE = OSError(errno.ENOSPC, "No space left on device")


def _disk_full_after(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """Make positional writes past ``limit`` bytes of a file fail as on a full disk."""
    real = os.pwrite

    def pwrite(fd: int, data: bytes, offset: int) -> int:
        if offset + len(memoryview(data).cast("B")) > limit:
            raise NO_SPACE
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)


@pytest.mark.parametrize("limit", [100, 20_000])  # while the file is made; while rows are written
def test_hdf5_on_a_full_disk_is_one_named_error_and_leaves_nothing(tmp_path, monkeypatch, limit):
    pytest.importorskip("h5py")
    _disk_full_after(monkeypatch, limit)
    scores = np.random.default_rng(0).random((3000, 50), dtype=np.float32)
    with pytest.raises(OSError, match=r"^cannot write --out .*out\.h5: No space left on device$"):
        with HDF5Writer(tmp_path / "out.h5", ["name"], [f"t{j}" for j in range(50)]) as writer:
            for i in range(0, 3000, 500):
                writer.write_columns({"name": [f"r{k}" for k in range(i, i + 500)]}, scores[i : i + 500])
    assert list(tmp_path.iterdir()) == []


def _limit_file_size(size: int):
    def limit() -> None:  # in the child: a write past `size` bytes fails (EFBIG), as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def test_zoo_predict_hdf5_whose_write_fails_is_one_line_not_a_crash(tmp_path: Path) -> None:
    """HDF5 cannot close a file whose write failed; h5py's objects then crashed the process."""
    pytest.importorskip("h5py")
    out = tmp_path / "out.h5"
    argv = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--out", str(out), "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-m", "zoo.predict", *argv],
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size(64_000),  # a chunk of scores is 1 MiB
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"zoo-predict: error: cannot write --out {out}: File too large\n"
    assert list(tmp_path.iterdir()) == []


def test_convert_and_save_weights_on_a_full_disk_name_the_output_and_leave_nothing(tmp_path, monkeypatch):
    import safetensors.torch
    from safetensors import SafetensorError

    import zoo
    from zoo.cli.convert import main as convert_main

    src = zoo.save_weights(zoo.create_model("binary_classifier", in_features=3), tmp_path / "src.safetensors")

    def full_disk(tensors: object, path: str, metadata: object = None) -> None:
        Path(path).write_bytes(b"half")  # what safetensors wrote before the disk filled up
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", full_disk)
    dst = tmp_path / "dst.safetensors"
    with pytest.raises(SystemExit, match=rf"^zoo-convert: cannot write {dst}: No space left on device$"):
        convert_main([str(src), str(dst)])
    with pytest.raises(OSError, match=rf"^cannot write {dst}: No space left on device$") as failed:
        zoo.save_weights(zoo.create_model("binary_classifier", in_features=3), dst)
    assert failed.value.errno == errno.ENOSPC
    assert [p.name for p in tmp_path.iterdir()] == ["src.safetensors"]


def test_zoo_predict_bgzipped_vcf_whose_write_fails_is_one_named_line(tmp_path: Path) -> None:
    """htslib printed its own line and said only "Error closing BGZFile object"."""
    pytest.importorskip("pysam")
    header, records = [], []
    for line in (DATA / "variants.vcf").read_text().splitlines():
        (header if line.startswith("#") else records).append(line)
    records.sort(key=lambda r: (r.split("\t")[0], int(r.split("\t")[1])))
    (tmp_path / "in").mkdir()
    vcf = tmp_path / "in" / "sorted.vcf"
    vcf.write_text("\n".join(header + records) + "\n")
    out = tmp_path / "out" / "scores.vcf.gz"
    out.parent.mkdir()
    argv = [
        "--weights",
        str(WEIGHTS),
        "--genome",
        str(DATA / "genome.fa"),
        "--vcf",
        str(vcf),
        "--out",
        str(out),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "zoo.predict", *argv, "--no-progress"],
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size(600),
        timeout=300,
    )
    assert (done.returncode, done.stderr) == (
        1,
        f"zoo-predict: error: cannot write --out {out}: File too large\n",
    )
    assert list(out.parent.iterdir()) == []


def test_zoo_interpret_whose_write_fails_names_the_output_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "interp"
    argv = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--method", "ism,saliency",
            "--targets", "2,0", "--out", str(out), "--no-progress"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", "from zoo.cli.interpret import main; main()", *argv],
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size(2000),
        timeout=300,
    )
    assert (done.returncode, done.stderr) == (
        1,
        f"zoo-interpret: error: cannot write --out {out}: File too large\n",
    )
    assert list(tmp_path.iterdir()) == []


def test_zoo_sample_whose_write_fails_names_the_output_and_leaves_nothing(tmp_path: Path) -> None:
    import zoo

    zoo.save_weights(zoo.create_model("mlp_decoder", in_size=8), tmp_path / "g.safetensors")
    out = tmp_path / "out" / "samples.png"
    out.parent.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from zoo.cli.sample import main; main()",
            str(tmp_path / "g.safetensors"),
            str(out),
        ],
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size(300),
        timeout=300,
    )
    assert (done.returncode, done.stderr) == (1, f"zoo-sample: cannot write {out}: File too large\n")
    assert list(out.parent.iterdir()) == []
