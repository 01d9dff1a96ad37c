"""Scoring in parts: --shard I/N and zoo-predict merge, torchrun launches (gloo, on the CPU),
resuming after a killed rank, and the refusals. Every output is compared, byte for byte,
with the output of one process scoring everything."""

from __future__ import annotations

import errno
import gzip
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from tests._predict_support import DATA, WEIGHTS
from zoo.cli.predict import call as run
from zoo.predict.outputs.merge import expected_rows
from zoo.predict.outputs.parts import Share, part_name, read_manifest
from zoo.predict.running.distributed import Launch, detect_launch

FORMATS = ("tsv", "tsv.gz", "parquet", "h5", "vcf", "vcf.gz")
DRIVER = Path(__file__).resolve().parent / "_parts_driver.py"
# a batch of 2 rows, a group of 1 batch: the 10 alleles make 5 groups, dealt to every share
SMALL = ["--batch-size", "2", "--group-batches", "1", "--no-progress"]


@pytest.fixture(scope="module")
def sorted_vcf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example VCF with its records sorted by position (a .vcf.gz output is tabix-indexed)."""
    lines = (DATA / "variants.vcf").read_text().splitlines(keepends=True)
    header = [line for line in lines if line.startswith("#")]
    records = [line for line in lines if not line.startswith("#")]
    contigs = list(dict.fromkeys(r.split("\t")[0] for r in records))
    records.sort(key=lambda r: (contigs.index(r.split("\t")[0]), int(r.split("\t")[1])))
    path = tmp_path_factory.mktemp("vcf") / "sorted.vcf"
    path.write_text("".join(header + records))
    return path


def variant_args(vcf: Path) -> list[str]:
    return ["--weights", str(WEIGHTS), "--genome", str(DATA / "genome.fa"), "--vcf", str(vcf), *SMALL]


@pytest.fixture(scope="module")
def singles(sorted_vcf: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The bytes one process writes, for every output format."""
    folder = tmp_path_factory.mktemp("single")
    out = {}
    for fmt in FORMATS:
        assert run([*variant_args(sorted_vcf), "--out", str(folder / f"single.{fmt}")]) == 0
        out[fmt] = (folder / f"single.{fmt}").read_bytes()
    return out


def alleles(vcf: Path) -> int:
    """Rows of a variant run: one per ALT allele."""
    lines = [line for line in vcf.read_text().splitlines() if not line.startswith("#")]
    return sum(len(line.split("\t")[4].split(",")) for line in lines)


def test_share_deals_groups_round_robin() -> None:
    share = Share(1, 3, group_items=4)
    taken = [row for row in range(30) if share.takes(row)]
    assert taken == [r for g in (1, 4, 7) for r in range(4 * g, min(30, 4 * g + 4))]
    # the rows of each share, counted by a plain loop
    for index in range(3):
        counted = sum(Share(index, 3, 4).takes(row) for row in range(30))
        assert expected_rows(index, 3, 4, 30) == counted


@pytest.mark.parametrize("count", [2, 3])
def test_shards_merged_equal_one_process(
    count: int, sorted_vcf: Path, singles: dict[str, bytes], tmp_path: Path
) -> None:
    for fmt in FORMATS:
        out = tmp_path / f"merged.{fmt}"
        for index in range(count):
            assert run([*variant_args(sorted_vcf), "--shard", f"{index}/{count}", "--out", str(out)]) == 0
        parts = Path(f"{out}.parts")
        manifests = [read_manifest(parts / part_name(i, count)) for i in range(count)]
        assert sum(m["rows"] for m in manifests) == alleles(sorted_vcf)
        assert all(m["rows"] > 0 for m in manifests)  # every share got rows: the merge interleaves
        assert run(["merge", str(parts), "--out", str(out), "--no-progress"]) == 0
        assert out.read_bytes() == singles[fmt], fmt


