"""The files a data module's options name, checked together before any is read: a run whose
FASTA and labels are both missing is told of both at once, by the options that name them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# data-module options that name a file or folder to read (the config keys of conf/data/)
PATH_OPTIONS = ("fasta", "labels", "genome", "table", "root", "dir")
# array-file options: a path, or a mapping with ``path`` (and ``label_path``), below ``dir``
ARRAY_SPLITS = ("train", "val", "test")


def _array_paths(split: str, value: Any) -> list[tuple[str, str]]:
    """(option, path) of the files an array split names."""
    if isinstance(value, (str, os.PathLike)):
        return [(split, os.fspath(value))]
    if isinstance(value, Mapping):
        return [
            (f"{split}.{key}", os.fspath(value[key]))
            for key in ("path", "label_path")
            if isinstance(value.get(key), (str, os.PathLike))
        ]
    return []


def missing_data_paths(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(option, path) of each file or folder the data options name that does not exist, in the
    order of the options; array splits' paths are taken below ``dir`` when relative.

    Args:
        options: a data module's options (e.g. the resolved ``data`` config), unset ones None.
    """
    missing = []
    for key in PATH_OPTIONS:
        value = options.get(key)
        if isinstance(value, (str, os.PathLike)) and os.fspath(value) and not os.path.lexists(value):
            missing.append((key, os.fspath(value)))
    folder = options.get("dir")
    if any(key == "dir" for key, _ in missing):
        return missing  # the split files are named below a folder already reported
    for split in ARRAY_SPLITS:
        for key, path in _array_paths(split, options.get(split)):
            where = Path(folder, path) if isinstance(folder, (str, os.PathLike)) and folder else Path(path)
            if path and not os.path.lexists(where):
                missing.append((key, path))
    return missing


def missing_paths_message(missing: list[tuple[str, str]], prefix: str = "data.") -> str:
    """One line naming every missing data path by its option: ``data.fasta='a.fa' and
    data.labels='b.tsv' do not exist``.

    Args:
        missing: what :func:`missing_data_paths` returned (not empty).
        prefix: put before each option name (the config group).
    """
    named = [f"{prefix}{key}={path!r}" for key, path in missing]
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return f"{listed} {'does' if len(named) == 1 else 'do'} not exist"
