"""The Lightning data module of array files: one :class:`~zoo.data.arrays.records.ArrayRecords`
per split, batched by :class:`~zoo.data.arrays.sampler.ChunkBatchSampler`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from zoo.data._errors import DataFileError
from zoo.data.arrays.packing import unpack_batch
from zoo.data.arrays.records import ArrayRecords, array_source
from zoo.data.arrays.sampler import ChunkBatchSampler
from zoo.data.fasta import DnaDataModule
from zoo.dna import ALPHABET


def _keep(batch: Any) -> Any:
    """A DataLoader collate_fn that leaves batches as they are (numpy arrays stay numpy)."""
    return batch


class ArrayDataModule(DnaDataModule):
    """One-hot sequences + labels from HDF5, MATLAB (v7.3, v5) or ``.npy`` files, one set per split.

    With ``float_on_device=True`` the loaders give numpy arrays, bit-packed where their values
    are 0/1 (:func:`~zoo.data.arrays.packing.pack_bits`: a 32nd of float32's bytes through the
    worker processes and onto the GPU); the module makes them tensors before Lightning moves
    them to the device and float32 once there (``on_before_batch_transfer`` /
    ``on_after_batch_transfer``), so the model still sees float32. Outside Lightning,
    :func:`~zoo.data.arrays.packing.unpack_batch` does the same.

    Args:
        train: the training split: a path, or a mapping with ``path`` and any of
            :data:`FILE_OPTIONS` for that split (the module's arguments of those names are the
            defaults).
        val: the validation split, as ``train``; None: no validation loop.
        test: the test split, as ``train``; None: no test loop.
        dir: the folder relative paths are taken from.
        seq_key: the sequences' dataset or variable name in the files.
        label_key: the labels' dataset or variable name in the files.
        seq_batch_axis: the records' axis of the sequence array.
        seq_alphabet_axis: the channels' axis of the sequence array.
        seq_length_axis: the positions' axis of the sequence array (None: the one left over).
        label_batch_axis: the records' axis of the label array.
        alphabet: the files' channel order.
        seq_len: checked against the files when given.
        n_targets: checked against the files when given.
        batch_size: records per batch.
        num_workers: DataLoader worker processes.
        chunk_size: records read at a time.
        shuffle_chunks: chunks shuffled together (see :class:`ChunkBatchSampler`).
        seed: the seed of the shuffling.
        rc_augment: reverse-complement each training record with probability 0.5.
        float_on_device: make float32 on the device (see above).
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
        """Open every split's arrays and check their shapes against each other and the model.

        Args:
            stage: Lightning's stage (every split is opened whatever it is).
        """
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
        copying, so that Lightning moves them to the device.

        Args:
            batch: the batch from the loader.
            dataloader_idx: which loader it came from.
        """
        if self.hparams.float_on_device:
            return tuple(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in batch)
        return batch

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """float32 sequences and labels for the model (already so unless ``float_on_device``).

        Args:
            batch: the batch on the device.
            dataloader_idx: which loader it came from.
        """
        if self.hparams.float_on_device:
            return unpack_batch(batch, int(self.seq_len), int(self.n_targets))  # type: ignore[arg-type]
        return batch
