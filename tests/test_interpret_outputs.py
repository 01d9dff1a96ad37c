"""What interpretation writes: TF-MoDISco inputs (and a modisco run on them) and PNG pictures."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_interpret_ism import random_one_hot

from zoo.interpret.modisco import save_modisco_inputs
from zoo.interpret.pictures import plot_attribution, strongest_window

MOTIF = "TGACTCAGCA"


def planted(n: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One-hot sequences (n, 4, L) with MOTIF near the middle of each, and hypothetical
    contributions that are high for the motif's bases there and noise elsewhere."""
    rng = np.random.default_rng(seed)
    seqs = rng.integers(0, 4, (n, length))
    hyp = rng.normal(0, 0.05, (n, 4, length)).astype(np.float32)
    for i in range(n):
        at, scale = rng.integers(length // 2 - 25, length // 2 + 15), rng.uniform(0.5, 1.5)
        for j, base in enumerate(MOTIF):
            k = "ACGT".index(base)
            seqs[i, at + j] = k
            hyp[i, :, at + j] -= 0.3 * scale * rng.uniform(0.5, 1.5, 4)
            hyp[i, k, at + j] += scale * rng.uniform(0.8, 1.6)
    one_hot = np.zeros((n, 4, length), np.float32)
    one_hot[np.arange(n)[:, None], seqs, np.arange(length)] = 1
    return one_hot, hyp


def _read_like_modisco(path: Path) -> np.ndarray:
    """What ``modisco motifs`` loads from -s/-a: np.load(path)["arr_0"] for .npz, else np.load."""
    return np.load(path)["arr_0"] if path.suffix == ".npz" else np.load(path)


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_modisco_inputs_have_the_shapes_and_dtypes_modisco_reads(tmp_path: Path, suffix: str) -> None:
    one_hot, hyp = planted(7, 60)
    paths = save_modisco_inputs(
        torch.from_numpy(one_hot),
        hyp.astype(np.float64),
        tmp_path / f"ohe{suffix}",
        tmp_path / f"attr{suffix}",
    )
    seqs, attrs = (_read_like_modisco(p) for p in paths)
    assert seqs.dtype == attrs.dtype == np.float32
    assert seqs.shape == attrs.shape == (7, 4, 60)
    np.testing.assert_array_equal(seqs, one_hot)
    np.testing.assert_array_equal(attrs, hyp)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)  # no leftovers


def test_bad_modisco_inputs_write_nothing(tmp_path: Path) -> None:
    one_hot, hyp = planted(3, 40)
    cases = [
        (one_hot, hyp[:, :, :30], "must have the same shape"),
        (one_hot[:, :3], hyp[:, :3], r"one_hot must have shape \(N, 4, L\)"),
        (one_hot, np.where(hyp > 0.5, np.nan, hyp), "hypothetical holds NaN"),
    ]
    for seqs, attrs, message in cases:
        with pytest.raises(ValueError, match=message):
            save_modisco_inputs(seqs, attrs, tmp_path / "ohe.npz", tmp_path / "attr.npz")
    with pytest.raises(ValueError, match="must go to two files"):
        save_modisco_inputs(one_hot, hyp, tmp_path / "same.npz", tmp_path / "same.npz")
    assert list(tmp_path.iterdir()) == []


def _modisco_executable() -> str | None:
    beside = Path(sys.executable).parent / "modisco"
    return str(beside) if beside.exists() else shutil.which("modisco")


@pytest.mark.slow
def test_modisco_finds_the_planted_motif(tmp_path: Path) -> None:
    pytest.importorskip("modiscolite")
    h5py = pytest.importorskip("h5py")
    modisco = _modisco_executable()
    if modisco is None:
        pytest.skip("the modisco command is not installed")
    one_hot, hyp = planted(300, 100)
    ohe, attr = save_modisco_inputs(one_hot, hyp, tmp_path / "ohe.npz", tmp_path / "attr.npz")
    out = tmp_path / "modisco.h5"
    argv = [modisco, "motifs", "-s", str(ohe), "-a", str(attr), "-n", "2000", "-w", "100", "-o", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    with h5py.File(out) as f:
        patterns = f["pos_patterns"]
        assert len(patterns) >= 1
        cwm = patterns["pattern_0"]["contrib_scores"][:]  # (width, 4)
        assert MOTIF in "".join("ACGT"[i] for i in cwm.argmax(1))


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_plot_attribution_writes_a_readable_png(tmp_path: Path) -> None:
    pytest.importorskip("logomaker")
    x = random_one_hot(1, 600)[0]
    gen = torch.Generator().manual_seed(0)
    attributions = torch.randn(4, 600, generator=gen) * 0.01
    attributions[:, 400] = torch.tensor([0.0, 2.0, 0.0, -1.0])  # the strongest signal
    ism = torch.randn(600, 4, generator=gen) * 0.1
    out = plot_attribution(
        tmp_path / "fig.png", attributions, ism, one_hot=x, target_name="K562|CTCF", dpi=100
    )
    width, height = _png_size(out)
    assert 1000 <= width <= 4000 and 400 <= height <= 1200
    assert out.stat().st_size > 20_000
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]
    only_ism = plot_attribution(tmp_path / "ism.png", ism=ism, start=10, end=30, dpi=100)
    assert _png_size(only_ism)[0] >= 800


def test_default_window_is_around_the_strongest_signal() -> None:
    signal = np.zeros(1000)
    signal[700] = 5
    assert strongest_window(signal, 100) == (650, 750)
    signal[700], signal[3] = 0, 5
    assert strongest_window(signal, 100) == (0, 100)  # moved inside the sequence
    assert strongest_window(signal[:40], 100) == (0, 40)


def test_bad_plot_input_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs attributions, ism or both"):
        plot_attribution(tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"ism must have shape \(L, 4\)"):
        plot_attribution(tmp_path / "a.png", ism=torch.zeros(4, 50))
    with pytest.raises(ValueError, match="must cover the same positions"):
        plot_attribution(tmp_path / "a.png", torch.zeros(4, 50), torch.zeros(40, 4))
    with pytest.raises(ValueError, match="start=30, end=20"):
        plot_attribution(tmp_path / "a.png", ism=torch.zeros(50, 4), start=30, end=20)
    assert list(tmp_path.iterdir()) == []
