"""Writers of several files at once (a VCF and its index, one track per target), each written
under a temporary name and all renamed into place only when every one is complete.

An error, Ctrl-C or a stop signal (zoo-predict turns SIGTERM and SIGHUP into
:class:`zoo._signals.Terminated`) while they are written removes every temporary file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from zoo._io.writing import ReadOnlyOutputError, atomic_path
from zoo._types import PathLike
from zoo.predict.errors import PredictError


def stage_path(stack: contextlib.ExitStack, path: PathLike, suffix: str, overwrite: bool = False) -> Path:
    """A temporary path for ``path`` (:func:`zoo._io.writing.atomic_path`, entered on ``stack``: renamed
    when the stack closes without an error, deleted otherwise); a path that cannot be written is a
    PredictError naming it. ``overwrite`` replaces a read-only file."""
    name = os.fspath(path)
    try:
        return stack.enter_context(atomic_path(path, suffix=suffix, overwrite_readonly=overwrite))
    except IsADirectoryError:
        raise PredictError(f"output {name!r} is a directory; expected a file") from None
    except ReadOnlyOutputError:
        raise PredictError(f"output {name!r} is a read-only file; pass --overwrite to replace it") from None
    except OSError as err:
        raise PredictError(f"cannot write output {name}: {err.strerror or err}") from None


class StagedWriter:
    """A context manager that stages its files on an ExitStack (``_stage``: temporary paths from
    zoo._io.writing.atomic_path, open files, close callbacks) and, when the ``with`` block ends,
    completes them (``_finish``) and renames them; after an error it only deletes them."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()

    def _stage(self, stack: contextlib.ExitStack) -> None:
        """Open the temporary files, registering on ``stack`` what closes and renames them."""
        raise NotImplementedError

    def _finish(self) -> None:
        """Complete the files (after the last write, before they are closed and renamed)."""
        raise NotImplementedError

    def __enter__(self) -> Any:
        with self._stack as stack:  # a failure while staging removes what was staged
            self._stage(stack)
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:  # the temporary files go
            self._stack.__exit__(exc_type, exc, tb)
            return
        with self._stack:  # closes the files, then renames them unless _finish fails
            self._finish()
