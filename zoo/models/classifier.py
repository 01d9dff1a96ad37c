"""The Linear + sigmoid classifier of the sigmoid tutorials, with optional hidden layers."""

from __future__ import annotations

import torch
from torch import nn

from zoo._checks import check_shape
from zoo._registry import register_model
from zoo.heads import HeadedModel, HeadName, make_head


class BinaryClassifier(HeadedModel):
    """(N, in_features) -> (N, n_outputs): Linear layers with ReLU between, then the head."""

    def __init__(
        self,
        in_features: int,
        n_outputs: int = 1,
        hidden: tuple[int, ...] = (),
        head: HeadName = "sigmoid",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_outputs))
        self.net = nn.Sequential(*layers)
        self.head = make_head(head)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_features) -> (N, n_outputs) before the head."""
        x = check_shape(x, "BinaryClassifier", (None, self.in_features), ("N", "in_features"))
        return self.net(x)


def binary_classifier_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The BinaryClassifier constructor arguments that ``state``'s shapes imply."""
    keys = sorted(
        (k for k in state if k.startswith("net.") and k.endswith(".weight")),
        key=lambda k: int(k.split(".")[1]),
    )
    weights = [state[k] for k in keys]
    return {
        "in_features": weights[0].shape[1],
        "hidden": tuple(w.shape[0] for w in weights[:-1]),
        "n_outputs": weights[-1].shape[0],
    }


register_model(
    "binary_classifier",
    BinaryClassifier,
    paper="logistic regression / MLP (the Linear + Sigmoid tutorials)",
    input_desc="(N, in_features)",
    args_from_state=binary_classifier_args_from_state,
)
