"""Table writers for zoo-predict: TSV, Parquet or HDF5, written in chunks to a temporary file.

A writer is a context manager: the rows go to a hidden temporary file next to the
output (:func:`zoo._io.writing.atomic_path`), which is renamed to the output name only when
the ``with`` block ends without an error. A failure removes the temporary file, so no
half-written table is ever left under the name the user asked for. A pipe or device
(``--out /dev/stdout``) gets a TSV streamed into it instead, and is never replaced. The
files themselves are written column-wise by the sinks of :mod:`zoo.predict.outputs.columnar`.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from zoo._io.text import tsv_field_problem
from zoo._io.writing import ReadOnlyOutputError, atomic_path, check_output
from zoo._types import PathLike
from zoo.predict.errors import PredictError
from zoo.predict.outputs.columnar import HDF5Sink, ParquetSink, TSVSink, as_column, rows_to_columns

HDF5_SUFFIXES: tuple[str, ...] = (".h5", ".hdf5")
# outputs that cannot be streamed into a pipe or device, by how their name ends
UNSTREAMED: dict[str, str] = {
    ".parquet": "Parquet",
    **dict.fromkeys(HDF5_SUFFIXES, "HDF5"),
    ".vcf.gz": "a tabix-indexed .vcf.gz",
}


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


def require_h5py() -> Any:
    """The h5py module, or a PredictError saying how to install it."""
    try:
        import h5py
    except ImportError:
        raise PredictError(
            "writing HDF5 needs h5py, which is not installed; install it with "
            "pip install 'sigmoid-zoo[hdf5]' (or write .tsv or .parquet instead)"
        ) from None
    return h5py


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
    a read-only file (unless ``overwrite``), or a pipe or device for Parquet, HDF5 or an indexed
    .vcf.gz (which cannot be streamed). A symlink is followed; a pipe or device gets a TSV written into it."""
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
    kind = next((k for suffix, k in UNSTREAMED.items() if name.endswith(suffix)), None)
    if target.streamed and kind is not None:
        raise PredictError(
            f"--out {name!r} is {target.kind}: {kind} is written to regular files only; write .tsv to stream"
        )
    return Path(path)


def write_error(path: PathLike, err: OSError) -> OSError:
    """An OSError naming the output ``path`` (not a PredictError: nothing the input can fix)."""
    return OSError(f"cannot write --out {os.fspath(path)}: {err.strerror or err}")


class TableWriter:
    """Writes a table of leading text/int columns and float score columns, chunk by chunk.

    Args:
        path: the table to write.
        meta_columns: the leading columns' names.
        score_columns: the score columns' names.
        overwrite: replace a read-only file.
    """

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
        self._sink: Any = None

    def __enter__(self) -> TableWriter:
        with contextlib.ExitStack() as files:
            try:
                tmp = files.enter_context(atomic_path(self.path, overwrite_readonly=self.overwrite))
            except OSError as err:
                raise PredictError(str(self._write_error(err))) from err
            try:
                self._sink = self._open(tmp)  # a failure here deletes the temporary file
            except OSError as err:  # a full disk while the file's header is written
                raise self._write_error(err) from None
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
        return write_error(self.path, err)

    def write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        """Append rows: ``meta_rows[i]`` fills the leading columns, ``scores[i]`` the rest.

        Args:
            meta_rows: the leading values of each row.
            scores: (rows, score columns).
        """
        if len(meta_rows) != len(scores) or scores.shape[1:] != (len(self.score_columns),):
            raise ValueError(f"got {len(meta_rows)} meta rows and scores of shape {scores.shape}")
        if len(meta_rows):
            try:
                self._write(meta_rows, scores)
            except OSError as err:  # a full disk, a closed pipe
                raise self._write_error(err) from None
            self.rows += len(meta_rows)

    def write_columns(self, meta: Mapping[str, Any], scores: np.ndarray) -> None:
        """Append rows given column-wise: ``meta[name]`` (an array or list, one value a row) for
        each leading column, ``scores`` (rows, score columns); no Python runs per row.

        Args:
            meta: leading column name -> an array or list, one value a row.
            scores: (rows, score columns).
        """
        missing = [name for name in self.meta_columns if name not in meta]
        if missing:
            raise ValueError(f"no values for the leading columns {missing}")
        columns = [as_column(meta[name]) for name in self.meta_columns]
        lengths = {len(c) for c in columns}
        if lengths - {len(scores)} or scores.shape[1:] != (len(self.score_columns),):
            raise ValueError(
                f"got leading columns of lengths {sorted(lengths)}, scores of shape {scores.shape}"
            )
        if len(scores):
            try:
                self._sink.write(columns, scores)
            except OSError as err:  # a full disk, a closed pipe
                raise self._write_error(err) from None
            self.rows += len(scores)

    def _open(self, tmp: Path) -> Any:
        """The sink (:mod:`zoo.predict.outputs.columnar`) that writes the file at ``tmp``."""
        raise NotImplementedError

    def _write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        self._sink.write(rows_to_columns(meta_rows, len(self.meta_columns)), scores)

    def _close(self, ok: bool) -> None:
        """Finish the file (``ok``) or just release it (after an error)."""
        self._sink.close(ok)


