"""DCGAN-layout image models (Radford et al. 2016): a transposed-conv decoder and a discriminator.

``ImageDecoder`` is the DDPAE decoder (Hsieh et al. 2018); with ``n_layers=5``, ``ngf=64``
it is exactly pytorch/examples' DCGAN generator, keys ``main.0`` ... ``main.12`` included.
The ``final`` options give the 28 x 28 and 32 x 32 adaptations of that code published in
csinva/gan-vae-pretrained-pytorch (MNIST, CIFAR-10, CIFAR-100 grayscale).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from zoo._checks import check_latents, check_shape
from zoo._registry import Conventions, Inputs, register_model
from zoo.heads import HeadedModel, HeadName, make_head
from zoo.weights.layouts import Layout
from zoo.weights.published import PublishedFile, csinva_file

DecoderFinal = Literal["upsample", "1x1", "1x1_crop2"]
DiscriminatorFinal = Literal["4x4", "2x2", "3x3"]


def decoder_image_size(n_layers: int, final: str) -> int:
    """The side of an ImageDecoder's output for ``n_layers`` and ``final``."""
    side = 2**n_layers  # after the 4 x 4 start and n_layers - 2 doublings
    sizes = {"upsample": 2 * side, "1x1": side, "1x1_crop2": side - 4}
    if final not in sizes:
        raise ValueError(f"ImageDecoder: final={final!r} is not one of {sorted(sizes)}")
    return sizes[final]


class ImageDecoder(HeadedModel):
    """Latent (N, in_size) -> image (N, n_channels, S, S).

    ConvTranspose(4, 1, 0) to 4x4, then ``n_layers - 2`` ConvTranspose(4, 2, 1) doublings,
    halving channels from ``ngf * 2 ** (n_layers - 2)`` to ``ngf``, then the ``final``
    layer to ``n_channels``; batch norm and ReLU between, no biases.

    ``final``: ``"upsample"`` is one more ConvTranspose(4, 2, 1) doubling, S = 2 ** (n_layers
    + 1) (pytorch/examples, 64 x 64 at n_layers=5); ``"1x1"`` a ConvTranspose(1, 1, 0),
    S = 2 ** n_layers (csinva's CIFAR generators, 32 x 32); ``"1x1_crop2"`` a
    ConvTranspose(1, 1, 2), which drops 2 pixels on every side, S = 2 ** n_layers - 4
    (csinva's MNIST generator, 28 x 28). ``head="sigmoid"`` for images in [0, 1] (a VAE's
    Bernoulli decoder), ``"tanh"`` for [-1, 1] (a GAN generator).

    Args:
        in_size: the length of the latent.
        n_channels: the channels of the images.
        ngf: the channels of the last doubling layer.
        n_layers: the number of ConvTranspose layers before ``final``.
        head: the output head, a key of :data:`zoo.heads.HEADS`.
        final: the last layer: ``"upsample"``, ``"1x1"`` or ``"1x1_crop2"``.
    """

    def __init__(
        self,
        in_size: int = 100,
        n_channels: int = 3,
        ngf: int = 64,
        n_layers: int = 5,
        head: HeadName = "tanh",
        final: DecoderFinal = "upsample",
    ) -> None:
        super().__init__()
        self.in_size = in_size
        self.n_channels = n_channels
        self.ngf = ngf
        self.n_layers = n_layers
        self.final = final
        if n_layers < 2:
            raise ValueError(f"ImageDecoder: n_layers={n_layers}, expected >= 2 (8x8 output)")
        if decoder_image_size(n_layers, final) < 1:
            raise ValueError(
                f"ImageDecoder: n_layers={n_layers} with final={final!r}, expected n_layers >= 3"
            )
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
        kernel, stride, padding = {"upsample": (4, 2, 1), "1x1": (1, 1, 0), "1x1_crop2": (1, 1, 2)}[final]
        layers.append(nn.ConvTranspose2d(channels, n_channels, kernel, stride, padding, bias=False))
        self.main = nn.Sequential(*layers)
        self.head = make_head(head)

    @property
    def image_size(self) -> int:
        """Side of the square output image."""
        return decoder_image_size(self.n_layers, self.final)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the output images."""
        return (self.n_channels, self.image_size, self.image_size)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_size) or (N, in_size, 1, 1) -> (N, n_channels, S, S) before the head.

        Args:
            x: latents, (N, in_size) or (N, in_size, 1, 1).
        """
        return self.main(check_latents(x, "ImageDecoder", self.in_size, self.input_dtype())[:, :, None, None])


