"""Logits of every SNV of a stretch of genome, each in its own centred window, for models whose
plan (``zoo.plan``) is a stack of valid convolutions, per-channel scales, elementwise
activations and max-pools, then dense layers (DeepSEA, Beluga, Basset and their shapes).

Two savings, both exact (the same numbers as scoring each window whole, to float rounding):

- shared reference: with S the product of the pools' strides (16 for DeepSEA), the windows
  of positions S bp apart are shifts of one another by a whole number of positions at every
  stage of the convolution stack, so the stack runs once over the stretch those windows
  cover (per phase: positions p, p + S, p + 2S, ...), and each window's activations are a
  slice of it (a strided view). The phases of a stretch run as one batch. Only the first
  dense layer runs per window.
- centre band: every window's SNV sits at the same index (``seq_len // 2 - 1``), so the
  positions its change reaches are the same band of every stage for all windows and
  alternatives. Each SNV is carried as its *change* on that band, as in the band ISM
  (``zoo.interpret._band``): a convolution spreads the changed positions only, over all its
  taps (a transposed convolution: for DeepSEA's third convolution 3 changed positions
  instead of the 10 outputs they reach); an activation is ``act(reference + change) -
  act(reference)``; a max-pool re-pools the reference inputs plus the change. The first
  dense layer sees the change through the band's columns only. One batched op per stage.

Models that average both strands (``rc_average``) get the same on the reverse complements.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from zoo.dna import one_hot
from zoo.models._dna import strand_mean_logits
from zoo.plan import Plan, lower
from zoo.plan.ops import Activation, Conv, Linear, MaxPool, Op, Scale, converted
from zoo.plan.reference import run_op, run_ops

BASES = "ACGT"
_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


def shared_plan(model: nn.Module) -> Plan | None:
    """The model's plan when this module runs it (see the module), else None."""
    try:
        plan = lower(model)
    except Exception:  # a model the planner does not know (it reports why elsewhere)
        return None
    if not isinstance(plan, Plan) or not plan.dense or not isinstance(plan.dense[0], Linear):
        return None
    for op in plan.conv:
        if isinstance(op, Conv) and op.valid:
            continue
        if isinstance(op, MaxPool) and op.stride <= op.kernel:
            continue
        if not isinstance(op, (Activation, Scale)):
            return None
    return plan


@dataclass
class _Band:
    """Per stage: its length in a window, its cumulative stride, and the band [lo, hi) that a
    change at the centre reaches."""

    lengths: list[int]
    strides: list[int]
    bands: list[tuple[int, int]]


