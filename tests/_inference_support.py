"""What the fast-path tests of every model share: the tolerance on probabilities and the
comparison of non-finite outputs with the plain model's."""

from __future__ import annotations

import torch

TOLERANCE = {"fp32": 1e-5, "bf16": 1e-2}  # on probabilities, the fast path against model.logits


def same_non_finite(got: torch.Tensor, expected: torch.Tensor) -> None:
    """NaN, +inf and -inf in exactly the same places; the finite values close."""
    for where in (torch.isnan, torch.isposinf, torch.isneginf):
        assert torch.equal(where(got), where(expected)), (where.__name__, got, expected)
    finite = torch.isfinite(expected)
    diff = (torch.sigmoid(got[finite]) - torch.sigmoid(expected[finite])).abs()
    assert diff.numel() == 0 or diff.max().item() <= TOLERANCE["bf16"]
