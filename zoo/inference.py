"""Fast inference behind one call: ``logits_fn = prepare_logits(model, precision, device)``.

Every caller that scores many batches (zoo-predict, benchmarks) goes through here, so
whatever makes inference fast lives in one place and the model's own API stays unchanged.

What makes it fast on CPU (measured with scripts/bench.py, see README "Performance"):

- ``bf16`` runs on a bfloat16 *copy* of the weights (AMX/AVX-512 bf16 matmuls), not
  under autocast, which re-casts every weight on every call.
- The convolution stacks of DeepSEA, Beluga and Basset run as channels-last 2-D
  convolutions: oneDNN's native layout, so no reorder copies between layers.
- Max-pooling runs before the activation: ReLU commutes with max exactly, and the
  original Threshold(0, 1e-6) moves each value by at most 1e-6, so the element-wise
  work shrinks by the pool size. Batch norm after a convolution is folded into it.

The fast stack is only used for models whose ``conv`` block is made of the layers it
knows; any other model (DanQ, image models) gets the plain ``model.logits`` with bf16
weights. The model passed in is moved to the device and put in eval mode, nothing more.

bf16 is checked once against fp32 on two random inputs when prepared: torch 2.14.1's
oneDNN computes some bf16 convolutions wrongly (8 or 12 input channels, kernel 8), and a
model that hits such a kernel falls back to fp32 with a warning instead of wrong output.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}

# A Threshold(th, value) may be moved after a max-pool only if that moves outputs by a
# negligible amount: value - th bounds the change (0 for ReLU-like thresholds).
_MAX_THRESHOLD_SHIFT = 1e-5
# bf16 logits further than this (relative to their range) from fp32 mean a broken kernel.
_MAX_BF16_ERROR = 0.1

Step = Callable[[torch.Tensor], torch.Tensor]


def prepare_logits(
    model: nn.Module,
    precision: Precision = "fp32",
    device: str | torch.device = "cpu",
    *,
    compile: bool = False,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function mapping an input batch to the model's float32 logits, in eval mode.

    ``precision="fp32"`` gives probabilities within 1e-5 of ``model.logits`` (in practice
    about 1e-7); ``"bf16"`` computes in bfloat16 (probabilities within about 1e-2 of fp32).
    The model is moved to ``device`` and put in eval mode; its weights are not changed.

    ``compile=True`` runs the model through ``torch.compile``: about 1.3x faster per batch
    on CPU, but the first call of each new batch shape compiles (10-30 s on 2 cores), so
    it pays only for runs of many thousands of sequences.
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
    dtype = _DTYPES[precision]
    if precision == "bf16":  # checked uncompiled: a probe batch must not cost a compilation
        error = _relative_logit_error(model, _build(model, dtype, device, compile=False), device)
        if error > _MAX_BF16_ERROR:
            warnings.warn(
                f"bf16 inference of {type(model).__name__} is wrong on this machine (logits off by "
                f"{error:.0%} of their range against fp32; a oneDNN bf16 convolution bug hits some "
                "channel counts): using fp32 instead",
                RuntimeWarning,
                stacklevel=2,
            )
            dtype = torch.float32
    return _build(model, dtype, device, compile)


def _build(
    model: nn.Module, dtype: torch.dtype, device: torch.device, compile: bool
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The logits function for one dtype: the channels-last stack when the model allows it."""
    strand_fn = _fast_strand_logits(model, dtype) if device.type == "cpu" else None
    if strand_fn is not None:
        return _dna_logits_fn(model, _compiled(strand_fn) if compile else strand_fn, dtype, device)
    run = model if dtype == torch.float32 else copy.deepcopy(model).to(dtype)
    run_logits = _compiled(run.logits) if compile else run.logits

    @torch.inference_mode()
    def logits_fn(x: torch.Tensor) -> torch.Tensor:
        x = x.to(device, non_blocking=True)
        if x.is_floating_point():
            x = x.to(dtype)
        return run_logits(x).float()

    return logits_fn


def _compiled(fn: Step) -> Step:
    """``torch.compile(fn)`` for fixed shapes: one compilation per batch shape, none per call."""
    return torch.compile(fn, dynamic=False)


def _relative_logit_error(
    model: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor], device: torch.device
) -> float:
    """max |fn - model.logits| / max |model.logits| on two random inputs; 0 if the input is unknown.

    bf16 is off by about 1% of the logit range; a broken kernel is off by ~100%.
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
        expected = model.logits(x).float()
        return ((fn(x) - expected).abs().max() / expected.abs().max().clamp_min(1e-6)).item()


def _dna_logits_fn(
    model: nn.Module, strand_fn: Step, dtype: torch.dtype, device: torch.device
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``model.logits`` (input checks and strand averaging included) around a fast strand function."""
    from zoo._checks import check_dna
    from zoo.dna import reverse_complement
    from zoo.models._dna import strand_mean_logits

    name, seq_len, rc_average = type(model).__name__, model.seq_len, model.rc_average

    @torch.inference_mode()
    def logits_fn(x: torch.Tensor) -> torch.Tensor:
        x = check_dna(x, name, seq_len).to(device)
        if not rc_average:
            return strand_fn(x.to(dtype)).float()
        both = strand_fn(torch.cat([x, reverse_complement(x)]).to(dtype)).float()
        forward, reverse = both.chunk(2)
        return strand_mean_logits(forward, reverse)

    return logits_fn


