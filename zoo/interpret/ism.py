"""In-silico saturation mutagenesis (ISM): the change of chosen logits for every single-base change.

``ism(model, seqs)`` scores one batch; ``prepare_ism(model, ...)`` returns a function to call on
batch after batch (what a command line streaming FASTA/BED/VCF windows uses), and
``ism_batches`` maps it over an iterator of batches. Every one of them takes the positions to
mutate (``start``/``end``, ``window=slice(...)``, or ``width`` positions ``around`` one; see
:func:`ism_span`): only those positions' mutants are computed, whatever the method.

Two methods give the same values (within 1e-5 in float32):

- ``"band"`` for every DNA model with a plan (see ``zoo.plan``): DeepSEA, Beluga, Basset, Sei
  and models of their shapes. The reference activations are computed once per sequence;
  each mutant recomputes only the positions its change reaches in every layer, and the
  first dense layer's change from the changed features only (zoo/interpret/_band.py for
  stacks of valid convolutions, zoo/interpret/_band_residual.py for padded and dilated
  convolutions, residual blocks and Sei's spline over positions).
- ``"naive"`` for every other DNA model (DanQ, whose LSTM runs over the whole sequence):
  each mutant sequence goes through the model (``zoo.inference.prepare_logits``), in batches.

``method="auto"`` picks the band method where it applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from zoo._types import PRECISIONS, Precision
from zoo.inference import PRECISION_DTYPES, prepare_logits
from zoo.interpret._arguments import Seqs, Target, as_one_hot, names_of, resolve_targets
from zoo.interpret._band import band_engine, supports_band_ism
from zoo.models import n_targets_of
from zoo.predict.inputs.variants import variant_position

Method = Literal["auto", "band", "naive"]
METHODS: tuple[str, ...] = ("auto", "band", "naive")
# Sequences whose reference activations are held at once (DeepSEA: about 6 MB a sequence);
# mutants of all of them go through the layers together, ordered by position.
_GROUP = 16


@dataclass
class ISMResult:
    """ISM of one batch of N sequences of L bp, for T targets.

    ``delta[n, p, b, t]`` = logit_t(sequence n with one-hot base b at position p) - logit_t(sequence
    n), bases b in A, C, G, T order. It is exactly 0 at the reference base (that "mutant" is
    the sequence itself). At a position whose reference column is not one-hot (an N, encoded
    as ``n_value`` in all four channels) all four bases are real substitutions of the N, so
    none of the four is 0 by definition.

    With ``start``/``end`` only positions [start, end) are mutated: the second axis of
    ``delta`` then has end - start entries, ``delta[:, i]`` for position start + i.

    ``reference`` holds the reference logits (N, T); ``prob_delta`` (with ``probabilities=True``)
    the same changes in probability, sigmoid(mutant) - sigmoid(reference). Variant scoring's
    ``logfc`` of a SNP equals ``delta`` and its ``diff`` equals ``prob_delta``.

    Attributes:
        delta: (N, L, 4, T) float32 changes of the logits (L: end - start with a window).
        reference: (N, T) float32 reference logits.
        prob_delta: (N, L, 4, T) float32 changes of probability (with ``probabilities=True``),
            else None.
        targets: the model outputs behind the T columns.
        target_names: their names (``target_names``, else the model's), if known.
        method: ``"band"`` or ``"naive"``.
        start: ``delta[:, i]`` is position start + i of the sequences.
    """

    delta: torch.Tensor  # (N, L, 4, T) float32
    reference: torch.Tensor  # (N, T) float32
    prob_delta: torch.Tensor | None  # (N, L, 4, T) float32, or None
    targets: list[int]  # the model outputs behind the T columns
    target_names: list[str] | None  # their names (target_names, else the model's), if known
    method: str  # "band" or "naive"
    start: int = 0  # delta[:, i] is position start + i of the sequences


class _NaiveISM:
    """Mutant logits from whole mutant sequences through ``prepare_logits``."""

    def __init__(
        self, model: nn.Module, targets: list[int], precision: Precision, device: torch.device
    ) -> None:
        self.logits_fn = prepare_logits(model, precision, device)
        self.targets = torch.tensor(targets, dtype=torch.long)
        self.device = device

    def prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(sequences on the device, their reference logits)."""
        x = x.to(self.device)
        return x, self._logits(x)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        out = self.logits_fn(x)
        return out[:, self.targets.to(out.device)]

    def reference(self, state: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return state[1]

    def mutant_logits(  # the signature of BandISM.mutant_logits
        self,
        state: tuple[torch.Tensor, torch.Tensor],
        seq: torch.Tensor,
        pos: torch.Tensor,
        base: torch.Tensor,
    ) -> torch.Tensor:
        x = state[0]
        seq, pos, base = seq.to(x.device), pos.to(x.device), base.to(x.device)
        mutants = x[seq]  # a copy (advanced indexing)
        mutants[torch.arange(len(seq), device=x.device), :, pos] = F.one_hot(base, 4).to(x.dtype)
        return self._logits(mutants)


def mutant_index(x: torch.Tensor, start: int = 0, end: int | None = None) -> torch.Tensor:
    """(M, 3) rows (sequence, position, base) of every single-base change of ``x`` (N, 4, L) at
    positions [start, end), ordered by position: each base that differs from the column (all
    four at an N).

    Args:
        x: one-hot sequences (N, 4, L).
        start: the first position mutated.
        end: the end of the positions mutated (exclusive); None: L.
    """
    x = x[:, :, start:end]
    is_reference = (x == 1) & (x.sum(1, keepdim=True) == 1)
    index = torch.nonzero(~is_reference.permute(2, 0, 1))[:, [1, 0, 2]]
    index[:, 1] += start
    return index


def _check_span(start: int, end: int | None, seq_len: int) -> tuple[int, int]:
    """(start, end) of the positions to mutate, checked against the model's sequence length."""
    end = seq_len if end is None else end
    if not (_is_int(start) and _is_int(end) and 0 <= start < end <= seq_len):
        raise ValueError(f"start={start!r}, end={end!r}: expected 0 <= start < end <= seq_len={seq_len}")
    return int(start), int(end)


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def ism_span(
    seq_len: int,
    start: int = 0,
    end: int | None = None,
    *,
    window: slice | tuple[int, int] | None = None,
    around: int | None = None,
    width: int | None = None,
) -> tuple[int, int]:
    """(start, end): the positions [start, end) of a ``seq_len`` bp sequence that ISM mutates,
    given in one of three ways, each checked against the sequence.

    Args:
        seq_len: the model's sequence length.
        start: the first position (0-based), with ``end``.
        end: one past the last position (None: the sequence's end).
        window: the same as a ``slice(start, end)`` (no step) or a ``(start, end)`` pair.
        around: the position ``width`` bases are centred on: [around - width // 2, ... +
            width); None with ``width``: the variant's base of a zoo-predict variant window
            (``seq_len // 2 - 1``).
        width: how many positions around ``around``.

    Raises:
        ValueError: for two ways at once, a slice with a step, or positions off the sequence.
    """
    given = [name for name, value in (("window", window), ("width", width)) if value is not None]
    if (start, end) != (0, None):
        given.insert(0, "start/end")
    if len(given) > 1:
        raise ValueError(f"give the positions one way, not {' and '.join(given)}")
    if around is not None and width is None:
        raise ValueError(f"around={around!r} needs width: the number of positions around it")
    if window is not None:
        if isinstance(window, slice):
            if window.step not in (None, 1):
                raise ValueError(f"window={window!r}: a slice of consecutive positions has no step")
            start, end = 0 if window.start is None else window.start, window.stop
        elif isinstance(window, (tuple, list)) and len(window) == 2:
            start, end = window
        else:
            raise ValueError(f"window={window!r}: expected a slice(start, end) or a (start, end) pair")
        return _check_span(start, end, seq_len)
    if width is not None:
        if not _is_int(width) or width < 1:
            raise ValueError(f"width={width!r}: expected a positive number of positions")
        if around is None:
            around = variant_position(seq_len)
        if not _is_int(around):
            raise ValueError(f"around={around!r}: expected a position (an int)")
        first = int(around) - int(width) // 2
        if first < 0 or first + width > seq_len:
            raise ValueError(
                f"around={around}, width={width}: positions [{first}, {first + width}) run off the "
                f"{seq_len} bp sequence; expected 0 <= around - width // 2 and "
                f"around - width // 2 + width <= {seq_len}"
            )
        return first, first + int(width)
    return _check_span(start, end, seq_len)


class PreparedISM:
    """ISM as a function of a batch: ``result = prepared(seqs)``, the model prepared once.

    The model is moved to ``device`` and put in eval mode (dropout off); prepare again after
    changing its weights. ``start``/``end``, or ``window``, or ``width`` positions ``around``
    one select the positions mutated (all by default; :func:`ism_span` says how each is read
    and checked).

    Args:
        model: the model.
        targets: None (all), an index, a name (looked up in ``target_names``) or a list of them.
        target_names: the names targets are looked up in (by default the model's
            ``target_names`` where it carries them).
        batch_size: mutants per pass.
        device: where to run the model.
        precision: ``"bf16"`` runs the matrix products in bfloat16: with the band method only
            the *changes* are rounded (reference activations stay float32), so deltas stay
            within 2e-2 of float32 relative to their largest value; the naive method rounds
            whole logits, which is coarser.
        probabilities: also return the changes of probability.
        n_value: encodes N in string input.
        method: "auto" (band where it applies), "band" or "naive" (see the module).
        start: the first position mutated.
        end: the end of the positions mutated (exclusive).
        window: the positions mutated, a ``slice(start, end)`` or a pair.
        around: the position the ``width`` positions are centred on (by default a zoo-predict
            variant window's variant).
        width: mutate this many positions ``around`` one.
    """

    def __init__(
        self,
        model: nn.Module,
        targets: Target | Sequence[Target] | None = None,
        *,
        target_names: Sequence[str] | None = None,
        batch_size: int = 256,
        device: str | torch.device = "cpu",
        precision: Precision = "fp32",
        probabilities: bool = False,
        n_value: float = 0.25,
        method: Method = "auto",
        start: int = 0,
        end: int | None = None,
        window: slice | tuple[int, int] | None = None,
        around: int | None = None,
        width: int | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision={precision!r} is not one of {list(PRECISIONS)}")
        if method not in METHODS:
            raise ValueError(f"method={method!r} is not one of {list(METHODS)}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int (mutants per pass), got {batch_size!r}")
        if not callable(getattr(model, "logits", None)) or not isinstance(
            getattr(model, "seq_len", None), int
        ):
            raise ValueError(
                f"ISM needs a zoo DNA model (with .logits and .seq_len), got {type(model).__name__}"
            )
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' was asked for, but torch sees no CUDA device")
        self.model = model.to(self.device).eval()
        target_names = names_of(model, target_names)
        self.targets = resolve_targets(targets, n_targets_of(model), target_names)
        self.target_names = (
            [list(target_names)[i] for i in self.targets] if target_names is not None else None
        )
        band = supports_band_ism(model)
        if method == "band" and not band:
            raise ValueError(
                f"method='band' needs a DNA model with a plan (zoo.plan: convolutions, batch norms, "
                f"activations, max-pools, residual blocks, maps over positions, then dense layers); "
                f"{type(model).__name__} has none: use method='naive' or 'auto'"
            )
        self.method = "band" if band and method != "naive" else "naive"
        if self.method == "band":
            self.engine = band_engine(model, self.targets, PRECISION_DTYPES[precision], self.device)
        else:
            self.engine = _NaiveISM(model, self.targets, precision, self.device)
        self.batch_size, self.probabilities, self.n_value = batch_size, probabilities, n_value
        self.start, self.end = ism_span(model.seq_len, start, end, window=window, around=around, width=width)

    def __call__(self, seqs: Seqs) -> ISMResult:
        """ISM of one batch of sequences (strings, or one-hot (N, 4, L))."""
        x = as_one_hot(seqs, self.model, self.n_value)
        n, length, t = len(x), self.end - self.start, len(self.targets)
        delta = torch.zeros(n, length, 4, t)
        prob = torch.zeros(n, length, 4, t) if self.probabilities else None
        reference = torch.empty(n, t)
        step = min(_GROUP, getattr(self.engine, "group", _GROUP))  # Sei's activations are large
        for g in range(0, n, step):
            group = x[g : g + step]
            state = self.engine.prepare(group)
            ref = self.engine.reference(state)
            reference[g : g + len(group)] = ref.cpu()
            for chunk in mutant_index(group, self.start, self.end).split(self.batch_size):
                seq, pos, base = chunk.unbind(1)
                logits = self.engine.mutant_logits(state, seq, pos, base)
                ref_rows = ref[seq.to(ref.device)]
                at = (seq + g, pos - self.start, base)
                delta[at] = (logits - ref_rows).cpu()
                if prob is not None:
                    prob[at] = (torch.sigmoid(logits) - torch.sigmoid(ref_rows)).cpu()
        return ISMResult(
            delta, reference, prob, list(self.targets), self.target_names, self.method, self.start
        )


def prepare_ism(
    model: nn.Module, targets: Target | Sequence[Target] | None = None, **options: Any
) -> PreparedISM:
    """ISM prepared once for ``model``, to call on batch after batch: ``prepare_ism(m)(seqs)``
    (``options`` as :class:`PreparedISM` takes them).

    Args:
        model: the model.
        targets: None (all), an index, a name or a list of them (see :class:`PreparedISM`).
        **options: as :class:`PreparedISM` takes them.
    """
    return PreparedISM(model, targets, **options)


def ism(
    model: nn.Module, seqs: Seqs, targets: Target | Sequence[Target] | None = None, **options: Any
) -> ISMResult:
    """ISM of ``seqs`` (strings or one-hot (N, 4, L)); see :class:`ISMResult` for what it holds
    and :class:`PreparedISM` for the keyword ``options`` (``target_names``, ``batch_size``,
    ``device``, ``precision``, ``probabilities``, ``n_value``, ``method``, and the positions:
    ``start``/``end``, ``window`` or ``around``/``width``).
    The result takes N * (end - start) * 4 * T * 4 bytes: choose targets for long sequences or
    many outputs."""
    return PreparedISM(model, targets, **options)(seqs)


def ism_batches(model: nn.Module, batches: Iterable[Seqs], **options: Any) -> Iterator[ISMResult]:
    """One :class:`ISMResult` per batch of ``batches``, the model prepared once (``options`` as
    :class:`PreparedISM` takes them, ``targets`` included).

    Args:
        model: the model.
        batches: batches of sequences (strings or one-hot).
        **options: as :class:`PreparedISM` takes them, ``targets`` included.
    """
    prepared = PreparedISM(model, **options)
    for batch in batches:
        yield prepared(batch)
