"""DeepSEA (Zhou & Troyanskaya 2015): three convolutions, a 925-unit hidden layer, 919 targets.

Layer indices follow the Kipoi ``deepsea_cpu`` layout (convolutions at 0, 4, 8), so the
converters map keys by name, not by position.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from zoo._bases import ALPHABET
from zoo._registry import DNA_INPUT, Conventions, register_model
from zoo.heads import HeadName, make_head
from zoo.models._dna import DNAModel, conv_out_len, implied_seq_len, positions_after_convs
from zoo.weights.layouts import Layout
from zoo.weights.published import PublishedFile


def deepsea_positions(seq_len: int, kernel_size: int = 8, pool_size: int = 4) -> int:
    """Positions left after DeepSEA's three convolutions and two pools (53 for 1000 bp)."""
    k, p = kernel_size, pool_size
    return conv_out_len(conv_out_len(conv_out_len(seq_len, k, p), k, p), k)


def _activation(kind: str) -> nn.Module:
    if kind == "threshold":
        # The Torch7 original: y = x if x > 0 else 1e-6 (not 0).
        return nn.Threshold(0.0, 1e-6)
    if kind == "relu":
        return nn.ReLU()
    raise ValueError(f"activation={kind!r} is not one of ['threshold', 'relu']")


class DeepSEA(DNAModel):
    """DeepSEA: Conv(320,8)-Pool(4)-Conv(480,8)-Pool(4)-Conv(960,8)-Linear(hidden)-Linear(n_targets).

    ``activation="threshold"`` is the original's Threshold(0, 1e-6); Selene's port uses
    ``"relu"`` and ``hidden=n_targets``. ``rc_average=True`` averages forward and
    reverse-complement probabilities, like Kipoi's DeepSEA predict model.

    Args:
        seq_len: the input length.
        n_targets: the number of outputs.
        hidden: the width of the hidden dense layer.
        conv_channels: the filters of the three convolutions.
        kernel_size: the width of every convolution.
        pool_size: the width and stride of the max pools.
        dropouts: the dropout rates after the first pool, the second pool and the third
            convolution.
        activation: ``"threshold"`` (the original's Threshold(0, 1e-6)) or ``"relu"``
            (Selene's port).
        head: the output head, a key of :data:`zoo.heads.HEADS`.
        rc_average: average the forward and reverse-complement probabilities.
    """

    def __init__(
        self,
        seq_len: int = 1000,
        n_targets: int = 919,
        hidden: int = 925,
        conv_channels: tuple[int, int, int] = (320, 480, 960),
        kernel_size: int = 8,
        pool_size: int = 4,
        dropouts: tuple[float, float, float] = (0.2, 0.2, 0.5),
        activation: Literal["threshold", "relu"] = "threshold",
        head: HeadName = "sigmoid",
        rc_average: bool = False,
    ) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.n_targets = n_targets
        self.hidden = hidden
        self.conv_channels = conv_channels
        self.kernel_size = kernel_size
        self.pool_size = pool_size
        self.dropouts = dropouts
        self.activation = activation
        self.rc_average = rc_average
        if not all(0.0 <= p <= 1.0 for p in dropouts):  # NaN too, which nn.Dropout lets through
            raise ValueError(f"DeepSEA: dropouts={tuple(dropouts)!r}, each must be in [0, 1]")
        c1, c2, c3 = conv_channels
        k, p = kernel_size, pool_size
        positions = positions_after_convs(
            "DeepSEA",
            seq_len,
            lambda n: deepsea_positions(n, k, p),
        )
        self.conv = nn.Sequential(
            nn.Conv1d(4, c1, k), _activation(activation), nn.MaxPool1d(p, p), nn.Dropout(dropouts[0]),
            nn.Conv1d(c1, c2, k), _activation(activation), nn.MaxPool1d(p, p), nn.Dropout(dropouts[1]),
            nn.Conv1d(c2, c3, k), _activation(activation), nn.Dropout(dropouts[2]),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(),  # channel-major, as the original's view
            nn.Linear(c3 * positions, hidden),
            _activation(activation),
            nn.Linear(hidden, n_targets),
        )
        self.head = make_head(head)


# --- Public checkpoint layouts ---------------------------------------------------------------

_KIPOI_DEEPSEA = {  # Kipoi deepsea_cpu.pth -> zoo DeepSEA
    "0.weight": "conv.0.weight", "0.bias": "conv.0.bias",
    "4.weight": "conv.4.weight", "4.bias": "conv.4.bias",
    "8.weight": "conv.8.weight", "8.bias": "conv.8.bias",
    "12.1.weight": "classifier.1.weight", "12.1.bias": "classifier.1.bias",
    "14.1.weight": "classifier.3.weight", "14.1.bias": "classifier.3.bias",
}  # fmt: skip
# Torch7's Conv2d kernels of height 1 (squeezed to Conv1d); the first takes AGCT input
# (Kipoi's ReCodeAlphabet, folded into the weights).
_KIPOI_SHAPES = {
    "0.weight": (None, 4, 1, None), "4.weight": (None, None, 1, None), "8.weight": (None, None, 1, None),
    "12.1.weight": (None, None), "14.1.weight": (None, None),
    **{k: (None,) for k in ("0.bias", "4.bias", "8.bias", "12.1.bias", "14.1.bias")},
}  # fmt: skip


