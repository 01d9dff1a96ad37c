"""Reading and encoding in a worker process, for a device faster than one Python thread can feed.

zoo-predict's reader thread shares the interpreter lock with the thread that drives the
model and the one that writes rows; on a GPU, reading and checking FASTA records at one
Python call per record would set the pace. :class:`ProcessBatches` runs the reading in a
child process instead, which sends each batch as its rows' leading values and statuses and
the checked base codes of its windows (1 byte a base), in order, through a pipe.

The child is a fresh interpreter running :func:`_child_main`, not a ``fork`` (the
parent holds threads and maybe a CUDA context) nor a ``multiprocessing`` spawn (which runs
the caller's main script again: a script without a ``__main__`` guard would score twice).
It ignores Ctrl-C (the parent stops it) and ends when the parent stops reading.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from zoo.predict.threads import Prefetcher

_DONE = "done"
_BATCH = "batch"
_FAILED = "failed"


def _encode(chunk: list[Any], base_codes: Callable[[list[str]], Any]) -> tuple[Any, ...]:
    """A batch message: leading values, statuses, and the codes of the scored items' windows."""
    windows = [w for item in chunk if item.status == "ok" for w in item.windows]
    codes = base_codes(windows).numpy() if windows else None
    return (_BATCH, [item.meta for item in chunk], [item.status for item in chunk], codes)


def _send_batches(
    make_items: Callable[..., Any], args: tuple[Any, ...], per_batch: int, out: IO[bytes]
) -> None:
    """Read the items of ``make_items(*args)`` and send them ``per_batch`` at a time to ``out``."""
    from zoo.dna import base_codes

    def send(message: tuple[Any, ...]) -> None:
        pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    try:
        chunk: list[Any] = []
        for item in make_items(*args):
            chunk.append(item)
            if len(chunk) == per_batch:
                send(_encode(chunk, base_codes))
                chunk = []
        if chunk:
            send(_encode(chunk, base_codes))
        send((_DONE,))
    except BrokenPipeError:  # the parent stopped reading: nothing is waiting for the rest
        return
    except BaseException as err:  # raised again in the parent
        try:
            pickle.dumps(err)
        except Exception:  # the error itself does not pickle: send what it says
            err = RuntimeError(f"{type(err).__name__}: {err}")
        send((_FAILED, err))


def _child_main() -> None:
    """The child: its task on standard input (the parent's import path, then what to read),
    its batches on standard output; anything printed goes to standard error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must not corrupt the batches
    task = sys.stdin.buffer
    sys.path[:0] = pickle.load(task)  # the parent's, so its functions unpickle here
    make_items, args, per_batch = pickle.load(task)
    try:
        _send_batches(make_items, args, per_batch, out)
        out.close()
    except BrokenPipeError:
        pass
    os._exit(0)  # nothing to tear down


def _messages(pipe: IO[bytes]) -> Iterator[tuple[Any, ...]]:
    """The child's messages, until it is done or fails (an early end is an error)."""
    while True:
        try:
            message = pickle.load(pipe)
        except EOFError:
            raise RuntimeError("the reader process ended without a word") from None
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
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
        }
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from zoo.predict.processes import _child_main; _child_main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            pickle.dump([p for p in sys.path if isinstance(p, str)], self._process.stdin)
            pickle.dump((make_items, args, per_batch), self._process.stdin)
            self._process.stdin.close()
        except BaseException:
            self.close()
            raise
        # a thread unpickles ahead, so the copy out of the pipe overlaps with the caller's work
        self._prefetcher = Prefetcher(_messages(self._process.stdout), depth=depth)

    def __iter__(self) -> Iterator[tuple[list[Any], list[str], np.ndarray | None]]:
        for message in self._prefetcher:
            if message[0] == _FAILED:
                raise message[1]
            if message[0] == _DONE:
                return
            yield message[1], message[2], message[3]

    def close(self) -> None:
        """Stop the child (at once when it has not finished) and wait for it."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        prefetcher = getattr(self, "_prefetcher", None)
        if prefetcher is not None:
            prefetcher.close(timeout=Prefetcher.ABANDON_AFTER)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> ProcessBatches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
