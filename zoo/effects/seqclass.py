"""Sei's sequence classes, as the Sei framework computes them.

Two arrays of the Sei resources define them (see :data:`SEQCLASS_RESOURCES`):

- ``projvec_targets.npy``, the class centroids V (K, T): one row per sequence class over
  the model's T chromatin profiles (K = 61, T = 21,907 for Sei), ranked by class size; the
  first 40 classes are named (``zoo.targets`` list ``sei_seqclass_40``), the others are
  dropped from every score here.
- ``histone_inds.npy``, the indices H of the histone-mark profiles among the T.

Formulas (P: (N, T) probabilities, already averaged over both strands):

- sequence-class score of a sequence: ``P @ V.T / |V|`` (row norms), the projection of the
  profile probabilities on each class centroid's unit vector;
- variant effect on the classes (the framework's histone normalisation): with
  ``s_ref = sum(ref[:, H])``, ``s_alt = sum(alt[:, H])`` and ``m = (s_ref + s_alt) / 2``,
  the histone columns of ref are multiplied by ``m / s_ref`` and those of alt by
  ``m / s_alt`` (the other columns unchanged); the effect is the projection of alt minus
  the projection of ref, over the 40 named classes.

The scores are unbounded projections, not probability differences.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from zoo._types import PathLike
from zoo.errors import ZooError
from zoo.models.sei import N_SEQUENCE_CLASSES, sei_sequence_class_names

CENTROIDS_FILE = "projvec_targets.npy"
HISTONE_FILE = "histone_inds.npy"


class SequenceClassError(ZooError):
    """Sequence-class arrays that are missing, unreadable or do not fit the model's targets."""


@dataclass(frozen=True)
class PublishedResource:
    """An array file of a published model's resources, kept beside its weights.

    ``weights`` names the catalogue entry (``zoo-pretrained list``) whose archive holds the
    file as ``member``; ``shape`` is the shape the published file has (as documented, for
    the message when a copy does not fit). No md5 is published for these files: the md5 of
    the archive seen at download (recorded in the cache, as for the weights) and of the file
    itself are what :func:`locate_resource` returns.
    """

    name: str
    weights: str
    member: str
    shape: tuple[int, ...]
    description: str


SEQCLASS_RESOURCES: tuple[PublishedResource, ...] = (
    PublishedResource(
        name="sei.projvec_targets",
        weights="sei.sei_framework",
        member=CENTROIDS_FILE,
        shape=(61, 21907),
        description="Sei's sequence-class centroids over the 21,907 profiles (the first 40 named)",
    ),
    PublishedResource(
        name="sei.histone_inds",
        weights="sei.sei_framework",
        member=HISTONE_FILE,
        shape=(10064,),
        description="indices of Sei's histone-mark profiles, for the variant-effect normalisation",
    ),
)


def locate_resource(resource: PublishedResource, progress: bool = True) -> tuple[Path, str]:
    """The cached copy of ``resource`` (downloaded with its archive on first use) and the md5
    of the archive it came from, as seen at download (none is published).

    Args:
        resource: one of :data:`SEQCLASS_RESOURCES`.
        progress: show a progress bar while downloading.
    """
    from zoo.weights.catalogue import get_pretrained
    from zoo.weights.download import fetch_checked

    return fetch_checked(get_pretrained(resource.weights), progress, member=resource.member)


def _file_md5(path: Path) -> str:
    from zoo.weights.download import file_md5

    return file_md5(path)


