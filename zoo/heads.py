"""Output heads and the common shape of every zoo model: ``forward = head(logits(x))``."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

HeadName = Literal["sigmoid", "logsigmoid", "hardsigmoid", "tanh", "identity"]

HEADS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "logsigmoid": nn.LogSigmoid,  # log(sigmoid(x)), computed stably as -softplus(-x)
    "hardsigmoid": nn.Hardsigmoid,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}


def make_head(name: str) -> nn.Module:
    """The head module called ``name``; unknown names get the list of known heads."""
    try:
        return HEADS[name]()
    except (KeyError, TypeError):
        raise ValueError(f"head={name!r} is not one of {sorted(HEADS)}") from None


class HeadedModel(nn.Module):
    """Base of every zoo model.

    Subclasses implement :meth:`logits` (the values before the head) and set
    ``self.head``. ``model(x)`` returns ``head(logits(x))``, so training can use
    the stable ``*_with_logits`` losses on :meth:`logits` while ``model(x)`` gives
    the same probabilities as the original models.
    """

    head: nn.Module

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The model's output before its head."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``head(logits(x))``."""
        return self.head(self.logits(x))
