"""Seqlets (short spans of high attribution) and their nearest known motifs by TOMTOM.

``call_seqlets`` runs the recursive seqlet caller (zoo.motifs.seqlets) on attributions projected on
the observed bases; ``annotate_seqlets`` compares each seqlet's one-hot sequence with every motif by
TOMTOM (memelite) and keeps the nearest; ``annotate_patterns`` does the same for the patterns of a
``modisco motifs`` result file (each pattern's probability matrix, trimmed where its contribution
falls below 30% of its largest, as modisco's report trims).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from zoo._extras import install_hint
from zoo._types import PathLike
from zoo.motifs.databases import MotifError

if TYPE_CHECKING:  # pandas loads lazily, when a table is made
    import pandas as pd

SEQLET_COLUMNS = ["example_idx", "start", "end", "attribution", "p-value"]
# memelite warns when given fewer than 25 target motifs (its p-values use the targets as
# background); a test or a user's small file is told once, by the docstrings, not per call
_FEW_TARGETS = "tomtom was given"


def _tomtom():  # noqa: ANN202
    try:
        from memelite import tomtom
    except ImportError as err:
        raise ImportError(f"motif annotation needs memelite: {install_hint('motifs')}") from err
    return tomtom


def _array(values: torch.Tensor | np.ndarray, name: str, ndim: int) -> np.ndarray:
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def call_seqlets(
    attributions: torch.Tensor | np.ndarray,
    threshold: float = 0.01,
    min_seqlet_len: int = 4,
    max_seqlet_len: int = 25,
    additional_flanks: int = 0,
) -> pd.DataFrame:
    """Seqlets of projected attributions by the recursive seqlet algorithm (tangermeme's
    ``recursive_seqlets``, the same calls and p-values; :mod:`zoo.motifs.seqlets`).

    Args:
        attributions: (N, L) attribution of each observed base (``(hyp * one_hot).sum(1)``), or
            (N, 4, L), which is summed over the bases.
        threshold: the p-value every sub-span of a seqlet must pass (a ranking cut-off, not an
            error rate).
        min_seqlet_len: the shortest seqlet.
        max_seqlet_len: the longest seqlet.
        additional_flanks: positions added on each side after calling.

    Returns:
        A DataFrame with columns example_idx, start, end (0-based, end exclusive), attribution
        (the sum over the seqlet) and p-value, strongest first; only positive seqlets.
    """
    import pandas as pd

    from zoo.motifs.seqlets import recursive_seqlets

    x = _array(attributions, "attributions", 3 if np.ndim(attributions) == 3 else 2)
    if x.ndim == 3:
        if x.shape[1] != 4:
            raise ValueError(f"attributions must have shape (N, L) or (N, 4, L), got {x.shape}")
        x = x.sum(1)
    if not 1 <= min_seqlet_len <= max_seqlet_len <= x.shape[1]:
        raise ValueError(
            f"min_seqlet_len={min_seqlet_len}, max_seqlet_len={max_seqlet_len}: expected "
            f"1 <= min <= max <= {x.shape[1]} (the sequence length)"
        )
    if not threshold <= 1:
        raise ValueError(f"threshold must be a p-value of at most 1, got {threshold!r}")
    fields = recursive_seqlets(x, threshold, min_seqlet_len, max_seqlet_len, additional_flanks)
    table = pd.DataFrame(dict(zip(SEQLET_COLUMNS, fields)))
    return table.sort_values("p-value", kind="stable").reset_index(drop=True)


def nearest_motifs(
    queries: list[np.ndarray], motifs: dict[str, np.ndarray], n_nearest: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """TOMTOM of each query against every motif, the ``n_nearest`` best kept.

    Args:
        queries: (4, w) matrices (one-hot seqlets, probability matrices).
        motifs: ``{name: (4, width) probabilities}``; TOMTOM's p-values take the motifs'
            columns as background, so give a whole database (25 motifs or more).
        n_nearest: matches kept per query, best first.

    Returns:
        (indices into ``list(motifs)``, p-values, offsets, strands), each (len(queries),
        n_nearest); strand 0 is the motif as given, 1 its reverse complement.
    """
    if not motifs:
        raise MotifError("no motifs to compare with")
    tomtom = _tomtom()
    targets = [np.ascontiguousarray(m, dtype=np.float64) for m in motifs.values()]
    qs = [np.ascontiguousarray(q, dtype=np.float64) for q in queries]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_FEW_TARGETS)
        p, _, offsets, _, strands, idx = tomtom(qs, targets, n_nearest=n_nearest)
    return idx.astype(np.int64), p, offsets.astype(np.int64), strands.astype(np.int64)


def annotate_seqlets(
    one_hot: torch.Tensor | np.ndarray,
    seqlets: pd.DataFrame,
    motifs: dict[str, np.ndarray],
    n_nearest: int = 1,
) -> pd.DataFrame:
    """Name each seqlet by its nearest known motif (TOMTOM of its one-hot sequence).

    Args:
        one_hot: (N, 4, L) the sequences the seqlets were called on.
        seqlets: a DataFrame whose first three columns are example_idx, start, end.
        motifs: ``{name: (4, width) probabilities}`` (:func:`zoo.motifs.load_motifs`).
        n_nearest: matches per seqlet; each adds the columns motif, motif_p-value, offset,
            strand (suffixed ``_2``, ``_3``, ... after the first).

    Returns:
        A copy of ``seqlets`` with the match columns; strand is ``+`` when the seqlet matches the
        motif as given, ``-`` when it matches its reverse complement.
    """
    x = _array(one_hot, "one_hot", 3)
    out = seqlets.copy()
    if len(out) == 0:
        for k in range(n_nearest):
            suffix = "" if k == 0 else f"_{k + 1}"
            for column in ("motif", "motif_p-value", "offset", "strand"):
                out[column + suffix] = []
        return out
    queries = [x[int(i), :, int(s) : int(e)] for i, s, e in out.iloc[:, :3].itertuples(index=False)]
    names = list(motifs)
    idx, p, offsets, strands = nearest_motifs(queries, motifs, n_nearest)
    for k in range(idx.shape[1]):
        suffix = "" if k == 0 else f"_{k + 1}"
        out["motif" + suffix] = [names[i] for i in idx[:, k]]
        out["motif_p-value" + suffix] = p[:, k]
        out["offset" + suffix] = offsets[:, k]
        out["strand" + suffix] = np.where(strands[:, k] == 0, "+", "-")
    return out


def trim_pattern(ppm: np.ndarray, contributions: np.ndarray, fraction: float = 0.3) -> np.ndarray:
    """The columns of a pattern's (4, w) probability matrix from the first to the last whose
    total absolute contribution is at least ``fraction`` of the largest.

    Args:
        ppm: (4, w) probabilities.
        contributions: (4, w) contribution weights (the pattern's CWM).
        fraction: the cut-off, relative to the largest column.
    """
    score = np.abs(contributions).sum(0)
    keep = np.flatnonzero(score >= score.max() * fraction)
    return ppm[:, keep.min() : keep.max() + 1]


def read_modisco_patterns(path: PathLike) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """The patterns of a ``modisco motifs`` result file.

    Args:
        path: the .h5 file modisco-lite writes.

    Returns:
        ``{"pos_patterns.pattern_0": ((4, w) probabilities, (4, w) contributions, n_seqlets)}``.
    """
    try:
        import h5py
    except ImportError as err:
        raise ImportError(f"TF-MoDISco result files need h5py: {install_hint('motifs')}") from err
    shown = os.fspath(path)
    if not Path(path).is_file():
        raise MotifError(f"TF-MoDISco result {shown!r} does not exist")
    patterns = {}
    try:
        with h5py.File(shown, "r") as f:
            for group in ("pos_patterns", "neg_patterns"):
                if group not in f:
                    continue
                names = sorted(f[group], key=lambda n: int(n.rsplit("_", 1)[-1]))
                for name in names:
                    pattern = f[group][name]
                    ppm = np.asarray(pattern["sequence"], dtype=np.float64).T
                    cwm = np.asarray(pattern["contrib_scores"], dtype=np.float64).T
                    n = int(np.asarray(pattern["seqlets"]["n_seqlets"]).ravel()[0])
                    patterns[f"{group}.{name}"] = (ppm, cwm, n)
    except (OSError, KeyError, ValueError) as err:
        raise MotifError(f"{shown!r} is not a TF-MoDISco result file: {err}") from None
    if not patterns:
        raise MotifError(f"TF-MoDISco result {shown!r} holds no patterns")
    return patterns


def annotate_patterns(path: PathLike, motifs: dict[str, np.ndarray], n_nearest: int = 3) -> pd.DataFrame:
    """Name the patterns of a ``modisco motifs`` result file by their nearest known motifs.

    Args:
        path: the TF-MoDISco .h5 result file.
        motifs: ``{name: (4, width) probabilities}``.
        n_nearest: matches per pattern.

    Returns:
        A DataFrame with one row per (pattern, match): pattern, n_seqlets, rank, motif,
        p-value, offset, strand.
    """
    import pandas as pd

    patterns = read_modisco_patterns(path)
    trimmed = [trim_pattern(ppm, cwm) for ppm, cwm, _ in patterns.values()]
    idx, p, offsets, strands = nearest_motifs(trimmed, motifs, n_nearest)
    names = list(motifs)
    rows = []
    for q, (pattern, (_, _, n)) in enumerate(patterns.items()):
        for k in range(idx.shape[1]):
            rows.append((pattern, n, k + 1, names[idx[q, k]], p[q, k], offsets[q, k], "+-"[strands[q, k]]))
    return pd.DataFrame(
        rows, columns=["pattern", "n_seqlets", "rank", "motif", "p-value", "offset", "strand"]
    )
