"""Regenerate the zoo-predict example files in this folder (deterministic; a test checks them).

python tests/data/predict/make_example.py

Writes a tiny DeepSEA-shaped model (200 bp -> 5 targets, about 50 KB), target labels,
a 2-contig genome, a FASTA of model-length records, a FASTA of one long record, BED
intervals and a VCF with hand-placed variants (SNVs, a multi-allelic site, an
insertion, a deletion, and one allele of each kind that is reported, not scored).
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
MODEL_ARGS = {"seq_len": 200, "n_targets": 5, "hidden": 16, "conv_channels": (8, 8, 8)}
LABELS = ["K562|CTCF|None", "K562|DNase|None", "HepG2|H3K27ac|None", "GM12878|POLR2A|None", "HeLa|EP300|None"]


def _random_dna(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


def _fasta(records: dict[str, str], width: int = 60) -> str:
    return "".join(
        f">{name}\n" + "".join(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
        for name, seq in records.items()
    )


def example_model() -> torch.nn.Module:
    """The example model: seeded random weights, last layer scaled so outputs spread out."""
    import zoo

    torch.manual_seed(20151005)
    model = zoo.create_model("deepsea", **MODEL_ARGS).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)
    return model


def genome_sequences() -> dict[str, str]:
    """The example genome: chr1 (2000 bp) and chr2 (1000 bp)."""
    rng = random.Random(7)
    return {"chr1": _random_dna(rng, 2000), "chr2": _random_dna(rng, 1000)}


def vcf_text(genome: dict[str, str]) -> str:
    """Hand-placed variants on the example genome (POS is 1-based)."""
    g = genome["chr1"]
    other = {b: next(c for c in "ACGT" if c != b) for b in "ACGT"}
    rows = [
        ("chr1", 500, "rs1", g[499], other[g[499]]),  # SNV
        ("chr1", 800, "rs2", g[799], ",".join(c for c in "ACGT" if c != g[799])),  # multi-allelic
        ("chr1", 1000, "ins1", g[999], g[999] + "TTGACA"),  # insertion
        ("chr1", 1200, "del1", g[1199:1205], g[1199]),  # deletion of 5 bp
        ("chr1", 1400, "bad_ref", other[g[1399]], g[1399]),  # REF differs from the genome
        ("chr1", 20, "near_start", g[19], other[g[19]]),  # window runs off chr1's start
        ("chr1", 1600, "sv1", g[1599], "<DEL>"),  # symbolic allele
        ("chr3", 100, "no_contig", "A", "G"),  # contig not in the genome
    ]
    header = (
        "##fileformat=VCFv4.2\n"
        + "".join(f"##contig=<ID={c},length={len(s)}>\n" for c, s in genome.items())
        + "##contig=<ID=chr3,length=1000>\n"
        + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    )
    return header + "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t.\n" for c, p, i, r, a in rows)


def main() -> None:
    """Write every example file next to this script."""
    import pysam

    import zoo

    zoo.save_weights(example_model(), HERE / "tiny_deepsea.safetensors")
    (HERE / "labels.txt").write_text("".join(f"{label}\n" for label in LABELS))
    genome = genome_sequences()
    (HERE / "genome.fa").write_text(_fasta(genome))
    pysam.faidx(str(HERE / "genome.fa"))  # ship the index, so a read-only checkout works too
    rng = random.Random(11)
    (HERE / "seqs.fa").write_text(_fasta({f"seq{i}": _random_dna(rng, 200) for i in range(8)}))
    (HERE / "long.fa").write_text(_fasta({"long1": _random_dna(rng, 650)}))
    (HERE / "peaks.bed").write_text(
        "chr1\t300\t500\tpeak1\nchr1\t1000\t1100\tpeak2\nchr2\t400\t700\tpeak3\nchr2\t950\t1000\tedge\n"
    )
    (HERE / "variants.vcf").write_text(vcf_text(genome))


if __name__ == "__main__":
    main()
