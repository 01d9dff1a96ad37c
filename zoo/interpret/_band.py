"""Band-limited in-silico mutagenesis for the convolutional DNA models.

A single-base change moves one input column. A valid convolution of width k turns a change
on positions [a, b] into one on [a - k + 1, b]; an elementwise layer keeps the band; a max-pool
maps it to the pooled positions whose windows touch it. So every mutant differs from its
reference sequence on a short band of each layer, and the first dense layer sees the change
through a few of its columns only.

The layers are read from the model's plan (``zoo.plan``: batch norm folded into the
convolution or dense layer before it, else a per-channel scale). Every mutant is carried as
a *change* (delta) on a window of fixed width per layer, at a start position of its own:

- convolution, batch norm: linear, so the change of the output is the convolution of the
  input's change (no bias). It runs as one matrix product of the changed positions with all
  k taps at once, (changed rows, C_in) @ (C_in, k * C_out), followed by an overlap-add of
  the k shifted products: only positions that did change are multiplied (rows of zeros, at
  the edges of a band, are left out).
- activation: ``act(reference + change) - act(reference)`` on the window, with the
  reference read from the activations of the unmutated sequence (computed once).
- max-pool: the reference inputs of every pool window that touches the band, plus the
  change, pooled, minus the reference output.
- first dense layer: ``W[:, band columns] @ change`` added to the reference pre-activation,
  as one product per position of the last stage with the changed rows that fall there.
- the rest of the dense ops (small vectors): run as they are (``zoo.plan.reference``).

Positions outside a layer's valid range carry unused values: a valid output of a valid
convolution or pool reads valid inputs only, and the dense weight is zero-padded there.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from zoo.interpret._band_residual import ResidualBandISM, residual_band_plan
from zoo.models._dna import DNAModel, strand_mean_logits
from zoo.plan import Plan, lower
from zoo.plan.ops import Activation, Conv, Linear, MaxPool, Op, Scale, converted
from zoo.plan.reference import run_op, run_ops


def _band_plan(model: nn.Module) -> Plan | None:
    """The model's plan when the band method runs it: a convolution stack of valid convolutions,
    per-channel scales, activations and max-pools (no residual blocks, no maps over positions)."""
    plan = lower(model)
    if not isinstance(plan, Plan):
        return None
    for op in plan.conv:
        if not (isinstance(op, (Scale, Activation, MaxPool)) or (isinstance(op, Conv) and op.valid)):
            return None
    return plan


def supports_band_ism(model: nn.Module) -> bool:
    """True when the band method handles ``model``: a DNA model with a plan (``zoo.plan``).

    A stack of valid convolutions, batch norms, elementwise activations and max-pools, then
    dense layers (DeepSEA, Beluga, Basset and models of their shape) runs here; any other
    plan (padded or dilated convolutions, residual blocks, maps over positions: Sei) in
    ``zoo.interpret._band_residual``.

    Args:
        model: the model to check.
    """
    return residual_band_plan(model) is not None


def band_engine(
    model: DNAModel, targets: list[int], dtype: torch.dtype, device: torch.device
) -> BandISM | ResidualBandISM:
    """The band method for ``model``: :class:`BandISM` for a stack of valid convolutions,
    else :class:`~zoo.interpret._band_residual.ResidualBandISM`.

    Args:
        model: a model :func:`supports_band_ism` accepts.
        targets: the model outputs to compute (indices).
        dtype: the type of the products of the changes (float32 or bfloat16).
        device: where the weights and activations go.
    """
    if _band_plan(model) is not None:
        return BandISM(model, targets, dtype, device)
    return ResidualBandISM(model, targets, dtype, device)


@dataclass
class BandState:
    """The reference activations of one group of sequences (forward strand rows first, then the
    reverse complements when the model averages strands)."""

    n: int  # sequences in the group
    one_hot: torch.Tensor  # (n, 4, L) float32 on the device
    stages: dict[int, torch.Tensor]  # stage index -> (rows * length, channels), channels last
    lengths: list[int]  # positions of every stage
    dense_pre: torch.Tensor  # (rows, hidden) float32: the first dense layer's reference output
    logits: torch.Tensor  # (n, T) float32 reference logits, strands combined


class BandISM:
    """Logits of single-base mutants of a convolutional DNA model, from the changed bands only.

    ``targets`` (indices) restrict the last layer's outputs when it is a Linear. ``dtype``
    is the type of the matrix products (float32 or bfloat16); reference activations, their
    sums with the changes and the layers after the first dense layer stay float32, so in
    bfloat16 only the *changes* are rounded.

    The reference pass runs the model's plan (``zoo.plan``) and the changes its products; both
    read a float32 copy of the weights made here, on ``device``, so later changes to the model
    do not reach them: prepare again after changing the weights.
    """

    def __init__(self, model: DNAModel, targets: list[int], dtype: torch.dtype, device: torch.device) -> None:
        plan = _band_plan(model)
        if plan is None:
            raise ValueError(f"{type(model).__name__} is not a model the band method handles")
        self.seq_len, self.rc_average = plan.seq_len, plan.rc_average
        self.dtype, self.device = dtype, device
        self.targets = targets
        # copies, so that the reference pass and the products always see the same weights
        self.ops = converted(plan.conv, torch.float32, device, copy=True)
        dense = converted(plan.dense, torch.float32, device, copy=True)
        # each convolution's weight as (C_in, k * C_out): tap-major columns, in the compute type
        self.matrices = {
            i: _tap_matrix(op, dtype, device) for i, op in enumerate(self.ops) if isinstance(op, Conv)
        }
        self.widths = self._widths()
        self.first: Linear = dense[0]  # type: ignore[assignment]
        self.rest = self._target_rows(dense[1:])
        self._dense: torch.Tensor | None = None  # built on the first call: needs the last stage's shape

    # --- construction ---------------------------------------------------------------------

    def _widths(self) -> list[int]:
        """The window width of every stage: enough for the band of any mutant position."""
        widths = [1]
        for op in self.ops:
            w = widths[-1]
            if isinstance(op, Conv):
                w += op.kernel - 1
            elif isinstance(op, MaxPool):
                w = (w + op.kernel - 2) // op.stride + 1
            widths.append(w)
        return widths

    def _target_rows(self, rest: tuple[Op, ...]) -> tuple[Op, ...]:
        """The dense ops after the first, the last Linear cut to the chosen targets' rows."""
        if rest and isinstance(rest[-1], Linear):
            last = rest[-1]
            index = torch.tensor(self.targets, dtype=torch.long, device=last.weight.device)
            self._select = None
            return (*rest[:-1], Linear(last.weight[index], last.bias[index]))
        self._select = torch.tensor(self.targets, dtype=torch.long)
        return rest

    def _dense_weight(self, channels: int, length: int) -> torch.Tensor:
        """The first dense weight as (length, channels, hidden): one (channels, hidden) matrix per
        position of the last conv stage."""
        w = self.first.weight.view(-1, channels, length).permute(2, 1, 0)
        return w.to(self.device, self.dtype).contiguous()

    # --- the reference pass ---------------------------------------------------------------

    def _tail(self, dense_pre: torch.Tensor) -> torch.Tensor:
        out = run_ops(self.rest, dense_pre)
        return out if self._select is None else out[:, self._select.to(out.device)]

    def _strand_rows(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x.flip(1, 2)]) if self.rc_average else x

    def _combine(self, logits: torch.Tensor, n: int) -> torch.Tensor:
        return strand_mean_logits(logits[:n], logits[n:]) if self.rc_average else logits

    @torch.no_grad()
    def prepare(self, x: torch.Tensor) -> BandState:
        """Reference activations and logits of a group of sequences (n, 4, L)."""
        x = x.to(self.device, torch.float32)
        h = self._strand_rows(x)
        # the reference activations around every activation and pool
        needed = {
            j for i, op in enumerate(self.ops) if isinstance(op, (Activation, MaxPool)) for j in (i, i + 1)
        }
        stages, lengths = {}, [h.shape[2]]
        for index, op in enumerate(self.ops):
            if index in needed:
                stages[index] = h.transpose(1, 2).reshape(-1, h.shape[1])
            h = run_op(op, h)
            lengths.append(h.shape[2])
        if len(self.ops) in needed:
            stages[len(self.ops)] = h.transpose(1, 2).reshape(-1, h.shape[1])
        stages = {i: t.contiguous() for i, t in stages.items()}
        if self._dense is None:
            self._dense = self._dense_weight(h.shape[1], h.shape[2])
        dense_pre = run_op(self.first, h.flatten(1))
        logits = self._combine(self._tail(dense_pre), len(x))
        return BandState(len(x), x, stages, lengths, dense_pre, logits)

    def reference(self, state: BandState) -> torch.Tensor:
        """(n, T) reference logits of the group in ``state``."""
        return state.logits

    # --- mutants --------------------------------------------------------------------------

    @torch.no_grad()
    def mutant_logits(
        self, state: BandState, seq: torch.Tensor, pos: torch.Tensor, base: torch.Tensor
    ) -> torch.Tensor:
        """(M, T) logits (strands combined) of the sequences ``seq`` of ``state`` with ``base``
        (0-3 for A, C, G, T) at ``pos``. Mutants near each other share more of the dense
        layer's weight slices: pass them ordered by position."""
        seq, pos, base = seq.to(self.device), pos.to(self.device), base.to(self.device)
        column = state.one_hot[seq, :, pos]  # (M, 4) the reference columns
        change = F.one_hot(base, 4).float() - column
        if not self.rc_average:
            return self._tail(self._dense_pre(state, seq, pos, change))
        n, last = state.n, self.seq_len - 1
        rows = torch.cat([seq, seq + n])
        positions = torch.cat([pos, last - pos])
        changes = torch.cat([change, change.flip(1)])  # the complement base, on the reverse strand
        logits = self._tail(self._dense_pre(state, rows, positions, changes))
        return strand_mean_logits(*logits.chunk(2))

    def _dense_pre(
        self, state: BandState, rows: torch.Tensor, pos: torch.Tensor, change: torch.Tensor
    ) -> torch.Tensor:
        """The first dense layer's output for each mutant (row ``rows``, ``change`` at ``pos``)."""
        delta = change[:, None, :]  # (M, 1, 4): channels last
        start = pos
        for index, op in enumerate(self.ops):
            width = self.widths[index + 1]
            if isinstance(op, Conv):
                delta = self._conv(self.matrices[index], op.kernel, delta, start, state.lengths[index], width)
                start = start - (op.kernel - 1)
            elif isinstance(op, Scale):  # linear: the change is scaled, the shift cancels
                delta = delta * op.scale
            elif isinstance(op, Activation):
                pre = self._read(state, index, rows, start, width)
                post = self._read(state, index + 1, rows, start, width)
                delta = op.module(pre.add_(delta)).sub_(post)
            else:
                delta, start = self._pool(state, index, op, rows, delta, start, width)
        return state.dense_pre[rows] + self._dense_change(delta, start)

    def _conv(
        self, matrix: torch.Tensor, k: int, delta: torch.Tensor, start: torch.Tensor, length: int, width: int
    ) -> torch.Tensor:
        """The change of a convolution's output on [start - k + 1, start + w) from its input's
        change on [start, start + w) (of ``length`` valid positions): the changed input positions
        times all k taps in one product, each tap's product added at its output position."""
        m, w, c_in = delta.shape
        c_out = matrix.shape[1] // k
        position = start[:, None] + torch.arange(w, device=start.device)
        valid = ((position >= 0) & (position < length)).flatten()
        index, rows = _changed_rows(delta.reshape(m * w, c_in), valid)
        taps = (rows.to(self.dtype) @ matrix).float().view(-1, c_out)
        # input offset u of mutant i feeds output offset u + k - 1 - t through tap t
        first = (index // w) * width + index % w + k - 1
        target = (first[:, None] - torch.arange(k, device=index.device)).flatten()
        out = taps.new_zeros(m * width, c_out)
        return out.index_add_(0, target, taps).view(m, width, c_out)

    def _read(
        self, state: BandState, stage: int, rows: torch.Tensor, start: torch.Tensor, width: int
    ) -> torch.Tensor:
        """(M, width, C) reference activations of ``stage`` on each mutant's window; positions
        off the sequence read its nearest end (they feed no valid output)."""
        length = state.lengths[stage]
        index = (start[:, None] + torch.arange(width, device=start.device)).clamp_(0, length - 1)
        index += (rows * length)[:, None]
        table = state.stages[stage]
        return table.index_select(0, index.flatten()).view(len(rows), width, table.shape[1])

    def _pool(
        self,
        state: BandState,
        index: int,
        op: MaxPool,
        rows: torch.Tensor,
        delta: torch.Tensor,
        start: torch.Tensor,
        width: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The change of a max-pool's output: every pool window touching the band, recomputed
        from the reference inputs plus the change (``index``: the pool's stage)."""
        k, s = op.kernel, op.stride
        m, w, c = delta.shape
        first = torch.div(start - k + 1 + s - 1, s, rounding_mode="floor")  # first pool window touched
        span = (width - 1) * s + k  # the inputs those windows read
        values = self._read(state, index, rows, first * s, span).view(m * span, c)
        offset = (start - first * s)[:, None] + torch.arange(w, device=start.device)  # (M, w) in the span
        inside = ((offset >= 0) & (offset < span)).flatten()  # always, unless the pool skips inputs
        target = (torch.arange(m, device=start.device)[:, None] * span + offset).flatten()
        values.index_add_(0, target[inside], delta.reshape(m * w, c)[inside].float())
        values = values.view(m, span, c)
        if k == s:
            pooled = values.view(m, width, k, c).amax(2)
        else:
            pooled = values.unfold(1, k, s).amax(-1)
        return pooled.sub_(self._read(state, index + 1, rows, first, width)), first

    def _dense_change(self, delta: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """W[:, window columns] @ change for each mutant, as a sum over the window's positions:
        the changed (mutant, position) rows are sorted by position, and each position's rows
        take one product with that position's (channels, hidden) slice of the weight."""
        dense = self._dense
        assert dense is not None
        m, w, c = delta.shape
        position = (start[:, None] + torch.arange(w, device=start.device)).flatten()
        index, rows = _changed_rows(delta.reshape(m * w, c), (position >= 0) & (position < len(dense)))
        position = position[index]
        order = torch.argsort(position, stable=True)
        index, rows, position = index[order], rows[order].to(self.dtype), position[order]
        values, counts = torch.unique_consecutive(position, return_counts=True)
        parts = [part @ dense[q] for q, part in zip(values.tolist(), rows.split(counts.tolist()))]
        out = torch.zeros(m, dense.shape[2], device=delta.device)
        if parts:
            out.index_add_(0, index // w, torch.cat(parts).float())
        return out


def _changed_rows(flat: torch.Tensor, keep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices, rows) of the rows of ``flat`` (R, C) that are not all zero (and ``keep``): a
    zero row adds nothing to a product, and at the edges of the bands many rows are zero."""
    changed = flat.abs().amax(1) > 0
    if keep is not None:
        changed &= keep
    index = torch.nonzero(changed).squeeze(1)
    return index, flat.index_select(0, index)


def _tap_matrix(conv: Conv, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A convolution's weight as (C_in, k * C_out), column ``t * C_out + o`` the tap ``t`` of
    output ``o``: all k taps of the changed rows in one product."""
    c_out, c_in, k = conv.weight.shape
    matrix = conv.weight.permute(1, 2, 0).reshape(c_in, k * c_out)
    return matrix.to(device, dtype).contiguous()
