"""Sei sequence classes: projection, histone-normalised variant effects, the resource files,
checked against plain loops over the formulas."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from zoo.effects.seqclass import (
    PublishedResource,
    SequenceClassError,
    SequenceClasses,
    class_projection,
    load_sequence_classes,
    sequence_class_effects,
)


def _loop_projection(p: np.ndarray, v: np.ndarray) -> np.ndarray:
    out = np.zeros((len(p), len(v)))
    for n in range(len(p)):
        for k in range(len(v)):
            norm = sum(x * x for x in v[k]) ** 0.5
            out[n, k] = sum(p[n, t] * v[k, t] for t in range(p.shape[1])) / norm
    return out


def _loop_effects(ref: np.ndarray, alt: np.ndarray, v: np.ndarray, h: np.ndarray) -> np.ndarray:
    ref, alt = ref.copy(), alt.copy()
    for n in range(len(ref)):
        s_ref = sum(ref[n, i] for i in h)
        s_alt = sum(alt[n, i] for i in h)
        m = 0.5 * s_ref + 0.5 * s_alt
        for i in h:
            ref[n, i] *= m / s_ref
            alt[n, i] *= m / s_alt
    return (_loop_projection(alt, v) - _loop_projection(ref, v))[:, :40]


@pytest.fixture
def arrays() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.normal(size=(45, 12)), np.array([1, 4, 5, 9])


def test_projection_and_effects_follow_the_formulas(arrays):
    centroids, histone = arrays
    rng = np.random.default_rng(2)
    ref, alt = rng.random((3, 12)), rng.random((3, 12))
    np.testing.assert_allclose(class_projection(ref, centroids), _loop_projection(ref, centroids), rtol=1e-12)
    expected = _loop_effects(ref, alt, centroids, histone)
    np.testing.assert_allclose(sequence_class_effects(ref, alt, centroids, histone), expected, atol=1e-12)
    classes = SequenceClasses(centroids, histone, 12)
    np.testing.assert_allclose(classes.effects(ref, alt), expected, atol=1e-12)
    np.testing.assert_allclose(classes.scores(ref), _loop_projection(ref, centroids)[:, :40], rtol=1e-12)
    assert len(classes.names) == 40 and classes.names[0] == "PC1 Polycomb / Heterochromatin"
    # the histone normalisation matters: without it the effect is the plain projected difference
    plain = (_loop_projection(alt, centroids) - _loop_projection(ref, centroids))[:, :40]
    assert not np.allclose(expected, plain)


@pytest.mark.parametrize(
    ("centroids", "histone", "message"),
    [
        ((61, 21907), (4,), r"projvec_targets.npy: shape \(61, 21907\) does not fit the model's 12 targets: "
         r"expected \(K, 12\) with K >= 40"),
        ((30, 12), (4,), r"shape \(30, 12\) does not fit"),
        ((45, 12), (10064,), r"histone_inds.npy: shape \(10064,\) does not fit the model's 12 targets"),
    ],
)  # fmt: skip
def test_arrays_that_do_not_fit_are_refused_naming_both_shapes(centroids, histone, message):
    with pytest.raises(SequenceClassError, match=message):
        SequenceClasses(np.ones(centroids), np.arange(histone[0]) % 12, 12)


def test_histone_indices_out_of_range_are_refused():
    with pytest.raises(SequenceClassError, match=r"indices must be distinct and in 0..11"):
        SequenceClasses(np.ones((40, 12)), np.array([3, 12]), 12)


def test_local_copies_as_a_folder_or_two_files(tmp_path, arrays):
    centroids, histone = arrays
    np.save(tmp_path / "projvec_targets.npy", centroids)
    np.save(tmp_path / "histone_inds.npy", histone)
    from_folder = load_sequence_classes(12, tmp_path)
    from_files = load_sequence_classes(12, [tmp_path / "histone_inds.npy", tmp_path / "projvec_targets.npy"])
    np.testing.assert_array_equal(from_folder.centroids, centroids[:40])
    np.testing.assert_array_equal(from_files.histone, histone)
    seen = hashlib.md5((tmp_path / "projvec_targets.npy").read_bytes()).hexdigest()
    assert from_folder.md5["projvec_targets.npy"] == seen
    with pytest.raises(SequenceClassError, match=r"lacks histone_inds.npy"):
        (tmp_path / "histone_inds.npy").unlink()
        load_sequence_classes(12, tmp_path)


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_published_files_come_from_the_weights_archive_with_the_md5_seen(
    tmp_path, monkeypatch, publish, arrays
):
    centroids, histone = arrays
    archive = tmp_path / "sei_model.tar.gz"
    archive.write_bytes(
        _tar_gz({"model/projvec_targets.npy": _npy(centroids), "model/histone_inds.npy": _npy(histone)})
    )
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    publish("sei.sei_framework", name="sei.test_resources", url=Path(archive).as_uri())
    resources = [
        PublishedResource("t.projvec", "sei.test_resources", "projvec_targets.npy", (45, 12), "centroids"),
        PublishedResource("t.histone", "sei.test_resources", "histone_inds.npy", (4,), "histone"),
    ]
    with pytest.warns(UserWarning, match="no md5 was published"):
        classes = load_sequence_classes(12, None, progress=False, resources=resources)
    np.testing.assert_array_equal(classes.centroids, centroids[:40])
    archive_md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    assert classes.md5["projvec_targets.npy archive"] == archive_md5
