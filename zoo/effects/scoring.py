"""The score columns of variant and sequence tables, computed from a batch's logits.

:class:`VariantScoring` turns the strand-combined logits of every model target, (n, 2, T)
for variants (ref and alt windows) or (n, 1, T) for sequences, into one row of values per
item. Its columns:

- ``seqclass:<class>`` for Sei's 40 named sequence classes (for variants their
  histone-normalised effects, followed by ``seqclass_max_absdiff``, the largest absolute
  class effect, by which the Sei framework sorts its output);
- ``<score>:<target>`` for each chosen target and per-target score, target-major (as
  zoo-predict's other variant columns): ``ref``, ``alt`` (probabilities), ``diff``
  (p_alt - p_ref), ``logfc`` (logit difference), ``evalue`` and ``zscore`` (against a
  :class:`~zoo.effects.background.Background`); ``prob`` (sequences);
- ``funsig``: the geometric mean of the e-values over the chosen targets.

Probabilities are taken in float64 from the float32 logits, so variants scored from a VCF,
from a region's saturation or for a background use the same numbers.
"""

from __future__ import annotations

import heapq
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from zoo.effects.background import Background, effect_statistics, funsig
from zoo.effects.seqclass import SequenceClasses
from zoo.errors import ZooError

VARIANT_SCORES: tuple[str, ...] = ("ref", "alt", "diff", "logfc", "evalue", "zscore", "seqclass", "funsig")
SEQUENCE_SCORES: tuple[str, ...] = ("prob", "seqclass")
PER_TARGET: tuple[str, ...] = ("ref", "alt", "diff", "logfc", "evalue", "zscore", "prob")
NEEDS_BACKGROUND: frozenset[str] = frozenset({"evalue", "zscore", "funsig"})
MAX_ABSDIFF = "seqclass_max_absdiff"
MAX_SORTED_ROWS = 10_000_000


class ScoreOptionError(ZooError):
    """Scores that cannot be computed as asked (an unknown name, a missing background)."""


def parse_scores(scores: str | Sequence[str], variants: bool) -> list[str]:
    """Score names from ``"seqclass,diff"`` or a list, checked for variant (or sequence) input.

    Args:
        scores: the names.
        variants: whether the input is variants (else sequences: FASTA, BED).
    """
    names = [s.strip() for s in (scores.split(",") if isinstance(scores, str) else scores) if s.strip()]
    allowed = VARIANT_SCORES if variants else SEQUENCE_SCORES
    unknown = [s for s in names if s not in allowed]
    if unknown or not names:
        what = "variant" if variants else "sequence (FASTA, BED)"
        raise ScoreOptionError(
            f"--scores {','.join(names)!r}: each {what} score must be one of {', '.join(allowed)}"
        )
    repeated = sorted({s for s in names if names.count(s) > 1})
    if repeated:
        raise ScoreOptionError(
            f"--scores {','.join(names)!r} repeats {', '.join(repeated)}; list each score once"
        )
    return names


def _sigmoid64(logits: torch.Tensor) -> np.ndarray:
    return torch.sigmoid(logits.detach().to("cpu", torch.float64)).numpy()


