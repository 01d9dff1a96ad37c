"""Temporary files and folders named after the process that writes them, so that those of a
killed run can be recognised and removed by the next run that writes the same output.

A temporary of the output ``NAME`` is ``.NAME.PID-XXXXXXXX`` followed by a suffix (``.tmp``,
``.old``, the output's own extension): PID is the writer's process id, XXXXXXXX the random part
``tempfile`` adds. :func:`sweep_stale` removes those whose process is gone and which are older
than the sweeping process (and, for a folder, whose files are too), so nothing a writer still
writing uses is removed, even one on another host sharing the folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from pathlib import Path

_STARTED = time.time()  # temporaries newer than this process are never swept


def temporary_prefix(name: str) -> str:
    """The prefix (for ``tempfile.mkstemp`` or ``mkdtemp``) of this process's temporaries of the
    output ``name``.

    Args:
        name: the file or folder name of the output.
    """
    return f".{name}.{os.getpid()}-"


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a process id this module writes: never swept
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (EPERM), or unknown: kept
        return True
    return True


def _last_change(entry: os.DirEntry[str]) -> float:
    """When ``entry`` last changed; for a folder, also its files (written into, they leave the
    folder's own time as it was)."""
    newest = entry.stat(follow_symlinks=False).st_mtime
    if entry.is_dir(follow_symlinks=False):
        with os.scandir(entry.path) as inside:
            newest = max([newest, *(e.stat(follow_symlinks=False).st_mtime for e in inside)])
    return newest


def sweep_stale(folder: str | os.PathLike[str], name: str) -> list[str]:
    """Remove from ``folder`` the temporaries of the output ``name`` (named by
    :func:`temporary_prefix`) whose writer is no longer running and which are older than this
    process; returns the names removed. Nothing else is touched; errors are ignored (what is
    left is tried again next time).

    Args:
        folder: the folder the temporaries would be in.
        name: the file or folder name of the output.
    """
    pattern = re.compile(re.escape(f".{name}.") + r"(\d{1,10})-[a-z0-9_]{8}(?:\.[A-Za-z0-9_.+-]{1,40})?")
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or int(match[1]) == os.getpid() or _alive(int(match[1])):
            continue
        try:
            if _last_change(entry) >= _STARTED:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            continue
        removed.append(entry.name)
    return removed


def missing_folders(folder: str | os.PathLike[str]) -> list[Path]:
    """``folder`` and those of its parents that do not exist, innermost first ([] when
    ``folder`` exists).

    Args:
        folder: a folder that may not exist yet.
    """
    missing = []
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def make_parents(path: str | os.PathLike[str]) -> list[Path]:
    """Create the missing folders above ``path`` (as ``mkdir -p``); returns those created, the
    outermost first, for :func:`remove_created` to take away after a failure.

    Args:
        path: the file or folder whose parent folders must exist.
    """
    missing = missing_folders(Path(path).parent)
    created = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours to remove
        created.append(folder)
    return created


def remove_created(folders: list[Path]) -> None:
    """Remove the folders :func:`make_parents` created, innermost first, as long as they are
    empty (what someone else put there meanwhile stays, and so do the folders above it).

    Args:
        folders: as :func:`make_parents` returned them.
    """
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            os.rmdir(folder)
