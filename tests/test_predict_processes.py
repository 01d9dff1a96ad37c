"""Reading FASTA input in a child process (what zoo-predict does on CUDA), run here on the CPU:
the same rows as the reader thread, the same errors, and no child left behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _predict_support import DATA, example_model, read_fasta

from zoo.predict import PredictError, Scorer, fasta_job, run_job
from zoo.predict.inputs.fasta import fasta_window_groups
from zoo.predict.inputs.fastx import Shard, read_records
from zoo.predict.running.processes import ProcessBatches

LONG = read_fasta(DATA / "long.fa")["long1"]  # 650 bp


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer(example_model(), batch_size=3)  # a few records a batch: several batches


@pytest.mark.parametrize("step", [None, 150])
@pytest.mark.parametrize("processes", [1, 2, 3])
def test_child_processes_read_the_rows_the_reader_thread_reads(
    tmp_path: Path, scorer: Scorer, step: int | None, processes: int
) -> None:
    fasta = DATA / "seqs.fa"  # 8 records: groups of 3 records, a batch each
    if step is not None:  # records of 1 to 4 windows, so that groups end inside batches
        fasta = tmp_path / "tiled.fa"
        fasta.write_text("".join(f">r{i}\n{LONG[i : i + 200 + 150 * (i % 4)]}\n" for i in range(11)))
    for name, readers in (("thread.tsv", 0), ("processes.tsv", processes)):
        run_job(fasta_job(fasta, scorer.seq_len, step), scorer, tmp_path / name, reader_processes=readers)
    thread, process = ((tmp_path / n).read_bytes() for n in ("thread.tsv", "processes.tsv"))
    assert process == thread
    assert len(process.splitlines()) > 1 + 2 * scorer.batch_size  # three groups or more went across


def test_shards_split_the_records_between_them(tmp_path: Path) -> None:
    """Each record in exactly one shard, with its own line number and place in the file; FASTQ too."""
    fasta = tmp_path / "x.fa"
    fasta.write_text(
        "\n" + "".join(f">r{i} about r{i}\n{LONG[:60]}\n{LONG[60 : 60 + i]}\n" for i in range(10))
    )
    fastq = tmp_path / "x.fq"
    fastq.write_text("".join(f"@q{i}\n{LONG[: 5 + i]}\n+\n{'I' * (5 + i)}\n" for i in range(10)))
    for path in (fasta, fastq):
        whole = list(read_records(path))
        assert [r.index for r in whole] == list(range(10))
        for count, group_records in ((2, 1), (3, 2), (4, 3)):
            shards = [list(read_records(path, Shard(i, count, group_records))) for i in range(count)]
            for i, records in enumerate(shards):
                assert all(r.index // group_records % count == i for r in records)
            assert sorted((r for records in shards for r in records), key=lambda r: r.index) == whole


def test_compressed_fasta_and_fastq_are_read_by_one_process(tmp_path: Path) -> None:
    """Several readers would each decompress a gzip file whole, or find FASTQ records line by line."""
    import gzip

    text = (DATA / "seqs.fa").read_bytes()
    (tmp_path / "x.fa.gz").write_bytes(gzip.compress(text))
    (tmp_path / "x.fq").write_text(f"@q\n{LONG[:200]}\n+\n{'I' * 200}\n")
    (tmp_path / "bom.fa").write_bytes(b"\xef\xbb\xbf\n" + text)

    def shardable(path: Path) -> bool:
        reader = fasta_job(path, 200).reader
        assert reader is not None  # a regular file: other processes can read it
        return reader.shardable

    assert shardable(DATA / "seqs.fa") and shardable(tmp_path / "bom.fa")
    assert not shardable(tmp_path / "x.fa.gz")
    assert not shardable(tmp_path / "x.fq")


def test_the_child_s_errors_are_raised_as_the_reader_thread_raises_them(
    tmp_path: Path, scorer: Scorer
) -> None:
    fasta = tmp_path / "bad.fa"
    records = [f">ok{i}\n{LONG[:200]}\n" for i in range(7)]
    records.insert(5, f">broken\n{LONG[:99]}-{LONG[100:200]}\n")
    fasta.write_text("".join(records))
    messages = []
    for processes in (0, 1, 2):
        with pytest.raises(PredictError) as caught:
            run_job(
                fasta_job(fasta, scorer.seq_len), scorer, tmp_path / "out.tsv", reader_processes=processes
            )
        messages.append(str(caught.value))
    assert messages[0] == messages[1] == messages[2]
    assert re.search(r"line 11: record 'broken': byte '-' at position 99", messages[1])
    assert list(tmp_path.iterdir()) == [fasta]  # no table, no temporary file


@pytest.mark.parametrize("processes", [2, 3, 4])
def test_the_first_bad_record_in_the_file_is_the_one_reported(
    tmp_path: Path, scorer: Scorer, processes: int
) -> None:
    """A later record's child may fail first; its error waits for the groups before it."""
    records = [LONG[:200]] * 15
    records[3] = LONG[:50] + "-" + LONG[51:200]  # group 1 (3 records a group): child 1
    records[3 + 3 * (processes - 1)] = LONG[:100]  # wrong length, in child 0's next group
    fasta = tmp_path / "two_bad.fa"
    fasta.write_text("".join(f">r{i}\n{seq}\n" for i, seq in enumerate(records)))
    messages = []
    for readers in (0, processes):
        with pytest.raises(PredictError) as caught:
            run_job(fasta_job(fasta, 200), scorer, tmp_path / "out.tsv", reader_processes=readers)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "line 7: record 'r3': byte '-' at position 50" in messages[1]


