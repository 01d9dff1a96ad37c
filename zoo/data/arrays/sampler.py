"""Batches of record indices that shuffle chunk by chunk, so that each read is of consecutive records.

Shuffling is by chunk: the training sampler takes chunks in a seeded random order, a few
at a time, shuffles their records together and cuts them into batches; the order depends
only on the seed and the epoch. Each batch is read as one piece, and the sampler orders
the batches so that each DataLoader worker reads each chunk it serves once.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


class ChunkBatchSampler(Sampler):
    """Batches of record indices for :class:`ArrayRecords`; an index array per batch.

    Unshuffled, the batches are consecutive records in file order (``slice`` objects).
    Shuffled, chunks of ``chunk_size`` consecutive records go in a random order,
    ``shuffle_chunks`` at a time; the records of those chunks are shuffled together and cut into batches. The
    groups are dealt round-robin to ``n_streams`` streams whose batches alternate: a
    DataLoader with that many workers hands batch ``i`` to worker ``i % n_streams``, so each
    worker reads each of its chunks once. Each stream yields whole batches; what is left of
    them is batched at the end, so an epoch has ceil(N / batch_size) batches, at most one
    short. A batch's indices come sorted (a batch is a set; sorted, each chunk's records
    are copied as one run). The order is a function of ``seed`` and the epoch (:meth:`set_epoch`; each
    iteration also moves on one epoch, for loops that do not call it).

    Args:
        n_records: the records of the split.
        batch_size: records per batch.
        chunk_size: consecutive records read together.
        shuffle_chunks: chunks whose records are shuffled together.
        n_streams: the DataLoader's workers.
        shuffle: shuffle (else consecutive records in file order).
        seed: the seed of the order.
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
        """The epoch whose order the next iteration gives (Lightning calls this each epoch).

        Args:
            epoch: the epoch.
        """
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
