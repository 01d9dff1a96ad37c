"""Fast inference behind one call: ``logits_fn = prepare_logits(model, precision, device)``.

Every caller that scores many batches (zoo-predict, ISM, benchmarks) goes through here, so
whatever makes inference fast lives in one place and the model's own API stays unchanged.

What makes it fast (scripts/bench.py times it; see README "Performance"):

- ``bf16`` runs on a bfloat16 *copy* of the weights (AMX/AVX-512 bf16 matmuls), not
  under autocast, which re-casts every weight on every call.
- A DNA model is lowered to its plan (``zoo.plan``: batch norm folded, activations as
  clamps); where the plan's convolution stack has channels-last kernels (DeepSEA, Beluga,
  Basset, and Sei with its padded and dilated convolutions, residual blocks and spline) it
  runs as channels-last steps (``zoo.inference.channels_last``) with the activations fused, the
  oneDNN calls in ``zoo.inference.onednn``, which falls back to public torch ops where they
  are unavailable. Those steps are exact on finite values only, so every batch passes the
  finite-value guard (``zoo.inference.guard``) or runs the same steps unfused.
- On CUDA the channels-last steps run on the whole batch as cuDNN convolutions, faster than
  the plain model on (N, C, L); with ``compile=True`` inductor fuses them.
  scripts/bench_cuda_paths.py compares the two.

Any other model (DanQ, the image models) gets the plain ``model.logits`` with bf16
weights. The model passed in is moved to the device and put in eval mode, nothing more.

bf16 is checked once against fp32 on two random inputs when prepared: torch 2.14.1's
oneDNN computes some bf16 convolutions wrongly (8 or 12 input channels, kernel 8), and a
model that hits such a kernel falls back to fp32 with a warning instead of wrong output.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from zoo._checks import NonFiniteWarning, check_dna, list_names, non_finite_tensors
from zoo._types import PRECISIONS, Precision
from zoo.inference.channels_last import fast_strand_logits
from zoo.inference.guard import GuardedSteps, TensorFn
from zoo.models._dna import strand_mean_logits, strand_pair
from zoo.plan import Plan, lower

__all__ = ["PRECISIONS", "PRECISION_DTYPES", "Precision", "prepare_logits"]

# The torch type each precision computes in.
PRECISION_DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16}
# bf16 logits further than this (relative to their range) from fp32 mean a broken kernel.
_MAX_BF16_ERROR = 0.1


def prepare_logits(
    model: nn.Module,
    precision: Precision = "fp32",
    device: str | torch.device = "cpu",
    *,
    compile: bool = False,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function mapping an input batch to the model's float32 logits, in eval mode.

    The model is moved to ``device`` and put in eval mode; its weights are not changed.
    Weights holding NaN or infinities get a :class:`zoo._checks.NonFiniteWarning` naming
    them; the function then gives NaN and infinities where ``model.logits`` does (so does
    non-finite input). An empty batch gives an empty (0, n_targets) result.
    The function keeps its own copy of the weights as they are now: prepare again after
    changing them. bf16 is checked against fp32 once, here; where it is wrong or fails on
    this machine (no AVX-512 for oneDNN, a broken kernel) a warning says so and fp32 is used.

    ``compile=True`` runs the model through ``torch.compile`` (the first call of each new
    batch shape compiles, which takes seconds). On CUDA it applies to every model. On CPU it
    applies to the models without the channels-last path (DanQ, the image models); DeepSEA,
    Beluga, Basset and Sei keep their oneDNN path uncompiled, because inductor made them slower
    than that path.

    On CUDA, fp32 convolutions follow ``torch.backends.cudnn.allow_tf32`` (torch's default:
    on), which trades convolution precision for speed; turn it off for logits closest to
    float64.

    Compiled functions of one architecture share their compilation (models of the same
    architecture prepared in turn compile once); each new batch shape or architecture
    compiles anew, up to torch's recompile limit (``torch._dynamo.config.cache_size_limit``),
    past which that code runs uncompiled: ``torch._dynamo.reset()`` starts the count again.

    Args:
        model: the model.
        precision: ``"fp32"`` gives probabilities within 1e-5 of ``model.logits`` (on CUDA see
            TF32 above); ``"bf16"`` computes in bfloat16 (probabilities within about 1e-2 of
            fp32).
        device: where to run the model.
        compile: run the model through ``torch.compile`` (see above).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {list(PRECISIONS)}")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not a torch device (e.g. 'cpu', 'cuda', 'cuda:1')") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for, but torch sees no CUDA device")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device={str(device)!r} is not supported; use 'cpu' or 'cuda'")
    if not callable(getattr(model, "logits", None)):
        raise ValueError(
            f"prepare_logits needs a zoo model with a .logits method, got {type(model).__name__}"
        )
    model = model.to(device).eval()
    broken = non_finite_tensors(model.state_dict())
    if broken:
        warnings.warn(
            f"{type(model).__name__} has NaN or infinite weights in {list_names(broken)}: "
            "the outputs they reach are NaN or infinite",
            NonFiniteWarning,
            stacklevel=2,
        )
    dtype = PRECISION_DTYPES[precision]
    if precision == "bf16":  # checked uncompiled: a probe batch must not cost a compilation
        try:
            uncompiled = _build(model, dtype, device, compile=False)
            error = _relative_logit_error(model, uncompiled, device)
            problem = (
                f"logits off by {error:.0%} of their range against fp32; a oneDNN bf16 convolution "
                "bug hits some channel counts"
            )
        except RuntimeError as err:  # e.g. a bf16 kernel this CPU lacks
            error, problem = float("inf"), f"bf16 failed: {str(err).splitlines()[0]}"
        if error <= _MAX_BF16_ERROR and not compile:
            return uncompiled
        if error > _MAX_BF16_ERROR:
            warnings.warn(
                f"bf16 inference of {type(model).__name__} is wrong on this machine ({problem}): "
                "using fp32 instead",
                RuntimeWarning,
                stacklevel=2,
            )
            dtype = torch.float32
    return _build(model, dtype, device, compile)


def _build(
    model: nn.Module, dtype: torch.dtype, device: torch.device, compile: bool
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The logits function for one dtype: the channels-last steps when the model allows them
    (compiled on CUDA only: on CPU inductor was slower than the oneDNN path, so compile=True
    leaves that path uncompiled), else the plain model."""
    strand_fn = _fast_strand_logits(model, dtype, device)
    if strand_fn is not None:
        if compile and device.type == "cuda":
            if isinstance(strand_fn, GuardedSteps):  # the per-batch check stays outside the graph
                strand_fn.fast = _compiled(strand_fn.fast)
            else:
                strand_fn = _compiled(strand_fn)
        return _dna_logits_fn(model, strand_fn, dtype, device)
    run = copy.deepcopy(model).to(dtype)  # a copy: later changes to ``model`` do not leak in
    run_logits = _compiled(run.logits) if compile else run.logits

    @torch.inference_mode()
    def logits_fn(x: torch.Tensor) -> torch.Tensor:
        x = x.to(device, non_blocking=True)
        if x.is_floating_point():
            x = x.to(dtype)
        return run_logits(x).float()

    return logits_fn


