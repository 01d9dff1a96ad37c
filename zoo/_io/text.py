"""The fields of text tables (BED, VCF, TSV): strict whole numbers, and names a TSV can hold."""

from __future__ import annotations

import unicodedata

MAX_DIGITS = 18  # any coordinate, length or index fits; more would overflow int64 (and past
# 4,300 digits int() itself refuses, with a traceback)


def whole_number(text: str) -> int | None:
    """``text`` as an int when it is written with the digits 0-9 only, at most
    :data:`MAX_DIGITS` of them, else None.

    For coordinates in text files: ``int()`` also takes ``+300``, ``3_00``, `` 300 `` and
    digits of other scripts (``３００``), which no BED or VCF writer produces, so a file
    holding them is not what it claims to be.

    Args:
        text: one field of a text file.
    """
    ok = text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS
    return int(text) if ok else None


def too_many_digits(*texts: str) -> str | None:
    """Words saying that a number of ``texts`` has more digits than are read (naming the
    limit), for an error message; None when none has.

    Args:
        texts: fields or option values that may be numbers (a leading ``-`` is allowed).
    """
    for text in texts:
        digits = text[1:] if text.startswith("-") else text
        if len(digits) > MAX_DIGITS and digits.isdigit():
            shown = abbreviated(text)
            return f"{shown} has {len(digits):,} digits; numbers of at most {MAX_DIGITS} digits are read"
    return None


def abbreviated(text: str, limit: int = 24) -> str:
    """``text`` cut to ``limit`` characters (with an ellipsis and its length), for messages.

    Args:
        text: what a user gave.
        limit: the most characters shown.
    """
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def tsv_field_problem(name: str) -> str | None:
    """Why ``name`` cannot be a column name or name field of a TSV table, in words to follow
    it; None if it can.

    Empty names, tabs, line breaks (LF, CR and the Unicode ones) and other control
    characters are refused: in a TSV they shift the header against the rows or split a row.
    """
    if not name:
        return "is empty"
    if "\t" in name:
        return "holds a tab"
    for ch in name:
        if ch in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":  # what str.splitlines() breaks at
            return "holds a line break"
        if unicodedata.category(ch) == "Cc":
            return f"holds the control character {ch!r}"
    return None