@dataclass
class VariantScoring:
    """What to compute from each batch's logits, and the names of the columns.

    Args:
        scores: the score names (:data:`VARIANT_SCORES` or :data:`SEQUENCE_SCORES`).
        picked: the model outputs (indices into the T logits) of the per-target scores.
        target_columns: their column names.
        classes: the sequence-class arrays (needed by ``seqclass``).
        background: the background (needed by ``evalue``, ``zscore``, ``funsig``).
        statistic: the background statistic of ``evalue``: ``effect`` or ``absdiff``.
        variants: variant input (logits (n, 2, T)) or sequences ((n, 1, T)).
    """

    scores: list[str]
    picked: list[int]
    target_columns: list[str]
    classes: SequenceClasses | None = None
    background: Background | None = None
    statistic: str = "effect"
    variants: bool = True
    _per_target: list[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if "seqclass" in self.scores and self.classes is None:
            raise ScoreOptionError("--scores seqclass needs the sequence-class arrays (--seqclass-files)")
        wanted = NEEDS_BACKGROUND & set(self.scores)
        if wanted and self.background is None:
            raise ScoreOptionError(
                f"--scores {', '.join(sorted(wanted))} need a background (--background FILE)"
            )
        self._per_target = [s for s in self.scores if s in PER_TARGET]

    def columns(self) -> list[str]:
        """The value columns, in the order :meth:`values` fills them."""
        out: list[str] = []
        if "seqclass" in self.scores:
            assert self.classes is not None
            out += [f"seqclass:{name}" for name in self.classes.names]
            if self.variants:
                out.append(MAX_ABSDIFF)
        out += [f"{s}:{t}" for t in self.target_columns for s in self._per_target]
        if "funsig" in self.scores:
            out.append("funsig")
        return out

    def table(self, logits: torch.Tensor) -> np.ndarray:
        """The rows' values (n, len(columns)) float64 from logits (n, windows, T).

        Args:
            logits: strand-combined logits of every model target.
        """
        parts: list[np.ndarray] = []
        picked = np.asarray(self.picked, dtype=np.int64)
        if not self.variants:
            probs = _sigmoid64(logits[:, 0])
            if "seqclass" in self.scores:
                assert self.classes is not None
                parts.append(self.classes.scores(probs))
            by_name = {"prob": probs[:, picked]}
        else:
            p_ref, p_alt = _sigmoid64(logits[:, 0]), _sigmoid64(logits[:, 1])
            if "seqclass" in self.scores:
                assert self.classes is not None
                effects = self.classes.effects(p_ref, p_alt)
                parts += [effects, np.abs(effects).max(1, keepdims=True)]
            diff = p_alt[:, picked] - p_ref[:, picked]
            logfc = (logits[:, 1] - logits[:, 0]).detach().to("cpu", torch.float64).numpy()[:, picked]
            by_name = {"ref": p_ref[:, picked], "alt": p_alt[:, picked], "diff": diff, "logfc": logfc}
            if self.background is not None:
                stat = effect_statistics(diff, logfc)[self.statistic]
                evalues = self.background.evalue(stat, self.picked, self.statistic)
                by_name |= {"evalue": evalues, "zscore": self.background.zscore(diff, self.picked)}
        if self._per_target:
            block = np.stack([by_name[s] for s in self._per_target], axis=2)
            parts.append(block.reshape(len(block), -1))
        if "funsig" in self.scores:
            parts.append(funsig(by_name["evalue"])[:, None])
        return np.concatenate(parts, axis=1) if parts else np.zeros((len(logits), 0))

    def values(self, logits: torch.Tensor) -> torch.Tensor:
        """:meth:`table` as a float32 tensor (what a job's ``values`` returns).

        Args:
            logits: strand-combined logits (n, windows, T) of every model target.
        """
        return torch.from_numpy(self.table(logits).astype(np.float32))

    def strength_column(self) -> int | None:
        """The column that ranks variants (largest first): ``seqclass_max_absdiff``, else None."""
        columns = self.columns()
        return columns.index(MAX_ABSDIFF) if MAX_ABSDIFF in columns else None


def variant_strength(columns: Sequence[str], scores: np.ndarray) -> np.ndarray:
    """How strong each row's effect is, for sorting and pictures: ``seqclass_max_absdiff``
    where there is one, else the largest |diff| (else the largest |value| of any column).

    Args:
        columns: the score columns.
        scores: (n, len(columns)) values.
    """
    if MAX_ABSDIFF in columns:
        strength = scores[:, list(columns).index(MAX_ABSDIFF)]
    else:
        diffs = [i for i, c in enumerate(columns) if c.startswith("diff:")]
        chosen = diffs or list(range(len(columns)))
        with warnings.catch_warnings():  # rows not scored are all NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            strength = np.nanmax(np.abs(scores[:, chosen]), axis=1) if chosen else np.zeros(len(scores))
    return np.nan_to_num(np.asarray(strength, np.float64), nan=-np.inf)


class SortedWriter:
    """A writer (as :func:`zoo.predict.run_job` takes) that keeps every row and hands them to
    ``inner`` sorted by :func:`variant_strength`, largest first, when the run ends (rows not
    scored last). Memory: every row's values, so for VCFs, not genomes.

    Args:
        inner: opens the real writer from the leading and score column names.
        max_rows: the most rows it holds (a :class:`ScoreOptionError` beyond).
    """

    def __init__(self, inner: Callable[[list[str], list[str]], Any], max_rows: int = MAX_SORTED_ROWS) -> None:
        self.inner, self.max_rows = inner, max_rows
        self.rows = 0

    def __call__(self, meta_columns: Sequence[str], score_columns: Sequence[str]) -> SortedWriter:
        """Start the table."""
        self.meta_columns, self.score_columns = list(meta_columns), list(score_columns)
        self._writer = self.inner(self.meta_columns, self.score_columns)
        self._meta: list[tuple[Any, ...]] = []
        self._scores: list[np.ndarray] = []
        return self

    def __enter__(self) -> SortedWriter:
        self._writer.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        if exc[0] is None and self._scores:
            scores = np.concatenate(self._scores)
            order = np.argsort(-variant_strength(self.score_columns, scores), kind="stable")
            self._writer.write([self._meta[i] for i in order], scores[order])
        return self._writer.__exit__(*exc)

    def write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        """Keep a batch of rows."""
        if self.rows + len(scores) > self.max_rows:
            raise ScoreOptionError(
                f"--sort holds every row in memory: at most {self.max_rows:,} rows; sort the table "
                "afterwards instead (e.g. by seqclass_max_absdiff)"
            )
        self._meta.extend(meta_rows)
        self._scores.append(np.array(scores, np.float32))
        self.rows += len(scores)


class StrongestRows:
    """Keeps the ``n`` rows of the strongest effects (:func:`variant_strength`) seen through
    :meth:`add`, in bounded memory.

    Args:
        n: how many rows to keep.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self._heap: list[tuple[float, int, tuple[Any, ...], np.ndarray]] = []
        self._count = 0

    def add(self, columns: Sequence[str], meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        """Consider a batch of rows."""
        for strength, meta, row in zip(variant_strength(columns, scores), meta_rows, scores):
            if not np.isfinite(strength):
                continue
            item = (float(strength), -self._count, tuple(meta), np.array(row, np.float32))
            self._count += 1
            if len(self._heap) < self.n:
                heapq.heappush(self._heap, item)
            elif item[:2] > self._heap[0][:2]:
                heapq.heapreplace(self._heap, item)

    def rows(self) -> list[tuple[tuple[Any, ...], np.ndarray]]:
        """The kept rows (meta, values), strongest first."""
        return [(meta, row) for _, _, meta, row in sorted(self._heap, key=lambda i: i[:2], reverse=True)]


class TeeWriter:
    """A writer that passes every batch to ``inner`` and also to ``strongest``.

    Args:
        inner: opens the real writer from the leading and score column names.
        strongest: where the strongest rows are kept.
    """

    def __init__(self, inner: Callable[[list[str], list[str]], Any], strongest: StrongestRows) -> None:
        self.inner, self.strongest = inner, strongest

    def __call__(self, meta_columns: Sequence[str], score_columns: Sequence[str]) -> TeeWriter:
        """Start the table."""
        self.meta_columns, self.score_columns = list(meta_columns), list(score_columns)
        self._writer = self.inner(self.meta_columns, self.score_columns)
        return self

    @property
    def rows(self) -> int:
        """Rows written."""
        return self._writer.rows

    def __enter__(self) -> TeeWriter:
        self._writer.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._writer.__exit__(*exc)

    def write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        """Write a batch and keep its strongest rows."""
        self._writer.write(meta_rows, scores)
        self.strongest.add(self.score_columns, meta_rows, scores)
