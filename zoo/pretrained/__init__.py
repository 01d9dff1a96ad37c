"""Published checkpoints: the catalogue, and their download into a verified local cache.

>>> from zoo.pretrained import list_pretrained, locate_weights
>>> list_pretrained()[:2]
['basset.kipoi', 'beluga.expecto']
>>> path = locate_weights("deepsea.kipoi_predict").path  # downloads once, then cached

Each model family declares its published checkpoints as data beside its architecture
(``PRETRAINED`` in ``zoo/models/<family>.py``, a :class:`PretrainedEntry` each) and
registers them; this package holds the machinery only: finding entries, downloading,
verifying and caching their files. ``zoo.create_model("deepsea.kipoi_predict",
pretrained=True)`` builds the model from them.
"""

from __future__ import annotations

import os
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from zoo.models import PretrainedEntry, all_pretrained, get_pretrained
from zoo.pretrained.download import (
    CACHE_ENV,
    ArchiveError,
    ChecksumError,
    DownloadError,
    cache_dir,
    cached_md5,
    entry_dir,
    extract_member,
    fetch,
    file_md5,
    verify,
)
from zoo.targets import load_target_names

__all__ = [
    "CACHE_ENV",
    "ArchiveError",
    "ChecksumError",
    "DownloadError",
    "Located",
    "PretrainedEntry",
    "all_pretrained",
    "cache_dir",
    "cached_md5",
    "catalogue_rows",
    "catalogue_table",
    "entry_dir",
    "extract_member",
    "fetch",
    "file_md5",
    "get_pretrained",
    "list_pretrained",
    "locate_weights",
    "verify",
]


def list_pretrained() -> list[str]:
    """Sorted names of every published checkpoint in the catalogue (``model.tag``)."""
    return [entry.name for entry in all_pretrained()]


@dataclass(frozen=True)
class Located:
    """Where an entry's weight file is, and the md5 of the file as published (the archive's
    for an archive entry; the one seen where none was published; None when unknown)."""

    path: Path
    md5: str | None
    checked: bool  # whether that md5 was compared with a published one


def _entry(name: str | PretrainedEntry) -> PretrainedEntry:
    return name if isinstance(name, PretrainedEntry) else get_pretrained(name)


def locate_weights(
    name: str | PretrainedEntry,
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
    """
    entry = _entry(name)
    if weights is None:
        path = fetch(entry, progress=progress)
        return Located(path, cached_md5(entry), entry.md5 is not None)
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
        member = target if target.is_file() else extract_member(path, str(entry.archive_member), target)
        return Located(member, seen, checked)
    return Located(path, seen, checked)


def catalogue_rows() -> list[dict[str, str]]:
    """One row per published checkpoint: name, model, input, outputs, strands, N, md5, license."""
    return [
        {
            "name": e.name,
            "model": e.model,
            "input": f"{e.seq_len} bp",
            "outputs": f"{len(load_target_names(e.targets)):,} ({e.targets})",
            "strands": "both, averaged" if e.rc_average else "forward",
            "n_value": f"{e.n_value:g}",
            "md5": "published" if e.md5 else "none published",
            "license": e.license,
        }
        for e in all_pretrained()
    ]


def catalogue_table() -> str:
    """The catalogue as the markdown table README.md carries."""
    lines = [
        "| name | model | input | outputs (target list) | strands | N as | md5 | license |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| `{r['name']}` | `{r['model']}` | {r['input']} | {r['outputs']} | {r['strands']} | {r['n_value']} "
        f"| {r['md5']} | {r['license']} |"
        for r in catalogue_rows()
    ]
    return "\n".join(lines)
