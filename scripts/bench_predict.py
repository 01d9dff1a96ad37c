"""End-to-end benchmark: ``zoo-predict`` (FASTA in, TSV out) against the Kipoi DeepSEA forward pass.

In one run, in alternating rounds (ratios within a run carry the claims on a noisy machine):

- the reference: Kipoi's ``deepsea_cpu`` layout, fp32 eager, forward only, on the records
  already one-hot encoded (no reading, no writing);
- ``zoo-predict --precision fp32`` and ``--precision bf16`` as whole processes (start-up,
  model loading, FASTA reading, encoding, scoring and TSV writing), with their peak RSS.

Then the accuracy of the TSVs: fp32 against ``sigmoid(model.logits(one_hot(seq)))`` computed
here, bf16 against fp32. The output writers alone have their own benchmark,
``scripts/bench_writers.py``.

Usage: python scripts/bench_predict.py [--records 5000] [--batch-size 256] [--rounds 2]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import zoo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.legacy
from tests.legacy import kipoi_deepsea_cpu  # noqa: E402


def write_fasta(path: Path, n: int, seq_len: int, seed: int = 0) -> list[str]:
    """``n`` random ACGT records of ``seq_len`` bases; returns the sequences."""
    rng = random.Random(seed)
    seqs = ["".join(rng.choices("ACGT", k=seq_len)) for _ in range(n)]
    with open(path, "w") as f:
        for i, s in enumerate(seqs):
            f.write(f">seq{i}\n{s}\n")
    return seqs


def time_reference(x: torch.Tensor, batch: int) -> float:
    """Seconds for the Kipoi layout's fp32 eager forward over ``x`` (N, 4, 1, L), in batches."""
    model = kipoi_deepsea_cpu().eval()
    with torch.inference_mode():
        model(x[:batch])  # warm-up
        start = time.perf_counter()
        for i in range(0, len(x), batch):
            model(x[i : i + batch])
        return time.perf_counter() - start


# Runs zoo-predict as its console script does (zoo.cli.predict.main) and prints the process's own
# peak RSS (VmHWM, kB) before exiting: the rusage of a child counts the parent's memory at fork,
# which would hide zoo-predict's own.
_PEAK_RSS_WRAPPER = """
import os, sys
from zoo.cli.predict import call as run
code = run(sys.argv[1:])
with open("/proc/self/status") as f:
    kb = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
print(f"peak-rss-kb {kb}", file=sys.stderr)
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)  # as zoo.cli.predict.main: no interpreter teardown
"""


def run_predict(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one zoo-predict process."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_WRAPPER, *args], stderr=subprocess.PIPE, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"zoo-predict failed:\n{proc.stderr}")
    kb = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("peak-rss-kb")]
    return seconds, int(kb[-1]) / 1024 if kb else float("nan")


def read_scores(path: Path) -> np.ndarray:
    """The score columns of a zoo-predict TSV."""
    return np.loadtxt(path, delimiter="\t", skiprows=1, usecols=range(1, 920), dtype=np.float64, ndmin=2)


def main() -> None:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = zoo.create_model("deepsea").eval()
        weights = zoo.save_weights(model, tmp / "deepsea.safetensors")
        fasta = tmp / "records.fa"
        seqs = write_fasta(fasta, args.records, 1000)
        # The reference gets its input encoded in advance: forward only.
        x_ref = zoo.one_hot(seqs)[:, [0, 2, 1, 3]].unsqueeze(2).contiguous()

        common = ["--weights", str(weights), "--fasta", str(fasta), "--batch-size", str(args.batch_size)]
        common += ["--device", "cpu", "--no-progress"]
        best: dict[str, tuple[float, float]] = {}
        for r in range(args.rounds):
            ref = time_reference(x_ref, args.batch_size)
            best["reference"] = min(best.get("reference", (ref, 0.0)), (ref, 0.0))
            for precision in ("fp32", "bf16"):
                out = tmp / f"{precision}.tsv"
                timing = run_predict([*common, "--precision", precision, "--out", str(out)])
                best[precision] = min(best.get(precision, timing), timing)
            print(
                f"round {r + 1}: reference {ref:.1f} s, fp32 {best['fp32'][0]:.1f} s, "
                f"bf16 {best['bf16'][0]:.1f} s (best so far)",
                file=sys.stderr,
            )

        fp32, bf16 = read_scores(tmp / "fp32.tsv"), read_scores(tmp / "bf16.tsv")
        n_check = min(512, args.records)
        with torch.inference_mode():
            direct = torch.sigmoid(model.logits(zoo.one_hot(seqs[:n_check]))).double().numpy()

    n = args.records
    ref_rate = n / best["reference"][0]
    print(f"zoo-predict end to end: {n} x 1000-bp records, full DeepSEA, batch {args.batch_size}, ", end="")
    print(f"{torch.get_num_threads()} threads, best of {args.rounds} alternating rounds")
    print("| what | seconds | records/s | x reference forward | peak RSS MiB | max abs diff |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    ref_seconds = best["reference"][0]
    print(f"| reference: Kipoi fp32 eager forward | {ref_seconds:.1f} | {ref_rate:.0f} | 1.00 | - | - |")
    diffs = {
        "fp32": float(np.abs(fp32[:n_check] - direct).max()),  # vs model.logits computed here
        "bf16": float(np.abs(bf16 - fp32).max()),  # vs the fp32 TSV
    }
    for precision in ("fp32", "bf16"):
        seconds, rss = best[precision]
        print(
            f"| zoo-predict --precision {precision} (whole process) | {seconds:.1f} | {n / seconds:.0f} "
            f"| {n / seconds / ref_rate:.2f} | {rss:.0f} | {diffs[precision]:.1e} |"
        )
    print("max abs diff: fp32 TSV vs sigmoid(model.logits) computed here; bf16 TSV vs fp32 TSV")


if __name__ == "__main__":
    main()
