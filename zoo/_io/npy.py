"""A float32 ``.npy`` file written row block by row block, for arrays larger than memory.

``np.save`` needs the whole array; :class:`NpyRowWriter` writes a header sized for any shape,
appends each block as it comes and rewrites the header with the final row count on
:meth:`~NpyRowWriter.close`, so that memory stays that of one block.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from zoo._types import PathLike

# Room for any (rows, *tail) shape the commands write; the header is rewritten at the end.
_HEADER_BYTES = 128


def npy_header(shape: tuple[int, ...]) -> bytes:
    """A float32 C-order ``.npy`` header (format 1.0) for ``shape``, padded to a fixed size so
    that a later header for more rows fits in its place.

    Args:
        shape: the array's shape.
    """
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape!r}, }}"
    body = _HEADER_BYTES - 10  # the magic string, the version and the header length come first
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", body) + (text.ljust(body - 1) + "\n").encode("latin1")


class NpyRowWriter:
    """A float32 ``.npy`` file of shape ``(rows, *tail)`` written block by block: its row count
    goes into the header on :meth:`close`.

    Args:
        path: the file to create (replaced if it exists).
        tail: the shape of one row.
    """

    def __init__(self, path: PathLike, tail: tuple[int, ...]) -> None:
        self.path = path
        self.tail = tail
        self.rows = 0
        self.file = open(path, "wb")  # noqa: SIM115 (closed by close)
        self.file.write(npy_header((0, *tail)))

    def append(self, array: np.ndarray) -> None:
        """Write ``array``'s rows after the rows so far.

        Args:
            array: rows of shape ``(n, *tail)``, converted to little-endian float32.
        """
        self.file.write(np.ascontiguousarray(array, dtype="<f4").tobytes())
        self.rows += len(array)

    def close(self) -> np.ndarray:
        """Finish the file; returns its rows, memory-mapped."""
        self.file.seek(0)
        self.file.write(npy_header((self.rows, *self.tail)))
        self.file.close()
        return np.load(os.fspath(self.path), mmap_mode="r")
