"""Which inference path is faster on a GPU: the plain model or the channels-last steps?

``prepare_logits`` runs DeepSEA, Beluga and Basset as channels-last steps (batch norm
folded, activations fused as clamps, integer max-pool); the alternative is a copy of the
plain model on (N, C, L). This times both on the same inputs and weights, in fp32 (with
cuDNN's TF32 convolutions on, torch's default, and off) and bf16, and with ``--compiled``
both through torch.compile in bf16; each path's max |probability difference| is taken
against the model in float64 on the CPU.

Usage (on a GPU machine; runs on CPU too, as a smoke test):
  python scripts/bench_cuda_paths.py
  python scripts/bench_cuda_paths.py --precisions bf16 --batches 2048 --compiled
  python scripts/bench_cuda_paths.py --device cpu --models deepsea --batches 8 --calls 2
"""

from __future__ import annotations

import argparse
import contextlib
import copy
from collections.abc import Callable, Iterator

import torch
from _timing import timed
from torch.nn import functional as F

import zoo
from zoo.inference import _dna_logits_fn, _fast_strand_logits

Logits = Callable[[torch.Tensor], torch.Tensor]


@contextlib.contextmanager
def tf32_convolutions(allowed: bool) -> Iterator[None]:
    """cuDNN's TF32 convolutions on or off inside the block (torch's default is on)."""
    before = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = allowed
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = before


def plain_logits(model: torch.nn.Module, dtype: torch.dtype, device: torch.device, compiled: bool) -> Logits:
    """A copy of the plain model in ``dtype`` on (N, C, L) input: float32 logits."""
    run = copy.deepcopy(model).to(device, dtype)
    logits = torch.compile(run.logits, dynamic=False) if compiled else run.logits

    @torch.inference_mode()
    def fn(x: torch.Tensor) -> torch.Tensor:
        return logits(x.to(dtype)).float()

    return fn


def paths(
    model: torch.nn.Module, device: torch.device, precisions: list[str], compiled: bool
) -> dict[str, Logits]:
    """The candidate logits functions, by name; "steps" is prepare_logits' channels-last path."""
    out: dict[str, Logits] = {}
    for prec in precisions:
        dtype = DTYPES[prec]
        out[f"plain {prec}"] = plain_logits(model, dtype, device, compiled=False)
        strand_fn = _fast_strand_logits(model, dtype, device)
        if strand_fn is not None:
            out[f"steps {prec}"] = _dna_logits_fn(model, strand_fn, dtype, device)
        if compiled and prec == "bf16":
            out["plain bf16 compiled"] = plain_logits(model, dtype, device, compiled=True)
            if strand_fn is not None and device.type == "cuda":  # CPU: oneDNN ops inductor cannot lower
                steps = torch.compile(strand_fn, dynamic=False)
                out["steps bf16 compiled"] = _dna_logits_fn(model, steps, dtype, device)
    return out


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def main() -> None:
    """Time every path per model and batch; print seq/s and accuracy."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--models", nargs="+", default=["deepsea", "beluga", "basset"])
    p.add_argument("--batches", nargs="+", type=int, default=[256, 2048])
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=list(DTYPES))
    p.add_argument("--compiled", action="store_true", help="also bf16 through torch.compile")
    p.add_argument("--calls", type=int, default=20, help="timed calls per case (the median is kept)")
    args = p.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True  # fixed shapes: cuDNN picks each convolution's kernel
    if device.type == "cuda":
        print(f"gpu: {torch.cuda.get_device_name(device)}, torch {torch.__version__}", flush=True)
    print(f"{'model':8} {'batch':>5} {'path':22} {'seq/s':>10} {'max|dp| vs f64':>15}", flush=True)
    for name in args.models:
        torch.manual_seed(0)
        model = zoo.create_model(name).eval()
        gen = torch.Generator().manual_seed(1)
        x_all = F.one_hot(torch.randint(0, 4, (max(args.batches), model.seq_len), generator=gen), 4)
        x_all = x_all.float().transpose(1, 2).contiguous()
        x_all[:, :, :10] = 0.25  # a run of N
        with torch.no_grad():  # the float64 truth, on a slice checked for every path
            truth = torch.sigmoid(model.double().logits(x_all[:64].double())).float()
        model.float().to(device)
        candidates = paths(model, device, args.precisions, args.compiled)
        for batch in args.batches:
            x = x_all[:batch].to(device)
            for path, fn in candidates.items():
                tf32_cases = [True, False] if path.endswith("fp32") and device.type == "cuda" else [True]
                for tf32 in tf32_cases:
                    with tf32_convolutions(tf32):
                        seconds = timed(lambda fn=fn, x=x: fn(x), args.calls, warmup=3, device=device).median
                        diff = (torch.sigmoid(fn(x[:64])).cpu() - truth[: len(x)]).abs().max().item()
                    label = path + (" tf32" if tf32 and len(tf32_cases) == 2 else "")
                    print(f"{name:8} {batch:5d} {label:22} {batch / seconds:10.0f} {diff:15.1e}", flush=True)


if __name__ == "__main__":
    main()
