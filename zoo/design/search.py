"""Sequence design: greedy rounds and beam search driven by exact ISM, and ledidi for long edits.

Every round of the greedy search runs one ISM of the current sequence (the band method on the
convolutional families: zoo.interpret.ism), scores every allowed single-base change by the
objective and keeps the best; the beam search does the same for ``beam_width`` sequences at once
and keeps the best ``beam_width`` children. The ISM gives each change's logits exactly, so the
table's per-edit values are the model's logits of the edited sequence.

The edit budget counts positions that differ from the start sequence: once it is spent only
positions already edited may change again (back to their start base included).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from zoo._extras import install_hint
from zoo.design.objective import DesignError, Objective
from zoo.interpret.ism import PreparedISM

BASES = "ACGT"
MAX_ROUNDS = 100_000
MAX_BEAM = 1024


@dataclass
class Edit:
    """One accepted edit and the sequence's values after it.

    Attributes:
        round: the round that accepted it (1 = the first).
        position: 0-based position.
        before: the base it replaced.
        after: the new base.
        objective: the objective of the sequence after the edit.
        logits: the logits of :attr:`DesignResult.columns` after the edit.
    """

    round: int
    position: int
    before: str
    after: str
    objective: float
    logits: list[float]


@dataclass
class DesignResult:
    """A designed sequence, how it was reached, and its values per round.

    Attributes:
        start: the start sequence.
        designed: the designed sequence.
        columns: the model outputs the objective reads.
        start_objective: the start sequence's objective.
        start_logits: its logits at ``columns``.
        edits: the accepted edits, in order.
        method: ``greedy``, ``beam`` or ``ledidi``.
    """

    start: str
    designed: str
    columns: list[int]
    start_objective: float
    start_logits: list[float]
    edits: list[Edit] = field(default_factory=list)
    method: str = "greedy"

    @property
    def trajectory(self) -> list[float]:
        """The objective at the start and after each edit."""
        return [self.start_objective, *(e.objective for e in self.edits)]

    @property
    def n_edits(self) -> int:
        """Positions where the designed sequence differs from the start."""
        return sum(a != b for a, b in zip(self.start, self.designed))


def _codes(seq: str, length: int) -> np.ndarray:
    seq = seq.upper()
    if len(seq) != length:
        raise DesignError(f"a start sequence has {len(seq)} bp; the model takes {length}")
    bad = set(seq) - set(BASES)
    if bad:
        raise DesignError(f"a start sequence holds {sorted(bad)}: design needs A, C, G and T only")
    return np.frombuffer(seq.encode("ascii"), np.uint8).copy()


def _one_hot(codes: np.ndarray) -> torch.Tensor:
    index = np.searchsorted(np.frombuffer(BASES.encode(), np.uint8), codes)
    return torch.from_numpy(np.eye(4, dtype=np.float32)[index].T.copy())


def _text(codes: np.ndarray) -> str:
    return codes.tobytes().decode("ascii")


def check_mask(mask: Sequence[bool] | np.ndarray | None, length: int) -> np.ndarray:
    """The (L,) boolean array of positions that may not change (all False for None).

    Args:
        mask: True where a position is kept.
        length: the sequence length.
    """
    if mask is None:
        return np.zeros(length, dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (length,):
        raise DesignError(f"the mask has shape {mask.shape}; expected ({length},), one flag per position")
    if mask.all():
        raise DesignError("the mask keeps every position: nothing may change")
    return mask


def _model_length(model: nn.Module) -> int:
    """The input length of a zoo DNA model; a DesignError for any other module."""
    length = getattr(model, "seq_len", None)
    if not isinstance(length, int):
        raise DesignError(f"design needs a zoo DNA model with a seq_len, got {type(model).__name__}")
    return length


def _check_budget(max_edits: int, rounds: int | None) -> int:
    if not isinstance(max_edits, int) or max_edits < 1:
        raise DesignError(f"max_edits must be a whole number >= 1, got {max_edits!r}")
    rounds = max_edits if rounds is None else rounds
    if not isinstance(rounds, int) or not 1 <= rounds <= MAX_ROUNDS:
        raise DesignError(f"rounds must be a whole number in 1..{MAX_ROUNDS:,}, got {rounds!r}")
    return rounds


class _Scorer:
    """ISM of a batch of sequences at the objective's columns, and the objective of every change."""

    def __init__(self, model: nn.Module, objective: Objective, device: str, batch_size: int) -> None:
        self.objective = objective
        self.ism = PreparedISM(model, objective.columns, device=device, batch_size=batch_size)
        self.start_logits: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reference logits (N, C), mutant logits (N, L, 4, C), reference objective (N,),
        mutant objective (N, L, 4)) of one-hot ``x`` (N, 4, L)."""
        result = self.ism(x)
        ref = result.reference
        if self.start_logits is None:
            self.start_logits = ref[0].clone()
        mutant = ref[:, None, None, :] + result.delta
        return (
            ref,
            mutant,
            self.objective.value(ref, self.start_logits),
            self.objective.value(mutant, self.start_logits),
        )


def _allowed(codes: np.ndarray, start: np.ndarray, keep: np.ndarray, max_edits: int) -> np.ndarray:
    """(L, 4) True for every change allowed: not at a kept position, not the current base, and
    within the budget (at its limit, only positions already edited)."""
    allowed = np.ones((len(codes), 4), dtype=bool)
    allowed[keep] = False
    current = np.searchsorted(np.frombuffer(BASES.encode(), np.uint8), codes)
    allowed[np.arange(len(codes)), current] = False
    edited = codes != start
    if edited.sum() >= max_edits:
        allowed[~edited] = False
    return allowed


def greedy_design(
    model: nn.Module,
    start: str,
    objective: Objective,
    *,
    mask: Sequence[bool] | np.ndarray | None = None,
    max_edits: int = 10,
    rounds: int | None = None,
    min_gain: float = 0.0,
    device: str = "cpu",
    batch_size: int = 1024,
    on_round: Callable[[int], None] | None = None,
) -> DesignResult:
    """Greedy design: each round one exact ISM of the current sequence, then the allowed change
    that raises the objective most.

    Args:
        model: a zoo DNA model.
        start: the start sequence (the model's length, A/C/G/T).
        objective: what to maximise.
        mask: (L,) True at positions that may not change.
        max_edits: the most positions that may differ from ``start``.
        rounds: the most rounds (default ``max_edits``).
        min_gain: stop when no change raises the objective by more than this.
        device: where the ISM runs.
        batch_size: mutants per ISM pass.
        on_round: called with the round number after each round (progress).
    """
    return beam_design(
        model, start, objective, mask=mask, max_edits=max_edits, rounds=rounds, beam_width=1,
        min_gain=min_gain, device=device, batch_size=batch_size, on_round=on_round, method="greedy",
    )  # fmt: skip


def beam_design(
    model: nn.Module,
    start: str,
    objective: Objective,
    *,
    mask: Sequence[bool] | np.ndarray | None = None,
    max_edits: int = 10,
    rounds: int | None = None,
    beam_width: int = 4,
    min_gain: float = 0.0,
    device: str = "cpu",
    batch_size: int = 1024,
    on_round: Callable[[int], None] | None = None,
    method: str = "beam",
) -> DesignResult:
    """Beam search: each round one ISM of every sequence in the beam; the ``beam_width`` best
    distinct children form the next beam. Stops when no child beats the best sequence so far by
    more than ``min_gain``; returns the best sequence seen and the edits that led to it.

    Args:
        model: a zoo DNA model.
        start: the start sequence.
        objective: what to maximise.
        mask: (L,) True at positions that may not change.
        max_edits: the most positions that may differ from ``start``.
        rounds: the most rounds (default ``max_edits``).
        beam_width: sequences kept per round (1: the greedy search).
        min_gain: the least improvement that continues the search.
        device: where the ISM runs.
        batch_size: mutants per ISM pass.
        on_round: called with the round number after each round (progress).
        method: the name the result records.
    """
    length = _model_length(model)
    if not isinstance(beam_width, int) or not 1 <= beam_width <= MAX_BEAM:
        raise DesignError(f"beam_width must be a whole number in 1..{MAX_BEAM}, got {beam_width!r}")
    rounds = _check_budget(max_edits, rounds)
    start_codes = _codes(start, length)
    keep = check_mask(mask, length)
    scorer = _Scorer(model, objective, device, batch_size)
    ref, _, value, _ = scorer(_one_hot(start_codes)[None])
    result = DesignResult(
        start.upper(), start.upper(), list(objective.columns), float(value[0]), ref[0].tolist(), method=method
    )
    beams: list[tuple[np.ndarray, list[Edit], float]] = [(start_codes, [], float(value[0]))]
    best = beams[0]
    bases = np.frombuffer(BASES.encode(), np.uint8)
    for r in range(1, rounds + 1):
        x = torch.stack([_one_hot(codes) for codes, _, _ in beams])
        _, mutant, _, values = scorer(x)
        candidates = []
        for b, (codes, _, _) in enumerate(beams):
            gain = values[b].numpy().astype(np.float64)
            gain[~_allowed(codes, start_codes, keep, max_edits)] = -np.inf
            top = np.argsort(-gain, axis=None, kind="stable")[: beam_width * 4]
            candidates += [(gain.flat[i], b, *divmod(int(i), 4)) for i in top if np.isfinite(gain.flat[i])]
        candidates.sort(key=lambda c: -c[0])
        children, seen = [], set()
        for v, b, pos, base in candidates:
            codes = beams[b][0].copy()
            codes[pos] = bases[base]
            key = codes.tobytes()
            if key in seen:
                continue
            seen.add(key)
            edit = Edit(r, pos, chr(beams[b][0][pos]), BASES[base], float(v), mutant[b, pos, base].tolist())
            children.append((codes, [*beams[b][1], edit], float(v)))
            if len(children) == beam_width:
                break
        if on_round is not None:
            on_round(r)
        if not children or children[0][2] <= best[2] + min_gain:
            break
        beams = children
        best = children[0]
    result.designed = _text(best[0])
    result.edits = best[1]
    return result


def ledidi_design(
    model: nn.Module,
    start: str,
    objective: Objective,
    *,
    mask: Sequence[bool] | np.ndarray | None = None,
    max_edits: int = 10,
    input_weight: float = 0.1,
    max_iter: int = 500,
    batch_size: int = 16,
    device: str = "cpu",
    seed: int = 0,
) -> DesignResult:
    """Gradient design through ledidi (Gumbel-softmax edits of the start sequence), for long edits.

    ledidi proposes a batch of edited sequences; the best by the objective is kept, and its
    edits are then applied one at a time, each time the one that raises the objective most
    (rescored by the model), up to ``max_edits``: the table's values are the model's.

    Args:
        model: a zoo DNA model.
        start: the start sequence.
        objective: what to maximise.
        mask: (L,) True at positions that may not change.
        max_edits: the most positions that may differ from ``start``.
        input_weight: ledidi's weight of the number of edits against the objective (``l``).
        max_iter: ledidi's most iterations.
        batch_size: sequences ledidi draws per iteration.
        device: where it runs.
        seed: ledidi's random state.
    """
    try:
        from ledidi import Ledidi
    except ImportError as err:
        raise ImportError(f"ledidi design needs ledidi: {install_hint('design')}") from err
    length = _model_length(model)
    _check_budget(max_edits, None)
    start_codes = _codes(start, length)
    keep = check_mask(mask, length)
    model = model.to(device).eval()
    columns = torch.tensor(objective.columns, device=device)

    class _Columns(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner.logits(x)[:, columns]

    wrapped = _Columns().eval()
    for p in wrapped.parameters():
        p.requires_grad_(False)
    x0 = _one_hot(start_codes)[None].to(device)
    with torch.no_grad():
        start_logits = wrapped(x0)[0]

    def output_loss(y_hat: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
        return -objective.value(y_hat, start_logits).mean()

    designer = Ledidi(
        wrapped, shape=(4, length), output_loss=output_loss, l=input_weight, max_iter=max_iter,
        batch_size=batch_size, input_mask=torch.from_numpy(keep).to(device), verbose=False,
        random_state=seed,
    ).to(device)  # fmt: skip
    proposals = designer.fit_transform(x0, torch.zeros(1, len(columns), device=device)).detach()
    with torch.no_grad():
        values = objective.value(wrapped(proposals), start_logits)
    chosen = proposals[int(values.argmax())].argmax(0).cpu().numpy()
    target = np.frombuffer(BASES.encode(), np.uint8)[chosen]
    target[keep] = start_codes[keep]
    return _apply_in_order(wrapped, objective, start_codes, target, start_logits, max_edits)


def _apply_in_order(
    wrapped: nn.Module,
    objective: Objective,
    start_codes: np.ndarray,
    target: np.ndarray,
    start_logits: torch.Tensor,
    max_edits: int,
) -> DesignResult:
    """The edits from ``start_codes`` to ``target`` applied best first (each rescored), while
    they raise the objective and the budget lasts."""
    device = start_logits.device
    value0 = float(objective.value(start_logits, start_logits))
    result = DesignResult(
        _text(start_codes), _text(start_codes), [int(c) for c in objective.columns], value0,
        start_logits.cpu().tolist(), method="ledidi",
    )  # fmt: skip
    codes, current = start_codes.copy(), value0
    remaining = [int(p) for p in np.flatnonzero(target != start_codes)]
    for r in range(1, max_edits + 1):
        if not remaining:
            break
        trials = np.repeat(codes[None], len(remaining), 0)
        trials[np.arange(len(remaining)), remaining] = target[remaining]
        with torch.no_grad():
            logits = wrapped(torch.stack([_one_hot(t) for t in trials]).to(device))
            values = objective.value(logits, start_logits)
        k = int(values.argmax())
        if float(values[k]) <= current:
            break
        pos = remaining.pop(k)
        result.edits.append(
            Edit(r, pos, chr(codes[pos]), chr(target[pos]), float(values[k]), logits[k].cpu().tolist())
        )
        codes[pos], current = target[pos], float(values[k])
    result.designed = _text(codes)
    return result


def random_sequences(n: int, length: int, seed: int = 0, gc: float = 0.5) -> list[str]:
    """``n`` random sequences of ``length`` bp with GC content ``gc`` on average (seeded).

    Args:
        n: how many.
        length: their length.
        seed: the random seed.
        gc: the probability of G or C at each position.
    """
    if not 0 <= gc <= 1:
        raise DesignError(f"gc must be in [0, 1], got {gc}")
    rng = np.random.default_rng(seed)
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    codes = rng.choice(np.frombuffer(BASES.encode(), np.uint8), size=(n, length), p=p)
    return [_text(row) for row in codes]
