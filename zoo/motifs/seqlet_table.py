"""seqlets.tsv of an interpretation run: the seqlets of every record and target, named by TOMTOM."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo._io.writing import atomic_path
from zoo.motifs.annotate import annotate_seqlets, call_seqlets

SEQLET_TSV_COLUMNS = [
    "record", "target", "start", "end", "strand", "attribution", "motif", "p-value", "seqlet_p-value",
]  # fmt: skip


def projected(one_hot: np.ndarray, hypothetical: np.ndarray | None, ism: np.ndarray | None) -> np.ndarray:
    """(N, L) attribution of each observed base: hypothetical contributions on the observed base,
    else ISM's importance, minus the mean change of the three substitutions.

    Args:
        one_hot: (N, 4, L) sequences.
        hypothetical: (N, 4, L) hypothetical contributions of one target, or None.
        ism: (N, L, 4) ISM changes of one target (used when ``hypothetical`` is None).
    """
    if hypothetical is not None:
        return (np.asarray(hypothetical) * one_hot).sum(1)
    if ism is None:
        raise ValueError("projected attributions need hypothetical contributions or ISM")
    return -np.asarray(ism).sum(2) / 3  # the reference base's own change is 0


def seqlet_rows(
    one_hot: np.ndarray,
    attributions: np.ndarray,
    motifs: dict[str, np.ndarray],
    records: list[str],
    target: str,
    threshold: float = 0.01,
) -> list[tuple]:
    """The seqlets.tsv rows of one target: seqlets of ``attributions`` named by their nearest motif.

    Args:
        one_hot: (N, 4, L) sequences.
        attributions: (N, L) projected attributions.
        motifs: ``{name: (4, width) probabilities}``.
        records: the N records' names.
        target: the target's name.
        threshold: the seqlet caller's p-value threshold.
    """
    seqlets = call_seqlets(attributions, threshold=threshold)
    if len(seqlets) == 0:
        return []
    named = annotate_seqlets(one_hot, seqlets, motifs)
    named = named.sort_values(["example_idx", "start"], kind="stable")
    return [
        (
            records[int(r.example_idx)],
            target,
            int(r.start),
            int(r.end),
            r.strand,
            float(r.attribution),
            r.motif,
            float(r["motif_p-value"]),
            float(r["p-value"]),
        )  # fmt: skip
        for _, r in named.iterrows()
    ]


def write_seqlet_tsv(path: Path, rows: list[tuple]) -> Path:
    """Write seqlets.tsv (:data:`SEQLET_TSV_COLUMNS`), atomically.

    Args:
        path: the file.
        rows: the rows, in the columns' order.
    """
    with atomic_path(path, suffix=".tsv") as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(SEQLET_TSV_COLUMNS) + "\n")
        for row in rows:
            f.write("\t".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row) + "\n")
    return path
