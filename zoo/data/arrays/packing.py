"""0/1 arrays packed eight values to a byte, and unpacked to float32 on the device they reach.

Labels and one-hot sequences are 0/1 almost always: packed, a batch crosses from DataLoader
workers and onto the GPU in a 32nd of float32's bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def pack_bits(a: np.ndarray) -> np.ndarray | None:
    """``a`` with its last axis packed eight values to a byte (``np.packbits``), or None
    unless every value is 0 or 1."""
    if a.size == 0 or a.dtype == np.bool_:
        binary = True
    elif a.dtype.kind in "iu":
        binary = a.max() <= 1 and (a.dtype.kind == "u" or a.min() >= 0)
    else:
        binary = bool(np.all((a == 0) | (a == 1)))
        a = a != 0
    return np.packbits(a, axis=-1) if binary else None


def pack_or_float(a: np.ndarray) -> np.ndarray:
    """``a`` bit-packed (uint8) when its values allow, else a float32 copy."""
    bits = pack_bits(a)
    return bits if bits is not None else a.astype(np.float32)


def unpack_bits(bits: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """float32 values of :func:`pack_bits` output, ``size`` of them along the last axis;
    on the device the bits are on."""
    if isinstance(bits, torch.Tensor) and bits.device.type != "cpu":
        return _unpack_bits_torch(bits, size)
    # On the CPU numpy's table-driven unpacking, and its allocator: a fresh torch tensor of
    # this size pays a page fault per 4 KiB.
    array = bits.numpy() if isinstance(bits, torch.Tensor) else bits
    return torch.from_numpy(np.unpackbits(array, axis=-1, count=size).astype(np.float32))


def _unpack_bits_torch(bits: torch.Tensor, size: int) -> torch.Tensor:
    """:func:`unpack_bits` in torch operations, for batches already on an accelerator."""
    shifts = torch.arange(7, -1, -1, dtype=torch.uint8, device=bits.device)
    return ((bits.unsqueeze(-1) >> shifts) & 1).flatten(-2)[..., :size].float()


def unpack_batch(batch: tuple[Any, Any], seq_len: int, n_targets: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(x float32 (B, 4, seq_len), y float32 (B, n_targets)) of a batch from
    ``ArrayRecords(packed=True)`` (numpy arrays, or tensors made of them): uint8 parts are
    bit-packed, float32 ones final."""
    parts = []
    for a, size in zip(batch, (seq_len, n_targets)):
        if a.dtype in (np.uint8, torch.uint8):
            parts.append(unpack_bits(a, size))
        else:
            parts.append(torch.from_numpy(a) if isinstance(a, np.ndarray) else a)
    return parts[0], parts[1]
