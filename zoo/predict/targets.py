"""Target names: read from a file, made unique as column names, and picked with ``--targets``."""

from __future__ import annotations

import difflib
import os
from collections import Counter
from collections.abc import Sequence

from zoo._files import tsv_field_problem
from zoo.predict.errors import PathLike, PredictError, require_file


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


def select_targets(labels: Sequence[str], wanted: Sequence[str] | None) -> list[int]:
    """Indices of the targets ``wanted`` (names, or indices when no name matches); all if None."""
    if not wanted:
        return list(range(len(labels)))
    by_name = {label: i for i, label in enumerate(labels)}
    indices = []
    for item in wanted:
        if item in by_name:
            indices.append(by_name[item])
        elif item.lstrip("-").isdigit() and -len(labels) <= int(item) < len(labels):
            indices.append(int(item) % len(labels))
        else:
            close = difflib.get_close_matches(item, list(labels), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise PredictError(
                f"unknown target {item!r}: not a target name and not an index in 0..{len(labels) - 1}{hint}"
            )
    return indices


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


def check_picked_targets(
    labels: Sequence[str], columns: Sequence[str], picked: Sequence[int], wanted: Sequence[str] | None
) -> None:
    """Refuse ``--targets`` entries that name a repeated label (which target?) or pick a target twice.

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
    for entry, index in zip(wanted or (), picked):
        entries.setdefault(index, []).append(entry)
    for index, given in entries.items():
        if len(given) > 1:
            raise PredictError(
                f"--targets picks target {columns[index]!r} (index {index}) more than once "
                f"({', '.join(map(repr, given))}); list each target once"
            )
