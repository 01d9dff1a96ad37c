"""Write a synthetic DNA data set (planted TF motifs) as FASTA + labels TSV.

python scripts/make_synthetic_dna.py data/synthetic/seqs.fa data/synthetic/labels.tsv --n-seqs 4000
"""

from __future__ import annotations

import argparse

from zoo.data.synthetic import MOTIFS, make_synthetic_dna


def main() -> None:
    """Parse arguments and write the files."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("fasta")
    parser.add_argument("labels")
    parser.add_argument("--n-seqs", type=int, default=4000)
    parser.add_argument("--seq-len", type=int, default=500)
    parser.add_argument("--n-targets", type=int, default=8, help=f"1..{len(MOTIFS)}: {', '.join(MOTIFS)}")
    parser.add_argument("--positive-rate", type=float, default=0.3)
    parser.add_argument("--mutation-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    fasta, labels = make_synthetic_dna(
        args.fasta,
        args.labels,
        n_seqs=args.n_seqs,
        seq_len=args.seq_len,
        n_targets=args.n_targets,
        positive_rate=args.positive_rate,
        mutation_rate=args.mutation_rate,
        seed=args.seed,
    )
    print(f"wrote {fasta} and {labels}")


if __name__ == "__main__":
    main()
