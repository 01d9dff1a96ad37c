"""ISM benchmark: the zoo's band and naive ISM against tangermeme's saturation_mutagenesis.

For each model (paper size, random weights) and precision, in one run on the same inputs:

- zoo band: ``zoo.interpret.ism`` recomputing only the changed band of every layer;
- zoo naive: every mutant sequence through ``zoo.inference.prepare_logits``;
- tangermeme fast: ``saturation_mutagenesis(fast=True)`` (fastISM on a torch.export capture),
  with its start threshold (``_FAST_MIN_SECONDS``, 30 s of expected work) set to 0 so that the
  fast path runs on short jobs too; a warning that it fell back to fast=False is reported;
- tangermeme naive: ``saturation_mutagenesis(fast=False)``.

Every method computes the logits of all 3 * L single-base mutants of each sequence for all
targets (tangermeme also runs the L reference "mutants" it skips by construction). With
``--width N`` the zoo's methods mutate only the N positions around the window's centre
(``ism(..., width=N)``) and tangermeme is left out (it mutates every position): what to time
on paper-size Sei, whose naive ISM takes seconds a mutant. Printed: seconds per call (one
untimed warm-up call on one sequence first, except tangermeme naive), mutants per second,
the ratio to tangermeme fast of the same precision, the ratio to the zoo's naive method,
and the largest |change of logit| difference from the zoo's naive fp32 result. Timings on a
shared CPU are noisy: compare ratios within one run.

tangermeme is a benchmark dependency only (``pip install tangermeme==1.6.0``).

Wall and CPU seconds are both printed: on a CPU shared with other work, CPU seconds of a
single-threaded run (``--threads 1``) are the steadier measure. With more threads there, set
OMP_WAIT_POLICY=PASSIVE: OpenMP threads that spin while they wait for a busy core make the
band method's many small gathers and scatter-adds several times slower.

Usage: python scripts/bench_ism.py [--sequences 1] [--models deepsea basset sei]
       [--precisions fp32 bf16] [--batch-size 256] [--threads N] [--skip-tangermeme-naive]
       [--width N] [--targets K]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn
from torch.nn import functional as F

import zoo
from zoo.interpret import prepare_ism

T = TypeVar("T")


class _Logits(nn.Module):
    """The model's logits as its forward: what tangermeme runs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.logits(x)


def _timed(fn: Callable[[], T]) -> tuple[float, float, T]:
    """(wall seconds, CPU seconds of this process, result) of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _zoo(
    model: nn.Module,
    x: torch.Tensor,
    precision: str,
    method: str,
    batch_size: int,
    width: int | None = None,
    targets: list[int] | None = None,
) -> tuple[float, float, torch.Tensor]:
    """(wall s, CPU s, (N, 4, W, T) changes of logits) of one call after a warm-up on one
    sequence (with ``width``, on a window of 8 positions: the same products, fewer of them)."""
    prepared = prepare_ism(
        model, targets, precision=precision, method=method, batch_size=batch_size, width=width
    )
    end = prepared.end
    if width:  # warm up on the first 8 positions only: the same products, fewer of them
        prepared.end = min(end, prepared.start + 8)
    prepared(x[:1])
    prepared.end = end
    wall, cpu, result = _timed(lambda: prepared(x))
    return wall, cpu, result.delta.permute(0, 2, 1, 3)


def _tangermeme(
    model: nn.Module, x: torch.Tensor, precision: str, fast: bool, batch_size: int
) -> tuple[float, float, torch.Tensor, str]:
    """(wall s, CPU s, (N, 4, L, T) changes of logits, note) of tangermeme's saturation_mutagenesis."""
    from tangermeme import saturation_mutagenesis as sm
    from tangermeme.utils import TangermemeWarning

    sm._FAST_MIN_SECONDS = 0.0  # try the fast path on any job, not only on > 30 s ones
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    wrapped = _Logits(model).eval()

    def run(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TangermemeWarning)
            y0, y_hat = sm.saturation_mutagenesis(
                wrapped, inputs, raw_outputs=True, fast=fast, batch_size=batch_size, dtype=dtype, device="cpu"
            )
        notes = [str(w.message) for w in caught if issubclass(w.category, TangermemeWarning)]
        return y0, y_hat, notes

    if fast:
        run(x[:1])
    wall, cpu, (y0, y_hat, notes) = _timed(lambda: run(x))
    fell_back = [n for n in notes if "using fast=False" in n]
    note = "FELL BACK to fast=False: " + fell_back[0][:120] if fast and fell_back else ""
    return wall, cpu, (y_hat - y0[:, None, None, :]).float(), note


def main() -> None:
    """Time every method for every model and precision; print one table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sequences", type=int, default=1, help="random sequences per call (default 1)")
    p.add_argument("--models", nargs="+", default=["deepsea", "basset"])
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    p.add_argument("--batch-size", type=int, default=256, help="mutants per pass, every method")
    p.add_argument("--skip-tangermeme-naive", action="store_true", help="the slowest method (~30 s/seq)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--width", type=int, help="mutate only N positions around the centre (no tangermeme)")
    p.add_argument("--targets", type=int, help="the first K targets only (default all)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; "
        f"{args.sequences} sequence(s) per call, batch {args.batch_size}"
    )
    print(
        "| model | precision | method | wall s | CPU s | mutants/s | vs tangermeme fast (wall) "
        "| (CPU) | vs zoo naive (wall) | (CPU) | max abs diff | note |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name in args.models:
        torch.manual_seed(0)
        model = zoo.create_model(name).eval()
        length = model.seq_len
        x = F.one_hot(torch.randint(0, 4, (args.sequences, length)), 4).float().transpose(1, 2).contiguous()
        width = args.width
        mutants = 3 * (width or length) * args.sequences
        targets = list(range(args.targets)) if args.targets else None

        options = dict(batch_size=args.batch_size, width=width, targets=targets)
        reference = None if "fp32" in args.precisions else _zoo(model, x, "fp32", "naive", **options)[2]
        for precision in sorted(set(args.precisions), key=["fp32", "bf16"].index):
            rows = [("zoo band", *_zoo(model, x, precision, "band", **options), "")]
            rows.append(("zoo naive", *_zoo(model, x, precision, "naive", **options), ""))
            if reference is None:  # the fp32 naive result, from the row just timed
                reference = rows[-1][3]
            if not width:
                rows.append(("tangermeme fast", *_tangermeme(model, x, precision, True, args.batch_size)))
                if not args.skip_tangermeme_naive:
                    rows.append(
                        ("tangermeme naive", *_tangermeme(model, x, precision, False, args.batch_size))
                    )
            fast_wall, fast_cpu = rows[2][1:3] if not width else (1.0, 1.0)
            naive_wall, naive_cpu = rows[1][1:3]
            for method, wall, cpu, delta, note in rows:
                diff = (delta - reference).abs().max().item()
                vs_fast = "- | -" if width else f"{fast_wall / wall:.2f}x | {fast_cpu / cpu:.2f}x"
                print(
                    f"| {name} | {precision} | {method} | {wall:.2f} | {cpu:.2f} | {mutants / wall:.1f} | "
                    f"{vs_fast} | {naive_wall / wall:.2f}x | {naive_cpu / cpu:.2f}x | {diff:.1e} | {note} |",
                    flush=True,
                )
        del model  # paper-size Sei takes gigabytes


if __name__ == "__main__":
    main()
