"""Fast inference behind one call: ``logits_fn = prepare_logits(model, precision, device)``.

Every caller that scores many batches (zoo-predict, benchmarks) goes through here, so
whatever makes inference fast lives in one place and the model's own API stays unchanged.

What makes it fast on CPU (measured with scripts/bench.py, see README "Performance"):

- ``bf16`` runs on a bfloat16 *copy* of the weights (AMX/AVX-512 bf16 matmuls), not
  under autocast, which re-casts every weight on every call.
- The convolution stacks of DeepSEA, Beluga and Basset run as channels-last 2-D
  convolutions: oneDNN's native layout, so no reorder copies between layers; on CPU
  with the weights packed once into oneDNN's blocked layout, on slices of 32 sequences
  whose activations stay in cache (the dense layers then take the whole batch).
- Batch norm is folded into the layer before it, and the activation is fused into it as
  a clamp: ReLU exactly, the original Threshold(0, 1e-6) to within 1e-6. Max-pooling
  commutes with the clamp, and on its non-negative output runs on the bits as integers.
- A convolution with few output positions (DeepSEA's third) runs as one matmul over a
  strided view of its input windows; the first dense layer's columns are reordered once
  so the channels-last features flatten without a copy.

On CUDA the same channels-last steps run on the whole batch as cuDNN convolutions
(channels-last is what the tensor cores take); with ``compile=True`` inductor fuses them.
Measured on an H100, DeepSEA bf16 at batch 2048: 172k seq/s eager and 324k compiled,
against 126k and 208k for the plain model on (N, C, L) (scripts/bench_cuda_paths.py, with
``torch.backends.cudnn.benchmark = True``, which zoo-predict sets on CUDA).

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
    about 1e-7 on CPU; on CUDA see TF32 below); ``"bf16"`` computes in bfloat16
    (probabilities within about 1e-2 of fp32).
    The model is moved to ``device`` and put in eval mode; its weights are not changed.
    The function keeps its own copy of the weights as they are now: prepare again after
    changing them. bf16 is checked against fp32 once, here; where it is wrong or fails on
    this machine (no AVX-512 for oneDNN, a broken kernel) a warning says so and fp32 is used.

    ``compile=True`` runs the model through ``torch.compile`` (the first call of each new
    batch shape compiles: seconds to tens of seconds). On CUDA it applies to every model
    (measured on an H100 in bf16: DeepSEA 1.9x eager, Basset 1.4x). On CPU it applies to
    the models without the oneDNN path below (DanQ, the image models; 1.1-1.8x there);
    DeepSEA, Beluga and Basset keep their oneDNN path, which ran 2.4x faster than anything
    inductor made of them (bf16 DeepSEA, batch 256: 1503 against 619 seq/s).

    On CUDA, fp32 convolutions follow ``torch.backends.cudnn.allow_tf32`` (torch's default:
    on): DeepSEA's probabilities were then within 8.3e-6 of float64 on an H100, and within
    8.9e-8 with it off, at a third of the speed.

    Compiled functions of one architecture share their compilation (ten DeepSEAs prepared
    in turn compiled once); each new batch shape or architecture compiles anew, up to
    torch's recompile limit (``torch._dynamo.config.cache_size_limit``, 8), past which that
    code runs uncompiled: ``torch._dynamo.reset()`` starts the count again.
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
    (compiled on CUDA only: on CPU inductor made them slower, see prepare_logits), else the
    plain model."""
    strand_fn = _fast_strand_logits(model, dtype, device)
    if strand_fn is not None:
        if compile and device.type == "cuda":
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
    from zoo.models._dna import strand_mean_logits, strand_pair

    name, seq_len, rc_average = type(model).__name__, model.seq_len, model.rc_average

    @torch.inference_mode()
    def logits_fn(x: torch.Tensor) -> torch.Tensor:
        x = check_dna(x, name, seq_len).to(device)
        if not rc_average:
            return strand_fn(x.to(dtype)).float()
        return strand_mean_logits(*strand_pair(lambda both: strand_fn(both.to(dtype)).float(), x))

    return logits_fn


