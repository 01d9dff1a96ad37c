"""Benchmark: zoo-predict's table writers alone, in rows per second, at 919 score columns.

Writes the same rows (variant-table leading columns chrom, pos, id, ref, alt, status and
919 float32 scores in [0, 1), a few rows NaN as unscored alleles are) through:

- ``row TSV``: the row-by-row writer the columnar TSV writer replaced (one ``%``-format of
  the whole row per row), kept here as the reference;
- ``TSV``, ``TSV.gz``, ``Parquet``, ``HDF5``: zoo.predict.outputs.writers.open_writer's writers
  (``TSV.gz``: one gzip member a batch, at level 1);
- ``gz stream``: the same text as one gzip stream at level 1 (how a ``.tsv.gz`` was written
  before it was one member a batch), kept here as the reference for ``TSV.gz``;
- ``arrow CSV``: pyarrow's compiled CSV writer, tab-separated, for comparison (zoo-predict does
  not use it: it writes a float as the shortest text that reads back, not as ``%.6g``);

in batches of 256 rows through ``write`` (as run_job calls them), in alternating rounds; each
writer's best round counts. Rates are given per second of wall-clock time and per second of
the process's CPU time (all threads; steadier on a machine shared with other work). Checks
that the TSV is byte for byte the row TSV's and that Parquet and HDF5 read back equal to
the scores.

Each round writes to a new file; the old one is deleted first and the files written before
are synced to the disk, outside the timing. A writer's own file may still be written back
while it is timed: on a 2-core machine that takes CPU time and makes the figures vary from
run to run; ``--dir /dev/shm`` keeps the disk out of them.

Usage: python scripts/bench_writers.py [--rows 50000] [--columns 919] [--rounds 2] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zoo.predict.outputs.writers import TableWriter, open_writer  # noqa: E402

META = ["chrom", "pos", "id", "ref", "alt", "status"]


class RowTSVWriter(TableWriter):
    """The TSV writer before the columnar one: a ``%`` format string applied to each row."""

    def _open(self, tmp: str) -> Any:
        f = open(tmp, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 (closed in _close)
        f.write("\t".join(self.meta_columns + self.score_columns) + "\n")
        self._row_format = (
            "\t".join(["%s"] * len(self.meta_columns) + ["%.6g"] * len(self.score_columns)) + "\n"
        )
        return f

    def _write(self, meta_rows: Any, scores: np.ndarray) -> None:
        fmt = self._row_format
        self._sink.write("".join(fmt % (*meta, *row) for meta, row in zip(meta_rows, scores.tolist())))

    def _close(self, ok: bool) -> None:
        self._sink.close()


class StreamGzipWriter(TableWriter):
    """The columnar TSV text compressed as one gzip stream (level 1, no name or time)."""

    def _open(self, tmp: str) -> Any:
        import gzip

        from zoo.predict.outputs.textformat import text_column, tsv_blocks

        self._blocks = lambda columns, scores: tsv_blocks([text_column(c) for c in columns], scores)
        self._raw = open(tmp, "wb")  # noqa: SIM115 (closed in _close)
        f = gzip.GzipFile(filename="", mode="wb", compresslevel=1, fileobj=self._raw, mtime=0)
        f.write(("\t".join(self.meta_columns + self.score_columns) + "\n").encode())
        return f

    def _write(self, meta_rows: Any, scores: np.ndarray) -> None:
        from zoo.predict.outputs.columnar import rows_to_columns

        for block in self._blocks(rows_to_columns(meta_rows, len(self.meta_columns)), scores):
            self._sink.write(block)

    def _close(self, ok: bool) -> None:
        self._sink.close()
        self._raw.close()


class ArrowCSVWriter(TableWriter):
    """pyarrow.csv.CSVWriter, tab-separated, fed the same row batches as the other writers."""

    def _open(self, tmp: str) -> Any:
        self._csv: Any = None
        return open(tmp, "wb")  # noqa: SIM115 (closed in _close)

    def _write(self, meta_rows: Any, scores: np.ndarray) -> None:
        import pyarrow as pa
        import pyarrow.csv as pc

        meta = [list(column) for column in zip(*meta_rows)]
        arrays = [pa.array(c) for c in meta] + [pa.array(scores[:, j]) for j in range(scores.shape[1])]
        table = pa.Table.from_arrays(arrays, names=self.meta_columns + self.score_columns)
        if self._csv is None:
            options = pc.WriteOptions(delimiter="\t", quoting_style="none")
            self._csv = pc.CSVWriter(self._sink, table.schema, write_options=options)
        self._csv.write_table(table)

    def _close(self, ok: bool) -> None:
        if self._csv is not None:
            self._csv.close()
        self._sink.close()


def make_rows(n: int, k: int) -> tuple[list[tuple[Any, ...]], np.ndarray]:
    """``n`` variant rows and their (n, k) scores; one row in 50 unscored (NaN)."""
    rng = np.random.default_rng(0)
    scores = rng.random((n, k), dtype=np.float32)
    unscored = np.arange(n) % 50 == 7
    scores[unscored] = np.nan
    bases = "ACGT"
    meta = [
        (f"chr{1 + i % 22}", 10_000 + 37 * i, f"rs{i}", bases[i % 4], bases[(i + 1) % 4], "ok")
        for i in range(n)
    ]
    for i in np.flatnonzero(unscored):
        meta[i] = (*meta[i][:5], "ref_mismatch")
    return meta, scores


def write_with(
    writer: TableWriter, meta: list[tuple[Any, ...]], scores: np.ndarray, batch: int
) -> tuple[float, float]:
    """(wall-clock, CPU) seconds to write every row through ``writer`` in batches."""
    wall, cpu = time.perf_counter(), time.process_time()
    with writer:
        for i in range(0, len(scores), batch):
            writer.write(meta[i : i + batch], scores[i : i + batch])
    return time.perf_counter() - wall, time.process_time() - cpu


def check(folder: Path, scores: np.ndarray, columns: list[str]) -> dict[str, bool]:
    """Whether each file holds the scores (the TSV: the row TSV's bytes)."""
    import h5py
    import pyarrow.csv as pc
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "out.parquet")
    parquet = np.stack([table[c].to_numpy() for c in columns], axis=1)
    with h5py.File(folder / "out.h5") as f:
        hdf5 = f["data"][:]
    text = pc.read_csv(folder / "arrow.tsv", parse_options=pc.ParseOptions(delimiter="\t"))
    arrow = np.stack([text[c].to_numpy().astype(np.float32) for c in columns], axis=1)
    import gzip

    row_tsv = (folder / "row.tsv").read_bytes()
    return {
        "TSV": (folder / "out.tsv").read_bytes() == row_tsv,
        "TSV.gz": gzip.decompress((folder / "out.tsv.gz").read_bytes()) == row_tsv,
        "gz stream": gzip.decompress((folder / "stream.tsv.gz").read_bytes()) == row_tsv,
        "Parquet": np.array_equal(parquet, scores, equal_nan=True),
        "HDF5": np.array_equal(hdf5, scores, equal_nan=True),
        "arrow CSV": np.array_equal(arrow, scores, equal_nan=True),
    }


