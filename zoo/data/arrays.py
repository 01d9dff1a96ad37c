"""One-hot DNA and labels from array files: HDF5, MATLAB ``.mat`` (v7.3 and v5) and ``.npy``.

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

Reading: HDF5 and ``.npy`` files are read in chunks of consecutive records (h5py opened
in each DataLoader worker; ``.npy`` memory-mapped); nothing reads the whole file. scipy
cannot read part of a v5 ``.mat`` file, so those are loaded whole, once, in the process
that sets the module up, and forked DataLoader workers share that copy.

Shuffling is by chunk: the training sampler takes chunks in a seeded random order, a few
at a time, shuffles their records together and cuts them into batches; the order depends
only on the seed and the epoch. Each batch is read as one piece, and the sampler orders
the batches so that each DataLoader worker reads each chunk it serves once.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from zoo.data._errors import DataFileError, require_nonempty
from zoo.data.fasta import DnaDataModule
from zoo.dna import ALPHABET

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"
# h5py's per-file chunk cache: compressed files (MATLAB v7.3 compresses) decode each HDF5
# chunk once while a read of many records walks through it, not once per record.
HDF5_CACHE_BYTES = 64 << 20
INSTALL_HINT = "pip install 'sigmoid-zoo[arrays]'"


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
        raise ImportError(f"reading this file needs {module.split('.')[0]}: {INSTALL_HINT}") from err


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
    ``packed=True``: numpy arrays instead, bit-packed where the values are 0/1
    (:func:`pack_bits`: an eighth of the bytes of uint8, a 32nd of float32), else float32;
    :func:`unpack_batch` makes them float32 tensors.
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
        """Records [lo, hi) as stored (their dtype): sequences (n, 4, L) in ACGT order, labels (n, T)."""
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
            return _packed(x), _packed(y)
        # astype copies even float32 data: x may be a view of a memory map or the chunk cache.
        return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))


def _keep(batch: Any) -> Any:
    """A DataLoader collate_fn that leaves batches as they are (numpy arrays stay numpy)."""
    return batch


def pack_bits(a: np.ndarray) -> np.ndarray | None:
    """``a`` with its last axis packed eight values to a byte (``np.packbits``), or None
    unless every value is 0 or 1."""
    if a.size == 0 or a.dtype == np.bool_:
        binary = True
    elif a.dtype.kind in "iu":
        binary = a.max() <= 1 and (a.dtype.kind == "u" or a.min() >= 0)
    else:
        binary = bool(np.all((a == 0) | (a == 1)))
        a = a != 0
    return np.packbits(a, axis=-1) if binary else None


def _packed(a: np.ndarray) -> np.ndarray:
    """``a`` bit-packed (uint8) when its values allow, else a float32 copy."""
    bits = pack_bits(a)
    return bits if bits is not None else a.astype(np.float32)


def unpack_bits(bits: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """float32 values of :func:`pack_bits` output, ``size`` of them along the last axis;
    on the device the bits are on."""
    if isinstance(bits, torch.Tensor) and bits.device.type != "cpu":
        return _unpack_bits_torch(bits, size)
    # On the CPU numpy's table-driven unpacking, and its allocator: a fresh torch tensor of
    # this size pays a page fault per 4 KiB.
    array = bits.numpy() if isinstance(bits, torch.Tensor) else bits
    return torch.from_numpy(np.unpackbits(array, axis=-1, count=size).astype(np.float32))


def _unpack_bits_torch(bits: torch.Tensor, size: int) -> torch.Tensor:
    """:func:`unpack_bits` in torch operations, for batches already on an accelerator."""
    shifts = torch.arange(7, -1, -1, dtype=torch.uint8, device=bits.device)
    return ((bits.unsqueeze(-1) >> shifts) & 1).flatten(-2)[..., :size].float()


def unpack_batch(batch: tuple[Any, Any], seq_len: int, n_targets: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(x float32 (B, 4, seq_len), y float32 (B, n_targets)) of a batch from
    ``ArrayRecords(packed=True)`` (numpy arrays, or tensors made of them): uint8 parts are
    bit-packed, float32 ones final."""
    parts = []
    for a, size in zip(batch, (seq_len, n_targets)):
        if a.dtype in (np.uint8, torch.uint8):
            parts.append(unpack_bits(a, size))
        else:
            parts.append(torch.from_numpy(a) if isinstance(a, np.ndarray) else a)
    return parts[0], parts[1]


