"""Folder outputs that replace only what an earlier run of the same command wrote.

A command that writes a whole folder (zoo-interpret's ``--out``) leaves a manifest in it,
:data:`MANIFEST`: a line naming the command, then every file and folder it wrote, one a line.
An existing folder is written into only when it is empty or when everything in it is listed
there; a file the command did not write, or one of the run's inputs, is never deleted.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import stat
import tempfile
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

from zoo._io.stale import sweep_stale, temporary_prefix
from zoo.errors import ZooError

MANIFEST = ".zoo-outputs"


class FolderOutputError(FileExistsError, ZooError):
    """A folder output holds something the command did not write; it is not replaced (an
    OSError, as before, and a ZooError, which commands print as one line)."""


def write_manifest(folder: Path, command: str) -> None:
    """List everything in ``folder`` (the finished output of ``command``) in its manifest.

    Args:
        folder: the finished output folder.
        command: the name of the command that wrote it.
    """
    lines = sorted(name for name, _ in _entries(folder) if name != MANIFEST)
    with open(folder / MANIFEST, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# {command}\n" + "".join(f"{name}\n" for name in lines))


def _entries(folder: Path, under: str = "") -> Iterator[tuple[str, Path]]:
    """(relative name, path) of everything under ``folder``, as found (a check stops at the
    first foreign file, not after walking a whole home folder); a folder's name ends with
    ``/``; symlinks are not followed."""
    with os.scandir(folder) as entries:
        found = sorted(entries, key=lambda e: e.name)
    for entry in found:
        name = under + entry.name
        if entry.is_dir(follow_symlinks=False):
            yield name + "/", Path(entry.path)
            yield from _entries(Path(entry.path), name + "/")
        else:
            yield name, Path(entry.path)


def _listed(folder: Path, command: str | None) -> set[str]:
    """The names the manifest of ``folder`` lists, when an earlier run of ``command`` wrote it."""
    try:
        lines = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeError):
        return set()
    if command is None or not lines or lines[0] != f"# {command}":
        return set()
    return {MANIFEST, *lines[1:]}


def earlier_output(
    folder: str | os.PathLike[str],
    command: str | None,
    inputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
    *,
    ignore: Collection[str] = (),
) -> bool:
    """Whether ``folder`` (an existing folder) holds an earlier output of ``command``: False when
    it is empty, True when everything in it is listed in its manifest.

    Args:
        folder: the output folder.
        command: the command about to write it (None: only an empty folder may be written).
        inputs: the run's input files by option: one of them in ``folder`` is refused even when
            it carries the name of an output.
        ignore: names directly in ``folder`` that are not looked at (this run's own temporaries).

    Raises:
        FolderOutputError: ``folder`` holds a file or folder that is one of ``inputs`` or that
            no earlier run of ``command`` wrote (the message names it).
    """
    folder = Path(folder)
    swept = set(sweep_stale(folder, folder.resolve().name))  # killed runs' temporaries
    listed = _listed(folder, command)
    found = False
    # the manifest last: the files themselves say more about whose folder it is
    manifest = [(MANIFEST, folder / MANIFEST)] if os.path.lexists(folder / MANIFEST) else []
    for name, path in itertools.chain(((n, p) for n, p in _entries(folder) if n != MANIFEST), manifest):
        if name.split("/")[0] in ignore or name.rstrip("/") in swept:
            continue
        found = True
        for key, value in (inputs or {}).items():
            with contextlib.suppress(OSError):
                if value is not None and os.path.samestat(os.lstat(path), os.stat(value)):
                    raise FolderOutputError(
                        f"{os.fspath(folder)!r} holds {name!r}, an input of this run ({key}); "
                        "it is not replaced: write the output elsewhere"
                    )
        if name not in listed:
            who = command or "this command"
            raise FolderOutputError(
                f"{os.fspath(folder)!r} holds {name!r}, which {who} did not write; it is not replaced: "
                "choose another folder or move that file away"
            )
    return found


def replace_contents(tmp: Path, target: Path, command: str | None) -> None:
    """Move the finished folder ``tmp``'s contents into the existing folder ``target``, in place of
    an earlier output of ``command`` (checked again now: files may have appeared while the run
    went on). ``target`` itself stays (its mode, owner, and a shell standing in it); on a
    failure, what was moved is put back.

    Args:
        tmp: the finished output (inside ``target`` or beside it, on the same file system).
        target: the existing output folder.
        command: the command whose earlier output may be replaced (None: ``target`` must be empty).
    """
    own = {tmp.name} if tmp.parent.resolve() == target.resolve() else set()
    old = Path(tempfile.mkdtemp(dir=target, prefix=temporary_prefix(target.resolve().name), suffix=".old"))
    own.add(old.name)
    moved_old: list[str] = []
    moved_new: list[str] = []
    try:
        earlier_output(target, command, ignore=own)
        for name in sorted(set(os.listdir(target)) - own):
            os.rename(target / name, old / name)
            moved_old.append(name)
        for name in sorted(os.listdir(tmp)):
            if os.path.lexists(target / name):
                raise FolderOutputError(f"{os.fspath(target / name)!r} appeared while the output was written")
            os.rename(tmp / name, target / name)
            moved_new.append(name)
    except BaseException:
        for name in reversed(moved_new):
            with contextlib.suppress(OSError):
                os.rename(target / name, tmp / name)
        for name in reversed(moved_old):
            with contextlib.suppress(OSError):
                os.rename(old / name, target / name)
        with contextlib.suppress(OSError):
            os.rmdir(old)
        raise
    os.rmdir(tmp)
    shutil.rmtree(old, ignore_errors=True)


def is_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an existing folder (a symlink to one counts).

    Args:
        path: the path to look at.
    """
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False
