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
from zoo.layouts import Layout


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


# --- Public checkpoint layouts ---------------------------------------------------------------

_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_KERNEL_4X4 = (None, None, 4, 4)
# pytorch/examples dcgan/main.py netG -> ImageDecoder(n_layers=5): the same names. Its Tanh
# (main.13) has no parameters: the zoo keeps it outside ``main`` as the head.
DECODER_LAYOUTS = (
    Layout(
        "dcgan-netg",
        "pytorch/examples DCGAN generator netG_epoch_N.pth (the same keys as ImageDecoder(n_layers=5))",
        {
            **{f"main.{i}.weight": f"main.{i}.weight" for i in (0, 3, 6, 9, 12)},
            **{f"main.{i}.{p}": f"main.{i}.{p}" for i in (1, 4, 7, 10) for p in _BN},
        },
        shapes={f"main.{i}.weight": _KERNEL_4X4 for i in (0, 3, 6, 9, 12)},
        implied_args={"n_layers": 5},
    ),
)
# netD -> ImageDiscriminator(image_size=64): the same names; its Sigmoid (main.12) is the head.
DISCRIMINATOR_LAYOUTS = (
    Layout(
        "dcgan-netd",
        "pytorch/examples DCGAN discriminator netD_epoch_N.pth (the same keys as ImageDiscriminator(64))",
        {
            **{f"main.{i}.weight": f"main.{i}.weight" for i in (0, 2, 5, 8, 11)},
            **{f"main.{i}.{p}": f"main.{i}.{p}" for i in (3, 6, 9) for p in _BN},
        },
        shapes={**{f"main.{i}.weight": _KERNEL_4X4 for i in (0, 2, 5, 8)}, "main.11.weight": (1, None, 4, 4)},
        implied_args={"image_size": 64},
    ),
)


def _conv_weights(state: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    keys = sorted(
        (k for k in state if k.startswith("main.") and k.endswith(".weight")),
        key=lambda k: int(k.split(".")[1]),
    )
    return [state[k] for k in keys if state[k].dim() == 4]


def image_decoder_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The ImageDecoder constructor arguments that ``state``'s shapes imply."""
    convs = _conv_weights(state)  # ConvTranspose2d weights are (in, out, kH, kW)
    return {
        "in_size": convs[0].shape[0],
        "ngf": convs[-1].shape[0],
        "n_channels": convs[-1].shape[1],
        "n_layers": len(convs),
    }


def image_discriminator_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The ImageDiscriminator constructor arguments that ``state``'s shapes imply."""
    convs = _conv_weights(state)
    return {"n_channels": convs[0].shape[1], "ndf": convs[0].shape[0], "image_size": 2 ** (len(convs) + 1)}


register_model(
    "image_decoder",
    ImageDecoder,
    paper="Radford et al. 2016 (DCGAN); Hsieh et al. 2018 (DDPAE)",
    input_desc="(N, 100) latent",
    layouts=DECODER_LAYOUTS,
    args_from_state=image_decoder_args_from_state,
)
register_model(
    "image_discriminator",
    ImageDiscriminator,
    paper="Radford et al. 2016 (DCGAN)",
    input_desc="(N, 3, 64, 64) image",
    layouts=DISCRIMINATOR_LAYOUTS,
    args_from_state=image_discriminator_args_from_state,
)
