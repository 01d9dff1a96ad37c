"""Quality figures for the digits runs (README "Training").

python scripts/digits_quality.py vae RUN_DIR   # held-out BCE/pixel vs the mean-image baseline
python scripts/digits_quality.py gan RUN_DIR   # Frechet distance in a digits classifier's logits
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.nn import functional as F

from zoo.models import dcgan_init
from zoo.tasks import GANTask, VAETask
from zoo.tasks.quality import (
    digit_features,
    digits_split,
    frechet_distance,
    mean_image_bce,
    train_digits_classifier,
)


def vae_report(run: Path) -> None:
    """Reconstruction BCE per pixel of the best checkpoint on held-out digits, and the baseline."""
    task = VAETask.load_from_checkpoint(run / "checkpoints" / "best.ckpt", map_location="cpu").eval()
    train, heldout, _, _ = digits_split()
    with torch.no_grad():
        recon = F.binary_cross_entropy(task.reconstruct(heldout), heldout).item()
        floor = F.binary_cross_entropy(heldout, heldout).item()  # pixel entropy: no model goes lower
    baseline = mean_image_bce(train, heldout)
    print(
        f"held-out reconstruction BCE per pixel: VAE {recon:.4f}, mean-image baseline {baseline:.4f}, "
        f"entropy floor {floor:.4f}"
    )


def gan_report(run: Path) -> None:
    """FD(GAN samples, held-out digits) next to FD(real training digits, held-out digits) and
    FD(untrained generator, held-out digits), in a digits classifier's logit space."""
    train, heldout, train_labels, heldout_labels = digits_split()
    classifier = train_digits_classifier(train, train_labels)
    real = digit_features(classifier, heldout)
    accuracy = (real.argmax(1) == heldout_labels).mean()
    n = len(heldout)
    task = GANTask.load_from_checkpoint(run / "checkpoints" / "last.ckpt", map_location="cpu").eval()
    z = torch.randn(n, task.latent_dim, generator=torch.Generator().manual_seed(1))
    untrained = GANTask(
        generator_record=task.hparams.generator_record, discriminator_record=task.hparams.discriminator_record
    )
    untrained.generator.apply(dcgan_init)
    subset = torch.randperm(len(train), generator=torch.Generator().manual_seed(2))[:n]
    figures = {
        "real training digits": digit_features(classifier, train[subset]),
        "GAN samples": digit_features(classifier, task.sample(z)),
        "untrained generator": digit_features(classifier, untrained.sample(z)),
    }
    print(f"digits classifier held-out accuracy {accuracy:.3f}; Frechet distance to {n} held-out digits:")
    for name, features in figures.items():
        print(f"  {name:22s} {frechet_distance(features, real):8.2f}")


def main() -> None:
    """Parse arguments and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("kind", choices=["vae", "gan"])
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args()
    (vae_report if args.kind == "vae" else gan_report)(args.run_dir)


if __name__ == "__main__":
    main()
