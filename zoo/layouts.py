"""Checkpoint layouts: the public names of :mod:`zoo.weights.layouts`, where they are defined."""

from zoo.weights.layouts import Layout, LayoutError, apply_layout

__all__ = ["Layout", "LayoutError", "apply_layout"]