def gzip_members(data: bytes) -> list[bytes]:
    """The text of each gzip member of ``data``, walked member by member with zlib."""
    texts = []
    while data:
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        texts.append(inflate.decompress(data))
        assert inflate.eof, "a member ends early"
        data = inflate.unused_data
    return texts


def test_compressed_tsv_is_one_gzip_member_a_batch(singles: dict[str, bytes], tmp_path: Path) -> None:
    text = singles["tsv"]
    lines = text.splitlines(keepends=True)
    members = gzip_members(singles["tsv.gz"])
    # the header line, then the batches: SMALL's batch of 2 windows is the ref and alt of one
    # allele, one row
    assert members == lines
    path = tmp_path / "single.tsv.gz"
    path.write_bytes(singles["tsv.gz"])
    assert gzip.decompress(singles["tsv.gz"]) == text
    gunzip = subprocess.run(["gzip", "-dc", str(path)], capture_output=True, check=True)
    assert gunzip.stdout == text
    pd = pytest.importorskip("pandas")
    plain = tmp_path / "single.tsv"
    plain.write_bytes(text)
    pd.testing.assert_frame_equal(pd.read_csv(path, sep="\t"), pd.read_csv(plain, sep="\t"))


def test_text_parts_merge_into_the_other_compression(
    sorted_vcf: Path, singles: dict[str, bytes], tmp_path: Path
) -> None:
    for made, into in (("tsv.gz", "tsv"), ("tsv", "tsv.gz")):
        out = tmp_path / f"m.{made}"
        for index in range(2):
            assert run([*variant_args(sorted_vcf), "--shard", f"{index}/2", "--out", str(out)]) == 0
        parts = Path(f"{out}.parts")
        kept = "rows.tsv.gz" if made == "tsv.gz" else "rows.tsv"
        assert (parts / part_name(0, 2) / kept).is_file()
        merged = tmp_path / f"into.{into}"
        assert run(["merge", str(parts), "--out", str(merged), "--no-progress"]) == 0
        assert merged.read_bytes() == singles[into], (made, into)


def test_text_merge_without_copy_file_range(
    sorted_vcf: Path, singles: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> int:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    for fmt in ("tsv", "tsv.gz"):
        out = tmp_path / f"m.{fmt}"
        for index in range(3):
            assert run([*variant_args(sorted_vcf), "--shard", f"{index}/3", "--out", str(out)]) == 0
        assert run(["merge", f"{out}.parts", "--out", str(out), "--no-progress"]) == 0
        assert out.read_bytes() == singles[fmt], fmt


def test_fasta_windows_in_shards(tmp_path: Path) -> None:
    args = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "long.fa"), "--step", "50", *SMALL]
    assert run([*args, "--out", str(tmp_path / "single.tsv")]) == 0
    for index in range(3):
        assert run([*args, "--shard", f"{index}/3", "--out", str(tmp_path / "m.tsv")]) == 0
    parts = [tmp_path / "m.tsv.parts" / part_name(i, 3) for i in (2, 0, 1)]  # any order
    assert run(["merge", *map(str, parts), "--out", str(tmp_path / "m.tsv"), "--no-progress"]) == 0
    assert (tmp_path / "m.tsv").read_bytes() == (tmp_path / "single.tsv").read_bytes()


def track_args(fmt: str) -> list[str]:
    regions = ["--regions", "chr1:1-2000", "--regions", "chr2:1-1000", "--step", "50"]
    return [
        "--weights",
        str(WEIGHTS),
        "--genome",
        str(DATA / "genome.fa"),
        *regions,
        "--track-format",
        fmt,
        *SMALL,
    ]


