"""Writing outputs: atomic writes that never replace what must not be replaced (read-only files,
devices, pipes, a command's own inputs), with the mode and owner a new or replaced file gets."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from zoo._io.folders import is_folder, replace_contents, write_manifest
from zoo._io.reading import file_kind
from zoo._io.stale import make_parents, remove_created, sweep_stale, temporary_prefix
from zoo.errors import ZooError


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask can only set it,
    and setting it briefly would race with threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0o666 less the umask."""
    return 0o666 & ~_umask()


class ReadOnlyOutputError(PermissionError):
    """The output names an existing read-only file, and replacing it was not asked for."""


@dataclasses.dataclass(frozen=True)
class OutputTarget:
    """Where writing an output path goes: ``path`` (a symlink's target, else the path given)
    and what is there now (``existing``, None for nothing)."""

    path: Path
    existing: os.stat_result | None

    @property
    def streamed(self) -> bool:
        """True for a device, FIFO or socket: written into as it is, never replaced."""
        return self.existing is not None and not stat.S_ISREG(self.existing.st_mode)

    @property
    def kind(self) -> str:
        """What is there, in words ("a FIFO or pipe", "a regular file", "nothing")."""
        if self.existing is None:
            return "nothing"
        return "a regular file" if stat.S_ISREG(self.existing.st_mode) else file_kind(self.existing.st_mode)


def check_output(path: str | os.PathLike[str], *, overwrite_readonly: bool = False) -> OutputTarget:
    """Where writing ``path`` goes, refusing what must not be replaced.

    A symlink is followed (its target is written; the link stays). IsADirectoryError for a
    directory; ReadOnlyOutputError for an existing file without write permission (by its
    mode bits, so also for root, or by access()) unless ``overwrite_readonly``.
    """
    try:
        existing: os.stat_result | None = os.stat(path)  # follows symlinks, /dev/stdout's too
    except FileNotFoundError:
        existing = None  # nothing there, or a dangling symlink: its target is created
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise IsADirectoryError(f"{os.fspath(path)!r} is a directory")
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        # written as named: for a pipe, /dev/stdout resolves to no real path
        return OutputTarget(Path(path), existing)
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    if existing is not None and not overwrite_readonly and _read_only(target, existing):
        raise ReadOnlyOutputError(f"{os.fspath(path)!r} is a read-only file")
    return OutputTarget(target, existing)


def same_file_as(
    path: str | os.PathLike[str], inputs: Mapping[str, str | os.PathLike[str] | None]
) -> str | None:
    """The key of the first of ``inputs`` that is the same regular file as ``path`` (by device
    and inode, so through symlinks, hardlinks and other spellings of the name); None if none is.

    Writing an output there would destroy that input. Devices are not compared: reading
    /dev/stdin while writing /dev/stdout is fine when both are the terminal.
    """
    try:
        out = os.stat(path)
    except OSError:
        return None  # nothing there yet (or unreachable, which the write reports)
    if not stat.S_ISREG(out.st_mode):
        return None
    for key, candidate in inputs.items():
        try:
            if candidate is not None and os.path.samestat(out, os.stat(candidate)):
                return key
        except OSError:
            continue  # a missing input is reported by its reader
    return None


