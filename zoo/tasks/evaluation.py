"""Per-target evaluation of a classifier: AUROC, AUPRC and class counts per target (torchmetrics),
the table as CSV, and ROC / precision-recall curves of chosen targets."""

from __future__ import annotations

import csv
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torchmetrics.functional.classification import (
    binary_auroc,
    binary_average_precision,
    binary_precision_recall_curve,
    binary_roc,
    multilabel_auroc,
    multilabel_average_precision,
)

from zoo._io.writing import atomic_path

TABLE_COLUMNS = ("target", "auroc", "auprc", "positives", "negatives")


@dataclass(frozen=True)
class TargetScore:
    """One target's scores on a split; AUROC and AUPRC are NaN when the split holds one class only."""

    name: str
    auroc: float
    auprc: float
    positives: int
    negatives: int

    @property
    def scored(self) -> bool:
        """Whether the split has both classes for this target (else it has no AUROC)."""
        return self.positives > 0 and self.negatives > 0

    @property
    def prevalence(self) -> float:
        """Fraction of positives: the AUPRC of a random scorer."""
        total = self.positives + self.negatives
        return self.positives / total if total else math.nan


@dataclass(frozen=True)
class TargetCurve:
    """ROC and precision-recall curve of one target, with the role it was picked for."""

    role: str
    score: TargetScore
    fpr: torch.Tensor
    tpr: torch.Tensor
    precision: torch.Tensor
    recall: torch.Tensor


def row_names(names: list[str] | None, n_targets: int) -> list[str]:
    """``names`` when there is one per target, else ``target_0``, ``target_1``, ..."""
    if names is not None and len(names) == n_targets:
        return list(names)
    return [f"target_{i}" for i in range(n_targets)]


def score_targets(
    logits: torch.Tensor, target: torch.Tensor, names: list[str] | None = None
) -> list[TargetScore]:
    """AUROC, AUPRC (average precision), positives and negatives per target.

    ``logits`` (or probabilities) and 0/1 ``target`` are (N, T); torchmetrics computes the
    scores of all targets at once (``average=None``). A target with one class only in
    ``target`` gets NaN scores (torchmetrics would give 0 with a warning).
    """
    if logits.shape != target.shape or logits.ndim != 2:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} must both be (N, T)")
    n_targets = logits.shape[1]
    logits, target = logits.float(), target.long()
    positives = (target == 1).sum(0)
    negatives = len(target) - positives
    if len(target) == 0:
        auroc = auprc = torch.full((n_targets,), math.nan)
    else:
        with warnings.catch_warnings():  # torchmetrics warns about one-class targets, which we mask
            warnings.simplefilter("ignore")
            if n_targets == 1:  # multilabel metrics need two labels or more
                auroc = binary_auroc(logits[:, 0], target[:, 0]).reshape(1)
                auprc = binary_average_precision(logits[:, 0], target[:, 0]).reshape(1)
            else:
                auroc = multilabel_auroc(logits, target, n_targets, average=None)
                auprc = multilabel_average_precision(logits, target, n_targets, average=None)
    names = row_names(names, n_targets)
    table = []
    for i in range(n_targets):
        pos, neg = int(positives[i]), int(negatives[i])
        both = pos > 0 and neg > 0
        table.append(
            TargetScore(
                names[i],
                float(auroc[i]) if both else math.nan,
                float(auprc[i]) if both else math.nan,
                pos,
                neg,
            )
        )
    return table


def mean_scores(table: list[TargetScore]) -> dict[str, float]:
    """Means of AUROC and AUPRC over the targets that have both classes, and how many were left out."""
    scored = [row for row in table if row.scored]
    return {
        "auroc": sum(r.auroc for r in scored) / len(scored) if scored else math.nan,
        "auprc": sum(r.auprc for r in scored) / len(scored) if scored else math.nan,
        "targets_left_out": float(len(table) - len(scored)),
    }


def write_target_table(path: str | os.PathLike[str], table: list[TargetScore]) -> Path:
    """Write the table as CSV (``target,auroc,auprc,positives,negatives``; ``nan`` for a target
    with one class only), atomically."""
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(TABLE_COLUMNS)
        for row in table:
            writer.writerow([row.name, repr(row.auroc), repr(row.auprc), row.positives, row.negatives])
    return Path(path)


def read_target_table(path: str | os.PathLike[str]) -> list[TargetScore]:
    """Read back a table written by :func:`write_target_table`."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        TargetScore(
            r["target"], float(r["auroc"]), float(r["auprc"]), int(r["positives"]), int(r["negatives"])
        )
        for r in rows
    ]


def pick_targets(table: list[TargetScore]) -> list[tuple[str, int]]:
    """(role, index) of the best, median and worst target by AUROC among those with both classes;
    fewer when fewer targets are scored."""
    order = sorted((i for i, r in enumerate(table) if r.scored), key=lambda i: table[i].auroc, reverse=True)
    if not order:
        return []
    picks: list[tuple[str, int]] = []
    for role, i in (("best", order[0]), ("median", order[len(order) // 2]), ("worst", order[-1])):
        if all(i != taken for _, taken in picks):  # one or two scored targets: no repeats
            picks.append((role, i))
    return picks


def target_curves(
    logits: torch.Tensor, target: torch.Tensor, table: list[TargetScore], picks: list[tuple[str, int]]
) -> list[TargetCurve]:
    """ROC and precision-recall curves (torchmetrics, exact thresholds) of the picked targets."""
    curves = []
    for role, i in picks:
        scores, labels = logits[:, i].float(), target[:, i].long()
        fpr, tpr, _ = binary_roc(scores, labels)
        precision, recall, _ = binary_precision_recall_curve(scores, labels)
        curves.append(TargetCurve(role, table[i], fpr, tpr, precision, recall))
    return curves
