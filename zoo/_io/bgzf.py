"""BGZF (blocked gzip, what bgzip writes and tabix indexes) written from Python.

pysam's BGZFile writes through htslib, which reports a full disk only as "Error closing
BGZFile object" (after printing its own line); written here, a failed write is the OSError
of the system call, with its errno, like every other output's.
"""

from __future__ import annotations

import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import IO

_BLOCK_INPUT = 0xFF00  # bytes compressed into one block: htslib's size, so a block never passes 64 KiB
# the empty block that ends a BGZF file (htslib warns about a file without it)
_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def _block(data: bytes, level: int) -> bytes:
    """One BGZF block: a gzip member whose extra field ``BC`` holds the block's size less 1."""
    compress = zlib.compressobj(level, zlib.DEFLATED, -15)
    deflated = compress.compress(data) + compress.flush()
    size = 18 + len(deflated) + 8  # header with the extra field, data, CRC32 and input size
    header = struct.pack("<4BI2BH2BHH", 31, 139, 8, 4, 0, 0, 255, 6, 66, 67, 2, size - 1)
    return header + deflated + struct.pack("<II", zlib.crc32(data), len(data))


class BGZFWriter:
    """A binary file object that writes BGZF to ``path``; ``close`` writes the last block and
    the end-of-file marker. A context manager.

    Args:
        path: the file to write (created or truncated).
        mode: ``"wb"``, the only mode (as ``open`` takes it).
        level: the zlib compression level.
        threads: compress this many blocks at once (zlib runs outside the GIL), for writes
            that pass several blocks' worth of data at a time.
    """

    def __init__(self, path: str, mode: str = "wb", level: int = 6, threads: int = 1) -> None:
        if mode != "wb":
            raise ValueError(f"BGZFWriter writes ('wb'), got mode {mode!r}")
        self._file: IO[bytes] = open(path, "wb")  # noqa: SIM115 (closed by close)
        self._level = level
        self._pending = bytearray()
        self._pool = ThreadPoolExecutor(threads) if threads > 1 else None

    def write(self, data: bytes) -> int:
        """Compress ``data``, writing every full block; returns its length."""
        self._pending += data
        full = len(self._pending) // _BLOCK_INPUT * _BLOCK_INPUT
        if not full:
            return len(data)
        pieces = [bytes(self._pending[i : i + _BLOCK_INPUT]) for i in range(0, full, _BLOCK_INPUT)]
        del self._pending[:full]
        levels = [self._level] * len(pieces)
        blocks = self._pool.map(_block, pieces, levels) if self._pool else map(_block, pieces, levels)
        for block in blocks:
            self._file.write(block)
        return len(data)

    def close(self) -> None:
        """Write the last block and the end marker, then close (the file is closed even when
        the writes fail, and their error raised)."""
        if self._pool is not None:
            self._pool.shutdown()
        if self._file.closed:
            return
        try:
            if self._pending:
                self._file.write(_block(bytes(self._pending), self._level))
                self._pending.clear()
            self._file.write(_EOF)
        finally:
            self._file.close()

    def __enter__(self) -> BGZFWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
            return
        # after an error the file is deleted: release it without writing (on a full disk a
        # write would fail again and hide the error that stopped the run)
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown()
        try:
            self._file.close()
        except OSError:
            pass