@pytest.mark.parametrize("processes", [1, 2, 5])
def test_every_batch_before_an_error_arrives_first(tmp_path: Path, processes: int) -> None:
    fasta = tmp_path / "late_error.fa"
    fasta.write_text("".join(f">r{i}\n{LONG[:200]}\n" for i in range(5)) + ">r5\nAC>GT\n")
    got = []
    with pytest.raises(PredictError, match="line 11: record 'r5'"):
        with ProcessBatches(fasta_window_groups, (str(fasta), 200, None), 1, processes) as batches:
            got.extend(metas for metas, _, _ in batches)
    assert got == [[(f"r{i}",)] for i in range(5)]


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_the_rows_before_an_error_are_those_one_reader_gives(tmp_path: Path, processes: int) -> None:
    """With --step a group's windows rarely fill its last batch; when the next group's first
    record fails, that last batch still goes out before the rows of the groups after it."""
    from itertools import islice

    from zoo.predict.inputs.fasta import fasta_windows

    fasta = tmp_path / "tiled.fa"
    lengths = [10, 13, 13, 13, 13, 13, 13, 13, 5]  # 1 or 2 windows of 10 at step 3; r8 too short
    fasta.write_text("".join(f">r{i}\n{LONG[:n]}\n" for i, n in enumerate(lengths)))
    one_reader, items = [], fasta_windows(fasta, 10, 3)
    with pytest.raises(PredictError, match="record 'r8' has 5 bp"):
        while batch := list(islice(items, 4)):
            one_reader.append([item.meta for item in batch])
    got = []
    with pytest.raises(PredictError, match="record 'r8' has 5 bp"):
        with ProcessBatches(fasta_window_groups, (str(fasta), 10, 3), 4, processes) as batches:
            got.extend(metas for metas, _, _ in batches)
    assert got == one_reader
    assert len(got) >= 3


def test_a_consumer_that_stops_early_stops_the_child() -> None:
    batches = ProcessBatches(fasta_window_groups, (str(DATA / "long.fa"), 200, 10), per_batch=2, depth=1)
    with batches:
        metas, statuses, codes = next(iter(batches))
        assert metas == [("long1", 0), ("long1", 10)] and statuses == ["ok", "ok"]
        assert codes is not None and codes.shape == (2, 200) and bytes(codes[1]) == LONG[10:210].encode()
    assert batches._children[0].process.poll() is not None  # stopped at once, though it had windows left


def test_only_regular_files_are_read_by_another_process(tmp_path: Path) -> None:
    """Standard input, /dev/stdin, /dev/fd/N and pipes are this process's own to read."""
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for own in ("-", "/dev/stdin", fifo):
        assert fasta_job(own, 200).reader is None, own
    job = fasta_job(DATA / "seqs.fa", 200)
    assert job.reader is not None and job.reader.input_bytes == (DATA / "seqs.fa").stat().st_size


