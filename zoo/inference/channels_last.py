"""The channels-last steps that run a model's :class:`~zoo.plan.Plan` fast, on CPU and CUDA.

The plan's convolution stack runs as channels-last 2-D convolutions on (N, L, C): oneDNN's
native layout, so no reorder copies between layers; on CPU with the weights packed once
into oneDNN's blocked layout, on slices of at most ``CONV_ROWS`` sequences whose activations
stay in cache (fewer for wide activations, :func:`slice_rows`; the dense layers then take
the whole batch as large matrix products). On CUDA the same steps run on the
whole batch as cuDNN convolutions (channels-last is what the tensor cores take).

- Each activation with a clamp floor is fused into the convolution or linear map before
  it: ReLU exactly, DeepSEA's Threshold(0, 1e-6) to within 1e-6. Max-pooling commutes with
  the clamp, and on its non-negative output runs on the bits as integers.
- A convolution with few output positions (DeepSEA's third) runs as one matmul over a
  strided view of its input windows; the first dense layer's columns are reordered once
  so the channels-last features flatten without a copy.

- Zero-padded and dilated convolutions (Sei's) run as oneDNN convolutions with the padding
  and dilation inside the call; residual blocks add their sums in place into tensors they
  made (no copies); a map over positions (Sei's B-spline basis) is one product per batch
  with the basis, channels staying last.

Plans with ops these steps have no kernel for in the convolution stack (batch norms after
activations, activations that are no clamp, overlapping pools, a residual block that starts
with an activation) get no steps: the caller runs the plain model.
Dense ops without a kernel here run through :mod:`zoo.plan.reference`.
"""

from __future__ import annotations

import math

import torch

from zoo.inference import onednn
from zoo.inference.guard import FINITE_LIMIT, GuardedSteps, Step, affine_bound
from zoo.plan import reference
from zoo.plan.ops import (
    Activation,
    Conv,
    Linear,
    MaxPool,
    Op,
    Plan,
    PositionMap,
    Residual,
    converted,
    position_major,
)

# Below this many output positions oneDNN's convolution tiles stay partly empty and one
# matmul over the input windows is faster (DeepSEA's third convolution has 53 positions).
MIN_CONV_POSITIONS = 128
# Sequences per slice through the convolutions: small enough for the first layer's
# activations (N x 993 x 320 for DeepSEA) to stay in cache; the fastest of the sizes timed.
CONV_ROWS = 32
# Bytes of the largest activation of one slice (float32 DeepSEA: 32 x 993 x 320 x 4): a network
# with wider activations (Sei: 4096 x 480 per sequence) runs on fewer rows per slice, at least one.
SLICE_BYTES = 40 << 20
# Packed weights kept per convolution, one per input shape (full slices, a shorter last one).
_MAX_PACKED_SHAPES = 4
# Integer types of each float type's size, for max-pooling non-negative floats by their bits.
_SAME_SIZE_INT = {torch.bfloat16: torch.int16, torch.float16: torch.int16, torch.float32: torch.int32}


def fast_strand_logits(plan: Plan, dtype: torch.dtype, device: torch.device) -> GuardedSteps | None:
    """The plan's strand logits as guarded channels-last steps, or None where its convolution
    stack has ops without a kernel here (or bf16 on a CPU without oneDNN's bf16 kernels).

    On CPU the convolutions run on slices of the batch; on CUDA on the whole batch.

    Args:
        plan: the model's plan (its tensors on ``device``).
        dtype: the compute type, float32 or bfloat16.
        device: where the steps run (only its ``type`` is read).
    """
    on_cpu = device.type == "cpu"
    if on_cpu and dtype == torch.bfloat16 and not onednn.bf16_supported():
        return None  # oneDNN's bf16 kernels need AVX-512 (or AVX-NE-CONVERT); plain torch bf16 works
    # Every step keeps its own copy of its weights, in ``dtype``: the prepared steps keep the
    # weights as they are now. Nothing is copied for a plan found to have no steps.
    steps = _conv_steps(plan.conv, dtype)
    channels = _last_conv_channels(plan.conv)
    if steps is None or channels is None:
        return None
    dense = _dense_steps(plan.dense, dtype, channels)
    if dense is None:  # dense ops without a kernel here: the plain ops, on the channel-major flatten
        dense_ops = converted(plan.dense, dtype, copy=True)

        def plain_dense(h: torch.Tensor, exact: bool) -> torch.Tensor:
            return reference.run_ops(dense_ops, h.transpose(1, 2).flatten(1))

        dense = [Step(plain_dense, lambda m: math.inf)]
    rows = slice_rows(plan, dtype)

    def conv_features(x: torch.Tensor, exact: bool) -> torch.Tensor:
        h = x.transpose(1, 2).contiguous()  # (N, L, C): channels last
        for step in steps:
            h = step(h, exact)
        return h

    def strand_fn(x: torch.Tensor, exact: bool) -> torch.Tensor:
        # On CPU the convolutions run on slices of ``rows`` sequences, whose activations
        # stay in cache; the dense layers on the whole batch, which reads their weights once.
        parts = [conv_features(p, exact) for p in x.split(rows)] if on_cpu else [conv_features(x, exact)]
        h = parts[0] if len(parts) == 1 else torch.cat(parts)
        for step in dense:
            h = step(h, exact)
        return h

    return GuardedSteps(strand_fn, steps + dense)


