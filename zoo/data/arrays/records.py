"""The records of one split: where its arrays are and how their axes lie (:class:`ArraySource`),
and the dataset that reads them a batch at a time (:class:`ArrayRecords`).

Each split names its file(s), the keys of its two arrays and how their axes are laid out:
the sequences have a batch, an alphabet (4 channels, in the file's order, e.g. ``AGCT``)
and a length axis, the labels a batch axis and a target axis. Batches come out as the
other data modules give them: x float32 (B, 4, L) in A, C, G, T order, y float32 (B, T).

Axes are numbered as the reader returns the array: h5py for HDF5 and MATLAB v7.3 files,
``scipy.io.loadmat`` for older MATLAB files, numpy for ``.npy``. MATLAB keeps arrays in
column-major order and v7.3 files are HDF5, so h5py shows a v7.3 array with its axes
reversed from MATLAB's ``size``: DeepSEA's ``trainxdata``, 4400000 x 4 x 1000 in MATLAB,
reads as (1000, 4, 4400000), i.e. batch axis 2, alphabet axis 1, length axis 0 (the
numbers Selene's configs give), and ``traindata``, 4400000 x 919, as (919, 4400000), batch
axis 1. ``loadmat`` keeps MATLAB's order: ``validxdata`` reads as (8000, 4, 1000).
"""

from __future__ import annotations

import functools
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from zoo.data._errors import DataFileError, require_nonempty
from zoo.data.arrays.files import ArrayFile
from zoo.data.arrays.packing import pack_or_float
from zoo.dna import ALPHABET


@dataclass(frozen=True)
class ArraySource:
    """Where one split's sequences and labels are, and how their axes are laid out.

    ``label_path`` None: the labels are in ``path`` too. Axes are numbered as the reader
    returns the arrays (see the module docstring for MATLAB v7.3 files); the sequence
    length axis defaults to the one left over. ``alphabet``: the file's channel order.
    """

    path: str
    label_path: str | None = None
    seq_key: str = "x"
    label_key: str = "y"
    seq_batch_axis: int = 0
    seq_alphabet_axis: int = 1
    seq_length_axis: int | None = None
    label_batch_axis: int = 0
    alphabet: str = ALPHABET

    def __post_init__(self) -> None:
        axes = {"seq_batch_axis": self.seq_batch_axis, "seq_alphabet_axis": self.seq_alphabet_axis}
        if self.seq_length_axis is not None:
            axes["seq_length_axis"] = self.seq_length_axis
        for name, value in [*axes.items(), ("label_batch_axis", self.label_batch_axis)]:
            top = 1 if name == "label_batch_axis" else 2
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
                raise ValueError(f"{name} must be an axis number 0..{top}, got {value!r}")
        if len(set(axes.values())) != len(axes):
            spelled = ", ".join(f"{k}={v}" for k, v in axes.items())
            raise ValueError(f"{spelled}: the sequence axes must differ")
        if self.seq_length_axis is None:
            object.__setattr__(self, "seq_length_axis", 3 - self.seq_batch_axis - self.seq_alphabet_axis)
        if not isinstance(self.alphabet, str) or sorted(self.alphabet.upper()) != sorted(ALPHABET):
            raise ValueError(
                f"alphabet must order the letters A, C, G, T (e.g. 'AGCT'), got {self.alphabet!r}"
            )

    @property
    def seq_axes(self) -> tuple[int, int, int]:
        """(batch, alphabet, length) axes of the sequence array."""
        return self.seq_batch_axis, self.seq_alphabet_axis, int(self.seq_length_axis)  # type: ignore[arg-type]

    @property
    def channels(self) -> list[int]:
        """The file channel of each of A, C, G, T."""
        return [self.alphabet.upper().index(base) for base in ALPHABET]

    def resolved(self, directory: str | os.PathLike[str] | None) -> ArraySource:
        """This source with relative paths taken from ``directory``."""
        if directory is None:
            return self
        label_path = None if self.label_path is None else os.fspath(Path(directory, self.label_path))
        return replace(self, path=os.fspath(Path(directory, self.path)), label_path=label_path)


FILE_OPTIONS = tuple(f.name for f in fields(ArraySource) if f.name != "path")


