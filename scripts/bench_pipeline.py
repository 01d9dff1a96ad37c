"""zoo-predict end to end against the model alone, on one device, in one run.

Answers: does zoo-predict (FASTA in, a 919-column table out) keep the device busy, or do
reading, encoding and writing set its pace? It times, in this order:

- the model alone: ``prepare_logits(model, precision, device)`` on batches already one-hot
  on the device (what the device can do);
- each stage of the pipeline alone, on one CPU thread: reading the FASTA records,
  ``Scorer.encode`` (base codes for CUDA, one-hot for the CPU), and the table writer;
- ``zoo-predict`` in this process (``zoo.cli.predict.run``) on all of the records and on a
  quarter of them: the whole run's rate, and the rate of the extra records (the difference
  of the two runs, which leaves out what every run pays once: loading the model, preparing
  it, the first batches' kernel choice).

The ratio of the last rate to the model alone is the figure of merit. The table format is
Parquet where pyarrow is installed, else HDF5 where h5py is, else TSV.

Usage: python scripts/bench_pipeline.py [--device cuda] [--records 200000] [--batch-size 2048]
       [--precision bf16] [--model deepsea]
A smoke test on CPU: python scripts/bench_pipeline.py --device cpu --records 1024 --batch-size 128
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, before any installed zoo

import zoo  # noqa: E402
from zoo.cli.predict import run as zoo_predict  # noqa: E402
from zoo.inference import prepare_logits  # noqa: E402
from zoo.predict import Scorer, open_writer  # noqa: E402
from zoo.predict.fastx import read_records  # noqa: E402


def write_fasta(path: Path, n: int, seq_len: int) -> None:
    """``n`` random ACGT records of ``seq_len`` bases, written a block at a time."""
    rng = np.random.default_rng(0)
    letters = np.frombuffer(b"ACGT", np.uint8)
    with open(path, "wb") as f:
        for first in range(0, n, 4096):
            count = min(4096, n - first)
            bases = letters[rng.integers(0, 4, (count, seq_len))]
            lines = np.full((count, seq_len + 1), ord("\n"), np.uint8)
            lines[:, :seq_len] = bases
            f.write(b"".join(b">seq%d\n%s" % (first + i, row.tobytes()) for i, row in enumerate(lines)))


def rate(count: int, seconds: float) -> float:
    """Items per second."""
    return count / seconds if seconds > 0 else float("inf")


def time_model(model: torch.nn.Module, precision: str, device: str, batch: int, calls: int) -> float:
    """Sequences/s of the prepared model on one-hot batches already on the device."""
    fn = prepare_logits(model, precision, device)  # type: ignore[arg-type]
    codes = torch.randint(0, 4, (batch, model.seq_len), device=device)
    x = torch.nn.functional.one_hot(codes, 4).transpose(1, 2).float()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for _ in range(3):  # warm-up: cuDNN's kernel choice, the first allocations
        fn(x)
    sync()
    start = time.perf_counter()
    for _ in range(calls):
        fn(x)
    sync()
    return rate(batch * calls, time.perf_counter() - start)


def time_stages(fasta: Path, scorer: Scorer, out_suffix: str, n: int, folder: Path) -> dict[str, float]:
    """Rates of reading, encoding and writing alone, on this thread."""
    start = time.perf_counter()
    seqs = [record.sequence for record in read_records(fasta)]
    rates = {"reading the FASTA": rate(len(seqs), time.perf_counter() - start)}
    batch = scorer.batch_size
    start = time.perf_counter()
    for i in range(0, len(seqs), batch):
        scorer.encode(seqs[i : i + batch])
    rates[f"encoding ({'base codes, pinned' if scorer.device.type == 'cuda' else 'one-hot'})"] = rate(
        len(seqs), time.perf_counter() - start
    )
    scores = np.random.default_rng(0).random((min(n, 8 * batch), len(scorer.columns)), dtype=np.float32)
    meta = [(f"seq{i}",) for i in range(n)]
    with open_writer(folder / f"warm-up{out_suffix}", ["name"], scorer.columns) as writer:
        writer.write(meta[:2], scores[:2])  # imports and first-use costs outside the timing
    start = time.perf_counter()
    with open_writer(folder / f"writer{out_suffix}", ["name"], scorer.columns) as writer:
        for i in range(0, n, batch):
            rows = meta[i : i + batch]
            writer.write(rows, scores[: len(rows)])
    rates[f"writing {out_suffix} ({len(scorer.columns)} columns)"] = rate(n, time.perf_counter() - start)
    return rates


def main() -> None:
    """Time the model, the stages and zoo-predict; print one table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--model", default="deepsea")
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    args = p.parse_args()
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True  # as zoo-predict sets it on CUDA
    installed = {name: importlib.util.find_spec(name) is not None for name in ("pyarrow", "h5py")}
    suffix = ".parquet" if installed["pyarrow"] else ".h5" if installed["h5py"] else ".tsv"
    model = zoo.create_model(args.model).eval()
    n, quarter = args.records, args.records // 4
    print(
        f"{args.model} ({model.seq_len} bp), {args.precision}, batch {args.batch_size}, {args.device}, "
        f"{n} records, output {suffix}"
    )
    calls = max(3, n // args.batch_size)
    model_rate = time_model(model, args.precision, args.device, args.batch_size, calls)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, count in (("all.fa", n), ("quarter.fa", quarter)):
            write_fasta(folder / name, count, model.seq_len)
        zoo.save_weights(model, folder / "model.safetensors")  # zoo-predict scores with these weights
        scorer = Scorer(model, precision=args.precision, device=args.device, batch_size=args.batch_size)
        stages = time_stages(folder / "all.fa", scorer, suffix, n, folder)
        del scorer
        seconds = {}
        for name, count in (("quarter.fa", quarter), ("all.fa", n)):
            argv = ["--weights", str(folder / "model.safetensors"), "--fasta", str(folder / name)]
            argv += ["--out", str(folder / f"out{suffix}")]
            argv += ["--precision", args.precision, "--device", args.device]
            argv += ["--batch-size", str(args.batch_size), "--no-progress"]
            start = time.perf_counter()
            if zoo_predict(argv) != 0:
                raise SystemExit("zoo-predict failed")
            seconds[count] = time.perf_counter() - start
    whole = rate(n, seconds[n])
    extra = rate(n - quarter, seconds[n] - seconds[quarter])
    print("| what | records/s | x model alone |")
    print("| --- | ---: | ---: |")
    print(f"| model alone: prepare_logits on one-hot batches on the device | {model_rate:,.0f} | 1.00 |")
    for what, value in stages.items():
        print(f"| {what}, one thread | {value:,.0f} | {value / model_rate:.2f} |")
    print(f"| zoo-predict, whole run ({n} records, {seconds[n]:.1f} s) | {whole:,.0f} | ", end="")
    print(f"{whole / model_rate:.2f} |")
    print(
        f"| zoo-predict, the {n - quarter} records beyond a quarter-size run | {extra:,.0f} | "
        f"{extra / model_rate:.2f} |"
    )


if __name__ == "__main__":
    main()
