"""The skeleton every console script shares: parse, run, turn failures into one line and a status.

A command module defines ``build_parser() -> argparse.ArgumentParser`` and ``run(args) -> int``
and gets its entry points from a :class:`Command`::

    COMMAND = Command("zoo-convert", build_parser, run, reported=(OSError, ValueError, TypeError))
    main = COMMAND.main  # the console script: signals, one-line errors, the exit status
    call = COMMAND.call  # the same in-process (tests, benchmarks): returns the status

What the commands differ in (which errors they report, whether a stop signal cleans up, whether
they leave by ``os._exit``) are fields of the record, so that each behaviour has one place.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from zoo._io.writing import ReadOnlyOutputError
from zoo._signals import Terminated, cleanup_on_signals
from zoo.errors import ZooError


def first_line(err: BaseException) -> str:
    """The first line of ``err``'s message (torch appends C++ traces to its errors), or its
    class name when the message is empty.

    Args:
        err: the error to describe.
    """
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def with_overwrite_hint(err: BaseException) -> str:
    """``err``'s message; for a read-only output, followed by the option that replaces it (for
    commands that have ``--overwrite``).

    Args:
        err: the error to describe.
    """
    if isinstance(err, ReadOnlyOutputError):
        return f"{err}; pass --overwrite to replace it"
    return str(err)


def error_line(
    prog: str, err: BaseException, label: str = "error: ", describe: Callable[[BaseException], str] = str
) -> str:
    """The one line that reports ``err``: ``prog: error: message``.

    Args:
        prog: the command's name.
        err: the error to report.
        label: what stands between ``prog:`` and the message.
        describe: the message of ``err``.
    """
    return f"{prog}: {label}{describe(err)}"


def report(
    prog: str, err: BaseException, label: str = "error: ", describe: Callable[[BaseException], str] = str
) -> int:
    """Print the line that reports ``err`` on stderr; returns the exit status of a failure, 1.

    For commands that cannot use :class:`Command` whole (zoo-train, which Hydra runs).

    Args:
        prog: the command's name.
        err: the error to report.
        label: what stands between ``prog:`` and the message.
        describe: the message of ``err``.
    """
    print(error_line(prog, err, label, describe), file=sys.stderr)
    return 1


@dataclasses.dataclass(frozen=True)
class Command:
    """One console script: its parser, what it runs, and how its failures reach the user.

    Attributes:
        prog: the command's name, which starts every line it prints about a failure.
        build_parser: makes the command's argument parser.
        run: does the work of parsed arguments; returns the exit status.
        reported: the errors told as one line ``prog: error: message`` with status 1, by
            :meth:`call` and :meth:`main` alike. :class:`zoo.errors.ZooError` always is.
        reported_at_exit: errors that only :meth:`main` reports so (zoo-predict's failed writes:
            an in-process caller sees the OSError itself).
        label: what stands between ``prog:`` and the message (``"error: "``; empty for the
            commands whose messages have always been ``prog: message``).
        describe: the message of a reported error.
        fast_exit: leave by ``os._exit`` once the output is written: the interpreter's teardown
            is slow with torch loaded and has nothing left to do (the threads are joined).
        subcommands: commands run by a first argument of that name (``zoo-predict merge ...``),
            each made on demand, so that the main command does not import them.
        reuse_freed_memory: have glibc reuse freed memory (:func:`keep_freed_memory`) for a run
            that allocates large batches again and again.
    """

    prog: str
    build_parser: Callable[[], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace], int]
    reported: tuple[type[BaseException], ...] = ()
    reported_at_exit: tuple[type[BaseException], ...] = ()
    label: str = "error: "
    describe: Callable[[BaseException], str] = str
    fast_exit: bool = False
    reuse_freed_memory: bool = False
    subcommands: Mapping[str, Callable[[], Command]] = dataclasses.field(default_factory=dict)

    def _routed(self, argv: Sequence[str] | None) -> tuple[Command, list[str]]:
        """The command ``argv`` is for (this one or a subcommand) and the arguments it takes."""
        args = list(sys.argv[1:] if argv is None else argv)
        if args and args[0] in self.subcommands:
            return self.subcommands[args[0]](), args[1:]
        return self, args

    def message(self, err: BaseException) -> str:
        """The one line that reports ``err``.

        Args:
            err: a reported error.
        """
        return error_line(self.prog, err, self.label, self.describe)

    def fail(self, err: BaseException) -> int:
        """Print the line that reports ``err`` on stderr; returns the exit status of a failure, 1.

        Args:
            err: a reported error.
        """
        return report(self.prog, err, self.label, self.describe)

    def call(self, argv: Sequence[str] | None = None) -> int:
        """Parse ``argv`` and run the command in this process; returns its exit status.

        A reported error is printed as one line (status 1); neither signal handlers nor
        ``os._exit`` are involved, so tests and benchmarks can call it.

        Args:
            argv: the arguments (default: ``sys.argv[1:]``).
        """
        command, argv = self._routed(argv)
        if command is not self:
            return command.call(argv)
        args = self.build_parser().parse_args(argv)
        try:
            return self.run(args)
        except (ZooError, *self.reported) as err:
            return self.fail(err)

    def main(self, argv: Sequence[str] | None = None) -> None:
        """The console-script entry point: returns on success, else exits with the status.

        A reported error ends the process with status 1 and its line on stderr (as
        ``SystemExit(line)``, so an in-process caller can read the message); a stop signal with
        128 + its number.

        Args:
            argv: the arguments (default: ``sys.argv[1:]``).
        """
        command, argv = self._routed(argv)
        if command is not self:
            return command.main(argv)
        if self.reuse_freed_memory:  # process-wide, so only in the command's own process
            keep_freed_memory()
        args = self.build_parser().parse_args(argv)
        try:
            # SIGINT, SIGTERM and SIGHUP unwind the run (removing its temporaries) and end it with
            # 128 + the signal number: a signal is never a success nor a traceback
            with cleanup_on_signals():
                status = self.run(args)
        except Terminated as stop:
            print(f"{self.prog}: {stop}", file=sys.stderr)
            status = stop.exit_status
        except (ZooError, *self.reported, *self.reported_at_exit) as err:
            if not self.fast_exit:
                raise SystemExit(self.message(err)) from None  # printed by the interpreter, status 1
            status = self.fail(err)
        if self.fast_exit:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
        if status != 0:
            raise SystemExit(status)


@contextlib.contextmanager
def exit_on_stop_signals(prog: str) -> Iterator[None]:
    """Run the block as :meth:`Command.main` runs a command: SIGINT, SIGTERM and SIGHUP unwind it
    and end the process with 128 + the signal number and the line ``prog: stopped by ...``.

    For zoo-train, which Hydra runs (Lightning's KeyboardInterrupt handler exits with status 1,
    its SIGTERM handler with 0).

    Args:
        prog: the command's name.
    """
    try:
        with cleanup_on_signals():
            yield
    except Terminated as stop:
        print(f"{prog}: {stop}", file=sys.stderr)
        raise SystemExit(stop.exit_status) from None


def keep_freed_memory() -> bool:
    """Have glibc's malloc reuse freed memory instead of returning it to the system; returns
    whether both settings took.

    Every batch allocates activations of tens of MB; by default glibc maps each anew
    (and unmaps it when freed), so every batch pays page faults on fresh pages. Reuse costs
    no extra peak memory. A no-op without glibc.
    """
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    # 32 MiB is glibc's largest mmap threshold; blocks below it come from the reusable heap.
    ok = mallopt(m_mmap_threshold, 32 * 1024 * 1024) == 1
    return mallopt(m_trim_threshold, 2**31 - 1) == 1 and ok


def parse_key_values(items: Sequence[str], option: str) -> dict[str, Any]:
    """``["k=v", ...]`` as a dict, each value read as JSON where it parses (``3``, ``[1, 2]``,
    ``true``) and kept as a string otherwise (``activation=relu``).

    Raises a ZooError naming ``option`` and the item for one without ``=`` or a key, or
    whose JSON value is nested too deep to parse.

    Args:
        items: the option's values, each ``KEY=VALUE``.
        option: the option's name, for the messages (``--model-arg``).
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ZooError(f"{option} {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
        except RecursionError:
            raise ZooError(f"{option} {key}=...: the value is nested too deep to be an argument") from None
    return out


def at_most(high: int) -> Callable[[str], int]:
    """An argparse ``type`` for a whole-number option that is refused above ``high``, as a
    usage error naming the limit (``argument -n: 1,000,000 is more than the limit: at most
    4,096``), before anything is sized by it; the option's own checks keep its lower bound.

    Args:
        high: the largest value accepted.
    """

    def whole_number(text: str) -> int:
        try:
            value = int(text) if len(text) <= 40 else None  # int() of 4,300 digits is a traceback
        except ValueError:
            value = None
        if value is None:
            shown = text if len(text) <= 24 else f"{text[:24]}... ({len(text):,} characters)"
            raise argparse.ArgumentTypeError(f"expected a whole number of at most {high:,}, got {shown!r}")
        if value > high:
            raise argparse.ArgumentTypeError(f"{value:,} is more than the limit: at most {high:,}")
        return value

    return whole_number
