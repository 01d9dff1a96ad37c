"""Fast inference behind one call: ``logits_fn = prepare_logits(model, precision, device)``.

Every caller that scores many batches (zoo-predict, benchmarks) goes through here, so
whatever makes inference fast (bf16, layout, compilation) lives in one place and the
model's own API stays unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")


def prepare_logits(
    model: nn.Module, precision: Precision = "fp32", device: str | torch.device = "cpu"
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function mapping an input batch to the model's float32 logits, in eval mode.

    ``precision="fp32"`` computes exactly what ``model.logits`` computes; ``"bf16"`` runs
    the matrix work in bfloat16 (probabilities within about 1e-2 of fp32).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {list(PRECISIONS)}")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for, but torch sees no CUDA device")
    model = model.to(device).eval()

    @torch.inference_mode()
    def logits_fn(x: torch.Tensor) -> torch.Tensor:
        x = x.to(device, non_blocking=True)
        if precision == "bf16":
            with torch.autocast(device.type, dtype=torch.bfloat16):
                return model.logits(x).float()
        return model.logits(x)

    return logits_fn
