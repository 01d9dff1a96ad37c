"""File helpers shared by every reader and writer: gzip-aware reading of files and streams,
input checks (unreadable told apart from missing), strict whole numbers, atomic writes that
never replace what must not be replaced (read-only files, devices, pipes, a command's own
inputs), signals turned into a clean-up, and the ``KEY=VALUE`` options of the command lines."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import json
import os
import signal
import stat
import sys
import tempfile
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

GZIP_MAGIC = b"\x1f\x8b"  # the first two bytes of every gzip (and bgzip) file


class _OwnedGzip(gzip.GzipFile):
    """A GzipFile over a file it opened itself: closing it closes that file too."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def open_bytes(source: str | os.PathLike[str] | IO[bytes]) -> IO[bytes]:
    """``source`` (a path, or an open binary stream such as ``sys.stdin.buffer``) for reading
    bytes, decompressed on the fly when it is gzip (or bgzip).

    The file is opened once and its first bytes are peeked at, so pipes, FIFOs and
    ``/dev/stdin`` work too. A stream passed in is not closed with the result.
    """
    if not isinstance(source, (str, os.PathLike)):
        stream = source if hasattr(source, "peek") else io.BufferedReader(source)  # type: ignore[arg-type]
        return gzip.GzipFile(fileobj=stream, mode="rb") if stream.peek(2)[:2] == GZIP_MAGIC else stream
    raw = open(source, "rb")  # noqa: SIM115 (the caller closes)
    try:
        return _OwnedGzip(raw) if raw.peek(2)[:2] == GZIP_MAGIC else raw
    except BaseException:
        raw.close()
        raise


def cr_only_line_ends(path: str | os.PathLike[str]) -> bool:
    """Whether a text file's lines end in CR alone (classic Mac OS): its first 64 KiB hold a
    CR but no LF. Readers take such a file for one long line; callers name the cause."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    return b"\r" in head and b"\n" not in head


CR_ONLY_ADVICE = "its lines end in CR only (classic Mac): convert them to LF first (tr '\\r' '\\n')"


def require_input(path: str | os.PathLike[str], what: str, *, stream_ok: bool = False) -> Path:
    """``path`` as a Path when it can be read as the input ``what`` (e.g. "weights file").

    Otherwise an OSError whose message (``str(err)``) names ``what`` and ``path``: FileNotFoundError when
    missing, IsADirectoryError, PermissionError when unreadable (told apart from missing,
    also for a folder on the path that cannot be searched), and OSError for a pipe or device
    unless ``stream_ok`` (index-based readers need to seek or read twice; a stream is
    not opened here, which would block or take its data). Regular files are opened to check.
    """
    name = f"{what} {os.fspath(path)!r}"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{name} does not exist") from None
    except PermissionError:
        raise PermissionError(
            f"{name} cannot be reached: permission denied on a folder on its path"
        ) from None
    except OSError as err:
        raise OSError(f"{name} cannot be read ({err.strerror})") from None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{name} is a directory")
    if not stat.S_ISREG(mode):
        if stream_ok:
            return Path(path)
        raise OSError(f"{name} is not a regular file (it is {_kind(mode)})")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise PermissionError(f"{name} cannot be read: permission denied") from None
    except OSError as err:
        raise OSError(f"{name} cannot be read ({err.strerror})") from None
    return Path(path)


def _kind(mode: int) -> str:
    """What a file that is not regular is, in words."""
    if stat.S_ISFIFO(mode):
        return "a FIFO or pipe"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


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
        return "a regular file" if stat.S_ISREG(self.existing.st_mode) else _kind(self.existing.st_mode)


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
        yield target.path
        return
    target.path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.path.parent, prefix=f".{target.path.name}.", suffix=suffix)
    os.close(fd)
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
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _keep_owner(tmp: str, existing: os.stat_result) -> None:
    """Give ``tmp`` the owner and group of the file it replaces, where the system allows."""
    st = os.stat(tmp)
    if (st.st_uid, st.st_gid) != (existing.st_uid, existing.st_gid):
        with contextlib.suppress(OSError):  # only root may give a file away
            os.chown(tmp, existing.st_uid, existing.st_gid)


# the signals that ask a command to stop (SIGHUP: its terminal went away); Windows lacks SIGHUP
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


class Terminated(BaseException):
    """Raised in the main thread by the handler :func:`cleanup_on_signals` installs.

    A BaseException, as KeyboardInterrupt is: ``except Exception`` blocks let it pass, and
    every ``with`` block on the way out (:func:`atomic_path`'s temporary file) cleans up.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    @property
    def exit_status(self) -> int:
        """128 + the signal number, as a shell reports a process the signal ended."""
        return 128 + self.signum


@contextlib.contextmanager
def cleanup_on_signals(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[None]:
    """Turn ``signals`` into a :class:`Terminated` raised in the main thread while the block runs.

    By default SIGTERM and SIGHUP end the process at once, leaving the hidden temporary files
    of :func:`atomic_path` behind; raised as an exception they unwind the ``with`` blocks as
    Ctrl-C does. After the first, the signals are ignored until the block ends, so a second
    one (systemd sends SIGTERM then SIGHUP) cannot cut the cleanup short. For command-line
    entry points: only the main thread may install handlers.
    """

    def handler(signum: int, frame: object) -> None:
        for s in signals:
            signal.signal(s, signal.SIG_IGN)
        raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


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


def parse_key_values(items: Sequence[str], option: str) -> dict[str, Any]:
    """``["k=v", ...]`` as a dict, each value read as JSON where it parses (``3``, ``[1, 2]``,
    ``true``) and kept as a string otherwise (``activation=relu``).

    Raises ValueError naming ``option`` and the item for one without ``=`` or a key, or
    whose JSON value is nested too deep to parse.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{option} {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
        except RecursionError:
            raise ValueError(f"{option} {key}=...: the value is nested too deep to be an argument") from None
    return out
