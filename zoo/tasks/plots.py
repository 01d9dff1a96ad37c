"""Pictures of training runs: per-target scores and curves of classifiers, image grids of
generative models (upscaled so that 8x8 digits can be seen)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torchvision.utils import make_grid

from zoo._io.writing import atomic_path
from zoo.tasks.evaluation import TargetCurve, TargetScore

# Up to this many targets get one bar each; more get a histogram of the per-target scores.
MAX_BARS = 40
# Image grids are upscaled (nearest neighbour, whole factors) to at least this many pixels a side.
MIN_GRID_PIXELS = 512


def _pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _save_figure(fig: Any, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as PNG through a temporary file (no partial picture on failure); close it."""
    try:
        with atomic_path(path, suffix=".png") as tmp:  # the suffix tells savefig the format
            fig.savefig(tmp, dpi=dpi)
    finally:
        _pyplot().close(fig)
    return Path(path)


def zoomed_floor(lowest: float) -> float:
    """Left end of a score axis that ends at 1: a margin below ``lowest``, rounded down to 0.01,
    so targets that all score above 0.99 still show their differences."""
    if not math.isfinite(lowest):
        return 0.0
    span = max(1.0 - lowest, 0.02)
    return max(0.0, math.floor((lowest - 0.15 * span) * 100) / 100)


def save_target_scores_png(path: str | Path, table: Sequence[TargetScore], title: str) -> Path:
    """Per-target AUROC and AUPRC, targets sorted by AUROC, on axes zoomed to the scores' range.

    Up to :data:`MAX_BARS` targets get a named bar each with its value (chance marked: 0.5
    for AUROC, the target's share of positives for AUPRC); more get a histogram with the
    worst targets named. Targets with one class only are listed, not drawn.
    """
    plt = _pyplot()
    scored = sorted((r for r in table if r.scored), key=lambda r: r.auroc, reverse=True)
    left_out = [r for r in table if not r.scored]
    n = len(table)
    bars = n <= MAX_BARS
    height = max(3.0, 0.25 * n + 1.8) if bars else 4.5
    fig, axes = plt.subplots(1, 2, figsize=(11, height))
    for ax, key, label in zip(axes, ("auroc", "auprc"), ("AUROC", "AUPRC")):
        values = [getattr(r, key) for r in scored]
        lo = zoomed_floor(min(values, default=math.nan))
        if bars:
            rows = [*scored, *left_out]
            ax.barh(range(len(scored)), [v - lo for v in values], left=lo, color="C0")
            for i, v in enumerate(values):  # four decimals near 1, where the targets differ
                ax.text(v, i, f" {v:.4f}" if v >= 0.99 else f" {v:.3f}", va="center", fontsize=7)
            for i in range(len(scored), len(rows)):
                ax.text(lo, i, " one class only: no score", va="center", fontsize=7, color="C3")
            if key == "auroc" and lo <= 0.5:
                ax.axvline(0.5, ls=":", color="C3", label="chance")
            chance = [(r.prevalence, i) for i, r in enumerate(scored) if r.prevalence >= lo]
            if key == "auprc" and chance:  # a random scorer's AUPRC is the target's share of positives
                ax.plot(*zip(*chance), "|", color="C3", ms=10, label="chance (share of positives)")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="lower right", fontsize=7)
            ax.set_yticks(range(len(rows)), [r.name for r in rows], fontsize=7)
            ax.set_ylim(len(rows) - 0.5, -0.5)  # best at the top
            ax.set_xlim(lo, 1.0 + 0.12 * (1.0 - lo))  # room for the value labels
        else:
            ax.hist(values, bins=30, range=(lo, 1.0), color="C0")
            ax.set_xlim(lo, 1.0)
            ax.set_ylabel("targets")
            worst = ", ".join(
                f"{r.name} {getattr(r, key):.3f}" for r in sorted(scored, key=lambda r: getattr(r, key))[:3]
            )
            if worst:
                ax.text(0.02, 0.97, f"lowest: {worst}", transform=ax.transAxes, va="top", fontsize=7)
        ax.set_xlabel(f"{label} (axis from {lo:.2f})" if lo > 0 else label)
        if values:
            mean, median = sum(values) / len(values), sorted(values)[len(values) // 2]
            d = 4 if min(values) >= 0.99 else 3  # near 1, three decimals would all read 1.000
            summary = f"{label}: mean {mean:.{d}f}, median {median:.{d}f}, min {min(values):.{d}f}"
        else:
            summary = f"{label}: no target has both classes"
        extra = f"; {len(left_out)} of {n} targets with one class only" if left_out else f" over {n} targets"
        ax.set_title(summary + extra, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save_figure(fig, path, dpi=90)


def save_curves_png(path: str | Path, curves: Sequence[TargetCurve], title: str) -> Path:
    """ROC and precision-recall curves of a few targets (best, median, worst), named in the legend."""
    plt = _pyplot()
    fig, (roc, pr) = plt.subplots(1, 2, figsize=(11, 5))
    roc.plot([0, 1], [0, 1], ":", color="grey", label="chance")
    for colour, curve in enumerate(curves):
        s = curve.score
        roc.plot(
            curve.fpr, curve.tpr, color=f"C{colour}", label=f"{curve.role}: {s.name} (AUROC {s.auroc:.3f})"
        )
        pr.plot(
            curve.recall,
            curve.precision,
            color=f"C{colour}",
            label=f"{curve.role}: {s.name} (AUPRC {s.auprc:.3f})",
        )
        pr.axhline(s.prevalence, ls=":", color=f"C{colour}", lw=1)  # a random scorer's precision
    roc.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01))
    pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01))
    roc.set_title("ROC", fontsize=9)
    pr.set_title("precision-recall (dotted: share of positives)", fontsize=9)
    for ax in (roc, pr):
        ax.legend(loc="lower right" if ax is roc else "lower left", fontsize=8)
        ax.set_aspect("equal")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save_figure(fig, path)