def test_on_cuda_large_inputs_go_to_a_process_small_ones_to_a_thread() -> None:
    import dataclasses

    import torch

    from zoo.predict.running.run import _PROCESS_READ_BYTES, _batch_source
    from zoo.predict.running.threads import Prefetcher

    class OnCuda:
        device = torch.device("cuda")

    job = fasta_job(DATA / "seqs.fa", 200)
    source = _batch_source(job, OnCuda(), None)  # type: ignore[arg-type]
    assert isinstance(source, Prefetcher)
    source.close()
    assert job.reader is not None
    job.reader = dataclasses.replace(job.reader, input_bytes=_PROCESS_READ_BYTES)
    assert not isinstance(_batch_source(job, OnCuda(), None), Prefetcher)  # type: ignore[arg-type]
    job.reader = dataclasses.replace(job.reader, input_bytes=0)
    assert not isinstance(_batch_source(job, OnCuda(), 1), Prefetcher)  # type: ignore[arg-type]


def test_a_child_that_dies_is_an_error_naming_its_exit_status() -> None:
    with pytest.raises(ChildProcessError, match=r"stopped without finishing \(exit status 3"):
        with ProcessBatches(_dies, (), per_batch=2) as batches:
            list(batches)


def _dies(shard: object) -> list[object]:
    import os

    os._exit(3)


def test_an_unpicklable_error_arrives_as_its_message() -> None:
    with (
        pytest.raises(RuntimeError, match="an error that does not pickle"),
        ProcessBatches(_fails_unpicklably, (), per_batch=2) as batches,
    ):
        list(batches)


class _Unpicklable(Exception):
    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("no pickling")


class _TwoArguments(Exception):
    """Pickles, but does not unpickle (its __init__ wants two arguments)."""

    def __init__(self, what: str, where: str) -> None:
        super().__init__(f"{what} at {where}")


def _fails_with_two_arguments(shard: object) -> list[object]:
    raise _TwoArguments("an error", "a place")


def test_an_error_that_does_not_unpickle_arrives_as_its_message() -> None:
    with pytest.raises(RuntimeError, match="_TwoArguments: an error at a place"):
        with ProcessBatches(_fails_with_two_arguments, (), per_batch=2) as batches:
            list(batches)


def _fails_unpicklably(shard: object) -> list[object]:
    raise _Unpicklable("an error that does not pickle")


def test_a_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    """The child is a fresh interpreter, not a multiprocessing spawn that would run the caller's
    script again."""
    import subprocess
    import sys

    from _predict_support import WEIGHTS

    script = tmp_path / "score.py"
    script.write_text(
        "import zoo\n"
        "from zoo.predict import Scorer, fasta_job, run_job\n"
        f"scorer = Scorer(zoo.load_model({str(WEIGHTS)!r}), batch_size=3)\n"
        f"run_job(fasta_job({str(DATA / 'seqs.fa')!r}, 200), scorer, {str(tmp_path / 'out.tsv')!r}, "
        "reader_processes=1)\n"
        "print('scored')\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "scored\n"
    assert (tmp_path / "out.tsv").read_text().count("\n") > 1


def test_the_child_ends_when_the_parent_goes(tmp_path: Path) -> None:
    """A child waiting on input that never comes (a silent pipe) ends once the parent closes its
    end of the child's standard input, as it does when it dies."""
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    batches = ProcessBatches(fasta_window_groups, (str(fifo), 200, None), per_batch=2)
    process = batches._children[0].process
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=60) == 0
    batches.close()


