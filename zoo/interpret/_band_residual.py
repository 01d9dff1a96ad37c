"""Band-limited in-silico mutagenesis for any plan: padded and dilated convolutions, residual
blocks and maps over positions (Sei), as well as the plain convolution stacks.

As in ``zoo.interpret._band``, every mutant is carried as a *change* (delta) of each layer's
activations, on the positions its single-base change reaches; here those positions are
tracked per mutant as an interval ``[lo, hi)`` of the layer (clipped to the layer's
positions), and the change is held on a window of the batch's widest interval, moved inside
the layer (``start``), so every position a window covers is a real one:

- convolution (any padding and dilation): linear, so the change of the output is the
  convolution of the input's change without bias: the window's positions times all k taps
  in one product, (rows, C_in) @ (C_in, k * C_out), then the k shifted products added. The
  interval widens by the kernel's reach, ``[lo + p - (k - 1) d, hi + p)``.
- activation: ``act(reference + change) - act(reference)``, the reference read from the
  unmutated sequence's activations (computed once); batch norm on its own: scaled.
- max-pool: the reference inputs of every pool window the interval touches, plus the
  change, pooled, minus the reference output.
- residual block: the body's change and the block input's change added on the union of
  their intervals (Sei's first dilated block: its tail on that sum, added to the body's).
- map over positions (Sei's B-spline basis): linear, the window's rows of the matrix times
  the change; every output position may change.
- first dense layer: the flattened change times its weight (no bias) added to the
  reference pre-activation; the later dense layers (the last cut to the chosen targets'
  rows) run on the mutant's pre-activation as they are.

So on paper-size Sei a mutant's change spans at most 33 positions of the 4,096 through the
first block, 41 of the 1,024 through the second and 43 of the 256 through the third, then
51, 67, 99 and 163 through the dilated blocks and all 256 after the last: about a tenth of
the model's work.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from zoo.models._dna import DNAModel, strand_mean_logits
from zoo.plan import Plan, lower
from zoo.plan.ops import (
    Activation,
    Conv,
    Linear,
    MaxPool,
    Op,
    PositionMap,
    Residual,
    Scale,
    converted,
    position_major,
)
from zoo.plan.reference import run_op, run_ops

# The largest product of the convolutions' taps, in bytes, one slice of mutants may make:
# the mutants of a pass are split into slices that stay under it.
_TAPS_BYTES = 256 * 2**20
# The reference activations of one group of sequences held at once, in bytes.
_REFERENCE_BYTES = 512 * 2**20

Key = tuple  # where an op sits in the plan: indices, and "body"/"tail" inside residual blocks


def residual_band_plan(model: nn.Module) -> Plan | None:
    """The model's plan (``zoo.plan``) when it has one (this method runs every plan op), else None.

    Args:
        model: any module.
    """
    plan = lower(model)
    return plan if isinstance(plan, Plan) else None


@dataclass
class Band:
    """The changes of a slice of mutants on one layer: ``delta[i, j]`` the change at position
    ``start[i] + j``; every change lies in positions ``[lo[i], hi[i])`` of ``length``."""

    delta: torch.Tensor  # (M, W, C) float32, channels last
    start: torch.Tensor  # (M,) first position of each window, 0 <= start <= length - W
    lo: torch.Tensor  # (M,)
    hi: torch.Tensor  # (M,)
    length: int


@dataclass
class ResidualBandState:
    """The reference activations of one group of sequences (forward strand rows first, then the
    reverse complements when the model averages strands)."""

    n: int  # sequences in the group
    one_hot: torch.Tensor  # (n, 4, L) float32 on the device
    tables: dict[tuple[Key, str], torch.Tensor]  # (op, "in"/"out") -> (rows * length, C)
    dense_pre: torch.Tensor  # (rows, hidden) the first dense layer's reference output
    logits: torch.Tensor  # (n, T) reference logits, strands combined


class ResidualBandISM:
    """Logits of single-base mutants of a DNA model with a plan, from the changes only.

    ``targets`` (indices) restrict the last layer's outputs when it is a Linear. ``dtype``
    is the type of the matrix products of the changes (float32 or bfloat16); the reference
    activations, their sums with the changes, the map over positions and the dense layers
    after the first stay float32. The weights are a float32 copy made here, on ``device``:
    prepare again after changing the model's weights.
    """

    def __init__(self, model: DNAModel, targets: list[int], dtype: torch.dtype, device: torch.device) -> None:
        plan = residual_band_plan(model)
        if plan is None:
            raise ValueError(f"{type(model).__name__} has no plan (zoo.plan) for the band method")
        self.seq_len, self.rc_average = plan.seq_len, plan.rc_average
        self.dtype, self.device, self.targets = dtype, device, targets
        self.ops = converted(plan.conv, torch.float32, device, copy=True)
        self.matrices = {key: _tap_matrix(op, dtype) for key, op in _walk(self.ops) if isinstance(op, Conv)}
        self.channels, self.length, taps_row, table_row = self._shapes()
        first = plan.dense[0]
        assert isinstance(first, Linear)
        # the first dense weight, columns position-major (the flatten of channels-last features),
        # transposed: (length * channels, hidden); a float32 copy for the reference pass, and
        # one in the products' type
        weight = position_major(first.weight.to(device, torch.float32), self.channels).t().contiguous()
        self.first_weight, self.first_bias = weight, first.bias.to(device, torch.float32, copy=True)
        self.first_change = weight if dtype == torch.float32 else weight.to(dtype)
        self.rest = self._target_rows(converted(plan.dense[1:], torch.float32, device, copy=True))
        strands = 2 if self.rc_average else 1
        # mutants per slice: the largest taps product stays under _TAPS_BYTES
        self.slice = max(1, _TAPS_BYTES // (taps_row * 4 * strands))
        # sequences per group: their reference activations stay under _REFERENCE_BYTES
        self.group = max(1, _REFERENCE_BYTES // (table_row * 4 * strands))

    # --- construction ---------------------------------------------------------------------

    def _shapes(self) -> tuple[int, int, int, int]:
        """(channels, positions) of the last conv stage, the widest taps product of one mutant
        (values) and the reference activations of one strand (values), from the shapes alone.

        A mutant's interval is followed relative to its position (``lo``, ``hi``; a pool
        divides them, one position of slack for the rounding), and its width capped at the
        layer's positions: the taps product of a convolution has ``width * k * C_out`` values.
        """
        taps, tables = 0, 0

        def walk(ops: tuple[Op, ...], state: tuple[int, int, float, float]) -> tuple[int, int, float, float]:
            nonlocal taps, tables
            for op in ops:
                channels, length, lo, hi = state
                if isinstance(op, Residual):
                    body = walk(op.body, state)
                    total = (*body[:2], min(lo, body[2]), max(hi, body[3]))
                    state = total if op.tail is None else walk(op.tail, total)
                    if op.tail is not None:
                        state = (*state[:2], min(body[2], state[2]), max(body[3], state[3]))
                    continue
                if isinstance(op, (Activation, MaxPool)):
                    tables += channels * length
                if isinstance(op, Conv):
                    width = min(length, int(hi - lo) + 1)
                    taps = max(taps, width * op.kernel * op.out_channels)
                    reach = op.dilation * (op.kernel - 1)
                    channels, length = op.out_channels, length + 2 * op.padding - reach
                    lo, hi = lo + op.padding - reach, hi + op.padding
                elif isinstance(op, MaxPool):
                    length = (length - op.kernel) // op.stride + 1
                    lo, hi = (lo - op.kernel + 1) / op.stride - 1, (hi - 1) / op.stride + 2
                elif isinstance(op, PositionMap):
                    length = op.matrix.shape[1]
                    lo, hi = 0.0, float(length)
                if isinstance(op, (Activation, MaxPool)):
                    tables += channels * length
                state = (channels, length, lo, hi)
            return state

        channels, length, _, _ = walk(self.ops, (4, self.seq_len, 0.0, 1.0))
        return channels, length, taps, tables

    def _target_rows(self, rest: tuple[Op, ...]) -> tuple[Op, ...]:
        """The dense ops after the first, the last Linear cut to the chosen targets' rows."""
        if rest and isinstance(rest[-1], Linear):
            last = rest[-1]
            index = torch.tensor(self.targets, dtype=torch.long, device=last.weight.device)
            self._select = None
            return (*rest[:-1], Linear(last.weight[index].contiguous(), last.bias[index]))
        self._select = torch.tensor(self.targets, dtype=torch.long)
        return rest

    # --- the reference pass ---------------------------------------------------------------

    def _tail(self, dense_pre: torch.Tensor) -> torch.Tensor:
        out = run_ops(self.rest, dense_pre)
        return out if self._select is None else out[:, self._select.to(out.device)]

    def _combine(self, logits: torch.Tensor, n: int) -> torch.Tensor:
        return strand_mean_logits(logits[:n], logits[n:]) if self.rc_average else logits

    @torch.no_grad()
    def prepare(self, x: torch.Tensor) -> ResidualBandState:
        """Reference activations and logits of a group of sequences.

        Args:
            x: one-hot (n, 4, L).
        """
        x = x.to(self.device, torch.float32)
        h = torch.cat([x, x.flip(1, 2)]) if self.rc_average else x
        tables: dict[tuple[Key, str], torch.Tensor] = {}
        h = _reference(self.ops, h, (), tables)
        features = h.transpose(1, 2).flatten(1)  # position-major, as the weight's columns
        dense_pre = torch.addmm(self.first_bias, features, self.first_weight)
        logits = self._combine(self._tail(dense_pre), len(x))
        return ResidualBandState(len(x), x, tables, dense_pre, logits)

    def reference(self, state: ResidualBandState) -> torch.Tensor:
        """(n, T) reference logits of the group in ``state``.

        Args:
            state: what :meth:`prepare` returned.
        """
        return state.logits

    # --- mutants --------------------------------------------------------------------------

    @torch.no_grad()
    def mutant_logits(
        self, state: ResidualBandState, seq: torch.Tensor, pos: torch.Tensor, base: torch.Tensor
    ) -> torch.Tensor:
        """(M, T) logits (strands combined) of the sequences ``seq`` of ``state`` with ``base``
        (0-3 for A, C, G, T) at ``pos``. The convolution stack runs on slices of mutants whose
        products fit in memory; the dense layers on all of them at once (their weights are
        read once a call).

        Args:
            state: what :meth:`prepare` returned for the group.
            seq: (M,) the mutants' sequences in the group.
            pos: (M,) their positions.
            base: (M,) their new bases.
        """
        seq, pos, base = seq.to(self.device), pos.to(self.device), base.to(self.device)
        column = state.one_hot[seq, :, pos]  # (M, 4) the reference columns
        change = F.one_hot(base, 4).float() - column
        rows = seq
        if self.rc_average:
            n, last = state.n, self.seq_len - 1
            rows = torch.cat([seq, seq + n])
            pos = torch.cat([pos, last - pos])
            change = torch.cat([change, change.flip(1)])  # the complement base, on the reverse strand
        size = self.slice * (2 if self.rc_average else 1)
        features = torch.cat(
            [
                self._features(state, *part)
                for part in zip(rows.split(size), pos.split(size), change.split(size))
            ]
        )
        dense_change = (features.to(self.dtype) @ self.first_change).float()
        logits = self._tail(state.dense_pre[rows] + dense_change)
        return strand_mean_logits(*logits.chunk(2)) if self.rc_average else logits

    def _features(
        self, state: ResidualBandState, rows: torch.Tensor, pos: torch.Tensor, change: torch.Tensor
    ) -> torch.Tensor:
        """(M, positions * channels) change of the flattened features (position-major) of each
        mutant (row ``rows``, ``change`` at ``pos``)."""
        band = Band(change[:, None, :], pos, pos, pos + 1, self.seq_len)
        band = self._run(self.ops, (), band, state, rows)
        return _moved(band.delta, band.start, torch.zeros_like(band.start), band.length).flatten(1)

    def _run(
        self, ops: tuple[Op, ...], path: Key, band: Band, state: ResidualBandState, rows: torch.Tensor
    ) -> Band:
        """The changes after ``ops`` (at ``path`` in the plan) from ``band``, the changes before."""
        for index, op in enumerate(ops):
            key = (*path, index)
            if isinstance(op, Conv):
                band = self._conv(self.matrices[key], op, band)
            elif isinstance(op, Scale):  # linear: the change is scaled, the shift cancels
                band = Band(band.delta * op.scale, band.start, band.lo, band.hi, band.length)
            elif isinstance(op, Activation):
                pre = _read(state.tables[key, "in"], rows, band.start, band.delta.shape[1], band.length)
                post = _read(state.tables[key, "out"], rows, band.start, band.delta.shape[1], band.length)
                band = Band(
                    op.module(pre.add_(band.delta)).sub_(post), band.start, band.lo, band.hi, band.length
                )
            elif isinstance(op, MaxPool):
                band = _pool(op, band, state.tables[key, "in"], state.tables[key, "out"], rows)
            elif isinstance(op, Residual):
                body = self._run(op.body, (*key, "body"), band, state, rows)
                total = _sum(band, body)
                band = (
                    total
                    if op.tail is None
                    else _sum(body, self._run(op.tail, (*key, "tail"), total, state, rows))
                )
            elif isinstance(op, PositionMap):
                band = _position_map(op, band)
            else:
                raise TypeError(f"{type(op).__name__} is not an op of the convolution stack")
        return band

    def _conv(self, matrix: torch.Tensor, op: Conv, band: Band) -> Band:
        """The change of a convolution's output: the window's changes times all k taps in one
        product, each tap's product added at the output position it feeds."""
        m, w, c_in = band.delta.shape
        k, d, p = op.kernel, op.dilation, op.padding
        c_out = op.out_channels
        taps = (band.delta.reshape(m * w, c_in).to(self.dtype) @ matrix).view(m, w, k, c_out)
        reach = (k - 1) * d
        full = taps.new_zeros(m, w + reach, c_out, dtype=torch.float32)
        for t in range(k):  # input offset u feeds output offset u + (k - 1 - t) d through tap t
            offset = (k - 1 - t) * d
            full[:, offset : offset + w] += taps[:, :, t]
        length = band.length + 2 * p - reach
        lo = (band.lo + p - reach).clamp(0, length)
        hi = (band.hi + p).clamp(0, length)
        start, width = _window(lo, hi, length)
        return Band(_moved(full, band.start + p - reach, start, width), start, lo, hi, length)