def _fast_strand_logits(model: nn.Module, dtype: torch.dtype, device: torch.device) -> Step | None:
    """``classifier(conv(x))`` as channels-last steps, or None if the model is not of that shape.

    Used for models whose strand logits are exactly ``self.classifier(self.conv(x))`` and
    whose ``conv`` holds only Conv1d, BatchNorm1d, ReLU, Threshold, MaxPool1d and Dropout.
    On CPU the convolutions run on slices of the batch; on CUDA on the whole batch.
    """
    from zoo.models import Basset, Beluga, DeepSEA

    if type(model) not in (DeepSEA, Beluga, Basset):  # strand_logits == classifier(conv(x))
        return None
    on_cpu = device.type == "cpu"
    if on_cpu and dtype == torch.bfloat16 and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return None  # oneDNN's bf16 kernels need AVX-512 (or AVX-NE-CONVERT); plain torch bf16 works

    steps = _channels_last_steps(list(model.conv), dtype)
    if steps is None:
        return None
    channels = [m.out_channels for m in model.conv if isinstance(m, nn.Conv1d)][-1]
    dense = _dense_steps(list(model.classifier), dtype, channels)
    if dense is None:  # a classifier of other layers: run it as it is, on (N, C, L)
        classifier = copy.deepcopy(model.classifier).to(dtype)
        dense = [lambda h: classifier(h.transpose(1, 2))]

    def conv_features(x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2).contiguous()  # (N, L, C): channels last
        for step in steps:
            h = step(h)
        return h

    def strand_fn(x: torch.Tensor) -> torch.Tensor:
        # On CPU the convolutions run on slices of _CONV_ROWS sequences, whose activations
        # stay in cache; the dense layers on the whole batch, which reads their weights once.
        parts = [conv_features(part) for part in x.split(_CONV_ROWS)] if on_cpu else [conv_features(x)]
        h = parts[0] if len(parts) == 1 else torch.cat(parts)
        for step in dense:
            h = step(h)
        return h

    return strand_fn


def _dense_steps(layers: list[nn.Module], dtype: torch.dtype, channels: int) -> list[Step] | None:
    """Steps equivalent to a classifier ``Flatten, Linear, [BatchNorm1d], [activation], ...`` in
    eval mode, taking the conv features as (N, L, C); None for any other classifier.

    The first Linear's weight columns are reordered from the Flatten's channel-major (C, L)
    order to (L, C), so the channels-last features flatten without a copy.
    """
    layers = [m for m in layers if not isinstance(m, nn.Dropout)]  # identity in eval
    if not layers or not isinstance(layers[0], nn.Flatten) or layers[0].start_dim != 1:
        return None
    if len(layers) < 2 or not isinstance(layers[1], nn.Linear) or layers[1].in_features % channels:
        return None
    steps: list[Step] = [lambda h: h.reshape(len(h), -1)]
    i, first = 1, True
    while i < len(layers):
        layer = layers[i]
        if not isinstance(layer, nn.Linear):
            floor = _activation_floor(layer)
            if floor is None:
                return None
            steps.append(_clamp_step(floor))
            i += 1
            continue
        bn = layers[i + 1] if i + 1 < len(layers) and isinstance(layers[i + 1], nn.BatchNorm1d) else None
        i += 2 if bn is not None else 1
        floor = _activation_floor(layers[i]) if i < len(layers) else None
        if floor is not None:
            i += 1
        with torch.no_grad():
            weight = layer.weight.detach()
            bias = layer.bias.detach() if layer.bias is not None else weight.new_zeros(layer.out_features)
            folded = _fold_batch_norm(weight, bias, bn)
            if folded is None:
                return None
            weight, bias = folded[0].to(dtype), folded[1].to(dtype)
            if first:  # (out, C * L) channel-major -> (out, L * C) position-major
                weight = weight.view(len(weight), channels, -1).transpose(1, 2).reshape(len(weight), -1)
        steps.append(_linear_step(weight.contiguous(), bias, floor))
        first = False
    return steps


