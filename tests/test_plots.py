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
    grey = image_grid(torch.rand(16, 1, 8, 8), nrow=8)
    assert grey.dtype == torch.uint8 and grey.shape == (1, 2 * 8 + 3 * 2, 8 * 8 + 9 * 2)  # C, H, W
    assert image_grid(torch.rand(3, 3, 8, 8)).shape == (3, 12, 3 * 8 + 4 * 2)  # RGB stays RGB
    big = upscale(grey)
    factor = math.ceil(MIN_GRID_PIXELS / grey.shape[2])
    assert big.shape == (1, grey.shape[1] * factor, grey.shape[2] * factor)
    for dy, dx in ((0, 0), (1, 1), (factor - 1, factor - 1)):  # each pixel became a block
        assert torch.equal(big[:, dy::factor, dx::factor], grey)


def test_epochs_picked_across_training() -> None:
    assert pick_epochs(list(range(100))) == [0, 25, 49, 74, 99]  # nearest to 0, 24.75, 49.5, ...
    assert pick_epochs([0, 1]) == [0, 1]
    assert pick_epochs([]) == []


def test_gallery_keeps_the_latest_and_a_thinned_history(tmp_path: Path) -> None:
    gallery = Gallery("samples", keep=8, every_s=0)
    for epoch in range(30):
        latest = gallery.add(tmp_path, epoch, torch.full((4, 1, 8, 8), epoch / 29))
    assert latest == tmp_path / "samples_latest.png" and len(gallery.grids) <= 8
    assert {0, 29} <= set(gallery.grids)  # never the first or the latest dropped
    gaps = [b - a for a, b in zip(sorted(gallery.grids), sorted(gallery.grids)[1:])]
    assert max(gaps) <= 2 * 29 / 7  # the kept epochs stay spread out: no gap twice the even one
    factor = math.ceil(MIN_GRID_PIXELS / (4 * 8 + 5 * 2))  # one row of 4 images, 2-pixel padding
    with Image.open(latest) as image:
        strip = image.size[1] - (8 + 2 * 2) * factor  # the title above the grid
        assert image.mode == "L" and image.size[0] == (4 * 8 + 5 * 2) * factor and 0 < strip < 100
        inside = (5 * factor, strip + 5 * factor)  # within the first image, past its padding
        assert image.getpixel(inside) == 255 and gallery.grids[0][0, 5, 5] == 0  # the latest epoch's
    progress = gallery.save_progress(tmp_path, "samples")
    assert progress == tmp_path / "samples_progress.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples_latest.png", "samples_progress.png"]
    assert Gallery("empty").save_progress(tmp_path, "t") is None


def test_the_progress_picture_shows_epochs_near_the_quarters_of_training(tmp_path: Path) -> None:
    gallery = Gallery("samples", every_s=3600)
    for epoch in range(100):
        gallery.add(tmp_path, epoch, torch.rand(4, 1, 8, 8))
    picked = pick_epochs(sorted(gallery.grids))
    assert picked[0] == 0 and picked[-1] == 99
    assert all(abs(got - want) <= 2 for got, want in zip(picked, (0, 24.75, 49.5, 74.25, 99)))


def test_fast_epochs_write_the_latest_picture_every_few_seconds_and_at_the_end(tmp_path: Path) -> None:
    gallery = Gallery("samples", every_s=3600)
    written = [gallery.add(tmp_path, epoch, torch.full((4, 1, 8, 8), epoch / 9)) for epoch in range(10)]
    assert written[0] == tmp_path / "samples_latest.png" and written[1:] == [None] * 9
    with Image.open(written[0]) as image:
        strip = image.size[1] - (8 + 2 * 2) * 13  # the title above the grid
        assert image.getpixel((5 * 13, strip + 5 * 13)) == 0  # still epoch 0's
    gallery.save_progress(tmp_path, "samples")
    with Image.open(written[0]) as image:
        assert image.getpixel((5 * 13, strip + 5 * 13)) == 255  # the end wrote the last epoch's


def test_the_latest_picture_is_titled_with_its_epoch(tmp_path: Path) -> None:
    """`<name>_latest.png` says what it shows and at which epoch: a dark title line on a white strip
    above the grid, and the same words in the PNG's Title text."""
    gallery = Gallery("samples", title="GAN samples (fixed latents)", every_s=0)
    gallery.add(tmp_path, 0, torch.ones(4, 1, 8, 8))
    latest = gallery.add(tmp_path, 7, torch.ones(4, 1, 8, 8))  # white images: only the title is dark
    assert latest is not None
    with Image.open(latest) as image:
        assert image.text["Title"] == "GAN samples (fixed latents), epoch 7"
        grey = image.convert("L")
        width, height = grey.size
        factor = math.ceil(MIN_GRID_PIXELS / (4 * 8 + 5 * 2))
        strip = height - (8 + 2 * 2) * factor
        assert width == (4 * 8 + 5 * 2) * factor and strip >= 16  # the grid keeps its size below it
        assert grey.crop((0, 0, width, strip)).getextrema()[0] < 128  # letters in the strip
        assert grey.crop((0, strip, width, height)).getextrema()[0] == 255  # the grid untouched
    gallery.add(tmp_path, 8, torch.ones(3, 3, 8, 8))  # RGB images get an RGB strip
    with Image.open(latest) as image:
        assert image.mode == "RGB" and image.text["Title"].endswith(", epoch 8")
