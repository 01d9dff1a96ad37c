"""The recursive seqlet caller (the algorithm of tangermeme's ``recursive_seqlets``) in numpy.

Attributions are binned into ``n_bins`` integer bins spanning their range; the histogram of all
bins is the null of one position, and its k-fold convolution the null of a span of k positions
(positions drawn independently). A span's p-value is the chance that a null span of its length
sums at least as high. A span (start, length) is a candidate when every sub-span of length
``min_seqlet_len`` or more inside it, that starts at or after its start, is below the threshold
(the "triangle" of the p-value matrix rooted at it). Candidates are then taken from the longest
to the shortest, each length's in order of p-value (the largest over its prefixes; ties by start),
skipping any that overlaps a seqlet already taken.

Written without numba so that a process pays no compilation: the decode is a loop over the
candidates only.
"""

from __future__ import annotations

import numpy as np


def null_tail_probabilities(
    values: np.ndarray, xmin: float, bin_width: float, max_len: int, n_bins: int
) -> np.ndarray:
    """``rcdf[k, s]`` = P(a sum of k independent bins of ``values``' histogram is >= s).

    Args:
        values: the attributions (any shape), which make the histogram.
        xmin: the lower edge of the first bin.
        bin_width: the width of a bin.
        max_len: the longest span.
        n_bins: the number of bins.
    """
    bins = _bins(values.ravel(), xmin, bin_width, n_bins)
    f = np.bincount(bins, minlength=n_bins).astype(np.float64) / bins.size
    rcdf = np.zeros((max_len + 1, n_bins * max_len + 1))
    pdf = np.ones(1)
    for k in range(1, max_len + 1):
        pdf = np.convolve(pdf, f)
        rcdf[k, : len(pdf)] = np.cumsum(pdf[::-1])[::-1]
    return rcdf


def _bins(x: np.ndarray, xmin: float, bin_width: float, n_bins: int) -> np.ndarray:
    return np.clip(np.floor((x - xmin) / bin_width), 0, n_bins - 1).astype(np.int64)


def recursive_seqlets(
    attributions: np.ndarray,
    threshold: float = 0.01,
    min_seqlet_len: int = 4,
    max_seqlet_len: int = 25,
    additional_flanks: int = 0,
    n_bins: int = 1000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positive seqlets of (N, L) attributions.

    Args:
        attributions: (N, L) attribution of each observed base.
        threshold: the p-value every span of the triangle must be below.
        min_seqlet_len: the shortest seqlet.
        max_seqlet_len: the longest seqlet.
        additional_flanks: positions added on each side of a called seqlet (within the sequence).
        n_bins: the bins of the null histogram.

    Returns:
        (example index, start, end, attribution sum, p-value) arrays, in calling order.
    """
    x = np.asarray(attributions, dtype=np.float64)
    n, length = x.shape
    empty = (np.zeros(0, np.int64),) * 3 + (np.zeros(0),) * 2
    xmin, xmax = float(x.min()), float(x.max())
    if xmax == xmin or threshold <= 0:
        return empty
    max_len = min(max_seqlet_len, length)
    bin_width = (xmax - xmin) / (n_bins - 1)
    rcdf = null_tail_probabilities(x, xmin, bin_width, max_len, n_bins)
    bins = _bins(x, xmin, bin_width, n_bins)
    bin_csum = np.zeros((n, length + 1), np.int64)
    np.cumsum(bins, axis=1, out=bin_csum[:, 1:])
    x_csum = np.zeros((n, length + 1))
    np.cumsum(x, axis=1, out=x_csum[:, 1:])
    # p[k]: (N, L - k + 1) the largest p-value over the prefixes of length >= min of each span of
    # length k; q[k]: the largest over its triangle
    p: dict[int, np.ndarray] = {}
    q: dict[int, np.ndarray] = {}
    for k in range(min_seqlet_len, max_len + 1):
        own = rcdf[k, bin_csum[:, k:] - bin_csum[:, : length - k + 1]]
        if k == min_seqlet_len:
            p[k] = own
            q[k] = own
        else:
            p[k] = np.maximum(own, p[k - 1][:, :-1])
            q[k] = np.maximum(p[k], q[k - 1][:, 1:])
    out: list[tuple[int, int, int, float, float]] = []
    for i in range(n):
        called = np.zeros(length, dtype=bool)
        for k in range(max_len, min_seqlet_len - 1, -1):
            starts = np.flatnonzero(q[k][i] < threshold)
            if len(starts) == 0:
                continue
            for s in starts[np.argsort(p[k][i, starts], kind="stable")]:
                if called[s : s + k].any():
                    continue
                called[s : s + k] = True
                own_p = float(rcdf[k, bin_csum[i, s + k] - bin_csum[i, s]])
                a, b = max(s - additional_flanks, 0), min(s + k + additional_flanks, length)
                out.append((i, a, b, float(x_csum[i, b] - x_csum[i, a]), own_p))
    if not out:
        return empty
    idx, start, end, attr, pv = zip(*out)
    return (
        np.array(idx, np.int64), np.array(start, np.int64), np.array(end, np.int64),
        np.array(attr), np.array(pv),
    )  # fmt: skip
