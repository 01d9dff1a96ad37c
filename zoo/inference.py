"""Fast inference behind one call: ``logits_fn = prepare_logits(model, precision, device)``.

Every caller that scores many batches (zoo-predict, benchmarks) goes through here, so
whatever makes inference fast lives in one place and the model's own API stays unchanged.

What makes it fast on CPU (scripts/bench.py times it; see README "Performance"):

- ``bf16`` runs on a bfloat16 *copy* of the weights (AMX/AVX-512 bf16 matmuls), not
  under autocast, which re-casts every weight on every call.
- The convolution stacks of the DNA models whose strand logits are ``classifier(conv(x))``
  (DeepSEA, Beluga, Basset) run as channels-last 2-D convolutions: oneDNN's native layout,
  so no reorder copies between layers; on CPU with the weights packed once into oneDNN's
  blocked layout, on slices of ``_CONV_ROWS`` sequences whose activations stay in cache
  (the dense layers then take the whole batch). The oneDNN calls live in ``zoo._onednn``,
  which falls back to public torch ops where they are unavailable.
- Batch norm is folded into the layer before it, and the activation is fused into it as
  a clamp: ReLU exactly, the original Threshold(0, 1e-6) to within 1e-6. Max-pooling
  commutes with the clamp, and on its non-negative output runs on the bits as integers.
- A convolution with few output positions (DeepSEA's third) runs as one matmul over a
  strided view of its input windows; the first dense layer's columns are reordered once
  so the channels-last features flatten without a copy.

The fused clamps and the integer max are exact on finite values only (oneDNN's fused ReLU
turns NaN into 0; a NaN with its sign bit set is the smallest integer). So each batch's
largest magnitude is pushed through a bound of every layer (the sum of its absolute
weights): where any activation could be NaN, infinite or near overflow (broken weights, a
NaN in the input) the batch runs the same steps unfused, with torch's clamp and float max,
which give NaN and infinities where the plain model does.

On CUDA the same channels-last steps run on the whole batch as cuDNN convolutions
(channels-last is what the tensor cores take), faster than the plain model on (N, C, L);
with ``compile=True`` inductor fuses them. scripts/bench_cuda_paths.py compares the two.

The fast stack is only used for models whose ``conv`` block is made of the layers it
knows; any other model (DanQ, image models) gets the plain ``model.logits`` with bf16
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
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from zoo import _onednn
from zoo._checks import NonFiniteWarning, check_dna, list_names, non_finite_tensors
from zoo._types import PRECISIONS, Precision
from zoo.models._dna import DNAModel, strand_mean_logits, strand_pair

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}

# A Threshold(th, value) may be moved after a max-pool only if that moves outputs by a
# negligible amount: value - th bounds the change (0 for ReLU-like thresholds).
_MAX_THRESHOLD_SHIFT = 1e-5
# bf16 logits further than this (relative to their range) from fp32 mean a broken kernel.
_MAX_BF16_ERROR = 0.1

Step = Callable[[torch.Tensor], torch.Tensor]
# Activations whose magnitude stays below this are finite however bf16 rounds them (both
# float32 and bfloat16 overflow near 3.4e38): the fused steps are exact on them.
_FINITE_LIMIT = 1e30


@dataclass(frozen=True)
class _Step:
    """One channels-last step: ``run(h, exact)``, and ``bound(m)``, a bound on the magnitude of
    its output when that of its input is at most ``m``. A ``lossy`` step is exact only on
    finite values unless run with ``exact=True`` (fused clamps, the integer max)."""

    run: Callable[[torch.Tensor, bool], torch.Tensor]
    bound: Callable[[float], float]
    lossy: bool = False

    def __call__(self, h: torch.Tensor, exact: bool = False) -> torch.Tensor:
        return self.run(h, exact)


class _GuardedSteps:
    """The strand logits of channels-last steps, checked per batch: the fast (fused) steps
    where every lossy step's values are bounded far below overflow, else the exact ones."""

    def __init__(self, run: Callable[[torch.Tensor, bool], torch.Tensor], steps: list[_Step]) -> None:
        self.fast: Step = lambda x: run(x, False)
        self.exact: Step = lambda x: run(x, True)
        self._steps = steps

    def trusted(self, x: torch.Tensor) -> bool:
        """Whether every activation of ``x`` through the lossy steps is provably finite."""
        if x.numel():
            low, high = torch.aminmax(x)  # NaN when x holds one
            m = max(-low.item(), high.item())
        else:
            m = 0.0
        if not m < _FINITE_LIMIT:
            return False
        for step in self._steps:
            m = step.bound(m)
            if step.lossy and not m < _FINITE_LIMIT:  # NaN weights make m NaN: not trusted
                return False
        return True

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.fast(x) if self.trusted(x) else self.exact(x)


