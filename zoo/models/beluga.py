"""Beluga (ExPecto, Zhou et al. 2018): six convolutions in pairs, 2000 bp -> 2002 targets.

Layer indices follow ExPecto's ``model.0`` / ``model.1`` so converters map keys by name.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo._bases import ALPHABET
from zoo._registry import DNA_INPUT, Conventions, register_model
from zoo.heads import HeadName, make_head
from zoo.models._dna import DNAModel, conv_out_len, implied_seq_len, positions_after_convs
from zoo.weights.layouts import Layout
from zoo.weights.published import PublishedFile


def beluga_positions(seq_len: int) -> int:
    """Positions left after Beluga's six convolutions and two pools (106 for 2000 bp)."""
    pair = 8 + 8 - 1  # two unpadded width-8 convolutions in a row shorten like one of width 15
    return conv_out_len(conv_out_len(conv_out_len(seq_len, pair, 4), pair, 4), pair)


class Beluga(DNAModel):
    """Beluga: [Conv-ReLU-Conv-ReLU] x3 (320, 480, 640 filters of 8) with pools, then 2003 -> 2002.

    ExPecto averages forward and reverse-complement predictions: ``rc_average=True``.

    Args:
        seq_len: the input length.
        n_targets: the number of outputs.
        hidden: the width of the hidden dense layer.
        head: the output head, a key of :data:`zoo.heads.HEADS`.
        rc_average: average the forward and reverse-complement probabilities.
    """

    def __init__(
        self,
        seq_len: int = 2000,
        n_targets: int = 2002,
        hidden: int = 2003,
        head: HeadName = "sigmoid",
        rc_average: bool = False,
    ) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.n_targets = n_targets
        self.hidden = hidden
        self.rc_average = rc_average
        positions = positions_after_convs(
            "Beluga",
            seq_len,
            beluga_positions,
        )  # fmt: skip
        self.conv = nn.Sequential(
            nn.Conv1d(4, 320, 8), nn.ReLU(), nn.Conv1d(320, 320, 8), nn.ReLU(),
            nn.Dropout(0.2), nn.MaxPool1d(4, 4),
            nn.Conv1d(320, 480, 8), nn.ReLU(), nn.Conv1d(480, 480, 8), nn.ReLU(),
            nn.Dropout(0.2), nn.MaxPool1d(4, 4),
            nn.Conv1d(480, 640, 8), nn.ReLU(), nn.Conv1d(640, 640, 8), nn.ReLU(),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Dropout(0.5),
            nn.Flatten(),
            nn.Linear(640 * positions, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_targets),
        )
        self.head = make_head(head)


# --- Public checkpoint layouts ---------------------------------------------------------------

_CONVS = (0, 2, 6, 8, 12, 14)
LAYOUTS = (
    Layout(
        "expecto-beluga",
        "ExPecto's Beluga deepsea.beluga.pth (AGCT input)",
        {  # ExPecto deepsea.beluga.pth -> zoo Beluga
            **{f"model.0.{i}.{p}": f"conv.{i}.{p}" for i in _CONVS for p in ("weight", "bias")},
            "model.1.2.1.weight": "classifier.2.weight",
            "model.1.2.1.bias": "classifier.2.bias",
            "model.1.4.1.weight": "classifier.4.weight",
            "model.1.4.1.bias": "classifier.4.bias",
        },  # fmt: skip
        # Conv2d kernels of height 1, squeezed to Conv1d; the first takes AGCT input
        shapes={
            "model.0.0.weight": (None, 4, 1, None),
            **{f"model.0.{i}.weight": (None, None, 1, None) for i in _CONVS[1:]},
            "model.1.2.1.weight": (None, None),
            "model.1.4.1.weight": (None, None),
        },
        squeeze={f"model.0.{i}.weight": 2 for i in _CONVS},
        agct_input=("model.0.0.weight",),
    ),
)


def beluga_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The Beluga constructor arguments that zoo-keyed ``state``'s shapes imply."""
    args = {
        "n_targets": state["classifier.4.weight"].shape[0],
        "hidden": state["classifier.2.weight"].shape[0],
    }
    in_features, c = state["classifier.2.weight"].shape[1], state["conv.14.weight"].shape[0]
    return {**args, **implied_seq_len(beluga_positions, in_features, c, current["seq_len"])}


# --- Published checkpoints -------------------------------------------------------------------

PUBLISHED = (
    PublishedFile(
        name="beluga.expecto",
        args={"seq_len": 2000, "n_targets": 2002, "rc_average": True},
        layout="expecto-beluga",
        url="https://zenodo.org/record/3402406/files/deepsea.beluga.pth?download=1",
        md5="62360f2db4ac96554d28d058b50ab654",
        license="non-commercial (the ExPecto repository's license)",
        source="the ExPecto repository",
        description=(
            "ExPecto's Beluga: both strands averaged as ExPecto does; N encoded as all zeros; the "
            "weights' AGCT input channels are reordered to ACGT when loaded"
        ),
    ),
)


register_model(
    "beluga",
    Beluga,
    paper="Zhou et al. 2018 (ExPecto), Nat. Genet.",
    doi="10.1038/s41588-018-0160-6",
    inputs=DNA_INPUT,
    # ExPecto's own encoding: N as all zeros (Kipoi's and Selene's put 0.25)
    conventions=Conventions(alphabet=ALPHABET, n_value=0.0, targets="beluga_2002"),
    layouts=LAYOUTS,
    args_from_state=beluga_args_from_state,
    published=PUBLISHED,
)
