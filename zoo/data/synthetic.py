"""Synthetic DNA with known transcription-factor motifs planted in random background.

Each target is one motif: a sequence is positive for it exactly when a (mutated) copy of
the motif was planted, on either strand. The output is FASTA + labels TSV, so it is read
by :class:`zoo.data.DnaFastaDataModule`, the same path as real data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from zoo._io.writing import atomic_path
from zoo.data.labels import write_labels
from zoo.dna import reverse_complement_str

# Consensus sites (JASPAR / literature); names are the transcription factors.
MOTIFS: dict[str, str] = {
    "CTCF": "CCACCAGGGGGCGC",
    "GATA1": "AGATAAGA",
    "SP1": "GGGGCGGGGC",
    "AP1": "ATGACTCAT",
    "CREB1": "TGACGTCA",
    "NRF1": "GCGCATGCGC",
    "MYC": "CCACGTGG",
    "NFKB": "GGGAATTTCC",
    "ELK1": "ACCGGAAGT",
    "YY1": "AAGATGGCGGC",
    "HNF4A": "GGGGTCAAAGGTCA",
    "REST": "TTCAGCACCATGGACAGCGCC",
}
BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def _plant(segment: np.ndarray, motif: str, rng: np.random.Generator, mutation_rate: float) -> None:
    """Write a mutated copy of ``motif`` (random strand, random offset) into ``segment``."""
    site = motif if rng.random() < 0.5 else reverse_complement_str(motif)
    codes = np.frombuffer(site.encode("ascii"), dtype=np.uint8).copy()
    mutate = rng.random(len(codes)) < mutation_rate
    codes[mutate] = rng.choice(BASES, size=int(mutate.sum()))
    start = int(rng.integers(0, len(segment) - len(codes) + 1))
    segment[start : start + len(codes)] = codes


def make_synthetic_dna(
    fasta: str | os.PathLike[str],
    labels: str | os.PathLike[str],
    n_seqs: int = 4000,
    seq_len: int = 500,
    n_targets: int = 8,
    positive_rate: float = 0.3,
    mutation_rate: float = 0.1,
    copies: int = 1,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write ``n_seqs`` random sequences of ``seq_len`` with planted motifs as FASTA + labels TSV.

    Target ``t`` is positive when motif ``t`` of :data:`MOTIFS` was planted.
    Files are written under temporary names and renamed, so they are complete or absent.

    Args:
        fasta: the FASTA file to write.
        labels: the labels TSV to write.
        n_seqs: the number of sequences.
        seq_len: their length.
        n_targets: the number of targets (motifs planted).
        positive_rate: the probability that a target is positive (its motif planted).
        mutation_rate: the probability that each planted base mutates.
        copies: how many times a motif is planted, never overlapping.
        seed: the seed.
    """
    if not 1 <= n_targets <= len(MOTIFS):
        raise ValueError(f"n_targets={n_targets}, expected 1..{len(MOTIFS)} (one per known motif)")
    motifs = dict(list(MOTIFS.items())[:n_targets])
    longest = max(len(m) for m in motifs.values())
    n_slots = n_targets * copies
    if seq_len < longest * n_slots:
        raise ValueError(
            f"seq_len={seq_len} is too short to plant {n_targets} motifs {copies} time(s); "
            f"use >= {longest * n_slots}"
        )
    rng = np.random.default_rng(seed)
    fasta, labels = Path(fasta), Path(labels)
    label_rows = (rng.random((n_seqs, n_targets)) < positive_rate).astype(np.uint8)
    names = [f"seq{i:06d}" for i in range(n_seqs)]
    with atomic_path(fasta) as tmp, open(tmp, "w", encoding="ascii") as f:
        for name, row in zip(names, label_rows):
            seq = rng.choice(BASES, size=seq_len)
            # Slots of seq_len // n_slots, assigned in random order: sites never overlap.
            slots = rng.permutation(n_slots).reshape(n_targets, copies)
            width = seq_len // n_slots
            for target in np.flatnonzero(row):
                for slot in slots[target]:
                    start = slot * width
                    _plant(seq[start : start + width], list(motifs.values())[target], rng, mutation_rate)
            f.write(f">{name}\n{seq.tobytes().decode('ascii')}\n")
    write_labels(labels, names, list(motifs), label_rows)
    return fasta, labels


def ensure_synthetic_dna(fasta: str, labels: str, **params: float | int) -> tuple[Path, Path]:
    """Generate the synthetic data set unless files made with the same parameters exist.

    The parameters are kept in ``<labels>.params.json``; other parameters regenerate.

    Args:
        fasta: the FASTA file.
        labels: the labels TSV.
        **params: :func:`make_synthetic_dna`'s other arguments.
    """
    manifest = Path(f"{labels}.params.json")
    wanted = json.dumps(params, sort_keys=True)
    if Path(fasta).is_file() and Path(labels).is_file() and manifest.is_file():
        if manifest.read_text() == wanted:
            return Path(fasta), Path(labels)
    # Drop a stale pyfaidx index before replacing the FASTA it indexes.
    Path(f"{fasta}.fai").unlink(missing_ok=True)
    out = make_synthetic_dna(fasta, labels, **params)  # type: ignore[arg-type]
    with atomic_path(manifest) as tmp:
        tmp.write_text(wanted)
    return out
