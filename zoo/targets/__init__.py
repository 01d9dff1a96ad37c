"""Output names of the published models, and a table of them to filter from Python.

The lists ship with the package, one name per line in output order, copied verbatim from
the models' repositories:

- ``deepsea_919``: DeepSEA (Kipoi's predictor names), ``cell_assay_treatment``
- ``beluga_2002``: Beluga (ExPecto), the same style
- ``basset_164``: Basset, cell types (every output is DNase-seq accessibility)
- ``sei_21907``: Sei's chromatin profiles, ``cell | assay | source``
- ``sei_seqclass_40``: Sei's 40 sequence classes, e.g. ``PC1 Polycomb / Heterochromatin``

Examples:
    >>> from zoo.targets import load_target_table
    >>> ctcf = [t.index for t in load_target_table("deepsea_919") if t.assay == "CTCF"]

How names split into fields (checked on every shipped list by the tests):

- DeepSEA style: a name is ``_``-separated, but cell names (``SK-N-SH_RA``, Roadmap's
  ``H1_BMP4_Derived_Mesendoderm_Cultured_Cells``) and treatments (``EtOH_0.02pct``) contain
  ``_`` themselves, so no fixed split works. When the last field is ``None`` (no treatment)
  the assay is the field before it and the cell everything before that; otherwise the cell
  is the first field, the assay the second and the treatment the rest (no treated cell in
  the lists has ``_`` in its name). DeepSEA's placeholder ``NA_NA_NA`` reads as cell, assay
  and treatment ``NA``.
- Sei style: ``cell | assay | source`` where source is ``ID:n``, ``ENCODE`` or ``Roadmap``,
  sometimes followed by ``| n`` (a replicate); a cell written ``A549 (EtOH_0.02pct)`` is
  cell ``A549`` with that treatment.

Fields are stripped of surrounding white space (one DeepSEA cell name ends in a no-break
space); ``name`` is always the verbatim line.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import functools
import importlib.resources
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from zoo._extras import install_hint
from zoo._io.text import too_many_digits

Style = Literal["auto", "deepsea", "sei", "cell", "plain"]

# list name -> (naming style, assay shared by every output when the names do not say it)
TARGET_LISTS: dict[str, tuple[str, str | None]] = {
    "basset_164": ("cell", "DNase"),
    "beluga_2002": ("deepsea", None),
    "deepsea_919": ("deepsea", None),
    "sei_21907": ("sei", None),
    "sei_seqclass_40": ("plain", None),
}

REGEX_PREFIX = "re:"
MAX_REGEX_CHARS = 1000  # a target name pattern, not a program
_GLOB_CHARS = frozenset("*?[")
_SEI_TREATMENT = re.compile(r"^(?P<cell>.*\S) \((?P<treatment>[^()]+)\)$")


def available_target_lists() -> list[str]:
    """Names of the target lists that ship with the package."""
    return sorted(TARGET_LISTS)


def _check_list_name(list_name: str) -> str:
    name = list_name.removesuffix(".txt")
    if name not in TARGET_LISTS:
        close = difflib.get_close_matches(name, list(TARGET_LISTS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown target list {list_name!r}.{hint} Known lists: {', '.join(available_target_lists())}"
        )
    return name


@functools.cache
def _read_list(name: str) -> tuple[str, ...]:
    text = importlib.resources.files(__name__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    return tuple(text.splitlines())


def load_target_names(list_name: str) -> list[str]:
    """The output names of a shipped list (e.g. ``"deepsea_919"``), in output order.

    Args:
        list_name: a shipped list (:func:`available_target_lists`).
    """
    return list(_read_list(_check_list_name(list_name)))


@dataclass(frozen=True)
class TargetInfo:
    """One model output: its index, verbatim name and the fields the name encodes.

    Fields a naming style does not have are None (e.g. ``treatment`` of an untreated
    sample, ``source`` outside Sei's list).

    Attributes:
        index: the output's index.
        name: its verbatim name.
        cell: the cell type or tissue.
        assay: the assay (``DNase``, a TF, a histone mark).
        treatment: the treatment.
        source: the source of the data (Sei's names).
    """

    index: int
    name: str
    cell: str | None = None
    assay: str | None = None
    treatment: str | None = None
    source: str | None = None


class TargetTable(list[TargetInfo]):
    """A list of :class:`TargetInfo` that also turns into a pandas DataFrame."""

    @property
    def indices(self) -> list[int]:
        """The output index of every row."""
        return [t.index for t in self]

    def to_dataframe(self) -> Any:
        """The table as a ``pandas.DataFrame``, one column per field (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(f"TargetTable.to_dataframe needs pandas: {install_hint('tables')}") from None
        columns = [f.name for f in dataclasses.fields(TargetInfo)]
        return pd.DataFrame([dataclasses.astuple(t) for t in self], columns=columns)


def _field(text: str) -> str | None:
    text = text.strip()
    return text or None


def _split_deepsea(index: int, name: str) -> TargetInfo:
    parts = name.split("_")
    if len(parts) < 3:
        raise ValueError(f"target {index} {name!r}: expected a DeepSEA-style name cell_assay_treatment")
    if parts[-1].strip() == "None":
        cell, assay, treatment = "_".join(parts[:-2]), parts[-2], ""
    else:
        cell, assay, treatment = parts[0], parts[1], "_".join(parts[2:])
    return TargetInfo(index, name, _field(cell), _field(assay), _field(treatment))


def _split_sei(index: int, name: str) -> TargetInfo:
    parts = name.split("|")
    if len(parts) < 3:
        raise ValueError(f"target {index} {name!r}: expected a Sei-style name 'cell | assay | source'")
    cell, treatment = parts[0].strip(), ""
    match = _SEI_TREATMENT.match(cell)
    if match:
        cell, treatment = match["cell"], match["treatment"]
    source = " | ".join(p.strip() for p in parts[2:])
    return TargetInfo(index, name, _field(cell), _field(parts[1]), _field(treatment), _field(source))


def _detect_style(names: Sequence[str]) -> str:
    if names and all(name.count("|") >= 2 for name in names):
        return "sei"
    if names and all(name.count("_") >= 2 for name in names):
        return "deepsea"
    return "plain"


def target_table(names: Iterable[str], style: Style = "auto", assay: str | None = None) -> TargetTable:
    """One :class:`TargetInfo` per name, its fields split according to ``style``.

    Args:
        names: the target names, in output order.
        style: ``"deepsea"`` (``cell_assay_treatment``, see the module docstring for the
            rule), ``"sei"`` (``cell | assay | source``), ``"cell"`` (the name is a cell type),
            ``"plain"`` (no fields), or ``"auto"``: Sei style when every name has two ``|``,
            DeepSEA style when every name has two ``_``, plain otherwise.
        assay: fills the assay of names that do not carry one (Basset's outputs are all
            ``"DNase"``).
    """
    names = list(names)
    if style == "auto":
        style = _detect_style(names)
    if style == "deepsea":
        rows = [_split_deepsea(i, n) for i, n in enumerate(names)]
    elif style == "sei":
        rows = [_split_sei(i, n) for i, n in enumerate(names)]
    elif style == "cell":
        rows = [TargetInfo(i, n, cell=_field(n)) for i, n in enumerate(names)]
    elif style == "plain":
        rows = [TargetInfo(i, n) for i, n in enumerate(names)]
    else:
        raise ValueError(f"style={style!r} is not one of ['auto', 'deepsea', 'sei', 'cell', 'plain']")
    if assay is not None:
        rows = [t if t.assay is not None else dataclasses.replace(t, assay=assay) for t in rows]
    return TargetTable(rows)


def load_target_table(list_name: str) -> TargetTable:
    """:func:`target_table` of a shipped list, split in that list's style.

    Args:
        list_name: a shipped list (:func:`available_target_lists`).
    """
    name = _check_list_name(list_name)
    style, assay = TARGET_LISTS[name]
    return target_table(_read_list(name), style, assay)  # type: ignore[arg-type]


def _index(pattern: int, n: int) -> int:
    if not -n <= pattern < n:
        raise ValueError(f"target index {pattern} is out of range: there are {n} targets (0..{n - 1})")
    return pattern % n


def _matches_of(names: Sequence[str], pattern: int | str) -> list[int]:
    """Indices that one pattern selects (see :func:`match_targets`); [] when none."""
    if isinstance(pattern, bool) or not isinstance(pattern, (int, str)):
        raise TypeError(f"target pattern {pattern!r}: expected an index (int) or a str")
    if isinstance(pattern, int):
        return [_index(pattern, len(names))]
    exact = [i for i, name in enumerate(names) if name == pattern]
    if exact:
        return exact
    if pattern.startswith(REGEX_PREFIX):
        shown = pattern if len(pattern) <= 60 else pattern[:60] + "..."
        return regex_search(names, pattern[len(REGEX_PREFIX) :], f"target pattern {shown!r}")
    if _GLOB_CHARS & set(pattern):
        return [i for i, name in enumerate(names) if fnmatch.fnmatchcase(name, pattern)]
    if pattern.lstrip("-").isdigit():
        long = too_many_digits(pattern)
        if long is not None:  # int() of it would be a traceback past 4,300 digits
            raise ValueError(f"target pattern: an index {long}")
        return [_index(int(pattern), len(names))]
    return []


def regex_search(names: Sequence[str], regex: str, what: str) -> list[int]:
    """Indices of the names ``regex`` is found in (as ``re.search``), in time linear in each name.

    Python's ``re`` backtracks: ``(a+)+$`` takes 2**n steps on a name of n ``a``s and one other
    letter. The names are searched by RE2 instead (pyarrow's ``match_substring_regex``), which
    never backtracks; what RE2 lacks (backreferences, lookarounds) is refused, and so is a
    pattern of more than :data:`MAX_REGEX_CHARS` characters.

    Args:
        names: the names to search.
        regex: the regular expression (Python's syntax, checked with ``re.compile``).
        what: how an error names the pattern (``"target pattern 're:...'"``).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(regex) > MAX_REGEX_CHARS:
        raise ValueError(f"{what} is longer than {MAX_REGEX_CHARS} characters; write a shorter one")
    try:
        re.compile(regex)  # Python's syntax, and its messages
    except re.error as err:
        raise ValueError(f"{what} is not a valid regular expression: {err}") from None
    try:
        found = pc.match_substring_regex(pa.array(list(names), pa.string()), regex)
    except pa.ArrowInvalid as err:  # RE2's reason, e.g. "invalid perl operator: (?="
        reason = str(err).splitlines()[0].removeprefix("Invalid regular expression: ")
        raise ValueError(
            f"{what} is not matched in linear time ({reason}): backreferences, lookarounds and \\Z "
            "are not supported (they can make matching take exponential time)"
        ) from None
    return [i for i, hit in enumerate(found.to_pylist()) if hit]


def match_targets(names: Sequence[str], patterns: int | str | Iterable[int | str]) -> list[int]:
    """Indices of the targets ``patterns`` select, in pattern order, without repeats.

    Each pattern is tried in this order:

    - an ``int`` (or a string of digits that is not a name): an index, negative from the end;
    - a string equal to a name: every target of that name (DeepSEA repeats some names);
    - ``"re:REGEX"``: the names ``re.search`` finds REGEX in (``re:(?i)ctcf`` ignores case),
      matched by RE2 in linear time (no backreferences or lookarounds; at most
      :data:`MAX_REGEX_CHARS` characters);
    - a string with ``*``, ``?`` or ``[``: a shell glob over whole names, case-sensitive
      (``*K562*``, ``*_CTCF_*``).

    A pattern that selects nothing raises ValueError naming it (with close names).

    Args:
        names: the target names, in output order.
        patterns: one pattern or several, each as above.
    """
    if isinstance(patterns, (int, str)):
        patterns = [patterns]
    names = list(names)
    picked: dict[int, None] = {}
    for pattern in patterns:
        found = _matches_of(names, pattern)
        if not found:
            close = difflib.get_close_matches(str(pattern), names, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"target pattern {pattern!r} matches none of the {len(names)} targets "
                f"(patterns: a name, an index, a glob such as '*K562*', or 're:REGEX'){hint}"
            )
        picked.update(dict.fromkeys(found))
    return list(picked)