def image_grid(images: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """(C, H, W) uint8 grid of images in [0, 1], two white pixels between them (on the CPU);
    one channel for single-channel images (make_grid repeats it three times)."""
    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=2, pad_value=1.0)
    grid = grid[:1] if images.shape[1] == 1 else grid
    return (grid * 255).round().to(torch.uint8)


def upscale(grid: torch.Tensor, min_pixels: int = MIN_GRID_PIXELS) -> torch.Tensor:
    """``grid`` (C, H, W) enlarged by the whole factor that brings its longer side to ``min_pixels``
    or more, each pixel a block (no smoothing)."""
    factor = max(1, math.ceil(min_pixels / max(grid.shape[1:])))
    return grid.repeat_interleave(factor, dim=1).repeat_interleave(factor, dim=2)


def _title_strip(title: str, width: int, channels: int) -> Any:
    """A white PIL image ``width`` wide with ``title`` in black, centred: the heading of a grid."""
    from PIL import Image, ImageDraw, ImageFont

    size = max(12, min(32, width // 28))
    try:
        font: Any = ImageFont.load_default(size=size)  # scalable with FreeType (Pillow >= 10.1)
    except (TypeError, ImportError, OSError):
        font = ImageFont.load_default()  # the fixed bitmap font
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), title, font=font)
    margin = max(4, size // 3)
    strip = Image.new("L" if channels == 1 else "RGB", (width, bottom - top + 2 * margin), "white")
    ImageDraw.Draw(strip).text(
        ((width - (right - left)) // 2 - left, margin - top), title, fill="black", font=font
    )
    return strip


def save_image_grid(path: str | Path, grid: torch.Tensor, title: str | None = None) -> Path:
    """Write a uint8 grid from :func:`image_grid` as an upscaled PNG (grey or RGB), atomically.

    Args:
        path: the PNG to write.
        grid: (C, H, W) uint8 grid, one or three channels.
        title: drawn on a white strip above the grid and kept as the PNG's ``Title`` text; none
            without it.
    """
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    big = upscale(grid)
    pixels = big[0].numpy() if len(big) == 1 else big.permute(1, 2, 0).numpy()
    picture = Image.fromarray(pixels)
    info = PngInfo()
    if title is not None:
        strip = _title_strip(title, picture.width, len(big))
        titled = Image.new(picture.mode, (picture.width, strip.height + picture.height), "white")
        titled.paste(strip, (0, 0))
        titled.paste(picture, (0, strip.height))
        picture = titled
        info.add_text("Title", title)
    with atomic_path(path, suffix=".png") as tmp:
        picture.save(tmp, format="PNG", pnginfo=info)
    return Path(path)


def save_grid_progress_png(path: str | Path, grids: Sequence[tuple[int, torch.Tensor]], title: str) -> Path:
    """Grids from several epochs side by side, each titled with its epoch."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(grids), figsize=(3.6 * len(grids), 4.0), squeeze=False)
    for ax, (epoch, grid) in zip(axes[0], grids):
        picture = grid.permute(1, 2, 0).numpy()
        ax.imshow(picture[..., 0] if picture.shape[2] == 1 else picture, cmap="gray", vmin=0, vmax=255,
                  interpolation="nearest")  # fmt: skip
        ax.set_title(f"epoch {epoch}", fontsize=10)
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _save_figure(fig, path, dpi=120)


def pick_epochs(epochs: Sequence[int], n: int = 5) -> list[int]:
    """About ``n`` of ``epochs`` (sorted) spread over training: the first, the last and evenly
    between (the one nearest each quantile), without repeats."""
    if not epochs:
        return []
    first, last = epochs[0], epochs[-1]
    picked: list[int] = []
    for k in range(n):
        wanted = first + (last - first) * k / max(n - 1, 1)
        nearest = min(epochs, key=lambda e: abs(e - wanted))
        if nearest not in picked:
            picked.append(nearest)
    return picked


class Gallery:
    """One image grid per epoch for a generative task: the latest written as
    ``<name>_latest.png`` under ``title`` and its epoch (at most every ``every_s`` seconds while
    training, and at the end),
    ``keep`` of them spread evenly over the epochs so far, and about five of those drawn side
    by side as ``<name>_progress.png`` at the end.

    The upscaled PNG takes tens of milliseconds to encode: on 8x8 digits, epochs of a few
    tenths of a second would otherwise spend a third of their time on pictures.
    """

    def __init__(self, name: str, title: str | None = None, keep: int = 32, every_s: float = 5.0) -> None:
        """Args:
        name: file names start with it (``<name>_latest.png``, ``<name>_progress.png``).
        title: what the pictures show, their heading (default: ``name``).
        keep: how many epochs' grids are kept for the progress picture.
        every_s: least seconds between two writes of the latest picture while training.
        """
        self.name, self.title, self.keep, self.every_s = name, title or name, keep, every_s
        self.grids: dict[int, torch.Tensor] = {}
        self._written_epoch: int | None = None
        self._written_at = -math.inf

    def add(self, folder: Path, epoch: int, images: torch.Tensor, nrow: int = 8) -> Path | None:
        """Keep this epoch's grid; write it as the latest picture unless one was written less
        than ``every_s`` seconds ago. Returns the path written, if any."""
        self.grids[epoch] = image_grid(images, nrow)
        while len(self.grids) > self.keep:  # keep the epochs evenly spread: drop the most crowded one
            epochs = sorted(self.grids)  # (never the first or the latest)
            crowded = min(range(1, len(epochs) - 1), key=lambda i: epochs[i + 1] - epochs[i - 1])
            del self.grids[epochs[crowded]]
        if time.monotonic() - self._written_at < self.every_s:
            return None
        return self.write_latest(folder)

    def write_latest(self, folder: Path) -> Path | None:
        """Write the latest kept grid as ``<name>_latest.png``, titled with the gallery's title and
        the epoch (None before any epoch)."""
        if not self.grids:
            return None
        epoch = max(self.grids)
        path = save_image_grid(
            folder / f"{self.name}_latest.png", self.grids[epoch], title=f"{self.title}, epoch {epoch}"
        )
        self._written_epoch, self._written_at = epoch, time.monotonic()
        return path

    def save_progress(self, folder: Path, title: str | None = None) -> Path | None:
        """At the end of training: write the latest grid if it is not on disk yet, and draw about
        five kept epochs (first, last and between) side by side under ``title`` (default: the
        gallery's); None before any epoch."""
        picked = pick_epochs(sorted(self.grids))
        if not picked:
            return None
        if self._written_epoch != picked[-1]:
            self.write_latest(folder)
        return save_grid_progress_png(
            folder / f"{self.name}_progress.png", [(e, self.grids[e]) for e in picked], title or self.title
        )
