"""Reading and encoding in worker processes, for a device faster than one Python thread can feed.

zoo-predict's reader thread shares the interpreter lock with the thread that drives the
model and the one that writes rows; on a GPU, reading and checking FASTA records at one
Python call per record would set the pace. :class:`ProcessBatches` runs the reading in
child processes instead. Each child reads a share of the records (a
:class:`~zoo.predict.inputs.fastx.Shard`: every n-th group of consecutive records) and sends each
batch as its rows' leading values and statuses and the checked base codes of its windows
(1 byte a base) through a pipe, with a mark at the end of each group; the parent takes the
groups from the children in turn, so the rows come out in the file's order.

A child is a fresh interpreter running :func:`_serve`, not a ``fork`` (the parent holds
threads and maybe a CUDA context) nor a ``multiprocessing`` spawn (which runs the caller's
main script again: a script without a ``__main__`` guard would score twice). It imports
from the parent's import path, without torch (a fraction of a second), sends its batches
through a pipe of its own (nothing it prints can mix with them), runs in a process group of
its own (Ctrl-C in the terminal reaches only the parent, which stops it), and ends when the
parent closes its standard input or dies.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from zoo._bases import checked_codes
from zoo.predict.inputs.fastx import Shard
from zoo.predict.running.threads import Prefetcher

_BATCH = "batch"  # a batch of one group's items
_END = "end"  # a group's last batch has been sent
_DONE = "done"  # no more groups
_FAILED = "failed"


@dataclass(frozen=True)
class ReaderTask:
    """What one reader process is sent: the items of ``make_groups(*args, shard)`` (a
    picklable module-level function, as :class:`zoo.predict.inputs.job.InputReader` names
    it), sent ``per_batch`` at a time."""

    make_groups: Callable[..., Any]
    args: tuple[Any, ...]
    shard: Shard
    per_batch: int


def _encode(chunk: list[Any]) -> tuple[Any, ...]:
    """A batch message: leading values, statuses, and the codes of the scored items' windows."""
    windows = [w for item in chunk if item.status == "ok" for w in item.windows]
    codes = checked_codes(windows).copy() if windows else None  # writable: it arrives writable
    return (_BATCH, [item.meta for item in chunk], [item.status for item in chunk], codes)


def _send_batches(task: ReaderTask, out: IO[bytes]) -> None:
    """Read the ``(group, item)`` pairs of ``task`` and send the items to ``out``,
    ``task.per_batch`` at a time and never two groups in a batch, each group followed by its
    end mark. An error about a record of a later group (``record_index``) comes after the
    current group's end mark: the parent raises it where that record's rows would be."""
    shard, per_batch = task.shard, task.per_batch

    def send(message: tuple[Any, ...]) -> None:
        pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    def end(group: int, rest: list[Any]) -> None:
        """The group's last items, then its end mark."""
        if rest:
            send(_encode(rest))
        send((_END, group))

    chunk: list[Any] = []
    current: int | None = None
    try:
        for group, item in task.make_groups(*task.args, shard):
            if group != current:
                if current is not None:
                    end(current, chunk)
                    chunk = []
                current = group
            chunk.append(item)
            if len(chunk) == per_batch:
                send(_encode(chunk))
                chunk = []
        if current is not None:
            end(current, chunk)
        send((_DONE,))
    except BrokenPipeError:  # the parent stopped reading: nothing is waiting for the rest
        return
    except BaseException as err:  # raised again in the parent
        index = getattr(err, "record_index", None)
        if index is not None and current is not None and shard.group_of(index) != current:
            end(current, chunk)  # the record of a later group failed: this group is whole
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
from zoo.predict.running.processes import _serve
_serve(int(sys.argv[1]))
"""


def _serve(fd: int) -> None:
    """The child: read the task from standard input, send the batches to file descriptor
    ``fd``, and exit when done, or as soon as the parent closes standard input or dies."""
    task = sys.stdin.buffer
    reader_task: ReaderTask = pickle.load(task)
    out = os.fdopen(fd, "wb")

    def exit_with_parent() -> None:
        task.read()  # returns at end of file: the parent closed its end, or is gone
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    try:
        _send_batches(reader_task, out)
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
        if message[0] in (_DONE, _FAILED):
            return


class _Child:
    """One reader process and the thread that unpickles its messages, ``depth`` ahead."""

    def __init__(self, task: ReaderTask, path: list[str], depth: int) -> None:
        read_end, write_end = os.pipe()
        try:
            self.process = subprocess.Popen(
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
        self._prefetcher: Prefetcher | None = None
        assert self.process.stdin is not None
        try:
            pickle.dump(path, self.process.stdin)
            pickle.dump(task, self.process.stdin)
            self.process.stdin.flush()  # kept open: the child ends when it closes
        except BaseException:
            self.close()
            raise
        # a thread unpickles ahead, so the copy out of the pipe overlaps with the caller's work
        self._prefetcher = Prefetcher(_messages(self._pipe, self.process), depth=depth)
        self.messages = iter(self._prefetcher)

    def close(self) -> None:
        """Stop the child (at once when it has not finished) and wait for it."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self._prefetcher is not None:
            self._prefetcher.close(timeout=Prefetcher.ABANDON_AFTER)
        self._pipe.close()


