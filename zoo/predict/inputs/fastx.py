"""FASTA (and FASTQ) records read as a stream from a file, a pipe or standard input, every byte checked.

Readers built on htslib hand sequences to Python as C strings, so a NUL byte silently ends
a record there; they crash on a header or sequence that is not UTF-8 and read a file with
CR-only line endings as one long header. This reader sees every byte: anything in a
sequence that is not A, C, G, T or N (either case) is an error naming the record, the
position and the line, and so is every header or line ending it cannot read for certain.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import sys
import zlib
from collections.abc import Iterator
from typing import IO, NamedTuple

from zoo._bases import first_invalid_symbol
from zoo._io.reading import open_bytes
from zoo._types import PathLike
from zoo.predict.errors import PredictError

STDIN = "-"  # the --fasta name of standard input
_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark is no text
_CONTROL = bytes(b for b in range(0x20) if b != ord("\t")) + b"\x7f"  # CR among them


class Record(NamedTuple):
    """One record: its name (the header up to the first blank), checked bases, header line,
    and its place among the file's records (0 for the first)."""

    name: str
    sequence: str
    line: int
    index: int


class Shard(NamedTuple):
    """One of ``count`` readers' share of a file's records, for reading a file in several
    processes at once: the groups of ``group_records`` consecutive records numbered ``index``,
    ``index + count``, ``index + 2 * count``, ... Every reader goes through the whole file (a
    split into records, in C), but checks and returns only the records of its own groups.
    The unit is the record: a few long records tiled into many windows share out unevenly."""

    index: int
    count: int
    group_records: int

    def group_of(self, record: int) -> int:
        """The group of the record at place ``record``."""
        return record // self.group_records

    def owns(self, record: int) -> bool:
        """Whether the record at place ``record`` is this reader's."""
        return self.group_of(record) % self.count == self.index


def describe_source(path: PathLike) -> str:
    """How messages name the input: ``FASTA file 'x.fa'``, or standard input."""
    return "FASTA on standard input" if os.fspath(path) == STDIN else f"FASTA file {os.fspath(path)!r}"


def read_records(path: PathLike, shard: Shard | None = None) -> Iterator[Record]:
    """The records of a FASTA or FASTQ file (plain, gzip or bgzip; ``-`` is standard input);
    with a ``shard``, only that shard's records (FASTA: the others are not checked).

    Raises PredictError naming the input and line for text before the first header, a header
    that is not UTF-8, holds a control byte or has no name, a carriage return that ends no
    line, a byte in a sequence that is not a DNA symbol, and gzip data that is cut or corrupt.
    """
    where = describe_source(path)
    source: PathLike | IO[bytes] = sys.stdin.buffer if os.fspath(path) == STDIN else path
    try:
        f = open_bytes(source)
    except OSError as err:
        raise PredictError(f"{where}: cannot open it ({err.strerror or err})") from None
    try:
        yield from _records(f, path, where, shard)
    finally:
        if f is not source:  # standard input itself stays open
            f.close()


def plain_fasta(path: PathLike) -> bool:
    """Whether the file starts as uncompressed FASTA (its first text a '>' header): then
    several readers can split its records between them at little cost (not so for gzip,
    which each would decompress whole, nor for FASTQ, whose records are found line by line)."""
    try:
        with open(path, "rb") as f:
            start = f.read(1 << 16)
    except OSError:  # the reader will say what is wrong
        return False
    return start.removeprefix(_BOM).lstrip().startswith(b">")


@contextlib.contextmanager
def _reading(f: IO[bytes], where: str) -> Iterator[None]:
    """Read and decompression failures of ``f`` as PredictErrors naming the input."""
    try:
        yield
    except EOFError:
        raise PredictError(f"{where}: the gzip data ends early (a truncated file)") from None
    except (OSError, zlib.error) as err:
        if isinstance(f, gzip.GzipFile):
            raise PredictError(f"{where}: cannot decompress it ({err}); is the file corrupt?") from None
        raise PredictError(f"{where}: cannot read it ({getattr(err, 'strerror', None) or err})") from None


def _records(f: IO[bytes], path: PathLike, where: str, shard: Shard | None) -> Iterator[Record]:
    """Find the first header (after blank lines and a byte-order mark), then read FASTA or FASTQ."""
    number = 0
    while True:
        with _reading(f, where):
            line = f.readline()
        number += 1
        if number == 1:
            line = line.removeprefix(_BOM)
        if not line:
            return  # no records
        if line.strip():
            break
    if line.startswith(b">"):
        yield from _fasta(f, where, number, line[1:], shard)
    elif line.startswith(b"@"):
        fastq = _fastq(f, where, number, line)
        yield from fastq if shard is None else (r for r in fastq if shard.owns(r.index))
    else:
        first = line.rstrip(b"\r\n")[:20].decode("utf-8", errors="replace")
        raise PredictError(
            f"--fasta {os.fspath(path)!r} is not a FASTA file: no '>' header before line {number} ({first!r})"
        )


_BLOCK = 1 << 22  # bytes read at a time: records are cut out of blocks by bytes.split, in C


