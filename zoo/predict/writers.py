"""Table writers for zoo-predict: TSV or Parquet, written in chunks to a temporary file.

A writer is a context manager: the rows go to a hidden temporary file next to the
output (:func:`zoo._files.atomic_path`), which is renamed to the output name only when
the ``with`` block ends without an error. A failure removes the temporary file, so no
half-written table is ever left under the name the user asked for. A pipe or device
(``--out /dev/stdout``) gets a TSV streamed into it instead, and is never replaced.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from zoo._files import ReadOnlyOutputError, atomic_path, check_output, tsv_field_problem
from zoo.predict.errors import PathLike, PredictError


def require_pyarrow() -> Any:
    """The pyarrow module, or a PredictError saying how to install it."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet as pq
    except ImportError:
        raise PredictError(
            "writing Parquet needs pyarrow, which is not installed; install it with "
            "pip install 'sigmoid-zoo[parquet]' (or write .tsv instead)"
        ) from None
    return pq


def check_column_names(meta_columns: Sequence[str], score_columns: Sequence[str]) -> None:
    """Refuse a table whose column names repeat (Parquet would keep one of each name, and a
    TSV reader keyed by name would too), or that are empty or hold a tab or line break."""
    for name in [*meta_columns, *score_columns]:
        problem = tsv_field_problem(name)
        if problem is not None:
            raise PredictError(f"column name {name!r} {problem}; rename that target in --labels")
    reserved = set(meta_columns)
    for name in score_columns:
        if name in reserved:
            raise PredictError(
                f"target name {name!r} is also the name of a leading column (the leading columns are "
                f"{', '.join(meta_columns)}); rename that target in --labels"
            )
    repeated = [name for name, n in Counter([*meta_columns, *score_columns]).items() if n > 1]
    if repeated:
        raise PredictError(
            f"column names repeat: {', '.join(map(repr, repeated))}; each column needs its own name"
        )


def require_output_path(path: PathLike, overwrite: bool = False) -> Path:
    """``path`` as a Path, or a PredictError when it must not be written: an existing directory,
    a read-only file (unless ``overwrite``), or a pipe or device for Parquet (which cannot be
    streamed). A symlink is followed; a pipe or device gets a TSV written into it."""
    name = os.fspath(path)
    try:
        target = check_output(path, overwrite_readonly=overwrite)
    except IsADirectoryError:
        raise PredictError(
            f"--out {name!r} is a directory; expected a file path ending in .tsv or .parquet"
        ) from None
    except ReadOnlyOutputError:
        raise PredictError(f"--out {name!r} is a read-only file; pass --overwrite to replace it") from None
    except OSError as err:
        raise PredictError(f"cannot write --out {name}: {err.strerror or err}") from None
    if target.streamed and name.endswith(".parquet"):
        raise PredictError(
            f"--out {name!r} is {target.kind}: Parquet is written to regular files only (a reader needs "
            "its end first); write .tsv to stream"
        )
    return Path(path)


