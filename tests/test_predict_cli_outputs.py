"""zoo-predict's further outputs: HDF5 tables, the annotated VCF, tracks of regions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _predict_support import DATA, WEIGHTS, variant_argv

from zoo.cli.predict import call as run

GENOME = DATA / "genome.fa"


def _run(*argv: str) -> int:
    return run([*argv, "--no-progress"])


def test_hdf5_output_equals_parquet(tmp_path: Path) -> None:
    import h5py
    import pyarrow.parquet as pq

    fasta = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "long.fa"), "--step", "37"]
    assert _run(*fasta, "--out", str(tmp_path / "p.parquet")) == 0
    assert _run(*fasta, "--out", str(tmp_path / "p.h5")) == 0
    table = pq.read_table(tmp_path / "p.parquet")
    with h5py.File(tmp_path / "p.h5") as f:
        columns = list(f["columns"].asstr()[:])
        assert table.column_names == ["name", "start", *columns]
        np.testing.assert_array_equal(f["data"][:], np.stack([table[c].to_numpy() for c in columns], axis=1))
        assert f["meta/start"][:].tolist() == table["start"].to_pylist()
        assert list(f["meta/name"].asstr()[:]) == table["name"].to_pylist()


def _sorted_vcf(folder: Path, rename: str = "chr1") -> Path:
    lines = (DATA / "variants.vcf").read_text().splitlines()
    body = sorted(
        (r for r in lines if not r.startswith("#")), key=lambda r: (r.split("\t")[0], int(r.split("\t")[1]))
    )
    header = [h for h in lines if h.startswith("#") and "contig" not in h]
    path = folder / "calls.vcf"
    path.write_text("\n".join(header + [r.replace("chr1\t", f"{rename}\t") for r in body]) + "\n")
    return path


def test_vcf_output_annotates_the_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.parquet as pq
    import pysam

    vcf = _sorted_vcf(tmp_path, rename="1")  # Ensembl names against the UCSC-named genome
    argv = variant_argv(vcf)
    assert _run(*argv, "--scores", "diff", "--targets", "target_3", "--out", str(tmp_path / "e.parquet")) == 0
    assert "zoo-predict: warning: contig names of" in capsys.readouterr().err
    assert _run(*argv, "--scores", "diff", "--targets", "target_3", "--out", str(tmp_path / "s.vcf.gz")) == 0
    err = capsys.readouterr().err
    assert f"differ from genome {str(GENOME)!r}: reading 1 as chr1" in err
    assert (tmp_path / "s.vcf.gz.tbi").is_file()
    table = pq.read_table(tmp_path / "e.parquet").to_pandas()
    with pysam.VariantFile(str(tmp_path / "s.vcf.gz")) as scored:
        values = {
            (r.pos, alt): v for r in scored for alt, v in zip(r.alts or (), r.info.get("diff_target_3", ()))
        }
    scored_rows = table[table["status"] == "ok"]
    assert len(scored_rows) == 6
    for pos, alt, diff in zip(scored_rows["pos"], scored_rows["alt"], scored_rows["diff:target_3"]):
        assert values[(pos, alt)] == pytest.approx(float(f"{diff:.6g}"), rel=1e-6)


def test_regions_make_one_track_per_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyBigWig

    bed = tmp_path / "regions.bed"
    bed.write_text("chr2\t0\t1000\n")
    out = tmp_path / "tracks"
    argv = ["--weights", str(WEIGHTS), "--genome", str(GENOME), "--targets", "0,4", "--step", "100"]
    assert _run(*argv, "--regions", "chr1:1001-2000", "--regions", str(bed), "--out", str(out)) == 0
    err = capsys.readouterr().err
    assert f"wrote 2 bigwig tracks of 20 bins to {out} (3 bins without a value" in err
    assert sorted(p.name for p in out.iterdir()) == ["target_0.bw", "target_4.bw"]
    with pyBigWig.open(str(out / "target_4.bw")) as track:
        assert [(s, e) for s, e, _ in track.intervals("chr2")] == [(s, s + 100) for s in range(100, 900, 100)]
    assert _run(*argv, "--regions", "chr1:1-500", "--track-format", "bedgraph", "--out", str(out)) == 0
    assert (out / "target_0.bedGraph").read_text().splitlines()[0].startswith("chr1\t100\t200\t")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--regions", "chr1:1-100"], "--regions needs --genome and --step"),
        (["--genome", str(GENOME), "--regions", "chr1:1-100"], "--regions needs --genome and --step"),
        (
            ["--genome", str(GENOME), "--vcf", "x.vcf", "--regions", "chr1:1-9"],
            "without --fasta, --bed or --vcf",
        ),
        (["--fasta", str(DATA / "seqs.fa"), "--out", "x.vcf.gz"], "a VCF output needs --vcf input"),
        (["--genome", str(GENOME), "--step", "10", "--regions", "chr1:5-1"], "expected 1 <= START <= END"),
    ],
)
def test_bad_new_output_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    argv = [a if a != "x.vcf.gz" else str(tmp_path / a) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    assert _run("--weights", str(WEIGHTS), *argv) == 1
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def _fails_with(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert _run(*argv) == 1
    return capsys.readouterr().err


@pytest.mark.parametrize(("name", "kind"), [("out.h5", "HDF5"), ("out.vcf.gz", "a tabix-indexed .vcf.gz")])
def test_hdf5_and_an_indexed_vcf_into_a_pipe_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, kind: str
) -> None:
    import os
    import stat

    fifo = tmp_path / name
    os.mkfifo(fifo)
    err = _fails_with(capsys, *variant_argv(_sorted_vcf(tmp_path)), "--out", str(fifo))
    assert f"--out {str(fifo)!r} is a FIFO or pipe: {kind} is written to regular files only" in err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_plain_vcf_out_streams_into_a_fifo(tmp_path: Path) -> None:
    from _io_support import fifo_reader

    vcf = _sorted_vcf(tmp_path)
    streamed = fifo_reader(tmp_path / "pipe.vcf")
    assert _run(*variant_argv(vcf), "--out", str(tmp_path / "pipe.vcf")) == 0
    assert _run(*variant_argv(vcf), "--out", str(tmp_path / "file.vcf")) == 0
    assert streamed() == (tmp_path / "file.vcf").read_text()


@pytest.mark.parametrize("via", ["name", "symlink"])
def test_a_vcf_out_that_is_the_input_vcf_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], via: str
) -> None:
    import functools

    import pysam

    from zoo.predict.errors import PredictError
    from zoo.predict.outputs.vcf import VCFWriter

    vcf = tmp_path / "calls.vcf.gz"
    pysam.tabix_compress(str(_sorted_vcf(tmp_path)), str(vcf))
    pysam.tabix_index(str(vcf), preset="vcf")
    out = vcf if via == "name" else tmp_path / "link.vcf.gz"
    if via == "symlink":
        out.symlink_to(vcf)
    before = vcf.read_bytes(), Path(f"{vcf}.tbi").read_bytes()
    err = _fails_with(capsys, *variant_argv(vcf), "--out", str(out))
    assert f"--out {str(out)!r} is the same file as --vcf {str(vcf)!r}" in err
    opener = functools.partial(VCFWriter, vcf, out)
    with pytest.raises(PredictError, match="is the same file as the input VCF"):
        opener(["chrom", "pos", "id", "ref", "alt", "status"], ["diff:t"])
    assert (vcf.read_bytes(), Path(f"{vcf}.tbi").read_bytes()) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_tracks_keep_the_output_guarantees(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import stat

    out = tmp_path / "tracks"
    common = ["--weights", str(WEIGHTS), "--genome", str(GENOME), "--targets", "0,4", "--step", "100"]
    common += ["--track-format", "bedgraph"]
    argv = [*common, "--regions", "chr1:1-500", "--out", str(out)]
    assert _run(*argv) == 0
    track = out / "target_0.bedGraph"
    first = track.read_text()
    track.write_text("precious")
    track.chmod(0o444)
    err = _fails_with(capsys, *argv)
    assert f"output {str(track)!r} is a read-only file; pass --overwrite to replace it" in err
    assert track.read_text() == "precious"
    assert _run(*argv, "--overwrite") == 0
    assert track.read_text() == first and stat.S_IMODE(track.stat().st_mode) == 0o444
    assert sorted(p.name for p in out.iterdir()) == ["target_0.bedGraph", "target_4.bedGraph"]
    # --out is a folder: a file is refused, and no track may replace an input (here the regions BED)
    err = _fails_with(capsys, *common, "--regions", "chr1:1-500", "--out", str(track))
    assert f"--out {str(track)!r} is a file; tracks go into a folder" in err
    bed = out / "target_4.bedGraph"
    bed.chmod(0o644)
    bed.write_text("chr1\t0\t500\n")
    err = _fails_with(capsys, *common, "--regions", str(bed), "--out", str(out))
    assert f"track {str(bed)!r} is the same file as --regions {str(bed)!r}" in err
    assert bed.read_text() == "chr1\t0\t500\n"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("fmt", ["bigwig", "bedgraph"])
def test_a_signal_while_tracks_are_written_removes_every_temporary_file(tmp_path: Path, fmt: str) -> None:
    import signal
    import subprocess
    import sys

    from _io_support import signal_when_writing

    genome = tmp_path / "big.fa"
    bases = np.random.default_rng(0).choice(list("ACGT"), 400_000)
    genome.write_text(
        ">chr1\n" + "\n".join("".join(bases[i : i + 60]) for i in range(0, len(bases), 60)) + "\n"
    )
    out = tmp_path / "tracks"
    out.mkdir()
    argv = ["--weights", str(WEIGHTS), "--genome", str(genome), "--regions", "chr1:1-400000", "--step", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo.predict", *argv, "--track-format", fmt, "--out", str(out)],
        stderr=subprocess.PIPE,
    )
    err = signal_when_writing(proc, out, ".target_", signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()
    assert list(out.iterdir()) == []  # neither a track nor a temporary file
    assert err.decode().strip().splitlines()[-1] == "zoo-predict: stopped by SIGTERM"
