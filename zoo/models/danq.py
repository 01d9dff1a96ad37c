"""DanQ (Quang & Xie 2016): a convolution, then a BiLSTM along the sequence, 1000 bp -> 919.

Key names follow Selene's port (``conv`` for its ``nnet``, ``lstm`` for ``bdlstm.0``,
``classifier.1``/``classifier.3``). Unlike Selene's forward, the LSTM here runs along
the 75 positions of each sequence, so a sample's output never depends on its batch.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo._registry import register_model
from zoo.heads import HeadName, make_head
from zoo.models._dna import DNAModel, conv_out_len, positions_after_convs


def danq_positions(seq_len: int) -> int:
    """Positions left after DanQ's convolution and pool (75 for 1000 bp)."""
    return conv_out_len(seq_len, 26, 13)


class DanQ(DNAModel):
    """DanQ: Conv(320,26)-Pool(13)-BiLSTM(320 per direction)-FC(925)-FC(n_targets)."""

    def __init__(
        self,
        seq_len: int = 1000,
        n_targets: int = 919,
        hidden: int = 925,
        head: HeadName = "sigmoid",
        rc_average: bool = False,
    ) -> None:
        super().__init__()
        self.seq_len, self.n_targets, self.hidden = seq_len, n_targets, hidden
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
        """Logits for one strand, (N, 4, seq_len) -> (N, n_targets)."""
        features = self.conv(x).transpose(1, 2)  # (N, positions, 320): recur along positions
        states, _ = self.lstm(features)
        return self.classifier(states.flatten(1))  # position-major, as the Keras original


register_model(
    "danq",
    DanQ,
    paper="Quang & Xie 2016, Nucleic Acids Res.",
    input_desc="(N, 4, 1000) one-hot ACGT",
)


# --- Converters from public checkpoint layouts (dispatched by zoo.weights) ----------------

_LSTM = [
    f"{p}_{kind}_l0{rev}" for p in ("weight", "bias") for kind in ("ih", "hh") for rev in ("", "_reverse")
]
_SELENE_DANQ = {  # Selene models/danq.py -> zoo DanQ
    "nnet.0.weight": "conv.0.weight", "nnet.0.bias": "conv.0.bias",
    **{f"bdlstm.0.{p}": f"lstm.{p}" for p in _LSTM},
    "classifier.1.weight": "classifier.1.weight", "classifier.1.bias": "classifier.1.bias",
    "classifier.3.weight": "classifier.3.weight", "classifier.3.bias": "classifier.3.bias",
}  # fmt: skip
SELENE_DANQ_KEYS = frozenset(_SELENE_DANQ)


def convert_selene_danq(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Selene DanQ keys -> zoo DanQ (names only; the flatten is position-major in both).

    The weights are the same, the forward is not: Selene's LSTM recurs across the batch
    (see zoo._convert's warning), the zoo's along each sequence.
    """
    from zoo._convert import expect, rename

    expect(state, "nnet.0.weight", 3, {1: 4})
    for p in _LSTM:
        expect(state, f"bdlstm.0.{p}", 2 if p.startswith("weight") else 1)
    for key in ("classifier.1.weight", "classifier.3.weight"):
        expect(state, key, 2)
    return rename(state, _SELENE_DANQ)


def danq_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The DanQ constructor arguments that zoo-keyed ``state``'s shapes imply."""
    from zoo._convert import implied_seq_len

    args = {
        "n_targets": state["classifier.3.weight"].shape[0],
        "hidden": state["classifier.1.weight"].shape[0],
    }
    in_features, width = state["classifier.1.weight"].shape[1], 2 * state["lstm.weight_hh_l0"].shape[1]
    return {**args, **implied_seq_len(danq_positions, in_features, width, current["seq_len"])}
