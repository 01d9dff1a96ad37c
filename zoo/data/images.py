"""Image data modules: scikit-learn digits, any ImageFolder, torchvision FakeData.

Pixels are scaled to [0, 1] (``scale="unit"``, for sigmoid heads) or [-1, 1]
(``scale="symmetric"``, for tanh heads). Batches are ``(images, class_index)``.
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from zoo.data._errors import check_fractions, check_loader_args

Scale = Literal["unit", "symmetric"]


def rescale(x: torch.Tensor, scale: Scale) -> torch.Tensor:
    """Pixels in [0, 1] mapped to the range ``scale`` names."""
    if scale == "unit":
        return x
    if scale == "symmetric":
        return x * 2 - 1
    raise ValueError(f"scale={scale!r} is not one of ['unit', 'symmetric']")


def seeded_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices of a seeded random split."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(val_fraction * n))
    return order[n_val:], order[:n_val]


class ImageDataModule(L.LightningDataModule):
    """Train/held-out loaders over a data set a subclass builds in :meth:`full_dataset`."""

    def __init__(
        self, scale: Scale = "unit", batch_size: int = 64, val_fraction: float = 0.2, seed: int = 0
    ) -> None:
        super().__init__()
        rescale(torch.zeros(1), scale)  # refuse an unknown scale now, not at the first batch
        check_loader_args(batch_size)
        check_fractions(val_fraction=val_fraction)
        self.scale, self.batch_size, self.val_fraction, self.seed = scale, batch_size, val_fraction, seed
        self.datasets: dict[str, Dataset] = {}

    def full_dataset(self) -> Dataset:
        """Every image, scaled; subclasses implement."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        """Build the data set and split it (seeded)."""
        if self.datasets:
            return
        full = self.full_dataset()
        train, val = seeded_split(len(full), self.val_fraction, self.seed)
        self.datasets = {"train": Subset(full, train.tolist()), "val": Subset(full, val.tolist())}

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches (the last partial batch is dropped: batch norm)."""
        return DataLoader(self.datasets["train"], batch_size=self.batch_size, shuffle=True, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        """Held-out batches."""
        return DataLoader(self.datasets["val"], batch_size=self.batch_size)

    def test_dataloader(self) -> DataLoader:
        """The held-out split again (these data sets have no separate test split)."""
        return self.val_dataloader()


class DigitsDataModule(ImageDataModule):
    """scikit-learn's 1797 8x8 handwritten digits (ships with scikit-learn, no download).

    Args:
        scale: the pixel range: ``"unit"`` [0, 1] or ``"symmetric"`` [-1, 1].
        batch_size: images per batch.
        val_fraction: the seeded fraction of images held out.
        seed: the seed of the split.
    """

    image_size = 8
    n_channels = 1

    def full_dataset(self) -> Dataset:
        """(N, 1, 8, 8) images from 0..16 ink levels, scaled."""
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
        return TensorDataset(rescale(images, self.scale), torch.tensor(digits.target))


class _Scaled(Dataset):
    """Apply :func:`rescale` to the images of a torchvision data set."""

    def __init__(self, base: Dataset, scale: Scale) -> None:
        self.base, self.scale = base, scale

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image, target = self.base[i]
        return rescale(image, self.scale), target


def _transform(image_size: int, n_channels: int):  # -> torchvision transform
    from torchvision import transforms

    steps = [transforms.Resize(image_size), transforms.CenterCrop(image_size)]
    if n_channels == 1:
        steps.append(transforms.Grayscale(1))
    return transforms.Compose([*steps, transforms.ToTensor()])


class ImageFolderDataModule(ImageDataModule):
    """Any folder of images in torchvision's ImageFolder layout (``root/class/*.png``).

    Args:
        root: the folder.
        image_size: the side images are resized and centre-cropped to.
        n_channels: 1 (grey) or 3 (RGB).
        **kwargs (Any): ``scale``, ``batch_size``, ``val_fraction`` and ``seed``, as
            :class:`DigitsDataModule` takes them.
    """

    def __init__(self, root: str, image_size: int = 64, n_channels: int = 3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.root, self.image_size, self.n_channels = root, image_size, n_channels

    def full_dataset(self) -> Dataset:
        """Resized, centre-cropped images, scaled."""
        from torchvision.datasets import ImageFolder

        base = ImageFolder(self.root, transform=_transform(self.image_size, self.n_channels))
        return _Scaled(base, self.scale)


class FakeImageDataModule(ImageDataModule):
    """torchvision FakeData: random images for smoke tests.

    Args:
        n_images: the number of images.
        image_size: their side.
        n_channels: their channels.
        **kwargs (Any): ``scale``, ``batch_size``, ``val_fraction`` and ``seed``, as
            :class:`DigitsDataModule` takes them.
    """

    def __init__(self, n_images: int = 64, image_size: int = 8, n_channels: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n_images, self.image_size, self.n_channels = n_images, image_size, n_channels

    def full_dataset(self) -> Dataset:
        """``n_images`` seeded random images, scaled."""
        from torchvision import transforms
        from torchvision.datasets import FakeData

        size = (self.n_channels, self.image_size, self.image_size)
        base = FakeData(
            self.n_images, size, num_classes=10, transform=transforms.ToTensor(), random_offset=self.seed
        )
        return _Scaled(base, self.scale)
