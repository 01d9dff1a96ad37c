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


def test_standard_input_is_read_in_this_process() -> None:
    assert fasta_job("-", 200).reader is None
    assert fasta_job(DATA / "seqs.fa", 200).reader is not None


def test_an_unpicklable_error_arrives_as_its_message() -> None:
    with (
        pytest.raises(RuntimeError, match="an error that does not pickle"),
        ProcessBatches(_fails_unpicklably, (), per_batch=2) as batches,
    ):
        list(batches)


class _Unpicklable(Exception):
    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("no pickling")


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
