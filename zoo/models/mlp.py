"""Fully connected image models of the tutorials: the MLP GAN generator and the pytorch/examples VAE.

``MLPDecoder`` maps a latent vector through Linear + ReLU layers to an image, shaped
(N, C, H, W) (the MLP GAN generator: 64 -> 256 -> 256 -> 784, tanh). ``MLPVAE`` is the
pytorch/examples ``vae/main.py`` model with its own names (``fc1``, ``fc21`` mu, ``fc22``
log-variance, ``fc3``, ``fc4``): it encodes images and decodes latents with a sigmoid head.
The MLP GAN discriminator is a ``binary_classifier`` (zoo.models.classifier).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from zoo._checks import check_latents, check_shape
from zoo._registry import Conventions, Inputs, register_model
from zoo._types import ImageShape
from zoo.heads import HeadedModel, HeadName, make_head
from zoo.models.classifier import linear_weights, sequential_renames
from zoo.weights.layouts import Layout
from zoo.weights.published import csinva_file


def flat_images(
    x: torch.Tensor, model: str, image_shape: ImageShape, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Images (N, C, H, W) of ``image_shape`` (and ``dtype``), or already flat (N, C * H * W),
    as (N, C * H * W)."""
    n_features = math.prod(image_shape)
    if isinstance(x, torch.Tensor) and x.dim() == 2:
        return check_shape(x, model, (None, n_features), ("N", "C*H*W"), dtype)
    return check_shape(x, model, (None, *image_shape), ("N", "C", "H", "W"), dtype).flatten(1)


class MLPDecoder(HeadedModel):
    """Latent (N, in_size) -> image (N, *image_shape): Linear layers with ReLU between, then the head.

    With the defaults it is the MLP GAN generator of the "GAN on MNIST" tutorials:
    ``nn.Sequential(Linear(64, 256), ReLU, Linear(256, 256), ReLU, Linear(256, 784), Tanh)``,
    its output viewed as 1 x 28 x 28 images. ``head="sigmoid"`` gives images in [0, 1].

    Args:
        in_size: the length of the latent.
        hidden: the widths of the hidden Linear layers.
        image_shape: the (C, H, W) of the images.
        head: the output head, a key of :data:`zoo.heads.HEADS`.
    """

    def __init__(
        self,
        in_size: int = 64,
        hidden: tuple[int, ...] = (256, 256),
        image_shape: tuple[int, int, int] = (1, 28, 28),
        head: HeadName = "tanh",
    ) -> None:
        super().__init__()
        self.in_size = in_size
        self.hidden = hidden
        self.image_shape = image_shape
        layers: list[nn.Module] = []
        width = in_size
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, math.prod(image_shape)))
        self.net = nn.Sequential(*layers)
        self.head = make_head(head)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_size) or (N, in_size, 1, 1) -> (N, C, H, W) before the head.

        Args:
            x: latents, (N, in_size) or (N, in_size, 1, 1).
        """
        x = check_latents(x, "MLPDecoder", self.in_size, self.input_dtype())
        return self.net(x).view(x.shape[0], *self.image_shape)


class MLPVAE(HeadedModel):
    """The pytorch/examples VAE: images (N, *image_shape) -> reconstructions, Bernoulli means.

    Encoder ``fc1`` (C*H*W -> hidden), ReLU, then ``fc21`` (mean) and ``fc22`` (log-variance)
    of the latent; decoder ``fc3`` (latent -> hidden), ReLU, ``fc4`` (hidden -> C*H*W), head.
    ``model(x)`` reconstructs: in eval mode from the posterior mean (deterministic), in train
    mode from one reparameterised sample, as the original's forward does. :meth:`decode`
    turns latents into images (sampling), :meth:`encode` gives (mean, log-variance).
    Images may also come flat, (N, C * H * W), as the original reads them.

    Args:
        image_shape: the (C, H, W) of the images.
        hidden: the width of the hidden layer of the encoder and of the decoder.
        latent_size: the length of the latent.
        head: the output head, a key of :data:`zoo.heads.HEADS`.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        hidden: int = 400,
        latent_size: int = 20,
        head: HeadName = "sigmoid",
    ) -> None:
        super().__init__()
        self.image_shape = image_shape
        self.hidden = hidden
        self.latent_size = latent_size
        n_features = math.prod(image_shape)
        self.fc1 = nn.Linear(n_features, hidden)
        self.fc21 = nn.Linear(hidden, latent_size)
        self.fc22 = nn.Linear(hidden, latent_size)
        self.fc3 = nn.Linear(latent_size, hidden)
        self.fc4 = nn.Linear(hidden, n_features)
        self.head = make_head(head)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log-variance), each (N, latent_size), of q(z | x) for images ``x``.

        Args:
            x: images, (N, C, H, W) or flat (N, C * H * W).
        """
        h = F.relu(self.fc1(flat_images(x, "MLPVAE", self.image_shape, self.input_dtype())))
        return self.fc21(h), self.fc22(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (N, latent_size) -> images (N, C, H, W) before the head.

        Args:
            z: latents, (N, latent_size).
        """
        z = check_latents(z, "MLPVAE", self.latent_size, self.input_dtype())
        return self.fc4(F.relu(self.fc3(z))).view(z.shape[0], *self.image_shape)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (N, latent_size) -> images (N, C, H, W) through the head (sampling).

        Args:
            z: latents, (N, latent_size).
        """
        return self.head(self.decode_logits(z))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Images -> reconstruction logits (N, C, H, W): from the posterior mean in eval mode,
        from a reparameterised sample in train mode.

        Args:
            x: images, (N, C, H, W) or flat (N, C * H * W).
        """
        mean, log_var = self.encode(x)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp() if self.training else mean
        return self.decode_logits(z)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoded posterior mean of ``x``, in either mode.

        Args:
            x: images, (N, C, H, W) or flat (N, C * H * W).
        """
        return self.decode(self.encode(x)[0])


def implied_image_shape(n_features: int, current: dict) -> dict:
    """``{"image_shape": ...}`` for a layer of ``n_features`` pixels: the current shape when it
    has that many, else a square one- or three-channel image when one fits; {} otherwise."""
    shape = tuple(current.get("image_shape") or ())
    if math.prod(shape) == n_features and shape:
        return {"image_shape": shape}
    for channels in (1, 3):
        side = math.isqrt(n_features // channels)
        if channels * side * side == n_features:
            return {"image_shape": (channels, side, side)}
    return {}


def mlp_decoder_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The MLPDecoder constructor arguments that ``state``'s shapes imply."""
    weights = linear_weights(state)
    return {
        "in_size": weights[0].shape[1],
        "hidden": tuple(w.shape[0] for w in weights[:-1]),
        **implied_image_shape(weights[-1].shape[0], current),
    }


