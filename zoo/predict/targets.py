"""Target names: read from a file, made unique as column names, and picked with ``--targets``
(names, indices, globs and ``re:`` patterns)."""

from __future__ import annotations

import difflib
import os
from collections import Counter
from collections.abc import Sequence

from zoo._io.text import tsv_field_problem
from zoo.predict.errors import PathLike, PredictError, require_file
from zoo.targets import REGEX_PREFIX, match_targets


def read_target_names(path: PathLike, n_targets: int) -> list[str]:
    """Target names from a file with one name per line (e.g. Kipoi's predictor_names.txt).

    Only LF (or CRLF) ends a line. A name that is blank or holds a tab, a line break or
    another control character is refused naming its line: it would shift a TSV header
    against its rows, or make a column without a name.
    """
    try:
        text = require_file(path, "--labels").read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise PredictError(
            f"--labels {os.fspath(path)} is not UTF-8 text ({err.reason}); expected one target name per line"
        ) from None
    labels = [line.removesuffix("\r") for line in text.split("\n")]
    while labels and not labels[-1].strip():
        labels.pop()  # tolerate trailing blank lines
    for number, name in enumerate(labels, 1):
        if not name.strip():
            raise PredictError(
                f"--labels {os.fspath(path)} line {number} is blank; every target needs a name"
            )
        problem = tsv_field_problem(name)
        if problem is not None:
            raise PredictError(
                f"--labels {os.fspath(path)} line {number}: the target name {name!r} {problem}"
            )
    if len(labels) != n_targets:
        raise PredictError(
            f"--labels {os.fspath(path)} has {len(labels)} names, the model has {n_targets} targets"
        )
    return labels


def default_labels(n_targets: int) -> list[str]:
    """``target_0``, ``target_1``, ...: the column names when no labels are given."""
    return [f"target_{i}" for i in range(n_targets)]


def _is_pattern(item: str) -> bool:
    return item.startswith(REGEX_PREFIX) or bool(set(item) & set("*?["))


Pick = tuple[str, list[int]]  # a --targets entry and the indices it picks


def _picks(columns: Sequence[str], wanted: Sequence[str], names: Sequence[str]) -> list[Pick]:
    """Each ``--targets`` entry with the indices it picks: a column name or an index picks one
    target; a pattern (glob, ``re:``) every target whose name in ``names`` it matches."""
    by_name = {label: i for i, label in enumerate(columns)}
    picks = []
    for item in wanted:
        if item in by_name:
            picks.append((item, [by_name[item]]))
        elif item.lstrip("-").isdigit() and -len(columns) <= int(item) < len(columns):
            picks.append((item, [int(item) % len(columns)]))
        elif _is_pattern(item):
            try:
                picks.append((item, match_targets(names, [item])))
            except ValueError as err:
                raise PredictError(f"--targets: {err}") from None
        else:
            close = difflib.get_close_matches(item, list(columns), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise PredictError(
                f"unknown target {item!r}: not a target name, not an index in 0..{len(columns) - 1} and "
                f"not a pattern (a glob such as '*K562*', or 're:REGEX'){hint}"
            )
    return picks


def select_targets(
    labels: Sequence[str], wanted: Sequence[str] | None, names: Sequence[str] | None = None
) -> list[int]:
    """Indices of the targets ``wanted``; all if None.

    Each entry is a name in ``labels``, an index, or a pattern over ``names`` (default
    ``labels``): a shell glob over whole names (``*K562*``) or ``re:REGEX`` (searched in
    each name), as :func:`zoo.targets.match_targets` reads them. Targets come in the order
    given, a pattern's in output order; one picked twice appears once.
    """
    if not wanted:
        return list(range(len(labels)))
    picks = _picks(labels, wanted, labels if names is None else names)
    return list(dict.fromkeys(i for _, indices in picks for i in indices))


def unique_labels(labels: Sequence[str]) -> list[str]:
    """Target names made unique for the output columns: the k-th target carrying a name gets
    ``NAME#k`` (k >= 2). Real label files repeat names (one profile from several labs)."""
    taken, seen, out = set(labels), Counter[str](), []
    for name in labels:
        seen[name] += 1
        if seen[name] == 1:
            out.append(name)
            continue
        k = seen[name]
        while f"{name}#{k}" in taken:
            k += 1
        taken.add(f"{name}#{k}")
        out.append(f"{name}#{k}")
    return out


def check_picked_targets(labels: Sequence[str], columns: Sequence[str], wanted: Sequence[str] | None) -> None:
    """Refuse ``--targets`` entries that name a repeated label (which target?) or that pick a
    target twice by name or index (patterns may overlap: they select sets).

    ``labels`` are the names as given, ``columns`` the unique names from :func:`unique_labels`.
    """
    counts = Counter(labels)
    for entry in wanted or ():
        if counts[entry] > 1:
            where = [i for i, label in enumerate(labels) if label == entry]
            spelled = ", ".join(f"{columns[i]!r} (index {i})" for i in where)
            raise PredictError(
                f"--targets {entry!r} is ambiguous: {len(where)} targets carry that name; their "
                f"columns are {spelled}: pick by column name or index"
            )
    entries: dict[int, list[str]] = {}
    for entry, indices in _picks(columns, wanted or (), labels):
        if not _is_pattern(entry) or entry in columns:
            entries.setdefault(indices[0], []).append(entry)
    for index, given in entries.items():
        if len(given) > 1:
            raise PredictError(
                f"--targets picks target {columns[index]!r} (index {index}) more than once "
                f"({', '.join(map(repr, given))}); list each target once"
            )
