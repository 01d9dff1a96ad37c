"""The typed plan of a DNA network: plain records of what its strand logits compute.

A :class:`Plan` says what a backend needs to run a model, and nothing of how: the
convolution stack as ops on (N, C, L), then a channel-major flatten (``nn.Flatten`` on
(N, C, L)), then the dense layers as ops on (N, features). Batch norm is folded into the
convolution or linear map before it; an activation carries the clamp it equals, when it
equals one. ``zoo.plan.lower`` builds a plan from a model; the channels-last inference path
(``zoo.inference``), band ISM (``zoo.interpret._band``) and the plain-torch executor
(``zoo.plan.reference``) run it.

The tensors are float32, on the model's device: new tensors where batch norm was folded,
else the model's parameters themselves (detached), so a consumer that keeps the weights
past later changes to the model copies them (:func:`converted` with ``copy=True``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Conv:
    """A unit-stride, ungrouped convolution, any batch norm after it folded in:
    ``conv1d(h, weight, bias, padding=padding, dilation=dilation)``, zero-padded on both ends."""

    weight: torch.Tensor  # (C_out, C_in, kernel)
    bias: torch.Tensor  # (C_out,)
    dilation: int = 1
    padding: int = 0

    @property
    def kernel(self) -> int:
        """The number of taps."""
        return self.weight.shape[-1]

    @property
    def out_channels(self) -> int:
        """The number of output channels."""
        return self.weight.shape[0]

    @property
    def valid(self) -> bool:
        """Whether the convolution is unpadded and undilated (output length L - kernel + 1)."""
        return self.padding == 0 and self.dilation == 1


@dataclass(frozen=True)
class Activation:
    """An elementwise activation: ``module`` itself, and ``floor``, the ``v`` for which it is
    ``clamp_min(v)`` to within 1e-5 (ReLU: 0; DeepSEA's Threshold(0, 1e-6): 1e-6), or None
    where it is no clamp (GELU, Tanh, a Threshold whose value is far from its threshold)."""

    module: nn.Module
    floor: float | None


@dataclass(frozen=True)
class MaxPool:
    """Max-pooling over positions, unpadded, dropping the inputs no full window reaches."""

    kernel: int
    stride: int


@dataclass(frozen=True)
class Scale:
    """A batch norm that follows no convolution or linear map: ``h * scale + shift`` per channel."""

    scale: torch.Tensor  # (C,)
    shift: torch.Tensor  # (C,)


@dataclass(frozen=True)
class Residual:
    """A residual block on (N, C, L): ``y = body(h)``, output ``h + y``.

    With ``tail`` (Sei's first dilated block) the sum feeds ``tail``, whose output is added
    to ``y`` rather than to the sum: output ``y + tail(h + y)``.
    """

    body: tuple[Op, ...]
    tail: tuple[Op, ...] | None = None


@dataclass(frozen=True)
class PositionMap:
    """A fixed linear map over positions, (N, C, L_in) @ ``matrix`` -> (N, C, L_out): Sei's
    B-spline basis."""

    matrix: torch.Tensor  # (L_in, L_out)


@dataclass(frozen=True)
class Linear:
    """``linear(h, weight, bias)`` on (N, features), any batch norm after it folded in."""

    weight: torch.Tensor  # (out, in)
    bias: torch.Tensor  # (out,)


Op = Conv | Activation | MaxPool | Scale | Residual | PositionMap | Linear

# zoo.plan.lower.layer_ops, as a family's ``plan_ops`` receives it: a run of plain layers
# (``dense=True``: after the flatten) -> their ops.
LayerOps = Callable[..., tuple[Op, ...]]


@dataclass(frozen=True)
class Plan:
    """Strand logits ``dense(flatten(conv(x)))`` of a DNA model on one-hot (N, 4, seq_len).

    ``conv`` ops run on (N, C, L); their output is flattened channel-major, as ``nn.Flatten``
    flattens (N, C, L); ``dense`` ops run on (N, features) and start with a :class:`Linear`.
    With ``rc_average`` the logits are those of the mean of both strands' probabilities
    (``zoo.models._dna.strand_mean_logits``).

    Attributes:
        seq_len: the input length.
        rc_average: whether the logits are those of the mean of both strands' probabilities.
        conv: the ops on (N, C, L).
        dense: the ops on (N, features), starting with a :class:`Linear`.
    """

    seq_len: int
    rc_average: bool
    conv: tuple[Op, ...]
    dense: tuple[Op, ...]


@dataclass(frozen=True)
class Unsupported:
    """A model no plan describes, and why (``reason`` names the model and what stops it).

    Attributes:
        reason: names the model and what stops it.
    """

    reason: str


def converted(
    ops: tuple[Op, ...], dtype: torch.dtype, device: torch.device | None = None, *, copy: bool = False
) -> tuple[Op, ...]:
    """``ops`` with every tensor cast to ``dtype`` (and moved to ``device`` when given).

    Args:
        ops: the ops to convert (nested residual blocks included).
        dtype: the tensors' new type.
        device: where they go; None keeps them where they are.
        copy: whether every tensor is a new copy, even one already of that type and device.
    """

    def convert(value: object) -> object:
        if isinstance(value, torch.Tensor):
            return value.to(device=device, dtype=dtype, copy=copy)
        if isinstance(value, tuple):
            return converted(value, dtype, device, copy=copy)
        return value

    return tuple(
        dataclasses.replace(op, **{f.name: convert(getattr(op, f.name)) for f in dataclasses.fields(op)})
        for op in ops
    )


def position_major(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """A first dense weight's columns reordered from the channel-major flatten (C, L) of the
    plan to position-major (L, C), the flatten of channels-last (N, L, C) features.

    Args:
        weight: (out, C * L), columns channel-major.
        channels: C, the channels of the last convolution stage.
    """
    return weight.view(len(weight), channels, -1).transpose(1, 2).reshape(len(weight), -1)
