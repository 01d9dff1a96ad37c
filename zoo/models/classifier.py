"""The Linear + sigmoid classifier of the sigmoid tutorials, with optional hidden layers; with
LeakyReLU(0.2) between them it is the MLP GAN discriminator of the "GAN on MNIST" tutorials."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from zoo._checks import check_shape
from zoo._registry import Inputs, register_model
from zoo.heads import HeadedModel, HeadName, make_head
from zoo.weights.layouts import Layout
from zoo.weights.published import csinva_file

Activation = Literal["relu", "leaky_relu"]


def hidden_activation(kind: str) -> nn.Module:
    """The module between hidden layers: ``"relu"``, or ``"leaky_relu"`` (slope 0.2, the GAN
    discriminators' choice)."""
    if kind == "relu":
        return nn.ReLU()
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.2)
    raise ValueError(f"activation={kind!r} is not one of ['leaky_relu', 'relu']")


class BinaryClassifier(HeadedModel):
    """(N, in_features) -> (N, n_outputs): Linear layers with ``activation`` between, then the head.

    The input is flat: as a GAN discriminator of (N, C, H, W) images it reads them flattened
    to (N, C * H * W), as the MLP GAN tutorials do (``images.flatten(1)``).

    Args:
        in_features: the width of the flat input.
        n_outputs: the number of outputs.
        hidden: the widths of the hidden Linear layers (none: one Linear layer).
        head: the output head, a key of :data:`zoo.heads.HEADS`.
        activation: the activation between Linear layers.
    """

    def __init__(
        self,
        in_features: int,
        n_outputs: int = 1,
        hidden: tuple[int, ...] = (),
        head: HeadName = "sigmoid",
        activation: Activation = "relu",
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.n_outputs = n_outputs
        self.hidden = hidden
        self.activation = activation
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), hidden_activation(activation)]
            width = h
        layers.append(nn.Linear(width, n_outputs))
        self.net = nn.Sequential(*layers)
        self.head = make_head(head)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_features) -> (N, n_outputs) before the head.

        Args:
            x: the flat inputs, (N, in_features).
        """
        x = check_shape(
            x, "BinaryClassifier", (None, self.in_features), ("N", "in_features"), self.input_dtype()
        )
        return self.net(x)


def linear_weights(state: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """The 2-D ``net.<i>.weight`` tensors of a zoo-keyed MLP state, in layer order."""
    keys = sorted(
        (k for k in state if k.startswith("net.") and k.endswith(".weight")),
        key=lambda k: int(k.split(".")[1]),
    )
    return [state[k] for k in keys]


def binary_classifier_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The BinaryClassifier constructor arguments that ``state``'s shapes imply."""
    weights = linear_weights(state)
    return {
        "in_features": weights[0].shape[1],
        "hidden": tuple(w.shape[0] for w in weights[:-1]),
        "n_outputs": weights[-1].shape[0],
    }


def sequential_renames(indices: tuple[int, ...]) -> dict[str, str]:
    """An ``nn.Sequential`` of Linear layers at ``indices`` -> the zoo's ``net.<i>`` names."""
    return {f"{i}.{p}": f"net.{i}.{p}" for i in indices for p in ("weight", "bias")}


# The MLP GAN discriminator: nn.Sequential(Linear(784, 256), LeakyReLU(0.2), Linear(256, 256),
# LeakyReLU(0.2), Linear(256, 1), Sigmoid), saved as its state_dict (keys 0.*, 2.*, 4.*).
LAYOUTS = (
    Layout(
        "mlp-gan-d",
        "MLP GAN discriminator D--N.ckpt of the GAN-on-MNIST tutorials (nn.Sequential 784-256-256-1, "
        "LeakyReLU(0.2))",
        sequential_renames((0, 2, 4)),
        shapes={"0.weight": (256, 784), "2.weight": (256, 256), "4.weight": (1, 256)},
        implied_args={"activation": "leaky_relu"},
    ),
)

PUBLISHED = (
    csinva_file(
        "mnist_gan_mlp/weights/D--300.ckpt",
        name="mlp_gan.mnist_d",
        args={"in_features": 784, "n_outputs": 1, "hidden": (256, 256), "activation": "leaky_relu"},
        layout="mlp-gan-d",
        md5="07c8d6812abec39fc9cd604ae4e2a931",
        description="MLP GAN discriminator, MNIST (reads 28 x 28 images flattened to 784)",
        image_shape=(1, 28, 28),
        value_range=(-1.0, 1.0),
    ),
)

register_model(
    "binary_classifier",
    BinaryClassifier,
    paper="logistic regression / MLP (the Linear + Sigmoid tutorials)",
    inputs=Inputs("features", ("in_features",)),
    layouts=LAYOUTS,
    args_from_state=binary_classifier_args_from_state,
    published=PUBLISHED,
)
