"""Write a synthetic DNA set unlike the demo's, to check that a recipe converges on data it was
not tuned on: other transcription-factor motifs, longer sequences with the motifs confined
to the centre, and flipped labels.

python scripts/make_convergence_data.py data/convergence        # sequences.fa, labels.tsv, labels_clean.tsv

Each target is one motif (its consensus site from JASPAR / the literature, none of them in
zoo.data.synthetic.MOTIFS); a record is positive for it when a mutated copy was planted
(``--copies`` times, random strand) inside the central ``--centre`` bases of random
background. Then ``--label-noise`` of all labels are flipped (positives to negatives and
back); labels_clean.tsv keeps the labels before flipping. The script prints the AUROC a
perfect model would get against the flipped labels: the ceiling for val_auroc.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from zoo._io.writing import atomic_path
from zoo.data.labels import write_labels
from zoo.data.synthetic import MOTIFS as DEMO_MOTIFS
from zoo.dna import reverse_complement_str

# Consensus sites; none is among the demo's motifs.
MOTIFS: dict[str, str] = {
    "POU5F1": "ATGCAAAT",
    "STAT3": "TTCCCGGAA",
    "E2F1": "TTTCGCGC",
    "RUNX1": "TGTGGTTT",
    "SRF": "CCATATATGG",
    "MEF2C": "CTAAAAATAG",
    "HSF1": "AGAACGTTCT",
    "TP53": "GGACATGCCC",
}
BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def plant(
    seq: np.ndarray, start: int, width: int, motif: str, rng: np.random.Generator, mutation_rate: float
) -> None:
    """Write a mutated copy of ``motif`` (random strand) at a random offset of seq[start : start + width]."""
    site = motif if rng.random() < 0.5 else reverse_complement_str(motif)
    codes = np.frombuffer(site.encode("ascii"), dtype=np.uint8).copy()
    mutate = rng.random(len(codes)) < mutation_rate
    codes[mutate] = rng.choice(BASES, size=int(mutate.sum()))
    offset = start + int(rng.integers(0, width - len(codes) + 1))
    seq[offset : offset + len(codes)] = codes


def make(
    out: Path,
    n_seqs: int,
    seq_len: int,
    centre: int,
    copies: int,
    positive_rate: float,
    mutation_rate: float,
    label_noise: float,
    seed: int,
) -> float:
    """Write the three files under ``out``; return the mean per-target AUROC of the clean labels
    scored against the flipped ones."""
    assert not set(MOTIFS.values()) & set(DEMO_MOTIFS.values()), "motifs must differ from the demo's"
    n_targets, n_slots = len(MOTIFS), len(MOTIFS) * copies
    width = centre // n_slots
    if width < max(len(m) for m in MOTIFS.values()) or centre > seq_len:
        raise SystemExit(f"--centre {centre} cannot hold {n_slots} sites without overlap in {seq_len} bp")
    rng = np.random.default_rng(seed)
    clean = (rng.random((n_seqs, n_targets)) < positive_rate).astype(np.uint8)
    names = [f"conv{i:05d}" for i in range(n_seqs)]
    first = (seq_len - centre) // 2
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "sequences.fa") as tmp, open(tmp, "w", encoding="ascii") as f:
        for name, row in zip(names, clean):
            seq = rng.choice(BASES, size=seq_len)
            slots = rng.permutation(n_slots).reshape(n_targets, copies)  # sites never overlap
            for target in np.flatnonzero(row):
                for slot in slots[target]:
                    plant(seq, first + slot * width, width, list(MOTIFS.values())[target], rng, mutation_rate)
            f.write(f">{name}\n{seq.tobytes().decode('ascii')}\n")
    flip = rng.random(clean.shape) < label_noise
    noisy = np.where(flip, 1 - clean, clean).astype(np.uint8)
    write_labels(out / "labels.tsv", names, list(MOTIFS), noisy)
    write_labels(out / "labels_clean.tsv", names, list(MOTIFS), clean)
    return float(np.mean([roc_auc_score(noisy[:, t], clean[:, t]) for t in range(n_targets)]))


def main() -> None:
    """Parse arguments, write the files, print the ceiling."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--n-seqs", type=int, default=6000)
    parser.add_argument("--seq-len", type=int, default=1000)
    parser.add_argument("--centre", type=int, default=200, help="motifs go in this many central bases")
    parser.add_argument("--copies", type=int, default=2, help="sites of each positive motif")
    parser.add_argument("--positive-rate", type=float, default=0.3)
    parser.add_argument("--mutation-rate", type=float, default=0.05, help="per planted base")
    parser.add_argument("--label-noise", type=float, default=0.05, help="fraction of labels flipped")
    parser.add_argument("--seed", type=int, default=1)
    a = parser.parse_args()
    ceiling = make(
        a.out,
        a.n_seqs,
        a.seq_len,
        a.centre,
        a.copies,
        a.positive_rate,
        a.mutation_rate,
        a.label_noise,
        a.seed,
    )
    print(f"wrote {a.out}/sequences.fa, labels.tsv ({a.label_noise:.0%} flipped), labels_clean.tsv")
    print(f"AUROC of the clean labels against the flipped ones (a perfect model's ceiling): {ceiling:.4f}")


if __name__ == "__main__":
    main()
