"""Sei alone, as a share of the machine's matmul peak, the peak timed in the same rounds.

Each round times, one after the other: the bf16 and fp32 matmul peaks (square products),
Sei through ``prepare_logits`` in bf16 and fp32 (the channels-last fast path on CPU), and
with ``--plain`` the plain model with bfloat16 weights (``model.logits``, what Sei ran as
before it had a fast path). Every contender keeps its best round, so a burst of load from
other processes hits all of them alike and the ratios to the peak hold. FLOPs per
sequence are counted with ``torch.utils.flop_counter`` (logits of one strand).

Usage:
  python scripts/bench_sei.py                     # paper size (4096 bp, 21,907 targets), batch 8
  python scripts/bench_sei.py --batch 16 --rounds 3 --plain
  python scripts/bench_sei.py --device cuda --batch 64 --compile
  python scripts/bench_sei.py --ism-window 8 --rounds 1   # also ISM of the 8 positions mid-sequence

With ``--ism-window N`` it also times ISM of one sequence over the N positions in the middle,
``zoo.interpret.ism`` with its default method (band ISM where the model has it) against
naive ISM (every mutant through ``prepare_logits``), in the first precision given, and
prints both as mutants per second, their ratio and their largest difference.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import torch
from _timing import alternate_best
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, before any installed zoo

import zoo  # noqa: E402
from zoo.inference import channels_last, prepare_logits  # noqa: E402


def main() -> None:
    """Time the peaks and Sei's paths in alternating rounds; print each as a share of its peak."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=8, help="sequences per call")
    p.add_argument("--seq-len", type=int, default=4096)
    p.add_argument("--targets", type=int, default=21907)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--precisions", nargs="+", default=["bf16", "fp32"], choices=["bf16", "fp32"])
    p.add_argument("--plain", action="store_true", help="also time the plain model with bf16 weights")
    p.add_argument("--compile", action="store_true", help="prepare_logits(compile=True) (CUDA)")
    p.add_argument("--ism-window", type=int, default=0, help="also time ISM over this many positions")
    p.add_argument("--rows", type=int, default=None, help="sequences per CPU slice (default: slice_rows)")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    model = zoo.create_model("sei", seq_len=args.seq_len, n_targets=args.targets).eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (args.batch, args.seq_len)), 4)
    x = x.float().transpose(1, 2).contiguous()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.logits(x[:1])
    flops = counter.get_total_flops()
    print(
        f"sei {args.seq_len} bp, {args.targets} targets, batch {args.batch}, {device}, "
        f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}; "
        f"{flops / 1e9:.1f} GFLOP per sequence",
        flush=True,
    )
    size = 8192 if device.type == "cuda" else 2048
    dtypes = {"bf16": torch.bfloat16, "fp32": torch.float32}
    mats = {
        prec: [torch.randn(size, size, device=device, dtype=dtypes[prec]) for _ in range(2)]
        for prec in dtypes
    }
    xd = x.to(device)
    calls: dict[str, object] = {}
    for prec in args.precisions:
        a, b = mats[prec]
        calls[f"{prec} matmul peak"] = lambda a=a, b=b: [a @ b for _ in range(5)]
    for prec in args.precisions:
        if args.rows:
            channels_last.SLICE_BYTES = (
                args.rows * args.seq_len * model.conv_channels[0] * dtypes[prec].itemsize
            )
        fn = prepare_logits(model, prec, device, compile=args.compile)
        calls[f"sei {prec} prepare_logits"] = lambda fn=fn: fn(xd)
    if args.plain:
        plain = copy.deepcopy(model).to(device=device, dtype=torch.bfloat16)
        xb = xd.bfloat16()

        def plain_call() -> torch.Tensor:
            with torch.inference_mode():
                return plain.logits(xb)

        calls["sei bf16 plain model"] = plain_call
    best = alternate_best(calls, args.rounds, device)  # type: ignore[arg-type]
    peaks = {prec: 5 * 2 * size**3 / best[f"{prec} matmul peak"] / 1e9 for prec in args.precisions}
    print("| what | GFLOP/s | share of the peak |")
    print("| --- | ---: | ---: |")
    for name, seconds in best.items():
        prec = name.split()[1] if name.startswith("sei") else name.split()[0]
        if name.endswith("peak"):
            print(f"| {name} | {peaks[prec]:.0f} | 100% |")
            continue
        rate = args.batch * flops / seconds / 1e9
        print(f"| {name} ({args.batch / seconds:.2f} seq/s) | {rate:.0f} | {rate / peaks[prec]:.0%} |")
    if args.ism_window:
        del calls, best
        time_ism(model, x[:1], args.precisions[0], args.ism_window, device)
    print(f"load average at end {os.getloadavg()[0]:.1f}")


def time_ism(
    model: torch.nn.Module, x: torch.Tensor, precision: str, window: int, device: torch.device
) -> None:
    """ISM of ``x`` over ``window`` positions mid-sequence: the default method against naive ISM.

    Args:
        model: the Sei model.
        x: one one-hot sequence, (1, 4, L).
        precision: "bf16" or "fp32".
        window: how many positions to mutate.
        device: where ISM runs.
    """
    from zoo.interpret import prepare_ism

    start = (x.shape[-1] - window) // 2
    results, seconds = {}, {}
    for method in ("auto", "naive"):
        prepared = prepare_ism(
            model, precision=precision, method=method, start=start, end=start + window, device=device
        )
        prepared(x)  # warm-up: packing, first allocations, cuDNN's choices
        began = time.perf_counter()
        results[method] = prepared(x)
        seconds[method] = time.perf_counter() - began
    mutants = 3 * window
    diff = (results["auto"].delta - results["naive"].delta).abs().max().item()
    print(f"ISM, {precision}, {window} positions ({mutants} mutants), one sequence:")
    for method, result in results.items():
        print(f"  {method} ({result.method}): {mutants / seconds[method]:.1f} mutants/s")
    ratio = seconds["naive"] / seconds["auto"]
    print(f"  {results['auto'].method} / naive: {ratio:.2f}x, max |diff| {diff:.1e}")


if __name__ == "__main__":
    main()
