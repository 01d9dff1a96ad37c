"""The per-target score pictures of classification runs."""

from pathlib import Path

import pytest
import torch
from PIL import Image

from zoo.tasks.plots import MAX_BARS, save_target_scores_png


@pytest.mark.parametrize("n_targets", [3, MAX_BARS + 10])
def test_target_scores_png_is_a_complete_picture(tmp_path: Path, n_targets: int) -> None:
    auroc, auprc = torch.rand(n_targets), torch.rand(n_targets)
    scored = torch.ones(n_targets, dtype=torch.bool)
    scored[1] = False  # a target with one class only
    path = save_target_scores_png(tmp_path / "images" / "val.png", auroc, auprc, scored, "val")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 300 and image.size[1] > 100
    assert [p.name for p in path.parent.iterdir()] == ["val.png"]  # no temporary file left


def test_a_failed_draw_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.figure import Figure

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        scored = torch.ones(2, dtype=torch.bool)
        save_target_scores_png(tmp_path / "x.png", torch.rand(2), torch.rand(2), scored, "t")
    assert list(tmp_path.iterdir()) == []
