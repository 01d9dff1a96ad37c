"""Sequence design: raise or lower chosen targets of a DNA model from a start sequence, with kept
positions, an edit budget and a penalty on the other targets' change.

``greedy_design`` and ``beam_design`` run on exact ISM rounds (zoo.interpret); ``ledidi_design``
needs ledidi: ``pip install "sigmoid-zoo[design]"``.
"""

from zoo.design.objective import DesignError, Objective, make_objective
from zoo.design.search import (
    DesignResult,
    Edit,
    beam_design,
    greedy_design,
    ledidi_design,
    random_sequences,
)

__all__ = [
    "DesignError",
    "DesignResult",
    "Edit",
    "Objective",
    "beam_design",
    "greedy_design",
    "ledidi_design",
    "make_objective",
    "random_sequences",
]
