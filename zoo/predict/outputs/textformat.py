"""Text tables from numpy columns without a Python call per value: ``printf("%.6g")`` for whole
float arrays, and tab-separated rows built from byte arrays.

Each value is formatted into a fixed 16-byte cell whose unused bytes are zero; joining the
cells of a block of rows and deleting every zero byte leaves the text. The digits come from
float64 arithmetic, which is exact enough to round correctly except within 1e-7 of a tie
(a 7th significant digit of exactly 5); those rare values, and subnormal ones, are formatted
by Python, so the output is the same, byte for byte, as ``"%.6g" % value``.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

CELL = 16  # bytes of one formatted value; the longest, "-1.23456e-100", has 13
_U = np.uint64
_WORD = np.dtype("<u8")  # a cell is two words whose first byte is the first character
_OFF = 400  # table index of decimal exponent 0
_BLOCK_VALUES = 1 << 14  # values formatted per pass: the temporaries stay in the CPU cache


def _pieces(c: int, group: int, rest_zero: bool, first: bool) -> bytes:
    """The text of digits 1-3 (``first``) or 4-6 of the 6 significant digits, ``group`` being
    their value, in a number with ``c`` digits before the decimal point (0 for 0.000ddd,
    1 for d.ddddd and the exponent notation, up to 6 for dddddd). As %g writes them: no
    trailing zeros after the point, and no point when no digit follows it; ``rest_zero``
    tells digits 1-3 that digits 4-6 are all zero."""
    digits = b"%03d" % group
    k = c if first else c - 3  # integer digits in this group
    if k >= 3:
        return digits
    if k <= 0:  # all after the point (or c == 0: after the prefix "0.000")
        point = b"." if k == 0 and not first and digits.rstrip(b"0") else b""
        kept = digits.rstrip(b"0") if (rest_zero or not first) else digits
        return point + kept
    after = digits[k:].rstrip(b"0") if (rest_zero or not first) else digits[k:]
    return digits[:k] + (b"." + after if after else b"")


@functools.cache
def _tables() -> dict[str, np.ndarray]:
    """Lookup tables of the formatter (built on first use), indexed by the decimal exponent X
    (at X + _OFF) or by a 3-digit group and the number of digits before the point."""
    exps = range(-_OFF, _OFF + 1)
    # low[X + _OFF]: the smallest double that rounds (to 6 digits) to exponent X or more,
    # i.e. the smallest double >= 9.999995e(X-1)
    low = np.full(len(exps), np.inf)
    for i, x in enumerate(exps):
        if -320 < x < 309:
            exact = Fraction(9999995) * Fraction(10) ** (x - 7)
            d = float(exact)
            low[i] = d if Fraction(d) >= exact else math.nextafter(d, math.inf)
    # the text of the 6 digits (with its decimal point) is first[...] | second[...], 8 bytes
    # at most; second starts at byte 4, and byte 3 stays empty when first has 3 bytes
    first = np.zeros((7, 2, 1000), _U)  # [c, digits 4-6 all zero, digits 1-3]
    second = np.zeros((7, 1000), _U)  # [c, digits 4-6]
    for c in range(7):
        for g in range(1000):
            for rest_zero in (False, True):
                first[c, int(rest_zero), g] = int.from_bytes(_pieces(c, g, rest_zero, True), "little")
            second[c, g] = int.from_bytes(_pieces(c, g, False, False), "little") << 32
    # Each exponent X belongs to one of 11 notations: fixed for -4 <= X < 6 (notation X + 4;
    # 0.000ddd below 1), else d.ddddde+XX (notation 10). A notation fixes the digits before
    # the point and the prefix ("0.0..." below 1), so the digit tables can hold the cell's
    # two words already shifted into place behind the sign byte and the prefix.
    notation = np.full(len(exps), 10, np.int64)
    suffix = np.zeros(len(exps), _U)
    for i, x in enumerate(exps):
        if -4 <= x < 6:
            notation[i] = x + 4
        else:  # from byte 9: the digits may reach byte 8
            suffix[i] = int.from_bytes(b"e%s%02d" % (b"-" if x < 0 else b"+", abs(x)), "little") << 8
    word0_first, word1_first = np.zeros((11, 2, 1000), _U), np.zeros((11, 2, 1000), _U)
    word0_second, word1_second = np.zeros((11, 1000), _U), np.zeros((11, 1000), _U)
    for k in range(11):
        x = k - 4 if k < 10 else 0
        c = (x + 1 if x >= 0 else 0) if k < 10 else 1
        prefix = b"0." + b"0" * (-x - 1) if k < 10 and x < 0 else b""
        shift, unshift = _U(8 * (1 + len(prefix))), _U(64 - 8 * (1 + len(prefix)))  # byte 0: the sign
        word0_first[k] = (first[c] << shift) | _U(int.from_bytes(prefix, "little") << 8)
        word1_first[k] = first[c] >> unshift
        word0_second[k] = second[c] << shift
        word1_second[k] = second[c] >> unshift
    return {
        "scale": np.array([float(f"1e{5 - x}") for x in exps]),  # [X + _OFF]: 10**(5 - X)
        "next_low": np.append(low[1:], np.inf),  # [X + _OFF]: low of X + 1
        "row": notation * 2000,  # [X + _OFF]: the notation's row of the *_first tables (20000: exponent)
        "suffix": suffix,  # [X + _OFF]: "e-XX" in word 1, or nothing for fixed notation
        # [notation * 2000 + (digits 4-6 all zero) * 1000 + digits 1-3], [notation * 1000 + digits 4-6]
        "word0_first": word0_first.ravel(),
        "word1_first": word1_first.ravel(),
        "word0_second": word0_second.ravel(),
        "word1_second": word1_second.ravel(),
    }


def g6_cells(values: np.ndarray, out: np.ndarray, sep: int = 0) -> None:
    """Write ``"%.6g" % v`` for each value of the float array ``values`` into ``out``, a
    little-endian uint64 array of shape ``values.shape + (2,)``: the 16 bytes of a value hold
    its text, zero-padded, and the byte ``sep`` last (0: none; the text never reaches it).
    """
    with np.errstate(all="ignore"):  # infinities and NaNs pass through; they are replaced below
        _finite_cells(values, out, _U(sep) << _U(56))


class _Work:
    """The formatter's work arrays for up to ``size`` values, kept between calls (one set a
    thread). Fresh temporaries of a block's size come from mmap and go back to the system
    when freed, depending on the allocator's history: their page faults then cost more than
    the formatting itself (the formatter took 2.8-3.0 times as long, measured)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.a, self.scaled, self.r, self.gathered = (np.empty(size) for _ in range(4))
        self.e2, self.x, self.lo, self.hi, self.row, self.product = (
            np.empty(size, np.int64) for _ in range(6)
        )
        self.w0, self.region, self.word = (np.empty(size, _U) for _ in range(3))
        self.flagged, self.mask = np.empty(size, bool), np.empty(size, bool)