def _fast_strand_logits(model: nn.Module, dtype: torch.dtype) -> Step | None:
    """``classifier(conv(x))`` as channels-last steps, or None if the model is not of that shape.

    Used for models whose strand logits are exactly ``self.classifier(self.conv(x))`` and
    whose ``conv`` holds only Conv1d, BatchNorm1d, ReLU, Threshold, MaxPool1d and Dropout.
    """
    from zoo.models import Basset, Beluga, DeepSEA

    if type(model) not in (DeepSEA, Beluga, Basset):  # strand_logits == classifier(conv(x))
        return None
    steps = _channels_last_steps(list(model.conv), dtype)
    if steps is None:
        return None
    classifier = model.classifier if dtype == torch.float32 else copy.deepcopy(model.classifier).to(dtype)

    def strand_fn(x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2).contiguous()  # (N, L, C): channels last
        for step in steps:
            h = step(h)
        return classifier(h.transpose(1, 2))  # back to (N, C, L) for the channel-major flatten

    return strand_fn


def _channels_last_steps(layers: list[nn.Module], dtype: torch.dtype) -> list[Step] | None:
    """Steps on (N, L, C) tensors equivalent to ``layers`` in eval mode; None if unsupported."""
    layers = [m for m in layers if not isinstance(m, nn.Dropout)]  # identity in eval
    steps: list[Step] = []
    i = 0
    while i < len(layers):
        layer = layers[i]
        if isinstance(layer, nn.Conv1d):
            # fold a following batch norm into the convolution
            bn = layers[i + 1] if i + 1 < len(layers) and isinstance(layers[i + 1], nn.BatchNorm1d) else None
            step = _conv_step(layer, bn, dtype)
            i += 2 if bn is not None else 1
        elif _is_activation(layer) and i + 1 < len(layers) and isinstance(layers[i + 1], nn.MaxPool1d):
            # max-pool first: the activation then touches pool-size times fewer values
            pool, act = _pool_step(layers[i + 1]), _activation_step(layer)
            if pool is None or act is None:
                return None
            steps += [pool, act]
            i += 2
            continue
        elif _is_activation(layer):
            step = _activation_step(layer)
            i += 1
        elif isinstance(layer, nn.MaxPool1d):
            step = _pool_step(layer)
            i += 1
        else:
            return None
        if step is None:
            return None
        steps.append(step)
    return steps


def _is_activation(layer: nn.Module) -> bool:
    return isinstance(layer, (nn.ReLU, nn.Threshold))


def _activation_step(layer: nn.Module) -> Step | None:
    if isinstance(layer, nn.ReLU):
        return lambda h: h.clamp_min_(0.0)
    th, value = float(layer.threshold), float(layer.value)
    if not 0.0 <= value - th <= _MAX_THRESHOLD_SHIFT:
        return None
    return lambda h: F.threshold(h, th, value, inplace=True)


def _pool_step(pool: nn.MaxPool1d) -> Step | None:
    """Non-overlapping max-pool over L of (N, L, C): a reshape and a vectorised max over rows."""
    k = _single(pool.kernel_size)
    if (
        _single(pool.stride) != k
        or _single(pool.padding) != 0
        or _single(pool.dilation) != 1
        or pool.ceil_mode
        or pool.return_indices
    ):
        return None

    def step(h: torch.Tensor) -> torch.Tensor:
        n, length, c = h.shape
        out = length // k
        return h[:, : out * k].reshape(n, out, k, c).amax(2)

    return step


def _conv_step(conv: nn.Conv1d, bn: nn.BatchNorm1d | None, dtype: torch.dtype) -> Step | None:
    """A valid, unit-stride Conv1d (+ eval batch norm) as a channels-last Conv2d on (N, L, C)."""
    if (
        conv.groups != 1
        or _single(conv.stride) != 1
        or _single(conv.dilation) != 1
        or conv.padding not in ((0,), 0, "valid")
        or conv.padding_mode != "zeros"
    ):
        return None
    with torch.no_grad():
        weight = conv.weight.detach().float()
        bias = conv.bias.detach().float() if conv.bias is not None else torch.zeros(conv.out_channels)
        if bn is not None:
            if bn.running_mean is None or bn.running_var is None:
                return None
            scale = torch.rsqrt(bn.running_var.float() + bn.eps)
            if bn.affine:
                scale = scale * bn.weight.detach().float()
            bias = (bias - bn.running_mean.float()) * scale
            if bn.affine:
                bias = bias + bn.bias.detach().float()
            weight = weight * scale[:, None, None]
        weight = weight[:, :, None, :].to(dtype).contiguous(memory_format=torch.channels_last)
        bias = bias.to(dtype)

    def step(h: torch.Tensor) -> torch.Tensor:
        # (N, L, C) contiguous is (N, C, 1, L) in channels-last strides: oneDNN's own layout
        out = F.conv2d(h.transpose(1, 2).unsqueeze(2), weight, bias)
        return out.squeeze(2).transpose(1, 2)

    return step


def _single(value: int | tuple[int, ...]) -> int:
    return value[0] if isinstance(value, tuple) else int(value)
