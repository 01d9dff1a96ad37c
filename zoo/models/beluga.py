"""Beluga (ExPecto, Zhou et al. 2018): six convolutions in pairs, 2000 bp -> 2002 targets.

Layer indices follow ExPecto's ``model.0`` / ``model.1`` so converters map keys by name.
"""

from __future__ import annotations

from torch import nn

from zoo._registry import register_model
from zoo.heads import HeadName, make_head
from zoo.models._dna import DNAModel, conv_out_len, positions_after_convs


class Beluga(DNAModel):
    """Beluga: [Conv-ReLU-Conv-ReLU] x3 (320, 480, 640 filters of 8) with pools, then 2003 -> 2002.

    ExPecto averages forward and reverse-complement predictions: ``rc_average=True``.
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
        self.seq_len, self.n_targets, self.hidden = seq_len, n_targets, hidden
        self.rc_average = rc_average
        positions = positions_after_convs(
            "Beluga",
            seq_len,
            lambda n: conv_out_len(conv_out_len(conv_out_len(conv_out_len(
                conv_out_len(conv_out_len(n, 8), 8, 4), 8), 8, 4), 8), 8),
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


register_model(
    "beluga",
    Beluga,
    paper="Zhou et al. 2018 (ExPecto), Nat. Genet.",
    input_desc="(N, 4, 2000) one-hot ACGT",
)
