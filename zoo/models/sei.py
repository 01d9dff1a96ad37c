"""Sei (Chen et al. 2022): residual and dilated convolutions, a B-spline over positions, 21,907 targets.

Module names and indices follow the Sei repository's ``model/sei.py`` (``lconv1``,
``conv1``, ..., ``dconv5``, ``spline_tr``, ``classifier``), so its Selene checkpoint loads
by name once the loader has stripped the wrapper prefix (``model.``, ``module.model.``).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from zoo._bases import ALPHABET
from zoo._registry import DNA_INPUT, Conventions, register_model
from zoo.heads import HeadName, make_head
from zoo.models._dna import DNAModel
from zoo.plan.ops import LayerOps, Op, PositionMap, Residual
from zoo.targets import load_target_names
from zoo.weights.layouts import Layout
from zoo.weights.published import PublishedFile

DILATIONS = (2, 4, 8, 16, 25)
POOLING = 16  # two MaxPool1d(4, 4): the spline sees seq_len / 16 positions
SPLINE_DEGREE = 3


def bspline_basis(x: np.ndarray, knots: np.ndarray, degree: int) -> np.ndarray:
    """Every B-spline of ``degree`` on ``knots`` evaluated at ``x``: (len(x), len(knots) - degree - 1).

    Cox-de Boor recursion in float64. The intervals are closed on the left, and the last
    non-empty one also on the right, so the right end of the knots is inside the basis, as
    ``scipy.interpolate.splev`` evaluates it.
    """
    x, t = np.asarray(x, dtype=np.float64), np.asarray(knots, dtype=np.float64)
    basis = ((t[:-1] <= x[:, None]) & (x[:, None] < t[1:])).astype(np.float64)
    last = np.flatnonzero(t[:-1] < t[1:])[-1]
    basis[x == t[last + 1], last] = 1.0
    for k in range(1, degree + 1):
        n = len(t) - 1 - k
        left_span, right_span = t[k : k + n] - t[:n], t[k + 1 : k + 1 + n] - t[1 : 1 + n]
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 terms of repeated knots are 0
            left = np.where(left_span > 0, (x[:, None] - t[:n]) / left_span, 0.0)
            right = np.where(right_span > 0, (t[k + 1 : k + 1 + n] - x[:, None]) / right_span, 0.0)
        basis = left * basis[:, :n] + right * basis[:, 1 : n + 1]
    return basis


def sei_spline_knots(n_positions: int, df: int = 16) -> np.ndarray:
    """Sei's knots for positions 0..n-1: the ends repeated 4 times and df - 4 interior knots
    at evenly spaced percentiles of the positions (numpy's default linear interpolation)."""
    x = np.arange(n_positions)
    order = SPLINE_DEGREE + 1
    inner = np.percentile(x, 100 * np.linspace(0, 1, df - order + 2)[1:-1])
    knots = np.concatenate(([np.min(x), np.max(x)] * order, inner))
    knots.sort()
    return knots


def sei_spline_basis(n_positions: int, df: int = 16) -> np.ndarray:
    """The fixed (n_positions, df) cubic B-spline basis Sei multiplies its activations by
    (with intercept, not rescaled): column i is the spline with coefficients e_i."""
    return bspline_basis(np.arange(n_positions), sei_spline_knots(n_positions, df), SPLINE_DEGREE)


class BSplineTransformation(nn.Module):
    """(N, C, n_positions) -> (N, C, df): a product with Sei's fixed spline basis.

    The basis is a non-persistent buffer: computed here, never stored in a state_dict (as
    in the original, where it is not a parameter either).
    """

    basis: torch.Tensor

    def __init__(self, n_positions: int, df: int) -> None:
        super().__init__()
        self.n_positions, self.df = n_positions, df
        self.register_buffer("basis", self._basis(), persistent=False)

    def _basis(self) -> torch.Tensor:
        return torch.tensor(sei_spline_basis(self.n_positions, self.df), dtype=torch.float32)

    def reset_buffers(self) -> None:
        """Compute the basis again, on CPU in float32 (for a model built on the meta device,
        whose weights are then read from a file)."""
        self.basis = self._basis()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project the position axis onto the spline basis."""
        return torch.matmul(x, self.basis)


def _conv(c_in: int, c_out: int) -> nn.Conv1d:
    return nn.Conv1d(c_in, c_out, kernel_size=9, padding=4)


def _dilated(channels: int, dilation: int) -> nn.Sequential:
    conv = nn.Conv1d(channels, channels, kernel_size=5, dilation=dilation, padding=2 * dilation)
    return nn.Sequential(nn.Dropout(0.10), conv, nn.ReLU())


def _check_sizes(seq_len: int, spline_df: int) -> None:
    if seq_len % POOLING or seq_len < 2 * POOLING:
        raise ValueError(
            f"Sei: seq_len={seq_len} must be a multiple of {POOLING} (two 4x max-pools, which would "
            f"otherwise drop bases) and at least {2 * POOLING} (the spline needs two positions); "
            "the paper uses 4096"
        )
    if spline_df < SPLINE_DEGREE + 1:
        raise ValueError(f"Sei: spline_df={spline_df} must be at least {SPLINE_DEGREE + 1} (a cubic spline)")


class Sei(DNAModel):
    """Sei: three residual convolution blocks (480, 640, 960 filters of 9) with two 4x pools,
    five dilated residual convolutions, a B-spline over the positions, then two dense layers.

    ``seq_len`` must be a multiple of 16; the spline then sees ``seq_len / 16`` positions
    and reduces them to ``spline_df`` values per channel. ``conv_channels`` and
    ``spline_df`` change the widths (the paper's are the defaults). The published model
    averages both strands (Selene's NonStrandSpecific, mode mean): ``rc_average=True``.

    Args:
        seq_len: the input length.
        n_targets: the number of outputs.
        conv_channels: the filters of the three residual convolution blocks.
        spline_df: the spline values per channel the positions are reduced to.
        head: the output head, a key of :data:`zoo.heads.HEADS`.
        rc_average: average the forward and reverse-complement probabilities.
    """

    def __init__(
        self,
        seq_len: int = 4096,
        n_targets: int = 21907,
        conv_channels: tuple[int, int, int] = (480, 640, 960),
        spline_df: int = 16,
        head: HeadName = "sigmoid",
        rc_average: bool = False,
    ) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.n_targets = n_targets
        self.conv_channels = conv_channels
        self.spline_df = spline_df
        self.rc_average = rc_average
        _check_sizes(seq_len, spline_df)
        c1, c2, c3 = conv_channels
        self.lconv1 = nn.Sequential(_conv(4, c1), _conv(c1, c1))
        self.conv1 = nn.Sequential(_conv(c1, c1), nn.ReLU(), _conv(c1, c1), nn.ReLU())
        self.lconv2 = nn.Sequential(nn.MaxPool1d(4, 4), nn.Dropout(0.2), _conv(c1, c2), _conv(c2, c2))
        self.conv2 = nn.Sequential(nn.Dropout(0.2), _conv(c2, c2), nn.ReLU(), _conv(c2, c2), nn.ReLU())
        self.lconv3 = nn.Sequential(nn.MaxPool1d(4, 4), nn.Dropout(0.2), _conv(c2, c3), _conv(c3, c3))
        self.conv3 = nn.Sequential(nn.Dropout(0.2), _conv(c3, c3), nn.ReLU(), _conv(c3, c3), nn.ReLU())
        self.dconv1, self.dconv2, self.dconv3, self.dconv4, self.dconv5 = (_dilated(c3, d) for d in DILATIONS)
        self.spline_tr = nn.Sequential(nn.Dropout(0.5), BSplineTransformation(seq_len // POOLING, spline_df))
        self.classifier = nn.Sequential(
            nn.Linear(c3 * spline_df, n_targets),
            nn.ReLU(),
            nn.Linear(n_targets, n_targets),
        )
        self.head = make_head(head)

    def strand_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for the strand given, (N, 4, seq_len) -> (N, n_targets).

        Args:
            x: one-hot DNA, (N, 4, seq_len).
        """
        lout1 = self.lconv1(x)
        out1 = self.conv1(lout1)
        lout2 = self.lconv2(out1 + lout1)
        out2 = self.conv2(lout2)
        lout3 = self.lconv3(out2 + lout2)
        out3 = self.conv3(lout3)
        h = out3 + self.dconv1(out3 + lout3)
        for block in (self.dconv2, self.dconv3, self.dconv4, self.dconv5):
            h = h + block(h)
        return self.classifier(self.spline_tr(h).flatten(1))  # flatten channel-major: C * df

    def plan_ops(self, layer_ops: LayerOps) -> tuple[tuple[Op, ...], tuple[Op, ...]]:
        """:meth:`strand_logits` as the ops of a :class:`zoo.plan.Plan`: (ops on (N, C, L) up
        to the spline, ops after the channel-major flatten). ``zoo.plan.lower`` calls this.

        Args:
            layer_ops: turns a run of plain layers into ops (``zoo.plan.lower.layer_ops``;
                ``dense=True`` for the layers after the flatten).
        """
        dilated = [
            layer_ops(block) for block in (self.dconv1, self.dconv2, self.dconv3, self.dconv4, self.dconv5)
        ]
        spline = next(m for m in self.spline_tr if isinstance(m, BSplineTransformation))
        conv = (
            *layer_ops(self.lconv1),
            Residual(layer_ops(self.conv1)),
            *layer_ops(self.lconv2),
            Residual(layer_ops(self.conv2)),
            *layer_ops(self.lconv3),
            # out3 + dconv1(out3 + lout3): the first dilated block adds to the block's output
            Residual(layer_ops(self.conv3), tail=dilated[0]),
            *(Residual(block) for block in dilated[1:]),
            PositionMap(spline.basis.detach().float()),
        )
        return conv, layer_ops(self.classifier, dense=True)


# --- Public checkpoint layouts ---------------------------------------------------------------

_SEI_CONVS = (
    "lconv1.0", "lconv1.1", "conv1.0", "conv1.2",
    "lconv2.2", "lconv2.3", "conv2.1", "conv2.3",
    "lconv3.2", "lconv3.3", "conv3.1", "conv3.3",
    *(f"dconv{i}.1" for i in range(1, 6)),
)  # fmt: skip
_SEI_LINEARS = ("classifier.0", "classifier.2")
SEI_KEYS = frozenset(f"{m}.{p}" for m in (*_SEI_CONVS, *_SEI_LINEARS) for p in ("weight", "bias"))

LAYOUTS = (
    Layout(
        "selene-sei",
        "Sei's sei.pth (a Selene checkpoint of model/sei.py; in sei_model.tar.gz)",
        {key: key for key in sorted(SEI_KEYS)},  # the zoo keeps the original's module names
        shapes={
            "lconv1.0.weight": (None, 4, 9),
            **{f"{m}.weight": (None, None, 9) for m in _SEI_CONVS[1:12]},
            **{f"{m}.weight": (None, None, 5) for m in _SEI_CONVS[12:]},
            **{f"{m}.bias": (None,) for m in (*_SEI_CONVS, *_SEI_LINEARS)},
            "classifier.0.weight": (None, None),
            "classifier.2.weight": (None, None),
        },
        # Selene's NonStrandSpecific (mode "mean") stores the network under model. and averages
        # the outputs of both strands; the bare network (the same keys) predicts one strand.
        wrapper_args={"model": {"rc_average": True}},
    ),
)


def sei_args_from_state(state: dict[str, torch.Tensor], current: dict) -> dict:
    """The Sei constructor arguments a zoo-keyed ``state``'s shapes imply (the spline fits any
    ``seq_len``, so that keeps its ``current`` value)."""
    channels = tuple(state[f"{m}.weight"].shape[0] for m in ("lconv1.1", "lconv2.3", "lconv3.3"))
    in_features = state["classifier.0.weight"].shape[1]
    if in_features % channels[2]:
        raise ValueError(f"classifier.0 has {in_features} inputs, not a multiple of {channels[2]} channels")
    return {
        "n_targets": state["classifier.2.weight"].shape[0],
        "conv_channels": channels,
        "spline_df": in_features // channels[2],
    }


# --- Published checkpoints -------------------------------------------------------------------

PUBLISHED = (
    PublishedFile(
        name="sei.sei_framework",
        args={"seq_len": 4096, "n_targets": 21907, "rc_average": True},
        layout="selene-sei",
        url="https://zenodo.org/record/4906997/files/sei_model.tar.gz",
        md5=None,
        license="academic and research use only (the Sei repository's license)",
        source="the Sei framework repository (Zenodo record 4906997)",
        weights_doi="10.5281/zenodo.4906996",
        description=(
            "Sei: 21,907 chromatin profiles from 4 kb, both strands averaged (Selene's "
            "NonStrandSpecific, mode mean); the weights are sei.pth inside the archive"
        ),
        archive_member="sei.pth",
    ),
)

register_model(
    "sei",
    Sei,
    paper="Chen et al. 2022, Nat. Genet.",
    doi="10.1038/s41588-022-01102-2",
    inputs=DNA_INPUT,
    conventions=Conventions(alphabet=ALPHABET, n_value=0.25, targets="sei_21907"),  # Selene's encoding
    layouts=LAYOUTS,
    args_from_state=sei_args_from_state,
    published=PUBLISHED,
)


# --- Sequence classes ------------------------------------------------------------------------

N_SEQUENCE_CLASSES = 40


def sei_sequence_class_names() -> list[str]:
    """The names of Sei's 40 sequence classes, in score order (``PC1 Polycomb / Heterochromatin``, ...)."""
    return load_target_names("sei_seqclass_40")


def sei_sequence_classes(
    predictions: np.ndarray | torch.Tensor, projection: np.ndarray | str | os.PathLike[str]
) -> np.ndarray:
    """Sei's 40 sequence-class scores (N, 40) of chromatin-profile ``predictions`` (N, 21907).

    ``projection`` is the Sei framework's ``projvec_targets.npy`` (or the array in it): one
    cluster centroid per row over the profiles, shape (K, 21907) with K >= 40, the 40 named
    classes first. Its transpose (21907, K) is accepted too: the axis as long as the
    predictions' targets is the profile axis (refused when both are). The score of class k
    is ``predictions @ centroid_k / |centroid_k|``, as the framework's ``sc_projection``;
    its histone normalisation for variant effects is not applied here. Column names:
    :func:`sei_sequence_class_names`.
    """
    preds = predictions.detach().cpu().numpy() if isinstance(predictions, torch.Tensor) else predictions
    preds = np.asarray(preds, dtype=np.float64)
    proj = np.load(projection) if isinstance(projection, (str, os.PathLike)) else np.asarray(projection)
    if preds.ndim != 2:
        raise ValueError(f"predictions: expected shape (N, n_targets), got {preds.shape}")
    n = preds.shape[1]
    if proj.ndim != 2 or n not in proj.shape:
        raise ValueError(f"projection: expected shape (K, {n}) or ({n}, K) for {n} targets, got {proj.shape}")
    if proj.shape[0] == proj.shape[1]:
        raise ValueError(
            f"projection: shape {proj.shape} is square, so which axis is the targets' is unknown"
        )
    centroids = np.asarray(proj if proj.shape[1] == n else proj.T, dtype=np.float64)
    if centroids.shape[0] < N_SEQUENCE_CLASSES:
        raise ValueError(
            f"projection: {centroids.shape[0]} centroids, expected at least {N_SEQUENCE_CLASSES} "
            "(one per sequence class)"
        )
    centroids = centroids[:N_SEQUENCE_CLASSES]
    return preds @ centroids.T / np.linalg.norm(centroids, axis=1)
