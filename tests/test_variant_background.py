"""Backgrounds: e-values from the summary against a plain sorted background (exact in the top,
bracketed by the bin width elsewhere), z-scores, funsig, fingerprints, files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests._predict_support import DATA, example_model
from zoo.effects.background import (
    BINS_PER_OCTAVE,
    Background,
    BackgroundAccumulator,
    BackgroundError,
    funsig,
    model_fingerprint,
)
from zoo.predict import Scorer

FINGERPRINT = {"id": "x", "model": "M"}


def _plain_larger(background: np.ndarray, x: float) -> int:
    """How many background values exceed x, counted one by one."""
    return sum(1 for v in background if v > x)


def _background(n: int, top_k: int, seed: int = 0) -> tuple[Background, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    diff = rng.normal(scale=0.05, size=(n, 3)) * rng.random((n, 1))
    diff[:5] = 0.0  # exact zeros (no effect) occur too
    logfc = diff * rng.uniform(3, 6, size=(n, 3))
    acc = BackgroundAccumulator(3, FINGERPRINT, ["a", "b", "c"], top_k=top_k)
    for start in range(0, n, 97):  # batches of uneven size
        acc.add(diff[start : start + 97], logfc[start : start + 97])
    return acc.finish(), diff, logfc


def test_evalues_are_exact_in_the_top_and_within_a_bin_elsewhere():
    background, diff, logfc = _background(3000, top_k=50)
    effect = np.abs(diff * (logfc / math.log(2)))  # as defined: diff times the log2 odds change
    rng = np.random.default_rng(5)
    r = 2 ** (1 / BINS_PER_OCTAVE) * (1 + 1e-9)
    for t in range(3):
        values = effect[:, t]
        kth = np.sort(values)[-50]
        queries = np.concatenate(
            [rng.choice(values, 40), np.quantile(values, [0.01, 0.5, 0.9, 0.99]), [0, 1e9]]
        )
        evalue = background.evalue(queries[:, None], [t], "effect")[:, 0]
        for x, e in zip(queries, evalue):
            exact = _plain_larger(values, x) / len(values)
            if x >= kth:
                assert e == (exact or 1e-6)
            elif x >= 2.0**-30:
                low, high = _plain_larger(values, x * r) / 3000, _plain_larger(values, x / r) / 3000
                assert low - 1e-12 <= e <= high + 1e-12


def test_small_backgrounds_are_exact_and_absdiff_is_kept_too():
    background, diff, _ = _background(200, top_k=256)
    queries = np.abs(diff[::7])
    got = background.evalue(queries, None, "absdiff")
    for j in range(3):
        for i, x in enumerate(queries[:, j]):
            exact = _plain_larger(np.abs(diff[:, j]), x) / 200
            assert got[i, j] == (exact if exact else 1e-6)


def test_zscore_funsig_and_the_file_round_trip(tmp_path):
    background, diff, _ = _background(500, top_k=64)
    rms = np.sqrt((diff**2).mean(0))
    np.testing.assert_allclose(background.zscore(np.array([[0.1, -0.2, 0.0]])), [[0.1, -0.2, 0.0]] / rms)
    e = np.array([[0.5, 0.02, 1e-6]])
    assert funsig(e)[0] == pytest.approx((0.5 * 0.02 * 1e-6) ** (1 / 3))
    background.save(tmp_path / "bg.npz")
    again = Background.load(tmp_path / "bg.npz")
    assert again.n == 500 and again.fingerprint == FINGERPRINT and again.target_names == ["a", "b", "c"]
    x = np.abs(diff[:20])
    np.testing.assert_array_equal(again.evalue(x, None, "absdiff"), background.evalue(x, None, "absdiff"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(BackgroundError, match=r"background '.*junk.npz': not a zoo variant background"):
        Background.load(tmp_path / "junk.npz")


def test_a_million_variants_by_919_targets_stays_small():
    acc = BackgroundAccumulator(919, FINGERPRINT, [str(i) for i in range(919)])
    assert acc.counts.nbytes + acc.top.nbytes + acc.sum_squares.nbytes < 64 << 20  # independent of n


def test_fingerprints_name_both_sides_on_a_mismatch():
    model = example_model()
    scorer = Scorer(model)
    mine = model_fingerprint(model, rc=scorer.rc, n_value=scorer.n_value)
    assert mine == model_fingerprint(model, rc="none", n_value=scorer.n_value)
    background = Background(np.zeros((2, 5, 1)), np.zeros((2, 5, 1)), np.zeros(5), 1, mine, list("abcde"))
    background.check(mine)
    other = model_fingerprint(model, rc="mean", n_value=scorer.n_value)
    with pytest.raises(
        BackgroundError,
        match=rf"made with model fingerprint {mine['id']} .*this run's is {other['id']} .*differ in rc",
    ):
        background.check(other)
    changed = example_model()
    with __import__("torch").no_grad():
        next(changed.parameters())[0].mul_(2)
    third = model_fingerprint(changed, rc="none", n_value=scorer.n_value)
    with pytest.raises(BackgroundError, match=r"differ in weights_sha256"):
        background.check(third)
    assert DATA.is_dir()
