"""Design benchmark: zoo greedy design (one exact band ISM per round) against tangermeme's
greedy_substitution, with the same objective and number of rounds, in one run.

Model: paper-size DeepSEA (1000 bp, 919 targets), seeded random weights (the timing does not
depend on the weights; no download). Objective: raise one target's logit; both sides see the
model's logits (tangermeme through a module whose forward returns them), take the single-base
change that raises it most each round, and stop early only when no change raises it
(tangermeme's ``tol=0``). Printed: seconds per round of each, their ratio, the objective after
the last round of each, and whether the two chose the same edits.

tangermeme is a benchmark dependency only (``pip install tangermeme``).

Usage: python scripts/bench_design.py [--rounds 2] [--target 0] [--threads N] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

import zoo
from zoo.design import greedy_design, make_objective, random_sequences
from zoo.dna import one_hot


class _Logits(nn.Module):
    """One target's logit as the model's forward: what tangermeme maximises."""

    def __init__(self, model: nn.Module, target: int) -> None:
        super().__init__()
        self.model, self.target = model, target

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.logits(x)[:, [self.target]]


def main() -> None:
    """Run both designs and print the comparison."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--target", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=256, help="tangermeme's sequences per forward pass")
    ns = p.parse_args()
    if ns.threads:
        torch.set_num_threads(ns.threads)
    from tangermeme.design import greedy_substitution

    torch.manual_seed(ns.seed)
    model = zoo.create_model("deepsea").eval()
    start = random_sequences(1, model.seq_len, seed=ns.seed)[0]
    objective = make_objective([ns.target])

    greedy_design(model, start, objective, max_edits=1)  # warm-up: the band plan, first allocations
    t0 = time.perf_counter()
    ours = greedy_design(model, start, objective, max_edits=ns.rounds, rounds=ns.rounds)
    zoo_s = (time.perf_counter() - t0) / max(1, len(ours.edits))

    wrapped = _Logits(model, ns.target).eval()
    x = one_hot([start])
    t0 = time.perf_counter()
    with torch.no_grad():
        designed = greedy_substitution(
            wrapped, x, max_iter=ns.rounds, tol=0.0, batch_size=ns.batch_size, device="cpu", verbose=False
        )
    theirs_s = (time.perf_counter() - t0) / ns.rounds
    with torch.no_grad():
        theirs_obj = float(wrapped(designed)[0, 0])
        ours_obj = float(wrapped(one_hot([ours.designed]))[0, 0])
    theirs_seq = "".join("ACGT"[i] for i in designed[0].argmax(0).tolist())
    threads = torch.get_num_threads()
    print(f"threads {threads}, DeepSEA 1000 bp x 919 targets, {ns.rounds} rounds, target {ns.target}")
    print(f"start objective        {ours.start_objective:.4f}")
    print(f"zoo greedy (band ISM)  {zoo_s:8.2f} s/round  objective {ours_obj:.4f}  edits {ours.n_edits}")
    print(f"tangermeme greedy      {theirs_s:8.2f} s/round  objective {theirs_obj:.4f}")
    print(f"speed-up per round     {theirs_s / zoo_s:8.1f}x   same sequence: {theirs_seq == ours.designed}")


if __name__ == "__main__":
    main()
