"""DanQ (Quang & Xie 2016): a convolution, then a BiLSTM along the sequence, 1000 bp -> 919.

Key names follow Selene's port (``conv`` for its ``nnet``, ``lstm`` for ``bdlstm.0``,
``classifier.1``/``classifier.3``). Unlike Selene's forward, the LSTM here runs along
the 75 positions of each sequence, so a sample's output never depends on its batch.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo._bases import ALPHABET
from zoo._registry import DNA_INPUT, Conventions, register_model
from zoo.heads import HeadName, make_head
from zoo.models._dna import DNAModel, conv_out_len, implied_seq_len, positions_after_convs
from zoo.weights.layouts import Layout


def danq_positions(seq_len: int) -> int:
    """Positions left after DanQ's convolution and pool (75 for 1000 bp)."""
    return conv_out_len(seq_len, 26, 13)


class DanQ(DNAModel):
    """DanQ: Conv(320,26)-Pool(13)-BiLSTM(320 per direction)-FC(925)-FC(n_targets).

    Args:
        seq_len: the input length.
        n_targets: the number of outputs.
        hidden: the width of the hidden dense layer.
        head: the output head, a key of :data:`zoo.heads.HEADS`.
        rc_average: average the forward and reverse-complement probabilities.
    """

    def __init__(
        self,
        seq_len: int = 1000,
        n_targets: int = 919,
        hidden: int = 925,
        head: HeadName = "sigmoid",
        rc_average: bool = False,
    ) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.n_targets = n_targets
        self.hidden = hidden
        self.rc_average = rc_average
        positions = positions_after_convs("DanQ", seq_len, danq_positions)
        self.conv = nn.Sequential(nn.Conv1d(4, 320, 26), nn.ReLU(), nn.MaxPool1d(13, 13), nn.Dropout(0.2))
        self.lstm = nn.LSTM(320, 320, batch_first=True, bidirectional=True)
        self.classifier = nn.Sequential(
            nn.Dropout(0.5),
            nn.Linear(positions * 640, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_targets),
        )
        self.head = make_head(head)

    def strand_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for one strand, (N, 4, seq_len) -> (N, n_targets).

        Args:
            x: one-hot DNA, (N, 4, seq_len).
        """
        features = self.conv(x).transpose(1, 2)  # (N, positions, 320): recur along positions
        states, _ = self.lstm(features)
        return self.classifier(states.flatten(1))  # position-major, as the Keras original


# --- Public checkpoint layouts ---------------------------------------------------------------

_LSTM = [
    f"{p}_{kind}_l0{rev}" for p in ("weight", "bias") for kind in ("ih", "hh") for rev in ("", "_reverse")
]
LAYOUTS = (
    Layout(
        "selene-danq",
        "Selene's DanQ (models/danq.py)",
        {  # names only; the flatten is position-major in both
            "nnet.0.weight": "conv.0.weight",
            "nnet.0.bias": "conv.0.bias",
            **{f"bdlstm.0.{p}": f"lstm.{p}" for p in _LSTM},
            "classifier.1.weight": "classifier.1.weight",
            "classifier.1.bias": "classifier.1.bias",
            "classifier.3.weight": "classifier.3.weight",
            "classifier.3.bias": "classifier.3.bias",
        },  # fmt: skip
        shapes={
            "nnet.0.weight": (None, 4, None),
            **{f"bdlstm.0.{p}": (None, None) if p.startswith("weight") else (None,) for p in _LSTM},
            "classifier.1.weight": (None, None),
            "classifier.3.weight": (None, None),
        },
        warning=(
            "Selene's DanQ forward hands its batch_first LSTM a (positions, batch, channels) tensor, so "
            "it recurs across the batch instead of along each sequence and a sample's output depends on "
            "its batch-mates. The zoo's DanQ runs the LSTM along the positions of each sequence (as the "
            "Keras original does): with these weights its outputs will differ from Selene's forward."
        ),
        wrapper_args={"model": {"rc_average": True}},
    ),
)


def danq_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The DanQ constructor arguments that zoo-keyed ``state``'s shapes imply."""
    args = {
        "n_targets": state["classifier.3.weight"].shape[0],
        "hidden": state["classifier.1.weight"].shape[0],
    }
    in_features, width = state["classifier.1.weight"].shape[1], 2 * state["lstm.weight_hh_l0"].shape[1]
    return {**args, **implied_seq_len(danq_positions, in_features, width, current["seq_len"])}


register_model(
    "danq",
    DanQ,
    paper="Quang & Xie 2016, Nucleic Acids Res.",
    inputs=DNA_INPUT,
    conventions=Conventions(alphabet=ALPHABET, n_value=0.25),  # Selene's encoding
    layouts=LAYOUTS,
    args_from_state=danq_args_from_state,
)
