"""Basset (Kelley et al. 2016): three convolutions with batch norm, 600 bp -> 164 cell types.

Layer indices follow the Kipoi conversion (convolutions at 0, 4, 8; linears at 1, 5, 9
of the classifier after its flatten) so converters map keys by name.
"""

from __future__ import annotations

from torch import nn

from zoo._registry import register_model
from zoo.heads import HeadName, make_head
from zoo.models._dna import DNAModel, conv_out_len, positions_after_convs


class Basset(DNAModel):
    """Basset: Conv(300,19)-Pool(3)-Conv(200,11)-Pool(4)-Conv(200,7)-Pool(4)-FC(1000)x2-FC(164)."""

    def __init__(
        self,
        seq_len: int = 600,
        n_targets: int = 164,
        head: HeadName = "sigmoid",
        rc_average: bool = False,
    ) -> None:
        super().__init__()
        self.seq_len, self.n_targets, self.rc_average = seq_len, n_targets, rc_average
        positions = positions_after_convs(
            "Basset",
            seq_len,
            lambda n: conv_out_len(conv_out_len(conv_out_len(n, 19, 3), 11, 4), 7, 4),
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


register_model(
    "basset",
    Basset,
    paper="Kelley et al. 2016, Genome Res.",
    input_desc="(N, 4, 600) one-hot ACGT",
)