def _affine_bound(weight: torch.Tensor, bias: torch.Tensor, floor: float | None) -> Callable[[float], float]:
    """The bound on |clamp_min(W h + b, floor)| for |h| <= m: the largest row sum of |W|
    times m, plus the largest |b| (NaN when a weight is)."""
    gain = weight.float().abs().flatten(1).sum(1).max().item() if weight.numel() else 0.0
    offset = bias.float().abs().max().item() if bias.numel() else 0.0
    if not (math.isfinite(gain) and math.isfinite(offset)):
        return lambda m: math.nan
    low = abs(floor) if floor is not None else 0.0
    return lambda m: max(gain * m + offset, low)


def prepare_logits(
    model: nn.Module,
    precision: Precision = "fp32",
    device: str | torch.device = "cpu",
    *,
    compile: bool = False,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function mapping an input batch to the model's float32 logits, in eval mode.

    ``precision="fp32"`` gives probabilities within 1e-5 of ``model.logits`` (on CUDA see
    TF32 below); ``"bf16"`` computes in bfloat16 (probabilities within about 1e-2 of fp32).
    The model is moved to ``device`` and put in eval mode; its weights are not changed.
    Weights holding NaN or infinities get a :class:`zoo._checks.NonFiniteWarning` naming
    them; the function then gives NaN and infinities where ``model.logits`` does (so does
    non-finite input). An empty batch gives an empty (0, n_targets) result.
    The function keeps its own copy of the weights as they are now: prepare again after
    changing them. bf16 is checked against fp32 once, here; where it is wrong or fails on
    this machine (no AVX-512 for oneDNN, a broken kernel) a warning says so and fp32 is used.

    ``compile=True`` runs the model through ``torch.compile`` (the first call of each new
    batch shape compiles, which takes seconds). On CUDA it applies to every model. On CPU it
    applies to the models without the oneDNN path below (DanQ, the image models); DeepSEA,
    Beluga and Basset keep their oneDNN path uncompiled, because inductor made them slower
    than that path.

    On CUDA, fp32 convolutions follow ``torch.backends.cudnn.allow_tf32`` (torch's default:
    on), which trades convolution precision for speed; turn it off for logits closest to
    float64.

    Compiled functions of one architecture share their compilation (models of the same
    architecture prepared in turn compile once); each new batch shape or architecture
    compiles anew, up to torch's recompile limit (``torch._dynamo.config.cache_size_limit``),
    past which that code runs uncompiled: ``torch._dynamo.reset()`` starts the count again.
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
    (compiled on CUDA only: on CPU inductor was slower than the oneDNN path, so compile=True
    leaves that path uncompiled), else the plain model."""
    strand_fn = _fast_strand_logits(model, dtype, device)
    if strand_fn is not None:
        if compile and device.type == "cuda":
            if isinstance(strand_fn, _GuardedSteps):  # the per-batch check stays outside the graph
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


def _compiled(fn: Step) -> Step:
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
    model: nn.Module, strand_fn: Step, dtype: torch.dtype, device: torch.device
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


def _fast_strand_logits(model: nn.Module, dtype: torch.dtype, device: torch.device) -> Step | None:
    """``classifier(conv(x))`` as channels-last steps, or None if the model is not of that shape.

    Used for models whose strand logits are exactly ``self.classifier(self.conv(x))`` and
    whose ``conv`` holds only Conv1d, BatchNorm1d, ReLU, Threshold, MaxPool1d and Dropout.
    On CPU the convolutions run on slices of the batch; on CUDA on the whole batch.
    """
    if not _strand_logits_are_classifier_of_conv(model):
        return None
    on_cpu = device.type == "cpu"
    if on_cpu and dtype == torch.bfloat16 and not _onednn.bf16_supported():
        return None  # oneDNN's bf16 kernels need AVX-512 (or AVX-NE-CONVERT); plain torch bf16 works

    steps = _channels_last_steps(list(model.conv), dtype)
    if steps is None:
        return None
    channels = [m.out_channels for m in model.conv if isinstance(m, nn.Conv1d)][-1]
    dense = _dense_steps(list(model.classifier), dtype, channels)
    if dense is None:  # a classifier of other layers: run it as it is, on (N, C, L)
        classifier = copy.deepcopy(model.classifier).to(dtype)
        dense = [_Step(lambda h, exact: classifier(h.transpose(1, 2)), lambda m: math.inf)]

    def conv_features(x: torch.Tensor, exact: bool) -> torch.Tensor:
        h = x.transpose(1, 2).contiguous()  # (N, L, C): channels last
        for step in steps:
            h = step(h, exact)
        return h

    def strand_fn(x: torch.Tensor, exact: bool) -> torch.Tensor:
        # On CPU the convolutions run on slices of _CONV_ROWS sequences, whose activations
        # stay in cache; the dense layers on the whole batch, which reads their weights once.
        parts = (
            [conv_features(p, exact) for p in x.split(_CONV_ROWS)] if on_cpu else [conv_features(x, exact)]
        )
        h = parts[0] if len(parts) == 1 else torch.cat(parts)
        for step in dense:
            h = step(h, exact)
        return h

    return _GuardedSteps(strand_fn, steps + dense)


def _strand_logits_are_classifier_of_conv(model: nn.Module) -> bool:
    """Whether ``model`` is a DNAModel computing its strand logits as ``classifier(conv(x))``:
    it keeps DNAModel's own ``strand_logits`` (DanQ, with its LSTM between the two, does not)
    and its ``conv`` is an ``nn.Sequential`` (whose layers ``_channels_last_steps`` then checks)."""
    return (
        isinstance(model, DNAModel)
        and type(model).strand_logits is DNAModel.strand_logits
        and isinstance(getattr(model, "conv", None), nn.Sequential)
        and isinstance(getattr(model, "classifier", None), nn.Module)
    )


def _dense_steps(layers: list[nn.Module], dtype: torch.dtype, channels: int) -> list[_Step] | None:
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
    steps = [_Step(lambda h, exact: h.flatten(1), lambda m: m)]  # (a view: h is contiguous)
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


def _linear_step(weight: torch.Tensor, bias: torch.Tensor, floor: float | None) -> _Step:
    """``clamp_min(linear(h), floor)``, fused by oneDNN on CPU (unfused when ``exact``)."""

    def run(h: torch.Tensor, exact: bool) -> torch.Tensor:
        if exact:
            return _clamp(_onednn.fused_linear(h, weight, bias, None), floor)
        return _onednn.fused_linear(h, weight, bias, floor)

    return _Step(run, _affine_bound(weight, bias, floor), lossy=floor is not None)


def _clamp(h: torch.Tensor, floor: float | None) -> torch.Tensor:
    """torch's ``clamp_min_``, which keeps NaN and +inf (oneDNN's fused clamps do not)."""
    return h if floor is None else h.clamp_min_(floor)


def _channels_last_steps(layers: list[nn.Module], dtype: torch.dtype) -> list[_Step] | None:
    """Steps on (N, L, C) tensors equivalent to ``layers`` in eval mode; None if unsupported."""
    layers = [m for m in layers if not isinstance(m, nn.Dropout)]  # identity in eval
    steps: list[_Step] = []
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


def _clamp_step(floor: float) -> _Step:
    return _Step(lambda h, exact: _clamp(h, floor), lambda m: max(m, abs(floor)))


def _pool_step(pool: nn.MaxPool1d, nonnegative: bool = False) -> _Step | None:
    """Non-overlapping max-pool over L of (N, L, C): a reshape and a vectorised max over rows.

    On ``nonnegative`` input the max runs on the float bits read as integers: for floats
    >= 0 the bit patterns order as the values do, and an integer max is faster than a
    bfloat16 one, which converts every element to float32. A NaN with its sign bit set
    reads as a negative integer and would be lost: ``exact`` takes the float max, which
    keeps NaN as max-pooling does.
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

    def step(h: torch.Tensor, exact: bool) -> torch.Tensor:
        n, length, c = h.shape
        out = length // k
        bits = _SAME_SIZE_INT.get(h.dtype) if nonnegative and not exact else None
        if bits is None:
            return h[:, : out * k].reshape(n, out, k, c).amax(2)
        return h.view(bits)[:, : out * k].reshape(n, out, k, c).amax(2).view(h.dtype)

    return _Step(step, lambda m: m, lossy=nonnegative)


