"""What a design maximises: chosen targets' logits raised or lowered, other targets' change penalised."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from zoo.errors import ZooError


class DesignError(ZooError):
    """A design that cannot run as asked: no target to move, a bad mask or budget."""


@dataclass(frozen=True)
class Objective:
    """``sum(raise logits) - sum(lower logits) - penalty * sum(|other logits - their start|)``.

    Attributes:
        raised: model outputs whose logits go up.
        lowered: model outputs whose logits go down.
        penalised: model outputs whose change from the start sequence is penalised.
        penalty: the weight of that change (0: none).
    """

    raised: tuple[int, ...]
    lowered: tuple[int, ...] = ()
    penalised: tuple[int, ...] = ()
    penalty: float = 0.0

    def __post_init__(self) -> None:
        if not self.raised and not self.lowered:
            raise DesignError("nothing to design for: give at least one target to raise or lower")
        both = set(self.raised) & set(self.lowered)
        if both:
            raise DesignError(f"targets {sorted(both)} are both raised and lowered")
        if self.penalty < 0:
            raise DesignError(f"penalty must be >= 0, got {self.penalty}")

    @property
    def columns(self) -> list[int]:
        """The model outputs the objective reads, in the order :meth:`value` takes them."""
        return [*self.raised, *self.lowered, *(self.penalised if self.penalty else ())]

    def value(self, logits: torch.Tensor, start: torch.Tensor | None = None) -> torch.Tensor:
        """The objective of logits (..., len(columns)), the penalised columns compared with ``start``.

        Args:
            logits: the model's logits at :attr:`columns`, any leading shape.
            start: (len(columns),) the start sequence's logits (needed with a penalty).
        """
        r, lo = len(self.raised), len(self.lowered)
        out = logits[..., :r].sum(-1) - logits[..., r : r + lo].sum(-1)
        if self.penalty and self.penalised:
            if start is None:
                raise DesignError("a penalty needs the start sequence's logits")
            out = out - self.penalty * (logits[..., r + lo :] - start[r + lo :]).abs().sum(-1)
        return out


def make_objective(
    raised: Sequence[int],
    lowered: Sequence[int] = (),
    n_targets: int | None = None,
    penalty: float = 0.0,
    penalised: Sequence[int] | None = None,
) -> Objective:
    """An :class:`Objective`; with a ``penalty``, every target not raised or lowered is penalised
    unless ``penalised`` names them.

    Args:
        raised: outputs to raise.
        lowered: outputs to lower.
        n_targets: the model's number of outputs (for the default penalised set).
        penalty: the weight of the other targets' change.
        penalised: the outputs whose change is penalised (default: all others).
    """
    moved = set(raised) | set(lowered)
    if penalised is None:
        penalised = [t for t in range(n_targets or 0) if t not in moved] if penalty else []
    return Objective(tuple(raised), tuple(lowered), tuple(penalised), float(penalty))
