"""Foreign checkpoint layouts described as data, and the one function that applies them.

A model family declares each public layout it accepts as a :class:`Layout`: the file's keys
and the zoo key each maps to, the shapes the file's tensors must have, which Conv2d kernels
become Conv1d, which first-layer weights take their input channels in AGCT order, the
constructor arguments the original model implies, and a warning where the original computed
something else. :func:`convert` applies any layout; nothing here knows a family.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.weights.safe_load import StateDict

Shape = tuple[int | None, ...]  # None: any size along that axis

# Index, in the AGCT order of the Torch7 DeepSEA-family weights, of each base in ACGT order.
AGCT_TO_ACGT = [0, 2, 1, 3]


class LayoutError(ZooError):
    """A tensor in a recognised foreign layout does not have the shape that layout implies."""


@dataclass(frozen=True)
class Layout:
    """One public checkpoint layout and how it maps onto a zoo model.

    ``renames`` maps each of the file's keys (after ``prefix``, a numbered wrapper such as
    Kipoi's ``2.``) to the zoo key; ``shapes`` gives the expected shape of a file key (None
    for any size); ``squeeze`` names file keys holding Conv2d kernels with a size-1 axis to
    drop (the axis as value); ``agct_input`` names file keys whose axis 1 holds input channels
    in A, G, C, T order. ``implied_args`` are constructor arguments the original model ran
    with; ``wrapper_args`` those implied when the layout sits under a wrapper prefix
    component (Selene's ``NonStrandSpecific`` stores its network under ``model.``).
    ``model`` is the registry name, filled in when the family registers the layout.
    """

    name: str
    description: str
    renames: Mapping[str, str]
    prefix: str = ""
    shapes: Mapping[str, Shape] = field(default_factory=dict)
    squeeze: Mapping[str, int] = field(default_factory=dict)
    agct_input: tuple[str, ...] = ()
    implied_args: Mapping[str, Any] = field(default_factory=dict)
    wrapper_args: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    warning: str = ""
    model: str = ""

    @property
    def keys(self) -> frozenset[str]:
        """The exact key set of a file in this layout."""
        return frozenset(self.prefix + key for key in self.renames)

    def args_under(self, prefix: str) -> dict[str, Any]:
        """The implied constructor arguments when the layout is found under ``prefix``."""
        args = dict(self.implied_args)
        for part in prefix.split("."):
            args.update(self.wrapper_args.get(part, {}))
        return args


def require_tensor_shape(state: Mapping[str, torch.Tensor], key: str, shape: Shape) -> torch.Tensor:
    """``state[key]``, asserting its rank and every axis size that ``shape`` fixes."""
    t = state[key]
    if t.dim() != len(shape) or any(want is not None and got != want for got, want in zip(t.shape, shape)):
        want = ", ".join("*" if s is None else str(s) for s in shape)
        raise LayoutError(f"{key}: expected shape ({want}), got {tuple(t.shape)}")
    return t


def apply_layout(layout: Layout, state: Mapping[str, torch.Tensor]) -> StateDict:
    """``state`` (the file's tensors, keys as in the file) in the zoo's key names and shapes."""
    plain = {k[len(layout.prefix) :]: v for k, v in state.items() if k.startswith(layout.prefix)}
    missing = sorted(set(layout.renames) - set(plain))
    if missing:
        raise LayoutError(f"missing keys {missing}")
    for key, shape in layout.shapes.items():
        require_tensor_shape(plain, key, shape)
    out: StateDict = {}
    for key, zoo_key in layout.renames.items():
        t = plain[key]
        if key in layout.squeeze:
            axis = layout.squeeze[key]
            if t.dim() <= axis or t.shape[axis] != 1:
                raise LayoutError(f"{key}: expected size 1 along axis {axis}, got {tuple(t.shape)}")
            t = t.squeeze(axis)
        if key in layout.agct_input:
            t = t[:, AGCT_TO_ACGT].contiguous()
        out[zoo_key] = t
    return out
