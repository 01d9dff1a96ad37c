"""Benchmark training-data feeding: sequences/s through the DataLoader, and label-table memory.

Three measurements, each on data the script writes to a temporary folder first:

* arrays: an HDF5 file of one-hot 1000-bp records (uint8) + 919 labels, read by
  zoo.data.ArrayDataModule's training loader (chunk shuffling, worker processes);
  ``--layout matlab`` stores them as h5py shows a MATLAB v7.3 file (length, 4, records).
* fasta: FASTA + labels TSV read by zoo.data.DnaFastaDataModule (one_hot per batch).
* labels: peak memory and time to read a labels TSV (default 1 M rows x 919 targets) with
  zoo.data.read_labels, in a fresh subprocess; ``--line-reader-rows`` also times the
  line-by-line reader on a smaller table for comparison.

The files are written once and then sit in the page cache, so the rates are what the CPU
allows, not the disk. Usage:

    python scripts/bench_feeding.py                       # all three, default sizes
    python scripts/bench_feeding.py --only arrays --records 200000 --workers 2
    python scripts/bench_feeding.py --only labels --label-rows 1000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_hdf5(path: Path, n: int, seq_len: int, n_targets: int, layout: str, seed: int = 0) -> None:
    """Random one-hot records (uint8) and 0/1 labels, written in blocks."""
    import h5py

    rng = np.random.default_rng(seed)
    eye = np.eye(4, dtype=np.uint8)
    x_shape = (n, 4, seq_len) if layout == "records" else (seq_len, 4, n)
    y_shape = (n, n_targets) if layout == "records" else (n_targets, n)
    with h5py.File(path, "w") as f:
        x = f.create_dataset("x", shape=x_shape, dtype=np.uint8)
        y = f.create_dataset("y", shape=y_shape, dtype=np.uint8)
        for lo in range(0, n, 8192):
            hi = min(lo + 8192, n)
            block = eye[rng.integers(0, 4, (hi - lo, seq_len))].transpose(0, 2, 1)  # (b, 4, L)
            labels = (rng.random((hi - lo, n_targets)) < 0.05).astype(np.uint8)
            if layout == "records":
                x[lo:hi], y[lo:hi] = block, labels
            else:
                x[:, :, lo:hi], y[:, lo:hi] = block.transpose(2, 1, 0), labels.T


def feed_rate(loader, epochs: int, to_model=lambda batch: batch) -> tuple[float, int]:
    """Best sequences/s over ``epochs`` passes, counted once ``to_model`` has made each batch
    what the model receives (float32), and the records per pass. The first batch of each
    pass, which waits for worker start-up and the first reads, is not timed."""
    best, records = 0.0, 0
    for _ in range(epochs):
        it = iter(loader)
        x, _ = to_model(next(it))
        first, count, start = len(x), 0, time.perf_counter()
        for batch in it:
            x, y = to_model(batch)
            assert x.dtype == y.dtype == torch.float32
            count += len(x)
        best = max(best, count / (time.perf_counter() - start))
        records = first + count
    return best, records


def model_batch(dm, batch):
    """A batch as Lightning hands it to the model, on the CPU: the data module's hooks."""
    return dm.on_after_batch_transfer(dm.on_before_batch_transfer(batch, 0), 0)


