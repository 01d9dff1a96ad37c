"""DNA bytes checked and gathered with numpy alone (no torch): what the readers, the reader
processes of zoo-predict and :mod:`zoo.dna`'s encoders share."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ALPHABET = "ACGT"

_VALID = np.zeros(256, dtype=bool)
_VALID_BYTES = b"ACGTNacgtn"
_VALID[list(_VALID_BYTES)] = True


def checked_codes(seqs: Sequence[str]) -> np.ndarray:
    """The bytes of equal-length DNA sequences as a (N, L) uint8 array, every symbol checked."""
    for i, s in enumerate(seqs):
        if not isinstance(s, str):
            raise TypeError(f"sequence {i} is a {type(s).__name__}, expected str")
    length = len(seqs[0])
    for i, s in enumerate(seqs):
        if len(s) != length:
            raise ValueError(
                f"sequences must all have the same length: sequence 0 has {length} bases, "
                f"sequence {i} has {len(s)}"
            )
    joined = "".join(seqs)
    try:
        raw = joined.encode("ascii")
    except UnicodeEncodeError as err:
        _raise_bad_symbol(joined[err.start], err.start, length, len(seqs))
    flat = first_invalid_symbol(raw)
    if flat >= 0:
        _raise_bad_symbol(chr(raw[flat]), flat, length, len(seqs))
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(seqs), length)


def first_invalid_symbol(raw: bytes) -> int:
    """The index of the first byte of ``raw`` that is not A, C, G, T or N (either case), else -1.

    What every reader checks DNA bytes with, so that no byte (a NUL, a control byte, a stray
    CR) is dropped or let through silently.

    Args:
        raw: the DNA bytes to check.
    """
    # bytes.translate deleting the valid symbols runs at GB/s; numpy finds the culprit only on failure
    if not raw.translate(None, _VALID_BYTES):
        return -1
    return int(np.flatnonzero(~_VALID[np.frombuffer(raw, dtype=np.uint8)])[0])


def _raise_bad_symbol(symbol: str, flat_pos: int, length: int, n: int) -> None:
    where = f"position {flat_pos % length}" + (f" of sequence {flat_pos // length}" if n > 1 else "")
    raise ValueError(f"invalid DNA symbol {symbol!r} at {where}; expected A, C, G, T or N")