# --- helpers -----------------------------------------------------------------------------------


def _walk(ops: tuple[Op, ...], path: Key = ()) -> Iterator[tuple[Key, Op]]:
    """(key, op) of every op of ``ops``, residual blocks' bodies and tails included."""
    for index, op in enumerate(ops):
        key = (*path, index)
        if isinstance(op, Residual):
            yield from _walk(op.body, (*key, "body"))
            if op.tail is not None:
                yield from _walk(op.tail, (*key, "tail"))
        else:
            yield key, op


def _reference(
    ops: tuple[Op, ...], h: torch.Tensor, path: Key, tables: dict[tuple[Key, str], torch.Tensor]
) -> torch.Tensor:
    """``ops`` on ``h`` (N, C, L), as ``zoo.plan.reference`` runs them, keeping every activation's
    and pool's input and output channels-last in ``tables``."""
    for index, op in enumerate(ops):
        key = (*path, index)
        if isinstance(op, Residual):
            y = _reference(op.body, h, (*key, "body"), tables)
            h = h + y if op.tail is None else y + _reference(op.tail, h + y, (*key, "tail"), tables)
            continue
        kept = isinstance(op, (Activation, MaxPool))
        if kept:
            tables[key, "in"] = _channels_last(h)
        h = run_op(op, h)
        if kept:
            tables[key, "out"] = _channels_last(h)
    return h


