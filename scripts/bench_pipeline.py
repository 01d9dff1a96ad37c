"""zoo-predict end to end against the model alone, on one device, in one run.

Answers: does zoo-predict (FASTA in, a 919-column table out) keep the device busy, or do
reading, encoding and writing set its pace? It times, in this order:

- the model alone: ``prepare_logits(model, precision, device)`` on batches already one-hot
  on the device (what the device can do);
- each stage of the pipeline alone, on one CPU thread: reading the FASTA records,
  ``Scorer.encode`` (base codes for CUDA, one-hot for the CPU), and the table writer;
- reading and checking the records in 1 and in several reader processes (zoo-predict's
  ``ProcessBatches``), the batches taken as they come;
- zoo-predict's scoring loop (``run_job``: reading, encoding, scoring, writing, on the
  threads zoo-predict uses), with a reader thread, one reader process and several, on all
  of the records and on a quarter of them: the rate of the extra records (the difference of
  the two runs leaves out what every run pays once, such as starting the reader processes);
- the ``zoo-predict`` command in this process (``zoo.cli.predict.call``) on all of them,
  loading the model included; then the model alone once more, so that a shared machine's
  load is met before and after the command alike (the command's share is of their mean).

With ``--command-only`` the scoring loops are left out (the model alone, the stages, the
command on a quarter of the records and on all, and the model alone again): on a CPU, where
each pass over the records takes minutes. The two commands give its steady state (the rate of
the records beyond the quarter) and its fixed cost (start, loading, preparing, closing).

The scoring loop's rate against the model alone's is the figure of merit. The table format is
Parquet where pyarrow is installed, else HDF5 where h5py is, else TSV.

Usage: python scripts/bench_pipeline.py [--device cuda] [--records 200000] [--batch-size 2048]
       [--precision bf16] [--model deepsea] [--stages-only | --command-only]
A smoke test on CPU: python scripts/bench_pipeline.py --device cpu --records 1024 --batch-size 128
A whole run on CPU:
  python scripts/bench_pipeline.py --device cpu --records 65536 --batch-size 256 --command-only
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, before any installed zoo

import zoo  # noqa: E402
from zoo.cli.predict import call as zoo_predict  # noqa: E402
from zoo.inference import prepare_logits  # noqa: E402
from zoo.predict import Scorer, fasta_job, open_writer, run_job  # noqa: E402
from zoo.predict.inputs.fasta import fasta_window_groups  # noqa: E402
from zoo.predict.inputs.fastx import read_records  # noqa: E402
from zoo.predict.running.processes import ProcessBatches  # noqa: E402
from zoo.predict.running.run import default_reader_processes  # noqa: E402


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


def cpu_seconds() -> float:
    """CPU seconds of this process (every thread) and of its finished child processes."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def time_model(model: torch.nn.Module, precision: str, device: str, batch: int, calls: int) -> float:
    """Sequences/s of the prepared model on one-hot batches already on the device; the CPU
    seconds per sequence go to ``CPU_PER_RECORD["model alone"]`` (a list, one per call)."""
    fn = prepare_logits(model, precision, device)  # type: ignore[arg-type]
    codes = torch.randint(0, 4, (batch, model.seq_len), device=device)
    x = torch.nn.functional.one_hot(codes, 4).transpose(1, 2).float()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for _ in range(3):  # warm-up: cuDNN's kernel choice, the first allocations
        fn(x)
    sync()
    start, cpu = time.perf_counter(), cpu_seconds()
    for _ in range(calls):
        fn(x)
    sync()
    CPU_PER_RECORD.setdefault("model alone", []).append((cpu_seconds() - cpu) / (batch * calls))
    return batch * calls / (time.perf_counter() - start)


# CPU seconds per record, by what ran: on a CPU shared with other work they are steadier than
# wall time (other processes slow a run down without adding to its CPU seconds).
CPU_PER_RECORD: dict[str, list[float]] = {}


def time_stages(
    fasta: Path, scorer: Scorer, out_suffix: str, n: int, folder: Path
) -> dict[str, tuple[int, float]]:
    """(items, seconds) of reading, encoding and writing alone, on this thread."""
    start = time.perf_counter()
    seqs = [record.sequence for record in read_records(fasta)]
    timed = {"reading the FASTA": (len(seqs), time.perf_counter() - start)}
    batch = scorer.batch_size
    start = time.perf_counter()
    for i in range(0, len(seqs), batch):
        scorer.encode(seqs[i : i + batch])
    encoding = "base codes, pinned" if scorer.device.type == "cuda" else "one-hot"
    timed[f"encoding ({encoding})"] = (len(seqs), time.perf_counter() - start)
    scores = np.random.default_rng(0).random((min(n, 8 * batch), len(scorer.columns)), dtype=np.float32)
    meta = [(f"seq{i}",) for i in range(n)]
    with open_writer(folder / f"warm-up{out_suffix}", ["name"], scorer.columns) as writer:
        writer.write(meta[:2], scores[:2])  # imports and first-use costs outside the timing
    start = time.perf_counter()
    with open_writer(folder / f"writer{out_suffix}", ["name"], scorer.columns) as writer:
        for i in range(0, n, batch):
            rows = meta[i : i + batch]
            writer.write(rows, scores[: len(rows)])
    timed[f"writing {out_suffix} ({len(scorer.columns)} columns)"] = (n, time.perf_counter() - start)
    return timed