class TSVWriter(TableWriter):
    """Tab-separated text with a header line (gzip-compressed for a name ending in .gz);
    scores as ``%.6g`` (``nan`` where not scored)."""

    def _open(self, tmp: Path) -> Any:
        compress = self.path.name.endswith(".gz")
        return TSVSink(tmp, self.meta_columns, self.score_columns, compress=compress)


class ParquetWriter(TableWriter):
    """Parquet (pyarrow), in row groups of about 16 M scores."""

    def _open(self, tmp: Path) -> Any:
        require_pyarrow()
        return ParquetSink(tmp, self.meta_columns, self.score_columns)

    def write_transposed(self, meta_rows: Sequence[tuple[Any, ...]], scores_t: np.ndarray) -> None:
        """Append rows whose scores come column by column: ``scores_t`` is (score columns, rows),
        as Parquet stores them (the file is the one :meth:`write` of the transpose makes)."""
        if len(meta_rows) != scores_t.shape[1] or scores_t.shape[0] != len(self.score_columns):
            raise ValueError(
                f"got {len(meta_rows)} meta rows and column-major scores of shape {scores_t.shape}"
            )
        if len(meta_rows):
            try:
                self._sink.write_transposed(rows_to_columns(meta_rows, len(self.meta_columns)), scores_t)
            except OSError as err:
                raise self._write_error(err) from None
            self.rows += len(meta_rows)


class HDF5Writer(TableWriter):
    """HDF5 (h5py): the float32 matrix ``data``, its column names ``columns`` and the leading
    columns under ``meta/``."""

    def _open(self, tmp: Path) -> Any:
        require_h5py()
        return HDF5Sink(tmp, self.meta_columns, self.score_columns)


def open_writer(
    path: PathLike, meta_columns: Sequence[str], score_columns: Sequence[str], overwrite: bool = False
) -> TableWriter:
    """A Parquet writer for ``*.parquet``, an HDF5 writer for ``*.h5`` or ``*.hdf5``, else a TSV
    writer (gzip-compressed for ``*.gz``); ``overwrite`` replaces a read-only file.

    Args:
        path: the table to write.
        meta_columns: the leading columns' names.
        score_columns: the score columns' names.
        overwrite: replace a read-only file.
    """
    name = os.fspath(path)
    cls: type[TableWriter] = TSVWriter
    if name.endswith(".parquet"):
        cls = ParquetWriter
    elif name.endswith(HDF5_SUFFIXES):
        cls = HDF5Writer
    return cls(path, meta_columns, score_columns, overwrite)