def _channels_last(h: torch.Tensor) -> torch.Tensor:
    """(N, C, L) as (N * L, C) rows."""
    return h.transpose(1, 2).reshape(-1, h.shape[1]).contiguous()


def _window(lo: torch.Tensor, hi: torch.Tensor, length: int) -> tuple[torch.Tensor, int]:
    """(start per mutant, width) of windows of ``length`` positions that hold every interval
    [lo, hi): the widest interval's width, each window inside the positions."""
    width = int((hi - lo).max().clamp(1, length))
    return torch.minimum(lo.clamp(min=0), torch.tensor(length - width, device=lo.device)), width


def _moved(delta: torch.Tensor, start: torch.Tensor, new_start: torch.Tensor, width: int) -> torch.Tensor:
    """(M, width, C): the changes ``delta`` (M, W, C) at positions ``start + j`` moved to the
    windows at ``new_start``, zero where ``delta`` holds no change."""
    m, w, c = delta.shape
    shift = new_start - start
    if width == w and not shift.any():
        return delta
    offset = shift[:, None] + torch.arange(width, device=delta.device)
    inside = (offset >= 0) & (offset < w)
    # the row after each mutant's window is a zero row: positions outside read it
    padded = F.pad(delta, (0, 0, 0, 1)).view(m * (w + 1), c)
    index = torch.where(inside, offset, w) + (torch.arange(m, device=delta.device) * (w + 1))[:, None]
    return padded.index_select(0, index.flatten()).view(m, width, c)


