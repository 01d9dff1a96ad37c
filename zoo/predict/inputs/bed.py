"""BED intervals as a job: the model-length window centred on each interval of a genome."""

from __future__ import annotations

import os
from collections.abc import Iterator

from zoo._io.reading import GZIP_MAGIC
from zoo._io.text import too_many_digits, tsv_field_problem, whole_number
from zoo._types import PathLike
from zoo.predict.errors import PredictError, require_file
from zoo.predict.inputs.contigs import ContigMatcher
from zoo.predict.inputs.genome import Genome, contig_matcher
from zoo.predict.inputs.job import Item, Job


def bed_intervals(path: PathLike) -> Iterator[tuple[int, str, int, int, str]]:
    """(line number, chrom, start, end, name) of each interval of the BED file ``path``; name is
    '.' without a 4th column."""
    path = require_file(path, "BED file")
    with open(path, "rb") as f:  # bytes, so that a line that is not UTF-8 can be named
        for number, raw in enumerate(f, 1):
            try:
                # a byte-order mark (from some editors) is no part of the first contig name
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
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
            long = too_many_digits(*fields[1:3])
            if long is not None:
                raise PredictError(f"{os.fspath(path)} line {number}: {long}")
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
    """The seq_len window of ``genome`` centred on each interval of ``bed`` (its start:
    midpoint - seq_len // 2).

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
    """Rows chrom, start, end, name, status, then targets: the windows of :func:`bed_windows`.

    Args:
        genome: the FASTA genome.
        bed: the BED file.
        seq_len: the model's window.
        contigs: matches the BED's contig names to the genome's (default: a new
            :func:`~zoo.predict.inputs.genome.contig_matcher`); the job keeps it, so that its
            warning can be shown after the run.
    """
    require_file(genome, "genome FASTA")
    require_file(bed, "BED file")
    if contigs is None:
        contigs = contig_matcher(genome, bed)
    return Job(
        meta_columns=["chrom", "start", "end", "name"],
        items=bed_windows(genome, bed, seq_len, contigs),
        with_status=True,
        empty_message=f"BED file {os.fspath(bed)!r} has no intervals",
        contigs=contigs,
    )
