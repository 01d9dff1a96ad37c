"""Matching the contig names of a BED or VCF file to a genome's: ``chr1`` / ``1``, ``chrX`` / ``X``,
``chrM`` / ``MT`` / ``chrMT``.

UCSC names contigs ``chr1 ... chrM``, Ensembl and NCBI ``1 ... MT``; a VCF called against one
and a FASTA from the other share no name, and every record would be reported as on a missing
contig. :func:`match_contigs` finds the genome's name for each, says in one warning which
renaming it used, and refuses inputs where no record's contig is in the genome at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from zoo._checks import list_names
from zoo._types import PathLike
from zoo.predict.errors import PredictError

_MITOCHONDRIAL = ("chrM", "MT", "chrMT", "M")


class ContigWarning(UserWarning):
    """Contig names of an input were read as other names of the genome (see ContigMatch.warning)."""


def contig_aliases(name: str) -> list[str]:
    """Other spellings of contig ``name`` in the UCSC / Ensembl conventions, most likely first."""
    if name in _MITOCHONDRIAL:
        return [m for m in _MITOCHONDRIAL if m != name]
    if name.startswith("chr") and len(name) > 3:
        return [name[3:]]
    return [f"chr{name}"]


@dataclass
class ContigMatch:
    """How the contigs of an input map onto a genome's.

    ``mapping`` holds every input contig found in the genome (under its own name or an
    alias); ``renamed`` the ones found under another name; ``missing`` those not found;
    ``warning`` one line naming the renamings (None when there were none).
    """

    mapping: dict[str, str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    warning: str | None = None


class ContigMatcher:
    """Maps contig names of ``source`` (a BED or VCF file) to those of ``genome`` as records
    stream by: the same name when the genome has it, else the first alias
    (:func:`contig_aliases`) it has. Each name is looked up once.
    """

    def __init__(self, genome_contigs: Iterable[str], *, source: PathLike, genome: PathLike) -> None:
        self._available = set(genome_contigs)
        self.source, self.genome = os.fspath(source), os.fspath(genome)
        self.match = ContigMatch()

    def __call__(self, contig: str) -> str | None:
        """The genome's name for ``contig``, or None when the genome has no such contig."""
        match = self.match
        if contig in match.mapping:
            return match.mapping[contig]
        if contig in match.missing:
            return None
        if contig in self._available:
            match.mapping[contig] = contig
            return contig
        alias = next((a for a in contig_aliases(contig) if a in self._available), None)
        if alias is None:
            match.missing.append(contig)
            return None
        match.mapping[contig] = match.renamed[contig] = alias
        pairs = [f"{a} as {b}" for a, b in match.renamed.items()]
        match.warning = (
            f"contig names of {self.source!r} differ from genome {self.genome!r}: reading {list_names(pairs)}"
        )
        return alias

    def finish(self) -> ContigMatch:
        """The match so far; a PredictError naming both files when contigs were looked up but
        none is in the genome (every record would go unscored)."""
        if self.match.missing and not self.match.mapping:
            theirs = list_names(sorted(self._available)) or "no contigs"
            raise PredictError(
                f"no contig of {self.source!r} is in genome {self.genome!r}: the input has "
                f"{list_names(self.match.missing)}; the genome has {theirs}"
            )
        return self.match


def match_contigs(
    contigs: Iterable[str], genome_contigs: Iterable[str], *, source: PathLike, genome: PathLike
) -> ContigMatch:
    """The :class:`ContigMatch` of all of ``contigs`` (from ``source``) against ``genome_contigs``.

    Raises a PredictError naming both files when there are contigs but none is in the genome.
    """
    matcher = ContigMatcher(genome_contigs, source=source, genome=genome)
    for contig in contigs:
        matcher(contig)
    return matcher.finish()
