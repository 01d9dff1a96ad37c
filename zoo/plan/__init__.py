"""One plan per network: a DNA model lowered once into typed ops that every backend executes.

``plan = lower(model)`` gives a :class:`Plan` (or an :class:`Unsupported` with its reason);
the channels-last inference path, band ISM and :mod:`zoo.plan.reference` consume it.
"""

from zoo.plan.lower import lower
from zoo.plan.ops import (
    Activation,
    Conv,
    Linear,
    MaxPool,
    Op,
    Plan,
    PositionMap,
    Residual,
    Scale,
    Unsupported,
    converted,
    position_major,
)

__all__ = [
    "Activation",
    "Conv",
    "Linear",
    "MaxPool",
    "Op",
    "Plan",
    "PositionMap",
    "Residual",
    "Scale",
    "Unsupported",
    "converted",
    "lower",
    "position_major",
]
