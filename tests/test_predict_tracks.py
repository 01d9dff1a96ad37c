"""Genome tracks: regions, the tiling of windows, and bigWig / bedGraph values read back."""

from __future__ import annotations

import errno
import os
import re
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
from _predict_support import DATA, direct_probs, example_model, read_fasta

from zoo.predict import Scorer
from zoo.predict.errors import PredictError
from zoo.predict.inputs.regions import Region, parse_region, read_regions, tile_region
from zoo.predict.outputs.tracks import TrackWriter, track_file_names
from zoo.predict.running.genome_tracks import write_tracks

GENOME = DATA / "genome.fa"
LENGTHS = {"chr1": 2000, "chr2": 1000}
LABELS = ["CTCF K562", "ctcf_k562", "a/b", ".hidden", "con"]


def test_parse_region_is_one_based_inclusive() -> None:
    assert parse_region("chr1:1,001-2,000") == Region("chr1", 1000, 2000)
    assert parse_region(" chr2:5-5 ") == Region("chr2", 4, 5)
    assert parse_region("HLA-A*01:01:100-200") == Region("HLA-A*01:01", 99, 200)
    assert str(Region("chr1", 1000, 2000)) == "chr1:1001-2000"
    for bad in ("chr1:100", "chr1", ":1-5", "chr1:1-2x", "chr1:1,00-200", "chr 1:1-5", "chr1:-5-10"):
        with pytest.raises(PredictError, match=r"expected CHROM:START-END, 1-based and inclusive"):
            parse_region(bad)
    for bad in ("chr1:0-5", "chr1:10-5"):
        with pytest.raises(PredictError, match="expected 1 <= START <= END"):
            parse_region(bad)


def test_tile_region_places_each_window_on_its_bin() -> None:
    bins, ends, windows, inside = tile_region(100, 430, step=100, seq_len=200, contig_length=500)
    assert bins.tolist() == [100, 200, 300, 400]
    assert ends.tolist() == [200, 300, 400, 430]  # the last bin stops with the region
    assert windows.tolist() == [50, 150, 250, 350]  # bin start + 50 - 100: the bin is the window's middle
    assert inside.tolist() == [True, True, True, False]  # 350 + 200 runs past 500
    bins, _, windows, inside = tile_region(0, 30, step=7, seq_len=10, contig_length=30)
    assert bins.tolist() == [0, 7, 14, 21, 28]
    assert windows.tolist() == [-2, 5, 12, 19, 26]
    assert inside.tolist() == [False, True, True, True, False]
    with pytest.raises(PredictError, match="--step must be >= 1"):
        tile_region(0, 10, 0, 5, 10)


def test_read_regions_sorts_matches_contigs_and_refuses_overlaps(tmp_path: Path) -> None:
    bed = tmp_path / "r.bed"
    bed.write_text("chr2\t10\t20\tx\nchr1\t500\t600\n")
    regions, warning = read_regions(GENOME, LENGTHS, ["chr1:1-100", "chr1:201-300"], bed)
    assert regions == [
        Region("chr1", 0, 100),
        Region("chr1", 200, 300),
        Region("chr1", 500, 600),
        Region("chr2", 10, 20),
    ]
    assert warning is None
    regions, warning = read_regions(GENOME, LENGTHS, ["2:1-10", "1:1-10"])
    assert regions == [Region("chr1", 0, 10), Region("chr2", 0, 10)]
    assert warning is not None and "reading 2 as chr2, 1 as chr1" in warning
    with pytest.raises(PredictError, match="regions chr1:1-100 and chr1:51-200 overlap"):
        read_regions(GENOME, LENGTHS, ["chr1:51-200", "chr1:1-100"])
    with pytest.raises(PredictError, match=r"chr2:900-1001 runs past the end of chr2 \(1000 bp"):
        read_regions(GENOME, LENGTHS, ["chr2:900-1001"])
    with pytest.raises(PredictError, match="region 'chr9:1-5': contig 'chr9' is not in genome"):
        read_regions(GENOME, LENGTHS, ["chr1:1-5", "chr9:1-5"])
    with pytest.raises(PredictError, match="no regions"):
        read_regions(GENOME, LENGTHS, [])


def test_track_file_names_are_safe_and_unique() -> None:
    names = track_file_names([*LABELS, "", "x" * 300, "a/b"], ".bw", prefix="")
    assert names[:5] == ["CTCF_K562.bw", "ctcf_k562_2.bw", "a_b.bw", "_hidden.bw", "_con.bw"]
    assert names[5] == "_.bw" and names[6] == "x" * 200 + ".bw" and names[7] == "a_b_2.bw"
    assert track_file_names(["-v"], ".bedGraph", prefix="run1.") == ["run1.-v.bedGraph"]
    assert track_file_names(["-v"], ".bw") == ["_v.bw"]


