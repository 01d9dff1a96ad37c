"""Motif scans by FIMO (memelite): hits in sequences, and the motifs an ALT allele creates or destroys.

``scan`` returns every hit of every motif below a p-value threshold. ``allele_motifs`` scans the
REF and ALT windows of variants around the variant only (the positions a motif overlapping the
variant can cover) and pairs each site with its p-value on both alleles.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from zoo._extras import install_hint
from zoo.motifs.databases import MotifError

if TYPE_CHECKING:  # pandas loads lazily, when a table is made
    import pandas as pd

HIT_COLUMNS = ["sequence", "motif", "start", "end", "strand", "score", "p-value"]
ALLELE_COLUMNS = ["variant", "motif", "start", "end", "strand", "p_ref", "p_alt", "change"]


def _fimo():  # noqa: ANN202
    try:
        from memelite import fimo
    except ImportError as err:
        raise ImportError(f"motif scans need memelite: {install_hint('motifs')}") from err
    return fimo


def _one_hot(seqs: torch.Tensor | np.ndarray | Sequence[str]) -> np.ndarray:
    if isinstance(seqs, torch.Tensor):
        return seqs.detach().cpu().numpy()
    if isinstance(seqs, np.ndarray):
        return seqs
    from zoo.dna import one_hot

    lengths = {len(s) for s in seqs}
    if len(lengths) > 1:
        raise ValueError(f"sequences given as strings must have one length, got {sorted(lengths)}")
    return one_hot(list(seqs), n_value=0.0).numpy()


def scan(
    motifs: dict[str, np.ndarray],
    seqs: torch.Tensor | np.ndarray | Sequence[str],
    names: Sequence[str] | None = None,
    threshold: float = 1e-4,
    reverse_complement: bool = True,
) -> pd.DataFrame:
    """Every FIMO hit of ``motifs`` in ``seqs`` with a p-value below ``threshold``.

    Args:
        motifs: ``{name: (4, width) probabilities}``.
        seqs: (N, 4, L) one-hot sequences, or N strings of one length (N scores no motif).
        names: the sequences' names (default: their indices).
        threshold: the largest p-value reported.
        reverse_complement: also scan each motif's reverse complement (strand ``-``).

    Returns:
        A DataFrame with columns sequence, motif, start, end (0-based, end exclusive), strand,
        score, p-value, sorted by sequence then start.
    """
    import pandas as pd

    if not motifs:
        raise MotifError("no motifs to scan with")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    x = _one_hot(seqs)
    if x.ndim != 3 or x.shape[1] != 4:
        raise ValueError(f"seqs must have shape (N, 4, L), got {x.shape}")
    if names is not None and len(names) != len(x):
        raise ValueError(f"names has {len(names)} entries for {len(x)} sequences")
    fimo = _fimo()
    pwms = {name: np.ascontiguousarray(m, dtype=np.float64) for name, m in motifs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pandas concat of empty frames
        hits = fimo(pwms, np.ascontiguousarray(x, dtype=np.float32), threshold=threshold,
                    reverse_complement=reverse_complement)  # fmt: skip
        frames = [h for h in hits if len(h)]
    if not frames:
        return pd.DataFrame({c: [] for c in HIT_COLUMNS})
    table = pd.concat(frames, ignore_index=True)
    index = table["sequence_name"].astype(np.int64)
    table = pd.DataFrame(
        {
            "sequence": [names[i] for i in index] if names is not None else index,
            "motif": table["motif_name"].astype(str),
            "start": table["start"].astype(np.int64),
            "end": table["end"].astype(np.int64),
            "strand": table["strand"].astype(str),
            "score": table["score"].astype(np.float64),
            "p-value": table["p-value"].astype(np.float64),
        }
    )
    return table.sort_values(["sequence", "start", "motif", "strand"], kind="stable").reset_index(drop=True)


def allele_motifs(
    motifs: dict[str, np.ndarray],
    ref: torch.Tensor | np.ndarray | Sequence[str],
    alt: torch.Tensor | np.ndarray | Sequence[str],
    position: int,
    names: Sequence[str] | None = None,
    threshold: float = 1e-4,
    report_threshold: float = 1e-2,
) -> pd.DataFrame:
    """The motif sites over a variant on its REF and ALT windows, with the p-value on each allele.

    Both windows are scanned on the positions a motif overlapping ``position`` can cover (the
    longest motif's width on each side), at ``report_threshold``. A site (motif, strand, start)
    is listed when it overlaps the variant and passes ``threshold`` on either allele; the allele
    where it does not reach ``report_threshold`` gets p-value NaN (weaker than that).

    Args:
        motifs: ``{name: (4, width) probabilities}``.
        ref: (N, 4, L) one-hot REF windows (or strings).
        alt: (N, 4, L) one-hot ALT windows, the variant at the same position (SNVs and
            same-length changes; the ALT window of an indel is compared base by base as well).
        position: the 0-based position of the variant's first base in the windows.
        names: the variants' names (default: their indices).
        threshold: the p-value a site must pass on one allele to be listed.
        report_threshold: the largest p-value reported for the other allele.

    Returns:
        A DataFrame with columns variant, motif, start, end (in window coordinates), strand,
        p_ref, p_alt, change: ``destroyed`` (passes ``threshold`` on REF only), ``created``
        (on ALT only) or ``kept`` (on both), strongest change first.
    """
    import pandas as pd

    if not 0 < threshold <= report_threshold <= 1:
        raise ValueError(
            f"threshold={threshold!r}, report_threshold={report_threshold!r}: expected "
            "0 < threshold <= report_threshold <= 1"
        )
    r, a = _one_hot(ref), _one_hot(alt)
    if r.shape != a.shape or r.ndim != 3:
        raise ValueError(f"ref {r.shape} and alt {a.shape} must both be (N, 4, L)")
    if not 0 <= position < r.shape[2]:
        raise ValueError(f"position {position} is outside windows of {r.shape[2]} bp")
    width = max(m.shape[1] for m in motifs.values())
    lo, hi = max(0, position - width + 1), min(r.shape[2], position + width)
    both = np.concatenate([r[:, :, lo:hi], a[:, :, lo:hi]])
    n = len(r)
    hits = scan(motifs, both, threshold=report_threshold)
    hits = hits[(hits["start"] + lo <= position) & (hits["end"] + lo > position)]
    sites: dict[tuple, list[float]] = {}
    for seq, motif, start, end, strand, p in hits[
        ["sequence", "motif", "start", "end", "strand", "p-value"]
    ].itertuples(index=False):
        key = (int(seq) % n, motif, int(start) + lo, int(end) + lo, strand)
        sites.setdefault(key, [np.nan, np.nan])[int(seq) // n] = float(p)
    rows = []
    for (variant, motif, start, end, strand), (p_ref, p_alt) in sites.items():
        on_ref, on_alt = p_ref <= threshold, p_alt <= threshold  # NaN compares False
        if not (on_ref or on_alt):
            continue
        change = "kept" if on_ref and on_alt else ("destroyed" if on_ref else "created")
        label = names[variant] if names is not None else variant
        rows.append((label, motif, start, end, strand, p_ref, p_alt, change))
    table = pd.DataFrame(rows, columns=ALLELE_COLUMNS)
    if len(table):
        # FIMO reports p-values below its table's resolution as 0
        filled = np.log10(table[["p_ref", "p_alt"]].fillna(report_threshold).clip(lower=1e-300))
        table = table.assign(_order=-(filled["p_ref"] - filled["p_alt"]).abs())
        table = table.sort_values(["_order"], kind="stable").drop(columns="_order").reset_index(drop=True)
    return table
