"""zoo-predict's Scorer on a device: sequences/s and accuracy against the CPU in fp32.

Times ``Scorer(model, precision, device, rc, batch_size).predict`` on random in-memory
sequences of the model's length (with N): encoding, scoring and copying back one batch
after another, no FASTA reading and no writing. On CUDA, cuDNN's benchmark mode is on, as
zoo-predict sets it there.

Usage: python scripts/bench_scorer.py [--device cuda] [--seqs 8192] [--batch-size 2048]
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
import torch

import zoo
from zoo.predict import Scorer


def main() -> None:
    """Time every precision and strand mode; print one line each."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--model", default="deepsea")
    p.add_argument("--seqs", type=int, default=8192)
    p.add_argument("--batch-size", type=int, default=2048)
    args = p.parse_args()
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True  # as zoo-predict sets it on CUDA
    torch.manual_seed(0)
    model = zoo.create_model(args.model).eval()
    rng = random.Random(0)
    seqs = ["".join(rng.choice("ACGTN") for _ in range(model.seq_len)) for _ in range(args.seqs)]
    print(f"{args.model} ({model.seq_len} bp), {args.seqs} sequences, batch {args.batch_size}, {args.device}")
    for precision in ("fp32", "bf16"):
        for rc in ("none", "mean"):
            scorer = Scorer(model, precision=precision, device=args.device, rc=rc, batch_size=args.batch_size)
            scorer.predict(seqs[: args.batch_size])  # warm-up: cuDNN's kernel choice
            if args.device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            probs = scorer.predict(seqs)  # ends with a copy to the CPU: synchronous
            seconds = time.perf_counter() - start
            cpu = Scorer(model, precision="fp32", device="cpu", rc=rc).predict(seqs[:64])
            print(
                f"Scorer {precision} rc={rc}: {len(seqs) / seconds:.0f} seq/s, "
                f"max |p - CPU fp32| {np.abs(probs[:64] - cpu).max():.1e}"
            )


if __name__ == "__main__":
    main()