def _compiled(fn: TensorFn) -> TensorFn:
    """``torch.compile(fn)`` for fixed shapes: one compilation per batch shape, none per call."""
    return torch.compile(fn, dynamic=False)


def _relative_logit_error(
    model: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor], device: torch.device
) -> float:
    """max |fn - model.logits| / max |model.logits| on two random inputs, over the finite logits
    (inf where fn and the model disagree on which are finite); 0 if the input is unknown.

    bf16 rounding moves the logits by a small fraction of their range; a broken kernel by
    about all of it, so a bound between the two (``_MAX_BF16_ERROR``) tells them apart.
    """
    gen = torch.Generator().manual_seed(0)
    seq_len, in_size = getattr(model, "seq_len", None), getattr(model, "in_size", None)
    if isinstance(seq_len, int):
        x = F.one_hot(torch.randint(0, 4, (2, seq_len), generator=gen), 4).float().transpose(1, 2)
    elif isinstance(in_size, int):
        x = torch.randn(2, in_size, generator=gen)
    else:
        return 0.0
    x = x.contiguous().to(device)
    with torch.inference_mode():
        expected, got = model.logits(x).float(), fn(x)
        finite = torch.isfinite(expected)
        if not torch.equal(finite, torch.isfinite(got)):
            return math.inf  # NaN or infinities where fp32 has none, or the other way round
        if not finite.any():
            return 0.0  # nothing to compare: broken weights, which prepare_logits warns about
        expected, got = expected[finite], got[finite]
        return ((got - expected).abs().max() / expected.abs().max().clamp_min(1e-6)).item()


def _dna_logits_fn(
    model: nn.Module, strand_fn: TensorFn, dtype: torch.dtype, device: torch.device
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``model.logits`` (input checks and strand averaging included) around a fast strand function."""
    name, seq_len, rc_average = type(model).__name__, model.seq_len, model.rc_average

    @torch.inference_mode()
    def logits_fn(x: torch.Tensor) -> torch.Tensor:
        x = check_dna(x, name, seq_len).to(device)
        if not rc_average:
            return strand_fn(x.to(dtype)).float()
        return strand_mean_logits(*strand_pair(lambda both: strand_fn(both.to(dtype)).float(), x))

    return logits_fn


def _fast_strand_logits(model: nn.Module, dtype: torch.dtype, device: torch.device) -> GuardedSteps | None:
    """The model's strand logits as channels-last steps, or None where its plan has none
    (no plan, or ops without a channels-last kernel)."""
    plan = lower(model)
    return fast_strand_logits(plan, dtype, device) if isinstance(plan, Plan) else None