class TableWriter:
    """Writes a table of leading text/int columns and float score columns, chunk by chunk."""

    def __init__(
        self,
        path: PathLike,
        meta_columns: Sequence[str],
        score_columns: Sequence[str],
        overwrite: bool = False,
    ) -> None:
        check_column_names(meta_columns, score_columns)
        self.path = require_output_path(path, overwrite)
        self.overwrite = overwrite
        self.meta_columns = list(meta_columns)
        self.score_columns = list(score_columns)
        self.rows = 0
        self._files = contextlib.ExitStack()

    def __enter__(self) -> TableWriter:
        with contextlib.ExitStack() as files:
            try:
                tmp = files.enter_context(atomic_path(self.path, overwrite_readonly=self.overwrite))
            except OSError as err:
                raise PredictError(str(self._write_error(err))) from err
            self._open(tmp)  # a failure here deletes the temporary file
            # Runs first on exit: the file is finished (or released) before it is renamed (or deleted).
            files.push(self._finish)
            self._files = files.pop_all()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # An error in _finish deletes the temporary file too, and is raised.
        self._files.__exit__(exc_type, exc, tb)

    def _finish(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._close(ok=exc_type is None)
        except OSError as err:  # the last rows flushed: a full disk, a closed pipe
            raise self._write_error(err) from None

    def _write_error(self, err: OSError) -> OSError:
        """An OSError naming the output (not a PredictError: nothing the input can fix)."""
        return OSError(f"cannot write --out {os.fspath(self.path)}: {err.strerror or err}")

    def write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        """Append rows: ``meta_rows[i]`` fills the leading columns, ``scores[i]`` the rest."""
        if len(meta_rows) != len(scores) or scores.shape[1:] != (len(self.score_columns),):
            raise ValueError(f"got {len(meta_rows)} meta rows and scores of shape {scores.shape}")
        if len(meta_rows):
            try:
                self._write(meta_rows, scores)
            except OSError as err:  # a full disk, a closed pipe
                raise self._write_error(err) from None
            self.rows += len(meta_rows)

    def _open(self, tmp: Path) -> None:
        """Start the file at ``tmp`` (the header, or nothing yet)."""
        raise NotImplementedError

    def _write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        raise NotImplementedError

    def _close(self, ok: bool) -> None:
        """Finish the file (``ok``) or just release it (after an error)."""
        raise NotImplementedError


class TSVWriter(TableWriter):
    """Tab-separated text with a header line; scores as ``%.6g`` (``nan`` where not scored)."""

    def _open(self, tmp: Path) -> None:
        self._file = open(tmp, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 (closed in _close)
        self._file.write("\t".join(self.meta_columns + self.score_columns) + "\n")
        self._row_format = "\t".join(["%s"] * len(self.meta_columns) + ["%.6g"] * len(self.score_columns))

    def _write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        fmt = self._row_format + "\n"
        self._file.write("".join(fmt % (*meta, *row) for meta, row in zip(meta_rows, scores.tolist())))

    def _close(self, ok: bool) -> None:
        self._file.close()


class ParquetWriter(TableWriter):
    """Parquet (pyarrow); rows are buffered into row groups of about 4 M cells."""

    _CELLS_PER_GROUP = 4_000_000

    def _open(self, tmp: Path) -> None:
        self._pq = require_pyarrow()
        self._writer: Any = None
        self._tmp_path = tmp
        self._meta: list[tuple[Any, ...]] = []
        self._scores: list[np.ndarray] = []
        self._buffered = 0

    def _write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        self._meta.extend(meta_rows)
        self._scores.append(np.asarray(scores, dtype=np.float32))
        self._buffered += len(meta_rows)
        if self._buffered * max(1, len(self.score_columns)) >= self._CELLS_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        columns: dict[str, Any] = {}
        for j, name in enumerate(self.meta_columns):
            columns[name] = [m[j] for m in self._meta]
        scores = (
            np.concatenate(self._scores)
            if self._scores
            else np.zeros((0, len(self.score_columns)), np.float32)
        )
        by_column = np.ascontiguousarray(scores.T)  # one contiguous row per column: zero-copy arrays
        for j, name in enumerate(self.score_columns):
            columns[name] = pa.array(by_column[j])
        table = pa.table(columns)
        if self._writer is None:
            self._writer = self._pq.ParquetWriter(self._tmp_path, table.schema)
        self._writer.write_table(table)
        self._meta, self._scores, self._buffered = [], [], 0

    def _close(self, ok: bool) -> None:
        if ok and (self._buffered or self._writer is None):
            self._flush()
        if self._writer is not None:
            self._writer.close()


def open_writer(
    path: PathLike, meta_columns: Sequence[str], score_columns: Sequence[str], overwrite: bool = False
) -> TableWriter:
    """A Parquet writer for ``*.parquet``, else a TSV writer; ``overwrite`` replaces a read-only file."""
    cls = ParquetWriter if os.fspath(path).endswith(".parquet") else TSVWriter
    return cls(path, meta_columns, score_columns, overwrite)