def is_stdout(path: str | os.PathLike[str]) -> bool:
    """Whether writing ``path`` writes this process's standard output (``/dev/stdout``, or the
    file stdout is redirected to): a command's messages then go to stderr, not into its output."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):  # no such file; stdout replaced or closed
        return False


def _read_only(path: Path, st: os.stat_result) -> bool:
    return not st.st_mode & 0o222 or not os.access(path, os.W_OK)


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str],
    suffix: str = ".tmp",
    *,
    keep_mode: bool = True,
    overwrite_readonly: bool = False,
) -> Iterator[Path]:
    """A hidden temporary path beside ``path`` to write to; renamed to ``path`` when the block
    ends without an exception, deleted otherwise, so ``path`` is either the complete new file
    or untouched.

    The temporary file exists (empty) when the block starts. A new file gets the mode
    ``open(path, "w")`` would give; a replaced one keeps its mode (``keep_mode``) and, where
    allowed, its owner. A read-only file is refused (ReadOnlyOutputError) unless
    ``overwrite_readonly``. A symlink is followed: its target is replaced, atomically, from a
    temporary file beside the target. A device, FIFO or socket (``/dev/stdout``, a pipe) is
    never replaced: the yielded path is the target itself, written in place, so a failure can
    leave part of the output there. ``suffix`` keeps writers that choose a format by
    extension working.
    """
    target = check_output(path, overwrite_readonly=overwrite_readonly)
    if target.streamed:
        with _reader_present(target):
            yield target.path
        return
    created = make_parents(target.path)  # removed again if the output is not written
    try:
        sweep_stale(target.path.parent, target.path.name)  # what killed runs left
        fd, tmp = tempfile.mkstemp(
            dir=target.path.parent, prefix=temporary_prefix(target.path.name), suffix=suffix
        )
    except BaseException:
        remove_created(created)
        raise
    os.close(fd)
    published = False
    try:
        yield Path(tmp)
        # checked again: what is there may have changed while the output was written
        now = check_output(target.path, overwrite_readonly=overwrite_readonly)
        if now.streamed:
            raise FileExistsError(f"{os.fspath(path)!r} became {now.kind} while being written; not replaced")
        existing = now.existing
        # mkstemp makes 0600 (and some writers replace the file): outputs get the usual mode
        os.chmod(tmp, stat.S_IMODE(existing.st_mode) if existing and keep_mode else new_file_mode())
        if existing is not None and keep_mode:
            _keep_owner(tmp, existing)
        os.replace(tmp, target.path)
        published = True
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        if not published:
            remove_created(created)


FIFO_READER_WAIT_S = 3.0  # a reader started just after the writer (``cmd --out p & cat p``)


class NoReaderError(OSError, ZooError):
    """The output is a FIFO or pipe that no process reads: opening it to write would wait forever
    (an OSError, and a ZooError, which commands print as one line)."""

    def __str__(self) -> str:
        return f"{self.filename!r} is {self.strerror}"


@contextlib.contextmanager
def _reader_present(target: OutputTarget) -> Iterator[None]:
    """For a FIFO or pipe: refuse it (NoReaderError) when no process reads it within
    :data:`FIFO_READER_WAIT_S`, instead of waiting in ``open`` for a reader that may never come;
    else hold it open while the output is written, so that its reader sees no end of file
    between this check and the writer's own ``open``."""
    if target.existing is None or not stat.S_ISFIFO(target.existing.st_mode):
        yield
        return
    deadline = time.monotonic() + FIFO_READER_WAIT_S
    while True:
        try:
            fd = os.open(target.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            break
        except OSError as err:
            if err.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
            if time.monotonic() >= deadline:
                raise NoReaderError(
                    errno.ENXIO,
                    f"a FIFO or pipe with no reader (none came in {FIFO_READER_WAIT_S:g} s; "
                    "start the reading process first)",
                    os.fspath(target.path),
                ) from None
            time.sleep(0.02)
    try:
        yield
    finally:
        os.close(fd)


def _keep_owner(tmp: str, existing: os.stat_result) -> None:
    """Give ``tmp`` the owner and group of the file it replaces, where the system allows."""
    st = os.stat(tmp)
    if (st.st_uid, st.st_gid) != (existing.st_uid, existing.st_gid):
        with contextlib.suppress(OSError):  # only root may give a file away
            os.chown(tmp, existing.st_uid, existing.st_gid)


def staging_folder(target: Path) -> Path:
    """A new empty hidden folder to write a folder output into, with the mode ``mkdir`` would give
    it (``tempfile.mkdtemp`` makes it private); :func:`publish_folder` puts it in place.

    It is made inside ``target`` when that folder exists (so that ``--out .`` needs no write
    permission above it, and its contents move in on the same file system), else beside it.
    Temporaries of killed runs writing the same output are removed first.

    Args:
        target: the folder the output will be; its parent must exist.
    """
    real = Path(os.path.realpath(target))  # "." and "dir/.." get their real name
    where = real if real.is_dir() else real.parent
    sweep_stale(where, real.name)
    tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(real.name), suffix=".tmp", dir=where))
    mode = new_file_mode()
    tmp.chmod(mode | (mode & 0o444) >> 2)  # the read bits give the search bits, as for mkdir
    return tmp


def publish_folder(tmp: Path, target: str | os.PathLike[str], *, command: str | None = None) -> None:
    """Put the finished folder ``tmp`` (from :func:`staging_folder`) in place of ``target``.

    ``command`` lists what it wrote in the folder's manifest (:mod:`zoo._io.folders`). A new
    ``target`` is ``tmp`` renamed; an existing one keeps its place and gets ``tmp``'s contents
    instead of what it held, which must be an earlier output of ``command`` (or nothing): a file
    that no such run wrote is never deleted (FolderOutputError names it, and ``tmp`` stays for
    the caller to remove).

    Args:
        tmp: the finished folder.
        target: where it goes.
        command: the name of the command that wrote it (None: ``target`` must be new or empty).
    """
    if command is not None:
        write_manifest(tmp, command)
    real = Path(os.path.realpath(target))
    if not is_folder(real):
        try:
            os.rename(tmp, real)
            return
        except OSError:
            if not is_folder(real):  # made meanwhile: its contents are replaced instead
                raise
    replace_contents(tmp, real, command)