def mlp_vae_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The MLPVAE constructor arguments that ``state``'s shapes imply."""
    fc1 = state["fc1.weight"]
    return {
        "hidden": fc1.shape[0],
        "latent_size": state["fc21.weight"].shape[0],
        **implied_image_shape(fc1.shape[1], current),
    }


_MNIST = (1, 28, 28)
DECODER_LAYOUTS = (
    # nn.Sequential(Linear(64, 256), ReLU, Linear(256, 256), ReLU, Linear(256, 784), Tanh)
    Layout(
        "mlp-gan-g",
        "MLP GAN generator G--N.ckpt of the GAN-on-MNIST tutorials (nn.Sequential 64-256-256-784, Tanh)",
        sequential_renames((0, 2, 4)),
        shapes={"0.weight": (256, 64), "2.weight": (256, 256), "4.weight": (784, 256)},
        implied_args={"image_shape": _MNIST},
    ),
)
VAE_LAYOUTS = (
    Layout(
        "pytorch-examples-vae",
        "pytorch/examples vae/main.py VAE vae_epoch_N.pth (fc1 784-400, fc21/fc22 400-20, fc3 20-400, "
        "fc4 400-784; the zoo's own keys)",
        {f"fc{i}.{p}": f"fc{i}.{p}" for i in (1, 21, 22, 3, 4) for p in ("weight", "bias")},
        shapes={
            "fc1.weight": (400, 784),
            "fc21.weight": (20, 400),
            "fc22.weight": (20, 400),
            "fc3.weight": (400, 20),
            "fc4.weight": (784, 400),
        },
        implied_args={"image_shape": _MNIST},
    ),
)

VAE_PUBLISHED = (
    csinva_file(
        "mnist_vae/weights/vae_epoch_25.pth",
        name="vae.mnist",
        args={"image_shape": _MNIST, "hidden": 400, "latent_size": 20, "head": "sigmoid"},
        layout="pytorch-examples-vae",
        md5="170d7720f7d98109540d6ee88d1c6898",
        description="VAE, MNIST (pytorch/examples vae/main.py architecture)",
    ),
)
DECODER_PUBLISHED = (
    csinva_file(
        "mnist_gan_mlp/weights/G--300.ckpt",
        name="mlp_gan.mnist_g",
        args={"in_size": 64, "hidden": (256, 256), "image_shape": _MNIST, "head": "tanh"},
        layout="mlp-gan-g",
        md5="06401124cbd54dd826c35cc212b83d4b",
        description="MLP GAN generator, MNIST",
    ),
)

register_model(
    "mlp_decoder",
    MLPDecoder,
    paper="MLP GAN generator (the GAN-on-MNIST tutorials; Goodfellow et al. 2014)",
    inputs=Inputs("latent", ("in_size",)),
    conventions=Conventions(value_range=(-1.0, 1.0)),  # a tanh head, as the GAN tutorials' data
    layouts=DECODER_LAYOUTS,
    args_from_state=mlp_decoder_args_from_state,
    published=DECODER_PUBLISHED,
)
register_model(
    "mlp_vae",
    MLPVAE,
    paper="Kingma & Welling 2014 (VAE; the pytorch/examples model)",
    inputs=Inputs("image", ("image_shape",)),
    conventions=Conventions(value_range=(0.0, 1.0)),  # Bernoulli means: a sigmoid head
    layouts=VAE_LAYOUTS,
    args_from_state=mlp_vae_args_from_state,
    published=VAE_PUBLISHED,
)
