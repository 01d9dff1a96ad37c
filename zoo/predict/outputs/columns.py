"""Score columns: target names made unique as column names, and picked with ``--targets``
(names, indices, globs and ``re:`` patterns)."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence

from zoo._io.text import too_many_digits
from zoo.predict.errors import PredictError
from zoo.targets import REGEX_PREFIX, match_targets


def default_labels(n_targets: int) -> list[str]:
    """``target_0``, ``target_1``, ...: the column names when no labels are given.

    Args:
        n_targets: the number of targets.
    """
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
        long = None if item in by_name else too_many_digits(item)
        if long is not None:  # int() of it would be a traceback past 4,300 digits
            raise PredictError(f"--targets: a target index {long}")
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

    Targets come in the order given, a pattern's in output order; one picked twice appears
    once.

    Args:
        labels: the names of all targets.
        wanted: each entry a name in ``labels``, an index, or a pattern over ``names``: a
            shell glob over whole names (``*K562*``) or ``re:REGEX`` (searched in each name),
            as :func:`zoo.targets.match_targets` reads them; None: all.
        names: the names patterns are matched against (default ``labels``).
    """
    if not wanted:
        return list(range(len(labels)))
    picks = _picks(labels, wanted, labels if names is None else names)
    return list(dict.fromkeys(i for _, indices in picks for i in indices))


def unique_labels(labels: Sequence[str]) -> list[str]:
    """Target names made unique for the output columns: the k-th target carrying a name gets
    ``NAME#k`` (k >= 2). Real label files repeat names (one profile from several labs).

    Args:
        labels: the target names.
    """
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


def pick_targets(
    labels: Sequence[str] | None, n_targets: int, wanted: Sequence[str] | None
) -> tuple[list[int], list[str]]:
    """The outputs chosen of a model with ``n_targets`` outputs named ``labels``: (their indices,
    their column names, made unique), in the order ``wanted`` gives them.

    Args:
        labels: one name per output; None names them ``target_0``, ``target_1``, ...
        n_targets: how many outputs the model has.
        wanted: names, indices, globs or ``re:`` patterns; None keeps every output.

    Raises:
        PredictError: ``labels`` of another length than the outputs, or a wanted target that
            names none of them.
    """
    all_labels = list(labels) if labels is not None else default_labels(n_targets)
    if len(all_labels) != n_targets:
        raise PredictError(f"got {len(all_labels)} target names for a model with {n_targets} targets")
    columns = unique_labels(all_labels)
    picked = select_targets(columns, wanted, all_labels)
    check_picked_targets(all_labels, columns, wanted)
    return picked, [columns[i] for i in picked]
