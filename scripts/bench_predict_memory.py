"""Peak memory of zoo-predict for 100, 10 k and 200 k FASTA records: streaming keeps it flat.

python scripts/bench_predict_memory.py [--records 100 10000 200000] [--seq-len 500] [--targets 100]

Each run happens in a fresh Python process (so each peak is its own) that scores a
random FASTA with a scaled-down DeepSEA and writes a TSV; the table shows the peak
resident set size (VmHWM) of that process next to the input and output sizes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_fasta(path: Path, n: int, seq_len: int, seed: int = 0) -> None:
    """``n`` random records of ``seq_len`` bases, written in blocks (the writer stays small too)."""
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(path, "wb") as f:
        for start in range(0, n, 10_000):
            block = alphabet[rng.integers(0, 4, size=(min(10_000, n - start), seq_len))]
            f.write(b"".join(b">r%d\n%s\n" % (start + i, row.tobytes()) for i, row in enumerate(block)))


def child(fasta: str, weights: str, out: str, batch_size: int) -> None:
    """Run zoo-predict in this process and print its peak RSS in MiB."""
    from zoo.cli.predict import call as run

    code = run(["--weights", weights, "--fasta", fasta, "--out", out, "--batch-size", str(batch_size),
                "--device", "cpu", "--no-progress"])  # fmt: skip
    # VmHWM is this process's own peak; ru_maxrss would also count the parent's memory at fork.
    peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(f"{code} {peak_kib / 1024:.1f}")


def main() -> None:
    """Build the model and inputs, run each size in a fresh process, print the table."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, nargs="+", default=[100, 10_000, 200_000])
    p.add_argument("--seq-len", type=int, default=500)
    p.add_argument("--targets", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--child", nargs=4, metavar=("FASTA", "WEIGHTS", "OUT", "BATCH"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(*args.child[:3], int(args.child[3]))
        return

    import torch

    import zoo

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        torch.manual_seed(0)
        model = zoo.create_model(
            "deepsea", seq_len=args.seq_len, n_targets=args.targets, hidden=32, conv_channels=(16, 16, 16)
        )
        weights = zoo.save_weights(model, tmp_dir / "small_deepsea.safetensors")
        n_params = sum(p.numel() for p in model.parameters())
        print(f"model: deepsea seq_len={args.seq_len} n_targets={args.targets} hidden=32 "
              f"conv_channels=(16,16,16), {n_params:,} parameters; batch size {args.batch_size}; "
              f"torch threads {torch.get_num_threads()}")  # fmt: skip
        columns = ["records", "FASTA MiB", "TSV MiB", "seconds", "records/s", "peak RSS MiB"]
        print(" ".join(f"{c:>{w}}" for c, w in zip(columns, [9, 10, 9, 8, 10, 13])))
        for n in args.records:
            fasta, out = tmp_dir / f"r{n}.fa", tmp_dir / f"r{n}.tsv"
            write_fasta(fasta, n, args.seq_len)
            start = time.perf_counter()
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    str(fasta),
                    str(weights),
                    str(out),
                    str(args.batch_size),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            seconds = time.perf_counter() - start
            code, peak = done.stdout.split()
            if code != "0":
                raise SystemExit(f"zoo-predict failed on {n} records:\n{done.stderr}")
            mib = 1024 * 1024
            print(f"{n:>9,} {fasta.stat().st_size / mib:>10.1f} {out.stat().st_size / mib:>9.1f} "
                  f"{seconds:>8.1f} {n / seconds:>10,.0f} {float(peak):>13.1f}")  # fmt: skip
            os.unlink(fasta)
            os.unlink(out)


if __name__ == "__main__":
    main()
