"""The catalogue of published checkpoints: the files the model families register, by name,
and their weight file located in the verified cache or as a local copy.

Each family registers its published files with its model (``register_model(...,
published=...)`` in ``zoo/models/<family>.py``, a :class:`~zoo.weights.published.PublishedFile`
each); this module finds them by name and hands them to :mod:`zoo.weights.download`.
``zoo.create_model("deepsea.kipoi_predict", pretrained=True)`` builds the model from them.
"""

from __future__ import annotations

import difflib
import os
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from zoo import models
from zoo._types import PathLike
from zoo.weights.download import cached_member, entry_dir, fetch_checked, file_md5, verify
from zoo.weights.published import PublishedFile


def all_pretrained() -> list[PublishedFile]:
    """Every published file the model families describe, sorted by name."""
    return sorted(models.all_published(), key=lambda entry: entry.name)


def list_pretrained() -> list[str]:
    """Sorted names of every published checkpoint in the catalogue (``family.source``)."""
    return [entry.name for entry in all_pretrained()]


def get_pretrained(name: str) -> PublishedFile:
    """The published checkpoint ``name`` (``"deepsea.kipoi_predict"``); a registered model's
    name alone (``"deepsea"``) gives the first file of that model. Unknown names get the
    closest ones.

    Args:
        name: a published checkpoint, or a registered model's name.
    """
    if not isinstance(name, str):
        raise TypeError(f"pretrained name must be a str, got {type(name).__name__}")
    entries = all_pretrained()
    by_name = {entry.name: entry for entry in entries}
    if name in by_name:
        return by_name[name]
    if name in models.list_models():
        if models.get_spec(name).published:
            return models.get_spec(name).published[0]
        raise ValueError(f"model {name!r} has no published checkpoint; those with one: {', '.join(by_name)}")
    with_files = sorted({entry.model for entry in entries})
    close = difflib.get_close_matches(name, [*by_name, *with_files], n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ValueError(f"unknown pretrained model {name!r}.{hint} Known: {', '.join(by_name)}")


@dataclass(frozen=True)
class Located:
    """Where an entry's weight file is, and the md5 of the file found there (the archive's
    for an archive entry; None when unknown): what is loaded, not what was published.

    Attributes:
        path: the weight file.
        md5: the md5 of the file found there (the archive's for an archive entry); None when
            unknown.
        checked: whether that md5 was checked against the published one.
    """

    path: Path
    md5: str | None
    checked: bool  # whether that md5 was compared with a published one


def _entry(name: str | PublishedFile) -> PublishedFile:
    return name if isinstance(name, PublishedFile) else get_pretrained(name)


def locate_weights(
    name: str | PublishedFile,
    weights: str | os.PathLike[str] | None = None,
    *,
    check_md5: bool = True,
    progress: bool = True,
) -> Located:
    """The weight file of a catalogue entry: downloaded into the cache, or ``weights``.

    ``weights`` is a local copy of the published file (for example on a machine without
    internet access): it is checked against the published md5 and refused on a mismatch,
    naming both hashes; ``check_md5=False`` turns the refusal into a warning. A local copy
    of an archive entry's archive gives its extracted weight file, cached. Where no md5 was
    published, a warning says so and the md5 seen is returned (and kept in the cache).

    Args:
        name: a catalogue entry, or its name.
        weights: a local copy of the published file (for example on a machine without
            internet access), used instead of downloading.
        check_md5: refuse a local copy whose md5 differs from the published one; False warns
            instead.
        progress: show a progress bar while downloading.
    """
    entry = _entry(name)
    if weights is None:  # the cached file, checked against its stamp or hashed in full
        path, seen = fetch_checked(entry, progress=progress)
        return Located(path, seen, entry.md5 is not None)
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {os.fspath(weights)!r} does not exist (for {entry.name})")
    is_archive = entry.archive_member is not None and tarfile.is_tarfile(path)
    if entry.archive_member is not None and not is_archive:  # the member itself, extracted by hand
        why = "no md5 was published" if entry.md5 is None else "the published md5 is the archive's"
        warnings.warn(f"{os.fspath(path)}: used as {entry.name} unchecked ({why})", UserWarning, stacklevel=2)
        return Located(path, None, False)
    if check_md5:
        seen = verify(entry, path)
    else:  # hashed only where the md5 names the cache folder of the extracted member
        seen = file_md5(path) if is_archive else None
        warnings.warn(
            f"{os.fspath(path)}: not checked against {entry.name}'s published md5 (check_md5=False)",
            UserWarning,
            stacklevel=2,
        )
    checked = check_md5 and entry.md5 is not None
    if is_archive:  # cached under the archive's md5, so another archive never gets this member
        assert seen is not None
        target = entry_dir(entry) / "local" / seen / str(entry.archive_member)
        return Located(cached_member(path, seen, str(entry.archive_member), target), seen, checked)
    return Located(path, seen, checked)


def recognise_published(path: PathLike) -> str | None:
    """The name of the catalogue entry whose published md5 is that of the file at ``path``.

    Args:
        path: a weights file; anything but a regular file (a folder, a pipe, a missing path)
            is not recognised, and the caller reports or reads it as it would any file.

    Returns:
        The entry's name, or None when no published file has this md5.
    """
    if not os.path.isfile(path):
        return None
    published = {e.md5.lower(): e.name for e in all_pretrained() if e.md5 is not None}
    return published.get(file_md5(path))