def same_tracks(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    assert names and names == sorted(p.name for p in b.iterdir())
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


@pytest.mark.parametrize("fmt", ["bigwig", "bedgraph"])
def test_tracks_in_shards(fmt: str, tmp_path: Path) -> None:
    if fmt == "bigwig":
        pytest.importorskip("pyBigWig")
    assert run([*track_args(fmt), "--out", str(tmp_path / "one")]) == 0
    for index in range(3):
        assert run([*track_args(fmt), "--shard", f"{index}/3", "--out", str(tmp_path / "three")]) == 0
    assert (
        run(["merge", str(tmp_path / "three.parts"), "--out", str(tmp_path / "three"), "--no-progress"]) == 0
    )
    assert same_tracks(tmp_path / "one", tmp_path / "three")


def test_out_parts_is_a_parquet_data_set(sorted_vcf: Path, tmp_path: Path) -> None:
    pads = pytest.importorskip("pyarrow.dataset")
    import pyarrow.parquet as pq

    assert run([*variant_args(sorted_vcf), "--out", str(tmp_path / "single.parquet")]) == 0
    for index in range(2):
        assert (
            run([*variant_args(sorted_vcf), "--shard", f"{index}/2", "--out-parts", str(tmp_path / "ds")])
            == 0
        )
    table = pads.dataset(tmp_path / "ds", format="parquet").to_table().to_pylist()
    single = pq.read_table(tmp_path / "single.parquet").to_pylist()
    key = lambda row: (row["pos"], row["alt"])  # noqa: E731
    assert len(table) == len(single)
    assert repr(sorted(table, key=key)) == repr(sorted(single, key=key))  # (repr: nan equals nan)


def test_rerun_reuses_the_finished_part(
    sorted_vcf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*variant_args(sorted_vcf), "--shard", "0/2", "--out", str(tmp_path / "o.tsv")]
    assert run(argv) == 0
    manifest = tmp_path / "o.tsv.parts" / part_name(0, 2) / "_manifest.json"
    before = manifest.stat().st_mtime_ns
    capsys.readouterr()
    assert run(argv) == 0
    assert "reused the finished part" in capsys.readouterr().err
    assert manifest.stat().st_mtime_ns == before
    assert run([*argv, "--rc", "mean"]) == 0  # made otherwise: scored again, replacing it
    assert json.loads(manifest.read_text())["conventions"]["rc"] == "mean"


def test_merge_refuses_parts_of_different_runs(
    sorted_vcf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.tsv"
    assert run([*variant_args(sorted_vcf), "--shard", "0/2", "--out", str(out)]) == 0
    assert run([*variant_args(sorted_vcf), "--shard", "1/2", "--rc", "mean", "--out", str(out)]) == 0
    capsys.readouterr()
    assert run(["merge", f"{out}.parts", "--out", str(out)]) == 1
    parts = f"{out}.parts"
    assert capsys.readouterr().err == (
        f"zoo-predict merge: error: parts '{parts}/part-00000-of-00002' and '{parts}/part-00001-of-00002' "
        "were not made by one run (they differ in conventions); merge the parts of one run only\n"
    )
    assert not out.exists()


def test_merge_refuses_a_missing_share(
    sorted_vcf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.parquet"
    for index in (0, 2):
        assert run([*variant_args(sorted_vcf), "--shard", f"{index}/3", "--out", str(out)]) == 0
    capsys.readouterr()
    assert run(["merge", f"{out}.parts", "--out", str(out)]) == 1
    assert capsys.readouterr().err == (
        f"zoo-predict merge: error: 1 of 3 shares missing: part-00001-of-00003 (in '{out}.parts'); "
        "score them (--shard I/N) before merging\n"
    )
    assert not out.exists()


def test_shard_option_is_checked(
    sorted_vcf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*variant_args(sorted_vcf), "--shard", "2/2", "--out", str(tmp_path / "o.tsv")]) == 1
    assert "--shard '2/2': expected I/N with 0 <= I < N <= 100,000" in capsys.readouterr().err
    assert not (tmp_path / "o.tsv.parts").exists()


def test_launch_detected_from_torchrun_and_srun_variables() -> None:
    torchrun = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}
    assert detect_launch(torchrun) == Launch(3, 4, 1, "torchrun")
    srun = {"SLURM_PROCID": "2", "SLURM_NTASKS": "8", "SLURM_LOCALID": "0", "SLURM_STEP_ID": "0"}
    assert detect_launch(srun) == Launch(2, 8, 0, "srun")
    assert detect_launch({"SLURM_PROCID": "0", "SLURM_NTASKS": "1", "SLURM_STEP_ID": "0"}) is None
    assert detect_launch({"RANK": "0", "WORLD_SIZE": "1"}) is None
    assert detect_launch({}) is None


def torchrun(
    nproc: int, commands: list[list[str]], cwd: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """The driver under torchrun with ``nproc`` CPU processes."""
    environ = {**os.environ, "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            str(nproc),
            "--standalone",  # (a free port of its own: tests may run side by side)
            str(DRIVER),
            json.dumps(commands),
        ],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("nproc", [2, 3])
def test_torchrun_equals_one_process(
    nproc: int, sorted_vcf: Path, singles: dict[str, bytes], tmp_path: Path
) -> None:
    commands = [[*variant_args(sorted_vcf), "--out", str(tmp_path / f"t.{fmt}")] for fmt in FORMATS]
    commands.append([*track_args("bedgraph"), "--out", str(tmp_path / "tracks")])
    assert run([*track_args("bedgraph"), "--out", str(tmp_path / "one")]) == 0  # one process
    done = torchrun(nproc, commands, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert same_tracks(tmp_path / "one", tmp_path / "tracks")
    for fmt in FORMATS:
        assert (tmp_path / f"t.{fmt}").read_bytes() == singles[fmt], fmt
        assert not Path(f"{tmp_path}/t.{fmt}.parts").exists()  # the parts go once merged
    assert done.stderr.count(f"(merged from {nproc} ranks)") == len(FORMATS) + 1


def test_killed_rank_then_rerun_scores_only_the_rest(
    sorted_vcf: Path, singles: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "t.h5"
    parts = Path(f"{out}.parts")
    command = [[*variant_args(sorted_vcf), "--out", str(out)]]
    first = parts / part_name(0, 2) / "_manifest.json"
    done = torchrun(2, command, tmp_path, PARTS_KILL_RANK="1", PARTS_KILL_AFTER=str(first))
    assert done.returncode != 0
    assert not out.exists()
    assert first.exists() and not (parts / part_name(1, 2)).exists()
    done = torchrun(2, command, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rank 0: share 0 of 2: reused the finished part" in done.stderr
    assert "rank 1: share 1 of 2: wrote 5 rows" in done.stderr
    assert out.read_bytes() == singles["h5"]


def test_one_rank_failing_stops_all_without_output(sorted_vcf: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.tsv"
    command = [[*variant_args(sorted_vcf), "--out", str(out)]]
    # rank 0 would take 2.5 s for its 5 batches: it stops at the next batch once rank 1 failed
    done = torchrun(2, command, tmp_path, PARTS_FAIL_RANK="1", PARTS_SLOW_RANK="0")
    assert done.returncode == 1
    line = (
        "zoo-predict: error: rank 1 of 2 failed: injected failure; no output written (the finished parts "
        f"in {out}.parts are reused by a rerun)"
    )
    assert done.stderr.count(line) == 2  # both ranks stop with it
    assert not out.exists()
    assert not (Path(f"{out}.parts") / part_name(0, 2)).exists()  # stopped before its share was done
    assert not [p for p in Path(f"{out}.parts").iterdir() if p.name.startswith(".failed")]  # flags gone


def test_interpret_refuses_a_launch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from zoo.cli.interpret import call as interpret

    for name, value in {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    assert interpret(["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--out", "unused"]) == 1
    assert capsys.readouterr().err == (
        "zoo-interpret: error: zoo-interpret runs in one process, but torchrun started 2; split the records "
        "into files and run one zoo-interpret per file (a job array) instead\n"
    )