class ProcessBatches:
    """Iterates over ``(metas, statuses, codes)`` batches that ``processes`` child processes
    read, in order: ``make_groups(*args, shard)`` (a picklable module-level function) yields
    the ``(group, item)`` pairs of a :class:`~zoo.predict.inputs.fastx.Shard` of ``group_records``
    records a group (default ``per_batch``), which go out ``per_batch`` items a batch, each
    child ``depth`` batches ahead. ``codes`` is the (windows, length) uint8 array of the
    scored items' windows, or None. An error of a child is raised here, as it was raised,
    when the rows before it have been given."""

    def __init__(
        self,
        make_groups: Callable[..., Any],
        args: tuple[Any, ...],
        per_batch: int,
        processes: int = 1,
        group_records: int | None = None,
        depth: int = 4,
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes}")
        package_root = str(Path(__file__).resolve().parents[3])  # the folder holding zoo/
        path = [package_root, *(p for p in sys.path if isinstance(p, str) and p)]
        group_records = group_records or per_batch
        self._per_batch = per_batch
        self._children: list[_Child] = []
        try:
            for index in range(processes):
                shard = Shard(index, processes, group_records)
                task = ReaderTask(make_groups, args, shard, per_batch)
                self._children.append(_Child(task, path, depth))
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> Iterator[tuple[list[Any], list[str], np.ndarray | None]]:
        return _rebatched(self._in_order(), self._per_batch)

    def _in_order(self) -> Iterator[tuple[list[Any], list[str], np.ndarray | None]]:
        """The children's batches in the file's order (a group's last one may be short). A
        child's error is raised in its turn, once the groups before it (the other children's
        too) have been given."""
        group = 0
        while True:  # group g is child g % n's
            messages = self._children[group % len(self._children)].messages
            while (message := next(messages))[0] == _BATCH:
                yield message[1], message[2], message[3]
            if message[0] == _FAILED:
                raise message[1]
            if message[0] == _DONE:  # the file has no group g: every group has been given
                return
            assert message == (_END, group), (message, group)
            group += 1

    def close(self) -> None:
        """Stop the children (at once when they have not finished) and wait for them."""
        for child in self._children:
            child.close()

    def __enter__(self) -> ProcessBatches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rebatched(
    batches: Iterator[tuple[list[Any], list[str], np.ndarray | None]], per_batch: int
) -> Iterator[tuple[list[Any], list[str], np.ndarray | None]]:
    """``batches`` joined and cut again into ``per_batch`` items each (the last: the rest), as
    one reader makes them: the model then sees the same batches, and gives the same bits."""
    metas: list[Any] = []
    statuses: list[str] = []
    codes: list[np.ndarray] = []
    for batch in batches:
        if not metas and len(batch[0]) == per_batch:  # the common case: a whole batch as it is
            yield batch
            continue
        metas += batch[0]
        statuses += batch[1]
        codes += [] if batch[2] is None else [batch[2]]
        while len(metas) >= per_batch:
            yield _cut(metas, statuses, codes, per_batch)
    if metas:
        yield _cut(metas, statuses, codes, len(metas))


def _cut(
    metas: list[Any], statuses: list[str], codes: list[np.ndarray], n: int
) -> tuple[list[Any], list[str], np.ndarray | None]:
    """The first ``n`` items of the gathered ones (which lose them) and their windows' codes."""
    scored, total = statuses[:n].count("ok"), statuses.count("ok")
    all_codes = np.concatenate(codes) if len(codes) > 1 else (codes[0] if codes else None)
    # every scored item of a job has the same number of windows
    rows = 0 if all_codes is None or total == 0 else len(all_codes) * scored // total
    taken = None if all_codes is None or rows == 0 else all_codes[:rows]
    codes[:] = [] if all_codes is None or rows == len(all_codes) else [all_codes[rows:]]
    batch = metas[:n], statuses[:n], taken
    del metas[:n], statuses[:n]
    return batch