def main() -> None:
    """Run the rounds and print rows/s per writer."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--columns", type=int, default=919)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument(
        "--dir",
        default=None,
        help="folder to write in (default: the system's temporary folder); /dev/shm keeps the "
        "disk and the kernel's writeback out of the figures",
    )
    args = parser.parse_args()

    meta, scores = make_rows(args.rows, args.columns)
    columns = [f"target_{j}" for j in range(args.columns)]
    files = {
        "row TSV": "row.tsv",
        "TSV": "out.tsv",
        "TSV.gz": "out.tsv.gz",
        "gz stream": "stream.tsv.gz",
        "Parquet": "out.parquet",
        "HDF5": "out.h5",
        "arrow CSV": "arrow.tsv",
    }
    # the writers zoo-predict does not use
    reference = {"row TSV": RowTSVWriter, "gz stream": StreamGzipWriter, "arrow CSV": ArrowCSVWriter}
    best: dict[str, list[float]] = {name: [0.0, 0.0] for name in files}  # rows/s: wall, CPU
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        for name, file in files.items():  # imports and first-use tables outside the timing
            with reference.get(name, open_writer)(folder / file, META, columns) as w:
                w.write(meta[:2], scores[:2])
        for _ in range(args.rounds):
            for name, file in files.items():
                path = folder / file
                path.unlink(missing_ok=True)  # replacing a file costs the file system, not the writer
                os.sync()  # the other writers' files go to the disk now, not while this one is timed
                writer = reference.get(name, open_writer)(path, META, columns)
                seconds = write_with(writer, meta, scores, args.batch)
                best[name] = [max(b, args.rows / s) for b, s in zip(best[name], seconds)]
        sizes = {name: (folder / file).stat().st_size / 2**20 for name, file in files.items()}
        same = check(folder, scores, columns)
    print(
        f"{args.rows} rows x {args.columns} float32 scores + {len(META)} leading columns, "
        f"batches of {args.batch}"
    )
    print(
        f"  {'writer':9s} {'rows/s (wall)':>14s} {'x row TSV':>9s} {'rows/CPU-s':>11s} {'x row TSV':>9s} "
        f"{'MiB':>7s}"
    )
    for name, (wall, cpu) in best.items():
        verdict = "" if name not in same else ("  same values" if same[name] else "  DIFFERENT")
        if name in ("TSV", "TSV.gz", "gz stream"):
            verdict = "  text byte-identical to row TSV" if same[name] else "  DIFFERENT BYTES"
        ratios = wall / best["row TSV"][0], cpu / best["row TSV"][1]
        print(
            f"  {name:9s} {wall:14,.0f} {ratios[0]:8.1f}x {cpu:11,.0f} {ratios[1]:8.1f}x "
            f"{sizes[name]:7.1f}{verdict}"
        )


if __name__ == "__main__":
    main()
