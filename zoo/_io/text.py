"""The fields of text tables (BED, VCF, TSV): strict whole numbers, and names a TSV can hold."""

from __future__ import annotations

import unicodedata


def whole_number(text: str) -> int | None:
    """``text`` as an int when it is written with the digits 0-9 only, else None.

    For coordinates in text files: ``int()`` also takes ``+300``, ``3_00``, `` 300 `` and
    digits of other scripts (``３００``), which no BED or VCF writer produces, so a file
    holding them is not what it claims to be.
    """
    return int(text) if text.isascii() and text.isdigit() else None


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