def _bands(ops: tuple[Op, ...], seq_len: int, centre: int) -> _Band:
    lengths, strides, bands = [seq_len], [1], [(centre, centre + 1)]
    for op in ops:
        length, stride, (lo, hi) = lengths[-1], strides[-1], bands[-1]
        if isinstance(op, Conv):
            k = op.kernel
            length, lo, hi = length - k + 1, max(0, lo - k + 1), min(length - k + 1, hi)
        elif isinstance(op, MaxPool):
            k, s = op.kernel, op.stride
            out = (length - k) // s + 1
            lo, hi = max(0, -(-(lo - k + 1) // s)), min(out, (hi - 1) // s + 1)
            length, stride = out, stride * s
        lengths.append(length)
        strides.append(stride)
        bands.append((lo, hi))
    return _Band(lengths, strides, bands)


class SharedWindowSNVs:
    """Logits of the three SNVs of every position of a genome stretch (see the module).

    Args:
        model: a DNA model whose :func:`shared_plan` is not None.
        device: where to compute.
        n_value: the one-hot value of N.
    """

    def __init__(self, model: nn.Module, device: torch.device, n_value: float) -> None:
        plan = shared_plan(model)
        if plan is None:
            raise ValueError(f"{type(model).__name__} is not a model whose windows can share their stack")
        self.seq_len, self.rc_average, self.device, self.n_value = (
            plan.seq_len,
            plan.rc_average,
            device,
            n_value,
        )
        self.ops = converted(plan.conv, torch.float32, device, copy=True)
        dense = converted(plan.dense, torch.float32, device, copy=True)
        self.first, self.rest = dense[0], dense[1:]
        self.centre = self.seq_len // 2 - 1
        self.forward_band = _bands(self.ops, self.seq_len, self.centre)
        self.reverse_band = _bands(self.ops, self.seq_len, self.seq_len - 1 - self.centre)
        self.period = self.forward_band.strides[-1]
        self._band_weights: dict[tuple[int, int], torch.Tensor] = {}
        # each convolution as the transposed convolution that spreads an input change over
        # the outputs it reaches: changed positions times all taps, nothing else
        self._spread = {
            i: op.weight.flip(-1).transpose(0, 1).contiguous()
            for i, op in enumerate(self.ops)
            if isinstance(op, Conv)
        }

    def _band_weight(self, band: tuple[int, int], channels: int, length: int) -> torch.Tensor:
        """The first dense layer's columns of the final stage's band, (out, channels * width)."""
        if band not in self._band_weights:
            w = self.first.weight.view(len(self.first.weight), channels, length)[:, :, band[0] : band[1]]
            self._band_weights[band] = w.reshape(len(w), -1).contiguous()
        return self._band_weights[band]

    @torch.no_grad()
    def _strand(
        self, longs: list[str], count: int, bases: list[str], band: _Band, reverse: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reference logits (n, T), mutant logits (n, 3, T)) of one strand, n = len(longs) * count.

        Each of ``longs`` (all of one length) covers ``count`` windows ``period`` bp apart
        (already reverse-complemented for the reverse strand, whose windows then come in
        reverse order); the windows are taken stretch by stretch. ``bases`` are each window's
        three alternatives (complemented on the reverse strand).
        """
        x = one_hot(longs, n_value=self.n_value).to(self.device)
        stages = [x]
        for op in self.ops:
            stages.append(run_op(op, stages[-1]))

        def window_slices(stage: int, lo: int, hi: int) -> torch.Tensor:
            """Stage ``stage`` of every window on positions [lo, hi): (n, C, hi - lo)."""
            h = stages[stage]
            step = self.period // band.strides[stage]  # windows are this many positions apart
            views = h[:, :, lo : lo + step * (count - 1) + hi - lo].unfold(2, hi - lo, step).transpose(1, 2)
            if reverse:  # the reverse strand's stretch holds the last window first
                views = views.flip(1)
            return views.flatten(0, 1)

        final = len(self.ops)
        c_f, l_f = stages[final].shape[1], band.lengths[final]
        reference = window_slices(final, 0, l_f)  # (count, C, L_f)
        dense_pre = run_op(self.first, reference.flatten(1))
        ref_logits = run_ops(self.rest, dense_pre)
        # the mutants: three a window, each carried as its change on the band of every stage
        centre = band.bands[0][0]
        codes = torch.tensor([BASES.index(b) for b in bases], device=self.device)
        column = window_slices(0, centre, centre + 1).repeat_interleave(3, dim=0)  # (3 count, 4, 1)
        change = torch.nn.functional.one_hot(codes, 4).to(column.dtype)[:, :, None] - column
        lo, hi = centre, centre + 1
        for i, op in enumerate(self.ops):
            new_lo, new_hi = band.bands[i + 1]
            if isinstance(op, Scale):  # linear: the change is scaled, the shift cancels
                change = change * op.scale[:, None]
            elif isinstance(op, Activation):
                pre, post = window_slices(i, lo, hi), window_slices(i + 1, lo, hi)
                mutant = (change.unflatten(0, (-1, 3)) + pre[:, None]).flatten(0, 1)
                change = (op.module(mutant).unflatten(0, (-1, 3)) - post[:, None]).flatten(0, 1)
            elif isinstance(op, Conv):
                # the change on [lo - kernel + 1, hi), cut to the stage's band (no bias: it cancels)
                change = torch.nn.functional.conv_transpose1d(change, self._spread[i])
                begin = new_lo - (lo - op.kernel + 1)
                change = change[:, :, begin : begin + new_hi - new_lo]
            else:
                in_lo, in_hi = new_lo * op.stride, (new_hi - 1) * op.stride + op.kernel
                context = window_slices(i, in_lo, in_hi).repeat_interleave(3, dim=0)
                a, b = max(lo, in_lo), min(hi, in_hi)
                context[:, :, a - in_lo : b - in_lo] += change[:, :, a - lo : b - lo]
                after = window_slices(i + 1, new_lo, new_hi)
                change = (run_op(op, context).unflatten(0, (-1, 3)) - after[:, None]).flatten(0, 1)
            lo, hi = new_lo, new_hi
        weight = self._band_weight((lo, hi), c_f, l_f)
        mutant_pre = ((change.flatten(1) @ weight.T).unflatten(0, (-1, 3)) + dense_pre[:, None]).flatten(0, 1)
        mut_logits = run_ops(self.rest, mutant_pre)
        return ref_logits, mut_logits.view(len(ref_logits), 3, -1)

    def snv_logits(self, longs: list[str], count: int, refs: list[str]) -> torch.Tensor:
        """Logits (3 * n, 2, T) of the SNVs (alternatives in A, C, G, T order, the reference
        base left out) at the centres of ``count`` windows ``period`` bp apart in each of
        ``longs``, the first starting at the stretch's first base; n = len(longs) * count
        windows, stretch by stretch, and ``refs`` their centre bases in that order.

        Args:
            longs: genome stretches of seq_len + period * (count - 1) bases each.
            count: the number of windows of each stretch.
            refs: each window's centre base (A, C, G or T).
        """
        alts = [b for ref in refs for b in BASES if b != ref.upper()]
        ref_f, mut_f = self._strand(longs, count, alts, self.forward_band, reverse=False)
        if self.rc_average:
            flip = str.maketrans("ACGT", "TGCA")
            rcs = [long[::-1].upper().translate(flip) for long in longs]
            complement = [_COMPLEMENT[b] for b in alts]
            ref_r, mut_r = self._strand(rcs, count, complement, self.reverse_band, reverse=True)
            ref_f, mut_f = strand_mean_logits(ref_f, ref_r), strand_mean_logits(mut_f, mut_r)
        reference = ref_f.repeat_interleave(3, dim=0)
        return torch.stack([reference, mut_f.reshape(len(reference), -1)], dim=1).float().cpu()