def array_source(
    split: str, value: str | os.PathLike[str] | Mapping[str, Any], **defaults: Any
) -> ArraySource:
    """The :class:`ArraySource` of ``split`` from its config: a path, or a mapping with
    ``path`` and any file options, which override ``defaults``."""
    given = {"path": os.fspath(value)} if isinstance(value, (str, os.PathLike)) else dict(value)
    unknown = sorted(set(given) - {"path", *FILE_OPTIONS})
    if unknown or "path" not in given:
        problem = f"unknown option(s) {', '.join(unknown)}" if unknown else "no path"
        raise ValueError(
            f"data.{split}: {problem}; expected a path or path + any of {', '.join(FILE_OPTIONS)}"
        )
    try:
        return ArraySource(**{**defaults, **given})
    except ValueError as err:
        raise ValueError(f"data.{split}: {err}") from None


def _to_innermost(block: np.ndarray, axis: int) -> np.ndarray:
    """``block`` copied C-contiguous with ``axis`` moved last, the others in order.

    Moving the innermost axis is a transpose; torch's blocked 2-D transpose does it several
    times faster than numpy's element-by-element copy, except for a small inner axis.
    """
    shape = block.shape
    outer, middle, inner = int(np.prod(shape[:axis])), shape[axis], int(np.prod(shape[axis + 1 :]))
    flat = np.ascontiguousarray(block).reshape(outer, middle, inner)
    moved_shape = (*shape[:axis], *shape[axis + 1 :], middle)
    if min(middle, inner) > 8:
        if not flat.flags.writeable:  # a memory map: torch shares only writable memory
            flat = flat.copy()
        try:
            source = torch.from_numpy(flat)
        except TypeError:  # a dtype torch lacks (big-endian, uint32, ...): numpy's way
            pass
        else:
            out = torch.empty((outer, inner, middle), dtype=source.dtype)
            for i in range(outer):  # 2-D transposes: torch's 3-D copy is several times slower
                out[i] = source[i].t()
            return out.numpy().reshape(moved_shape)
    return np.ascontiguousarray(flat.transpose(0, 2, 1)).reshape(moved_shape)


def records_first(
    block: np.ndarray, batch: int, alphabet: int, length: int, channels: Sequence[int]
) -> np.ndarray:
    """A block of sequences read with its axes at (batch, alphabet, length) as a C-contiguous
    (n, 4, L) array in A, C, G, T order (``channels``: the block channel of each)."""
    if length != 2:
        order = [a for a in range(3) if a != length]
        block = _to_innermost(block, length)
        batch, alphabet = order.index(batch), order.index(alphabet)
    if batch != 0:
        block = block.transpose(1, 0, 2)  # rows of L move whole: a quick copy
    if list(channels) != [0, 1, 2, 3]:
        return np.take(block, channels, axis=1)
    return np.ascontiguousarray(block)


def _column_major(array: Any) -> bool:
    """Whether an in-memory array is laid out column-major only (as scipy.io.loadmat gives them)."""
    return isinstance(array, np.ndarray) and array.flags.f_contiguous and not array.flags.c_contiguous


def _check_kind(path: Path, key: str, dtype: np.dtype, what: str) -> None:
    if np.dtype(dtype).kind not in "biuf":
        raise DataFileError(path, f"array {key!r} ({what}) holds {dtype}, expected numbers or booleans")


