"""Where windows come from: FASTA records (whole or tiled) and genome intervals from a BED file.

Everything is read as a stream, so memory does not grow with the input: FASTA records one
at a time (:mod:`zoo.predict.fastx`, which checks every byte), genome windows by random
access (pysam, through the .fai index).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

import torch

from zoo._faidx import fresh_index
from zoo._io.inputs import GZIP_MAGIC
from zoo._io.text import tsv_field_problem, whole_number
from zoo.dna import ambiguity_as_n, first_invalid_symbol
from zoo.predict.contigs import ContigMatcher
from zoo.predict.errors import PathLike, PredictError, require_file
from zoo.predict.fastx import STDIN, describe_source, plain_fasta
from zoo.predict.items import Item, fasta_window_groups, fasta_windows
from zoo.predict.scoring import Job


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """(n, 1, T) logits of one window per row -> (n, T) probabilities."""
    return torch.sigmoid(logits[:, 0])


def fasta_job(path: PathLike, seq_len: int, step: int | None = None) -> Job:
    """Rows ``name`` (and ``start``, the 0-based window start, with ``step``), then targets.

    ``path`` may be a pipe or ``-`` (standard input): the records are read once, in order.
    """
    if os.fspath(path) != STDIN:
        require_file(path, "FASTA file", stream_ok=True)
    size = _regular_file_size(path)
    return Job(
        meta_columns=["name"] if step is None else ["name", "start"],
        items=fasta_windows(path, seq_len, step),
        windows_per_item=1,
        value_columns=list,
        values=probabilities,
        empty_message=f"{describe_source(path)} has no records",
        reader=(fasta_window_groups, (os.fspath(path), seq_len, step)) if size is not None else None,
        input_bytes=size or 0,
        shardable=size is not None and plain_fasta(path),
    )


def _regular_file_size(path: PathLike) -> int | None:
    """The size of ``path`` if another process opening it reads what this one would: a regular
    file named outside /dev and /proc (not standard input, a pipe, or a descriptor of this
    process such as /dev/stdin or /dev/fd/63); else None."""
    name = os.path.abspath(os.fspath(path))
    if os.fspath(path) == STDIN or any(
        p.startswith(("/dev/", "/proc/")) for p in (name, os.path.realpath(name))
    ):
        return None
    try:
        info = os.stat(name)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


class Genome:
    """Random access to a FASTA genome (pysam.FastaFile; builds the .fai index if missing, and
    rebuilds one that no longer describes the genome)."""

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
    """Contig name -> length of a FASTA genome, from its .fai index (built when missing)."""
    fasta = Genome(path)
    try:
        return dict(fasta.lengths)
    finally:
        fasta.close()


def contig_matcher(genome: PathLike, source: PathLike) -> ContigMatcher:
    """A :class:`ContigMatcher` from the contig names of ``source`` (a BED or VCF file) to ``genome``'s."""
    return ContigMatcher(genome_contigs(genome), source=source, genome=genome)


def bed_intervals(path: PathLike) -> Iterator[tuple[int, str, int, int, str]]:
    """(line number, chrom, start, end, name) of each interval; name is '.' without a 4th column."""
    path = require_file(path, "BED file")
    with open(path, "rb") as f:  # bytes, so that a line that is not UTF-8 can be named
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                gz = number == 1 and raw.startswith(GZIP_MAGIC)
                raise PredictError(
                    f"BED file {os.fspath(path)!r} line {number}: not UTF-8 text"
                    + ("; it is gzip-compressed: decompress it first" if gz else "; is it a BED file?")
                ) from None
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            text = line.rstrip("\r\n")
            if not text.replace("\t", "").isprintable():  # fast; the exact check only then
                odd = next((c for c in text if c != "\t" and tsv_field_problem(c) is not None), None)
                if odd is not None:
                    raise PredictError(
                        f"{os.fspath(path)} line {number}: holds the control character {odd!r}, which "
                        "would break the output table's rows"
                    )
            fields = text.split("\t")
            start, end = (whole_number(v) for v in (fields[1:3] if len(fields) >= 3 else ("", "")))
            if start is None or end is None:
                raise PredictError(
                    f"{os.fspath(path)} line {number}: expected 'chrom<TAB>start<TAB>end' with whole numbers "
                    f"(digits 0-9), got {line.strip()!r}"
                )
            chrom = fields[0]
            if start < 0 or end < start:
                raise PredictError(f"{os.fspath(path)} line {number}: bad interval {start}-{end}")
            yield number, chrom, start, end, fields[3] if len(fields) > 3 else "."


def bed_windows(genome: PathLike, bed: PathLike, seq_len: int, contigs: ContigMatcher) -> Iterator[Item]:
    """The seq_len window centred on each interval (its start: midpoint - seq_len // 2).

    ``contigs`` reads the BED's contig names as the genome's (``chr1`` as ``1`` and the
    like; the rows keep the BED's names). Intervals on a contig missing from the genome, or
    whose window runs off the contig, are not scored: their row says ``missing_contig`` or
    ``off_contig_end``; when no interval's contig is in the genome, a PredictError is raised
    at the end.
    """
    fasta = Genome(genome)
    try:
        for _, chrom, start, end, name in bed_intervals(bed):
            meta = (chrom, start, end, name)
            contig = contigs(chrom)
            window_start = (start + end) // 2 - seq_len // 2
            if contig is None:
                yield Item(meta, status="missing_contig")
            elif window_start < 0 or window_start + seq_len > fasta.lengths[contig]:
                yield Item(meta, status="off_contig_end")
            else:
                yield Item(meta, (fasta.fetch(contig, window_start, window_start + seq_len),))
        contigs.finish()
    finally:
        fasta.close()


def bed_job(genome: PathLike, bed: PathLike, seq_len: int, contigs: ContigMatcher | None = None) -> Job:
    """Rows chrom, start, end, name, status, then targets.

    ``contigs`` matches the BED's contig names to the genome's (default: a new
    :func:`contig_matcher`); the job keeps it, so that its warning can be shown after the run.
    """
    require_file(genome, "genome FASTA")
    require_file(bed, "BED file")
    if contigs is None:
        contigs = contig_matcher(genome, bed)
    return Job(
        meta_columns=["chrom", "start", "end", "name"],
        items=bed_windows(genome, bed, seq_len, contigs),
        windows_per_item=1,
        value_columns=list,
        values=probabilities,
        with_status=True,
        empty_message=f"BED file {os.fspath(bed)!r} has no intervals",
        contigs=contigs,
    )
