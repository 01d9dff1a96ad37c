"""Inputs for TF-MoDISco (modisco-lite): one-hot sequences and hypothetical contributions on disk.

``modisco motifs -s ohe.npz -a attr.npz -n MAX_SEQLETS -w WINDOW -o out.h5`` reads each file
with ``np.load`` (``["arr_0"]`` of an .npz), as float32 arrays (N, 4, L) in A, C, G, T order,
and takes the central WINDOW positions (at most L; its default, 400, needs L >= 400).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from zoo._io.writing import atomic_path
from zoo._types import PathLike


def _as_array(values: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim != 3 or array.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4, L), got {array.shape}")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return np.ascontiguousarray(array)


def _save(path: Path, array: np.ndarray) -> None:
    """``array`` as ``path`` (.npz: compressed, as arr_0; anything else: .npy), atomically."""
    with atomic_path(path, suffix=path.suffix) as tmp, open(tmp, "wb") as f:
        if path.suffix == ".npz":
            np.savez_compressed(f, array)  # stored as arr_0, the name modisco reads
        else:
            np.save(f, array)


def save_modisco_inputs(
    one_hot: torch.Tensor | np.ndarray,
    hypothetical: torch.Tensor | np.ndarray,
    sequences_path: PathLike,
    attributions_path: PathLike,
) -> tuple[Path, Path]:
    """Write one-hot sequences and hypothetical contributions (both (N, 4, L)) for
    ``modisco motifs -s sequences_path -a attributions_path``, as float32 .npz (or .npy when the
    name ends so). Each file is either complete or not written.

    Args:
        one_hot: one-hot sequences (N, 4, L).
        hypothetical: hypothetical contributions (N, 4, L).
        sequences_path: the file of the sequences (``-s``).
        attributions_path: the file of the contributions (``-a``).
    """
    seqs = _as_array(one_hot, "one_hot")
    attrs = _as_array(hypothetical, "hypothetical")
    if seqs.shape != attrs.shape:
        raise ValueError(f"one_hot {seqs.shape} and hypothetical {attrs.shape} must have the same shape")
    paths = Path(sequences_path), Path(attributions_path)
    if paths[0].resolve() == paths[1].resolve():
        raise ValueError(
            f"sequences and attributions must go to two files, got {os.fspath(paths[0])!r} twice"
        )
    _save(paths[0], seqs)
    _save(paths[1], attrs)
    return paths
