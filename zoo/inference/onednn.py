"""oneDNN's fused CPU kernels behind one availability check, with public-torch fallbacks.

The channels-last CPU path of ``zoo.inference`` calls oneDNN through torch's private ops: a linear layer or
a convolution with its activation fused into the same call, and convolution weights packed
once into oneDNN's blocked layout instead of on every call. Private ops can change or vanish
between torch releases, so every one of them is called here and nowhere else: ``AVAILABLE``
is decided once, at import, and where it is False (or the tensor is not on the CPU) each
function computes the same result with public torch ops.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

# torch releases whose private oneDNN ops have the signatures used below
_TORCH_FROM, _TORCH_BEFORE = (2, 10), (3, 0)
_OPS = ("_linear_pointwise", "_convolution_pointwise", "_is_mkldnn_bf16_supported")


def _available() -> bool:
    """Whether this torch has oneDNN and its private ops as this module calls them."""
    major, minor = torch.__version__.split(".")[:2]  # "2.14.1+cpu", "2.10.0a0+git...": (2, 14), (2, 10)
    return (
        torch.backends.mkldnn.is_available()
        and _TORCH_FROM <= (int(major), int(minor)) < _TORCH_BEFORE
        and all(hasattr(torch.ops.mkldnn, op) for op in _OPS)
        and hasattr(torch._C._nn, "mkldnn_reorder_conv2d_weight")
    )


AVAILABLE: bool = _available()


def applies_to(x: torch.Tensor) -> bool:
    """Whether the functions here run oneDNN's kernels on ``x``: a CPU tensor, with ``AVAILABLE``."""
    return AVAILABLE and x.device.type == "cpu"


def bf16_supported() -> bool:
    """Whether oneDNN has bfloat16 kernels on this CPU (they need AVX-512 or AVX-NE-CONVERT).

    False without oneDNN: callers then keep bfloat16 off the fused path.
    """
    return AVAILABLE and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _post_op(floor: float | None) -> tuple[str, list[float]]:
    """oneDNN's fused post-op for ``clamp_min(floor)`` (none when ``floor`` is None)."""
    if floor is None:
        return "none", []
    if floor == 0.0:
        return "relu", []
    return "hardtanh", [floor, torch.finfo(torch.float32).max]


def clamp_min(h: torch.Tensor, floor: float | None) -> torch.Tensor:
    """``h.clamp_min_(floor)`` in place (``h`` itself when ``floor`` is None): torch's clamp, which
    keeps NaN and +inf where oneDNN's fused clamps do not.

    Args:
        h: the tensor to clamp, in place.
        floor: the smallest value kept, or None for none.
    """
    return h if floor is None else h.clamp_min_(floor)


def fused_linear(
    h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, floor: float | None
) -> torch.Tensor:
    """``clamp_min(F.linear(h, weight, bias), floor)`` (no clamp when ``floor`` is None).

    One oneDNN call with the clamp fused where :func:`applies_to` ``h``.
    """
    if applies_to(h):
        attr, scalars = _post_op(floor)
        return torch.ops.mkldnn._linear_pointwise(h, weight, bias, attr, scalars, "")
    return clamp_min(F.linear(h, weight, bias), floor)


def pack_conv_weight(
    weight: torch.Tensor,
    input_shape: torch.Size | list[int],
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
) -> torch.Tensor:
    """A Conv2d ``weight`` in oneDNN's blocked layout for inputs of ``input_shape``, for
    :func:`conv_pointwise`; packing once saves the reorder oneDNN otherwise makes on every call.

    The weight itself where oneDNN does not apply to it.

    Args:
        weight: (C_out, C_in, kh, kw), channels-last.
        input_shape: the (N, C_in, H, W) of the inputs it will meet.
        padding: the convolution's zero padding of (H, W), as :func:`conv_pointwise` gets it.
        dilation: the convolution's dilation of (H, W), as :func:`conv_pointwise` gets it.
    """
    if not applies_to(weight):
        return weight
    return torch._C._nn.mkldnn_reorder_conv2d_weight(
        weight.to_mkldnn(), list(padding), [1, 1], list(dilation), 1, list(input_shape)
    )


def conv_pointwise(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    floor: float | None,
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
) -> torch.Tensor:
    """``clamp_min(F.conv2d(x, weight, bias, padding=padding, dilation=dilation), floor)``: a
    unit-stride, ungrouped, zero-padded convolution (no clamp when ``floor`` is None).

    One oneDNN call with the clamp fused where :func:`applies_to` ``x``; ``weight`` may then
    come from :func:`pack_conv_weight` (packed for the same padding and dilation).
    """
    if applies_to(x):
        attr, scalars = _post_op(floor)
        return torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, list(padding), [1, 1], list(dilation), 1, attr, scalars, ""
        )
    return clamp_min(F.conv2d(x, weight, bias, padding=padding, dilation=dilation), floor)
