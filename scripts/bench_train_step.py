"""The Lightning classification step against the bf16 limit and a plain torch step, in the same rounds.

One ``Trainer.fit`` of ``ClassificationTask`` (paper DeepSEA by default, bf16-mixed, batch
256, one batch repeated so the steps time the model and not a data loader) runs
``--rounds + 1`` steps. After each step a callback times, outside the Lightning step: the
bf16 matmul peak (square products) and one plain torch step (autocast bf16, the same loss,
fused Adam, on a copy of the model). So every round meets the same load from other
processes and the ratios hold on a shared machine. The first round warms up and is left out;
each contender keeps its best round.

The limit is the matmul peak; a step's useful work is 3x the forward FLOPs (forward,
gradients of the inputs and of the weights), counted with ``torch.utils.flop_counter``.

Usage:
  python scripts/bench_train_step.py                    # DeepSEA, batch 256, 4 timed rounds
  python scripts/bench_train_step.py --batch 64 --rounds 3 --model basset
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, before any installed zoo

import zoo  # noqa: E402
from zoo.tasks import ClassificationTask  # noqa: E402


def plain_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    """One plain torch training step: autocast bf16 forward, BCE-with-logits in float32, fused Adam."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", torch.bfloat16):
            logits = model.logits(x)
        F.binary_cross_entropy_with_logits(logits.float(), y).backward()
        opt.step()

    return step


class Rounds(L.Callback):
    """Times each Lightning step, then the matmul peak and a plain step, outside it."""

    def __init__(self, plain: Callable[[], None], size: int = 2048) -> None:
        self.plain = plain
        self.a, self.b = (torch.randn(size, size, dtype=torch.bfloat16) for _ in range(2))
        self.size = size
        self.times: dict[str, list[float]] = {"lightning": [], "plain": [], "peak": []}

    def on_train_batch_start(self, *args: object) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, *args: object) -> None:
        self.times["lightning"].append(time.perf_counter() - self.start)
        start = time.perf_counter()
        for _ in range(5):
            self.a @ self.b
        self.times["peak"].append((time.perf_counter() - start) / 5)
        start = time.perf_counter()
        self.plain()
        self.times["plain"].append(time.perf_counter() - start)


def main() -> None:
    """Fit a few steps, timing the rounds; print each as a share of the bf16 limit."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="deepsea")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--rounds", type=int, default=4, help="timed rounds (one more warms up)")
    args = p.parse_args()
    torch.manual_seed(0)
    model = zoo.create_model(args.model)
    x = F.one_hot(torch.randint(0, 4, (args.batch, model.seq_len)), 4).float().transpose(1, 2).contiguous()
    y = (torch.rand(args.batch, model.n_targets) > 0.5).float()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval().logits(x[:2])
    step_flops = 3 * counter.get_total_flops() / 2 * args.batch
    model.train()  # Lightning keeps each module's mode as it finds it: dropout on, as in a real run
    rounds = Rounds(plain_step(copy.deepcopy(model).train(), x, y))
    steps = args.rounds + 1
    loader = DataLoader(TensorDataset(x.repeat(steps, 1, 1), y.repeat(steps, 1)), batch_size=args.batch)
    trainer = L.Trainer(
        accelerator="cpu", devices=1, precision="bf16-mixed", max_epochs=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[rounds], num_sanity_val_steps=0,
    )  # fmt: skip
    print(
        f"{args.model}, batch {args.batch}, bf16-mixed, {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.1f}; {step_flops / args.batch / 1e9:.2f} GFLOP per sequence "
        "per step (3x forward)",
        flush=True,
    )
    trainer.fit(ClassificationTask(model=model), loader)
    best = {k: min(v[1:]) for k, v in rounds.times.items()}
    peak = 2 * rounds.size**3 / best["peak"] / 1e9
    print("| what | seq/s | GFLOP/s | share of the bf16 limit |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| bf16 matmul peak | | {peak:.0f} | 100% |")
    for name in ("lightning", "plain"):
        rate = step_flops / best[name] / 1e9
        what = "Lightning ClassificationTask step" if name == "lightning" else "plain torch step"
        print(f"| {what} | {args.batch / best[name]:.1f} | {rate:.0f} | {rate / peak:.0%} |")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