def bench_arrays(tmp: Path, args: argparse.Namespace) -> None:
    """Training-loader throughput from an HDF5 file."""
    from zoo.data import ArrayDataModule

    path = tmp / f"records_{args.layout}.h5"
    start = time.perf_counter()
    write_hdf5(path, args.records, args.seq_len, args.targets, args.layout)
    print(f"arrays: wrote {args.records:,} x {args.seq_len} bp ({args.layout} layout) in "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    axes = {} if args.layout == "records" else {"seq_batch_axis": 2, "label_batch_axis": 1}
    for workers in sorted({0, args.workers}):
        for on_device in (False, True):
            dm = ArrayDataModule(
                train={"path": str(path), **axes},
                batch_size=args.batch_size,
                num_workers=workers,
                chunk_size=args.chunk_size,
                float_on_device=on_device,
            )
            dm.setup("fit")
            to_model = partial(model_batch, dm)
            rate, n = feed_rate(dm.train_dataloader(), args.epochs, to_model)
            how = "bit-packed batches, float32 in the main process" if on_device else "float32 batches"
            print(f"arrays: {rate:,.0f} seq/s with {workers} worker(s), {how}, batch {args.batch_size}, "
                  f"chunk {args.chunk_size} ({n:,} records per epoch)")  # fmt: skip


def bench_fasta(tmp: Path, args: argparse.Namespace) -> None:
    """Training-loader throughput from FASTA + TSV."""
    from zoo.data import DnaFastaDataModule, make_synthetic_dna

    fasta, labels = make_synthetic_dna(
        tmp / "s.fa", tmp / "l.tsv", n_seqs=args.fasta_records, seq_len=args.seq_len, n_targets=8, seed=0
    )
    for workers in sorted({0, args.workers}):
        dm = DnaFastaDataModule(str(fasta), str(labels), batch_size=args.batch_size, num_workers=workers,
                                val_fraction=0.0, test_fraction=0.0)  # fmt: skip
        dm.setup("fit")
        rate, n = feed_rate(dm.train_dataloader(), args.epochs)
        print(f"fasta: {rate:,.0f} seq/s with {workers} worker(s), batch {args.batch_size} ({n:,} records)")


def write_label_table(path: Path, rows: int, n_targets: int, seed: int = 0) -> None:
    """A labels TSV of ``rows`` x ``n_targets`` 0/1 values (5% ones), written in blocks."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(("name\t" + "\t".join(f"t{i}" for i in range(n_targets)) + "\n").encode())
        for lo in range(0, rows, 10000):
            n = min(10000, rows - lo)
            body = np.full((n, 2 * n_targets), ord("\t"), dtype=np.uint8)
            body[:, 0::2] = (rng.random((n, n_targets)) < 0.05) + ord("0")
            body[:, -1] = ord("\n")
            f.write(
                b"".join(f"r{i:08d}\t".encode() + row.tobytes() for i, row in zip(range(lo, lo + n), body))
            )


MEASURE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
from zoo.data import labels as L
def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
import pyarrow.csv, numpy  # imports are not the table's memory
before = rss_kib()
start = time.perf_counter()
if sys.argv[2] == "lines":
    names, targets, labels, lines = L._read_labels_by_line(sys.argv[1], L.read_label_header(sys.argv[1]))
else:
    names, targets, labels, lines = L.read_labels(sys.argv[1])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_delta_mib": (peak - before) / 1024, "shape": list(labels.shape),
                  "array_mib": labels.nbytes / 2**20}))
"""


def measure_labels(path: Path, reader: str) -> dict:
    """Read ``path`` in a fresh interpreter; its peak RSS over the RSS before reading."""
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path), reader, root],
                         check=True, capture_output=True, text=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_labels(tmp: Path, args: argparse.Namespace) -> None:
    """Peak memory and time of read_labels on a large table (and the line reader on a smaller one)."""
    sizes = [(args.label_rows, "arrow")]
    if args.line_reader_rows:
        sizes += [(args.line_reader_rows, "arrow"), (args.line_reader_rows, "lines")]
    for rows, reader in sizes:
        path = tmp / f"labels_{rows}.tsv"
        if not path.exists():
            write_label_table(path, rows, args.targets)
        r = measure_labels(path, reader)
        print(f"labels ({'read_labels' if reader == 'arrow' else 'line reader'}): {rows:,} x {args.targets} "
              f"({path.stat().st_size / 2**30:.2f} GiB TSV) in {r['seconds']:.1f} s, peak RSS "
              f"+{r['peak_delta_mib']:,.0f} MiB (the uint8 array: {r['array_mib']:,.0f} MiB)")  # fmt: skip


def main() -> None:
    """Run the chosen measurements and print one line per result."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["arrays", "fasta", "labels"], action="append")
    p.add_argument("--records", type=int, default=200_000, help="HDF5 records")
    p.add_argument("--layout", choices=["records", "matlab"], default="records")
    p.add_argument("--fasta-records", type=int, default=20_000)
    p.add_argument("--seq-len", type=int, default=1000)
    p.add_argument("--targets", type=int, default=919)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--chunk-size", type=int, default=1024)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=2, help="passes per measurement; the best counts")
    p.add_argument("--label-rows", type=int, default=1_000_000)
    p.add_argument("--line-reader-rows", type=int, default=0, help="also compare with the line reader")
    p.add_argument("--dir", help="folder for the generated files (default: a temporary one, removed)")
    args = p.parse_args()
    torch.set_num_threads(1)
    chosen = args.only or ["arrays", "fasta", "labels"]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for name in chosen:
            {"arrays": bench_arrays, "fasta": bench_fasta, "labels": bench_labels}[name](Path(tmp), args)


if __name__ == "__main__":
    main()