def halvings(image_size: int, final: str) -> int:
    """How many Conv(4, 2, 1) halvings an ImageDiscriminator makes before its ``final`` layer;
    a ValueError for an image size that does not reach the side that layer reads."""
    target = {"4x4": 4, "2x2": 2, "3x3": 3}.get(final)
    if target is None:
        raise ValueError(f"ImageDiscriminator: final={final!r} is not one of ['2x2', '3x3', '4x4']")
    side, count = image_size, 0
    while side > target:
        side, count = side // 2, count + 1  # Conv(4, 2, 1) maps a side s to floor(s / 2)
    if side == target and count >= 1 and (final == "3x3" or image_size & (image_size - 1) == 0):
        return count
    if final == "3x3":
        raise ValueError(
            f"ImageDiscriminator: image_size={image_size} with final='3x3', expected a size whose "
            "halvings reach 3 x 3 (e.g. 28: 28 -> 14 -> 7 -> 3; 6, 12, 24)"
        )
    least = 2 * target
    raise ValueError(
        f"ImageDiscriminator: image_size={image_size}, expected a power of two >= {least} "
        f"(final={final!r}; for 28 x 28 images use final='3x3')"
    )


class ImageDiscriminator(HeadedModel):
    """Square image (N, n_channels, S, S) -> one score per image, (N,).

    Conv(4, 2, 1) halvings (batch norm after all but the first, LeakyReLU 0.2), doubling
    channels from ``ndf``, then one convolution to one value; no biases. ``final`` names the
    side of the map that last convolution reads: ``"4x4"`` halves to 4 x 4, then Conv(4, 1, 0)
    (pytorch/examples; S a power of two >= 8); ``"2x2"`` halves to 2 x 2, then Conv(2, 2, 0)
    (csinva's CIFAR discriminators, S = 32); ``"3x3"`` halves to 3 x 3, then Conv(4, 2, 1)
    (csinva's MNIST discriminator, S = 28: 28 -> 14 -> 7 -> 3 -> 1).

    Args:
        n_channels: the channels of the images.
        ndf: the channels of the first convolution.
        image_size: the side S of the square images.
        head: the output head, a key of :data:`zoo.heads.HEADS`.
        final: the side of the map the last convolution reads: ``"4x4"``, ``"2x2"`` or
            ``"3x3"``.
    """

    def __init__(
        self,
        n_channels: int = 3,
        ndf: int = 64,
        image_size: int = 64,
        head: HeadName = "sigmoid",
        final: DiscriminatorFinal = "4x4",
    ) -> None:
        super().__init__()
        self.n_channels = n_channels
        self.ndf = ndf
        self.image_size = image_size
        self.final = final
        count = halvings(image_size, final)
        layers: list[nn.Module] = [
            nn.Conv2d(n_channels, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2),
        ]
        channels = ndf
        for _ in range(count - 1):
            layers += [
                nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels * 2),
                nn.LeakyReLU(0.2),
            ]
            channels *= 2
        kernel, stride, padding = {"4x4": (4, 1, 0), "2x2": (2, 2, 0), "3x3": (4, 2, 1)}[final]
        layers.append(nn.Conv2d(channels, 1, kernel, stride, padding, bias=False))
        self.main = nn.Sequential(*layers)
        self.head = make_head(head)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the images it reads."""
        return (self.n_channels, self.image_size, self.image_size)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, n_channels, S, S) -> (N,) before the head.

        Args:
            x: images, (N, n_channels, S, S).
        """
        s = self.image_size
        names = ("N", "C", "H", "W")
        x = check_shape(x, "ImageDiscriminator", (None, self.n_channels, s, s), names, self.input_dtype())
        return self.main(x).flatten()


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02); batch-norm weight N(1, 0.02), bias 0.

    Use as ``model.apply(dcgan_init)``.

    Args:
        module: one module of the model (``apply`` passes each).
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


# --- Public checkpoint layouts ---------------------------------------------------------------

_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_KERNEL_4X4 = (None, None, 4, 4)


def _same_names(convs: tuple[int, ...], norms: tuple[int, ...]) -> dict[str, str]:
    """Identity renames of a ``main.`` Sequential: its conv weights and batch-norm tensors."""
    return {
        **{f"main.{i}.weight": f"main.{i}.weight" for i in convs},
        **{f"main.{i}.{p}": f"main.{i}.{p}" for i in norms for p in _BN},
    }


