"""Pictures of runs: per-target scores, curves, upscaled image grids and grids across training."""

import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from zoo.tasks.evaluation import TargetScore, pick_targets, score_targets, target_curves
from zoo.tasks.plots import (
    MAX_BARS,
    MIN_GRID_PIXELS,
    Gallery,
    image_grid,
    pick_epochs,
    save_curves_png,
    save_target_scores_png,
    upscale,
    zoomed_floor,
)


def table_of(n_targets: int) -> list[TargetScore]:
    rows = [TargetScore(f"t{i}", 0.97 + 0.03 * i / n_targets, 0.8, 10, 90) for i in range(n_targets)]
    rows[1] = TargetScore("one_class", math.nan, math.nan, 0, 100)
    return rows


@pytest.mark.parametrize("n_targets", [3, MAX_BARS + 10])
def test_target_scores_png_is_a_complete_picture(tmp_path: Path, n_targets: int) -> None:
    path = save_target_scores_png(tmp_path / "images" / "val.png", table_of(n_targets), "validation, epoch 3")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 300 and image.size[1] > 100
    assert [p.name for p in path.parent.iterdir()] == ["val.png"]  # no temporary file left


def test_score_axes_zoom_to_the_scores() -> None:
    assert zoomed_floor(0.998) == 0.99  # all near 1: the differences stay visible
    assert zoomed_floor(0.6) == pytest.approx(0.54)
    assert zoomed_floor(0.01) == 0.0 and zoomed_floor(math.nan) == 0.0


def test_curves_png(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    target = (torch.rand(100, 4, generator=g) < 0.4).long()
    logits = target * torch.arange(4.0) + torch.randn(100, 4, generator=g)
    table = score_targets(logits, target)
    path = save_curves_png(tmp_path / "c.png", target_curves(logits, target, table, pick_targets(table)), "t")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 600


def test_a_failed_draw_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.figure import Figure

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        save_target_scores_png(tmp_path / "x.png", table_of(3), "t")
    assert list(tmp_path.iterdir()) == []


def test_image_grids_are_upscaled_by_whole_factors_without_smoothing() -> None:
    images = torch.rand(16, 1, 8, 8)
    grid = image_grid(images, nrow=8)
    assert grid.dtype == torch.uint8 and grid.shape == (3, 2 * 8 + 3 * 2, 8 * 8 + 9 * 2)  # C, H, W
    big = upscale(grid)
    factor = math.ceil(MIN_GRID_PIXELS / grid.shape[2])
    assert big.shape == (3, grid.shape[1] * factor, grid.shape[2] * factor)
    assert torch.equal(big[:, ::factor, ::factor], grid.float())  # each pixel became a block
    assert torch.equal(big[:, 1::factor, 1::factor], grid.float())


def test_epochs_picked_across_training() -> None:
    assert pick_epochs(list(range(100))) == [0, 25, 49, 74, 99]  # nearest to 0, 24.75, 49.5, ...
    assert pick_epochs([0, 1]) == [0, 1]
    assert pick_epochs([]) == []


def test_gallery_keeps_the_latest_and_a_thinned_history(tmp_path: Path) -> None:
    gallery = Gallery("samples", keep=8)
    for epoch in range(30):
        latest = gallery.add(tmp_path, epoch, torch.full((4, 1, 8, 8), epoch / 29))
    assert latest == tmp_path / "samples_latest.png" and len(gallery.grids) <= 8
    assert {0, 29} <= set(gallery.grids)  # never the first or the latest dropped
    factor = math.ceil(MIN_GRID_PIXELS / (4 * 8 + 5 * 2))  # one row of 4 images, 2-pixel padding
    with Image.open(latest) as image:
        assert image.size == ((4 * 8 + 5 * 2) * factor, (8 + 2 * 2) * factor)
        inside = (5 * factor, 5 * factor)  # within the first image, past its padding
        assert image.getpixel(inside)[0] == 255 and gallery.grids[0][0, 5, 5] == 0  # the latest epoch's
    progress = gallery.save_progress(tmp_path, "samples")
    assert progress == tmp_path / "samples_progress.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples_latest.png", "samples_progress.png"]
    assert Gallery("empty").save_progress(tmp_path, "t") is None
