"""Table files written column-wise from numpy arrays: TSV, Parquet and HDF5.

A sink writes one file, block by block: ``write(columns, scores)`` takes the leading
columns (one array or list a column, in order) and the float scores (rows, score columns);
``close(ok)`` finishes the file (``ok``) or only releases it (after an error). No Python
runs per row or per value; the zoo-predict writers (:mod:`zoo.predict.outputs.writers`) put them
behind their temporary-file-and-rename handling.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

import numpy as np

from zoo._types import PathLike
from zoo.predict.outputs.textformat import text_column, tsv_blocks

_CELLS_PER_GROUP = 1 << 24  # a Parquet row group holds about this many scores (64 MiB)
_MAX_ROWS_PER_GROUP = 1 << 20
_WRITE_BUFFER = 1 << 20  # bytes of Parquet gathered before each write (larger: slower, out of cache)
_WRITE_BATCH = 1 << 16  # values pyarrow encodes at a time (its default, 1024, took a fifth longer)
_CHUNK_BYTES = 1 << 20  # an HDF5 chunk of the score matrix: whole rows, about 1 MiB
_TRANSPOSE_ROWS = 256  # rows transposed at a time: the block stays in the CPU cache
_META_ROWS = 1 << 14  # HDF5: leading-column rows written (and chunked) together


def as_column(values: Any) -> np.ndarray:
    """A leading column as a 1-D numpy array (ints, text as str, or objects)."""
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"a leading column must be one-dimensional, got shape {array.shape}")
    return array


def rows_to_columns(rows: Sequence[tuple[Any, ...]], n_columns: int) -> list[np.ndarray]:
    """Row tuples -> one array a column (zip(*rows) runs in C)."""
    if not rows:
        return [np.array([], dtype=object) for _ in range(n_columns)]
    return [as_column(list(column)) for column in zip(*rows)]


def _arrow_input(parts: list[np.ndarray]) -> Any:
    """One leading column for ``pa.array``: numbers as an array (no copy), text as a list of
    str (pyarrow converts numpy's fixed-width text many times slower, per value)."""
    if not parts:
        return []
    column = np.concatenate(parts)
    return column.tolist() if column.dtype.kind == "U" else column


def open_text_table(path: PathLike) -> IO[bytes]:
    """A binary file to write a TSV table (or its gzip members, :func:`gzip_member`) into.

    Args:
        path: the file to create.
    """
    return open(path, "wb")  # noqa: SIM115 (the caller closes it)


# a gzip member's header: deflate, no flags, no time, fastest compression (XFL 4), unknown OS
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"


def gzip_member(chunks: Iterable[bytes]) -> bytes:
    """The text of ``chunks`` as one gzip member, at level 1 (gzip's default level would take
    several times longer than the formatting), with no name or time in its header: the same
    text always makes the same bytes.

    A compressed TSV table is its header line as one member, then one member a batch of rows
    (a file of several members is one gzip stream to gzip, zcat, Python's gzip and pandas).
    A part of a scale-out run makes its batches' members the same way, so merging its parts
    is a byte copy of their members (:mod:`zoo.predict.outputs.merge`), not a recompression.

    Args:
        chunks: the text, in pieces.
    """
    deflate = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc, size, out = 0, 0, [_GZIP_HEADER]
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
        out.append(deflate.compress(chunk))
    out.append(deflate.flush())
    out.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return b"".join(out)


def gunzip_member(data: bytes) -> bytes:
    """The text of one gzip member (:func:`gzip_member`).

    Args:
        data: the member's bytes.
    """
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    text = inflate.decompress(data) + inflate.flush()
    if not inflate.eof or inflate.unused_data:
        raise ValueError("not one whole gzip member")
    return text


class TSVSink:
    """Tab-separated text with a header line (gzip-compressed when ``compress``); scores as
    ``%.6g`` and ``nan`` where not scored, leading columns as ``%s`` would print them."""

    def __init__(
        self,
        path: PathLike,
        meta_columns: Sequence[str],
        score_columns: Sequence[str],
        compress: bool = False,
    ) -> None:
        self._file: IO[bytes] = open_text_table(path)
        self._compress = compress
        header = ("\t".join([*meta_columns, *score_columns]) + "\n").encode("utf-8")
        self._file.write(gzip_member([header]) if compress else header)

    def write(self, columns: Sequence[np.ndarray], scores: np.ndarray) -> None:
        """Append rows (compressed: as one gzip member, :func:`gzip_member`)."""
        if not len(scores):
            return  # (no empty member: a part skips empty batches too)
        blocks = tsv_blocks([text_column(c) for c in columns], scores)
        if self._compress:
            self._file.write(gzip_member(blocks))
            return
        for block in blocks:
            self._file.write(block)

    def close(self, ok: bool) -> None:
        """Close the file."""
        self._file.close()


class ParquetSink:
    """Parquet (pyarrow): rows gather in a column-major buffer, one row group per ~16 M scores.

    Score columns are float32 without nulls (NaN marks a row that was not scored), stored
    plain (no dictionary, no compression: model outputs hardly compress) and without min/max
    statistics; the leading columns are dictionary-encoded, snappy-compressed, with statistics.
    A full row group is converted and written on a background thread (pyarrow lets go of the
    GIL) while the next one fills a second buffer, so gathering rows and encoding pages overlap.
    """

    def __init__(
        self,
        path: PathLike,
        meta_columns: Sequence[str],
        score_columns: Sequence[str],
        rows_per_group: int | None = None,
    ) -> None:
        import pyarrow.parquet as pq

        self._pq = pq
        self._path = os.fspath(path)
        self.meta_columns, self.score_columns = list(meta_columns), list(score_columns)
        k = len(self.score_columns)
        default = min(_MAX_ROWS_PER_GROUP, max(1024, _CELLS_PER_GROUP // max(k, 1)))
        self._rows_per_group = rows_per_group or default
        self._buffer = np.empty((k, self._rows_per_group), np.float32)  # one row per score column
        self._spare: np.ndarray | None = None  # the other buffer, made when a second group starts
        self._meta: list[list[np.ndarray]] = [[] for _ in self.meta_columns]
        self._buffered = 0
        self._writer: Any = None
        self._schema: Any = None
        self._background: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None  # the row group being written
        self._error: BaseException | None = None  # the failure of a row group's write
        self._stream: Any = None  # the buffered file the writer writes to

    def write(self, columns: Sequence[np.ndarray], scores: np.ndarray) -> None:
        """Append rows."""
        self._append(columns, scores, transposed=False)

    def write_transposed(self, columns: Sequence[np.ndarray], scores_t: np.ndarray) -> None:
        """Append rows whose scores come column by column: ``scores_t`` is (score columns, rows),
        copied into the column-major buffer as it is (no transposition)."""
        self._append(columns, scores_t, transposed=True)

    def _append(self, columns: Sequence[np.ndarray], scores: np.ndarray, transposed: bool) -> None:
        if self._error is not None:
            raise self._error
        total = scores.shape[1] if transposed else len(scores)
        done = 0
        while done < total:
            n = min(total - done, self._rows_per_group - self._buffered)
            for j, column in enumerate(columns):
                self._meta[j].append(as_column(column)[done : done + n].copy())  # the caller's may change
            if transposed:
                self._buffer[:, self._buffered : self._buffered + n] = scores[:, done : done + n]
            else:
                for first in range(done, done + n, _TRANSPOSE_ROWS):
                    last = min(done + n, first + _TRANSPOSE_ROWS)
                    at = self._buffered + first - done
                    self._buffer[:, at : at + last - first] = scores[first:last].T
            self._buffered += n
            done += n
            if self._buffered == self._rows_per_group:
                self._flush(last=False)

    def _flush(self, last: bool) -> None:
        """Write the buffered rows as a row group: on the background thread, switching to the
        other buffer once the previous group is written; ``last``: here, and wait for it."""
        group = (self._meta, self._buffer, self._buffered)
        self._meta = [[] for _ in self.meta_columns]
        self._buffered = 0
        self._wait()  # the previous group is written: its buffer is free again
        if last:
            self._write_group(*group)
            return
        if self._background is None:
            self._background = ThreadPoolExecutor(1, thread_name_prefix="parquet-writer")
        self._pending = self._background.submit(self._write_group, *group)
        if self._spare is None:
            self._spare = np.empty_like(self._buffer)
        self._buffer, self._spare = self._spare, self._buffer

    def _write_group(self, meta_parts: list[list[np.ndarray]], buffer: np.ndarray, n: int) -> None:
        """Write the first ``n`` rows of ``buffer`` and their leading columns as one row group
        (the first one opens the file, its leading columns' types making the schema)."""
        import pyarrow as pa

        meta = [pa.array(_arrow_input(parts)) for parts in meta_parts]
        scores = [pa.array(buffer[j, :n]) for j in range(len(self.score_columns))]  # no copies
        if self._schema is None:
            fields = [pa.field(name, a.type) for name, a in zip(self.meta_columns, meta)]
            fields += [pa.field(name, pa.float32(), nullable=False) for name in self.score_columns]
            self._schema = pa.schema(fields)
            # pyarrow writes each page with its own call: gathered into 1 MiB, the file
            # system sees a few large writes instead of two small ones per column and group
            self._stream = pa.BufferedOutputStream(pa.OSFile(self._path, "wb"), buffer_size=_WRITE_BUFFER)
            self._writer = self._pq.ParquetWriter(
                self._stream,
                self._schema,
                use_dictionary=self.meta_columns,
                write_statistics=self.meta_columns,  # min/max of the scores: 20% of the time
                compression={name: "snappy" if is_meta else "none" for name, is_meta in self._kinds()},
                write_batch_size=_WRITE_BATCH,
            )
        table = pa.Table.from_arrays([*meta, *scores], schema=self._schema)  # later blocks: same types
        self._writer.write_table(table, row_group_size=max(n, 1))  # (0: an empty table)

    def _wait(self) -> None:
        """Wait for the row group being written; raise its error, now and at every later
        write (rows written after a lost row group would make a table with a hole)."""
        if self._error is not None:
            raise self._error
        pending, self._pending = self._pending, None
        if pending is not None:
            try:
                pending.result()
            except BaseException as err:
                self._error = err
                raise

    def _kinds(self) -> list[tuple[str, bool]]:
        """(name, whether it is a leading column) of each column."""
        return [(name, True) for name in self.meta_columns] + [(name, False) for name in self.score_columns]

    def close(self, ok: bool) -> None:
        """Write the rows left (and an empty table when there were none), then close; after an
        error (not ``ok``), only wait for the background write and release the file."""
        try:
            if ok:
                self._wait()  # the file is open once the first group is written
                if self._buffered or self._writer is None:
                    self._flush(last=True)
        finally:
            if self._background is not None:
                self._background.shutdown()  # waits for a group still being written (its error is
                # not raised: after a failure, the error that stopped the run is the one raised)
            try:
                if self._writer is not None:
                    self._writer.close()  # the footer
            finally:
                if self._stream is not None:
                    self._stream.close()  # the buffered bytes, then the file


class _HDF5File:
    """The file an :class:`HDF5Sink` writes, given to h5py as a file object (its ``fileobj``
    driver), so that a failed write can be survived.

    HDF5 cannot close a file whose write failed (a full disk): h5py's close raises, and the
    objects left open crash the interpreter when they are freed. After the first failed write
    this file takes every later write and truncation without writing anything, so HDF5 closes
    cleanly and the half-written temporary file is deleted by the writer. Writes are positional
    (``os.pwrite``) of whole HDF5 blocks: a chunk of ``data`` is one call.
    """

    def __init__(self, path: PathLike) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
        self._pos = 0
        self.failed: OSError | None = None  # the write that failed

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move to ``offset`` (from the start, the current position or the end)."""
        if whence == os.SEEK_CUR:
            offset += self._pos
        elif whence == os.SEEK_END:
            offset += os.fstat(self._fd).st_size
        self._pos = offset
        return offset

    def tell(self) -> int:
        """The current position."""
        return self._pos

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes from the current position (all to the end for a negative ``n``)."""
        if n < 0:
            n = max(0, os.fstat(self._fd).st_size - self._pos)
        data = os.pread(self._fd, n, self._pos)
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the current position; returns the bytes read."""
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def write(self, data: Any) -> int:
        """Write ``data`` at the current position (nothing after a failed write)."""
        view = memoryview(data).cast("B")
        if self.failed is None:
            try:
                done = 0
                while done < len(view):
                    done += os.pwrite(self._fd, view[done:], self._pos + done)
            except OSError as err:
                self.failed = err
                raise
        self._pos += len(view)
        return len(view)

    def truncate(self, size: int | None = None) -> int:
        """Set the file's length (nothing after a failed write)."""
        size = self._pos if size is None else size
        if self.failed is None:
            try:
                os.ftruncate(self._fd, size)
            except OSError as err:
                self.failed = err
                raise
        return size

    def flush(self) -> None:
        """Nothing to flush: every write went to the file."""

    def close(self) -> None:
        """Release the file descriptor."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class HDF5Sink:
    """HDF5 (h5py), laid out as Selene writes predictions: ``data``, a float32 matrix (rows,
    score columns), chunked by whole rows and growing as rows come; ``columns``, the score
    column names; ``meta/<name>``, one dataset per leading column (int64 or UTF-8 text), in
    order (the ``meta`` group tracks creation order).

    Rows gather until a chunk of ``data`` is full, which is then written as it is (HDF5's
    direct chunk write, no filter: several times faster than a slice through the chunk
    cache); the leading columns are written every ``_META_ROWS`` rows. A failed write (a full
    disk) raises its OSError, and the file can still be closed (:class:`_HDF5File`).
    """

    def __init__(
        self,
        path: PathLike,
        meta_columns: Sequence[str],
        score_columns: Sequence[str],
        chunk_rows: int | None = None,
    ) -> None:
        import h5py

        self._h5py = h5py
        self.meta_columns, self.score_columns = list(meta_columns), list(score_columns)
        k = len(self.score_columns)
        self._chunk_rows = chunk_rows or max(1, _CHUNK_BYTES // (4 * max(k, 1)))
        self._disk = _HDF5File(path)
        try:
            self._file = h5py.File(self._disk, "w")
            self._create(k)
        except BaseException:
            self.close(ok=False)
            raise
        self._meta: list[list[np.ndarray]] = [[] for _ in self.meta_columns]
        self._meta_rows = 0  # rows of the leading columns written
        self._chunk = np.empty((self._chunk_rows, k), np.float32)
        self._in_chunk = 0
        self.rows = 0

    def _create(self, k: int) -> None:
        """The datasets: ``data`` with ``k`` score columns, ``columns`` and the group ``meta``."""
        h5py = self._h5py
        self._data = self._file.create_dataset(
            "data",
            shape=(0, k),
            maxshape=(None, max(k, 1)),  # (no score columns: chunks still need a width)
            chunks=(self._chunk_rows, max(k, 1)),
            dtype=np.float32,
            fillvalue=np.nan,
        )
        text = h5py.string_dtype("utf-8")
        self._file.create_dataset("columns", data=np.array(self.score_columns, dtype=object), dtype=text)
        self._group = self._file.create_group("meta", track_order=True)
        self._meta_datasets: list[Any] = []

    def write(self, columns: Sequence[np.ndarray], scores: np.ndarray) -> None:
        """Append rows."""
        for parts, column in zip(self._meta, columns):
            parts.append(as_column(column).copy())  # kept until written: the caller's may change
        scores = np.asarray(scores, np.float32)
        done = 0
        while done < len(scores):
            n = min(len(scores) - done, self._chunk_rows - self._in_chunk)
            if self._in_chunk == 0 and n == self._chunk_rows:  # a whole chunk: no copy
                self._write_chunk(self.rows, scores[done : done + n])
            else:
                self._chunk[self._in_chunk : self._in_chunk + n] = scores[done : done + n]
                self._in_chunk += n
                if self._in_chunk == self._chunk_rows:
                    self._write_chunk(self.rows + n - self._chunk_rows, self._chunk)
                    self._in_chunk = 0
            done += n
            self.rows += n
        if self.rows - self._meta_rows >= _META_ROWS:
            self._write_meta()

    def _write_chunk(self, first: int, block: np.ndarray) -> None:
        """Write the chunk of rows from ``first`` (the dataset grows to hold all of it)."""
        self._data.resize((first + self._chunk_rows, len(self.score_columns)))
        if self.score_columns:
            self._data.id.write_direct_chunk((first, 0), np.ascontiguousarray(block))

    def _write_meta(self) -> None:
        """Write the leading columns' rows gathered so far."""
        n = self.rows - self._meta_rows
        for j, parts in enumerate(self._meta):
            column = np.concatenate(parts) if parts else np.array([], dtype=object)
            if j == len(self._meta_datasets):  # typed by its first rows
                dtype: Any = np.int64 if column.dtype.kind in "iu" else self._h5py.string_dtype("utf-8")
                if column.dtype.kind in "bf":
                    dtype = column.dtype
                self._meta_datasets.append(
                    self._group.create_dataset(
                        self.meta_columns[j], shape=(0,), maxshape=(None,), chunks=(_META_ROWS,), dtype=dtype
                    )
                )
            dataset = self._meta_datasets[j]
            if dataset.dtype.kind == "O":
                column = column.astype(str).astype(object)
            dataset.resize((self._meta_rows + n,))
            dataset[self._meta_rows :] = column
        self._meta = [[] for _ in self.meta_columns]
        self._meta_rows += n

    def close(self, ok: bool) -> None:
        """Write the last, partial chunk (NaN beyond the rows) and the leading columns left, then
        close (``ok``); after an error, only close. A write that failed, now or before, is raised."""
        try:
            if ok and self._disk.failed is None:
                if self._in_chunk:
                    self._chunk[self._in_chunk :] = np.nan
                    self._write_chunk(self.rows - self._in_chunk, self._chunk)
                self._data.resize((self.rows, len(self.score_columns)))
                if self.rows > self._meta_rows or not self._meta_datasets:
                    self._write_meta()
        finally:
            try:
                if getattr(self, "_file", None) is not None:
                    self._file.close()  # after a failed write, HDF5 writes into nothing
            finally:
                self._disk.close()
        if ok and self._disk.failed is not None:
            raise self._disk.failed
