"""Throughput benchmark: zoo models vs the machine's matmul peak and the original Kipoi DeepSEA layout.

One run measures, on the same machine at the same time (ratios within a run carry the claims
on a noisy shared machine, absolute numbers do not):

- fp32 and bf16 matmul peak (GFLOP/s);
- the reference: Kipoi's deepsea_cpu layout (Conv2d (1, 8), Threshold, Lambda views), fp32 eager;
- inference through ``zoo.inference.prepare_logits`` (what zoo-predict runs) and a plain torch
  training step (fp32, or autocast bf16 as Lightning's "bf16-mixed"), eager and torch.compile,
  per model / batch / precision: sequences/s, GFLOP/s, fraction of peak, ratio to the reference,
  compile time, and the max |probability difference| against fp32 eager on the same inputs;
- feeding: one-hot encoding and FASTA reading (sequences/s) against the fastest model;
- with --lightning: the Lightning task's training step, "32-true" vs "bf16-mixed" (and compile=True).

Usage:
  python scripts/bench.py                 # the full grid (minutes on a small CPU)
  python scripts/bench.py --quick         # deepsea only, batch 64, a few seconds per case
  python scripts/bench.py --models deepsea beluga --batches 256 --precisions bf16 --modes eager \
      --tasks infer --device cpu
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from _timing import Timing, alternate_best, synchronizer, timed
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

import zoo
from zoo.dna import base_codes, one_hot_codes
from zoo.inference import _fast_strand_logits, prepare_logits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.legacy
from tests.legacy import kipoi_deepsea_cpu  # noqa: E402

MODELS = ("deepsea", "beluga", "basset", "danq", "image_decoder")
MODEL_ARGS = {"image_decoder": {"head": "sigmoid"}}  # a sigmoid head, like the rest of the zoo


def machine_line(device: torch.device) -> str:
    """CPU model, cores, threads, load; the GPU name on CUDA."""
    model = platform.processor() or "?"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line), model
        )
    line = (
        f"cpu: {model}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}"
    )
    if device.type == "cuda":
        line += f"; gpu: {torch.cuda.get_device_name(device)}"
    return line


def matmul_peak(device: torch.device, dtype: torch.dtype, size: int) -> float:
    """Best GFLOP/s of a square matmul of ``size`` (a practical peak, not the data sheet's)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    t = timed(lambda: a @ b, 50, min_time=1.0, device=device)
    return 2 * size**3 / t.best / 1e9


def example_batch(name: str, model: torch.nn.Module, batch: int, device: torch.device) -> torch.Tensor:
    """Random one-hot DNA (with a few N) or a latent batch."""
    gen = torch.Generator().manual_seed(0)
    if name == "image_decoder":
        return torch.randn(batch, model.in_size, generator=gen).to(device)
    bases = torch.randint(0, 4, (batch, model.seq_len), generator=gen)
    x = F.one_hot(bases, 4).float().transpose(1, 2).contiguous()
    x[:, :, :10] = 0.25  # a run of N
    return x.to(device)


def flops_per_sample(model: torch.nn.Module, x: torch.Tensor, train: bool) -> float:
    """FLOPs of one sample (forward, or forward + backward), counted by FlopCounterMode on 2 samples."""
    x = x[:2].detach().cpu()
    cpu_model = model.cpu()
    with FlopCounterMode(display=False) as counter:
        if train:
            cpu_model.logits(x).float().sum().backward()
        else:
            with torch.no_grad():
                cpu_model.logits(x)
    cpu_model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / 2


def train_step_fn(
    model: torch.nn.Module, x: torch.Tensor, precision: str, compiled: bool, device: torch.device
) -> Callable[[], None]:
    """One SGD step on BCE-with-logits; bf16 is autocast (Lightning's "bf16-mixed")."""
    with torch.no_grad():
        shape = model.eval().logits(x[:2]).shape[1:]
    model.train()
    y = (torch.rand(shape, device=device) > 0.5).float().expand(x.shape[0], *shape)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    logits = torch.compile(model.logits) if compiled else model.logits

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        ctx = torch.autocast(device.type, torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
        with ctx:
            out = logits(x)
        loss = F.binary_cross_entropy_with_logits(out.float(), y)
        loss.backward()
        opt.step()

    return step


class Report:
    """Prints result rows as they come, aligned."""

    HEADER = (
        f"{'task':6} {'model':13} {'batch':>5} {'prec':5} {'mode':8} {'seq/s':>9} {'GFLOP/s':>8} "
        f"{'%peak':>6} {'x ref':>6} {'GF/ref':>6} {'max|dp|':>8} {'first s':>7} {'calls':>5}"
    )

    def __init__(self, peaks: dict[str, float], ref: dict[int, float], ref_flops: float) -> None:
        self.peaks, self.ref, self.ref_flops = peaks, ref, ref_flops
        print(self.HEADER, flush=True)

    def row(
        self,
        task: str,
        name: str,
        batch: int,
        prec: str,
        mode: str,
        t: Timing,
        flops: float,
        diff: float | None,
    ) -> float:
        """Print one row (the best of the timed calls); returns sequences/s."""
        rate = batch / t.best
        gflops = rate * flops / 1e9
        peak = 100 * gflops / self.peaks[prec]
        # x ref: sequences/s against the reference (a DeepSEA, so deepsea rows only);
        # GF/ref: achieved GFLOP/s against the reference's, comparable for every model
        ref = self.ref.get(batch)
        x_ref = f"{rate / ref:6.2f}" if ref and name in ("deepsea", "kipoi_ref") else f"{'':>6}"
        gf_ref = f"{gflops / (ref * self.ref_flops / 1e9):6.2f}" if ref else f"{'':>6}"
        d = f"{diff:8.1e}" if diff is not None else f"{'':>8}"
        print(
            f"{task:6} {name:13} {batch:5d} {prec:5} {mode:8} {rate:9.1f} {gflops:8.1f} {peak:6.1f} "
            f"{x_ref} {gf_ref} {d} {t.warmup:7.1f} {t.calls:5d}",
            flush=True,
        )
        return rate


def bench_models(args: argparse.Namespace, device: torch.device, report: Report) -> dict:
    """The model grid; returns {(task, model, batch, precision, mode): sequences/s}."""
    rates: dict[tuple, float] = {}
    for name in args.models:
        torch.manual_seed(0)
        model = zoo.create_model(name, **MODEL_ARGS.get(name, {})).eval()
        big = sum(p.numel() for p in model.parameters()) > 100e6
        # prepare_logits leaves the CPU oneDNN path uncompiled: its compiled rows would repeat eager
        onednn_path = device.type == "cpu" and _fast_strand_logits(model, torch.float32, device) is not None
        if onednn_path and "compiled" in args.modes and "infer" in args.tasks:
            print(f"infer  {name:13} compiled: not run, prepare_logits keeps the oneDNN path uncompiled")
        min_time, max_calls = (0.0, 1) if big else (args.min_time, args.max_calls)
        for batch in args.batches:
            x = example_batch(name, model, batch, device)
            infer_flops = flops_per_sample(model, x, train=False)
            model.to(device).eval()
            with torch.inference_mode():
                reference_probs = torch.sigmoid(model.logits(x)).float()
            for prec in args.precisions:
                for mode in args.modes:
                    if "infer" not in args.tasks:
                        break
                    if mode == "compiled":
                        if big or onednn_path:
                            continue  # big: 30 s of compiling per case; oneDNN: never compiled
                        torch._dynamo.reset()  # each case compiles afresh, no recompile limit
                    fn = prepare_logits(model, prec, device, compile=mode == "compiled")
                    t = timed(lambda fn=fn, x=x: fn(x), max_calls, min_time=min_time, device=device)
                    diff = (torch.sigmoid(fn(x)) - reference_probs).abs().max().item()
                    rates["infer", name, batch, prec, mode] = report.row(
                        "infer", name, batch, prec, mode, t, infer_flops, diff
                    )
            if "train" not in args.tasks or (big and batch != min(args.batches)):
                continue  # a big model's training step is timed at the smallest batch only
            train_flops = flops_per_sample(model, x, train=True)
            state = {k: v.clone() for k, v in model.state_dict().items()}
            for prec in args.precisions:
                for mode in args.modes:
                    if mode == "compiled" and not args.compile_train:
                        continue
                    torch._dynamo.reset()
                    model.to(device)
                    step = train_step_fn(model, x, prec, mode == "compiled", device)
                    t = timed(step, max_calls, min_time=min_time, device=device)
                    rates["train", name, batch, prec, mode] = report.row(
                        "train", name, batch, prec, mode, t, train_flops, None
                    )
                    model.load_state_dict(state)
            model.eval()
    return rates


def bench_reference(
    batches: list[int], device: torch.device, min_time: float, max_calls: int
) -> dict[int, tuple[float, Timing]]:
    """The Kipoi deepsea_cpu layout in fp32 eager: {batch: (sequences/s, timing)}."""
    torch.manual_seed(0)
    ref = kipoi_deepsea_cpu().to(device).eval()
    out = {}
    for batch in batches:
        x = torch.randint(0, 4, (batch, 1000))
        x = F.one_hot(x, 4).float().transpose(1, 2)[:, :, None, :].contiguous().to(device)
        with torch.inference_mode():
            t = timed(lambda x=x: ref(x), max_calls, min_time=min_time, device=device)
        out[batch] = (batch / t.best, t)
    return out


def head_to_head(
    batches: list[int], device: torch.device, rounds: int, compiled: bool
) -> dict[int, dict[str, float]]:
    """The reference and DeepSEA's prepare_logits paths timed in alternation: {batch: {path: seq/s}}.

    Each round times every path once and each path keeps its best, so a burst of load from
    other processes hits all paths alike: these ratios carry the targets.
    """
    torch.manual_seed(0)
    ref = kipoi_deepsea_cpu().to(device).eval()
    model = zoo.create_model("deepsea").to(device).eval()
    paths = {"fp32": prepare_logits(model, "fp32", device), "bf16": prepare_logits(model, "bf16", device)}
    if compiled and device.type == "cuda":  # on CPU compile=True keeps the oneDNN path: same as bf16
        paths["bf16 compiled"] = prepare_logits(model, "bf16", device, compile=True)
    out = {}
    for batch in batches:
        x = example_batch("deepsea", model, batch, device)
        x4 = x[:, :, None, :].contiguous()
        calls = {"reference fp32": lambda x4=x4: ref(x4)} | {
            k: lambda f=f, x=x: f(x) for k, f in paths.items()
        }
        with torch.inference_mode():
            best = alternate_best(calls, rounds, device)
        out[batch] = {name: batch / seconds for name, seconds in best.items()}
    return out


def train_head_to_head(batch: int, device: torch.device, rounds: int) -> dict[str, float]:
    """DeepSEA training steps, fp32 and autocast bf16, timed in alternation: {precision: seq/s}."""
    torch.manual_seed(0)
    fp32_model = zoo.create_model("deepsea").to(device)
    bf16_model = zoo.create_model("deepsea").to(device)
    bf16_model.load_state_dict(fp32_model.state_dict())
    x = example_batch("deepsea", fp32_model, batch, device)
    steps = {
        "fp32": train_step_fn(fp32_model, x, "fp32", False, device),
        "bf16": train_step_fn(bf16_model, x, "bf16", False, device),
    }
    best = alternate_best(steps, rounds, device)
    return {name: batch / seconds for name, seconds in best.items()}


def bench_feeding(n: int, device: torch.device, seq_len: int = 1000) -> dict[str, float]:
    """Sequences/s of encoding (zoo.one_hot; on CUDA also zoo-predict's base codes one-hot
    encoded on the GPU) and of reading 1000-bp FASTA records (plain parser, pyfaidx, zoo-predict)."""
    gen = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 4, (n, seq_len), generator=gen).tolist()
    seqs = ["".join("ACGT"[c] for c in row) for row in codes]
    rates = {}
    rates["one_hot"] = n / timed(lambda: zoo.one_hot(seqs), 10, min_time=1.0).best
    if device.type == "cuda":  # what zoo-predict's Scorer does for a GPU: pinned codes, one-hot there

        def codes_to_gpu() -> None:
            one_hot_codes(base_codes(seqs).pin_memory().to(device, non_blocking=True))

        rates["base codes, GPU one-hot"] = n / timed(codes_to_gpu, 10, min_time=1.0, device=device).best
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.fa")
        with open(path, "w") as fh:
            for i, s in enumerate(seqs):
                fh.write(f">r{i}\n" + "\n".join(s[j : j + 60] for j in range(0, seq_len, 60)) + "\n")

        def plain() -> int:
            count, parts = 0, []
            with open(path) as fh:
                for line in fh:
                    if line.startswith(">"):
                        count += bool(parts)
                        parts = []
                    else:
                        parts.append(line.rstrip())
            return count + bool(parts)

        rates["fasta (plain python)"] = n / timed(plain, 10, min_time=1.0).best
        if importlib.util.find_spec("pyfaidx") is not None:
            import pyfaidx

            def faidx() -> None:
                fasta = pyfaidx.Fasta(path, rebuild=False)
                for record in fasta:
                    str(record[:])

            pyfaidx.Fasta(path)  # build the index once, outside the timing
            rates["fasta (pyfaidx)"] = n / timed(faidx, 5, min_time=1.0).best
        from zoo.predict.inputs.fasta import fasta_windows

        def windows() -> list:
            return list(fasta_windows(path, seq_len, None))

        rates["fasta (zoo-predict)"] = n / timed(windows, 5, min_time=1.0).best
    return rates


def bench_lightning(batch: int, n_steps: int, device: torch.device, compiled: bool) -> dict[str, float]:
    """Lightning ClassificationTask on the full DeepSEA: sequences/s per precision.

    "32-true" and "bf16-mixed", plus "bf16-mixed compiled" (task compile=True) when ``compiled``.
    """
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    from zoo.tasks import ClassificationTask

    sync = synchronizer(device)

    class StepTimer(L.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_train_batch_start(self, *args: object) -> None:
            self.start = time.perf_counter()

        def on_train_batch_end(self, *args: object) -> None:
            sync()  # the step's kernels, not just their launch
            self.times.append(time.perf_counter() - self.start)

    cases = [("32-true", False), ("bf16-mixed", False)] + ([("bf16-mixed", True)] if compiled else [])
    rates = {}
    for precision, compile_logits in cases:
        torch.manual_seed(0)
        torch._dynamo.reset()
        model = zoo.create_model("deepsea")
        x = F.one_hot(torch.randint(0, 4, (batch, 1000)), 4).float().transpose(1, 2).contiguous()
        y = (torch.rand(batch, 919) > 0.5).float()
        # One batch repeated: the steps time the model, not a data loader.
        loader = DataLoader(
            TensorDataset(x.repeat(n_steps + 1, 1, 1), y.repeat(n_steps + 1, 1)), batch_size=batch
        )
        timer = StepTimer()
        trainer = L.Trainer(
            accelerator="gpu" if device.type == "cuda" else "cpu", devices=1, precision=precision,
            max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, callbacks=[timer], num_sanity_val_steps=0,
        )  # fmt: skip
        trainer.fit(ClassificationTask(model=model, compile=compile_logits), loader)
        name = precision + (" compiled" if compile_logits else "")
        rates[name] = batch / min(timer.times[1:])  # the first step warms up (and compiles)
    return rates


def parse_args() -> argparse.Namespace:
    """Command-line options; --quick shrinks the grid to a smoke run."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--batches", nargs="+", type=int, default=[64, 256])
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    p.add_argument("--modes", nargs="+", default=["eager", "compiled"], choices=["eager", "compiled"])
    p.add_argument("--tasks", nargs="+", default=["infer", "train"], choices=["infer", "train"])
    p.add_argument("--compile-train", action="store_true", help="also time torch.compile training steps")
    p.add_argument("--lightning", action="store_true", help="time the Lightning task's training step")
    p.add_argument("--lightning-steps", type=int, default=3, help="timed Lightning steps per precision")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--min-time", type=float, default=1.0, help="seconds of timed calls per case")
    p.add_argument(
        "--max-calls",
        type=int,
        default=None,
        help="timed calls per case at most (default: 3 on CPU, 20 on CUDA)",
    )
    p.add_argument(
        "--inductor-cache",
        default=None,
        help="torch.compile cache folder (default: a fresh private one, so 'first s' is a cold compile)",
    )
    p.add_argument(
        "--h2h-rounds", type=int, default=5, help="alternating rounds of the head to head (0: skip)"
    )
    p.add_argument("--quick", action="store_true", help="deepsea, batch 64, eager, short timings")
    args = p.parse_args()
    if args.max_calls is None:
        args.max_calls = 20 if args.device.startswith("cuda") else 3
    if args.quick:
        args.models, args.batches, args.modes = ["deepsea"], [64], ["eager"]
        args.min_time, args.max_calls, args.h2h_rounds = 0.0, 2, 2
    return args


def main() -> None:
    """Run the benchmark with a private torch.compile cache."""
    args = parse_args()
    # A private cache: compile times are cold ones, and other processes' compilations cannot
    # race ours (a shared /tmp/torchinductor_$USER gave "file too short" errors here).
    cache = args.inductor_cache or tempfile.mkdtemp(prefix="bench-inductor-")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # read when inductor loads, at the first compile
    try:
        run(args)
    finally:
        if args.inductor_cache is None:
            shutil.rmtree(cache, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    """Every section of the benchmark, printed as it goes."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick each conv's fastest kernel
    started = time.perf_counter()
    print(machine_line(device), flush=True)
    size = 8192 if device.type == "cuda" else 2048
    peaks = {p: matmul_peak(device, d, size) for p, d in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    print(f"matmul peak ({size}^2): fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s")

    ref_runs = bench_reference(args.batches, device, args.min_time, args.max_calls)
    ref_flops = flops_per_sample(zoo.create_model("deepsea"), torch.zeros(2, 4, 1000), train=False)
    ref = {batch: rate for batch, (rate, _) in ref_runs.items()}
    report = Report(peaks, ref, ref_flops)
    for batch, (_, t) in ref_runs.items():
        report.row("infer", "kipoi_ref", batch, "fp32", "eager", t, ref_flops, None)

    rates = bench_models(args, device, report)

    feeding = bench_feeding(2048, device)
    infer_rates = [v for k, v in rates.items() if k[0] == "infer" and k[1] == "deepsea"]
    fastest = max(infer_rates) if infer_rates else max(ref.values())
    print(f"\nfeeding (1000 bp, sequences/s; fastest deepsea inference above: {fastest:.0f}/s)")
    for what, rate in feeding.items():
        verdict = "ok" if rate >= 10 * fastest else "TOO SLOW (< 10x the model)"
        print(f"  {what:24} {rate:10.0f}   x{rate / fastest:.1f} the model   {verdict}")

    if args.h2h_rounds:
        print(
            f"\nhead to head, deepsea inference vs the Kipoi reference, {args.h2h_rounds} alternating rounds:"
        )
        compiled = "compiled" in args.modes
        for batch, paths in head_to_head(args.batches, device, args.h2h_rounds, compiled).items():
            ref_rate = paths["reference fp32"]
            for name, rate in paths.items():
                target = {"fp32": 1.0, "bf16": 4.0}.get(name)
                verdict = (
                    ""
                    if target is None
                    else f"  target >= {target}x: " + ("met" if rate / ref_rate >= target else "NOT MET")
                )
                print(f"  batch {batch:4d} {name:15} {rate:8.1f} seq/s  {rate / ref_rate:5.2f}x{verdict}")
    if "train" in args.tasks and "deepsea" in args.models and args.h2h_rounds:
        batch = max(args.batches)
        train = train_head_to_head(batch, device, max(2, args.h2h_rounds - 1))
        print(
            f"\ndeepsea training step, batch {batch}, alternating rounds: fp32 {train['fp32']:.1f} seq/s, "
            f"autocast bf16 {train['bf16']:.1f} seq/s = {train['bf16'] / train['fp32']:.2f}x"
        )
    if args.lightning:
        lightning = bench_lightning(max(args.batches), args.lightning_steps, device, "compiled" in args.modes)
        batch, steps = max(args.batches), args.lightning_steps
        print(f"\nlightning deepsea training, batch {batch}, best of {steps} steps:")
        for name, rate in lightning.items():
            print(f"  {name:20} {rate:9.1f} seq/s  {rate / lightning['32-true']:5.2f}x 32-true")
    print(f"\nload average at end {os.getloadavg()[0]:.1f}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
