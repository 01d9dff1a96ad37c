"""Random access to a genome FASTA (pysam, through the .fai index), and its contig names."""

from __future__ import annotations

import os

from zoo._faidx import fresh_index
from zoo._types import PathLike
from zoo.dna import ambiguity_as_n, first_invalid_symbol
from zoo.predict.errors import PredictError, require_file
from zoo.predict.inputs.contigs import ContigMatcher


class Genome:
    """Random access to the FASTA genome at ``path`` (pysam.FastaFile; builds the .fai index
    if missing, and rebuilds one that no longer describes the genome).

    ``lengths`` maps each contig's name to its length, in the genome's order.

    Args:
        path: the FASTA genome.
    """

    def __init__(self, path: PathLike) -> None:
        import pysam

        path = require_file(path, "genome FASTA")
        # pysam trusts any .fai beside the genome, and prints htslib's reasons for a genome it
        # cannot index: the index is checked (built) here instead
        problem = fresh_index(path, build_missing=True)
        if problem is not None:
            raise PredictError(f"genome {os.fspath(path)!r}: {problem}")
        try:
            self._fasta = pysam.FastaFile(os.fspath(path))
        except (OSError, ValueError) as err:
            raise PredictError(f"cannot open genome {os.fspath(path)!r}: {err}") from err
        self.lengths = dict(zip(self._fasta.references, self._fasta.lengths))
        self.path = os.fspath(path)

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases [start, end) of ``chrom`` (0-based), upper case, ambiguity codes as N.

        A byte that is no base (a NUL, which ends pysam's string early; bytes that are not
        UTF-8; punctuation) is a PredictError naming the contig and position.

        Args:
            chrom: the contig.
            start: the first base (0-based).
            end: the end (exclusive).
        """
        try:
            raw = self._fasta.fetch(chrom, start, end)
        except UnicodeDecodeError as err:
            raise self._not_a_base(chrom, start + err.start, err.object[err.start : err.start + 1]) from None
        seq = ambiguity_as_n(raw)
        if len(seq) != end - start or not seq.isascii():  # a NUL, or a multi-byte character
            bad = next((i for i, c in enumerate(seq) if not c.isascii()), len(seq))
            raise self._not_a_base(chrom, start + bad, raw[bad : bad + 1].encode() or b"\x00")
        bad = first_invalid_symbol(seq.encode("ascii"))
        if bad >= 0:
            raise self._not_a_base(chrom, start + bad, seq[bad].encode())
        return seq

    def _not_a_base(self, chrom: str, position: int, byte: bytes) -> PredictError:
        return PredictError(
            f"genome {self.path!r} {chrom}: byte {repr(byte)[1:]} at position {position} is not a DNA "
            "symbol; expected A, C, G, T, N or an IUPAC ambiguity code"
        )

    def close(self) -> None:
        """Close the FASTA file."""
        self._fasta.close()


def genome_contigs(path: PathLike) -> dict[str, int]:
    """Contig name -> length of the FASTA genome at ``path``, from its .fai index (built when missing)."""
    fasta = Genome(path)
    try:
        return dict(fasta.lengths)
    finally:
        fasta.close()


def contig_matcher(genome: PathLike, source: PathLike) -> ContigMatcher:
    """A :class:`ContigMatcher` from the contig names of ``source`` (a BED or VCF file) to those
    of the FASTA ``genome``."""
    return ContigMatcher(genome_contigs(genome), source=source, genome=genome)
