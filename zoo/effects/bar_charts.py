"""Pictures of the strongest variants: a signed, named bar chart of each one's largest effects.

The bars are the sequence-class effects (``seqclass:<class>``) where the table has them,
else the per-target ``diff`` values (else every score column), the ``count`` largest by
absolute value, positive effects in red and negative ones in blue.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo._io.writing import atomic_path, publish_folder, staging_folder
from zoo._types import PathLike

BARS = 15
_UNSAFE = re.compile(r"[^0-9A-Za-z._-]+")


_AXIS = {
    "seqclass:": "sequence-class effect (alt - ref, histone-normalised)",
    "diff:": "p_alt - p_ref",
}


def effect_columns(columns: Sequence[str]) -> tuple[list[int], list[str], str]:
    """The columns a picture shows: their indices, their names as bar labels, and the axis label.

    Args:
        columns: the table's score columns.
    """
    for prefix, axis in _AXIS.items():
        chosen = [i for i, c in enumerate(columns) if c.startswith(prefix)]
        if chosen:
            return chosen, [columns[i][len(prefix) :] for i in chosen], axis
    return list(range(len(columns))), list(columns), "score"


def plot_effects(
    path: PathLike,
    title: str,
    names: Sequence[str],
    values: np.ndarray,
    count: int = BARS,
    axis: str = "effect (alt - ref)",
) -> Path:
    """Write a horizontal bar chart of the ``count`` largest |values| (signed, named) as PNG.

    Args:
        path: the PNG file (written atomically).
        title: the picture's title (the variant).
        names: one name per value.
        values: the effects.
        count: how many bars.
        axis: the label of the value axis.
    """
    from matplotlib.figure import Figure

    values = np.nan_to_num(np.asarray(values, np.float64))
    order = np.argsort(-np.abs(values), kind="stable")[:count][::-1]  # largest at the top
    fig = Figure(figsize=(7.0, 0.32 * len(order) + 1.2), dpi=150, layout="constrained")
    ax = fig.add_subplot()
    shown = values[order]
    ax.barh(np.arange(len(order)), shown, color=np.where(shown >= 0, "#c0392b", "#2471a3"))
    ax.set_yticks(np.arange(len(order)), [names[i] for i in order], fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(axis)
    ax.set_title(title, fontsize=10)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", metadata={"Title": title})
    return Path(path)


def write_effect_plots(
    folder: PathLike, rows: Sequence[tuple[tuple[Any, ...], np.ndarray]], columns: Sequence[str]
) -> list[Path]:
    """One picture per row (strongest first) in ``folder``: ``<rank>_<chrom>_<pos>_<ref>_<alt>.png``.

    Args:
        folder: the output folder (replaced as a whole when it is an earlier one).
        rows: (meta, values) of the variants, meta starting chrom, pos and ending ref, alt
            (a VCF row: chrom, pos, id, ref, alt[, status]; a saturation row: chrom, pos, ref, alt).
        columns: the score columns of ``values``.
    """
    indices, names, axis = effect_columns(columns)
    tmp = staging_folder(Path(folder))
    written = []
    try:
        for rank, (meta, values) in enumerate(rows, start=1):
            chrom, pos = meta[0], meta[1]
            ref, alt = (meta[3], meta[4]) if len(meta) >= 5 else (meta[2], meta[3])
            label = f"{chrom}:{pos} {ref}>{alt}"
            stem = _UNSAFE.sub("_", f"{rank:03d}_{chrom}_{pos}_{ref}_{alt}")[:120]
            plot_effects(tmp / f"{stem}.png", label, names, np.asarray(values)[indices], axis=axis)
            written.append(Path(folder) / f"{stem}.png")
        publish_folder(tmp, folder, command="zoo-predict")
    finally:
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp)
    return written
