"""Reading FASTA input in a child process (what zoo-predict does on CUDA), run here on the CPU:
the same rows as the reader thread, the same errors, and no child left behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _predict_support import DATA, example_model, read_fasta

from zoo.predict import PredictError, Scorer, fasta_job, run_job
from zoo.predict.processes import ProcessBatches
from zoo.predict.sources import fasta_windows

LONG = read_fasta(DATA / "long.fa")["long1"]  # 650 bp


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer(example_model(), batch_size=3)  # a few records a batch: several batches


@pytest.mark.parametrize("step", [None, 150])
def test_a_child_process_reads_the_rows_the_reader_thread_reads(
    tmp_path: Path, scorer: Scorer, step: int | None
) -> None:
    fasta = DATA / ("seqs.fa" if step is None else "long.fa")
    for name, in_process in (("thread.tsv", False), ("process.tsv", True)):
        run_job(fasta_job(fasta, scorer.seq_len, step), scorer, tmp_path / name, read_in_process=in_process)
    thread, process = ((tmp_path / n).read_bytes() for n in ("thread.tsv", "process.tsv"))
    assert process == thread
    assert len(process.splitlines()) > 1 + scorer.batch_size  # more than one batch went across


def test_the_child_s_errors_are_raised_as_the_reader_thread_raises_them(
    tmp_path: Path, scorer: Scorer
) -> None:
    fasta = tmp_path / "bad.fa"
    records = [f">ok{i}\n{LONG[:200]}\n" for i in range(7)]
    records.insert(5, f">broken\n{LONG[:99]}-{LONG[100:200]}\n")
    fasta.write_text("".join(records))
    messages = []
    for in_process in (False, True):
        with pytest.raises(PredictError) as caught:
            run_job(
                fasta_job(fasta, scorer.seq_len), scorer, tmp_path / "out.tsv", read_in_process=in_process
            )
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert re.search(r"record 'broken': byte '-' at position 99", messages[1])
    assert list(tmp_path.iterdir()) == [fasta]  # no table, no temporary file


def test_a_consumer_that_stops_early_stops_the_child() -> None:
    batches = ProcessBatches(fasta_windows, (str(DATA / "long.fa"), 200, 10), per_batch=2, depth=1)
    with batches:
        metas, statuses, codes = next(iter(batches))
        assert metas == [("long1", 0), ("long1", 10)] and statuses == ["ok", "ok"]
        assert codes is not None and codes.shape == (2, 200) and bytes(codes[1]) == LONG[10:210].encode()
    assert batches._process.poll() is not None  # stopped at once, though it had windows left to send


def test_only_regular_files_are_read_by_another_process(tmp_path: Path) -> None:
    """Standard input, /dev/stdin, /dev/fd/N and pipes are this process's own to read."""
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for own in ("-", "/dev/stdin", fifo):
        assert fasta_job(own, 200).reader is None, own
    job = fasta_job(DATA / "seqs.fa", 200)
    assert job.reader is not None and job.input_bytes == (DATA / "seqs.fa").stat().st_size


def test_on_cuda_large_inputs_go_to_a_process_small_ones_to_a_thread() -> None:
    import torch

    from zoo.predict.scoring import _PROCESS_READ_BYTES, _batch_source
    from zoo.predict.threads import Prefetcher

    class OnCuda:
        device = torch.device("cuda")

    job = fasta_job(DATA / "seqs.fa", 200)
    source = _batch_source(job, OnCuda(), None)  # type: ignore[arg-type]
    assert isinstance(source, Prefetcher)
    source.close()
    job.input_bytes = _PROCESS_READ_BYTES
    assert not isinstance(_batch_source(job, OnCuda(), None), Prefetcher)  # type: ignore[arg-type]
    job.input_bytes = 0
    assert not isinstance(_batch_source(job, OnCuda(), True), Prefetcher)  # type: ignore[arg-type]


def test_a_child_that_dies_is_an_error_naming_its_exit_status() -> None:
    with pytest.raises(ChildProcessError, match=r"stopped without finishing \(exit status 3"):
        with ProcessBatches(_dies, (), per_batch=2) as batches:
            list(batches)


def _dies() -> list[object]:
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


def _fails_with_two_arguments() -> list[object]:
    raise _TwoArguments("an error", "a place")


def test_an_error_that_does_not_unpickle_arrives_as_its_message() -> None:
    with pytest.raises(RuntimeError, match="_TwoArguments: an error at a place"):
        with ProcessBatches(_fails_with_two_arguments, (), per_batch=2) as batches:
            list(batches)


def _fails_unpicklably() -> list[object]:
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
        "read_in_process=True)\n"
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
    batches = ProcessBatches(fasta_windows, (str(fifo), 200, None), per_batch=2)
    assert batches._process.stdin is not None
    batches._process.stdin.close()
    assert batches._process.wait(timeout=60) == 0
    batches.close()