def _fasta(f: IO[bytes], where: str, number: int, pending: bytes, shard: Shard | None) -> Iterator[Record]:
    """The records (of ``shard``) from header line ``number`` on; ``pending`` is the text after its '>'.

    Every record boundary is a newline followed by '>', so whole blocks are split at once.
    """
    index = 0
    parts = [pending]
    read = getattr(f, "read1", f.read)  # what has arrived: records from a slow pipe go on at once
    while True:
        with _reading(f, where):
            block = read(_BLOCK)
        if not block:
            break
        cut = (parts[-1][-1:] + block).rfind(b"\n>")  # a boundary may straddle two blocks
        if cut < 0:
            parts.append(block)
            continue
        joined = b"".join([*parts, block])
        cut += len(joined) - len(block) - 1
        for piece in joined[:cut].split(b"\n>"):
            if shard is None or shard.owns(index):
                yield _piece(where, number, index, piece, ended=True)
            number += piece.count(b"\n") + 1
            index += 1
        parts = [joined[cut + 2 :]]
    if shard is None or shard.owns(index):
        yield _piece(where, number, index, b"".join(parts), ended=False)


def _piece(where: str, number: int, index: int, piece: bytes, ended: bool) -> Record:
    """The record of ``piece`` (its header line without '>', then its sequence lines), the
    ``index``-th of the file; ``ended``: a newline, which the split removed, followed it."""
    header, _, body = piece.partition(b"\n")
    if ended and body.endswith(b"\r"):
        body = body[:-1]  # the CR of the CRLF that the split removed the LF of
    try:
        return _checked(where, number, index, _header_name(where, number, header), body)
    except PredictError as err:
        raise in_record(err, index) from None


def in_record(err: PredictError, index: int) -> PredictError:
    """``err`` marked as the fault of the record at place ``index``, as ``err.record_index``:
    a reader of one :class:`Shard` among several reports it in that record's place, after
    the records before it that other readers hold."""
    err.record_index = index  # type: ignore[attr-defined]
    return err


def _fastq(f: IO[bytes], where: str, number: int, header: bytes) -> Iterator[Record]:
    """FASTQ records, line by line (a '@' can start a quality line, so blocks cannot be split)."""

    def lines() -> Iterator[tuple[int, bytes]]:
        n = number
        while True:
            with _reading(f, where):
                line = f.readline()
            if not line:
                return
            n += 1
            yield n, line

    numbered = lines()
    index = 0
    while True:
        name = _header_name(where, number, header[1:])
        body = []
        for _, line in numbered:
            if line.startswith(b"+"):
                break
            body.append(line)
        else:
            raise PredictError(f"{where} line {number}: record {name!r}: the FASTQ record has no '+' line")
        record = _checked(where, number, index, name, b"".join(body))
        quality = 0
        while quality < len(record.sequence):
            line = next(numbered, (0, b""))[1]
            if not line:
                raise PredictError(f"{where} line {number}: record {name!r}: the quality line is cut short")
            quality += len(line.rstrip(b"\r\n"))
        yield record
        index += 1
        number, header = next(((n, line) for n, line in numbered if line.strip()), (0, b""))
        if not header:
            return
        if not header.startswith(b"@"):
            raise PredictError(f"{where} line {number}: expected a FASTQ '@' header")


def _lone_cr(where: str, number: int) -> PredictError:
    return PredictError(
        f"{where} line {number} holds a carriage return (CR) that ends no line: CR-only (classic Mac) "
        "line endings are not read; convert them to LF first (tr '\\r' '\\n')"
    )


def _header_name(where: str, number: int, header: bytes) -> str:
    """The record name in a header line (given without its '>' or '@'): up to the first blank."""
    text = header.rstrip(b"\n")
    text = text[:-1] if text.endswith(b"\r") else text
    if len(text.translate(None, _CONTROL)) != len(text):  # one pass finds a CR or control byte
        control = next(b for b in text if b in _CONTROL)
        if control == ord("\r"):
            raise _lone_cr(where, number)
        raise PredictError(
            f"{where} line {number}: the header holds the control byte {repr(bytes([control]))[1:]}"
        )
    if not text.isascii():
        try:
            text.decode("utf-8")
        except UnicodeDecodeError:
            raise PredictError(f"{where} line {number}: the header is not UTF-8 text") from None
    if not text[:1] or text[:1].isspace():
        raise PredictError(f"{where} line {number}: the header has no record name")
    return text.split(None, 1)[0].decode("utf-8")


def _checked(where: str, number: int, index: int, name: str, body: bytes) -> Record:
    """The record whose sequence lines (after header line ``number``) are ``body``, every byte checked."""
    if b"\r" in body:
        if body.count(b"\r") != body.count(b"\r\n"):
            lines = body.split(b"\n")  # each but the last ended with a newline, so may end with a CR
            lone = next(i for i, ln in enumerate(lines) if b"\r" in (ln[:-1] if i < len(lines) - 1 else ln))
            raise _lone_cr(where, number + 1 + lone)
        seq = body.translate(None, b"\r\n")
    else:  # the common case: LF line ends, often a single line
        seq = body.replace(b"\n", b"") if b"\n" in body else body
    bad = first_invalid_symbol(seq)
    if bad >= 0:
        shown = repr(seq[bad : bad + 1])[1:]
        raise PredictError(
            f"{where} line {number}: record {name!r}: byte {shown} at position {bad} "
            f"(line {_line_of(body, bad, number + 1)}) is not a DNA symbol; expected A, C, G, T or N"
        )
    return Record(name, seq.decode("ascii"), number, index)


def _line_of(body: bytes, position: int, first: int) -> int:
    """The file line that holds base ``position`` of sequence lines ``body`` starting on line ``first``."""
    for i, line in enumerate(body.split(b"\n")):
        position -= len(line.rstrip(b"\r"))
        if position < 0:
            return first + i
    return first
