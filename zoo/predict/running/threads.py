"""Two generic background threads for a pipeline: :class:`Prefetcher` runs an iterator
ahead of the thread that consumes it, :class:`Consumer` runs calls behind the thread that
makes them. zoo-predict uses them so that reading, encoding and writing overlap with the model.

Both hand their errors to the main thread, and both stop and join their thread when the
``with`` block ends, however it ends.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any


class _Failure:
    """An error of the background thread, queued for the consumer to raise."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetcher:
    """Runs an iterator on a background thread, ``depth`` items ahead (reading and encoding
    overlap with the model); its errors are raised in the consuming thread.

    Args:
        source: the iterator.
        depth: how many items ahead it runs.
    """

    _DONE = object()
    ABANDON_AFTER = 2.0  # seconds to wait for the thread when the consumer stops on an error

    def __init__(self, source: Iterator[Any], depth: int = 3) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(source,), daemon=True)
        self._thread.start()

    def _put(self, value: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, source: Iterator[Any]) -> None:
        try:
            for value in source:
                if not self._put(value):
                    return
            self._put(self._DONE)
        except BaseException as err:  # handed to the consumer, which raises it
            self._put(_Failure(err))

    def __iter__(self) -> Iterator[Any]:
        while True:
            value = self._queue.get()
            if value is self._DONE:
                return
            if isinstance(value, _Failure):
                raise value.error
            yield value

    def close(self, timeout: float | None = None) -> None:
        """Stop the background thread and wait for it (at most ``timeout`` seconds).

        Args:
            timeout: the most seconds to wait (None: no limit).
        """
        self._stop.set()
        self._thread.join(timeout)

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        # After an error the thread may be blocked reading a pipe that sends nothing more:
        # waiting for it could take forever. It is a daemon that stops at its next item.
        self.close(None if exc_type is None else self.ABANDON_AFTER)


class Consumer:
    """Calls ``fn(*args)`` for each ``put(*args)``, in order, on one background thread.

    At most ``depth`` calls wait; an error in ``fn`` is raised by the next ``put`` or by
    ``finish``, which waits for every call. Leaving the ``with`` block early (an error in
    the producer) drops the calls still waiting.

    Args:
        fn: the function called.
        depth: the most calls that wait.
    """

    _DONE = object()

    def __init__(self, fn: Callable[..., None], depth: int = 2) -> None:
        self._fn = fn
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._drop = False
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (args := self._queue.get()) is not self._DONE:
            if self._error is None and not self._drop:
                try:
                    self._fn(*args)
                except BaseException as err:  # raised in the producer's thread
                    self._error = err

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, *args: Any) -> None:
        """Queue one call (blocks while ``depth`` calls wait).

        Args:
            *args: the arguments of the call.
        """
        self._raise()
        self._queue.put(args)

    def _stop(self) -> None:
        """Let the thread run what is queued (or drop it), then join it."""
        if self._thread.is_alive():
            self._queue.put(self._DONE)
            self._thread.join()

    def finish(self) -> None:
        """Wait for every queued call; raise the first error of any."""
        self._stop()
        self._raise()

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.finish()
            return
        self._drop = True  # the producer failed: its output is discarded anyway
        self._stop()
