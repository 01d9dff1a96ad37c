"""One-hot DNA and labels from array files: HDF5, MATLAB ``.mat`` (v7.3 and v5) and ``.npy``.

Each split names its file(s), the keys of its two arrays and how their axes are laid out
(:mod:`~zoo.data.arrays.records` says how to number them for HDF5, MATLAB and ``.npy``);
batches come out as the other data modules give them: x float32 (B, 4, L) in A, C, G, T
order, y float32 (B, T).

Reading: HDF5 and ``.npy`` files are read in chunks of consecutive records (h5py opened
in each DataLoader worker; ``.npy`` memory-mapped); nothing reads the whole file. scipy
cannot read part of a v5 ``.mat`` file, so those are loaded whole, once, in the process
that sets the module up, and forked DataLoader workers share that copy.

Shuffling is by chunk: the training sampler takes chunks in a seeded random order, a few
at a time, shuffles their records together and cuts them into batches; the order depends
only on the seed and the epoch. Each batch is read as one piece, and the sampler orders
the batches so that each DataLoader worker reads each chunk it serves once.

The parts: :mod:`~zoo.data.arrays.files` (format sniffing, per-process handles),
:mod:`~zoo.data.arrays.records` (a split's files and axes, the dataset),
:mod:`~zoo.data.arrays.packing` (0/1 values eight to a byte), :mod:`~zoo.data.arrays.sampler`
(chunk-wise shuffling) and :mod:`~zoo.data.arrays.datamodule` (the Lightning data module).
"""

from zoo.data.arrays.datamodule import ArrayDataModule
from zoo.data.arrays.files import ArrayFile, array_format
from zoo.data.arrays.packing import pack_bits, unpack_batch, unpack_bits
from zoo.data.arrays.records import FILE_OPTIONS, ArrayRecords, ArraySource, array_dims, array_source
from zoo.data.arrays.sampler import ChunkBatchSampler

__all__ = [
    "FILE_OPTIONS",
    "ArrayDataModule",
    "ArrayFile",
    "ArrayRecords",
    "ArraySource",
    "ChunkBatchSampler",
    "array_dims",
    "array_format",
    "array_source",
    "pack_bits",
    "unpack_batch",
    "unpack_bits",
]
