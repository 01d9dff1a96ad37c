"""DCGAN-layout image models (Radford et al. 2016): a transposed-conv decoder and a discriminator.

``ImageDecoder`` is the DDPAE decoder (Hsieh et al. 2018); with ``n_layers=5``, ``ngf=64``
it is exactly pytorch/examples' DCGAN generator, keys ``main.0`` ... ``main.12`` included.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo._checks import check_shape
from zoo._registry import register_model
from zoo.heads import HeadedModel, HeadName, make_head


class ImageDecoder(HeadedModel):
    """Latent (N, in_size) -> image (N, n_channels, S, S) with S = 2 ** (n_layers + 1).

    ConvTranspose(4, 1, 0) to 4x4, then ``n_layers - 1`` ConvTranspose(4, 2, 1) doublings,
    halving channels from ``ngf * 2 ** (n_layers - 2)`` to ``ngf``; batch norm and ReLU
    between, no biases. ``head="sigmoid"`` for images in [0, 1] (a VAE's Bernoulli decoder),
    ``"tanh"`` for [-1, 1] (a GAN generator).
    """

    def __init__(
        self,
        in_size: int = 100,
        n_channels: int = 3,
        ngf: int = 64,
        n_layers: int = 5,
        head: HeadName = "tanh",
    ) -> None:
        super().__init__()
        if n_layers < 2:
            raise ValueError(f"ImageDecoder: n_layers={n_layers}, expected >= 2 (8x8 output)")
        self.in_size, self.n_channels, self.ngf, self.n_layers = in_size, n_channels, ngf, n_layers
        channels = ngf * 2 ** (n_layers - 2)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(in_size, channels, 4, 1, 0, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        ]
        for _ in range(n_layers - 2):
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels // 2),
                nn.ReLU(),
            ]
            channels //= 2
        layers.append(nn.ConvTranspose2d(channels, n_channels, 4, 2, 1, bias=False))
        self.main = nn.Sequential(*layers)
        self.head = make_head(head)

    @property
    def image_size(self) -> int:
        """Side of the square output image."""
        return 2 ** (self.n_layers + 1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_size) or (N, in_size, 1, 1) -> (N, n_channels, S, S) before the head."""
        if isinstance(x, torch.Tensor) and x.dim() == 2:
            x = check_shape(x, "ImageDecoder", (None, self.in_size), ("N", "in_size"))
            x = x[:, :, None, None]
        else:
            x = check_shape(x, "ImageDecoder", (None, self.in_size, 1, 1), ("N", "in_size", "1", "1"))
        return self.main(x)


class ImageDiscriminator(HeadedModel):
    """Square image (N, n_channels, S, S) -> one score per image, (N,).

    Conv(4, 2, 1) halvings from S down to 4x4 (batch norm after all but the first,
    LeakyReLU 0.2), then Conv(4, 1, 0) to one value; no biases. S is a power of two >= 8.
    """

    def __init__(
        self,
        n_channels: int = 3,
        ndf: int = 64,
        image_size: int = 64,
        head: HeadName = "sigmoid",
    ) -> None:
        super().__init__()
        if image_size < 8 or image_size & (image_size - 1):
            raise ValueError(f"ImageDiscriminator: image_size={image_size}, expected a power of two >= 8")
        self.n_channels, self.ndf, self.image_size = n_channels, ndf, image_size
        layers: list[nn.Module] = [
            nn.Conv2d(n_channels, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2),
        ]
        channels, size = ndf, image_size // 2
        while size > 4:
            layers += [
                nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels * 2),
                nn.LeakyReLU(0.2),
            ]
            channels, size = channels * 2, size // 2
        layers.append(nn.Conv2d(channels, 1, 4, 1, 0, bias=False))
        self.main = nn.Sequential(*layers)
        self.head = make_head(head)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, n_channels, S, S) -> (N,) before the head."""
        s = self.image_size
        x = check_shape(x, "ImageDiscriminator", (None, self.n_channels, s, s), ("N", "C", "H", "W"))
        return self.main(x).flatten()


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02); batch-norm weight N(1, 0.02), bias 0.

    Use as ``model.apply(dcgan_init)``.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


register_model(
    "image_decoder",
    ImageDecoder,
    paper="Radford et al. 2016 (DCGAN); Hsieh et al. 2018 (DDPAE)",
    input_desc="(N, 100) latent",
)
register_model(
    "image_discriminator",
    ImageDiscriminator,
    paper="Radford et al. 2016 (DCGAN)",
    input_desc="(N, 3, 64, 64) image",
)