_WORK = threading.local()


def _work(n: int) -> _Work:
    """This thread's work arrays, for ``n`` values (a larger call gets arrays of its own)."""
    work: _Work | None = getattr(_WORK, "arrays", None)
    if work is not None and work.size >= n:
        return work
    if n > 4 * _BLOCK_VALUES:  # not kept: a large one-off call would hold its memory for good
        return _Work(n)
    _WORK.arrays = _Work(max(n, _BLOCK_VALUES))
    return _WORK.arrays


def _finite_cells(values: np.ndarray, out: np.ndarray, sep: np.uint64) -> None:
    t = _tables()
    n = values.size
    w = _work(n)
    v = values.reshape(n)
    a, scaled, r, gathered = w.a[:n], w.scaled[:n], w.r[:n], w.gathered[:n]
    e2, x, lo, hi, row, product = w.e2[:n], w.x[:n], w.lo[:n], w.hi[:n], w.row[:n], w.product[:n]
    w0, region, word, flagged, mask = w.w0[:n], w.region[:n], w.word[:n], w.flagged[:n], w.mask[:n]
    np.abs(v, out=a)  # as float64
    np.right_shift(a.view(np.int64), 52, out=e2)  # biased binary exponent (a is not negative)
    # floor((e2 - 1023) * log10(2)) + _OFF: the decimal exponent, or one less, as a table index
    np.multiply(e2, 78913, out=x)
    x += _OFF * (1 << 18) - 1023 * 78913
    x >>= 18
    t["next_low"].take(x, out=gathered, mode="clip")
    x += np.greater_equal(a, gathered, out=mask)  # the exponent after rounding to 6 digits
    t["scale"].take(x, out=gathered, mode="clip")
    np.multiply(a, gathered, out=scaled)  # in [1e5, 1e6): the 6 digits before rounding
    np.rint(scaled, out=r)
    # zeros, subnormals, numbers below 1e-278 (beyond the scale table's range), infinities, NaNs;
    # and values within 1e-7 of a tie, where float64 cannot tell which way to round
    e2 -= 100
    np.greater(e2.view(_U), _U(2046 - 100), out=flagged)
    scaled -= r
    flagged |= np.greater(np.abs(scaled, out=scaled), 0.4999999, out=mask)
    np.copyto(lo, r, casting="unsafe")  # flagged values may give garbage: take() clips
    np.multiply(lo, 536871, out=hi)  # lo // 1000 for 0 <= lo <= 10**6, without a division
    hi >>= 29
    lo -= np.multiply(hi, 1000, out=product)
    # digits 1-3 lose their trailing zeros too (rare: an add where the mask is set)
    np.add(hi, 1000, out=hi, where=np.equal(lo, 0, out=mask))
    t["row"].take(x, out=row, mode="clip")
    exponent_notation = np.equal(row, 20000, out=mask).any()  # notation 10 (zeros and NaNs too)
    hi += row
    row >>= 1
    lo += row
    t["word0_first"].take(hi, out=w0, mode="clip")
    w0 |= t["word0_second"].take(lo, out=word, mode="clip")
    if np.less(v, 0, out=mask).any():
        w0 |= np.multiply(np.signbit(v, out=mask), _U(ord("-")), out=word)
    t["word1_first"].take(hi, out=region, mode="clip")
    region |= t["word1_second"].take(lo, out=word, mode="clip")
    if exponent_notation:
        region |= t["suffix"].take(x, out=word, mode="clip")
    region |= sep
    out[..., 0] = w0.reshape(values.shape)  # the cells interleave the two words: written once each
    out[..., 1] = region.reshape(values.shape)
    if flagged.any():
        _flagged_cells(values, flagged.reshape(values.shape), out, sep)


