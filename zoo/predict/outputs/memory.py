"""Rows of scores kept in memory instead of written to a file: the table the Python entry
points return, and the writer that fills it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.predict.outputs.columnar import rows_to_columns
from zoo.predict.outputs.writers import check_column_names


@dataclass
class ScoreTable:
    """Rows of scores, the same as a written table's.

    Attributes:
        meta: leading column name -> array, one value a row (ints as int64, text as str).
        scores: (rows, len(columns)) float32, NaN where not scored.
        columns: the score columns' names."""

    meta: dict[str, np.ndarray]
    scores: np.ndarray
    columns: list[str]

    def __len__(self) -> int:
        return len(self.scores)

    def to_pandas(self) -> Any:
        """A pandas DataFrame: the leading columns, then one column a score."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("ScoreTable.to_pandas needs pandas: pip install pandas") from None
        scores = pd.DataFrame(self.scores, columns=self.columns, copy=False)
        return pd.concat([pd.DataFrame(self.meta), scores], axis=1)


class MemoryWriter:
    """A writer (as :func:`zoo.predict.run_job` takes) that keeps the rows in memory.

    Pass the instance as ``out``: run_job calls it with the column names, writes, and
    :meth:`table` returns what was written.
    """

    def __init__(self) -> None:
        self.meta_columns: list[str] = []
        self.score_columns: list[str] = []
        self.rows = 0
        self._meta: list[list[np.ndarray]] = []
        self._scores: list[np.ndarray] = []

    def __call__(self, meta_columns: Sequence[str], score_columns: Sequence[str]) -> MemoryWriter:
        """Start a table with these columns (forgetting any earlier rows)."""
        check_column_names(meta_columns, score_columns)
        self.meta_columns, self.score_columns = list(meta_columns), list(score_columns)
        self.rows = 0
        self._meta = [[] for _ in self.meta_columns]
        self._scores = []
        return self

    def __enter__(self) -> MemoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        """Append rows: ``meta_rows[i]`` fills the leading columns, ``scores[i]`` the rest."""
        if len(meta_rows) != len(scores) or scores.shape[1:] != (len(self.score_columns),):
            raise ValueError(f"got {len(meta_rows)} meta rows and scores of shape {scores.shape}")
        for parts, column in zip(self._meta, rows_to_columns(meta_rows, len(self.meta_columns))):
            parts.append(column)
        self._scores.append(np.asarray(scores, np.float32))
        self.rows += len(scores)

    def table(self) -> ScoreTable:
        """Everything written, as one ScoreTable."""
        meta = {}
        for name, parts in zip(self.meta_columns, self._meta):
            column = np.concatenate(parts) if parts else np.array([], dtype=object)
            meta[name] = column.astype(np.int64) if column.dtype.kind in "iu" else column
        empty = np.zeros((0, len(self.score_columns)), np.float32)
        scores = np.concatenate(self._scores) if self._scores else empty
        return ScoreTable(meta, scores, list(self.score_columns))
