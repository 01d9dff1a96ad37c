"""A tiny DeepSEA-shaped model trained on one planted JASPAR motif (CTCF, MA0139.2), for the motif
and design tests: the model learns the motif, so its attributions and its design should find it."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

SEQ_LEN = 200
MOTIF_ID = "MA0139.2 CTCF"
MODEL_ARGS = {"seq_len": SEQ_LEN, "n_targets": 2, "hidden": 16, "conv_channels": (16, 16, 16)}
# target 0: the CTCF motif is present; target 1: the GC content of the sequence is high
TARGETS = ["CTCF", "GC"]


@lru_cache(maxsize=1)
def ctcf_matrix() -> np.ndarray:
    """MA0139.2 (CTCF) as (4, 15) probabilities, from the JASPAR 2024 database pyjaspar ships."""
    from zoo.motifs import jaspar_motifs

    return jaspar_motifs("JASPAR2024", names=["CTCF"])[MOTIF_ID]


def plant_sites(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` sites (n, 15) drawn column by column from the CTCF matrix sharpened (probabilities
    cubed, renormalised: fewer weak sites, so a tiny model learns it in seconds), as codes 0..3."""
    pwm = ctcf_matrix() ** 3
    pwm = pwm / pwm.sum(0, keepdims=True)
    cum = pwm.cumsum(0)
    draws = rng.random((n, pwm.shape[1]))
    return (draws[:, None, :] > cum[None]).sum(1).clip(0, 3)


def synthetic_data(n: int = 1000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """(one-hot (n, 4, L), labels (n, 2), site starts (-1 where none)) with a CTCF site planted in
    half of the sequences."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, SEQ_LEN))
    has = rng.random(n) < 0.5
    starts = np.full(n, -1)
    width = ctcf_matrix().shape[1]
    sites = plant_sites(rng, n)
    for i in np.flatnonzero(has):
        s = int(rng.integers(0, SEQ_LEN - width + 1))
        codes[i, s : s + width] = sites[i]
        starts[i] = s
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1).copy())
    gc = ((codes == 1) | (codes == 2)).mean(1)
    y = torch.from_numpy(np.stack([has, gc > 0.5], 1).astype(np.float32))
    return x, y, starts


@lru_cache(maxsize=1)
def trained_model() -> torch.nn.Module:
    """The tiny model trained (seeded, a few seconds on one core) to detect the planted CTCF sites."""
    import zoo

    torch.manual_seed(0)
    model = zoo.create_model("deepsea", **MODEL_ARGS, dropouts=(0.0, 0.0, 0.0))
    model.target_names = list(TARGETS)
    x, y, _ = synthetic_data()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    gen = torch.Generator().manual_seed(0)
    for _ in range(6):
        for idx in torch.randperm(len(x), generator=gen).split(64):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model.logits(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()