@dataclass(frozen=True)
class SequenceClasses:
    """The centroids (K, T) and histone indices (H,) of a model with T targets, checked.

    Build it with :func:`load_sequence_classes` (files) or directly from arrays (checked
    here: refused with :class:`SequenceClassError` naming both shapes when they do not fit
    ``n_targets``). ``md5`` records the md5 of each file read (for a background's
    fingerprint); empty when built from arrays.

    Attributes:
        centroids: (K, T) class centroids over the model's targets (K >= 40).
        histone: (H,) indices of the histone-mark targets.
        n_targets: the model's number of targets T.
        md5: the md5 of each file read.
        names: the 40 named classes' names.
    """

    centroids: np.ndarray
    histone: np.ndarray
    n_targets: int
    md5: dict[str, str] = field(default_factory=dict)
    names: list[str] = field(default_factory=sei_sequence_class_names)

    def __post_init__(self) -> None:
        c, h, t = np.asarray(self.centroids), np.asarray(self.histone), self.n_targets
        if c.ndim != 2 or c.shape[1] != t or c.shape[0] < N_SEQUENCE_CLASSES:
            raise SequenceClassError(
                f"{CENTROIDS_FILE}: shape {c.shape} does not fit the model's {t} targets: expected "
                f"(K, {t}) with K >= {N_SEQUENCE_CLASSES} classes (Sei's file is (61, 21907))"
            )
        if not np.issubdtype(c.dtype, np.floating) or not np.isfinite(c).all():
            raise SequenceClassError(f"{CENTROIDS_FILE}: expected finite floats, got dtype {c.dtype}")
        if np.any(np.linalg.norm(c[:N_SEQUENCE_CLASSES], axis=1) == 0):
            raise SequenceClassError(f"{CENTROIDS_FILE}: a named class has an all-zero centroid")
        if h.ndim != 1 or not len(h) or len(h) > t:
            raise SequenceClassError(
                f"{HISTONE_FILE}: shape {h.shape} does not fit the model's {t} targets: expected (H,) "
                f"with 1 <= H <= {t} indices (Sei's file is (10064,))"
            )
        if not np.issubdtype(h.dtype, np.integer):
            raise SequenceClassError(f"{HISTONE_FILE}: expected integer indices, got dtype {h.dtype}")
        if h.min() < 0 or h.max() >= t or len(np.unique(h)) != len(h):
            raise SequenceClassError(
                f"{HISTONE_FILE}: indices must be distinct and in 0..{t - 1}, got {h.min()}..{h.max()}"
            )
        object.__setattr__(self, "centroids", np.asarray(c[:N_SEQUENCE_CLASSES], dtype=np.float64))
        object.__setattr__(self, "histone", np.asarray(h, dtype=np.int64))

    def scores(self, probabilities: np.ndarray | torch.Tensor) -> np.ndarray:
        """Sequence-class scores (N, 40) of probabilities (N, T).

        Args:
            probabilities: (N, T) strand-averaged probabilities.
        """
        return class_projection(probabilities, self.centroids)

    def effects(self, ref: np.ndarray | torch.Tensor, alt: np.ndarray | torch.Tensor) -> np.ndarray:
        """Histone-normalised variant effects (N, 40) of ref and alt probabilities (N, T).

        Args:
            ref: (N, T) probabilities of the reference alleles.
            alt: (N, T) probabilities of the alternative alleles.
        """
        return sequence_class_effects(ref, alt, self.centroids, self.histone)


def _float64(values: np.ndarray | torch.Tensor) -> torch.Tensor:
    tensor = values if isinstance(values, torch.Tensor) else torch.from_numpy(np.asarray(values))
    return tensor.detach().to("cpu", torch.float64)


def _unit_rows(centroids: np.ndarray) -> torch.Tensor:
    v = torch.from_numpy(np.asarray(centroids, dtype=np.float64))
    return v / torch.linalg.vector_norm(v, dim=1, keepdim=True)


def class_projection(probabilities: np.ndarray | torch.Tensor, centroids: np.ndarray) -> np.ndarray:
    """``P @ V.T / |V|``: the projection of probabilities (N, T) on each centroid's unit
    vector, (N, K) float64.

    Args:
        probabilities: (N, T) profile probabilities (strand-averaged for Sei).
        centroids: (K, T) class centroids.
    """
    return (_float64(probabilities) @ _unit_rows(centroids).T).numpy()


