"""One plan per network: a DNA model lowered once into typed ops that every backend executes.

``plan = lower(model)`` gives a :class:`Plan` (or an :class:`Unsupported` with its reason);
the op records live in :mod:`zoo.plan.ops`. The channels-last inference path, band ISM and
:mod:`zoo.plan.reference` consume a plan; none of them walks the model's layers.
"""

from zoo.plan.lower import lower
from zoo.plan.ops import Plan, Unsupported

__all__ = ["Plan", "Unsupported", "lower"]