def slice_rows(plan: Plan, dtype: torch.dtype) -> int:
    """Sequences per slice through the convolutions on CPU: ``CONV_ROWS``, or fewer where the
    plan's widest activation (positions x channels) would take more than ``SLICE_BYTES``.

    Args:
        plan: the model's plan.
        dtype: the compute type (its size in bytes counts).
    """
    per_sequence = _widest_activation(plan.conv, plan.seq_len, 4)[2] * dtype.itemsize
    return max(1, min(CONV_ROWS, SLICE_BYTES // max(per_sequence, 1)))


def _widest_activation(ops: tuple[Op, ...], length: int, channels: int) -> tuple[int, int, int]:
    """(positions, channels, the largest positions x channels on the way) after ``ops`` on
    inputs of ``length`` positions and ``channels`` channels."""
    widest = length * channels
    for op in ops:
        if isinstance(op, Conv):
            length = length + 2 * op.padding - op.dilation * (op.kernel - 1)
            channels = op.out_channels
        elif isinstance(op, MaxPool):
            length = (length - op.kernel) // op.stride + 1
        elif isinstance(op, PositionMap):
            length = op.matrix.shape[1]
        elif isinstance(op, Residual):
            for inner in (op.body, op.tail or ()):
                widest = max(widest, _widest_activation(inner, length, channels)[2])
        widest = max(widest, length * channels)
    return length, channels, widest


def _last_conv_channels(ops: tuple[Op, ...]) -> int | None:
    """The output channels of the last convolution in ``ops`` (residual blocks included), None if none."""
    for op in reversed(ops):
        if isinstance(op, Conv):
            return op.out_channels
        if isinstance(op, Residual):
            found = _last_conv_channels(op.tail or ()) or _last_conv_channels(op.body)
            if found is not None:
                return found
    return None


def _fused_floor(ops: tuple[Op, ...], i: int) -> float | None:
    """The clamp floor of ``ops[i]`` when it is an activation that is a clamp, else None."""
    op = ops[i] if i < len(ops) else None
    return op.floor if isinstance(op, Activation) else None


def _conv_steps(ops: tuple[Op, ...], dtype: torch.dtype) -> list[Step] | None:
    """Steps on (N, L, C) tensors equivalent to the convolution-stack ``ops``; None if one has no kernel."""
    steps: list[Step] = []
    nonnegative = False  # whether every value of h is known to be >= 0 (after a clamp at >= 0)
    i = 0
    while i < len(ops):
        op = ops[i]
        if isinstance(op, Conv):
            floor = _fused_floor(ops, i + 1)  # the activation after it, fused
            i += 2 if floor is not None else 1
            steps.append(conv_step(op, dtype, floor))
            nonnegative = floor is not None and floor >= 0.0
        elif isinstance(op, Residual) and op.body and not isinstance(op.body[0], Activation):
            # (an activation first would clamp the block's input in place, which the sum still needs)
            body = _conv_steps(op.body, dtype)
            tail = _conv_steps(op.tail, dtype) if op.tail is not None else None
            if body is None or (op.tail is not None and tail is None):
                return None
            steps.append(residual_step(body, tail))
            nonnegative = False  # a sum with the block's input, of any sign
            i += 1
        elif isinstance(op, PositionMap):
            steps.append(position_map_step(op, dtype))
            nonnegative = False
            i += 1
        elif isinstance(op, Activation) and op.floor is not None:
            steps.append(clamp_step(op.floor))
            nonnegative = nonnegative or op.floor >= 0.0
            i += 1
        elif isinstance(op, MaxPool) and op.stride == op.kernel:
            steps.append(pool_step(op, nonnegative))
            i += 1
        else:
            return None
    return steps


def _dense_steps(ops: tuple[Op, ...], dtype: torch.dtype, channels: int) -> list[Step] | None:
    """Steps equivalent to the dense ``ops`` (linear maps and clamps), taking the features as
    (N, L, C); None for other ops.

    The first Linear's weight columns are reordered from the plan's channel-major (C, L)
    order to (L, C), so the channels-last features flatten without a copy.
    """
    steps = [Step(lambda h, exact: h.flatten(1), lambda m: m)]  # (a view: h is contiguous)
    i, first = 0, True
    while i < len(ops):
        op = ops[i]
        if isinstance(op, Activation) and op.floor is not None:
            steps.append(clamp_step(op.floor))
            i += 1
            continue
        if not isinstance(op, Linear):
            return None
        floor = _fused_floor(ops, i + 1)
        i += 2 if floor is not None else 1
        weight = op.weight.to(dtype, copy=True)
        weight = position_major(weight, channels) if first else weight
        steps.append(linear_step(weight.contiguous(), op.bias.to(dtype, copy=True), floor))
        first = False
    return steps


def linear_step(weight: torch.Tensor, bias: torch.Tensor, floor: float | None) -> Step:
    """``clamp_min(linear(h), floor)``, fused by oneDNN on CPU (unfused when ``exact``).

    Args:
        weight: (out, in) in the compute type.
        bias: (out,) in the compute type.
        floor: the fused clamp's floor, or None for none.
    """

    def run(h: torch.Tensor, exact: bool) -> torch.Tensor:
        if exact:
            return onednn.clamp_min(onednn.fused_linear(h, weight, bias, None), floor)
        return onednn.fused_linear(h, weight, bias, floor)

    return Step(run, affine_bound(weight, bias, floor), lossy=floor is not None)


def clamp_step(floor: float) -> Step:
    """``clamp_min(h, floor)`` on its own (an activation after a pool or another activation).

    Args:
        floor: the clamp's floor.
    """
    return Step(lambda h, exact: onednn.clamp_min(h, floor), lambda m: max(m, abs(floor)))


def pool_step(pool: MaxPool, nonnegative: bool = False) -> Step:
    """Non-overlapping max-pool over L of (N, L, C): a reshape and a vectorised max over rows.

    On ``nonnegative`` input the max runs on the float bits read as integers: for floats
    >= 0 the bit patterns order as the values do, and an integer max is faster than a
    bfloat16 one, which converts every element to float32. A NaN with its sign bit set
    reads as a negative integer and would be lost: ``exact`` takes the float max, which
    keeps NaN as max-pooling does.

    Args:
        pool: the plan's pool, its stride equal to its kernel.
        nonnegative: whether every input is known to be >= 0.
    """
    k = pool.kernel

    def step(h: torch.Tensor, exact: bool) -> torch.Tensor:
        n, length, c = h.shape
        out = length // k
        bits = _SAME_SIZE_INT.get(h.dtype) if nonnegative and not exact else None
        if bits is None:
            return h[:, : out * k].reshape(n, out, k, c).amax(2)
        return h.view(bits)[:, : out * k].reshape(n, out, k, c).amax(2).view(h.dtype)

    return Step(step, lambda m: m, lossy=nonnegative)


def conv_step(conv: Conv, dtype: torch.dtype, floor: float | None) -> Step:
    """A convolution of the plan (+ ``clamp_min(floor)``) as a channels-last Conv2d on
    (N, L, C), zero-padded and dilated as the plan says; on CPU through oneDNN with the
    weights packed once and the clamp fused (``exact``: clamped by torch afterwards, which
    keeps NaN and infinities).

    Args:
        conv: the plan's convolution.
        dtype: the compute type.
        floor: the fused clamp's floor, or None for none.
    """
    weight = conv.weight[:, :, None, :].to(dtype).clone(memory_format=torch.channels_last)  # a copy
    bias = conv.bias.to(dtype, copy=True)
    k = conv.kernel
    padding, dilation = (0, conv.padding), (1, conv.dilation)
    # (C_out, k * C_in) with the taps outermost: a window of k channels-last positions, flat
    weight_2d = weight.squeeze(2).permute(0, 2, 1).reshape(len(weight), -1).contiguous()
    packed: dict[tuple[int, ...], torch.Tensor] = {}  # per input shape (the last slice may be shorter)

    def step(h: torch.Tensor, exact: bool) -> torch.Tensor:
        n, length, c = h.shape
        on_onednn = onednn.applies_to(h)
        fused = None if exact else floor
        if on_onednn and conv.valid and length - k + 1 < MIN_CONV_POSITIONS:
            # Few output positions leave oneDNN's conv tiles part empty: as one matmul over
            # (N * positions) rows of k * C_in inputs (a strided view of h, no im2col loop).
            h = h.contiguous()  # (a no-op here: steps make contiguous outputs)
            windows = h.as_strided((n, length - k + 1, k * c), (length * c, c, 1))
            out = onednn.fused_linear(windows, weight_2d, bias, fused)
        else:
            # (N, L, C) contiguous is (N, C, 1, L) in channels-last strides: oneDNN's own layout
            x = h.transpose(1, 2).unsqueeze(2)
            w = weight
            if on_onednn:  # oneDNN's blocked weight layout, made once instead of on every call
                key = tuple(x.shape)
                if key not in packed:
                    if len(packed) >= _MAX_PACKED_SHAPES:
                        packed.clear()
                    packed[key] = onednn.pack_conv_weight(weight, x.shape, padding, dilation)
                w = packed[key]
            out = onednn.conv_pointwise(x, w, bias, fused, padding, dilation)
            out = out.squeeze(2).transpose(1, 2)
        return onednn.clamp_min(out, floor) if exact else out

    return Step(step, affine_bound(weight_2d, bias, floor), lossy=floor is not None)


def residual_step(body: list[Step], tail: list[Step] | None = None) -> Step:
    """A :class:`~zoo.plan.ops.Residual` block on (N, L, C): ``h + y`` with ``y = body(h)``,
    or with ``tail`` ``y + tail(h + y)``. Each sum is added in place into a tensor the block
    made itself (the input is never written), so the block copies nothing.

    Its bound holds only while every lossy step inside stays bounded below
    ``FINITE_LIMIT``; past that it is infinite, so the guard takes the exact steps.

    Args:
        body: the steps of the block's body.
        tail: the steps of its tail, or None.
    """
    inner = body + (tail or [])

    def run(h: torch.Tensor, exact: bool) -> torch.Tensor:
        y = _run_steps(body, h, exact)
        if tail is None:
            return y.add_(h) if y is not h else y + h
        out = _run_steps(tail, y + h, exact)
        return out.add_(y) if out is not y else out + y

    def bound(m: float) -> float:
        y, body_ok = _chained_bound(body, m)
        if tail is None:
            out, tail_ok = m + y, True
        else:
            t, tail_ok = _chained_bound(tail, m + y)
            out = y + t
        return out if body_ok and tail_ok else math.inf

    return Step(run, bound, lossy=any(step.lossy for step in inner))


def position_map_step(op: PositionMap, dtype: torch.dtype) -> Step:
    """A :class:`~zoo.plan.ops.PositionMap` on (N, L, C): ``matrix.T @ h``, (N, L_out, C), one
    product per sequence with the matrix read once (Sei's spline basis), channels staying last.

    Args:
        op: the plan's map over positions.
        dtype: the compute type.
    """
    matrix_t = op.matrix.t().to(dtype).contiguous()  # (L_out, L_in): a copy
    gain = op.matrix.float().abs().sum(0).max().item() if op.matrix.numel() else 0.0

    def run(h: torch.Tensor, exact: bool) -> torch.Tensor:
        return torch.matmul(matrix_t, h)

    return Step(run, (lambda m: gain * m) if math.isfinite(gain) else (lambda m: math.nan))


def _run_steps(steps: list[Step], h: torch.Tensor, exact: bool) -> torch.Tensor:
    """``steps`` applied in turn to ``h``."""
    for step in steps:
        h = step(h, exact)
    return h


def _chained_bound(steps: list[Step], m: float) -> tuple[float, bool]:
    """(the bound after ``steps`` on inputs bounded by ``m``, whether every lossy step's bound
    stayed below ``FINITE_LIMIT`` on the way)."""
    ok = True
    for step in steps:
        m = step.bound(m)
        ok = ok and not (step.lossy and not m < FINITE_LIMIT)
    return m, ok
