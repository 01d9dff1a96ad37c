"""Per-target evaluation: scores against sklearn, the CSV table, the picked targets and their curves."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from zoo.tasks.evaluation import (
    TargetScore,
    mean_scores,
    pick_targets,
    read_target_table,
    score_targets,
    target_curves,
    write_target_table,
)


def noisy_scores(n: int = 200, n_targets: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits that separate the classes more or less well, target by target."""
    g = torch.Generator().manual_seed(0)
    target = (torch.rand(n, n_targets, generator=g) < 0.3).long()
    strength = torch.linspace(0.2, 3.0, n_targets)
    logits = target * strength + torch.randn(n, n_targets, generator=g)
    return logits, target


def test_scores_per_target_equal_sklearn_and_one_class_targets_are_nan():
    logits, target = noisy_scores()
    target[:, 1] = 0  # no positives
    target[:, 3] = 1  # no negatives
    table = score_targets(logits, target, ["a", "b", "c", "d", "e"])
    probs = torch.sigmoid(logits).numpy()
    for t, row in enumerate(table):
        assert row.name == "abcde"[t]
        assert (row.positives, row.negatives) == (int(target[:, t].sum()), int((1 - target[:, t]).sum()))
        if t in (1, 3):
            assert not row.scored and math.isnan(row.auroc) and math.isnan(row.auprc)
        else:
            assert row.auroc == pytest.approx(roc_auc_score(target[:, t], probs[:, t]), abs=1e-6)
            assert row.auprc == pytest.approx(average_precision_score(target[:, t], probs[:, t]), abs=1e-6)
    means = mean_scores(table)
    assert means["auroc"] == pytest.approx(np.mean([table[t].auroc for t in (0, 2, 4)]))
    assert means["targets_left_out"] == 2


def test_a_single_target_and_missing_names():
    logits, target = noisy_scores(n_targets=1)
    (row,) = score_targets(logits, target)
    assert row.name == "target_0"
    assert row.auroc == pytest.approx(roc_auc_score(target[:, 0], logits[:, 0]), abs=1e-6)
    with pytest.raises(ValueError, match=r"must both be \(N, T\)"):
        score_targets(logits[:, 0], target[:, 0])


def test_the_table_round_trips_through_csv(tmp_path):
    logits, target = noisy_scores()
    target[:, 2] = 0
    table = score_targets(logits, target)
    path = write_target_table(tmp_path / "t.csv", table)
    assert path.read_text().splitlines()[0] == "target,auroc,auprc,positives,negatives"
    back = read_target_table(path)
    assert [r.name for r in back] == [r.name for r in table]
    for a, b in zip(back, table):
        assert (a.positives, a.negatives) == (b.positives, b.negatives)
        assert (a.auroc == b.auroc) or (math.isnan(a.auroc) and math.isnan(b.auroc))  # full precision


def test_best_median_worst_and_their_curves_equal_sklearns():
    logits, target = noisy_scores()
    table = score_targets(logits, target)
    picks = pick_targets(table)
    order = sorted(range(5), key=lambda t: table[t].auroc, reverse=True)
    assert picks == [("best", order[0]), ("median", order[2]), ("worst", order[4])]
    for curve, (_, t) in zip(target_curves(logits, target, table, picks), picks):
        fpr, tpr, _ = roc_curve(target[:, t], logits[:, t])
        assert np.trapezoid(curve.tpr.numpy(), curve.fpr.numpy()) == pytest.approx(np.trapezoid(tpr, fpr))
        precision, recall, _ = precision_recall_curve(target[:, t], logits[:, t])
        assert curve.precision.max().item() == pytest.approx(precision.max())
        assert curve.recall.min().item() == pytest.approx(recall.min())


def test_picks_do_not_repeat_and_skip_unscored_targets():
    rows = [TargetScore("x", 0.9, 0.5, 3, 3), TargetScore("y", math.nan, math.nan, 0, 6)]
    assert pick_targets(rows) == [("best", 0)]
    assert pick_targets([rows[1]]) == []
