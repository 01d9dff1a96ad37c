"""Array files: which format a file is (by its first bytes), and its arrays opened in each process.

Reading: HDF5 and ``.npy`` files are read in chunks of consecutive records (h5py opened
in each DataLoader worker; ``.npy`` memory-mapped); nothing reads the whole file. scipy
cannot read part of a v5 ``.mat`` file, so those are loaded whole, once, in the process
that sets the module up, and forked DataLoader workers share that copy.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo._extras import install_hint
from zoo.data._errors import DataFileError, require_nonempty

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


NPY_MAGIC = b"\x93NUMPY"


# h5py's per-file chunk cache: compressed files (MATLAB v7.3 compresses) decode each HDF5
# chunk once while a read of many records walks through it, not once per record.
HDF5_CACHE_BYTES = 64 << 20


def array_format(path: str | os.PathLike[str]) -> str:
    """``"hdf5"`` (HDF5 and MATLAB v7.3), ``"mat"`` (MATLAB v4/v5/v7) or ``"npy"``, from the
    file's first bytes (HDF5 may sit after a user block of 512, 1024, ... bytes, as in .mat)."""
    path = require_nonempty(path, "array file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(128)
        offsets = [0] + [512 << k for k in range(16) if 512 << k < size]
        for offset in offsets:
            f.seek(offset)
            if f.read(8) == HDF5_SIGNATURE:
                return "hdf5"
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head.startswith(b"MATLAB") or path.suffix.lower() == ".mat":
        return "mat"
    raise DataFileError(path, "is not an HDF5, MATLAB .mat or NumPy .npy file (by its first bytes)")


def _require(module: str) -> Any:
    """Import h5py or scipy.io, or say how to install them."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"reading this file needs {module.split('.')[0]}: {install_hint('arrays')}"
        ) from err


class ArrayFile:
    """The arrays of one file, opened at first use in each process.

    HDF5 datasets are read through h5py (a handle per process: handles do not survive a
    fork or pickling), or memory-mapped where stored contiguous and unfiltered; ``.npy``
    files are memory-mapped, v5 ``.mat`` files loaded whole. A loaded v5 array is kept
    across a fork (workers share its pages) but not pickled.
    """

    def __init__(self, path: str | os.PathLike[str], keys: Sequence[str]) -> None:
        self.path, self.keys = Path(path), list(dict.fromkeys(keys))
        self.format = array_format(self.path)
        self._arrays: dict[str, Any] = {}
        self._h5: Any = None
        self._pid = 0

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_arrays": {}, "_h5": None, "_pid": 0}

    def close(self) -> None:
        """Drop open handles and memory maps (v5 arrays stay: reading them again costs a whole load)."""
        if self._h5 is not None:
            self._h5.close()
        self._h5 = None
        if self.format != "mat":
            self._arrays = {}

    def array(self, key: str) -> Any:
        """The array under ``key`` (an h5py dataset, a memory map or an ndarray): sliceable,
        with ``.shape`` and ``.dtype``. ``.npy`` files hold one array; their key is ignored."""
        if self._pid != os.getpid():
            if self.format == "hdf5":
                # A handle inherited through fork must not be used; h5py reopens in this process.
                self._h5, self._arrays = None, {}
            self._pid = os.getpid()
        if key not in self._arrays:
            self._arrays.update(self._open(key))
        return self._arrays[key]

    def _open(self, key: str) -> dict[str, Any]:
        if self.format == "npy":
            return {key: np.load(self.path, mmap_mode="r", allow_pickle=False)}
        if self.format == "mat":
            scipy_io = _require("scipy.io")
            try:
                loaded = scipy_io.loadmat(self.path, variable_names=self.keys)
            except (NotImplementedError, ValueError, TypeError) as err:
                raise DataFileError(self.path, f"is not a readable MATLAB file ({err})") from err
            if key not in loaded:
                names = [name for name, _, _ in scipy_io.whosmat(self.path)]
                raise self._missing(key, names)
            return {k: loaded[k] for k in self.keys if k in loaded}
        h5py = _require("h5py")
        if self._h5 is None:
            try:
                self._h5 = h5py.File(self.path, "r", rdcc_nbytes=HDF5_CACHE_BYTES)
            except OSError as err:
                raise DataFileError(self.path, f"is not a readable HDF5 file ({err})") from err
        found = self._h5.get(key)
        if not isinstance(found, h5py.Dataset):
            names: list[str] = []
            self._h5.visititems(
                lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None
            )
            raise self._missing(key, names)
        offset = found.id.get_offset()
        if found.chunks is None and offset is not None and found.dtype.kind in "biuf" and found.size:
            # Contiguous and unfiltered: the bytes lie in the file as a C-order array. Mapped,
            # a slice across the records' axis reads only its pages; h5py walks a selection
            # run by run (thousands of runs when the records are the last axis).
            return {key: np.memmap(self.path, dtype=found.dtype, mode="r", offset=offset, shape=found.shape)}
        return {key: found}

    def _missing(self, key: str, names: list[str]) -> DataFileError:
        listed = ", ".join(repr(n) for n in names[:20]) + (", ..." if len(names) > 20 else "")
        return DataFileError(self.path, f"has no array {key!r}; it holds {listed or 'no arrays'}")
