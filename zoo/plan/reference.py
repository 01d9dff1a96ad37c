"""The plain-torch executor of a plan: every op as torch computes it, op by op on (N, C, L).

Small and exact rather than fast: the reference the backends are tested against, the
reference pass of band ISM, and the fallback for dense ops the channels-last path has no
kernel for.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from zoo.models._dna import strand_mean_logits, strand_pair
from zoo.plan.ops import Activation, Conv, Linear, MaxPool, Op, Plan, PositionMap, Residual, Scale


def run_op(op: Op, h: torch.Tensor) -> torch.Tensor:
    """The output of one op on ``h``: (N, C, L) for convolution-stack ops, (N, features) for dense ones.

    Args:
        op: the op to run; its tensors must have ``h``'s type and device.
        h: its input (not changed).
    """
    if isinstance(op, Conv):
        return F.conv1d(h, op.weight, op.bias, padding=op.padding, dilation=op.dilation)
    if isinstance(op, Activation):  # an inplace module must not overwrite the caller's input
        return op.module(h.clone() if getattr(op.module, "inplace", False) else h)
    if isinstance(op, MaxPool):
        return F.max_pool1d(h, op.kernel, op.stride)
    if isinstance(op, Scale):
        per_channel = (-1,) + (1,) * (h.dim() - 2)  # channels are axis 1 of (N, C) and (N, C, L)
        return h * op.scale.view(per_channel) + op.shift.view(per_channel)
    if isinstance(op, Residual):
        y = run_ops(op.body, h)
        return h + y if op.tail is None else y + run_ops(op.tail, h + y)
    if isinstance(op, PositionMap):
        return torch.matmul(h, op.matrix)
    if isinstance(op, Linear):
        return F.linear(h, op.weight, op.bias)
    raise TypeError(f"{type(op).__name__} is not a plan op")


def run_ops(ops: tuple[Op, ...], h: torch.Tensor) -> torch.Tensor:
    """``ops`` applied in turn to ``h``.

    Args:
        ops: the ops, in order.
        h: the first one's input.
    """
    for op in ops:
        h = run_op(op, h)
    return h


def strand_logits(plan: Plan, x: torch.Tensor) -> torch.Tensor:
    """(N, n_targets) logits of the strand given, ``x`` one-hot (N, 4, seq_len).

    Args:
        plan: the model's plan.
        x: the sequences, of the plan's type and device.
    """
    return run_ops(plan.dense, run_ops(plan.conv, x).flatten(1))


@torch.no_grad()
def logits(plan: Plan, x: torch.Tensor) -> torch.Tensor:
    """(N, n_targets) logits of ``x``; with the plan's ``rc_average`` those of the mean of both
    strands' probabilities, as ``model.logits`` (without its input checks).

    Args:
        plan: the model's plan.
        x: one-hot (N, 4, seq_len), of the plan's type and device.
    """
    if not plan.rc_average:
        return strand_logits(plan, x)
    return strand_mean_logits(*strand_pair(lambda both: strand_logits(plan, both), x))
