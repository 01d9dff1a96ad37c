"""Checkpoint layouts: the public names of :mod:`zoo.weights.layouts`, where they are defined."""

from zoo.weights.layouts import Layout, LayoutError, convert

__all__ = ["Layout", "LayoutError", "convert"]