class ArrayRecords(Dataset):
    """The records of one split, read from array files a batch at a time.

    ``dataset[indices]`` (an index array, as :class:`ChunkBatchSampler` yields) reads the
    chunks of ``chunk_size`` records those indices fall in, keeping the last
    ``cache_chunks`` chunks, and returns (x float32 (B, 4, L), y float32 (B, T));
    ``dataset[lo:hi]`` reads the records in between directly; ``dataset[i]`` one record.

    Args:
        source: where the split's arrays are and how their axes are laid out.
        chunk_size: the records read at a time.
        cache_chunks: the chunks kept after reading.
        rc_augment: reverse-complement each record with probability 0.5 (labels unchanged).
        packed: give numpy arrays instead, bit-packed where the values are 0/1
            (:func:`~zoo.data.arrays.packing.pack_bits`: an eighth of the bytes of uint8, a
            32nd of float32), else float32; :func:`~zoo.data.arrays.packing.unpack_batch`
            makes them float32 tensors.
    """

    def __init__(
        self,
        source: ArraySource,
        chunk_size: int = 1024,
        cache_chunks: int = 8,
        rc_augment: bool = False,
        packed: bool = False,
    ) -> None:
        self.source, self.chunk_size, self.cache_chunks = source, chunk_size, cache_chunks
        self.rc_augment, self.packed = rc_augment, packed
        label_path = source.label_path or source.path
        same = label_path == source.path
        keys = [source.seq_key, source.label_key] if same else [source.seq_key]
        self._seq_file = ArrayFile(source.path, keys)
        self._label_file = self._seq_file if same else ArrayFile(label_path, [source.label_key])
        self._cache: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.n_records, self.seq_len, self.n_targets = self._check_shapes()
        self._seq_file.close()  # workers open their own handles
        self._label_file.close()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": OrderedDict()}

    def _check_shapes(self) -> tuple[int, int, int]:
        """(records, length, targets), after checking the arrays fit the configured axes."""
        s = self.source
        seqs, labels = self._seq_file.array(s.seq_key), self._label_file.array(s.label_key)
        _check_kind(self._seq_file.path, s.seq_key, seqs.dtype, "sequences")
        _check_kind(self._label_file.path, s.label_key, labels.dtype, "labels")
        batch, alphabet, length = s.seq_axes
        hint = (
            " (h5py shows a MATLAB v7.3 array with its axes reversed: MATLAB's N x 4 x L reads as"
            " (L, 4, N), i.e. seq_batch_axis=2, seq_alphabet_axis=1)"
            if self._seq_file.format == "hdf5"
            else ""
        )
        if len(seqs.shape) != 3 or seqs.shape[alphabet] != 4:
            expected = ["?"] * 3
            expected[batch], expected[alphabet], expected[length] = "records", "4", "length"
            raise DataFileError(
                self._seq_file.path,
                f"sequences {s.seq_key!r} have shape {tuple(seqs.shape)}; with seq_batch_axis={batch}, "
                f"seq_alphabet_axis={alphabet}, seq_length_axis={length} expected ({', '.join(expected)})"
                + hint,
            )
        if len(labels.shape) != 2:
            raise DataFileError(
                self._label_file.path,
                f"labels {s.label_key!r} have shape {tuple(labels.shape)}; expected 2 axes (records, targets)"
                f" with the records on label_batch_axis={s.label_batch_axis}",
            )
        n = seqs.shape[batch]
        if labels.shape[s.label_batch_axis] != n:
            raise DataFileError(
                self._label_file.path,
                f"labels {s.label_key!r} have shape {tuple(labels.shape)}: "
                f"{labels.shape[s.label_batch_axis]} records on label_batch_axis={s.label_batch_axis}, "
                f"but the sequences {s.seq_key!r} have {n} on seq_batch_axis={batch}" + hint,
            )
        if n == 0:
            raise DataFileError(self._seq_file.path, f"sequences {s.seq_key!r} have no records")
        return n, int(seqs.shape[length]), int(labels.shape[1 - s.label_batch_axis])

    def __len__(self) -> int:
        return self.n_records

    def read(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Records [lo, hi) as stored (their dtype): sequences (n, 4, L) in ACGT order, labels (n, T).

        Args:
            lo: the first record.
            hi: the end (exclusive).
        """
        s = self.source
        seqs, labels = self._seq_file.array(s.seq_key), self._label_file.array(s.label_key)
        batch, alphabet, length = s.seq_axes
        label_batch = s.label_batch_axis
        # loadmat gives column-major arrays: read their row-major transpose, axes mirrored.
        if _column_major(seqs):
            seqs, batch, alphabet, length = seqs.T, 2 - batch, 2 - alphabet, 2 - length
        if _column_major(labels):
            labels, label_batch = labels.T, 1 - label_batch
        where: list[slice] = [slice(None)] * 3
        where[batch] = slice(lo, hi)
        x = records_first(np.asarray(seqs[tuple(where)]), batch, alphabet, length, s.channels)
        if label_batch == 0:
            y = np.asarray(labels[lo:hi])
        else:
            y = _to_innermost(np.asarray(labels[:, lo:hi]), 0)
        return x, y

    def _chunk(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ``c`` (records [c * chunk_size, (c + 1) * chunk_size)), from the cache when there."""
        if c in self._cache:
            self._cache.move_to_end(c)
            return self._cache[c]
        lo = c * self.chunk_size
        self._cache[c] = self.read(lo, min(lo + self.chunk_size, self.n_records))
        while len(self._cache) > self.cache_chunks:
            self._cache.popitem(last=False)
        return self._cache[c]

    def _gather(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The records at ``indices``, in that order, through the chunk cache; sorted indices
        (the sampler's) are copied a chunk's run at a time, without reordering."""
        chunk_of = indices // self.chunk_size
        order = None
        if np.any(chunk_of[1:] < chunk_of[:-1]):
            order = np.argsort(chunk_of, kind="stable")
            indices, chunk_of = indices[order], chunk_of[order]
        bounds = [*np.flatnonzero(np.diff(chunk_of, prepend=-1)).tolist(), len(indices)]
        parts = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            c = int(chunk_of[lo])
            xc, yc = self._chunk(c)
            offsets = indices[lo:hi] - c * self.chunk_size
            parts.append((lo, hi, xc, yc, offsets))
        if len(parts) == 1:
            _, _, xc, yc, offsets = parts[0]
            x, y = xc[offsets], yc[offsets]
        else:
            x = np.empty((len(indices), *parts[0][2].shape[1:]), dtype=parts[0][2].dtype)
            y = np.empty((len(indices), *parts[0][3].shape[1:]), dtype=parts[0][3].dtype)
            for lo, hi, xc, yc, offsets in parts:
                x[lo:hi], y[lo:hi] = xc[offsets], yc[offsets]
        if order is not None:
            back = np.empty_like(order)
            back[order] = np.arange(len(order))
            x, y = x[back], y[back]
        return x, y

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> tuple[Any, Any]:
        if isinstance(index, (int, np.integer)):
            i = int(index) + (self.n_records if index < 0 else 0)
            if not 0 <= i < self.n_records:
                raise IndexError(f"record {index} of {self.n_records}")
            x, y = self[i : i + 1]
            return x[0], y[0]
        if isinstance(index, slice):
            lo, hi, step = index.indices(self.n_records)
            if step != 1:
                return self[np.arange(lo, hi, step)]
            x, y = self.read(lo, max(lo, hi))
        else:
            x, y = self._gather(np.asarray(index, dtype=np.int64))
        if self.rc_augment:
            flip = (torch.rand(len(x)) < 0.5).numpy()[:, None, None]
            x = np.where(flip, x[:, ::-1, ::-1], x)  # ACGT: complement = reversed channels
        if self.packed:
            return pack_or_float(x), pack_or_float(y)
        # astype copies even float32 data: x may be a view of a memory map or the chunk cache.
        return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))


def array_dims(
    train: str | os.PathLike[str] | Mapping[str, Any], dir: str | None = None, **defaults: Any
) -> tuple[int, int]:
    """(sequence length, target count) of the training split, read from its files' shapes:
    the arguments are those of :class:`ArrayDataModule` (``train``, ``dir`` and the file
    options), so a config can size the model from the data instead of by hand.

    Args:
        train: the training split, as :class:`ArrayDataModule` takes it.
        dir: the folder relative paths are taken from.
        **defaults: the file options (:data:`FILE_OPTIONS`).
    """
    source = array_source("train", train, **defaults).resolved(dir)
    stamps = []
    for path in dict.fromkeys(filter(None, (source.path, source.label_path))):
        stat = require_nonempty(path, "array file").stat()
        stamps.append((path, stat.st_mtime_ns, stat.st_size))
    return _array_dims(source, tuple(stamps))


@functools.lru_cache(maxsize=8)
def _array_dims(source: ArraySource, stamps: tuple[Any, ...]) -> tuple[int, int]:
    """:func:`array_dims`, once per source and file version (a config asks for both sizes,
    and the model's config repeats them)."""
    ds = ArrayRecords(source)
    return ds.seq_len, ds.n_targets
