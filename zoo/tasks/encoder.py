"""A small convolutional encoder for the VAE: image -> (mean, log-variance) of the latent."""

from __future__ import annotations

import torch
from torch import nn


class ConvEncoder(nn.Module):
    """(N, n_channels, S, S) -> two (N, latent_dim) tensors: mean and log-variance.

    A 3x3 convolution, then stride-2 4x4 convolutions (doubling channels) down to 4x4,
    then one linear layer. S is a power of two >= 4.

    Args:
        n_channels: the images' channels.
        image_size: their side S.
        latent_dim: the latent's length.
        width: the channels of the first convolution.
    """

    def __init__(
        self, n_channels: int = 1, image_size: int = 8, latent_dim: int = 16, width: int = 32
    ) -> None:
        super().__init__()
        if image_size < 4 or image_size & (image_size - 1):
            raise ValueError(f"ConvEncoder: image_size={image_size}, expected a power of two >= 4")
        self.n_channels, self.image_size, self.latent_dim, self.width = (
            n_channels,
            image_size,
            latent_dim,
            width,
        )
        layers: list[nn.Module] = [nn.Conv2d(n_channels, width, 3, 1, 1), nn.LeakyReLU(0.2)]
        channels, size = width, image_size
        while size > 4:
            layers += [
                nn.Conv2d(channels, channels * 2, 4, 2, 1),
                nn.BatchNorm2d(channels * 2),
                nn.LeakyReLU(0.2),
            ]
            channels, size = channels * 2, size // 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.to_latent = nn.Linear(channels * 16, 2 * latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log-variance) of q(z | x).

        Args:
            x: images (N, n_channels, S, S).
        """
        mean, log_var = self.to_latent(self.features(x)).chunk(2, dim=1)
        return mean, log_var