def _flagged_cells(values: np.ndarray, flagged: np.ndarray, out: np.ndarray, sep: np.uint64) -> None:
    """Zeros, infinities and NaNs (``nan`` without a sign, as Python prints it) by table; the
    rest of the flagged values (near-ties, subnormals) by Python."""
    where = np.nonzero(flagged)
    v = values[where]
    nan, inf, zero = np.isnan(v), np.isinf(v), v == 0
    sign = np.where(np.signbit(v) & ~nan, _U(ord("-")), _U(0))
    out[where + (0,)] = np.select([nan, inf], [_SPECIAL["nan"], _SPECIAL["inf"]], _SPECIAL["0"]) | sign
    out[where + (1,)] = sep
    for i in zip(*(w[~(nan | inf | zero)] for w in where)):
        text = format(float(values[i]), ".6g").encode()  # the same as "%.6g" %
        out[i] = [0, sep]
        out[i].view(np.uint8)[: len(text)] = np.frombuffer(text, np.uint8)


_SPECIAL = {name: _U(int.from_bytes(name.encode(), "little") << 8) for name in ("nan", "inf", "0")}


def format_g6(values: np.ndarray | Sequence[float]) -> list[str]:
    """``["%.6g" % v for v in values]``, computed the vectorised way (for checks and small uses)."""
    flat = np.asarray(values).ravel()
    cells = np.zeros((flat.size, 2), _WORD)
    g6_cells(flat if flat.dtype.kind == "f" else flat.astype(np.float64), cells)
    return [bytes(c[c != 0]).decode("ascii") for c in cells.view(np.uint8).reshape(-1, CELL)]


def text_column(values: Any) -> np.ndarray:
    """A column as ``"%s"`` would print each value, UTF-8 encoded: an (n, width) uint8 array,
    zero-padded. Integer and text columns convert without a Python call per value."""
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    if array.dtype.kind in "iub":
        encoded = array.astype(np.bytes_)
    elif array.dtype.kind == "U":
        try:  # ASCII text (contig names, ids, alleles): numpy's own conversion, several times faster
            encoded = array.astype(np.bytes_)
        except UnicodeEncodeError:
            encoded = np.char.encode(array, "utf-8")
    else:  # floats, objects: str() of each value (as "%s")
        encoded = np.char.encode(np.array([str(v) for v in array.tolist()], dtype=np.str_), "utf-8")
    width = max(encoded.dtype.itemsize, 1)
    return np.ascontiguousarray(encoded).view(np.uint8).reshape(len(array), width)


def tsv_rows(columns: Sequence[np.ndarray], scores: np.ndarray) -> bytes:
    """Tab-separated lines: the ``columns`` (from :func:`text_column`), then ``scores`` (n, k)
    as ``%.6g``; each line ends in a newline."""
    return b"".join(tsv_blocks(columns, scores))


def tsv_blocks(columns: Sequence[np.ndarray], scores: np.ndarray) -> Iterator[bytes | bytearray]:
    """:func:`tsv_rows` in pieces of whole lines, each from a few thousand values (to write
    as they come, without one large copy)."""
    n, k = scores.shape
    texts = [c.view(np.uint8) for c in columns]
    if not k and not texts:
        yield b"\n" * n
        return
    meta_width = sum(c.shape[1] + 1 for c in texts)
    start = -meta_width % 8  # the cells begin on an 8-byte boundary, so they can be written as words
    width = start + meta_width + k * CELL
    rows_per_block = max(1, _BLOCK_VALUES // max(k, 1))
    # one buffer for every block: each block writes all of it but the zeros in front; a
    # bytearray, so that its zero bytes are deleted without copying it to bytes first
    raw = bytearray(min(n, rows_per_block) * width)
    buffer = np.frombuffer(raw, np.uint8).reshape(-1, width)
    for first in range(0, n, rows_per_block):
        block = buffer[: min(n, first + rows_per_block) - first]
        at = start
        for c in texts:
            block[:, at : at + c.shape[1]] = c[first : first + len(block)]
            block[:, at + c.shape[1]] = ord("\t")
            at += c.shape[1] + 1
        if k:
            cells = block[:, at:].view(_WORD).reshape(len(block), k, 2)
            g6_cells(scores[first : first + len(block)], cells, sep=ord("\t"))
        block[:, -1] = ord("\n")
        whole = len(block) == len(buffer)
        yield (raw if whole else raw[: block.nbytes]).translate(None, b"\0")
