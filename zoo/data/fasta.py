"""DNA from FASTA files: equal-length records + a labels TSV, read by random access (pyfaidx)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pyfaidx
import torch
from torch.utils.data import DataLoader, Dataset

from zoo._checks import require_number
from zoo._faidx import fresh_index
from zoo._io.reading import CR_ONLY_ADVICE, cr_only_line_ends
from zoo.data._errors import (
    DataFileError,
    check_fractions,
    check_loader_args,
    fasta_header_line,
    require_nonempty,
)
from zoo.data.labels import read_labels
from zoo.dna import one_hot, reverse_complement
from zoo.targets import regex_search


def open_fasta(path: str | os.PathLike[str]) -> pyfaidx.Fasta:
    """An indexed FASTA (pyfaidx builds the .fai next to it on first use; one that no longer
    describes the FASTA is rebuilt)."""
    path = require_nonempty(path, "FASTA file")
    if cr_only_line_ends(path):  # pyfaidx would read one record holding the whole file
        raise DataFileError(path, CR_ONLY_ADVICE)
    stale = fresh_index(path)  # pyfaidx trusts a .fai that is not older than the FASTA
    if stale is not None:
        raise DataFileError(path, stale)
    try:
        return pyfaidx.Fasta(os.fspath(path), as_raw=True, sequence_always_upper=True)
    except Exception as err:  # pyfaidx raises several types for malformed files
        repeated = re.fullmatch(r'Duplicate key "(.*)"', str(err))
        if repeated:  # said as the genome readers say it (htslib would keep the first record)
            raise DataFileError(
                path, f"the record name {repeated.group(1)!r} is repeated; each record needs its own name"
            ) from None
        raise DataFileError(path, f"not a readable FASTA file ({err})") from err


def fasta_lengths(path: str | os.PathLike[str]) -> dict[str, int]:
    """Record name -> length, from the FASTA index (no sequence is read)."""
    fasta = open_fasta(path)
    try:
        lengths = {name: record.rlen for name, record in fasta.faidx.index.items()}
    finally:
        fasta.close()
    if not lengths:
        raise DataFileError(path, "the FASTA file has no records")
    return lengths


def check_lengths(path: str | os.PathLike[str], lengths: dict[str, int], seq_len: int | None = None) -> int:
    """The common length of the records; a record of another length names its line."""
    expected = seq_len if seq_len is not None else next(iter(lengths.values()))
    for name, length in lengths.items():
        if length != expected:
            line = fasta_header_line(path, name)
            raise DataFileError(
                path, f"record {name!r} has {length} bases, expected {expected} like the others", line=line
            )
    return expected


def fasta_seq_len(path: str | os.PathLike[str]) -> int:
    """The length shared by every record of a FASTA file (used to size the model).

    Args:
        path: the FASTA file.
    """
    return check_lengths(path, fasta_lengths(path))


class EncodedDnaDataset(Dataset):
    """(one-hot (4, L), labels (T,)) items of sequences a subclass fetches from one FASTA file
    in :meth:`sequence`.

    DataLoader fetches a whole batch through :meth:`__getitems__`: one ``one_hot`` call per
    batch instead of one per sequence (8192 x 1000-bp records, batch 256, one process on this
    project's CPU: 55k items/s against 32k per item; 43k against 23k with rc_augment).
    """

    def __init__(
        self, fasta: str | os.PathLike[str], labels: np.ndarray, rc_augment: bool, n_value: float
    ) -> None:
        self.fasta_path, self.labels = os.fspath(fasta), labels
        self.rc_augment, self.n_value = rc_augment, n_value
        self._fasta: pyfaidx.Fasta | None = None

    def __getstate__(self) -> dict[str, Any]:
        # File handles do not cross process boundaries; each worker opens its own.
        return {**self.__dict__, "_fasta": None}

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def fasta(self) -> pyfaidx.Fasta:
        """The FASTA file, opened at first use (in each DataLoader worker)."""
        if self._fasta is None:
            self._fasta = open_fasta(self.fasta_path)
        return self._fasta

    def sequence(self, i: int) -> str:
        """The bases of item ``i``; subclasses implement."""
        raise NotImplementedError

    def bad_sequence(self, i: int, err: ValueError) -> Exception:
        """The error for item ``i``'s invalid symbol (``err`` from one_hot)."""
        return err

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.__getitems__([i])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The items at ``indices``, encoded together."""
        seqs = [self.sequence(i) for i in indices]
        try:
            x = one_hot(seqs, n_value=self.n_value)
        except ValueError:
            # The batch's error counts positions across the batch: find the item, with its own.
            for i, seq in zip(indices, seqs):
                try:
                    one_hot(seq)
                except ValueError as err:
                    raise self.bad_sequence(i, err) from None
            raise
        if self.rc_augment:
            flip = torch.rand(len(x)) < 0.5
            x[flip] = reverse_complement(x[flip])
        labels = torch.from_numpy(self.labels[np.asarray(indices)].astype(np.float32))
        return list(zip(x.unbind(0), labels.unbind(0)))


class FastaLabelDataset(EncodedDnaDataset):
    """Items of named FASTA records; sequences are fetched from the FASTA on demand."""

    def __init__(
        self,
        fasta: str | os.PathLike[str],
        names: Sequence[str],
        labels: np.ndarray,
        rc_augment: bool = False,
        n_value: float = 0.25,
    ) -> None:
        super().__init__(fasta, labels, rc_augment, n_value)
        self.names = list(names)

    def sequence(self, i: int) -> str:
        """Record ``names[i]``'s bases."""
        return str(self.fasta[self.names[i]][:])

    def bad_sequence(self, i: int, err: ValueError) -> Exception:
        """Name the file, record and header line, not just a position."""
        name = self.names[i]
        line = fasta_header_line(self.fasta_path, name)
        return DataFileError(self.fasta_path, f"record {name!r}: {err}", line)


def split_indices(
    names: Sequence[str],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    val_pattern: str | None = None,
    test_pattern: str | None = None,
) -> dict[str, np.ndarray]:
    """Train/val/test row indices: by regex on the names where a pattern is given, else by
    a seeded random fraction of the rows not yet assigned."""
    n = len(names)
    split = np.full(n, "train", dtype=object)
    rng = np.random.default_rng(seed)
    for which, pattern, fraction in (
        ("test", test_pattern, test_fraction),
        ("val", val_pattern, val_fraction),
    ):
        free = np.flatnonzero(split == "train")
        if pattern is not None:
            # linear-time matching: a backtracking regex could take hours over many names
            found = regex_search([names[i] for i in free], pattern, f"data.{which}_pattern {pattern!r}")
            chosen = [free[j] for j in found]
        else:
            chosen = rng.permutation(free)[: int(round(fraction * n))]
        split[chosen] = which
    return {which: np.flatnonzero(split == which) for which in ("train", "val", "test")}


class DnaDataModule(L.LightningDataModule):
    """Loaders over train/val/test datasets that a subclass builds in :meth:`setup`."""

    datasets: dict[str, Dataset]
    target_names: list[str]

    def __init__(self, batch_size: int = 64, num_workers: int = 0) -> None:
        super().__init__()
        check_loader_args(batch_size, num_workers)
        self.batch_size, self.num_workers = batch_size, num_workers
        self.datasets = {}

    def _persistent_workers(self, which: str) -> bool:
        """Whether ``which``'s loader keeps its worker processes between epochs: not where they
        draw random numbers (rc_augment). Those start afresh each epoch, seeded from the main
        process's generator, which checkpoints keep: a resumed run then draws the same."""
        return self.num_workers > 0 and not getattr(self.datasets[which], "rc_augment", False)

    def _loader(self, which: str, shuffle: bool = False) -> DataLoader:
        return DataLoader(
            self.datasets[which],
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self._persistent_workers(which),
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches."""
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """Validation batches in file order."""
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        """Test batches in file order."""
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        """The test split, for ``trainer.predict``."""
        return self._loader("test")


class DnaFastaDataModule(DnaDataModule):
    """A FASTA of equal-length sequences plus a labels TSV (``name`` + one 0/1 column per target).

    ``seq_len`` and ``n_targets``, when given (Hydra fills them from the files), are checked
    against the files. Splits: seeded fractions, or regexes on record names.

    Args:
        fasta: the FASTA file (indexed).
        labels: the labels TSV.
        seq_len: checked against the files when given.
        n_targets: checked against the files when given.
        batch_size: records per batch.
        num_workers: DataLoader worker processes.
        val_fraction: the seeded fraction of records for validation.
        test_fraction: the seeded fraction of records for testing.
        val_pattern: a regex on record names selecting the validation records, instead of the fraction.
        test_pattern: a regex on record names selecting the test records, instead of the fraction.
        seed: the seed of the split.
        rc_augment: reverse-complement each training record with probability 0.5.
        n_value: the one-hot value of N.
    """

    def __init__(
        self,
        fasta: str,
        labels: str,
        seq_len: int | None = None,
        n_targets: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        val_pattern: str | None = None,
        test_pattern: str | None = None,
        seed: int = 0,
        rc_augment: bool = False,
        n_value: float = 0.25,
    ) -> None:
        super().__init__(batch_size, num_workers)
        check_fractions(val_fraction=val_fraction, test_fraction=test_fraction)
        require_number(n_value, "data.n_value")  # NaN would make every N a NaN input
        self.save_hyperparameters()
        self.fasta, self.labels = fasta, labels
        self.seq_len, self.n_targets = seq_len, n_targets

    def setup(self, stage: str | None = None) -> None:
        """Read and check the labels and the FASTA index, then split.

        Args:
            stage: Lightning's stage (every split is made whatever it is).
        """
        if self.datasets:
            return
        hp = self.hparams
        names, targets, labels, lines = read_labels(self.labels)
        if self.n_targets is not None and len(targets) != self.n_targets:
            raise DataFileError(
                self.labels, f"has {len(targets)} targets, the model expects {self.n_targets}"
            )
        lengths = fasta_lengths(self.fasta)
        for name, line in zip(names, lines):
            if name not in lengths:
                raise DataFileError(
                    self.labels, f"record {name!r} is not in the FASTA file {self.fasta!r}", line=line
                )
        self.seq_len = check_lengths(self.fasta, {n: lengths[n] for n in names}, self.seq_len)
        self.target_names = targets
        idx = split_indices(
            names, hp.val_fraction, hp.test_fraction, hp.seed, hp.val_pattern, hp.test_pattern
        )
        for which, rows in idx.items():
            self.datasets[which] = FastaLabelDataset(
                Path(self.fasta),
                [names[i] for i in rows],
                labels[rows],
                rc_augment=hp.rc_augment and which == "train",
                n_value=hp.n_value,
            )
