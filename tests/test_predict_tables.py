"""Column-wise table writing: %.6g formatting without Python per value, and TSV / Parquet / HDF5
files that read back to the arrays they were given."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from zoo.predict.errors import PredictError
from zoo.predict.outputs.columnar import HDF5Sink, ParquetSink
from zoo.predict.outputs.textformat import format_g6, text_column, tsv_rows
from zoo.predict.outputs.writers import HDF5Writer, ParquetWriter, TSVWriter, open_writer

META = ["chrom", "pos", "id", "status"]


def printf(fmt: str, value: object) -> str:
    """``fmt % value``: the formatting the writers must reproduce."""
    return fmt % value  # noqa: UP031


def _awkward_values(rng: np.random.Generator) -> np.ndarray:
    """Values where %.6g changes notation, rounds up a decade, ties, or is not a number."""
    edges = [
        0.0, -0.0, 1.0, 10.0, 1e5, 999999.0, 999999.5, 999999.4, 1e6, 123456.7, 1234567.0,
        1e-4, 9.999995e-5, 9.99999e-5, 1e-5, 0.001953125, 0.5, 0.1, 9999995.0, 120000.0, 1000.0,
        3.4028235e38, 1.4e-45, 1e-300, 5e-324, 1e-310, 1e100, -2.5e-200, 9.999995e99,
        math.inf, -math.inf, math.nan, -math.nan,
    ]  # fmt: skip
    return np.concatenate(
        [
            np.array(edges),
            rng.random(20000).astype(np.float32).astype(np.float64),
            rng.standard_normal(20000) * 10.0 ** rng.integers(-12, 12, 20000),
            rng.standard_normal(5000) * 10.0 ** rng.integers(-300, 300, 5000),
            np.arange(0, 200000, 7, dtype=np.float64),
            np.arange(-1000, 1000) / 8,
            rng.integers(0, 2**63 - 1, 20000).view(np.float64),  # any bit pattern
        ]
    )


def test_format_g6_equals_percent_format() -> None:
    values = _awkward_values(np.random.default_rng(0))
    with np.errstate(invalid="ignore"):
        expected = [printf("%.6g", v) for v in values.tolist()]
    assert format_g6(values) == expected
    as_float32 = np.random.default_rng(1).integers(0, 2**32 - 1, 20000, dtype=np.uint32).view(np.float32)
    assert format_g6(as_float32) == [printf("%.6g", v) for v in as_float32.tolist()]


@pytest.mark.parametrize(
    "low, high",
    [(0.0, 1.0), (1e-4, 1e6), (-1.0, 0.0), (1e-9, 1e-5), (1e6, 1e9)],
    ids=["sigmoid outputs", "fixed notation", "negative", "small exponents", "large exponents"],
)
def test_format_g6_blocks_of_one_kind(low: float, high: float) -> None:
    """Blocks whose numbers all share a notation or a sign take shortcuts; the text stays %.6g."""
    values = np.random.default_rng(3).uniform(low, high, 30000).astype(np.float32)
    assert format_g6(values) == [printf("%.6g", v) for v in values.tolist()]


def test_tsv_rows_of_float32_without_a_sign_bit_equal_printf() -> None:
    """Model outputs as TSV: any float32 bit pattern without its sign bit, the longest texts,
    decade round-ups, ties, zeros, NaN and infinity keep their text, and so does a -0.0 in
    a block of them (the only one with a sign)."""
    rng = np.random.default_rng(4)
    awkward = np.array(
        [0.000123457, 9.99999e-5, 9.999995e-5, 1e-4, 0.000999999, 1.17549e-38, 3.4028235e38,
         1.4e-45, 1e-30, 1e30, 999999.5, 123456.5, 0.5, 0.0, np.inf, np.nan, 1.0, 100000.0],
        dtype=np.float32,
    )  # fmt: skip
    bits = rng.integers(0, 2**31, 40000, dtype=np.uint32).view(np.float32)
    values = np.concatenate([awkward, bits, rng.random(40000, dtype=np.float32), awkward])
    k = 37
    scores = values[: len(values) // k * k].reshape(-1, k)
    names = [f"r{i}" for i in range(len(scores))]

    def expected() -> bytes:
        with np.errstate(invalid="ignore"):
            rows = zip(names, scores.tolist())
            return "".join(
                "\t".join([n, *(printf("%.6g", v) for v in row)]) + "\n" for n, row in rows
            ).encode()

    assert tsv_rows([text_column(names)], scores) == expected()
    scores[len(scores) // 2, 3] = -0.0
    assert b"\t-0\t" in expected() and tsv_rows([text_column(names)], scores) == expected()


def test_tsv_rows_equal_row_by_row_formatting() -> None:
    rng = np.random.default_rng(2)
    scores = (rng.standard_normal((40, 7)) * 10.0 ** rng.integers(-6, 6, (40, 7))).astype(np.float32)
    scores[3] = np.nan
    columns = [
        [f"rs{i}" if i % 5 else f"é{i}" for i in range(40)],  # non-ASCII text stays UTF-8
        list(range(10**9, 10**9 + 40)),
        [i % 2 == 0 for i in range(40)],
        [i / 3 for i in range(40)],  # a float leading column prints as str() does
    ]
    got = tsv_rows([text_column(c) for c in columns], scores)
    lines = [
        "\t".join([*(printf("%s", m) for m in meta), *(printf("%.6g", v) for v in row)]) + "\n"
        for *meta, row in zip(*columns, scores.tolist())
    ]
    assert got == "".join(lines).encode("utf-8")
    no_scores = tsv_rows([text_column(columns[0])], np.zeros((40, 0), np.float32))
    assert no_scores == "".join(n + "\n" for n in columns[0]).encode()


def _rows(n: int, k: int, seed: int = 0) -> tuple[list[tuple[object, ...]], np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.random((n, k), dtype=np.float32)
    scores[::7] = np.nan
    meta = [(f"chr{1 + i % 3}", 1000 + i, f"id{i}", "ok" if i % 7 else "missing_contig") for i in range(n)]
    return meta, scores


def _write(path: Path, meta: list[tuple[object, ...]], scores: np.ndarray, batch: int = 16) -> None:
    columns = [f"target {j}" for j in range(scores.shape[1])]
    with open_writer(path, META, columns) as writer:
        for i in range(0, len(scores), batch):
            writer.write(meta[i : i + batch], scores[i : i + batch])
        assert writer.rows == len(scores)


def test_tsv_writer_is_the_row_by_row_text(tmp_path: Path) -> None:
    meta, scores = _rows(50, 9)
    _write(tmp_path / "out.tsv", meta, scores)
    _write(tmp_path / "out.tsv.gz", meta, scores)
    header = "\t".join(META + [f"target {j}" for j in range(9)]) + "\n"
    lines = [
        "\t".join([printf("%s", m) for m in row] + [printf("%.6g", v) for v in s]) + "\n"
        for row, s in zip(meta, scores.tolist())
    ]
    expected = (header + "".join(lines)).encode()
    assert (tmp_path / "out.tsv").read_bytes() == expected
    assert gzip.decompress((tmp_path / "out.tsv.gz").read_bytes()) == expected


def test_parquet_round_trips_in_several_row_groups(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    meta, scores = _rows(53, 6)
    columns = [f"t{j}" for j in range(6)]
    sink = ParquetSink(tmp_path / "small.parquet", META, columns, rows_per_group=10)
    for i in range(0, 53, 8):
        sink.write([np.array(c) for c in zip(*meta[i : i + 8])], scores[i : i + 8])
    sink.close(ok=True)
    for path in (tmp_path / "small.parquet", tmp_path / "out.parquet"):
        if path.name == "out.parquet":
            _write(path, meta, scores)
            columns = [f"target {j}" for j in range(6)]
        table = pq.read_table(path)
        assert table.column_names == META + columns
        np.testing.assert_array_equal(np.stack([table[c].to_numpy() for c in columns], axis=1), scores)
        assert table["pos"].to_pylist() == [m[1] for m in meta]
        assert table["id"].to_pylist() == [m[2] for m in meta]
        assert table["status"].to_pylist() == [m[3] for m in meta]
    assert pq.ParquetFile(tmp_path / "small.parquet").metadata.num_row_groups == 6


@pytest.mark.parametrize("rows", [0, 10, 20])
def test_parquet_whole_row_groups_only(tmp_path: Path, rows: int) -> None:
    """Rows that fill their last row group exactly leave no empty group behind; no rows at all
    give an empty table with the columns."""
    import pyarrow.parquet as pq

    meta, scores = _rows(rows, 2)
    sink = ParquetSink(tmp_path / "out.parquet", META, ["a", "b"], rows_per_group=10)
    for i in range(0, rows, 5):
        sink.write([np.array(c) for c in zip(*meta[i : i + 5])], scores[i : i + 5])
    if rows == 0:
        sink.write([np.array([], dtype=object) for _ in META], scores)
    sink.close(ok=True)
    file = pq.ParquetFile(tmp_path / "out.parquet")
    assert file.metadata.num_rows == rows
    assert file.metadata.num_row_groups == max(1, rows // 10)
    assert file.schema_arrow.names == [*META, "a", "b"]


def test_parquet_row_groups_written_in_the_background_keep_their_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row group is written while the next fills the other buffer: a slow write must not see
    its buffer refilled."""
    import time

    import pyarrow.parquet as pq

    write_table = pq.ParquetWriter.write_table

    def slow_write_table(self: pq.ParquetWriter, *args: object, **kwargs: object) -> None:
        time.sleep(0.05)
        write_table(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", slow_write_table)
    meta, scores = _rows(95, 4)
    sink = ParquetSink(tmp_path / "out.parquet", META, [f"t{j}" for j in range(4)], rows_per_group=10)
    for i in range(0, 95, 3):
        sink.write([np.array(c) for c in zip(*meta[i : i + 3])], scores[i : i + 3])
    sink.close(ok=True)
    table = pq.read_table(tmp_path / "out.parquet")
    np.testing.assert_array_equal(np.stack([table[f"t{j}"].to_numpy() for j in range(4)], axis=1), scores)
    assert table["id"].to_pylist() == [m[2] for m in meta]


def test_parquet_background_write_error_names_the_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails on the background thread (a full disk) fails the run and leaves no file."""
    import errno

    import pyarrow.parquet as pq

    calls = []

    def full_disk(self: pq.ParquetWriter, *args: object, **kwargs: object) -> None:
        calls.append(1)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full_disk)
    meta, scores = _rows(40, 3)
    writer = ParquetWriter(tmp_path / "out.parquet", META, ["a", "b", "c"])
    writer._open = lambda tmp: ParquetSink(tmp, META, ["a", "b", "c"], rows_per_group=8)  # type: ignore[method-assign]
    with pytest.raises(OSError, match=r"cannot write --out .*out\.parquet: No space left on device"):
        with writer:
            for i in range(0, 40, 4):
                writer.write(meta[i : i + 4], scores[i : i + 4])
    assert calls and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("batches", [[5, 1, 7, 20, 3, 12], [8, 8], [3]])
def test_hdf5_round_trips_across_chunks(tmp_path: Path, batches: list[int]) -> None:
    import h5py

    meta, scores = _rows(sum(batches), 5, seed=len(batches))
    sink = HDF5Sink(tmp_path / "out.h5", META, [f"t{j}" for j in range(5)], chunk_rows=4)
    at = 0
    for n in batches:
        sink.write([np.array(c) for c in zip(*meta[at : at + n])], scores[at : at + n])
        at += n
    sink.close(ok=True)
    with h5py.File(tmp_path / "out.h5") as f:
        np.testing.assert_array_equal(f["data"][:], scores)
        assert f["data"].dtype == np.float32 and f["data"].chunks == (4, 5)
        assert list(f["columns"].asstr()[:]) == [f"t{j}" for j in range(5)]
        assert list(f["meta"]) == META  # in column order
        assert f["meta/pos"][:].tolist() == [m[1] for m in meta]
        assert list(f["meta/id"].asstr()[:]) == [m[2] for m in meta]


def test_hdf5_writer_layout(tmp_path: Path) -> None:
    import h5py

    meta, scores = _rows(70, 4)
    _write(tmp_path / "out.hdf5", meta, scores)
    with h5py.File(tmp_path / "out.hdf5") as f:
        np.testing.assert_array_equal(f["data"][:], scores)
        assert f["data"].maxshape == (None, 4)
        assert list(f["columns"].asstr()[:]) == [f"target {j}" for j in range(4)]
        assert list(f["meta/chrom"].asstr()[:]) == [m[0] for m in meta]


def test_write_columns_equals_write(tmp_path: Path) -> None:
    meta, scores = _rows(30, 3)
    columns = {name: [m[j] for m in meta] for j, name in enumerate(META)}
    columns["pos"] = np.array(columns["pos"])
    for ext in ("tsv", "parquet", "h5"):
        _write(tmp_path / f"rows.{ext}", meta, scores)
        with open_writer(tmp_path / f"cols.{ext}", META, [f"target {j}" for j in range(3)]) as writer:
            writer.write_columns(columns, scores)
            with pytest.raises(ValueError, match="no values for the leading columns"):
                writer.write_columns({"chrom": columns["chrom"]}, scores)
            with pytest.raises(ValueError, match="lengths"):
                writer.write_columns(columns, scores[:5])
    assert (tmp_path / "rows.tsv").read_bytes() == (tmp_path / "cols.tsv").read_bytes()
    import pyarrow.parquet as pq

    by_rows, by_columns = (pq.read_table(tmp_path / f"{n}.parquet").to_pandas() for n in ("rows", "cols"))
    assert by_rows.equals(by_columns)  # NaN in the same places counts as equal


def test_open_writer_picks_the_format_by_extension(tmp_path: Path) -> None:
    kinds = {"a.tsv": TSVWriter, "a.tsv.gz": TSVWriter, "a.txt": TSVWriter, "a.parquet": ParquetWriter}
    kinds |= {"a.h5": HDF5Writer, "a.hdf5": HDF5Writer}
    for name, cls in kinds.items():
        assert type(open_writer(tmp_path / name, ["name"], ["x"])) is cls
    with pytest.raises(PredictError, match="column names repeat: 'x'"):
        open_writer(tmp_path / "out.h5", ["name"], ["x", "y", "x"])


@pytest.mark.parametrize("name", ["out.tsv", "out.parquet", "out.h5"])
def test_a_failed_write_leaves_no_file(tmp_path: Path, name: str) -> None:
    meta, scores = _rows(40, 3)
    with pytest.raises(RuntimeError, match="stop"):
        with open_writer(tmp_path / name, META, ["a", "b", "c"]) as writer:
            writer.write(meta[:20], scores[:20])
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_parquet_after_a_failed_row_group_every_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller that catches the error and writes on gets the error again, never a table with
    a hole where the lost row group was."""
    import errno

    import pyarrow.parquet as pq

    write_table = pq.ParquetWriter.write_table
    calls = []

    def fails_once(self: pq.ParquetWriter, *args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError(errno.EIO, "Input/output error")
        write_table(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", fails_once)
    meta, scores = _rows(24, 2)
    sink = ParquetSink(tmp_path / "out.parquet", META, ["a", "b"], rows_per_group=4)
    failures = 0
    for i in range(0, 24, 4):
        try:
            sink.write([np.array(c) for c in zip(*meta[i : i + 4])], scores[i : i + 4])
        except OSError as err:
            assert err.errno == errno.EIO
            failures += 1
    with pytest.raises(OSError, match="Input/output error"):
        sink.close(ok=True)
    assert failures >= 4  # the failure surfaced once the next group was flushed, then at every write


@pytest.mark.parametrize("name", ["out.parquet", "out.h5"])
def test_leading_columns_are_the_callers_at_the_time_of_the_call(tmp_path: Path, name: str) -> None:
    """Leading columns wait in the writer until their rows are written; a caller that reuses
    its arrays for the next rows must not change the rows already given."""
    meta, scores = _rows(6, 2)
    pos = np.array([m[1] for m in meta[:3]])
    with open_writer(tmp_path / name, ["pos"], ["a", "b"]) as writer:
        writer.write_columns({"pos": pos}, scores[:3])
        pos[:] = [m[1] for m in meta[3:]]  # the same array, the next rows
        writer.write_columns({"pos": pos}, scores[3:])
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        written = pq.read_table(tmp_path / name)["pos"].to_pylist()
    else:
        import h5py

        with h5py.File(tmp_path / name) as f:
            written = f["meta/pos"][:].tolist()
    assert written == [m[1] for m in meta]


def test_pick_targets_is_the_one_choice_of_outputs_for_scoring_and_interpretation():
    from zoo.predict.errors import PredictError
    from zoo.predict.outputs.columns import pick_targets

    assert pick_targets(["a", "b", "c"], 3, ["c", "0"]) == ([2, 0], ["c", "a"])  # in the order asked
    assert pick_targets(None, 2, None) == ([0, 1], ["target_0", "target_1"])
    with pytest.raises(PredictError, match="got 1 target names for a model with 3 targets"):
        pick_targets(["a"], 3, None)
