"""The original public layouts, rebuilt from ../shared/reference/legacy-layouts.md.

Not used by the zoo's own models: converter tests save these modules' state_dicts the way
the original code does, and benchmarks time them as the reference the zoo must beat.
"""

from __future__ import annotations

import torch
from torch import nn


class Flatten(nn.Module):
    """The Lua-converted ``view(N, -1)`` (channel-major)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


class ViewGuard(nn.Module):
    """Kipoi's Lambda guard in front of each Linear: views 1-D input as a batch of one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(1, -1) if x.dim() == 1 else x


def _guarded_linear(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(ViewGuard(), nn.Linear(n_in, n_out))


def kipoi_deepsea_cpu() -> nn.Sequential:
    """Kipoi's ``deepsea_cpu``: Conv2d (1, 8) kernels on (N, 4, 1, 1000) AGCT input, Threshold."""
    return nn.Sequential(
        nn.Conv2d(4, 320, (1, 8)), nn.Threshold(0, 1e-6), nn.MaxPool2d((1, 4), (1, 4)), nn.Dropout(0.2),
        nn.Conv2d(320, 480, (1, 8)), nn.Threshold(0, 1e-6), nn.MaxPool2d((1, 4), (1, 4)), nn.Dropout(0.2),
        nn.Conv2d(480, 960, (1, 8)), nn.Threshold(0, 1e-6), nn.Dropout(0.5),
        Flatten(),
        _guarded_linear(50880, 925), nn.Threshold(0, 1e-6),
        _guarded_linear(925, 919), nn.Sigmoid(),
    )  # fmt: skip
