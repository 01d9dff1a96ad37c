"""Benchmark zoo.one_hot: prints bases/s on one core for 1000-bp sequences.

Usage: python scripts/bench_one_hot.py [--n-seqs 4096] [--seq-len 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import random

import torch
from _timing import best_of

import zoo


def main() -> None:
    """Encode a batch of random sequences several times and print the best throughput."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-seqs", type=int, default=4096)
    parser.add_argument("--seq-len", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = random.Random(0)
    seqs = ["".join(rng.choices("ACGTacgtN", k=args.seq_len)) for _ in range(args.n_seqs)]
    zoo.one_hot(seqs[:2])  # warm the lookup table
    best = best_of(lambda: zoo.one_hot(seqs), args.repeats, warmup=0)
    bases = args.n_seqs * args.seq_len
    print(f"one_hot: {bases:,} bases in {best * 1e3:.1f} ms = {bases / best / 1e6:.1f} M bases/s (1 core)")


if __name__ == "__main__":
    main()
