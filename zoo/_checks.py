"""Input checks that turn wrong shapes into clear errors before torch sees them."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch


def _shape(x: Any) -> str:
    return str(tuple(x.shape)) if isinstance(x, torch.Tensor) else type(x).__name__


def require_number(
    value: Any,
    name: str,
    *,
    at_least: float | None = None,
    above: float | None = None,
    at_most: float | None = None,
) -> float:
    """``value`` as a float, refused unless it is a finite real number in the given bounds.

    A TypeError for what is not a number (str, None, bool, a tensor: YAML and JSON hand
    those over as easily as numbers), a ValueError for NaN, infinities and values out of
    bounds; both name ``name``, so a bad option is found at once.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name}={value!r} is not a finite number")
    if at_least is not None and number < at_least:
        raise ValueError(f"{name}={value!r} must be >= {at_least}")
    if above is not None and number <= above:
        raise ValueError(f"{name}={value!r} must be > {above}")
    if at_most is not None and number > at_most:
        raise ValueError(f"{name}={value!r} must be <= {at_most}")
    return number


def require_tensor(x: Any, model: str, expected: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``x`` if it is a floating tensor (of ``dtype``, the model's weights' dtype, when given),
    else a ValueError naming the expected shape or dtype.

    Under autocast the dtypes may differ (autocast casts inputs and weights itself), except
    for float64, which autocast leaves as it is.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{model} expects a tensor of shape {expected}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(
            f"{model} expects a floating-point tensor of shape {expected}, got dtype {x.dtype} "
            "(one-hot encode DNA with zoo.one_hot)"
        )
    if dtype is not None and x.dtype != dtype and not _autocast_casts(x):
        raise ValueError(
            f"{model} expects {dtype} input (the dtype of its weights), got {x.dtype}; "
            f"convert it with x.to({dtype})"
        )
    return x


def _autocast_casts(x: torch.Tensor) -> bool:
    """Whether autocast is on for ``x``'s device and casts ``x`` (it leaves float64 alone)."""
    if x.dtype == torch.float64:
        return False
    try:
        return torch.is_autocast_enabled(x.device.type)
    except RuntimeError:  # a device type autocast does not know (meta)
        return False


def check_shape(
    x: Any,
    model: str,
    expected: tuple[int | None, ...],
    names: tuple[str, ...],
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Check ``x`` against ``expected`` (None = any size) and ``dtype``; errors say what was expected."""
    spelled = "(" + ", ".join(n if size is None else f"{n}={size}" for n, size in zip(names, expected)) + ")"
    x = require_tensor(x, model, spelled, dtype)
    ok = x.dim() == len(expected) and all(size is None or size == got for size, got in zip(expected, x.shape))
    if not ok:
        raise ValueError(f"{model} expects input of shape {spelled}, got {_shape(x)}")
    return x


def check_dna(x: Any, model: str, seq_len: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Check a one-hot DNA batch (N, 4, seq_len) of ``dtype``, with advice for Kipoi-style 4-D input."""
    expected = f"(N, 4, {seq_len})"
    x = require_tensor(x, model, expected, dtype)
    if x.dim() == 4 and x.shape[1] == 4 and (x.shape[2] == 1 or x.shape[3] == 1):
        axis = 2 if x.shape[2] == 1 else 3
        raise ValueError(
            f"{model} expects one-hot DNA of shape {expected}, got {_shape(x)}: this looks like "
            f"the Kipoi 4-D layout; drop axis {axis} first (x.squeeze({axis}))"
        )
    if x.dim() == 2 and x.shape[0] == 4:
        raise ValueError(
            f"{model} expects a batch of shape {expected}, got a single sequence {_shape(x)}; "
            "add a batch axis (x.unsqueeze(0))"
        )
    if x.dim() != 3:
        raise ValueError(f"{model} expects one-hot DNA of shape {expected}, got {_shape(x)}")
    if x.shape[1] != 4:
        hint = " (channels last? use x.transpose(1, 2))" if x.shape[2] == 4 else ""
        raise ValueError(
            f"{model} expects 4 channels (A, C, G, T) in shape {expected}, got {_shape(x)}{hint}"
        )
    if x.shape[2] != seq_len:
        raise ValueError(
            f"{model} was built for sequences of {seq_len} bp, shape {expected}, got {_shape(x)}; "
            f"build it with seq_len={x.shape[2]} or cut the input"
        )
    return x


def check_latents(x: Any, model: str, in_size: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A latent batch (N, in_size) of ``dtype``, also accepted as (N, in_size, 1, 1) (the DCGAN layout)."""
    if isinstance(x, torch.Tensor) and x.dim() == 4:
        x = check_shape(x, model, (None, in_size, 1, 1), ("N", "in_size", "1", "1"), dtype)
        return x.flatten(1)
    return check_shape(x, model, (None, in_size), ("N", "in_size"), dtype)


class NonFiniteWarning(RuntimeWarning):
    """Weights hold NaN or infinite values: every output they reach will be NaN or infinite."""


def non_finite_tensors(tensors: Mapping[str, torch.Tensor]) -> list[str]:
    """The names of the floating-point tensors in ``tensors`` holding NaN or infinite values.

    Tensors without values to look at (on the meta device, sparse) are passed over.
    """
    return [
        name
        for name, t in tensors.items()
        if (t.is_floating_point() or t.is_complex())
        and t.layout == torch.strided
        and t.device.type != "meta"
        and not bool(torch.isfinite(t).all())
    ]


def list_names(names: Sequence[str], limit: int = 5) -> str:
    """``a, b, c`` or ``a, b, c, d, e and 7 more``: names for a one-line message."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"
