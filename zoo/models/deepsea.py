"""DeepSEA (Zhou & Troyanskaya 2015): three convolutions, a 925-unit hidden layer, 919 targets.

Layer indices follow the Kipoi ``deepsea_cpu`` layout (convolutions at 0, 4, 8), so the
converters map keys by name, not by position.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

from zoo._registry import register_model
from zoo.heads import HeadName, make_head
from zoo.models._dna import DNAModel, conv_out_len, positions_after_convs


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
        self.seq_len, self.n_targets, self.hidden = seq_len, n_targets, hidden
        self.conv_channels, self.kernel_size, self.pool_size = conv_channels, kernel_size, pool_size
        self.dropouts, self.activation, self.rc_average = dropouts, activation, rc_average
        c1, c2, c3 = conv_channels
        k, p = kernel_size, pool_size
        positions = positions_after_convs(
            "DeepSEA",
            seq_len,
            lambda n: conv_out_len(conv_out_len(conv_out_len(n, k, p), k, p), k),
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


register_model(
    "deepsea",
    DeepSEA,
    paper="Zhou & Troyanskaya 2015, Nat. Methods",
    input_desc="(N, 4, 1000) one-hot ACGT",
)
