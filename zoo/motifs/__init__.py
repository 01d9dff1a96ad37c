"""Known motifs: JASPAR (offline, from pyjaspar's database) and MEME files; seqlets of attributions
and their nearest motifs by TOMTOM; FIMO scans of sequences and of variants' two alleles.

The optional libraries (memelite, pyjaspar) load only inside the functions that use
them: ``pip install "sigmoid-zoo[motifs]"``.
"""

from zoo.motifs.annotate import (
    annotate_patterns,
    annotate_seqlets,
    call_seqlets,
    nearest_motifs,
    read_modisco_patterns,
    trim_pattern,
)
from zoo.motifs.databases import (
    MotifError,
    jaspar_motifs,
    jaspar_releases,
    load_motifs,
    read_meme_motifs,
    write_meme_motifs,
)
from zoo.motifs.scan import allele_motifs, scan

__all__ = [
    "MotifError",
    "allele_motifs",
    "annotate_patterns",
    "annotate_seqlets",
    "call_seqlets",
    "jaspar_motifs",
    "jaspar_releases",
    "load_motifs",
    "nearest_motifs",
    "read_meme_motifs",
    "read_modisco_patterns",
    "scan",
    "trim_pattern",
    "write_meme_motifs",
]
