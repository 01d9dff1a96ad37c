"""Downloading published checkpoints into a local cache, checked against their md5.

A file enters the cache only complete and verified: it is written to a temporary file
beside its final place, hashed while it arrives, and renamed into place when the hash
matches. Any failure (wrong hash, a connection cut short, Ctrl-C) deletes the temporary
file, so the cache never holds a partial download, and a cached file is returned without
network access.

A cached file is checked, not trusted, before it is used: at download its md5, size and
modification time are recorded in a stamp beside it (``<file name>.stamp``); a file whose
size and time still match its stamp is used, anything else (no stamp, a file changed or put
there by hand) is hashed in full and refused when its md5 is not the published one (or, for
an entry without one, the one recorded at download).

Cache layout: ``<cache>/<entry name>/<file name>`` and its stamp, with, for archives, the
extracted member (and its stamp) beside the archive and, for entries without a published
md5, ``<file name>.md5`` holding the checksum seen at download.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import posixpath
import stat
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zlib
from pathlib import Path

from zoo._io.reading import file_kind
from zoo._io.writing import atomic_path
from zoo.errors import ZooError
from zoo.weights.published import PublishedFile

CACHE_ENV = "ZOO_CACHE_DIR"
_CHUNK = 1 << 20
_TIMEOUT_S = 60
_warned_unpublished: set[tuple[str, str]] = set()


class ChecksumError(ZooError):
    """A file's md5 differs from the one published for it (or recorded at its download)."""


class DownloadError(OSError, ZooError):
    """A download failed or ended early (an OSError, and a ZooError that commands print as one
    line)."""


class ArchiveError(ZooError):
    """An archive lacks the expected weight file, or holds it in a form that is refused."""


