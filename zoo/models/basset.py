"""Basset (Kelley et al. 2016): three convolutions with batch norm, 600 bp -> 164 cell types.

Layer indices follow the Kipoi conversion (convolutions at 0, 4, 8; linears at 1, 5, 9
of the classifier after its flatten) so converters map keys by name.
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


def basset_positions(seq_len: int) -> int:
    """Positions left after Basset's three convolution + pool blocks (10 for 600 bp)."""
    return conv_out_len(conv_out_len(conv_out_len(seq_len, 19, 3), 11, 4), 7, 4)


class Basset(DNAModel):
    """Basset: Conv(300,19)-Pool(3)-Conv(200,11)-Pool(4)-Conv(200,7)-Pool(4)-FC(1000)x2-FC(164).

    Args:
        seq_len: the input length.
        n_targets: the number of outputs.
        head: the output head, a key of :data:`zoo.heads.HEADS`.
        rc_average: average the forward and reverse-complement probabilities.
    """

    def __init__(
        self,
        seq_len: int = 600,
        n_targets: int = 164,
        head: HeadName = "sigmoid",
        rc_average: bool = False,
    ) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.n_targets = n_targets
        self.rc_average = rc_average
        positions = positions_after_convs(
            "Basset",
            seq_len,
            basset_positions,
        )
        self.conv = nn.Sequential(
            nn.Conv1d(4, 300, 19), nn.BatchNorm1d(300), nn.ReLU(), nn.MaxPool1d(3, 3),
            nn.Conv1d(300, 200, 11), nn.BatchNorm1d(200), nn.ReLU(), nn.MaxPool1d(4, 4),
            nn.Conv1d(200, 200, 7), nn.BatchNorm1d(200), nn.ReLU(), nn.MaxPool1d(4, 4),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(200 * positions, 1000), nn.BatchNorm1d(1000), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(1000, 1000), nn.BatchNorm1d(1000), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(1000, n_targets),
        )  # fmt: skip
        self.head = make_head(head)


# --- Public checkpoint layouts ---------------------------------------------------------------

_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
LAYOUTS = (
    Layout(
        "kipoi-basset",
        "Kipoi Basset",
        {  # Kipoi Basset -> zoo Basset; batch-norm running statistics carry over unchanged
            **{f"{i}.{p}": f"conv.{i}.{p}" for i in (0, 4, 8) for p in ("weight", "bias")},
            **{f"{i}.{p}": f"conv.{i}.{p}" for i in (1, 5, 9) for p in _BN},
            **{
                f"{i}.1.{p}": f"classifier.{j}.{p}"
                for i, j in ((13, 1), (17, 5), (21, 9))
                for p in ("weight", "bias")
            },
            **{f"{i}.{p}": f"classifier.{j}.{p}" for i, j in ((14, 2), (18, 6)) for p in _BN},
        },
        # Conv2d kernels of width 1 (they run along the height axis), squeezed to Conv1d
        shapes={
            "0.weight": (None, 4, None, 1),
            "4.weight": (None, None, None, 1),
            "8.weight": (None, None, None, 1),
            **{f"{i}.1.weight": (None, None) for i in (13, 17, 21)},
        },  # fmt: skip
        squeeze={"0.weight": 3, "4.weight": 3, "8.weight": 3},
    ),
)


def basset_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The Basset constructor arguments that zoo-keyed ``state``'s shapes imply."""
    args = {"n_targets": state["classifier.9.weight"].shape[0]}
    in_features, c = state["classifier.1.weight"].shape[1], state["conv.8.weight"].shape[0]
    return {**args, **implied_seq_len(basset_positions, in_features, c, current["seq_len"])}


# --- Published checkpoints -------------------------------------------------------------------

PUBLISHED = (
    PublishedFile(
        name="basset.kipoi",
        args={"seq_len": 600, "n_targets": 164, "rc_average": False},
        layout="kipoi-basset",
        url="https://zenodo.org/record/1466068/files/pretrained_model_reloaded_th.pth?download=1",
        md5="4878981d84499eb575abd0f3b45570d3",
        license="MIT",
        source="Kipoi model zoo, Basset",
        description="Kipoi's Basset: DNase-seq accessibility in 164 cell types, forward strand",
    ),
)


register_model(
    "basset",
    Basset,
    paper="Kelley et al. 2016, Genome Res.",
    doi="10.1101/gr.200535.115",
    inputs=DNA_INPUT,
    conventions=Conventions(alphabet=ALPHABET, n_value=0.25, targets="basset_164"),  # Kipoi's encoding
    layouts=LAYOUTS,
    args_from_state=basset_args_from_state,
    published=PUBLISHED,
)
