"""VCF records read as a stream (plain, gzip or bgzip text, or BCF), a malformed record named by its line.

Both the variant job (:mod:`zoo.predict.inputs.variants`) and the annotated VCF
(:mod:`zoo.predict.outputs.vcf`, which copies the input's records) read records here.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any, BinaryIO

from zoo._io.reading import GZIP_MAGIC, open_bytes
from zoo._io.text import too_many_digits, whole_number
from zoo._types import PathLike
from zoo.predict.errors import PredictError

_VCF_COLUMNS = "CHROM POS ID REF ALT QUAL FILTER INFO"


def is_plain_gzip(path: PathLike) -> bool:
    """True for a gzip file that is not BGZF (bgzip writes a 'BC' extra field in every block)."""
    with open(path, "rb") as f:
        head = f.read(18)
    return head[:2] == GZIP_MAGIC and not (head[3:4] == b"\x04" and head[12:14] == b"BC")


def _record_problem(line: str) -> str | None:
    """Why a VCF data line cannot be a record, when a simple check can tell."""
    fields = line.rstrip("\r\n").split("\t")
    if fields == [""]:
        return "an empty line"
    if len(fields) < 8:
        return f"{len(fields)} tab-separated columns, a record needs 8 ({_VCF_COLUMNS})"
    if whole_number(fields[1]) is None:
        long = too_many_digits(fields[1])
        return f"POS {long}" if long is not None else f"POS {fields[1]!r} is not a whole number"
    return None


def _data_lines(vcf: PathLike, start: int) -> list[tuple[int, str]] | None:
    """(line number, text) of a text VCF's data lines from data line ``start`` (0-based) on,
    or None when the file cannot be read as text that far (BCF, corrupt compression)."""
    try:
        with open_bytes(vcf) as f:
            if f.peek(3)[:3] == b"BCF":  # type: ignore[attr-defined]  # buffered and gzip files peek
                return None  # binary: no lines to point at
            data = (
                (number, raw.decode("utf-8", errors="replace"))
                for number, raw in enumerate(f, 1)
                if not raw.startswith(b"#")
            )
            lines = list(itertools.islice(data, start, None))
    except (OSError, EOFError):
        return None
    return lines or None


def _read_error(vcf: PathLike, records_read: int, err: Exception) -> PredictError:
    """A PredictError for the record after ``records_read`` good ones, naming its line and,
    where it can, the reason (htslib prints that to stderr only)."""
    rest = _data_lines(vcf, records_read)
    if rest is None:
        return PredictError(
            f"cannot read VCF {os.fspath(vcf)!r}: record {records_read + 1} is malformed ({err})"
        )
    number, text = rest[0]
    reason = _record_problem(text) or f"htslib cannot parse it ({err})"
    excerpt = text.rstrip("\r\n")
    excerpt = excerpt if len(excerpt) <= 60 else excerpt[:57] + "..."
    shown = f": {excerpt!r}" if excerpt else ""
    return PredictError(f"VCF {os.fspath(vcf)!r} line {number}: bad record, {reason}{shown}")


def _records(variants: Any, vcf: PathLike) -> Iterator[Any]:
    """The records of an open pysam.VariantFile; a malformed line becomes a PredictError."""
    iterator = iter(variants)
    read = 0
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            return
        except (OSError, ValueError) as err:
            rest = _data_lines(vcf, read)
            if rest is not None and all(not text.strip() for _, text in rest):
                return  # blank lines at the end of the file (htslib refuses them): nothing left
            raise _read_error(vcf, read, err) from err
        read += 1
        yield record


def _open_vcf(vcf: PathLike) -> tuple[Any, BinaryIO | None]:
    """An open pysam.VariantFile, and the file object it reads when that had to be opened here.

    Given a file name, pysam asks for the position after the header, which a plain-gzip file
    (not bgzip) cannot tell; given an open file, htslib reads it sequentially, which is all
    scoring needs.
    """
    import pysam

    raw = open(vcf, "rb") if is_plain_gzip(vcf) else None  # noqa: SIM115 (closed by the caller)
    try:
        return pysam.VariantFile(raw if raw is not None else os.fspath(vcf)), raw
    except (OSError, ValueError) as err:
        if raw is not None:
            raw.close()
        raise PredictError(f"cannot read VCF {os.fspath(vcf)!r}: {err}") from err


def vcf_records(vcf: PathLike) -> Iterator[Any]:
    """The records (pysam.VariantRecord) of a VCF, read as a stream (plain, gzip or bgzip);
    a malformed record raises a PredictError naming its line."""
    import pysam

    # htslib would print its own "[E::vcf_parse] ..." line before the error raised here, which
    # names the file, the line and the reason already.
    verbosity = pysam.set_verbosity(0)
    try:
        variants, raw = _open_vcf(vcf)
    except PredictError:
        pysam.set_verbosity(verbosity)
        raise
    try:
        yield from _records(variants, vcf)
    finally:
        pysam.set_verbosity(verbosity)
        variants.close()
        if raw is not None:
            raw.close()