def histone_normalise(
    ref: np.ndarray | torch.Tensor, alt: np.ndarray | torch.Tensor, histone: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """ref and alt probabilities (N, T) with their histone columns rescaled to their common
    mean sum (float64 copies).

    Args:
        ref: reference-allele probabilities (N, T).
        alt: alternative-allele probabilities (N, T).
        histone: indices of the histone-mark columns.
    """
    ref64, alt64 = _float64(ref).clone(), _float64(alt).clone()
    h = torch.from_numpy(np.asarray(histone, dtype=np.int64))
    s_ref, s_alt = ref64[:, h].sum(1, keepdim=True), alt64[:, h].sum(1, keepdim=True)
    mean = (s_ref + s_alt) / 2
    ref64[:, h] *= mean / s_ref
    alt64[:, h] *= mean / s_alt
    return ref64, alt64


def sequence_class_effects(
    ref: np.ndarray | torch.Tensor,
    alt: np.ndarray | torch.Tensor,
    centroids: np.ndarray,
    histone: np.ndarray,
) -> np.ndarray:
    """Variant effects on the named sequence classes, (N, 40) float64: the projection of the
    histone-normalised alt probabilities minus that of the ref ones.

    Args:
        ref: reference-allele probabilities (N, T).
        alt: alternative-allele probabilities (N, T).
        centroids: (K, T) class centroids, K >= 40.
        histone: indices of the histone-mark columns.
    """
    ref64, alt64 = histone_normalise(ref, alt, histone)
    # projected as a difference: the two projections are large and nearly equal
    return ((alt64 - ref64) @ _unit_rows(np.asarray(centroids)[:N_SEQUENCE_CLASSES]).T).numpy()


def _read_npy(path: Path, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise SequenceClassError(f"{what} {os.fspath(path)!r}: not a readable .npy array ({err})") from None


def _local_files(files: Sequence[PathLike]) -> dict[str, Path]:
    """The two files by role, from one folder or two .npy paths (told apart by their names)."""
    paths = [Path(f) for f in files]
    if len(paths) == 1 and paths[0].is_dir():
        folder = paths[0]
        found = {name: folder / name for name in (CENTROIDS_FILE, HISTONE_FILE)}
        missing = [name for name, p in found.items() if not p.is_file()]
        if missing:
            raise SequenceClassError(
                f"--seqclass-files folder {os.fspath(folder)!r} lacks {', '.join(missing)} (the Sei "
                "resources' file names)"
            )
        return found
    if len(paths) != 2:
        raise SequenceClassError(
            f"--seqclass-files: give one folder holding {CENTROIDS_FILE} and {HISTONE_FILE}, or those "
            f"two files, got {len(paths)} paths"
        )
    by_role: dict[str, Path] = {}
    for p in paths:
        if not p.is_file():
            raise SequenceClassError(f"--seqclass-files {os.fspath(p)!r} is not a file")
        role = CENTROIDS_FILE if "projvec" in p.name else HISTONE_FILE if "histone" in p.name else None
        if role is None or role in by_role:
            raise SequenceClassError(
                f"--seqclass-files {os.fspath(p)!r}: name the centroids file *projvec*.npy and the "
                "histone indices *histone*.npy (as the Sei resources do)"
            )
        by_role[role] = p
    return by_role


def load_sequence_classes(
    n_targets: int,
    files: Sequence[PathLike] | PathLike | None = None,
    progress: bool = True,
    resources: Sequence[PublishedResource] = SEQCLASS_RESOURCES,
) -> SequenceClasses:
    """The sequence-class arrays for a model with ``n_targets`` outputs, checked.

    Args:
        n_targets: the model's number of targets (21,907 for Sei).
        files: local copies: one folder holding ``projvec_targets.npy`` and
            ``histone_inds.npy``, or those two files; None takes the published files from the
            cache (downloaded with the Sei archive on first use).
        progress: show a progress bar while downloading.
        resources: the catalogue records of the two files (the centroids' first).

    Raises:
        SequenceClassError: a file is missing or unreadable, or an array does not fit
            ``n_targets`` (naming its shape and the expected one).
    """
    if files is None:
        paths, md5 = {}, {}
        for resource in resources:
            path, archive_md5 = locate_resource(resource, progress)
            paths[resource.member], md5[f"{resource.member} archive"] = path, archive_md5
    else:
        paths = _local_files([files] if isinstance(files, (str, os.PathLike)) else files)
        md5 = {}
    md5 |= {name: _file_md5(p) for name, p in paths.items()}
    return SequenceClasses(
        _read_npy(paths[CENTROIDS_FILE], "centroids"),
        _read_npy(paths[HISTONE_FILE], "histone indices"),
        n_targets,
        md5={k: md5[k] for k in sorted(md5)},
    )