def _fold_batch_norm(
    weight: torch.Tensor, bias: torch.Tensor, bn: nn.BatchNorm1d | None
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(weight, bias) of a layer followed by eval-mode ``bn``, as one layer (float32 when folded)."""
    if bn is None:  # copies: the prepared function keeps the weights as they were
        return weight.clone(), bias.clone()
    if bn.running_mean is None or bn.running_var is None:
        return None
    weight, bias = weight.float(), bias.float()
    scale = torch.rsqrt(bn.running_var.float() + bn.eps)
    if bn.affine:
        scale = scale * bn.weight.detach().float()
    bias = (bias - bn.running_mean.float()) * scale
    if bn.affine:
        bias = bias + bn.bias.detach().float()
    return weight * scale.view(-1, *([1] * (weight.dim() - 1))), bias


def _post_op(floor: float | None) -> tuple[str, list[float]]:
    """oneDNN's fused post-op for ``clamp_min(floor)`` (none when ``floor`` is None)."""
    if floor is None:
        return "none", []
    if floor == 0.0:
        return "relu", []
    return "hardtanh", [floor, torch.finfo(torch.float32).max]


def _linear_step(weight: torch.Tensor, bias: torch.Tensor, floor: float | None) -> Step:
    """``clamp_min(linear(h), floor)``, fused by oneDNN on CPU."""
    return lambda h: _fused_linear(h, weight, bias, floor)


def _fused_linear(
    h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, floor: float | None
) -> torch.Tensor:
    """``clamp_min(linear(h), floor)``: one oneDNN call with the clamp fused on CPU, eager."""
    if h.device.type == "cpu" and _MKLDNN:
        attr, scalars = _post_op(floor)
        return torch.ops.mkldnn._linear_pointwise(h, weight, bias, attr, scalars, "")
    out = F.linear(h, weight, bias)
    return out if floor is None else out.clamp_min_(floor)


def _channels_last_steps(layers: list[nn.Module], dtype: torch.dtype) -> list[Step] | None:
    """Steps on (N, L, C) tensors equivalent to ``layers`` in eval mode; None if unsupported."""
    layers = [m for m in layers if not isinstance(m, nn.Dropout)]  # identity in eval
    steps: list[Step] = []
    nonnegative = False  # whether every value of h is known to be >= 0 (after a clamp at >= 0)
    i = 0
    while i < len(layers):
        layer = layers[i]
        if isinstance(layer, nn.Conv1d):
            # fold a following batch norm into the convolution, and fuse the activation after it
            bn = layers[i + 1] if i + 1 < len(layers) and isinstance(layers[i + 1], nn.BatchNorm1d) else None
            i += 2 if bn is not None else 1
            floor = _activation_floor(layers[i]) if i < len(layers) else None
            if floor is not None:
                i += 1
            step = _conv_step(layer, bn, dtype, floor)
            nonnegative = floor is not None and floor >= 0.0
        elif _is_activation(layer):
            floor = _activation_floor(layer)
            step = None if floor is None else _clamp_step(floor)
            nonnegative = nonnegative or (floor is not None and floor >= 0.0)
            i += 1
        elif isinstance(layer, nn.MaxPool1d):
            step = _pool_step(layer, nonnegative)
            i += 1
        else:
            return None
        if step is None:
            return None
        steps.append(step)
    return steps


def _is_activation(layer: nn.Module) -> bool:
    return isinstance(layer, (nn.ReLU, nn.Threshold))


def _activation_floor(layer: nn.Module) -> float | None:
    """The ``v`` for which ``layer`` is ``clamp_min(v)`` (to within 1e-5); None if there is none.

    ReLU is clamp_min(0) exactly; Threshold(th, v) with th <= v <= th + 1e-5 differs from
    clamp_min(v) only for inputs in (th, v], by at most v - th. A clamp commutes with
    max-pooling, so it can run fused into the convolution before the pool.
    """
    if isinstance(layer, nn.ReLU):
        return 0.0
    if isinstance(layer, nn.Threshold):
        th, value = float(layer.threshold), float(layer.value)
        return value if 0.0 <= value - th <= _MAX_THRESHOLD_SHIFT else None
    return None


def _clamp_step(floor: float) -> Step:
    return lambda h: h.clamp_min_(floor)


def _pool_step(pool: nn.MaxPool1d, nonnegative: bool = False) -> Step | None:
    """Non-overlapping max-pool over L of (N, L, C): a reshape and a vectorised max over rows.

    On ``nonnegative`` input the max runs on the float bits read as integers: for floats
    >= 0 the bit patterns order as the values do, and an integer max is about 2.5x faster
    than a bfloat16 one (which converts every element to float32).
    """
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
        bits = _SAME_SIZE_INT.get(h.dtype) if nonnegative else None
        if bits is None:
            return h[:, : out * k].reshape(n, out, k, c).amax(2)
        return h.view(bits)[:, : out * k].reshape(n, out, k, c).amax(2).view(h.dtype)

    return step


_SAME_SIZE_INT = {torch.bfloat16: torch.int16, torch.float16: torch.int16, torch.float32: torch.int32}


def _conv_step(
    conv: nn.Conv1d, bn: nn.BatchNorm1d | None, dtype: torch.dtype, floor: float | None
) -> Step | None:
    """A valid, unit-stride Conv1d (+ eval batch norm, + ``clamp_min(floor)``) as a channels-last
    Conv2d on (N, L, C); on CPU through oneDNN with the weights packed once and the clamp fused."""
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
        bias = conv.bias.detach().float() if conv.bias is not None else weight.new_zeros(conv.out_channels)
        folded = _fold_batch_norm(weight, bias, bn)
        if folded is None:
            return None
        weight, bias = folded
        weight = weight[:, :, None, :].to(dtype).contiguous(memory_format=torch.channels_last)
        bias = bias.to(dtype)
    attr, scalars = _post_op(floor)
    k = weight.shape[-1]
    # (C_out, k * C_in) with the taps outermost: a window of k channels-last positions, flat
    weight_2d = weight.squeeze(2).permute(0, 2, 1).reshape(len(weight), -1).contiguous()
    packed: list[torch.Tensor] = []

    def step(h: torch.Tensor) -> torch.Tensor:
        n, length, c = h.shape
        if h.device.type != "cpu" or not _MKLDNN:
            out = F.conv2d(h.transpose(1, 2).unsqueeze(2), weight, bias).squeeze(2).transpose(1, 2)
            return out if floor is None else out.clamp_min_(floor)
        if length - k + 1 < _MIN_CONV_POSITIONS:
            # Few output positions leave oneDNN's conv tiles part empty: as one matmul over
            # (N * positions) rows of k * C_in inputs (a strided view of h, no im2col loop).
            h = h.contiguous()  # (a no-op here: steps make contiguous outputs)
            windows = h.as_strided((n, length - k + 1, k * c), (length * c, c, 1))
            return _fused_linear(windows, weight_2d, bias, floor)
        # (N, L, C) contiguous is (N, C, 1, L) in channels-last strides: oneDNN's own layout
        x = h.transpose(1, 2).unsqueeze(2)
        if not packed:  # oneDNN's blocked weight layout, made once instead of on every call
            packed.append(_pack_conv_weight(weight, x.shape))
        out = torch.ops.mkldnn._convolution_pointwise(
            x, packed[0], bias, [0, 0], [1, 1], [1, 1], 1, attr, scalars, ""
        )
        return out.squeeze(2).transpose(1, 2)

    return step


_MKLDNN = torch.backends.mkldnn.is_available()
# Below this many output positions a convolution runs faster as one matmul (DeepSEA's third
# convolution, 53 positions: 50 instead of 75 ms per 256 sequences in bf16).
_MIN_CONV_POSITIONS = 128
# Sequences per slice through the convolutions: small enough for the first layer's
# activations (N x 993 x 320 for DeepSEA) to stay in cache; 32 measured best of 16-256.
_CONV_ROWS = 32


def _pack_conv_weight(weight: torch.Tensor, input_shape: torch.Size) -> torch.Tensor:
    return torch._C._nn.mkldnn_reorder_conv2d_weight(
        weight.to_mkldnn(), [0, 0], [1, 1], [1, 1], 1, list(input_shape)
    )


def _single(value: int | tuple[int, ...]) -> int:
    return value[0] if isinstance(value, tuple) else int(value)
