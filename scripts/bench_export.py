"""onnxruntime on CPU against the zoo's own fast path, same run: paper-size models exported
with zoo.export, one batch of one-hot DNA (with N) scored by each.

Three contenders per model, timed in alternating rounds (best of the rounds):
``zoo fast path`` (``zoo.inference.prepare_logits``, fp32, then the sigmoid), ``eager``
(``model(x)``, plain PyTorch) and ``onnxruntime`` (the exported ONNX file, CPU execution
provider, as many threads as torch uses). Prints sequences per second and each one's time as
a ratio to the fast path's, and the largest difference of onnxruntime's probabilities from
the zoo's.

Usage: python scripts/bench_export.py [--models deepsea,basset] [--batch 64] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import torch
from _timing import alternate_best

import zoo
from zoo.export import export_onnx
from zoo.inference import prepare_logits


def one_hot_batch(batch: int, seq_len: int) -> torch.Tensor:
    """Random one-hot DNA, every 50th position N (0.25 in each channel)."""
    bases = torch.randint(0, 4, (batch, seq_len), generator=torch.Generator().manual_seed(0))
    x = torch.nn.functional.one_hot(bases, 4).transpose(1, 2).float().contiguous()
    x[:, :, ::50] = 0.25
    return x


def bench(name: str, batch: int, rounds: int, folder: str) -> str:
    """Export ``name`` at its paper size, time the three contenders; one table row."""
    import onnxruntime as ort

    torch.manual_seed(0)
    model = zoo.create_model(name).eval()
    path = export_onnx(model, os.path.join(folder, f"{name}.onnx"))
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    onnx_model = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
    fast = prepare_logits(model)
    x = one_hot_batch(batch, model.seq_len)
    feed = {"input": x.numpy()}

    def zoo_fast() -> torch.Tensor:
        with torch.no_grad():
            return torch.sigmoid(fast(x))

    def eager() -> torch.Tensor:
        with torch.no_grad():
            return model(x)

    best = alternate_best(
        {"zoo": zoo_fast, "eager": eager, "ort": lambda: onnx_model.run(None, feed)}, rounds=rounds
    )
    diff = float(np.abs(onnx_model.run(None, feed)[0] - zoo_fast().numpy()).max())
    rate = {k: batch / v for k, v in best.items()}
    return (
        f"| {name} | {batch} | {rate['zoo']:.0f} | {rate['eager']:.0f} | {rate['ort']:.0f} "
        f"| {best['ort'] / best['zoo']:.2f} | {best['eager'] / best['zoo']:.2f} | {diff:.1e} |"
    )


def main() -> None:
    """Benchmark each model; print a Markdown table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="deepsea,basset")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    import onnxruntime as ort

    print(
        f"torch {torch.__version__}, onnxruntime {ort.__version__}, {torch.get_num_threads()} threads, "
        f"batch {args.batch}, best of {args.rounds} alternating rounds"
    )
    print(
        "| model | batch | zoo fast path seq/s | eager seq/s | onnxruntime seq/s "
        "| onnxruntime time / fast path | eager time / fast path | max abs diff (probabilities) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            print(bench(name, args.batch, args.rounds, folder), flush=True)


if __name__ == "__main__":
    main()