def _scorer() -> Scorer:
    return Scorer(example_model(), labels=LABELS, batch_size=7)


def test_bigwig_values_are_the_predictions_of_the_centred_windows(tmp_path: Path) -> None:
    import pyBigWig

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no renaming here, so no warning
        paths, summary = write_tracks(
            _scorer(), GENOME, tmp_path / "tracks", regions=["chr2:101-1000", "chr1:1-2000"], step=50
        )
    assert [p.name for p in paths] == track_file_names(LABELS, ".bw")
    assert sorted(tmp_path.joinpath("tracks").iterdir()) == sorted(paths)  # no temporary files left
    genome = read_fasta(GENOME)
    model = example_model()
    expected_bins = []
    for chrom, start, end in (("chr1", 0, 2000), ("chr2", 100, 1000)):
        for b in range(start, end, 50):
            window = b + 25 - 100
            if 0 <= window and window + 200 <= len(genome[chrom]):
                expected_bins.append((chrom, b, min(b + 50, end), window))
    assert summary.rows == 40 + 18 and summary.skipped == {"off_contig_end": 40 + 18 - len(expected_bins)}
    probs = direct_probs(model, [genome[c][w : w + 200] for c, _, _, w in expected_bins])
    for j, path in enumerate(paths):
        track = pyBigWig.open(str(path))
        try:
            assert track.chroms() == LENGTHS
            got = [(c, s, e, v) for c in ("chr1", "chr2") for s, e, v in track.intervals(c)]
            assert [(c, s, e) for c, s, e, _ in got] == [(c, s, e) for c, s, e, _ in expected_bins]
            np.testing.assert_allclose([v for *_, v in got], probs[:, j], rtol=1e-5, atol=1e-7)
            c, s, e, _ = expected_bins[3]
            np.testing.assert_allclose(track.values(c, s, e), [probs[3, j]] * (e - s), rtol=1e-5)
            assert np.isnan(track.values("chr1", 0, 1)[0])  # the first bin's window runs off the contig
        finally:
            track.close()


def test_bedgraph_holds_the_bigwig_values(tmp_path: Path) -> None:
    import pyBigWig

    regions = ["chr1:1501-2000", "1:1-300"]
    with pytest.warns(UserWarning, match="reading 1 as chr1"):
        bigwigs, _ = write_tracks(_scorer(), GENOME, tmp_path, regions=regions, step=40)
    with pytest.warns(UserWarning):
        graphs, _ = write_tracks(_scorer(), GENOME, tmp_path, regions=regions, step=40, fmt="bedgraph")
    assert [g.name for g in graphs] == [b.name.replace(".bw", ".bedGraph") for b in bigwigs]
    for bigwig, graph in zip(bigwigs, graphs):
        track = pyBigWig.open(str(bigwig))
        expected = [f"chr1\t{s}\t{e}\t{v:.6g}" for s, e, v in track.intervals("chr1")]
        track.close()
        assert graph.read_text().splitlines() == expected
        assert len(expected) > 10


def test_a_failed_track_run_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: TrackWriter) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(TrackWriter, "_flush", fail)
    with pytest.raises(OSError, match="disk full"):
        write_tracks(_scorer(), GENOME, tmp_path, regions=["chr1:1-2000"], step=100)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    monkeypatch.undo()
    with pytest.raises(PredictError, match="is a file; tracks go into a folder"):
        write_tracks(_scorer(), GENOME, tmp_path / "file", regions=["chr1:1-2000"], step=100)


class _FullDiskFile:
    """A bedGraph file on a full disk: writes are buffered, the flush at close fails."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")  # noqa: SIM115

    def write(self, data: bytes) -> int:
        return len(data)

    def close(self) -> None:
        self._file.close()
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("fmt", ["bigwig", "bedgraph"])
def test_tracks_on_a_full_disk_are_one_named_error_and_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """libBigWig crashes the process when a write fails: a full disk is refused before it
    writes; a bedGraph's last bytes failing at close name the folder too."""
    if fmt == "bigwig":
        pytest.importorskip("pyBigWig")
        monkeypatch.setattr(os, "statvfs", lambda path: types.SimpleNamespace(f_bavail=3, f_frsize=4096))
    else:
        monkeypatch.setattr(TrackWriter, "_open", lambda self, tmp: _FullDiskFile(tmp))
    out = tmp_path / "tracks"
    with pytest.raises(
        OSError, match=rf"^cannot write --out {re.escape(str(out))}: No space left on device$"
    ):
        write_tracks(_scorer(), GENOME, out, regions=["chr1:1-2000"], step=100, fmt=fmt)
    assert list(tmp_path.iterdir()) == []  # no track, no temporary file, not the folder made for them
