"""FASTA index (``.fai``) files: telling one that no longer describes its FASTA, and rebuilding it.

pysam (htslib) trusts any ``.fai`` beside a FASTA and pyfaidx trusts one that is not older
than it, so after the FASTA changes they read bases from the old offsets: other records'
bases, or header text, silently. Both readers go through :func:`fresh_index` first.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import shutil
import struct
import sys
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from zoo._io.reading import CR_ONLY_ADVICE, GZIP_MAGIC, cr_only_line_ends
from zoo._io.stale import sweep_stale, temporary_prefix
from zoo._io.text import whole_number

_HEADER_WINDOW = 4096  # bytes read before a record's first base to find its header line
_TAIL_LIMIT = 1 << 20  # decompressed bytes read after the last block the .gzi lists
_ENDS_CHECKED = 2048  # an index of more records has its first and last this many checked


def index_problem(fasta: str | os.PathLike[str]) -> str | None:
    """Why the ``.fai`` beside ``fasta`` does not describe it, in words; None when it does or
    when there is none.

    For an uncompressed FASTA the index is checked against the file, whatever its age (a
    copy can make a right index look older; a few small reads a record): a record whose
    header line before its first base does not name it, whose line length does not match,
    or whose sequence does not end where the index says. For a bgzip FASTA, whose offsets
    count decompressed bytes, an index older than the FASTA is taken as stale.
    """
    fasta = Path(fasta)
    fai = Path(f"{fasta}.fai")
    try:
        fai_time = fai.stat().st_mtime
    except FileNotFoundError:
        return None
    older = fai_time < fasta.stat().st_mtime
    with open(fasta, "rb") as f:
        if f.read(2) == GZIP_MAGIC:  # offsets count decompressed bytes: the age and the form tell
            if older:
                return f"{fai.name} is older than {fasta.name}"
            # an index as new as its FASTA (a clock tick, a copy) must still end where it does
            return _form_problem(fai) or _bgzip_end_problem(fasta, fai)
        size = os.fstat(f.fileno()).st_size
        try:
            text = fai.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return f"{fai.name} is not a FASTA index (not text)"
        numbered = list(enumerate(text.splitlines(), 1))
        names, following = _record_order(numbered)
        if isinstance(names, str):
            return f"{fai.name}: {names}"
        if len(numbered) > 2 * _ENDS_CHECKED:
            # a length change anywhere moves every later record: the last ones show it
            numbered = numbered[:_ENDS_CHECKED] + numbered[-_ENDS_CHECKED:]
        for number, line in numbered:
            problem = _entry_problem(f.fileno(), size, line, following)
            if problem is not None:
                return f"{fai.name} line {number}: {problem}"
    return None


def _form_problem(fai: Path) -> str | None:
    """Why ``fai`` cannot be a FASTA index by its form alone (a line that is not a name and
    four whole numbers of at most 18 digits, which htslib would misread); None when it can be."""
    try:
        text = fai.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return f"{fai.name} is not a FASTA index (not text)"
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("\t")
        if len(fields) < 5 or any(whole_number(v) is None for v in fields[1:5]):
            return f"{fai.name} line {number}: {line[:40]!r} is not a FASTA index line"
    return None


def _bgzip_end_problem(fasta: Path, fai: Path) -> str | None:
    """Why the ``.fai`` of a bgzip ``fasta`` does not end where the FASTA does (a record added
    after its last one), read from the last block the ``.gzi`` lists; None when it does, or
    when there is no ``.gzi`` to tell (htslib builds one)."""
    gzi = Path(f"{fasta}.gzi")
    try:
        blocks = gzi.read_bytes()
        lines = fai.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    count = struct.unpack_from("<Q", blocks)[0] if len(blocks) >= 8 else -1
    if count < 0 or len(blocks) != 8 + 16 * count:
        return f"{gzi.name} is not a bgzip index"
    start, at = struct.unpack_from("<QQ", blocks, 8 + 16 * (count - 1)) if count else (0, 0)
    try:
        with open(fasta, "rb") as f:
            f.seek(start)
            tail = gzip.GzipFile(fileobj=f).read(_TAIL_LIMIT + 1)  # the last block, about 64 kB
    except (OSError, EOFError, zlib.error):
        return f"{gzi.name} does not match {fasta.name} (no block starts where it says)"
    if len(tail) > _TAIL_LIMIT:
        return f"{gzi.name} does not list the last blocks of {fasta.name}"
    last = max((line.split("\t") for line in lines), key=lambda fields: int(fields[2]), default=None)
    if last is None:
        return None
    length, offset, bases, width = (int(v) for v in last[1:5])  # (checked by _form_problem)
    end = (
        offset
        if length == 0 or bases < 1
        else offset + (length - 1) // bases * width + (length - 1) % bases + 1
    )
    after = tail[max(end - at, 0) :] if end < at + len(tail) else b""
    if after.strip(b"\r\n"):
        return (
            f"{fai.name}: {fasta.name} goes on after its last record {last[0]!r} (a record the index lacks)"
        )
    return None


def _record_order(numbered: list[tuple[int, str]]) -> tuple[set[str] | str, dict[str, str | None]]:
    """The names of an index's records and, for each, the name of the record after it in the
    FASTA (by offset; None for the last), or why the index cannot be one (a name twice)."""
    offsets: dict[str, int] = {}
    for number, line in numbered:
        fields = line.split("\t")
        offset = whole_number(fields[2]) if len(fields) >= 5 else None
        if offset is None:
            continue  # named by the line's own check
        if fields[0] in offsets:
            return f"line {number} names record {fields[0]!r} a second time", {}
        offsets[fields[0]] = offset
    ordered = sorted(offsets, key=offsets.__getitem__)
    return set(ordered), dict(zip(ordered, [*ordered[1:], None]))


def _entry_problem(fd: int, size: int, line: str, following: dict[str, str | None]) -> str | None:
    """Why one index line does not describe the FASTA open as ``fd`` (``size`` bytes), or None.
    ``following`` maps each indexed record to the next one (None for the last)."""
    fields = line.split("\t")
    numbers = [whole_number(v) for v in fields[1:5]]
    if len(fields) < 5 or None in numbers:
        return f"{line[:40]!r} is not a FASTA index line"
    name = fields[0]
    length, offset, bases, width = (n for n in numbers if n is not None)
    if length == 0:
        return _goes_on(fd, offset, name, following.get(name))
    if bases < 1 or width < bases:
        return f"record {name!r} has line lengths {bases}/{width}"
    before = os.pread(fd, min(offset, _HEADER_WINDOW), offset - min(offset, _HEADER_WINDOW))
    if not before.endswith(b"\n"):
        return f"record {name!r}: no line starts at its offset {offset}"
    start = before.rfind(b"\n", 0, len(before) - 1) + 1
    if start > 0 or offset <= _HEADER_WINDOW:  # the whole header line is in the window
        header = before[start:].rstrip(b"\r\n")
        if not header.startswith(b">") or header[1:].split(None, 1)[:1] != [name.encode()]:
            return f"record {name!r}: the line before its offset is not its header"
    last = offset + (length - 1) // bases * width + (length - 1) % bases  # the last base's byte
    if last >= size:
        return f"record {name!r} runs past the end of the file"
    # the last base of the first full line and of the record: a line end must follow each
    for at in [last] if length <= bases else [offset + bases - 1, last]:
        after = os.pread(fd, 2, at + 1)
        if after[:1] not in (b"\n", b"\r", b""):
            return f"record {name!r}: a line does not end where the index says"
        if os.pread(fd, 1, at) in (b"\n", b"\r", b">", b""):
            return f"record {name!r}: a line is shorter than the index says"
    return _goes_on(fd, last + 1, name, following.get(name))


def _goes_on(fd: int, end: int, name: str, next_name: str | None) -> str | None:
    """A problem when what follows a record's end (byte ``end``) is not the header of the
    record the index has next (``next_name``), or the end of the file after its last record:
    a record the index lacks (one added, or a repeated name htslib left out)."""
    following = os.pread(fd, _HEADER_WINDOW, end).lstrip(b"\r\n")
    if not following:
        return None  # the end of the file (a record the index still has is then past it)
    if not following.startswith(b">"):
        return f"record {name!r} goes on past the length the index says"
    words = following[1:].split(b"\n", 1)[0].split(None, 1)
    seen = words[0].decode("utf-8", errors="replace") if words else ""
    if seen == next_name:
        return None
    return f"the FASTA has a record {seen!r} after {name!r} that the index lacks"


def build_index(fasta: str | os.PathLike[str]) -> None:
    """Write a ``.fai`` (and ``.gzi`` for bgzip) beside ``fasta``, replacing any old ones
    atomically: built (by pysam) in a hidden folder beside them, then renamed into place.

    Raises OSError when the folder is not writable, ValueError naming htslib's reason for a
    FASTA that cannot be indexed (htslib's own messages are kept off the terminal).
    """
    import pysam

    fasta = Path(fasta)
    sweep_stale(fasta.parent, f"{fasta.name}.index")  # what killed runs left
    work = Path(tempfile.mkdtemp(dir=fasta.parent, prefix=temporary_prefix(f"{fasta.name}.index")))
    try:
        link = work / fasta.name
        link.symlink_to(fasta.resolve())  # htslib writes the index beside the name it is given
        with _htslib_messages() as caught:
            try:
                pysam.faidx(os.fspath(link))
                failed = False
            except pysam.utils.SamtoolsError:
                failed = True
        if failed:
            raise ValueError(_reason(caught, fasta))
        repeated = _repeated_name(caught)
        if repeated is not None:  # htslib indexes the first record of a name and drops the others
            raise ValueError(repeated)
        for suffix in (".gzi", ".fai"):  # the .fai last: readers look for it first
            built = Path(f"{link}{suffix}")
            if built.exists():
                os.replace(built, f"{fasta}{suffix}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def _htslib_messages() -> Iterator[list[str]]:
    """Catch what htslib writes to file descriptor 2 itself (its ``[E::...]`` lines)."""
    sys.stderr.flush()
    caught: list[str] = []
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield caught
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            caught.extend(sink.read().decode("utf-8", errors="replace").splitlines())


def _repeated_name(messages: list[str]) -> str | None:
    """The contig name htslib found twice while indexing, in words; None when none was."""
    for message in messages:
        found = re.search(r'Ignoring duplicate sequence "(.*)" at byte offset (\d+)', message)
        if found:
            return (
                f"the contig name {found.group(1)!r} is repeated (a second record of that name at "
                f"byte {found.group(2)}); each record of a genome needs its own name"
            )
    return None


def _reason(messages: list[str], fasta: Path) -> str:
    """htslib's error for a FASTA it cannot index, with a hint for CR-only line ends."""
    errors = [m.split("] ", 1)[-1] for m in messages if m.startswith("[E::")]
    reason = "; ".join(errors) or "htslib cannot index it"
    return f"{reason}; {CR_ONLY_ADVICE}" if cr_only_line_ends(fasta) else reason


def fresh_index(fasta: str | os.PathLike[str], build_missing: bool = False) -> str | None:
    """Make sure the ``.fai`` beside ``fasta`` describes it, rebuilding it when it does not
    (and building a missing one with ``build_missing``).

    Returns None when the index is fine, rebuilt, built, or missing (without
    ``build_missing``: the reader builds it); else why it could not be, for the caller's error.
    """
    missing = not os.path.exists(f"{fasta}.fai")
    problem = None if missing else index_problem(fasta)
    if problem is None and not (missing and build_missing):
        return None
    try:
        build_index(fasta)
    except ValueError as err:
        return f"cannot index it: {err}"
    except OSError as err:
        done = f"does not match the FASTA ({problem}) and cannot be rebuilt" if problem else "cannot be built"
        return f"the index {done} beside it ({err}); delete it or run samtools faidx"
    return None