_NETG = _same_names((0, 3, 6, 9, 12), (1, 4, 7, 10))
# The 4 x 4 transposed convolutions of a 5-layer generator with nz=100, ngf=64 (csinva's sizes).
_CSINVA_NETG_BODY = {
    "main.0.weight": (100, 512, 4, 4),
    "main.3.weight": (512, 256, 4, 4),
    "main.6.weight": (256, 128, 4, 4),
    "main.9.weight": (128, 64, 4, 4),
}
# pytorch/examples dcgan/main.py netG -> ImageDecoder(n_layers=5): the same names. Its Tanh
# (main.13) has no parameters: the zoo keeps it outside ``main`` as the head.
DECODER_LAYOUTS = (
    Layout(
        "dcgan-netg",
        "pytorch/examples DCGAN generator netG_epoch_N.pth (the same keys as ImageDecoder(n_layers=5))",
        _NETG,
        shapes={f"main.{i}.weight": _KERNEL_4X4 for i in (0, 3, 6, 9, 12)},
        implied_args={"n_layers": 5},
    ),
    # csinva's 28 x 28 and 32 x 32 generators differ only in the padding of their last 1 x 1
    # transposed convolution, which no tensor records: the grayscale files of the two have
    # exactly the same tensors, and a model's own ``final`` decides between them.
    Layout(
        "csinva-mnist28-netg",
        "csinva/gan-vae-pretrained-pytorch MNIST 28x28 DCGAN generator netG_epoch_99.pth (last layer a "
        "1x1 ConvTranspose2d with padding 2, which crops 32 to 28)",
        _NETG,
        shapes={**_CSINVA_NETG_BODY, "main.12.weight": (64, 1, 1, 1)},
        implied_args={"n_layers": 5, "final": "1x1_crop2"},
    ),
    Layout(
        "csinva-cifar32-netg",
        "csinva/gan-vae-pretrained-pytorch CIFAR 32x32 DCGAN generator netG_epoch_N.pth (last layer a "
        "1x1 ConvTranspose2d, padding 0)",
        _NETG,
        shapes={**_CSINVA_NETG_BODY, "main.12.weight": (64, None, 1, 1)},
        implied_args={"n_layers": 5, "final": "1x1"},
    ),
)
# netD -> ImageDiscriminator(image_size=64): the same names; its Sigmoid (main.12) is the head.
DISCRIMINATOR_LAYOUTS = (
    Layout(
        "dcgan-netd",
        "pytorch/examples DCGAN discriminator netD_epoch_N.pth (the same keys as ImageDiscriminator(64))",
        _same_names((0, 2, 5, 8, 11), (3, 6, 9)),
        shapes={**{f"main.{i}.weight": _KERNEL_4X4 for i in (0, 2, 5, 8)}, "main.11.weight": (1, None, 4, 4)},
        implied_args={"image_size": 64},
    ),
    Layout(
        "csinva-cifar32-netd",
        "csinva/gan-vae-pretrained-pytorch CIFAR 32x32 DCGAN discriminator netD_epoch_N.pth (halvings "
        "to 2x2, then Conv2d(512, 1, 2, 2, 0))",
        _same_names((0, 2, 5, 8, 11), (3, 6, 9)),
        shapes={
            "main.0.weight": (64, None, 4, 4),
            "main.2.weight": (128, 64, 4, 4),
            "main.5.weight": (256, 128, 4, 4),
            "main.8.weight": (512, 256, 4, 4),
            "main.11.weight": (1, 512, 2, 2),
        },
        implied_args={"image_size": 32, "final": "2x2"},
    ),
    # Its tensors have the shapes of a 32 x 32 pytorch/examples-style discriminator's, whose last
    # convolution is Conv2d(256, 1, 4, 1, 0) on 4 x 4: the same tensors, another function.
    Layout(
        "csinva-mnist28-netd",
        "csinva/gan-vae-pretrained-pytorch MNIST 28x28 DCGAN discriminator netD_epoch_99.pth (28 -> 14 "
        "-> 7 -> 3, then Conv2d(256, 1, 4, 2, 1); a 32x32 image_discriminator has tensors of the same "
        "shapes but computes another function)",
        _same_names((0, 2, 5, 8), (3, 6)),
        shapes={
            "main.0.weight": (64, 1, 4, 4),
            "main.2.weight": (128, 64, 4, 4),
            "main.5.weight": (256, 128, 4, 4),
            "main.8.weight": (1, 256, 4, 4),
        },
        implied_args={"n_channels": 1, "image_size": 28, "final": "3x3"},
    ),
)