def _kipoi(name: str, description: str, prefix: str = "", **kwargs: object) -> Layout:
    return Layout(
        name, description, _KIPOI_DEEPSEA, prefix=prefix, shapes=_KIPOI_SHAPES,
        squeeze={"0.weight": 2, "4.weight": 2, "8.weight": 2}, agct_input=("0.weight",), **kwargs,
    )  # fmt: skip


LAYOUTS = (
    _kipoi("kipoi-deepsea", "Kipoi DeepSEA deepsea_cpu.pth"),
    _kipoi(
        "kipoi-deepsea-variant-effect",
        "Kipoi DeepSEA variant-effect model (Sequential(ReCodeAlphabet, deepsea_cpu), keys 1.*)",
        prefix="1.",
    ),
    _kipoi(
        "kipoi-deepsea-predict",
        "Kipoi DeepSEA predict model (ReCodeAlphabet, ConcatenateRC, deepsea_cpu, AverageRC; keys 2.*)",
        prefix="2.",
        implied_args={"rc_average": True},
    ),
    Layout(
        "selene-deepsea",
        "Selene's DeepSEA (models/deepsea.py)",
        {  # already Conv1d on ACGT: names only
            "conv_net.0.weight": "conv.0.weight",
            "conv_net.0.bias": "conv.0.bias",
            "conv_net.4.weight": "conv.4.weight",
            "conv_net.4.bias": "conv.4.bias",
            "conv_net.8.weight": "conv.8.weight",
            "conv_net.8.bias": "conv.8.bias",
            "classifier.0.weight": "classifier.1.weight",
            "classifier.0.bias": "classifier.1.bias",
            "classifier.2.weight": "classifier.3.weight",
            "classifier.2.bias": "classifier.3.bias",
        },  # fmt: skip
        shapes={
            "conv_net.0.weight": (None, 4, None),
            "conv_net.4.weight": (None, None, None),
            "conv_net.8.weight": (None, None, None),
            "classifier.0.weight": (None, None),
            "classifier.2.weight": (None, None),
        },  # fmt: skip
        implied_args={"activation": "relu"},
        # Selene's NonStrandSpecific (mode='mean') stores the network under model. and averages strands
        wrapper_args={"model": {"rc_average": True}},
    ),
)


def deepsea_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The DeepSEA constructor arguments that zoo-keyed ``state``'s shapes imply."""
    c1, c2, c3 = (state[f"conv.{i}.weight"].shape[0] for i in (0, 4, 8))
    k, p = state["conv.0.weight"].shape[2], current["pool_size"]
    in_features = state["classifier.1.weight"].shape[1]
    args = {
        "n_targets": state["classifier.3.weight"].shape[0],
        "hidden": state["classifier.1.weight"].shape[0],
        "conv_channels": (c1, c2, c3),
        "kernel_size": k,
    }
    positions = lambda n: deepsea_positions(n, k, p)  # noqa: E731
    return {**args, **implied_seq_len(positions, in_features, c3, current["seq_len"])}


# --- Published checkpoints -------------------------------------------------------------------

PUBLISHED = (
    PublishedFile(
        name="deepsea.kipoi_predict",
        args={"seq_len": 1000, "n_targets": 919, "rc_average": True},
        layout="kipoi-deepsea-predict",
        url="https://zenodo.org/record/1466993/files/deepsea_predict.pth?download=1",
        md5="89e640bf6bdbe1ff165f484d9796efc7",
        license="CC-BY-3.0",
        source="Kipoi model zoo, DeepSEA/predict",
        description=(
            "Kipoi's DeepSEA sequence-prediction model: the probabilities of the forward and the "
            "reverse-complement sequence averaged, as on the DeepSEA website"
        ),
    ),
    PublishedFile(
        name="deepsea.kipoi_variant_effects",
        args={"seq_len": 1000, "n_targets": 919, "rc_average": False},
        layout="kipoi-deepsea-variant-effect",
        url="https://zenodo.org/record/1466993/files/deepsea_variant_effects.pth?download=1",
        md5="35956ab9c28960b5a3693f470fe980c1",
        license="CC-BY-3.0",
        source="Kipoi model zoo, DeepSEA/variantEffects",
        description="Kipoi's DeepSEA variant-effect model: the same network on the forward strand only",
    ),
)


register_model(
    "deepsea",
    DeepSEA,
    paper="Zhou & Troyanskaya 2015, Nat. Methods",
    doi="10.1038/nmeth.3547",
    inputs=DNA_INPUT,
    conventions=Conventions(alphabet=ALPHABET, n_value=0.25, targets="deepsea_919"),  # Kipoi's encoding
    layouts=LAYOUTS,
    args_from_state=deepsea_args_from_state,
    published=PUBLISHED,
)
