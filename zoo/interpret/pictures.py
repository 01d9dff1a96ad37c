"""Pictures of one sequence's interpretation: an attribution logo above an ISM heatmap, as PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from zoo._extras import install_hint
from zoo._io.writing import atomic_path
from zoo._types import PathLike

BASES = "ACGT"


def _matrix(values: torch.Tensor | np.ndarray | None, name: str, shape: str) -> np.ndarray | None:
    if values is None:
        return None
    array = values.detach().cpu().float().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    expected = (4, None) if shape == "(4, L)" else (None, 4)
    if array.ndim != 2 or array.shape[expected.index(4)] != 4:
        raise ValueError(f"{name} must have shape {shape} for one sequence, got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return array.astype(np.float64)


def strongest_window(signal: np.ndarray, width: int) -> tuple[int, int]:
    """(start, end) of the ``width`` positions centred on the largest value of ``signal`` (L,),
    moved inside [0, L)."""
    length = len(signal)
    width = min(width, length)
    start = int(np.argmax(signal)) - width // 2
    start = min(max(start, 0), length - width)
    return start, start + width


def plot_attribution(
    path: PathLike,
    attributions: torch.Tensor | np.ndarray | None = None,
    ism: torch.Tensor | np.ndarray | None = None,
    *,
    one_hot: torch.Tensor | np.ndarray | None = None,
    target_name: str | None = None,
    record_name: str | None = None,
    start: int | None = None,
    end: int | None = None,
    width: int = 100,
    dpi: int = 150,
    labels: list[tuple[int, int, str]] | None = None,
    first_position: int = 0,
) -> Path:
    """Write a PNG of one sequence: the attribution logo (top) and the ISM heatmap (bottom).

    ``attributions`` or ``ism`` may be left out. The positions drawn are [start, end); by
    default the ``width`` positions around the strongest signal (attribution, else ISM).

    Args:
        path: the PNG to write.
        attributions: (4, L), e.g. ``result.attributions[i]``; with ``one_hot`` the logo shows
            each position's total on its own base (``attributions.sum(0) * one_hot``), the
            usual picture for DeepLIFT; without, the matrix as given.
        ism: (L, 4) changes of one target, ``ism_result.delta[i, :, :, t]``, drawn as a 4 x L
            heatmap (A, C, G, T rows).
        one_hot: the sequence, (4, L).
        target_name: goes in the title (which the PNG also keeps as its ``Title`` text).
        record_name: the sequence's name (e.g. its FASTA record's), in the title.
        start: the first position drawn.
        end: the end of the positions drawn (exclusive).
        width: the positions drawn by default.
        dpi: the PNG's resolution.
        labels: (start, end, text) spans, e.g. seqlets and their motif names, marked on the
            logo by a bracket with the text above it (those inside the positions drawn), in
            the matrices' columns.
        first_position: the position the matrices' first column is labelled with (the start
            of a window ISM covered: ``ism_result.start``).
    """
    attr = _matrix(attributions, "attributions", "(4, L)")
    heat = _matrix(ism, "ism", "(L, 4)")
    seq = _matrix(one_hot, "one_hot", "(4, L)")
    if attr is None and heat is None:
        raise ValueError("plot_attribution needs attributions, ism or both")
    lengths = {len(heat)} if heat is not None else set()
    lengths |= {m.shape[1] for m in (attr, seq) if m is not None}
    if len(lengths) != 1:
        raise ValueError(
            f"attributions, ism and one_hot must cover the same positions, got lengths {sorted(lengths)}"
        )
    length = lengths.pop()
    if attr is not None and seq is not None:
        attr = attr.sum(0, keepdims=True) * seq
    if start is None and end is None:
        signal = np.abs(attr).sum(0) if attr is not None else np.abs(heat).max(1)
        start, end = strongest_window(signal, width)
    start = 0 if start is None else start
    end = length if end is None else end
    if not 0 <= start < end <= length:
        raise ValueError(f"start={start}, end={end}: expected 0 <= start < end <= {length}")

    from matplotlib.figure import Figure

    span = end - start
    rows = [m for m in (attr, heat) if m is not None]
    fig = Figure(
        figsize=(max(8.0, min(span / 8, 40.0)), 2.6 * len(rows) + 0.6), dpi=dpi, layout="constrained"
    )
    axes = fig.subplots(len(rows), 1, squeeze=False, sharex=True)[:, 0]
    positions = np.arange(start, end) + first_position
    if attr is not None:
        _logo(axes[0], attr[:, start:end], positions)
        if labels:
            _label_spans(axes[0], labels, start, end, float(np.abs(attr[:, start:end]).sum(0).max()))
    if heat is not None:
        _heatmap(fig, axes, heat[start:end].T, positions)
    axes[-1].set_xlabel("position")
    shown = f"positions {start + first_position}-{end - 1 + first_position}"
    title = ": ".join([*(n for n in (record_name, target_name) if n), shown])
    fig.suptitle(title)
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", metadata={"Title": title})
    return path


def _logo(ax, matrix: np.ndarray, positions: np.ndarray) -> None:  # noqa: ANN001 (a matplotlib Axes)
    """A sequence logo of (4, W) heights: letters above zero for positive values, below for negative."""
    try:
        import logomaker
    except ImportError as err:
        raise ImportError(f"attribution logos need logomaker: {install_hint('interpret')}") from err
    import pandas as pd

    frame = pd.DataFrame(matrix.T, columns=list(BASES), index=positions)
    logomaker.Logo(frame, ax=ax, color_scheme="classic")
    ax.axhline(0, color="0.5", linewidth=0.5)
    ax.set_ylabel("attribution")
    ax.set_xlim(positions[0] - 0.5, positions[-1] + 0.5)


def _label_spans(ax, labels: list[tuple[int, int, str]], start: int, end: int, top: float) -> None:  # noqa: ANN001
    """A bracket over each (span start, span end, text) inside [start, end), the text above it."""
    top = top or 1.0
    shown = [(s, e, t) for s, e, t in labels if s < end and e > start]
    for k, (s, e, text) in enumerate(sorted(shown)):
        s, e = max(s, start), min(e, end)
        y = top * (1.08 + 0.14 * (k % 2))  # neighbours alternate heights so their names do not collide
        ax.plot(
            [s - 0.5, s - 0.5, e - 0.5, e - 0.5], [y - top * 0.04, y, y, y - top * 0.04], color="0.2", lw=0.8
        )
        ax.text((s + e - 1) / 2, y + top * 0.02, text, ha="center", va="bottom", fontsize=8)
    if shown:
        low, high = ax.get_ylim()
        ax.set_ylim(low, max(high, top * 1.45))


def _heatmap(fig, axes, matrix: np.ndarray, positions: np.ndarray) -> None:  # noqa: ANN001 (matplotlib)
    """(4, W) ISM changes in the last of ``axes``: red up, blue down, white none, on a colour scale
    symmetric about 0 (its bar takes the same room from every axis, so the columns line up)."""
    ax = axes[-1]
    limit = float(np.abs(matrix).max()) or 1.0
    image = ax.imshow(
        matrix,
        aspect="auto",
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        interpolation="nearest",
        extent=(positions[0] - 0.5, positions[-1] + 0.5, 3.5, -0.5),
    )
    ax.set_yticks(range(4), list(BASES))
    ax.set_ylabel("ISM base")
    fig.colorbar(image, ax=list(axes), label="change of logit", fraction=0.03, pad=0.01)
