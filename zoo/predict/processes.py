"""Reading and encoding in a worker process, for a device faster than one Python thread can feed.

zoo-predict's reader thread shares the interpreter lock with the thread that drives the
model and the one that writes rows; on a GPU, reading and checking FASTA records at one
Python call per record would set the pace. :class:`ProcessBatches` runs the reading in a
child process instead, which sends each batch as its rows' leading values and statuses and
the checked base codes of its windows (1 byte a base), in order, through a pipe.

The child is a fresh interpreter running :func:`_serve`, not a ``fork`` (the parent holds
threads and maybe a CUDA context) nor a ``multiprocessing`` spawn (which runs the caller's
main script again: a script without a ``__main__`` guard would score twice). It imports
from the parent's import path, sends its batches through a pipe of their own (nothing it
prints can mix with them), runs in a process group of its own (Ctrl-C in the terminal
reaches only the parent, which stops it), and ends when the parent closes its standard
input or dies.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from zoo.dna import base_codes
from zoo.predict.threads import Prefetcher

_DONE = "done"
_BATCH = "batch"
_FAILED = "failed"


def _encode(chunk: list[Any]) -> tuple[Any, ...]:
    """A batch message: leading values, statuses, and the codes of the scored items' windows."""
    windows = [w for item in chunk if item.status == "ok" for w in item.windows]
    codes = base_codes(windows).numpy() if windows else None
    return (_BATCH, [item.meta for item in chunk], [item.status for item in chunk], codes)


def _send_batches(
    make_items: Callable[..., Any], args: tuple[Any, ...], per_batch: int, out: IO[bytes]
) -> None:
    """Read the items of ``make_items(*args)`` and send them ``per_batch`` at a time to ``out``."""

    def send(message: tuple[Any, ...]) -> None:
        pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    try:
        chunk: list[Any] = []
        for item in make_items(*args):
            chunk.append(item)
            if len(chunk) == per_batch:
                send(_encode(chunk))
                chunk = []
        if chunk:
            send(_encode(chunk))
        send((_DONE,))
    except BrokenPipeError:  # the parent stopped reading: nothing is waiting for the rest
        return
    except BaseException as err:  # raised again in the parent
        try:
            pickle.loads(pickle.dumps(err))
        except Exception:  # the error itself does not cross a pipe: send what it says
            err = RuntimeError(f"{type(err).__name__}: {err}")
        send((_FAILED, err))


# The child's first lines, before it imports anything: Ctrl-C is the parent's to handle, and the
# import path is the parent's, exactly (no current folder in front: a zoo.py there must not
# shadow the package). Then it reads its task from standard input and serves it.
_BOOTSTRAP = """
import pickle, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.path[:] = pickle.load(sys.stdin.buffer)
from zoo.predict.processes import _serve
_serve(int(sys.argv[1]))
"""


def _serve(fd: int) -> None:
    """The child: read the task from standard input, send the batches to file descriptor
    ``fd``, and exit when done, or as soon as the parent closes standard input or dies."""
    task = sys.stdin.buffer
    make_items, args, per_batch = pickle.load(task)
    out = os.fdopen(fd, "wb")

    def exit_with_parent() -> None:
        task.read()  # returns at end of file: the parent closed its end, or is gone
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    try:
        _send_batches(make_items, args, per_batch, out)
        out.close()
    except BrokenPipeError:
        pass
    os._exit(0)  # nothing to tear down


def _messages(pipe: IO[bytes], process: subprocess.Popen[bytes]) -> Iterator[tuple[Any, ...]]:
    """The child's messages, until it is done or fails (an early end is an error)."""
    while True:
        try:
            message = pickle.load(pipe)
        except (EOFError, pickle.UnpicklingError) as err:
            status = process.wait()
            raise ChildProcessError(
                f"the process reading the input stopped without finishing (exit status {status}"
                f"{'' if isinstance(err, EOFError) else f'; {err}'}); any message of its own is above"
            ) from None
        yield message
        if message[0] != _BATCH:
            return


class ProcessBatches:
    """Iterates over ``(metas, statuses, codes)`` batches that a child process reads from
    ``make_items(*args)`` (a picklable module-level function and its arguments), ``per_batch``
    items each, ``depth`` batches ahead. ``codes`` is the (windows, length) uint8 array of the
    scored items' windows, or None. An error of the child is raised here, as it was raised."""

    def __init__(
        self, make_items: Callable[..., Any], args: tuple[Any, ...], per_batch: int, depth: int = 4
    ) -> None:
        package_root = str(Path(__file__).resolve().parents[2])  # the folder holding zoo/
        path = [package_root, *(p for p in sys.path if isinstance(p, str) and p)]
        read_end, write_end = os.pipe()
        try:
            self._process = subprocess.Popen(
                # -I: no current folder on the path, no PYTHON* variables before the path is set
                [sys.executable, "-I", "-c", _BOOTSTRAP, str(write_end)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,  # a stray print is lost, never mixed into the batches
                pass_fds=(write_end,),
                start_new_session=True,  # Ctrl-C in the terminal is for the parent, which stops it
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        self._pipe = os.fdopen(read_end, "rb")
        assert self._process.stdin is not None
        try:
            pickle.dump(path, self._process.stdin)
            pickle.dump((make_items, args, per_batch), self._process.stdin)
            self._process.stdin.flush()  # kept open: the child ends when it closes
        except BaseException:
            self.close()
            raise
        # a thread unpickles ahead, so the copy out of the pipe overlaps with the caller's work
        self._prefetcher = Prefetcher(_messages(self._pipe, self._process), depth=depth)

    def __iter__(self) -> Iterator[tuple[list[Any], list[str], np.ndarray | None]]:
        for message in self._prefetcher:
            if message[0] == _FAILED:
                raise message[1]
            if message[0] == _DONE:
                return
            yield message[1], message[2], message[3]

    def close(self) -> None:
        """Stop the child (at once when it has not finished) and wait for it."""
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        prefetcher = getattr(self, "_prefetcher", None)
        if prefetcher is not None:
            prefetcher.close(timeout=Prefetcher.ABANDON_AFTER)
        self._pipe.close()

    def __enter__(self) -> ProcessBatches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
