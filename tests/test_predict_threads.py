"""zoo-predict's background threads: rows keep their order, errors reach the caller, no partial output."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from _predict_support import DATA, WEIGHTS

from zoo.cli._command import keep_freed_memory
from zoo.cli.predict import call as run
from zoo.predict.outputs.writers import TSVWriter
from zoo.predict.running.threads import Consumer


def test_consumer_calls_in_order_on_another_thread() -> None:
    seen: list[tuple[int, str]] = []
    names: set[str] = set()

    def record(i: int, text: str) -> None:
        names.add(threading.current_thread().name)
        seen.append((i, text))

    with Consumer(record, depth=1) as consumer:
        for i in range(50):
            consumer.put(i, str(i))
        consumer.finish()
    assert seen == [(i, str(i)) for i in range(50)]
    assert threading.current_thread().name not in names


def test_consumer_error_reaches_the_producer_and_stops_later_calls() -> None:
    calls: list[int] = []

    def fail_at_3(i: int) -> None:
        calls.append(i)
        if i == 3:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), Consumer(fail_at_3) as consumer:
        for i in range(100):
            consumer.put(i)
        consumer.finish()
    assert calls == [0, 1, 2, 3]


def test_small_batches_give_the_same_table_as_one_batch(tmp_path: Path) -> None:
    outs = []
    for batch in (1, 3, 1000):
        out = tmp_path / f"b{batch}.tsv"
        args = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--out", str(out)]
        assert run([*args, "--batch-size", str(batch), "--no-progress"]) == 0
        outs.append(out.read_text())
    tables = [[line.split("\t") for line in text.splitlines()] for text in outs]
    assert len(tables[0]) > 3
    for table in tables[1:]:  # same rows in the same order; values up to fp32 summation order
        assert [row[0] for row in table] == [row[0] for row in tables[0]]
        values = np.array([row[1:] for row in table[1:]], dtype=float)
        assert np.abs(values - np.array([row[1:] for row in tables[0][1:]], dtype=float)).max() < 1e-6


def test_a_failing_write_leaves_no_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = TSVWriter._write
    calls = []

    def fail_second(self: TSVWriter, meta: object, scores: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("no space left on device")
        original(self, meta, scores)  # type: ignore[arg-type]

    monkeypatch.setattr(TSVWriter, "_write", fail_second)
    out = tmp_path / "preds.tsv"
    args = ["--weights", str(WEIGHTS), "--fasta", str(DATA / "seqs.fa"), "--out", str(out)]
    with pytest.raises(OSError, match="no space left"):
        run([*args, "--batch-size", "1", "--no-progress"])
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temporary file


@pytest.mark.skipif(sys.platform != "linux", reason="glibc malloc settings")
def test_keep_freed_memory_sets_glibc_malloc_options() -> None:
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert keep_freed_memory() is True


def test_the_command_exits_fast_with_its_status_and_flushed_messages(tmp_path: Path) -> None:
    # main() leaves by os._exit after run(): the status and stderr must still come out whole
    import subprocess

    out = tmp_path / "preds.tsv"
    args = [
        sys.executable,
        "-m",
        "zoo.predict",
        "--weights",
        str(WEIGHTS),
        "--no-progress",
        "--out",
        str(out),
    ]
    ok = subprocess.run(
        [*args, "--fasta", str(DATA / "seqs.fa")], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr.strip().endswith(f"wrote 8 rows to {out}")
    assert len(out.read_text().splitlines()) == 9
    bad = subprocess.run(
        [*args, "--fasta", str(tmp_path / "none.fa")], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1
    assert "zoo-predict: error: FASTA file" in bad.stderr
