"""Known motifs, offline: JASPAR from the SQLite releases that pyjaspar ships, and MEME files.

A motif set is a ``dict`` from a name (``"MA0139.2 CTCF"``: matrix ID and factor, as a MEME file's
MOTIF line gives them) to a (4, width) float64 probability matrix in A, C, G, T order: the form
memelite's ``tomtom`` and ``fimo`` take.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from zoo._extras import install_hint
from zoo._types import PathLike
from zoo.errors import ZooError

DEFAULT_TAXON = "vertebrates"
# the most motifs a MEME file may hold (JASPAR's whole CORE collection has about 2,500)
MAX_MOTIFS = 100_000


class MotifError(ZooError):
    """A motif source that cannot be read: an unknown JASPAR release or taxon, a bad MEME file."""


def _jaspardb(release: str | None):  # noqa: ANN202 (pyjaspar's class, imported lazily)
    try:
        from pyjaspar import JASPAR_LATEST_RELEASE, jaspar_releases, jaspardb
    except ImportError as err:
        raise ImportError(f"JASPAR motifs need pyjaspar: {install_hint('motifs')}") from err
    release = release or JASPAR_LATEST_RELEASE
    if release not in jaspar_releases:
        raise MotifError(
            f"JASPAR release {release!r} is not shipped; expected one of {sorted(jaspar_releases)}"
        )
    return jaspardb(release=release), release


def jaspar_releases() -> list[str]:
    """The JASPAR releases the installed pyjaspar ships, oldest first."""
    try:
        from pyjaspar import jaspar_releases as releases
    except ImportError as err:
        raise ImportError(f"JASPAR motifs need pyjaspar: {install_hint('motifs')}") from err
    return sorted(releases)


def counts_to_probabilities(counts: np.ndarray, pseudocount: float = 0.0) -> np.ndarray:
    """Column-normalised probabilities of a (4, width) count matrix.

    Args:
        counts: (4, width) non-negative counts.
        pseudocount: added to every count before normalising.
    """
    counts = np.asarray(counts, dtype=np.float64) + pseudocount
    totals = counts.sum(0, keepdims=True)
    if (totals <= 0).any():
        raise MotifError("a motif column has no counts")
    return counts / totals


def jaspar_motifs(
    release: str | None = None,
    collection: str = "CORE",
    taxon: str | None = DEFAULT_TAXON,
    non_redundant: bool = True,
    names: list[str] | None = None,
) -> dict[str, np.ndarray]:
    """Motifs of a JASPAR release from the database inside the pyjaspar package (no network).

    Args:
        release: a release name such as ``"JASPAR2024"`` (:func:`jaspar_releases`); None: the
            newest one shipped.
        collection: the JASPAR collection (``"CORE"``, ``"UNVALIDATED"``, ...).
        taxon: the taxonomic group (``"vertebrates"``, ``"insects"``, ``"plants"``, ...); None: all.
        non_redundant: keep only the latest version of each matrix (JASPAR's non-redundant set);
            False keeps every version.
        names: keep only motifs whose factor name is one of these (case-insensitive).

    Returns:
        ``{"MA0139.2 CTCF": (4, width) probabilities, ...}``.
    """
    db, release = _jaspardb(release)
    records = db.fetch_motifs(
        collection=collection,
        tax_group=[taxon] if taxon else None,
        all_versions=not non_redundant,
    )
    wanted = {n.upper() for n in names} if names else None
    motifs = {}
    for record in records:
        if wanted is not None and record.name.upper() not in wanted:
            continue
        counts = np.array([record.counts[b] for b in "ACGT"], dtype=np.float64)
        motifs[f"{record.matrix_id} {record.name}"] = counts_to_probabilities(counts)
    if not motifs:
        what = f"collection {collection!r}" + (f", taxon {taxon!r}" if taxon else "")
        if wanted:
            what += f", names {sorted(wanted)}"
        raise MotifError(f"{release} has no motifs for {what}")
    return motifs


def read_meme_motifs(path: PathLike) -> dict[str, np.ndarray]:
    """The motifs of a MEME-format file (``MOTIF`` lines, ``letter-probability matrix`` blocks).

    Args:
        path: the MEME file.

    Returns:
        ``{name: (4, width) probabilities}``, the name being the rest of the MOTIF line.
    """
    try:
        from memelite.io import read_meme
    except ImportError as err:
        raise ImportError(f"MEME files need memelite: {install_hint('motifs')}") from err
    shown = os.fspath(path)
    if not Path(path).is_file():
        raise MotifError(f"motif file {shown!r} does not exist")
    try:
        motifs = read_meme(shown, n_motifs=MAX_MOTIFS)
    except (ValueError, AttributeError, IndexError, UnicodeDecodeError) as err:
        raise MotifError(f"motif file {shown!r} is not a MEME file: {err}") from None
    if not motifs:
        raise MotifError(f"motif file {shown!r} holds no MOTIF with a letter-probability matrix")
    out = {}
    for name, pwm in motifs.items():
        pwm = np.asarray(pwm, dtype=np.float64)
        if pwm.shape[0] != 4 or pwm.shape[1] == 0 or not np.isfinite(pwm).all() or (pwm < 0).any():
            raise MotifError(f"motif file {shown!r}: motif {name!r} is not a (4, width) probability matrix")
        out[name] = pwm / pwm.sum(0, keepdims=True)
    return out


def write_meme_motifs(path: PathLike, motifs: dict[str, np.ndarray]) -> Path:
    """Write ``motifs`` as a MEME-format file (minimal MEME version 4 header), atomically.

    Args:
        path: the file to write.
        motifs: ``{name: (4, width) probabilities}``.
    """
    from zoo._io.writing import atomic_path

    path = Path(path)
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", ""]
    lines.append("Background letter frequencies")
    lines.append("A 0.25 C 0.25 G 0.25 T 0.25")
    lines.append("")
    for name, pwm in motifs.items():
        pwm = np.asarray(pwm, dtype=np.float64)
        lines.append(f"MOTIF {name}")
        lines.append(f"letter-probability matrix: alength= 4 w= {pwm.shape[1]} nsites= 20 E= 0")
        lines.extend(" ".join(f"{v:.6f}" for v in column) for column in pwm.T)
        lines.append("")
    with atomic_path(path) as tmp, open(tmp, "w", encoding="ascii") as f:
        f.write("\n".join(lines))
    return path


def load_motifs(
    source: str = "jaspar",
    *,
    release: str | None = None,
    taxon: str | None = DEFAULT_TAXON,
    collection: str = "CORE",
    non_redundant: bool = True,
) -> dict[str, np.ndarray]:
    """Motifs from ``"jaspar"`` (the JASPAR database pyjaspar ships) or a MEME file's path.

    Args:
        source: ``"jaspar"`` or the path of a MEME-format file.
        release: the JASPAR release (None: the newest shipped).
        taxon: the JASPAR taxonomic group (None: all).
        collection: the JASPAR collection.
        non_redundant: the latest version of each JASPAR matrix only.
    """
    if source.lower() == "jaspar":
        return jaspar_motifs(release, collection, taxon, non_redundant)
    return read_meme_motifs(source)
