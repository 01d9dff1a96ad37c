"""Pictures of classification runs: per-target AUROC and AUPRC, one PNG per evaluation epoch."""

from __future__ import annotations

from pathlib import Path

import torch

from zoo._files import atomic_path

# Up to this many targets get one bar each; more get a histogram of the per-target scores.
MAX_BARS = 40


def save_target_scores_png(
    path: Path, auroc: torch.Tensor, auprc: torch.Tensor, scored: torch.Tensor, title: str
) -> Path:
    """Draw per-target AUROC and AUPRC (targets left out are marked, not drawn) to ``path``.

    Written to a temporary file and renamed, so a failed draw leaves no partial PNG.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display: render to files only
    from matplotlib import pyplot as plt

    auroc, auprc, scored = auroc.float().cpu(), auprc.float().cpu(), scored.bool().cpu()
    n = len(auroc)
    fig, axes = plt.subplots(1, 2, figsize=(10, max(3.0, 0.22 * n + 1.5) if n <= MAX_BARS else 4.0))
    for ax, values, name in zip(axes, (auroc, auprc), ("AUROC", "AUPRC")):
        kept = values[scored]
        if n <= MAX_BARS:
            ax.barh(range(n), torch.where(scored, values, torch.zeros_like(values)).tolist(), color="C0")
            for i in torch.nonzero(~scored).flatten().tolist():
                ax.text(0.01, i, "left out (one class only)", va="center", fontsize=7, color="C3")
            ax.set_yticks(range(n), [f"target_{i}" for i in range(n)], fontsize=7)
            ax.invert_yaxis()
            ax.set_xlim(0, 1)
            ax.set_xlabel(name)
        else:
            ax.hist(kept.tolist(), bins=20, range=(0, 1), color="C0")
            ax.set_xlabel(f"{name} per target")
            ax.set_ylabel("targets")
        mean = kept.mean().item() if len(kept) else float("nan")
        ax.set_title(f"{name}: mean {mean:.3f} over {len(kept)} of {n} targets", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        with atomic_path(path, suffix=".png") as tmp:  # the suffix tells savefig the format
            fig.savefig(tmp, dpi=90)
    finally:
        plt.close(fig)
    return path