def _conv_weights(state: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    keys = sorted(
        (k for k in state if k.startswith("main.") and k.endswith(".weight")),
        key=lambda k: int(k.split(".")[1]),
    )
    return [state[k] for k in keys if state[k].dim() == 4]


def image_decoder_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The ImageDecoder constructor arguments that ``state``'s shapes imply.

    A last kernel of 1 x 1 is ``final="1x1"`` or ``"1x1_crop2"``, which no tensor tells
    apart: the current choice is kept when it is one of them.
    """
    convs = _conv_weights(state)  # ConvTranspose2d weights are (in, out, kH, kW)
    if convs[-1].shape[-1] == 1:
        final = current.get("final") if current.get("final") in ("1x1", "1x1_crop2") else "1x1"
    else:
        final = "upsample"
    return {
        "in_size": convs[0].shape[0],
        "ngf": convs[-1].shape[0],
        "n_channels": convs[-1].shape[1],
        "n_layers": len(convs),
        "final": final,
    }


def image_discriminator_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The ImageDiscriminator constructor arguments that ``state``'s shapes imply.

    A last 2 x 2 kernel is ``final="2x2"``. A last 4 x 4 kernel is ``"4x4"`` or ``"3x3"``,
    which no tensor tells apart: the current choice is kept, and with ``"3x3"`` so is the
    image size when it gives the file's number of layers (several sizes do; none is told).
    """
    convs = _conv_weights(state)
    args = {"n_channels": convs[0].shape[1], "ndf": convs[0].shape[0]}
    n_halvings = len(convs) - 1
    if convs[-1].shape[-1] == 2:
        return {**args, "final": "2x2", "image_size": 2 ** (n_halvings + 1)}
    if current.get("final") != "3x3":
        return {**args, "final": "4x4", "image_size": 2 ** (n_halvings + 2)}
    try:
        fits = halvings(current["image_size"], "3x3") == n_halvings
    except (KeyError, ValueError):
        fits = False
    return {**args, "final": "3x3", **({"image_size": current["image_size"]} if fits else {})}


def _csinva_dcgan(
    key: str,
    what: str,
    folder: str,
    epoch: int,
    shape: tuple[int, int, int],
    final: str,
    netd: dict,
    md5s: tuple[str | None, str | None] = (None, None),
) -> tuple[PublishedFile, PublishedFile]:
    """The generator and discriminator files of one of csinva's DCGANs (nz=100, ngf=ndf=64;
    images in [-1, 1], the data having gone through Normalize(0.5, 0.5))."""
    netg_layout = "csinva-mnist28-netg" if final == "1x1_crop2" else "csinva-cifar32-netg"
    netd_layout = "csinva-mnist28-netd" if netd["final"] == "3x3" else "csinva-cifar32-netd"
    netg_args = dict(in_size=100, n_channels=shape[0], ngf=64, n_layers=5, head="tanh", final=final)
    netd_args = dict(n_channels=shape[0], ndf=64, head="sigmoid", **netd)
    return tuple(  # type: ignore[return-value]
        csinva_file(
            f"{folder}/weights/net{part}_epoch_{epoch}.pth",
            name=f"dcgan.{key}_net{part.lower()}",
            model=model,
            args=args,
            layout=layout,
            md5=md5,
            description=f"DCGAN {role}, {what}",
            image_shape=shape,
        )
        for part, model, args, layout, md5, role in (
            ("G", "image_decoder", netg_args, netg_layout, md5s[0], "generator"),
            ("D", "image_discriminator", netd_args, netd_layout, md5s[1], "discriminator"),
        )
    )


_CSINVA_DCGANS = (
    _csinva_dcgan(
        "mnist28", "MNIST 28 x 28", "mnist_dcgan", 99, (1, 28, 28), "1x1_crop2",
        {"image_size": 28, "final": "3x3"}, md5s=(None, "08fa805ddbb01b67bacde5a4ff8e4d26"),
    ),
    _csinva_dcgan(
        "cifar10", "CIFAR-10 32 x 32 x 3", "cifar10_dcgan", 199, (3, 32, 32), "1x1",
        {"image_size": 32, "final": "2x2"},
    ),
    _csinva_dcgan(
        "cifar100_gray", "CIFAR-100 grayscale 32 x 32 x 1", "cifar100_dcgan_grayscale", 299, (1, 32, 32),
        "1x1", {"image_size": 32, "final": "2x2"},
    ),
)  # fmt: skip
DECODER_PUBLISHED = tuple(netg for netg, _ in _CSINVA_DCGANS)
DISCRIMINATOR_PUBLISHED = tuple(netd for _, netd in _CSINVA_DCGANS)
# csinva's DCGANs, as pytorch/examples': a tanh generator, images normalised to [-1, 1]
_PIXELS = Conventions(value_range=(-1.0, 1.0))

register_model(
    "image_decoder",
    ImageDecoder,
    paper="Radford et al. 2016 (DCGAN); Hsieh et al. 2018 (DDPAE)",
    inputs=Inputs("latent", ("in_size",)),
    conventions=_PIXELS,
    layouts=DECODER_LAYOUTS,
    args_from_state=image_decoder_args_from_state,
    published=DECODER_PUBLISHED,
)
register_model(
    "image_discriminator",
    ImageDiscriminator,
    paper="Radford et al. 2016 (DCGAN)",
    inputs=Inputs("image", ("n_channels", "image_size", "image_size")),
    conventions=_PIXELS,
    layouts=DISCRIMINATOR_LAYOUTS,
    args_from_state=image_discriminator_args_from_state,
    published=DISCRIMINATOR_PUBLISHED,
)
