"""Sample-quality figures on scikit-learn digits: Frechet distance in a digits classifier's
features, and the mean-image reconstruction baseline for the VAE."""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg
from torch.nn import functional as F

import zoo
from zoo.data.images import seeded_split


def digits_split(
    seed: int = 0, val_fraction: float = 0.2
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """(train images, held-out images, train labels, held-out labels); images in [0, 1],
    (N, 1, 8, 8), the same seeded split as :class:`zoo.data.DigitsDataModule`."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    train, val = seeded_split(len(images), val_fraction, seed)
    return images[train], images[val], digits.target[train], digits.target[val]


def train_digits_classifier(images: torch.Tensor, labels: np.ndarray, epochs: int = 200) -> torch.nn.Module:
    """A zoo BinaryClassifier (64 -> 64 -> 10, one sigmoid per digit) trained full-batch with BCE."""
    torch.manual_seed(0)
    model = zoo.create_model("binary_classifier", in_features=64, n_outputs=10, hidden=(64,))
    target = F.one_hot(torch.as_tensor(labels), 10).float()
    x = images.flatten(1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        loss = F.binary_cross_entropy_with_logits(model.logits(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def digit_features(classifier: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    """The classifier's 10 logits per image in [0, 1]: the feature space for Frechet distances."""
    with torch.no_grad():
        return classifier.logits(images.flatten(1)).numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (rows are samples)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root.real))


def mean_image_bce(train: torch.Tensor, heldout: torch.Tensor) -> float:
    """Held-out BCE per pixel of predicting every image as the training mean image."""
    mean = train.mean(0, keepdim=True).clamp(1e-6, 1 - 1e-6).expand_as(heldout)
    return float(F.binary_cross_entropy(mean, heldout))