def _read(
    table: torch.Tensor, rows: torch.Tensor, start: torch.Tensor, width: int, length: int
) -> torch.Tensor:
    """(M, width, C) reference activations on each mutant's window (inside the positions)."""
    index = start[:, None] + torch.arange(width, device=start.device) + (rows * length)[:, None]
    return table.index_select(0, index.flatten()).view(len(rows), width, table.shape[1])


def _pool(op: MaxPool, band: Band, inputs: torch.Tensor, outputs: torch.Tensor, rows: torch.Tensor) -> Band:
    """The change of a max-pool's output: every pool window touching the interval, recomputed
    from the reference inputs plus the change."""
    k, s = op.kernel, op.stride
    length = (band.length - k) // s + 1
    lo = torch.div(band.lo - k + s, s, rounding_mode="floor").clamp(0, length)  # ceil((lo - k + 1) / s)
    hi = (torch.div(band.hi - 1, s, rounding_mode="floor") + 1).clamp(0, length)
    start, width = _window(lo, hi, length)
    span = (width - 1) * s + k  # the inputs those windows read
    values = _read(inputs, rows, start * s, span, band.length)
    values += _moved(band.delta, band.start, start * s, span)
    pooled = values.unfold(1, k, s).amax(-1)  # (M, width, C)
    return Band(pooled.sub_(_read(outputs, rows, start, width, length)), start, lo, hi, length)


