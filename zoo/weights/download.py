"""Downloading published checkpoints into a local cache, checked against their md5.

A file enters the cache only complete and verified: it is written to a temporary file
beside its final place, hashed while it arrives, and renamed into place when the hash
matches. Any failure (wrong hash, a connection cut short, Ctrl-C) deletes the temporary
file, so the cache never holds a partial download, and a cached file is returned without
network access.

Cache layout: ``<cache>/<entry name>/<file name>``, with, for archives, the extracted
member beside the archive and, for entries without a published md5, ``<file name>.md5``
holding the checksum seen at download.
"""

from __future__ import annotations

import hashlib
import http.client
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

from zoo._io.inputs import file_kind
from zoo._io.outputs import atomic_path
from zoo.weights.published import PublishedFile

CACHE_ENV = "ZOO_CACHE_DIR"
_CHUNK = 1 << 20
_TIMEOUT_S = 60
_warned_unpublished: set[tuple[str, str]] = set()


class ChecksumError(ValueError):
    """A file's md5 differs from the one published for it."""


class DownloadError(OSError):
    """A download failed or ended early."""


class ArchiveError(ValueError):
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
    """The cache folder of one entry."""
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
    cache when it was downloaded (None when nothing is cached)."""
    if entry.md5 is not None:
        return entry.md5.lower()
    sidecar = entry_dir(entry) / f"{entry.filename}.md5"
    return sidecar.read_text(encoding="ascii").strip() if sidecar.is_file() else None


def verify(entry: PublishedFile, path: str | os.PathLike[str], allow_mismatch: bool = False) -> str:
    """Check ``path`` against ``entry.md5``; returns the file's md5.

    A mismatch raises :class:`ChecksumError` naming both hashes; ``allow_mismatch=True``
    (the explicit opt-out) warns instead. An entry without a published md5 warns once that
    nothing can be checked, with the md5 seen.
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
        raise DownloadError(f"downloading {url} failed after {got}{of} bytes: {reason}") from err
    if expected is not None and got != expected:
        raise DownloadError(
            f"downloading {url} ended early: got {got} of {expected} bytes (connection cut); try again"
        )
    return digest.hexdigest()


def _fetch_file(entry: PublishedFile, progress: bool) -> Path:
    """The entry's downloaded file in the cache, downloaded and verified if not there yet."""
    folder = entry_dir(entry)
    path, sidecar = folder / entry.filename, folder / f"{entry.filename}.md5"
    if path.is_file():
        if entry.md5 is None and not sidecar.is_file():  # e.g. a file put there by hand
            _record_md5(sidecar, file_md5(path))
        return path
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
    return path


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

    A file already in the cache is returned without network access (it got there only
    after its md5 was checked). Downloads show a tqdm progress bar unless ``progress`` is
    False. For an archive the path is that of the extracted weight file,
    ``entry.archive_member``; ``member`` picks another file of the archive by basename
    (e.g. Sei's ``projvec_targets.npy``).
    """
    member = member or entry.archive_member
    if member is None:
        return _fetch_file(entry, progress)
    target = entry_dir(entry) / member
    if posixpath.basename(member) != member or member in (".", "..") or "\\" in member:
        raise ValueError(f"archive member {member!r}: give a file's basename")
    if target.is_file():
        return target
    return extract_member(_fetch_file(entry, progress), member, target)
