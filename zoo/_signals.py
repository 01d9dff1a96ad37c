"""Stop signals turned into an exception, so that a command's temporary files are cleaned up."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator, Sequence

# the signals that ask a command to stop (SIGHUP: its terminal went away); Windows lacks SIGHUP
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


class Terminated(BaseException):
    """Raised in the main thread by the handler :func:`cleanup_on_signals` installs.

    A BaseException, as KeyboardInterrupt is: ``except Exception`` blocks let it pass, and
    every ``with`` block on the way out (:func:`zoo._io.writing.atomic_path`'s temporary file) cleans up.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    @property
    def exit_status(self) -> int:
        """128 + the signal number, as a shell reports a process the signal ended."""
        return 128 + self.signum


def stop_quietly_while_starting(prog: str, signals: Sequence[int] = STOP_SIGNALS) -> None:
    """Until the command installs its own handlers, end the process at a stop signal with
    128 + its number and the line ``prog: stopped by SIGNAL``, instead of a traceback from
    inside an import (Ctrl-C during the second it takes to import torch).

    Nothing needs cleaning up then: the command has not started. Signals ignored at start
    (``nohup``) stay ignored.

    Args:
        prog: the command's name, which starts the line.
        signals: the signals to catch.
    """

    def handler(signum: int, frame: object) -> None:
        os.write(2, f"{prog}: stopped by {signal.Signals(signum).name}\n".encode())
        os._exit(128 + signum)

    for s in signals:
        if signal.getsignal(s) is not signal.SIG_IGN:
            signal.signal(s, handler)


@contextlib.contextmanager
def cleanup_on_signals(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[None]:
    """Turn ``signals`` into a :class:`Terminated` raised in the main thread while the block runs.

    By default SIGTERM and SIGHUP end the process at once, leaving the hidden temporary files
    of :func:`zoo._io.writing.atomic_path` behind; raised as an exception they unwind the ``with`` blocks as
    Ctrl-C does. After the first, the signals are ignored until the block ends, so a second
    one (systemd sends SIGTERM then SIGHUP) cannot cut the cleanup short. A signal ignored when
    the block starts (SIGHUP under ``nohup``) stays ignored. For command-line entry points: only
    the main thread may install handlers.

    Args:
        signals: the signals to catch.
    """

    owner = os.getpid()

    def handler(signum: int, frame: object) -> None:
        if os.getpid() != owner:  # a forked child (a DataLoader worker): Python's own behaviour
            if signum == signal.SIGINT:
                raise KeyboardInterrupt  # which the workers take quietly; the parent reports
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        for s in caught:
            signal.signal(s, signal.SIG_IGN)
        raise Terminated(signum)

    caught = [s for s in signals if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {s: signal.signal(s, handler) for s in caught}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
