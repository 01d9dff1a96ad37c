"""Tensor helpers the family converters share, and the table of known checkpoint layouts.

Each family file (zoo/models/*.py) ends with plain functions that map one foreign layout's
keys to the zoo's, name by name; :data:`LAYOUTS` lists them with the key sets that identify
them, and :mod:`zoo.weights` picks the layout whose keys a file carries.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

StateDict = dict[str, torch.Tensor]

# Index, in the AGCT order of DeepSEA's Torch7 weights, of each base in the zoo's ACGT order.
AGCT_TO_ACGT = [0, 2, 1, 3]


class LayoutError(ValueError):
    """A tensor in a recognised foreign layout does not have the shape that layout implies."""


def expect(
    state: Mapping[str, torch.Tensor], key: str, rank: int, fixed: Mapping[int, int] | None = None
) -> torch.Tensor:
    """``state[key]``, asserting its rank and the sizes of the axes in ``fixed``."""
    t = state[key]
    ok = t.dim() == rank and all(t.shape[axis] == size for axis, size in (fixed or {}).items())
    if not ok:
        want = ", ".join(str((fixed or {}).get(i, "*")) for i in range(rank))
        raise LayoutError(f"{key}: expected shape ({want}), got {tuple(t.shape)}")
    return t


def rename(state: Mapping[str, torch.Tensor], names: Mapping[str, str]) -> StateDict:
    """``state`` re-keyed by ``names`` (foreign -> zoo); every foreign key must be present."""
    missing = sorted(set(names) - set(state))
    if missing:
        raise LayoutError(f"missing keys {missing}")
    return {zoo_key: state[foreign] for foreign, zoo_key in names.items()}


def conv2d_as_conv1d(
    state: Mapping[str, torch.Tensor], key: str, axis: int, in_channels: int | None = None
) -> torch.Tensor:
    """A Conv2d weight whose kernel has size 1 along ``axis`` (2 = height, 3 = width), as Conv1d."""
    fixed = {axis: 1} if in_channels is None else {axis: 1, 1: in_channels}
    return expect(state, key, 4, fixed).squeeze(axis)


def agct_to_acgt(weight: torch.Tensor) -> torch.Tensor:
    """First-layer weights for AGCT input channels, reordered for ACGT input."""
    return weight[:, AGCT_TO_ACGT].contiguous()


def positions_to_seq_len(positions: Callable[[int], int], target: int, current: int) -> int | None:
    """A ``seq_len`` whose flattened positions equal ``target``: ``current`` if it does, else
    the first multiple of 100 that does, else the smallest; None when none up to 100 kb does."""
    fits = (
        [n for n in range(1, 100_001) if positions(n) == target]
        if positions(current) != target
        else [current]
    )
    if not fits:
        return None
    round_ = [n for n in fits if n % 100 == 0]
    return (round_ or fits)[0]


def implied_seq_len(
    positions: Callable[[int], int], in_features: int, channels: int, current: int
) -> dict[str, int]:
    """``{"seq_len": n}`` when a first dense layer of ``in_features`` = ``channels`` x
    ``positions(n)`` pins down ``n`` (see :func:`positions_to_seq_len`); else ``{}``."""
    if in_features % channels:
        return {}
    seq_len = positions_to_seq_len(positions, in_features // channels, current)
    return {} if seq_len is None else {"seq_len": seq_len}


@dataclass(frozen=True)
class Layout:
    """One known checkpoint layout: which keys identify it and how to convert it."""

    name: str  # short id, e.g. "kipoi-deepsea"
    description: str  # where such files come from
    model: str  # registry name of the zoo model it converts into
    keys: frozenset[str]  # the exact key set of such a file (wrapper prefixes removed)
    convert: Callable[[StateDict], StateDict]
    implied_args: dict[str, Any] = field(default_factory=dict)  # constructor args its outputs need
    warning: str = ""  # said whenever the layout is loaded


_SELENE_DANQ_WARNING = (
    "Selene's DanQ forward hands its batch_first LSTM a (positions, batch, channels) tensor, so "
    "it recurs across the batch instead of along each sequence and a sample's output depends on "
    "its batch-mates. The zoo's DanQ runs the LSTM along the positions of each sequence (as the "
    "Keras original does): with these weights its outputs will differ from Selene's forward."
)


def _layouts() -> list[Layout]:
    from zoo.models import basset, beluga, danq, dcgan, deepsea

    kipoi = deepsea.KIPOI_DEEPSEA_KEYS
    return [
        Layout(
            "kipoi-deepsea", "Kipoi DeepSEA deepsea_cpu.pth", "deepsea", kipoi, deepsea.convert_kipoi_deepsea
        ),
        Layout(
            "kipoi-deepsea-variant-effect",
            "Kipoi DeepSEA variant-effect model (Sequential(ReCodeAlphabet, deepsea_cpu), keys 1.*)",
            "deepsea",
            frozenset("1." + k for k in kipoi),
            lambda s: deepsea.convert_kipoi_deepsea(_strip(s, "1.")),
        ),
        Layout(
            "kipoi-deepsea-predict",
            "Kipoi DeepSEA predict model (ReCodeAlphabet, ConcatenateRC, deepsea_cpu, AverageRC; keys 2.*)",
            "deepsea",
            frozenset("2." + k for k in kipoi),
            lambda s: deepsea.convert_kipoi_deepsea(_strip(s, "2.")),
            implied_args={"rc_average": True},
        ),
        Layout(
            "selene-deepsea",
            "Selene's DeepSEA (models/deepsea.py)",
            "deepsea",
            deepsea.SELENE_DEEPSEA_KEYS,
            deepsea.convert_selene_deepsea,
            implied_args={"activation": "relu"},
        ),
        Layout(
            "expecto-beluga",
            "ExPecto's Beluga deepsea.beluga.pth (AGCT input)",
            "beluga",
            beluga.EXPECTO_BELUGA_KEYS,
            beluga.convert_expecto_beluga,
        ),
        Layout(
            "kipoi-basset", "Kipoi Basset", "basset", basset.KIPOI_BASSET_KEYS, basset.convert_kipoi_basset
        ),
        Layout(
            "selene-danq",
            "Selene's DanQ (models/danq.py)",
            "danq",
            danq.SELENE_DANQ_KEYS,
            danq.convert_selene_danq,
            warning=_SELENE_DANQ_WARNING,
        ),
        Layout(
            "dcgan-netg",
            "pytorch/examples DCGAN generator netG_epoch_N.pth (the same keys as ImageDecoder(n_layers=5))",
            "image_decoder",
            dcgan.DCGAN_NETG_KEYS,
            dcgan.convert_dcgan_netg,
            implied_args={"n_layers": 5},
        ),
        Layout(
            "dcgan-netd",
            "pytorch/examples DCGAN discriminator netD_epoch_N.pth (the same keys as ImageDiscriminator(64))",
            "image_discriminator",
            dcgan.DCGAN_NETD_KEYS,
            dcgan.convert_dcgan_netd,
            implied_args={"image_size": 64},
        ),
    ]


def _strip(state: StateDict, prefix: str) -> StateDict:
    return {k[len(prefix) :]: v for k, v in state.items()}


_CACHE: list[Layout] = []


def layouts() -> list[Layout]:
    """Every known foreign layout (built on first use, so importing this module stays cheap)."""
    if not _CACHE:
        _CACHE.extend(_layouts())
    return _CACHE


def layout_for_keys(keys: set[str] | frozenset[str]) -> Layout | None:
    """The layout whose key set is exactly ``keys``, if any."""
    return next((layout for layout in layouts() if layout.keys == keys), None)


def args_from_state(model_name: str, state: StateDict, current: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments that the zoo-keyed ``state`` implies for ``model_name``.

    Each family file provides ``<family>_args_from_state``; arguments the shapes cannot tell
    keep their ``current`` value. Returns {} when the state does not fit the family's keys.
    """
    module, func = _ARGS_FROM_STATE.get(model_name, (None, None))
    if module is None:
        return {}
    try:
        return getattr(importlib.import_module(module), func)(state, current)
    except (KeyError, IndexError, ValueError, ZeroDivisionError):
        return {}


_ARGS_FROM_STATE = {
    "deepsea": ("zoo.models.deepsea", "deepsea_args_from_state"),
    "beluga": ("zoo.models.beluga", "beluga_args_from_state"),
    "basset": ("zoo.models.basset", "basset_args_from_state"),
    "danq": ("zoo.models.danq", "danq_args_from_state"),
    "image_decoder": ("zoo.models.dcgan", "image_decoder_args_from_state"),
    "image_discriminator": ("zoo.models.dcgan", "image_discriminator_args_from_state"),
    "binary_classifier": ("zoo.models.classifier", "binary_classifier_args_from_state"),
}