def main() -> None:
    """Time the model, the stages and zoo-predict; print one table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--model", default="deepsea")
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    p.add_argument(
        "--stages-only",
        action="store_true",
        help="time the model on 3 batches and the stages, not the scoring loop nor the command "
        "(on a CPU, where the model would take hours over a file large enough to time the readers)",
    )
    p.add_argument(
        "--command-only",
        action="store_true",
        help="time the model, the stages and the command, not the scoring loops (a CPU's whole run)",
    )
    args = p.parse_args()
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True  # as zoo-predict sets it on CUDA
    if args.records < 64:
        p.error("--records: at least 64, so that a quarter-size run has something to leave out")
    installed = {name: importlib.util.find_spec(name) is not None for name in ("pyarrow", "h5py")}
    suffix = ".parquet" if installed["pyarrow"] else ".h5" if installed["h5py"] else ".tsv"
    model = zoo.create_model(args.model).eval()
    n, quarter = args.records, args.records // 4
    print(
        f"{args.model} ({model.seq_len} bp), {args.precision}, batch {args.batch_size}, {args.device}, "
        f"{n} records, output {suffix}"
    )
    print("| what | records/s | x model alone |")
    print("| --- | ---: | ---: |", flush=True)
    calls = 3 if args.stages_only else max(3, n // args.batch_size)
    model_rate = time_model(model, args.precision, args.device, args.batch_size, calls)

    def row(what: str, count: int, seconds: float) -> None:  # printed as measured: a cut run keeps them
        if seconds <= 0:
            print(f"| {what} | too fast to time: give more --records | - |", flush=True)
            return
        print(f"| {what} | {count / seconds:,.0f} | {count / seconds / model_rate:.2f} |", flush=True)

    row("model alone: prepare_logits on one-hot batches on the device", 1, 1 / model_rate)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, count in (("all.fa", n), ("quarter.fa", quarter)):
            write_fasta(folder / name, count, model.seq_len)
        zoo.save_weights(model, folder / "model.safetensors")  # zoo-predict scores with these weights
        scorer = Scorer(model, precision=args.precision, device=args.device, batch_size=args.batch_size)
        for what, (count, seconds_taken) in time_stages(folder / "all.fa", scorer, suffix, n, folder).items():
            row(f"{what}, one thread", count, seconds_taken)
        several = max(2, default_reader_processes())  # what zoo-predict takes on CUDA (2 at least)
        for processes in (1, several):
            start = time.perf_counter()
            reading = (str(folder / "all.fa"), scorer.seq_len, None)
            with ProcessBatches(fasta_window_groups, reading, scorer.batch_size, processes) as batches:
                count = sum(len(metas) for metas, _, _ in batches)
            row(f"reading and checking in {processes} reader process(es), start-up included", count,
                time.perf_counter() - start)  # fmt: skip
        if args.stages_only:
            return
        loops = () if args.command_only else (0, 1, several)
        for processes in loops:  # the scoring loop alone: the extra records' rate
            seconds = {}
            for name, count in (("quarter.fa", quarter), ("all.fa", n)):
                out = folder / f"out{suffix}"
                out.unlink(missing_ok=True)
                start = time.perf_counter()
                run_job(fasta_job(folder / name, scorer.seq_len), scorer, out, reader_processes=processes)
                seconds[count] = time.perf_counter() - start
            reader = f"{processes} reader process(es)" if processes else "a reader thread"
            extra = f"the {n - quarter} records beyond a quarter-size run"
            row(
                f"zoo-predict's scoring loop with {reader}: {extra}",
                n - quarter,
                seconds[n] - seconds[quarter],
            )
        del scorer
        seconds_cpu = {}
        runs = (("quarter.fa", quarter), ("all.fa", n)) if args.command_only else (("all.fa", n),)
        for name, count in runs:
            argv = ["--weights", str(folder / "model.safetensors"), "--fasta", str(folder / name)]
            argv += ["--out", str(folder / f"out{suffix}"), "--overwrite"]
            argv += ["--precision", args.precision, "--device", args.device]
            argv += ["--batch-size", str(args.batch_size), "--no-progress"]
            start, cpu = time.perf_counter(), cpu_seconds()
            if zoo_predict(argv) != 0:
                raise SystemExit("zoo-predict failed")
            seconds_cpu[count] = (time.perf_counter() - start, cpu_seconds() - cpu)
        seconds_all, command_cpu = seconds_all_cpu = seconds_cpu[n]
        command_cpu /= n
    model_after = time_model(model, args.precision, args.device, args.batch_size, calls)
    print(
        f"| model alone again, after the command: {model_after:,.0f} records/s, "
        f"{model_after / model_rate:.2f}x the first | | |"
    )
    model_rate = (model_rate + model_after) / 2
    row(
        f"the zoo-predict command in this process ({n} records, {seconds_all:.1f} s, loading included), "
        "against the mean of the model alone before and after",
        n,
        seconds_all,
    )
    if quarter in seconds_cpu:  # the command's steady state: the rate of the records beyond a quarter run
        extra = seconds_all_cpu[0] - seconds_cpu[quarter][0]
        row(f"the zoo-predict command, steady state: the {n - quarter} records beyond a quarter-size run",
            n - quarter, extra)  # fmt: skip
        fixed = seconds_all - extra * n / (n - quarter)
        print(f"| the command's fixed cost (start, loading, preparing, closing): {fixed:.1f} s | | |")
    if args.device == "cpu":  # the model and the pipeline share the same cores: CPU seconds say it
        alone = sum(CPU_PER_RECORD["model alone"]) / len(CPU_PER_RECORD["model alone"])
        print(
            f"| CPU ms per record: model alone {1e3 * alone:.2f} (mean of before and after), the command "
            f"{1e3 * command_cpu:.2f}; the model's share of the command's CPU time | | "
            f"{alone / command_cpu:.2f} |"
        )


if __name__ == "__main__":
    main()