def _sum(a: Band, b: Band) -> Band:
    """The sum of two changes of one layer, on the union of their intervals."""
    lo, hi = torch.minimum(a.lo, b.lo), torch.maximum(a.hi, b.hi)
    start, width = _window(lo, hi, a.length)
    total = _moved(a.delta, a.start, start, width) + _moved(b.delta, b.start, start, width)
    return Band(total, start, lo, hi, a.length)


def _position_map(op: PositionMap, band: Band) -> Band:
    """The change of ``h @ matrix`` over positions: the window's rows of the matrix times the
    change; every output position may change."""
    m, w, _ = band.delta.shape
    length = op.matrix.shape[1]
    if w == band.length:  # the whole layer: one matrix for all
        delta = torch.matmul(op.matrix.t(), band.delta)
    else:
        index = band.start[:, None] + torch.arange(w, device=band.start.device)
        delta = torch.bmm(op.matrix[index].transpose(1, 2), band.delta)  # (M, L_out, C)
    zeros = torch.zeros(m, dtype=torch.long, device=delta.device)
    return Band(delta, zeros, zeros, zeros + length, length)


def _tap_matrix(conv: Conv, dtype: torch.dtype) -> torch.Tensor:
    """A convolution's weight as (C_in, k * C_out), column ``t * C_out + o`` the tap ``t`` of
    output ``o``: all k taps of the window's rows in one product."""
    c_out, c_in, k = conv.weight.shape
    return conv.weight.permute(1, 2, 0).reshape(c_in, k * c_out).to(dtype).contiguous()
