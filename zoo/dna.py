"""One-hot encoding of DNA (A, C, G, T channel order) and reverse complements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

import numpy as np
import torch

from zoo._bases import ALPHABET, checked_codes, first_invalid_symbol
from zoo._checks import require_number

__all__ = [
    "ALPHABET",
    "ambiguity_as_n",
    "base_codes",
    "first_invalid_symbol",
    "one_hot",
    "one_hot_codes",
    "reverse_complement",
    "reverse_complement_str",
]


def _lookup_table(n_value: float) -> np.ndarray:
    """(256, 4) float32: the one-hot row of every byte; NaN marks an invalid symbol."""
    table = np.full((256, 4), np.nan, dtype=np.float32)
    for i, base in enumerate(ALPHABET):
        row = np.zeros(4, dtype=np.float32)
        row[i] = 1.0
        table[ord(base)] = table[ord(base.lower())] = row
    table[ord("N")] = table[ord("n")] = n_value
    return table


_TABLES: dict[float, np.ndarray] = {}


def _as_list(seq: str | Sequence[str], caller: str) -> list[str]:
    """``seq`` as a list of str; bytes, non-iterables and containers whose iteration would
    misread them (a dict's keys, a set's arbitrary order, numbers) are refused, naming ``caller``."""
    why = _misread(seq)
    if why:
        raise TypeError(f"{caller} takes a str or a list of str, got {type(seq).__name__}{why}")
    try:
        seqs = [seq] if isinstance(seq, str) else list(seq)  # list, tuple, array, Series, generator
    except TypeError:
        raise TypeError(f"{caller} takes a str or a list of str, got {type(seq).__name__}") from None
    if not seqs:
        raise ValueError(f"{caller} got an empty list of sequences")
    return seqs


def _misread(seq: object) -> str:
    """Why iterating ``seq`` would not give its sequences in order ("" when it would)."""
    if isinstance(seq, (bytes, bytearray)):
        return " (decode it first)"
    if isinstance(seq, Mapping):
        return " (its keys would be read as the sequences)"
    if isinstance(seq, Set):
        return " (which has no order; pass a list)"
    if isinstance(seq, torch.Tensor):
        return " (already encoded? one_hot takes DNA letters)"
    if isinstance(seq, np.ndarray) and seq.dtype.kind not in "UO":
        return f" of {seq.dtype} (one_hot takes DNA letters)"
    return ""


def one_hot(seq: str | Sequence[str], n_value: float = 0.25) -> torch.Tensor:
    """One-hot encode DNA: a str gives (4, L), a list of equal-length str gives (N, 4, L).

    Channels are A, C, G, T; case is ignored; ``N`` becomes ``n_value`` in all four
    channels (0.25 as Kipoi and Selene do; pass 0.0 for ExPecto/Beluga). Any other
    symbol raises ValueError naming it and its position.

    Args:
        seq: a DNA string, or a list of equal-length DNA strings.
        n_value: the value of ``N`` in each of the four channels; a finite number.

    Returns:
        float32 (4, L) for a str, (N, 4, L) for a list.
    """
    n_value = require_number(n_value, "n_value")
    single = isinstance(seq, str)
    codes = checked_codes(_as_list(seq, "one_hot"))
    table = _TABLES.get(n_value)
    if table is None:
        table = _TABLES.setdefault(n_value, np.ascontiguousarray(_lookup_table(n_value).T))
    # Gather each channel row from a (4, 256) table straight into (N, 4, L): one pass,
    # contiguous writes, no transpose copy afterwards.
    out = np.empty((codes.shape[0], 4, codes.shape[1]), dtype=np.float32)
    for c in range(4):
        np.take(table[c], codes, out=out[:, c, :])
    encoded = torch.from_numpy(out)
    return encoded[0] if single else encoded


def base_codes(seq: str | Sequence[str]) -> torch.Tensor:
    """The checked ASCII bytes of DNA: a str gives (L,), a list of equal-length str (N, L) uint8.

    The same checks and errors as :func:`one_hot`, at 1 byte a base instead of 16: what to
    send to a GPU, which then encodes them with :func:`one_hot_codes`.

    Args:
        seq: a DNA string, or a list of equal-length DNA strings.
    """
    single = isinstance(seq, str)
    codes = checked_codes(_as_list(seq, "base_codes")).copy()  # a copy: frombuffer's array is read-only
    return torch.from_numpy(codes[0] if single else codes)


def one_hot_codes(codes: torch.Tensor, n_value: float = 0.25) -> torch.Tensor:
    """:func:`one_hot` of :func:`base_codes` output, on the codes' device: (..., L) -> (..., 4, L).

    Equal to ``one_hot(seqs, n_value)`` for the sequences the codes came from. The codes are
    not checked again (that would cost a pass on the device): a byte other than ACGTNacgtn,
    from anywhere but ``base_codes``, becomes a column of NaN.

    Args:
        codes: uint8 codes from :func:`base_codes`, shape (..., L), on any device.
        n_value: the value of ``N`` in each of the four channels; a finite number.
    """
    if not isinstance(codes, torch.Tensor):
        raise TypeError(f"one_hot_codes takes uint8 codes from base_codes, got {type(codes).__name__}")
    if codes.dtype != torch.uint8:
        raise TypeError(f"one_hot_codes takes uint8 codes from base_codes, got dtype {codes.dtype}")
    n_value = require_number(n_value, "n_value")
    key = (n_value, codes.device)
    table = _DEVICE_TABLES.get(key)
    if table is None:
        table = _DEVICE_TABLES.setdefault(key, torch.from_numpy(_lookup_table(n_value)).to(codes.device))
    return table[codes.int()].transpose(-1, -2).contiguous()


_DEVICE_TABLES: dict[tuple[float, torch.device], torch.Tensor] = {}


def reverse_complement(x: torch.Tensor) -> torch.Tensor:
    """Reverse complement of one-hot DNA in ACGT order, shape (..., 4, L).

    Flipping the channel axis swaps A<->T and C<->G; flipping the length axis reverses.

    Args:
        x: one-hot DNA, shape (..., 4, L).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"reverse_complement takes a one-hot tensor (..., 4, L), got {type(x).__name__}")
    if x.dim() < 2 or x.shape[-2] != 4:
        raise ValueError(f"reverse_complement expects shape (..., 4, L), got {tuple(x.shape)}")
    return x.flip(-2, -1)


def reverse_complement_str(seq: str) -> str:
    """Reverse complement of a DNA string (N stays N, case kept).

    Args:
        seq: the DNA string.
    """
    return seq.translate(_COMPLEMENT)[::-1]


_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def ambiguity_as_n(seq: str) -> str:
    """``seq`` in upper case with every letter but A, C, G, T read as N.

    For genome windows: reference FASTAs carry IUPAC ambiguity codes (R, Y, M, ...), which
    the models never saw. Sequences a user passes in are checked strictly by ``one_hot``.

    Args:
        seq: the DNA string.
    """
    return seq.translate(_AMBIGUITY_AS_N)


_AMBIGUITY_AS_N = str.maketrans(
    {c: "N" for c in "BDEFHIJKLMOPQRSUVWXYZbdefhijklmopqrsuvwxyz"} | {c: c.upper() for c in "acgtn"}
)