_SAME_SIZE_INT = {torch.bfloat16: torch.int16, torch.float16: torch.int16, torch.float32: torch.int32}


def _conv_step(
    conv: nn.Conv1d, bn: nn.BatchNorm1d | None, dtype: torch.dtype, floor: float | None
) -> _Step | None:
    """A valid, unit-stride Conv1d (+ eval batch norm, + ``clamp_min(floor)``) as a channels-last
    Conv2d on (N, L, C); on CPU through oneDNN with the weights packed once and the clamp fused
    (``exact``: clamped by torch afterwards, which keeps NaN and infinities)."""
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
    k = weight.shape[-1]
    # (C_out, k * C_in) with the taps outermost: a window of k channels-last positions, flat
    weight_2d = weight.squeeze(2).permute(0, 2, 1).reshape(len(weight), -1).contiguous()
    packed: list[torch.Tensor] = []

    def step(h: torch.Tensor, exact: bool) -> torch.Tensor:
        n, length, c = h.shape
        onednn = _onednn.applies_to(h)
        fused = None if exact else floor
        if onednn and length - k + 1 < _MIN_CONV_POSITIONS:
            # Few output positions leave oneDNN's conv tiles part empty: as one matmul over
            # (N * positions) rows of k * C_in inputs (a strided view of h, no im2col loop).
            h = h.contiguous()  # (a no-op here: steps make contiguous outputs)
            windows = h.as_strided((n, length - k + 1, k * c), (length * c, c, 1))
            out = _onednn.fused_linear(windows, weight_2d, bias, fused)
        else:
            # (N, L, C) contiguous is (N, C, 1, L) in channels-last strides: oneDNN's own layout
            x = h.transpose(1, 2).unsqueeze(2)
            if onednn and not packed:  # oneDNN's blocked weight layout, made once instead of on every call
                packed.append(_onednn.pack_conv_weight(weight, x.shape))
            out = _onednn.conv_pointwise(x, packed[0] if onednn else weight, bias, fused)
            out = out.squeeze(2).transpose(1, 2)
        return _clamp(out, floor) if exact else out

    return _Step(step, _affine_bound(weight_2d, bias, floor), lossy=floor is not None)


# Below this many output positions oneDNN's convolution tiles stay partly empty and one
# matmul over the input windows is faster (DeepSEA's third convolution has 53 positions).
_MIN_CONV_POSITIONS = 128
# Sequences per slice through the convolutions: small enough for the first layer's
# activations (N x 993 x 320 for DeepSEA) to stay in cache; the fastest of the sizes timed.
_CONV_ROWS = 32


def _single(value: int | tuple[int, ...]) -> int:
    return value[0] if isinstance(value, tuple) else int(value)
