"""The finite-value guard of the channels-last steps: fused where that is exact, else unfused.

The fused clamps and the integer max are exact on finite values only (oneDNN's fused ReLU
turns NaN into 0; a NaN with its sign bit set is the smallest integer). So each batch's
largest magnitude is pushed through a bound of every step (the sum of its absolute
weights): where any activation could be NaN, infinite or near overflow (broken weights, a
NaN in the input) the batch runs the same steps unfused, with torch's clamp and float max,
which give NaN and infinities where the plain model does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

TensorFn = Callable[[torch.Tensor], torch.Tensor]
# Activations whose magnitude stays below this are finite however bf16 rounds them (both
# float32 and bfloat16 overflow near 3.4e38): the fused steps are exact on them.
FINITE_LIMIT = 1e30


@dataclass(frozen=True)
class Step:
    """One channels-last step: ``run(h, exact)``, and ``bound(m)``, a bound on the magnitude of
    its output when that of its input is at most ``m``. A ``lossy`` step is exact only on
    finite values unless run with ``exact=True`` (fused clamps, the integer max)."""

    run: Callable[[torch.Tensor, bool], torch.Tensor]
    bound: Callable[[float], float]
    lossy: bool = False

    def __call__(self, h: torch.Tensor, exact: bool = False) -> torch.Tensor:
        """The step's output on ``h``; ``exact`` takes the unfused kernels."""
        return self.run(h, exact)


class GuardedSteps:
    """The strand logits of channels-last steps, checked per batch: the fast (fused) steps
    where every lossy step's values are bounded far below overflow, else the exact ones."""

    def __init__(self, run: Callable[[torch.Tensor, bool], torch.Tensor], steps: list[Step]) -> None:
        """``run(x, exact)`` computes the strand logits through ``steps``, whose bounds the guard reads."""
        self.fast: TensorFn = lambda x: run(x, False)
        self.exact: TensorFn = lambda x: run(x, True)
        self._steps = steps

    def trusted(self, x: torch.Tensor) -> bool:
        """Whether every activation of ``x`` through the lossy steps is provably finite."""
        if x.numel():
            low, high = torch.aminmax(x)  # NaN when x holds one
            m = max(-low.item(), high.item())
        else:
            m = 0.0
        if not m < FINITE_LIMIT:
            return False
        for step in self._steps:
            m = step.bound(m)
            if step.lossy and not m < FINITE_LIMIT:  # NaN weights make m NaN: not trusted
                return False
        return True

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The strand logits of ``x``, by the fast steps where :meth:`trusted`, else the exact ones."""
        return self.fast(x) if self.trusted(x) else self.exact(x)


def affine_bound(weight: torch.Tensor, bias: torch.Tensor, floor: float | None) -> Callable[[float], float]:
    """The bound on |clamp_min(W h + b, floor)| for |h| <= m: the largest row sum of |W|
    times m, plus the largest |b| (NaN when a weight is).

    Args:
        weight: W, one row per output (any trailing shape is flattened).
        bias: b.
        floor: the clamp's floor, or None for no clamp.
    """
    gain = weight.float().abs().flatten(1).sum(1).max().item() if weight.numel() else 0.0
    offset = bias.float().abs().max().item() if bias.numel() else 0.0
    if not (math.isfinite(gain) and math.isfinite(offset)):
        return lambda m: math.nan
    low = abs(floor) if floor is not None else 0.0
    return lambda m: max(gain * m + offset, low)