class ChunkBatchSampler(Sampler):
    """Batches of record indices for :class:`ArrayRecords`; an index array per batch.

    ``shuffle=False``: consecutive records in file order (``slice`` objects). ``shuffle=True``:
    chunks of ``chunk_size`` consecutive records go in a random order, ``shuffle_chunks`` at
    a time; the records of those chunks are shuffled together and cut into batches. The
    groups are dealt round-robin to ``n_streams`` streams whose batches alternate: a
    DataLoader with that many workers hands batch ``i`` to worker ``i % n_streams``, so each
    worker reads each of its chunks once. Each stream yields whole batches; what is left of
    them is batched at the end, so an epoch has ceil(N / batch_size) batches, at most one
    short. A batch's indices come sorted (a batch is a set; sorted, each chunk's records
    are copied as one run). The order is a function of ``seed`` and the epoch (:meth:`set_epoch`; each
    iteration also moves on one epoch, for loops that do not call it).
    """

    def __init__(
        self,
        n_records: int,
        batch_size: int,
        chunk_size: int = 1024,
        shuffle_chunks: int = 4,
        n_streams: int = 1,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        self.n_records, self.batch_size, self.chunk_size = n_records, batch_size, chunk_size
        self.shuffle_chunks, self.n_streams = shuffle_chunks, max(1, n_streams)
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order the next iteration gives (Lightning calls this each epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self.n_records // self.batch_size)

    def __iter__(self) -> Iterator[np.ndarray | slice]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        b, n = self.batch_size, self.n_records
        if not self.shuffle:
            yield from (slice(lo, min(lo + b, n)) for lo in range(0, n, b))
            return
        rng = np.random.default_rng([self.seed, epoch])
        n_chunks = -(-n // self.chunk_size)
        order = rng.permutation(n_chunks)
        groups = [order[i : i + self.shuffle_chunks] for i in range(0, n_chunks, self.shuffle_chunks)]
        streams: list[list[np.ndarray]] = []
        rest: list[np.ndarray] = []
        for s in range(self.n_streams):
            parts = []
            for group in groups[s :: self.n_streams]:
                records = np.concatenate(
                    [np.arange(c * self.chunk_size, min((c + 1) * self.chunk_size, n)) for c in group]
                )
                parts.append(rng.permutation(records))
            records = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
            whole = len(records) // b * b
            streams.append([np.sort(part) for part in np.split(records[:whole], whole // b)] if whole else [])
            rest.append(records[whole:])
        for i in range(max(len(stream) for stream in streams)):
            yield from (stream[i] for stream in streams if i < len(stream))
        left = np.concatenate(rest)
        yield from (np.sort(left[lo : lo + b]) for lo in range(0, len(left), b))


def array_dims(
    train: str | os.PathLike[str] | Mapping[str, Any], dir: str | None = None, **defaults: Any
) -> tuple[int, int]:
    """(sequence length, target count) of the training split, read from its files' shapes:
    the arguments are those of :class:`ArrayDataModule` (``train``, ``dir`` and the file
    options), so a config can size the model from the data instead of by hand."""
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


class ArrayDataModule(DnaDataModule):
    """One-hot sequences + labels from HDF5, MATLAB (v7.3, v5) or ``.npy`` files, one set per split.

    ``train``/``val``/``test``: a path, or a mapping with ``path`` and any of
    :data:`FILE_OPTIONS` for that split (the module's arguments of those names are the
    defaults); relative paths are taken from ``dir``. ``val``/``test`` may be None (no
    validation or test loop). ``seq_len``/``n_targets``, when given, are checked against
    the files. ``chunk_size`` records are read at a time; ``shuffle_chunks`` chunks are
    shuffled together (see :class:`ChunkBatchSampler`).

    ``float_on_device=True``: the loaders give numpy arrays, bit-packed where their values
    are 0/1 (:func:`pack_bits`: a 32nd of float32's bytes through the worker processes and
    onto the GPU); the module makes them tensors before Lightning moves them to the device
    and float32 once there (``on_before_batch_transfer`` / ``on_after_batch_transfer``), so
    the model still sees float32. Outside Lightning, :func:`unpack_batch` does the same.
    """

    def __init__(
        self,
        train: str | Mapping[str, Any],
        val: str | Mapping[str, Any] | None = None,
        test: str | Mapping[str, Any] | None = None,
        dir: str | None = None,  # named as the config key: data.dir=...
        seq_key: str = "x",
        label_key: str = "y",
        seq_batch_axis: int = 0,
        seq_alphabet_axis: int = 1,
        seq_length_axis: int | None = None,
        label_batch_axis: int = 0,
        alphabet: str = ALPHABET,
        seq_len: int | None = None,
        n_targets: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        chunk_size: int = 1024,
        shuffle_chunks: int = 4,
        seed: int = 0,
        rc_augment: bool = False,
        float_on_device: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers)
        for name, value in (("chunk_size", chunk_size), ("shuffle_chunks", shuffle_chunks)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"data.{name} must be a positive integer, got {value!r}")
        self.save_hyperparameters()
        defaults = dict(
            seq_key=seq_key,
            label_key=label_key,
            seq_batch_axis=seq_batch_axis,
            seq_alphabet_axis=seq_alphabet_axis,
            seq_length_axis=seq_length_axis,
            label_batch_axis=label_batch_axis,
            alphabet=alphabet,
        )
        given = {"train": train, "val": val, "test": test}
        self.sources = {
            split: array_source(split, value, **defaults).resolved(dir)
            for split, value in given.items()
            if value is not None
        }
        self.seq_len, self.n_targets = seq_len, n_targets

    def setup(self, stage: str | None = None) -> None:
        """Open every split's arrays and check their shapes against each other and the model."""
        if self.datasets:
            return
        hp = self.hparams
        expected = {
            "seq_len": ("data.seq_len", self.seq_len),
            "n_targets": ("data.n_targets", self.n_targets),
        }
        for split, source in self.sources.items():
            ds = ArrayRecords(
                source,
                chunk_size=hp.chunk_size,
                cache_chunks=2 * hp.shuffle_chunks,  # a batch can straddle two groups
                rc_augment=hp.rc_augment and split == "train",
                packed=hp.float_on_device,
            )
            for name, value, what in (
                ("seq_len", ds.seq_len, "sequences are {} long"),
                ("n_targets", ds.n_targets, "labels have {} targets"),
            ):
                origin, wanted = expected[name]
                if wanted is None:
                    expected[name] = (f"data.{split}", value)
                elif wanted != value:
                    raise DataFileError(
                        source.path, f"data.{split}: the {what.format(value)}, expected {wanted} as {origin}"
                    )
            self.datasets[split] = ds
        self.seq_len, self.n_targets = expected["seq_len"][1], expected["n_targets"][1]
        self.target_names = [f"target_{i}" for i in range(int(self.n_targets or 0))]

    def _loader(self, which: str, shuffle: bool = False) -> DataLoader | list:
        if which not in self.datasets:
            return []  # Lightning runs no loop over an empty list
        hp = self.hparams
        sampler = ChunkBatchSampler(
            len(self.datasets[which]),
            self.batch_size,
            chunk_size=hp.chunk_size,
            shuffle_chunks=hp.shuffle_chunks,
            n_streams=self.num_workers,
            shuffle=shuffle,
            seed=hp.seed,
        )
        # batch_size=None: each sampler item is a whole batch, read in one piece, no collation.
        # Packed batches stay numpy arrays: pickled through the worker's pipe, a few hundred kB
        # pass far quicker than tensors, which each get a shared-memory file.
        return DataLoader(
            self.datasets[which],
            sampler=sampler,
            batch_size=None,
            collate_fn=_keep if hp.float_on_device else None,
            num_workers=self.num_workers,
            persistent_workers=self._persistent_workers(which),
        )

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Packed batches (numpy arrays, cheap to pass between processes) as tensors, without
        copying, so that Lightning moves them to the device."""
        if self.hparams.float_on_device:
            return tuple(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in batch)
        return batch

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """float32 sequences and labels for the model (already so unless ``float_on_device``)."""
        if self.hparams.float_on_device:
            return unpack_batch(batch, int(self.seq_len), int(self.n_targets))  # type: ignore[arg-type]
        return batch
