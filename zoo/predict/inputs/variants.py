"""Variant effects: reference and alternative windows for every allele of a VCF.

Centring (as the original Lua-trained DeepSEA models): in a window of L bp the variant's
first base sits at 0-based index ``c = L // 2 - 1`` (499 for 1000 bp).

Indel rule, one for every variant (with p = POS - 1, the 0-based first base of REF):

- reference window = genome[p - c, p - c + L), which holds REF from index c;
- alternative window = genome[p - c, p) + ALT + genome[p + len(REF), ...), cut to L bp:
  the same c bases of left context, the ALT allele from index c, then the genome after
  REF for as many bases as are left (an ALT longer than L - c is cut at the window end).

So a SNV changes one base at index c, a deletion pulls in bases from beyond the
reference window, an insertion pushes the right flank out. Alleles are never scored
silently when they cannot be placed; their row's status says why (scores are NaN):
``missing_contig`` (contig not in the genome), ``ref_mismatch`` (REF differs from the
genome), ``off_contig_end`` (a window runs off the contig), ``unsupported_alt``
(symbolic or breakend alleles such as <DEL>, *, N[chr1:5[), ``no_alt`` (a record without
ALT).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import torch

from zoo._types import PathLike
from zoo.predict.errors import PredictError, require_file
from zoo.predict.inputs.contigs import ContigMatcher
from zoo.predict.inputs.genome import Genome, contig_matcher
from zoo.predict.inputs.job import Item, Job
from zoo.predict.inputs.vcf import vcf_records

SCORES: tuple[str, ...] = ("ref", "alt", "diff", "logfc")
DEFAULT_SCORES: tuple[str, ...] = ("diff", "logfc")
_BASES = frozenset("ACGTN")


def variant_position(seq_len: int) -> int:
    """The 0-based index of the variant's first base in a window of ``seq_len`` bp.

    Args:
        seq_len: the window's length.
    """
    return seq_len // 2 - 1


def allele_windows(
    genome: Genome, chrom: str, pos: int, ref: str, alt: str | None, seq_len: int
) -> tuple[str, tuple[str, ...]]:
    """(status, (reference window, alternative window)) for one allele; windows empty unless ok.

    ``pos`` is the VCF's 1-based POS.

    Args:
        genome: the genome.
        chrom: the contig.
        pos: the VCF's 1-based POS.
        ref: the REF allele.
        alt: the ALT allele (None: none).
        seq_len: the model's window.
    """
    length = genome.lengths.get(chrom)
    if length is None:
        return "missing_contig", ()
    if alt is None:
        return "no_alt", ()
    ref, alt = ref.upper(), alt.upper()
    if not alt or not set(alt) <= _BASES or not set(ref) <= _BASES:
        return "unsupported_alt", ()
    p = pos - 1
    if p < 0 or p + len(ref) > length:
        return "off_contig_end", ()
    if genome.fetch(chrom, p, p + len(ref)) != ref:
        return "ref_mismatch", ()
    c = variant_position(seq_len)
    start = p - c
    right_len = max(0, seq_len - c - len(alt))
    if start < 0 or start + seq_len > length or p + len(ref) + right_len > length:
        return "off_contig_end", ()
    ref_window = genome.fetch(chrom, start, start + seq_len)
    right_flank = genome.fetch(chrom, p + len(ref), p + len(ref) + right_len)
    alt_window = (ref_window[:c] + alt + right_flank)[:seq_len]
    return "ok", (ref_window, alt_window)


def variant_items(genome: PathLike, vcf: PathLike, seq_len: int, contigs: ContigMatcher) -> Iterator[Item]:
    """One item per (record, ALT allele): meta (chrom, pos, id, ref, alt), windows (ref, alt).

    ``contigs`` maps the VCF's contig names to the genome's (the rows keep the VCF's); at the
    end it raises a PredictError when no record's contig was in the genome.
    """
    fasta = Genome(genome)
    try:
        for record in vcf_records(vcf):
            chrom = contigs(record.chrom) or record.chrom
            for alt in record.alts or (None,):
                status, windows = allele_windows(fasta, chrom, record.pos, record.ref, alt, seq_len)
                meta = (record.chrom, record.pos, record.id or ".", record.ref, alt or ".")
                yield Item(meta, windows, status)
        contigs.finish()
    finally:
        fasta.close()


def parse_scores(scores: str | Sequence[str]) -> list[str]:
    """Score names from 'diff,logfc' or a list; each one of ref, alt, diff, logfc."""
    names = [s.strip() for s in (scores.split(",") if isinstance(scores, str) else scores) if s.strip()]
    unknown = [s for s in names if s not in SCORES]
    if unknown or not names:
        raise PredictError(
            f"--scores {','.join(names)!r}: each score must be one of {', '.join(SCORES)} (or, as variant "
            "effects, seqclass, evalue, zscore, funsig)"
        )
    repeated = sorted({s for s in names if names.count(s) > 1})
    if repeated:
        raise PredictError(
            f"--scores {','.join(names)!r} repeats {', '.join(map(repr, repeated))}; list each score once"
        )
    return names


def variant_values(logits: torch.Tensor, scores: Sequence[str]) -> torch.Tensor:
    """(n, 2, T) ref/alt logits -> (n, T * len(scores)), target-major: for each target, each score.

    diff = p_alt - p_ref; logfc = logit(p_alt) - logit(p_ref), taken from the logits.

    Args:
        logits: (n, 2, T) ref/alt logits.
        scores: the scores of each target (see :data:`SCORES`).
    """
    ref_logits, alt_logits = logits[:, 0], logits[:, 1]
    p_ref, p_alt = torch.sigmoid(ref_logits), torch.sigmoid(alt_logits)
    by_name = {"ref": p_ref, "alt": p_alt, "diff": p_alt - p_ref, "logfc": alt_logits - ref_logits}
    return torch.stack([by_name[s] for s in scores], dim=2).flatten(1)


def variant_job(
    genome: PathLike,
    vcf: PathLike,
    seq_len: int,
    scores: Sequence[str] = DEFAULT_SCORES,
    contigs: ContigMatcher | None = None,
) -> Job:
    """Rows chrom, pos, id, ref, alt, status, then ``<score>:<target>`` columns.

    Args:
        genome: the FASTA genome.
        vcf: the variants.
        seq_len: the model's window.
        scores: the values of each target (see :data:`SCORES`).
        contigs: reads ``chr1`` as ``1`` and the like (see :func:`variant_items`; default: a
            new :func:`~zoo.predict.inputs.genome.contig_matcher`); the job keeps it, so that
            its warning can be shown after the run.
    """
    require_file(genome, "genome FASTA")
    require_file(vcf, "VCF file")
    names = parse_scores(scores)
    if contigs is None:
        contigs = contig_matcher(genome, vcf)
    return Job(
        meta_columns=["chrom", "pos", "id", "ref", "alt"],
        items=variant_items(genome, vcf, seq_len, contigs),
        windows_per_item=2,
        value_columns=lambda targets: [f"{s}:{t}" for t in targets for s in names],
        values=lambda logits: variant_values(logits, names),
        with_status=True,
        empty_message=f"VCF file {os.fspath(vcf)!r} has no variants",
        contigs=contigs,
    )