def cache_dir() -> Path:
    """Where downloads go: ``$ZOO_CACHE_DIR``, else ``$XDG_CACHE_HOME/sigmoid-zoo``, else
    ``~/.cache/sigmoid-zoo``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "sigmoid-zoo"


def entry_dir(entry: PublishedFile) -> Path:
    """The cache folder of one entry.

    Args:
        entry: a catalogue entry.
    """
    if not entry.name or "/" in entry.name or "\\" in entry.name or entry.name.startswith("."):
        raise ValueError(f"pretrained entry name {entry.name!r} cannot name a cache folder")
    return cache_dir() / entry.name


def file_md5(path: str | os.PathLike[str]) -> str:
    """The md5 of a file's bytes, as 32 hex digits.

    Args:
        path: a regular file; anything else (a FIFO, ``/dev/zero``, a folder) is refused with
            an OSError, since reading it could wait or go on forever.
    """
    digest = hashlib.md5(usedforsecurity=False)
    # opened without waiting for a FIFO's writer, then checked by what was opened
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = "a folder" if stat.S_ISDIR(mode) else file_kind(mode)
        raise OSError(f"{os.fspath(path)} is {what}, not a regular file (a weights file)")
    os.set_blocking(fd, True)
    with open(fd, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _warn_unpublished(entry: PublishedFile, seen: str, where: str) -> None:
    """Say once per entry and file that it cannot be checked against a published checksum."""
    if (entry.name, seen) not in _warned_unpublished:
        _warned_unpublished.add((entry.name, seen))
        warnings.warn(
            f"{entry.name}: no md5 was published for {entry.url}, so the file cannot be checked "
            f"against one; its md5 is {seen} ({where})",
            UserWarning,
            stacklevel=3,
        )


def cached_md5(entry: PublishedFile) -> str | None:
    """The md5 of ``entry``'s downloaded file: the published one, else the one recorded in the
    cache when it was downloaded (None when nothing is cached).

    Args:
        entry: a catalogue entry.
    """
    if entry.md5 is not None:
        return entry.md5.lower()
    sidecar = entry_dir(entry) / f"{entry.filename}.md5"
    return sidecar.read_text(encoding="ascii").strip() if sidecar.is_file() else None


def verify(entry: PublishedFile, path: str | os.PathLike[str], allow_mismatch: bool = False) -> str:
    """Check ``path`` against ``entry.md5``; returns the file's md5.

    A mismatch raises :class:`ChecksumError` naming both hashes; ``allow_mismatch=True``
    (the explicit opt-out) warns instead. An entry without a published md5 warns once that
    nothing can be checked, with the md5 seen.

    Args:
        entry: a catalogue entry.
        path: the file to check.
        allow_mismatch: warn on a mismatch instead of raising (the explicit opt-out).
    """
    seen = file_md5(path)
    if entry.md5 is None:
        _warn_unpublished(entry, seen, "recorded with what is loaded from it")
    elif seen != entry.md5.lower():
        message = (
            f"{os.fspath(path)}: md5 {seen} differs from the published md5 {entry.md5} of "
            f"{entry.name} ({entry.url})"
        )
        if not allow_mismatch:
            raise ChecksumError(message + "; it is not the published file (or it is damaged)")
        warnings.warn(message + "; used anyway because the check was turned off", UserWarning, stacklevel=2)
    return seen


def _download(url: str, dest: Path, progress: bool) -> str:
    """``url``'s bytes written to ``dest``; returns their md5. Raises DownloadError when the
    transfer fails or stops before the announced length."""
    from tqdm.auto import tqdm  # only when something is downloaded

    digest = hashlib.md5(usedforsecurity=False)
    got, expected = 0, None
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response, open(dest, "wb") as out:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            name = posixpath.basename(urllib.parse.urlsplit(url).path)
            with tqdm(total=expected, unit="B", unit_scale=True, desc=name, disable=not progress) as bar:
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        reason = getattr(err, "reason", None) or err
        of = f" of {expected}" if expected is not None else ""
        raise DownloadError(f"downloading {url} failed after {got}{of} bytes: {reason}") from None
    if expected is not None and got != expected:
        raise DownloadError(
            f"downloading {url} ended early: got {got} of {expected} bytes (connection cut); try again"
        )
    return digest.hexdigest()


def _fetch_file(entry: PublishedFile, progress: bool) -> tuple[Path, str]:
    """The entry's downloaded file in the cache and its md5, downloaded and verified if not
    there yet, checked against its stamp (or hashed in full) if it is."""
    folder = entry_dir(entry)
    path, sidecar = folder / entry.filename, folder / f"{entry.filename}.md5"
    if path.is_file():
        recorded = sidecar.read_text(encoding="ascii").strip() if sidecar.is_file() else None
        expected = entry.md5.lower() if entry.md5 is not None else recorded
        seen = checked_md5(path, expected, entry)
        if entry.md5 is None and recorded is None:  # e.g. a file put there by hand
            _record_md5(sidecar, seen)
        return path, seen
    try:
        with atomic_path(path, suffix=".part") as tmp:
            seen = _download(entry.url, tmp, progress)
            if entry.md5 is None:
                _warn_unpublished(entry, seen, f"kept in {sidecar}")
                _record_md5(sidecar, seen)
            elif seen != entry.md5.lower():
                raise ChecksumError(
                    f"downloaded {entry.url}: md5 {seen} differs from the published md5 {entry.md5} of "
                    f"{entry.name}; nothing was kept (a changed or damaged file)"
                )
    except DownloadError as err:
        raise DownloadError(
            f"{err}; {entry.name} is expected in the cache at {path}: run `zoo-pretrained download "
            f"{entry.name}` where the URL can be reached (and copy the file there), or give a local "
            "copy of the published file with weights=PATH"
        ) from None
    _write_stamp(path, seen)
    return path, seen


def verify_cached(entry: PublishedFile) -> tuple[Path, str]:
    """Hash ``entry``'s cached file in full, whatever its stamp says, and compare the md5 with
    the published one (or the one recorded at download); returns the path and the md5.

    Args:
        entry: the catalogue entry.

    Raises:
        FileNotFoundError: the file is not in the cache.
        ChecksumError: its md5 is not the one expected.
    """
    path = entry_dir(entry) / entry.filename
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: {entry.name} is not in the cache (zoo-pretrained download {entry.name})"
        )
    return path, checked_md5(path, cached_md5(entry), entry, full=True)


def _stamp_of(path: Path) -> Path:
    return path.with_name(path.name + ".stamp")


def _write_stamp(path: Path, md5: str, **extra: str) -> None:
    """Record ``md5`` with the file's size and modification time beside it. Best effort: a
    cache that cannot be written to only costs a full hash at the next use."""
    try:
        st = path.stat()
        record = {"md5": md5, "size": st.st_size, "mtime_ns": st.st_mtime_ns, **extra}
        with atomic_path(_stamp_of(path)) as tmp:
            tmp.write_text(json.dumps(record) + "\n", encoding="ascii")
    except OSError:
        pass


def _read_stamp(path: Path) -> dict[str, str] | None:
    """The stamp of ``path`` when it still describes the file (same size and modification
    time, an md5 of 32 hex digits); else None."""
    try:
        with open(_stamp_of(path), encoding="ascii") as f:
            record = json.loads(f.read(4096))
        st = path.stat()
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    md5 = record.get("md5")
    if not isinstance(md5, str) or len(md5) != 32 or any(c not in "0123456789abcdef" for c in md5):
        return None
    if record.get("size") != st.st_size or record.get("mtime_ns") != st.st_mtime_ns:
        return None
    return {k: v for k, v in record.items() if isinstance(v, str)}


def checked_md5(path: Path, expected: str | None, entry: PublishedFile, full: bool = False) -> str:
    """The md5 of ``entry``'s cached file at ``path``, checked against ``expected``.

    The stamp's md5 when the file's size and time are those it recorded and it is the one
    expected; else the file is hashed in full (and stamped again when it passes).

    Args:
        path: the cached file.
        expected: the published md5, or the one recorded at download; None when neither is
            known (a file put in the cache by hand for an entry without a published md5).
        entry: the catalogue entry, for the message.
        full: hash the file in full whatever its stamp says.

    Raises:
        ChecksumError: the file's md5 is not the one expected, naming the file, both md5s
            and how to get the published file again.
    """
    stamp = None if full else _read_stamp(path)
    seen = stamp["md5"] if stamp is not None else None
    if seen is None or (expected is not None and seen != expected):
        seen = file_md5(path)
        if expected is None or seen == expected:
            _write_stamp(path, seen)
    if expected is not None and seen != expected:
        whose = (
            f"the published md5 {expected} of {entry.name}"
            if entry.md5 is not None
            else f"the md5 {expected} recorded when it was downloaded for {entry.name}"
        )
        raise ChecksumError(
            f"{path}: the cached file has md5 {seen}, not {whose}; it was changed or replaced "
            f"after download: move it away and run `zoo-pretrained download {entry.name}`, or give "
            "a copy you trust with weights=PATH"
        )
    return seen


def _record_md5(sidecar: Path, md5: str) -> None:
    with atomic_path(sidecar) as tmp:
        tmp.write_text(md5 + "\n", encoding="ascii")


def _copy_member(tar: tarfile.TarFile, archive: Path, basename: str, dest: Path) -> None:
    """The checks and the copy of :func:`extract_member`."""
    members = tar.getmembers()
    found = [m for m in members if posixpath.basename(m.name.rstrip("/")) == basename]
    if not found:
        listed = ", ".join(m.name for m in members[:10])
        raise ArchiveError(f"{archive}: no member named {basename!r} (members: {listed})")
    if len(found) > 1:
        raise ArchiveError(
            f"{archive}: {len(found)} members are named {basename!r} "
            f"({', '.join(m.name for m in found)}); refusing to guess"
        )
    member = found[0]
    parts = member.name.replace("\\", "/").split("/")
    if member.name.startswith(("/", "\\")) or ".." in parts:
        raise ArchiveError(f"{archive}: refusing member {member.name!r}: an unsafe path")
    if not member.isfile():
        raise ArchiveError(
            f"{archive}: refusing member {member.name!r}: not a regular file (a link or device)"
        )
    source = tar.extractfile(member)
    if source is None:
        raise ArchiveError(f"{archive}: member {member.name!r} has no data")
    with source, atomic_path(dest) as tmp, open(tmp, "wb") as out:
        written = 0
        while chunk := source.read(_CHUNK):
            out.write(chunk)
            written += len(chunk)
        if written != member.size:
            raise ArchiveError(
                f"{archive}: member {member.name!r} is truncated ({written} of {member.size} bytes)"
            )


def extract_member(archive: str | os.PathLike[str], basename: str, dest: str | os.PathLike[str]) -> Path:
    """Write the bytes of the one regular file named ``basename`` in a tar ``archive`` to ``dest``.

    Only that member's bytes are read (``tar.extractfile``); member names never become
    paths. Refused with :class:`ArchiveError`: no such member, several, a member whose
    name is absolute or climbs out (``..``), or one that is not a regular file (a link).

    Args:
        archive: the tar archive.
        basename: the basename of the member to extract.
        dest: the file to write.
    """
    archive, dest = Path(archive), Path(dest)
    try:
        tar = tarfile.open(archive, mode="r:*")
    except tarfile.TarError as err:
        raise ArchiveError(f"{archive}: not a readable tar archive ({err})") from None
    with tar:
        try:
            _copy_member(tar, archive, basename, dest)
        except (tarfile.TarError, EOFError, zlib.error) as err:
            raise ArchiveError(f"{archive}: a damaged archive ({err})") from None
    return dest


def fetch(entry: PublishedFile, progress: bool = True, member: str | None = None) -> Path:
    """The local path of ``entry``'s weights, downloaded into the cache on first use.

    A file already in the cache is returned without network access, once checked: against
    its stamp (size, time and md5 recorded at download), or hashed in full when that does
    not match (a :class:`ChecksumError` when the md5 is not the published one). Downloads
    show a tqdm progress bar unless ``progress`` is False. For an archive the path is that of
    the extracted weight file, ``entry.archive_member``; ``member`` picks another file of the
    archive by basename (e.g. Sei's ``projvec_targets.npy``).

    Args:
        entry: a catalogue entry.
        progress: show a tqdm progress bar while downloading.
        member: for an archive, another file of it to return, by basename.
    """
    return fetch_checked(entry, progress, member)[0]


def fetch_checked(entry: PublishedFile, progress: bool = True, member: str | None = None) -> tuple[Path, str]:
    """:func:`fetch`, with the md5 of the file as it was found in the cache (or downloaded):
    the archive's for an archive entry.

    Args:
        entry: the catalogue entry.
        progress: show a progress bar while downloading.
        member: for an archive, the basename of the file wanted from it.
    """
    member = member or entry.archive_member
    if member is None:
        return _fetch_file(entry, progress)
    target = entry_dir(entry) / member
    if posixpath.basename(member) != member or member in (".", "..") or "\\" in member:
        raise ValueError(f"archive member {member!r}: give a file's basename")
    stamp = _read_stamp(target) if target.is_file() else None
    if (
        stamp is not None
        and "archive_md5" in stamp
        and (entry.md5 or stamp["archive_md5"]).lower() == stamp["archive_md5"]
    ):
        return target, stamp["archive_md5"]
    archive, seen = _fetch_file(entry, progress)
    return cached_member(archive, seen, member, target), seen


def cached_member(archive: Path, archive_md5: str, basename: str, target: Path) -> Path:
    """``target``, the member ``basename`` extracted from a checked ``archive`` (of md5
    ``archive_md5``): used as it is when its stamp says it was extracted from that archive
    and is unchanged since, else extracted again (a cache file, derived from the archive).

    Args:
        archive: the archive, already checked.
        archive_md5: its md5.
        basename: the member's basename in the archive.
        target: where the extracted member is kept.
    """
    stamp = _read_stamp(target) if target.is_file() else None
    if stamp is not None and stamp.get("archive_md5") == archive_md5:
        return target
    extract_member(archive, basename, target)
    _write_stamp(target, file_md5(target), archive_md5=archive_md5)
    return target
