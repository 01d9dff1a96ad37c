"""A background distribution of variant effects per target, and the significance read from it.

A background is made once per model by scoring a set of variants (common variants from a
VCF, or random SNVs of a genome) and keeping, per target, a summary of two statistics:

- ``effect``: ``|diff * log2 odds diff|``, DeepSEA's, with ``diff = p_alt - p_ref`` and
  ``log2 odds diff = (logit(p_alt) - logit(p_ref)) / ln 2``;
- ``absdiff``: ``|diff|`` (HumanBase's Beluga e-values),

and the root mean square of ``diff`` (for z-scores). Scores read against it:

- ``evalue``: the fraction of background variants whose statistic is larger than the
  variant's, zeros set to 1e-6 (as DeepSEA does);
- ``zscore``: ``diff / RMS(background diff)``, the sign kept;
- ``funsig``: the geometric mean of a variant's e-values over the chosen targets.

The summary (memory and file size independent of the number of variants): per target and
statistic, the exact :data:`TOP_K` largest values, and a histogram of the rest in bins
:data:`BINS_PER_OCTAVE` to a factor of 2 between 2^-30 and 2^8 (0 and smaller values in a
first bin, larger ones in a last). The e-value error, stated and tested:

- exact (as from the plain sorted background) where the statistic is at least the
  :data:`TOP_K`-th largest background value, i.e. for every e-value below TOP_K / n, and
  everywhere when the background has at most TOP_K variants;
- elsewhere, for statistics x >= 2^-30, between the exact e-values of ``x * r`` and
  ``x / r`` with ``r = 2 ** (1 / BINS_PER_OCTAVE)`` (values resolved to 2.2 %: a linear
  interpolation inside x's bin).

For 919 targets that is about 24 MB in memory (uint32 counts, float64 top values) whatever
the number of variants; the file is compressed.

A background records the fingerprint of the model it was made with (a hash of the weights,
the input length, N's encoding, the strand combination, the variant centring and the
statistics' definitions): using it with anything else is a :class:`BackgroundError` naming
both fingerprints.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo._io.writing import atomic_path
from zoo._types import PathLike
from zoo.errors import ZooError

STATISTICS: tuple[str, ...] = ("effect", "absdiff")
BINS_PER_OCTAVE = 32
LOW_EXPONENT, HIGH_EXPONENT = -30, 8
N_BINS = (HIGH_EXPONENT - LOW_EXPONENT) * BINS_PER_OCTAVE + 2  # with the under- and overflow bins
TOP_K = 1024
FLUSH_ROWS = 2048  # variants buffered before the summary is updated
EVALUE_FLOOR = 1e-6
FORMAT = "zoo-variant-background/1"
_DEFINITIONS = "effect=|diff*logfc/ln2|;absdiff=|diff|;diff=p_alt-p_ref;snv at L//2-1"
_LN2 = math.log(2.0)


class BackgroundError(ZooError):
    """A background file that is unreadable, or was made with another model or conventions."""


def effect_statistics(diff: np.ndarray, logfc: np.ndarray) -> dict[str, np.ndarray]:
    """The two background statistics of (n, T) ``diff`` (p_alt - p_ref) and ``logfc``
    (natural-log odds difference): ``effect`` = |diff * logfc / ln 2| and ``absdiff`` = |diff|.

    Args:
        diff: probability differences.
        logfc: logit differences (natural log).
    """
    return {"effect": np.abs(diff * (logfc / _LN2)), "absdiff": np.abs(diff)}


def bin_of(values: np.ndarray) -> np.ndarray:
    """The histogram bin of each (non-negative) value: 0 below 2^LOW_EXPONENT (and 0 itself),
    N_BINS - 1 from 2^HIGH_EXPONENT on, else 1 + floor((log2(v) - LOW_EXPONENT) * BINS_PER_OCTAVE).

    Args:
        values: non-negative statistics.
    """
    with np.errstate(divide="ignore"):
        scaled = (np.log2(np.asarray(values, np.float64)) - LOW_EXPONENT) * BINS_PER_OCTAVE
    bins = np.floor(np.nan_to_num(scaled, neginf=-1.0, posinf=float(N_BINS))) + 1
    return np.clip(bins, 0, N_BINS - 1).astype(np.int64)


def _bin_low_log2(bins: np.ndarray) -> np.ndarray:
    """log2 of the lower edge of interior bins."""
    return LOW_EXPONENT + (bins - 1) / BINS_PER_OCTAVE


def _sha256_of_state(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{t.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def model_fingerprint(
    model: nn.Module, *, rc: str, n_value: float, extra: dict[str, str] | None = None
) -> dict:
    """What a background's numbers depend on: a hash of ``model``'s weights, its class, input
    length and number of targets, N's one-hot value, the strand combination ``rc`` and the
    statistics' definitions (plus ``extra`` items, e.g. the md5 of other files used).

    Args:
        model: the DNA model (its state_dict is hashed).
        rc: the strand combination the scores use (none, mean, max).
        n_value: the one-hot value of N.
        extra: further items to record.
    """
    from zoo.models import n_targets_of

    record = {
        "weights_sha256": _sha256_of_state(model),
        "model": type(model).__name__,
        "seq_len": str(model.seq_len),
        "n_targets": str(n_targets_of(model)),
        "rc_average": str(bool(getattr(model, "rc_average", False))),
        "rc": rc,
        "n_value": repr(float(n_value)),
        "definitions": _DEFINITIONS,
        **(extra or {}),
    }
    record["id"] = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
    return record


def _describe(fingerprint: dict) -> str:
    keys = ("model", "seq_len", "rc", "n_value")
    return f"{fingerprint.get('id')} ({', '.join(f'{k} {fingerprint.get(k)}' for k in keys)}, weights " + (
        f"{str(fingerprint.get('weights_sha256'))[:12]})"
    )


class BackgroundAccumulator:
    """Collects the summary of a background from batches of variant scores, in bounded memory.

    Args:
        n_targets: the model's number of targets.
        fingerprint: :func:`model_fingerprint` of the model and conventions.
        target_names: the targets' names.
        top_k: exact largest values kept per target and statistic.
    """

    def __init__(
        self, n_targets: int, fingerprint: dict, target_names: Sequence[str], top_k: int = TOP_K
    ) -> None:
        self.n_targets, self.fingerprint, self.top_k = n_targets, fingerprint, top_k
        self.target_names = list(target_names)
        self.counts = np.zeros((len(STATISTICS), n_targets, N_BINS), np.uint32)
        self.top = np.full((len(STATISTICS), n_targets, top_k), -np.inf, np.float64)
        self.sum_squares = np.zeros(n_targets, np.float64)
        self.n = 0
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_rows = 0

    def add(self, diff: np.ndarray, logfc: np.ndarray) -> None:
        """Add the variants of one batch: ``diff`` and ``logfc`` (n, T); rows with a NaN
        (alleles that were not scored) are left out. Batches are buffered and summarised
        :data:`FLUSH_ROWS` rows at a time (one histogram update and one top-k merge).

        Args:
            diff: p_alt - p_ref.
            logfc: logit(p_alt) - logit(p_ref).
        """
        diff, logfc = np.asarray(diff, np.float64), np.asarray(logfc, np.float64)
        keep = ~(np.isnan(diff).any(1) | np.isnan(logfc).any(1))
        if keep.any():
            self._pending.append((diff[keep], logfc[keep]))
            self._pending_rows += int(keep.sum())
        if self._pending_rows >= FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        diff = np.concatenate([d for d, _ in self._pending])
        logfc = np.concatenate([f for _, f in self._pending])
        self._pending, self._pending_rows = [], 0
        t, k = self.n_targets, self.top_k
        offsets = np.arange(t) * N_BINS
        for s, values in enumerate(effect_statistics(diff, logfc).values()):
            flat = (bin_of(values) + offsets).ravel()
            self.counts[s] += np.bincount(flat, minlength=t * N_BINS).reshape(t, N_BINS).astype(np.uint32)
            merged = np.concatenate([self.top[s], values.T], axis=1)
            self.top[s] = -np.partition(-merged, k - 1, axis=1)[:, :k]
        self.sum_squares += (diff * diff).sum(0)
        self.n += len(diff)

    def finish(self) -> Background:
        """The background collected so far."""
        self._flush()
        top = -np.sort(-self.top, axis=2)  # descending; -inf where fewer than top_k variants
        return Background(
            self.counts.copy(),
            top,
            self.sum_squares.copy(),
            self.n,
            dict(self.fingerprint),
            self.target_names,
        )


@dataclass
class Background:
    """A background's summary (see the module).

    Attributes:
        counts: (2, T, N_BINS) histograms of the two statistics.
        top: (2, T, K) their largest values (descending, -inf padding).
        sum_squares: (T,) sums of squared diff.
        n: the number of variants.
        fingerprint: the model and conventions it was made with.
        target_names: the targets' names.
        _tails: cached cumulative counts per statistic (computed on demand).
    """

    counts: np.ndarray
    top: np.ndarray
    sum_squares: np.ndarray
    n: int
    fingerprint: dict
    target_names: list[str]
    _tails: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_targets(self) -> int:
        """The number of targets."""
        return self.counts.shape[1]

    def save(self, path: PathLike) -> None:
        """Write the background to ``path`` (a compressed .npz; atomically).

        Args:
            path: the file to write.
        """
        header = json.dumps({"format": FORMAT, "n": self.n, "fingerprint": self.fingerprint})
        with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                header=np.array(header),
                counts=self.counts,
                top=self.top,
                sum_squares=self.sum_squares,
                target_names=np.array(self.target_names, dtype=str),
            )

    @classmethod
    def load(cls, path: PathLike) -> Background:
        """Read a background written by :meth:`save`.

        Args:
            path: the .npz file.

        Raises:
            BackgroundError: the file is not a background.
        """
        name = os.fspath(path)
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                if header.get("format") != FORMAT:
                    raise BackgroundError(
                        f"background {name!r}: format {header.get('format')!r}, expected {FORMAT!r}"
                    )
                arrays = {k: data[k] for k in ("counts", "top", "sum_squares", "target_names")}
        except (OSError, ValueError, KeyError) as err:
            if isinstance(err, BackgroundError):
                raise
            raise BackgroundError(f"background {name!r}: not a zoo variant background ({err})") from None
        counts, top = arrays["counts"], arrays["top"]
        if counts.ndim != 3 or counts.shape[0] != len(STATISTICS) or counts.shape[2] != N_BINS:
            raise BackgroundError(
                f"background {name!r}: counts of shape {counts.shape}, expected (2, T, {N_BINS})"
            )
        if top.shape[:2] != counts.shape[:2]:
            raise BackgroundError(
                f"background {name!r}: top values {top.shape} do not fit counts {counts.shape}"
            )
        return cls(
            counts,
            top,
            arrays["sum_squares"],
            int(header["n"]),
            header["fingerprint"],
            list(arrays["target_names"]),
        )

    def check(self, fingerprint: dict, where: str = "the background") -> None:
        """Refuse a background made with another model or conventions, naming both fingerprints.

        Args:
            fingerprint: :func:`model_fingerprint` of the run that wants to use it.
            where: how to name the background in the message (its file).
        """
        mine = {k: v for k, v in self.fingerprint.items() if k != "id"}
        theirs = {k: v for k, v in fingerprint.items() if k != "id"}
        if mine != theirs:
            differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            raise BackgroundError(
                f"{where} was made with model fingerprint {_describe(self.fingerprint)}, this run's is "
                f"{_describe(fingerprint)}: they differ in {', '.join(differ)}; make a background with "
                "these weights and options"
            )

    def rms(self, targets: Sequence[int] | None = None) -> np.ndarray:
        """Root mean square of the background's diff per target.

        Args:
            targets: target indices (default all).
        """
        idx = np.arange(self.n_targets) if targets is None else np.asarray(targets)
        return np.sqrt(self.sum_squares[idx] / max(self.n, 1))

    def zscore(self, diff: np.ndarray, targets: Sequence[int] | None = None) -> np.ndarray:
        """``diff / RMS(background diff)`` per target, the sign kept.

        Args:
            diff: (n, len(targets)) p_alt - p_ref.
            targets: the targets of diff's columns (default all).
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(diff, np.float64) / self.rms(targets)

    def _tail(self, s: int) -> np.ndarray:
        """(T, N_BINS) counts of the bins above each bin."""
        if s not in self._tails:
            counts = self.counts[s].astype(np.float64)
            above = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]
            self._tails[s] = np.concatenate([above[:, 1:], np.zeros((len(counts), 1))], axis=1)
        return self._tails[s]

    def larger(
        self, values: np.ndarray, targets: Sequence[int] | None = None, statistic: str = "effect"
    ) -> np.ndarray:
        """The (estimated) number of background variants whose statistic exceeds each value.

        Args:
            values: (n, len(targets)) statistics.
            targets: their targets (default all).
            statistic: ``effect`` or ``absdiff``.
        """
        if statistic not in STATISTICS:
            raise BackgroundError(f"statistic {statistic!r} is not one of {', '.join(STATISTICS)}")
        s = STATISTICS.index(statistic)
        idx = np.arange(self.n_targets) if targets is None else np.asarray(targets, dtype=np.int64)
        x = np.asarray(values, np.float64)
        bins = bin_of(x)
        counts, tail = self.counts[s][idx].astype(np.float64), self._tail(s)[idx]
        col = np.arange(len(idx))
        in_bin, above = counts[col, bins], tail[col, bins]
        with np.errstate(divide="ignore", invalid="ignore"):
            top_edge = _bin_low_log2(bins + 1)
            share = np.where(
                bins == 0,
                1.0 - x / 2.0**LOW_EXPONENT,
                np.clip((top_edge - np.log2(x)) * BINS_PER_OCTAVE, 0.0, 1.0),
            )
        share = np.where(bins == N_BINS - 1, 1.0, share)
        estimate = above + in_bin * share
        k = self.top.shape[2]
        exact_all = self.n <= k
        out = estimate
        for j, t in enumerate(idx):
            top = self.top[s, t]
            ascending = top[::-1].astype(np.float64)
            kept = min(self.n, k)
            exact = kept - np.searchsorted(ascending[k - kept :], x[:, j], side="right")
            use = np.full(len(x), True) if exact_all else x[:, j] >= ascending[k - kept]
            out[:, j] = np.where(use, exact, estimate[:, j])
        return out

    def evalue(
        self, values: np.ndarray, targets: Sequence[int] | None = None, statistic: str = "effect"
    ) -> np.ndarray:
        """The fraction of background variants with a larger statistic, zeros set to 1e-6.

        Args:
            values: (n, len(targets)) statistics of the variants.
            targets: their targets (default all).
            statistic: ``effect`` or ``absdiff``.
        """
        e = self.larger(values, targets, statistic) / max(self.n, 1)
        return np.where(e == 0, EVALUE_FLOOR, e)


def funsig(evalues: np.ndarray) -> np.ndarray:
    """The geometric mean of each row's e-values, (n, T) -> (n,).

    Args:
        evalues: e-values (positive).
    """
    return np.exp(np.log(np.asarray(evalues, np.float64)).mean(1))


def background_summary(background: Background) -> dict[str, Any]:
    """A short description (variants, targets, fingerprint id) for messages.

    Args:
        background: the background.
    """
    return {
        "variants": background.n,
        "targets": background.n_targets,
        "fingerprint": background.fingerprint.get("id"),
    }