def test_batches_cut_at_group_ends_are_joined_into_whole_batches() -> None:
    """The model sees the batches one reader would make, whatever the groups: the same bits."""
    import numpy as np

    from zoo.predict.running.processes import _rebatched

    # 2 windows per scored item; items 3 and 6 not scored; pieces as group ends cut them
    statuses = ["ok" if i not in (3, 6) else "missing_contig" for i in range(11)]
    windows = {i: np.full((2, 4), i, np.uint8) for i in range(11) if statuses[i] == "ok"}

    def batch(items: range) -> tuple[list[object], list[str], np.ndarray | None]:
        codes = [windows[i] for i in items if i in windows]
        return [(i,) for i in items], [statuses[i] for i in items], np.concatenate(codes) if codes else None

    pieces = [
        batch(range(0, 2)),
        batch(range(2, 4)),
        batch(range(4, 8)),
        batch(range(8, 9)),
        batch(range(9, 11)),
    ]
    got = list(_rebatched(iter(pieces), 4))
    want = [batch(range(0, 4)), batch(range(4, 8)), batch(range(8, 11))]
    assert [(m, s) for m, s, _ in got] == [(m, s) for m, s, _ in want]
    for (_, _, codes), (_, _, expected) in zip(got, want):
        assert codes is not None and expected is not None and np.array_equal(codes, expected)


def test_gzip_and_fastq_files_are_read_by_one_process_whatever_is_asked(
    tmp_path: Path, scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip

    import zoo.predict.running.run as run

    started = []

    def counting(*args: object, **kwargs: object) -> ProcessBatches:
        batches = ProcessBatches(*args, **kwargs)  # type: ignore[arg-type]
        started.append(len(batches._children))
        return batches

    monkeypatch.setattr(run, "ProcessBatches", counting)
    (tmp_path / "x.fa.gz").write_bytes(gzip.compress((DATA / "seqs.fa").read_bytes()))
    (tmp_path / "x.fq").write_text(f"@q\n{LONG[:200]}\n+\n{'I' * 200}\n")
    for name in ("x.fa.gz", "x.fq"):
        run_job(fasta_job(tmp_path / name, 200), scorer, tmp_path / f"{name}.tsv", reader_processes=3)
    run_job(fasta_job(DATA / "seqs.fa", 200), scorer, tmp_path / "plain.tsv", reader_processes=3)
    assert started == [1, 1, 3]


def test_zoo_predict_takes_the_number_of_reader_processes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from _predict_support import WEIGHTS, predict_fails

    from zoo.cli.predict import call as run

    argv = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--batch-size", "2", "--no-progress"]
    assert run([*argv, "--out", str(tmp_path / "thread.tsv")]) == 0
    assert run([*argv, "--out", str(tmp_path / "three.tsv"), "--reader-processes", "3"]) == 0
    assert (tmp_path / "three.tsv").read_bytes() == (tmp_path / "thread.tsv").read_bytes()
    folder = tmp_path / "bad"
    folder.mkdir()
    capsys.readouterr()
    err = predict_fails(folder, capsys, *argv[:4], "--reader-processes", "-1")
    assert "--reader-processes must be >= 0, got -1" in err


def test_a_reader_process_starts_without_torch() -> None:
    """What a child imports (the bootstrap's module, then the FASTA reader it unpickles) leaves
    torch out: the child starts in a fraction of a second instead of the seconds torch takes."""
    import subprocess
    import sys

    code = (
        "import sys; import zoo.predict.running.processes, zoo.predict.inputs.fasta; "
        "print(sorted(m for m in ('torch', 'pysam', 'pyarrow') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


def test_the_package_loads_each_name_and_submodule_on_first_use() -> None:
    import importlib

    import zoo.predict

    for name in zoo.predict.__all__:
        module = importlib.import_module(f"zoo.predict{zoo.predict._EXPORTS[name]}")
        assert getattr(zoo.predict, name) is getattr(module, name)
    assert zoo.predict.inputs is importlib.import_module("zoo.predict.inputs")
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        zoo.predict.no_such_name  # noqa: B018


def test_fasta_input_needs_no_pysam(tmp_path: Path) -> None:
    """GPU machines often lack pysam (htslib): scoring FASTA, in reader processes too, does not use it."""
    import subprocess
    import sys

    from _predict_support import WEIGHTS

    out = tmp_path / "out.tsv"
    code = (
        "import sys; sys.modules['pysam'] = None\n"  # import pysam now raises ImportError
        "from zoo.cli.predict import call as run\n"
        f"argv = ['--weights', {str(WEIGHTS)!r}, '--fasta', {str(DATA / 'seqs.fa')!r}]\n"
        f"argv += ['--out', {str(out)!r}]\n"
        "sys.exit(run([*argv, '--batch-size', '3', '--reader-processes', '2', '--no-progress']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_text().count("\n") == 1 + 8
