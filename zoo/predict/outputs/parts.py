"""Parts of one zoo-predict output: each share of the rows scored apart, in a folder with a manifest.

A run split over processes or jobs (``--shard I/N``, ``torchrun``) gives each one a
:class:`Share` of the rows: the rows come in groups of whole batches, and share ``I`` of
``N`` takes groups ``I``, ``I + N``, ``I + 2N`` ... Every process still reads the input
from the start (sequentially), but scores only its groups, in the very batches a single
process would make, so its numbers are the single run's to the bit.

A part is a folder ``part-IIIII-of-NNNNN`` holding the share's rows and ``_manifest.json``:
what made them (fingerprints of the inputs and of the weights, the scoring conventions,
the columns), the share, and the rows of each batch (and for text, its bytes), which is
what :mod:`zoo.predict.outputs.merge` needs to put the batches back in input order. The
rows are kept as

- ``rows.tsv``: the TSV body as the final table has it (a ``.tsv`` output: merging copies
  the bytes),
- ``rows.tsv.gz``: the same as one gzip member a batch, as the single run compresses each
  batch (a ``.tsv.gz`` output: merging copies the members, compressing nothing),
- ``scores.npy`` and ``meta.jsonl``: the float32 scores and, one JSON line a batch, the
  leading values (HDF5, VCF and track outputs: merging hands the batches to that output's
  writer, exactly as the single run did),
- ``scores_t.npy`` and ``meta.jsonl``: the same with each batch's scores column by column
  (a Parquet output: merging copies them into Parquet's column buffers as they are), or
- ``part.parquet``: a Parquet file, for ``--out-parts`` (a partitioned data set that
  pyarrow, DuckDB or Spark read as one table).

A part appears whole or not at all: it is written in a hidden staging folder and renamed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from zoo._io.npy import NpyRowWriter
from zoo._io.stale import temporary_prefix
from zoo._types import PathLike
from zoo.predict.errors import PredictError
from zoo.predict.outputs.columnar import ParquetSink, gzip_member, rows_to_columns
from zoo.predict.outputs.textformat import text_column, tsv_blocks

PART_FORMAT = "zoo-predict part"
PART_VERSION = 1
MANIFEST = "_manifest.json"  # (a leading _: Parquet readers skip it in a data set)
MAX_SHARES = 100_000  # part names have five digits
_NAME = re.compile(r"part-(\d{5})-of-(\d{5})")
_SAMPLED = 64 << 20  # files larger than this are fingerprinted by their size, head and tail
_SAMPLE = 1 << 20
# what a part's data file is, by the data kind
DATA_FILES: dict[str, tuple[str, ...]] = {
    "tsv": ("rows.tsv",),
    "tsvgz": ("rows.tsv.gz",),
    "npy": ("scores.npy", "meta.jsonl"),
    "npyt": ("scores_t.npy", "meta.jsonl"),
    "parquet": ("part.parquet",),
}


@dataclass(frozen=True)
class Share:
    """Share ``index`` of ``count`` (0-based): groups of ``group_items`` consecutive rows,
    group ``g`` going to share ``g % count``."""

    index: int
    count: int
    group_items: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARES:
            raise PredictError(f"the number of shares must be 1 to {MAX_SHARES:,}, got {self.count}")
        if not 0 <= self.index < self.count:
            raise PredictError(f"share {self.index} of {self.count}: expected 0 to {self.count - 1}")
        if self.group_items < 1:
            raise PredictError(f"a group of rows must hold at least one row, got {self.group_items}")

    @property
    def name(self) -> str:
        """The part's folder name, ``part-IIIII-of-NNNNN``."""
        return part_name(self.index, self.count)

    def takes(self, row: int) -> bool:
        """Whether row number ``row`` (0-based, in input order) is this share's."""
        return (row // self.group_items) % self.count == self.index


def part_name(index: int, count: int) -> str:
    """The folder name of part ``index`` of ``count``.

    Args:
        index: the share, 0-based.
        count: the number of shares.
    """
    return f"part-{index:05d}-of-{count:05d}"


def parse_share(text: str) -> tuple[int, int]:
    """``I/N`` (as ``--shard`` takes it) -> (I, N); a PredictError for anything else.

    Args:
        text: the option's value, share ``I`` (0-based) of ``N``.
    """
    match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
    if match is None:
        raise PredictError(f"--shard {text!r}: expected I/N, share I (0 to N-1) of N, e.g. 0/4")
    index, count = int(match[1]), int(match[2])
    if not 1 <= count <= MAX_SHARES or index >= count:
        raise PredictError(f"--shard {text!r}: expected I/N with 0 <= I < N <= {MAX_SHARES:,}")
    return index, count


def fingerprint(path: PathLike) -> dict[str, Any]:
    """What identifies a file's contents cheaply: its size and the SHA-256 of its bytes (of its
    first and last MiB for a file over 64 MiB, such as a genome, read once by every share).

    Args:
        path: a regular file.
    """
    size = os.path.getsize(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        if size <= _SAMPLED:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        else:
            digest.update(f.read(_SAMPLE))
            f.seek(size - _SAMPLE)
            digest.update(f.read(_SAMPLE))
    return {"name": os.path.basename(path), "bytes": size, "sha256": digest.hexdigest()}


def data_kind(out: str | None) -> str:
    """The data a part keeps for an output named ``out`` (None: an ``--out-parts`` data set).

    Args:
        out: the final output's name.
    """
    if out is None:
        return "parquet"
    if out.endswith(".parquet"):
        return "npyt"
    if out.endswith((".h5", ".hdf5", ".vcf", ".vcf.gz")):
        return "npy"
    return "tsvgz" if out.endswith(".gz") else "tsv"


def part_manifest(
    share: Share,
    *,
    output: str,
    data: str,
    columns: tuple[Sequence[str], Sequence[str]],
    batch_items: int,
    inputs: Mapping[str, Any],
    weights: Any,
    conventions: Mapping[str, Any],
) -> dict[str, Any]:
    """What a part records about how it was made (everything its rows depend on); the rows,
    batches and total come once it is written.

    Args:
        share: the part's share.
        output: the kind of final output the part is for (``tsv``, ``tsv.gz``, ``parquet`` ...).
        data: the data kind (:func:`data_kind`).
        columns: the leading and the score column names.
        batch_items: rows per batch.
        inputs: the input files' fingerprints, by option.
        weights: the weights' fingerprint (or the published model's name).
        conventions: the scoring options that change the values (strands, precision, N ...).
    """
    return {
        "format": PART_FORMAT,
        "version": PART_VERSION,
        "share": [share.index, share.count],
        "group_items": share.group_items,
        "batch_items": batch_items,
        "output": output,
        "data": data,
        "meta_columns": list(columns[0]),
        "score_columns": list(columns[1]),
        "inputs": dict(inputs),
        "weights": weights,
        "conventions": dict(conventions),
    }


# the manifest fields that differ from part to part of one output
PER_PART = ("share", "rows", "batches", "items_total")


def same_run(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The fields (outside :data:`PER_PART`, and the share count) in which two manifests differ:
    empty when their parts belong to one output.

    Args:
        a: one manifest.
        b: another.
    """
    keys = (set(a) | set(b)) - set(PER_PART)
    differ = sorted(k for k in keys if _canonical(a.get(k)) != _canonical(b.get(k)))
    if a.get("share", [0, 0])[1] != b.get("share", [0, 0])[1]:
        differ.insert(0, "share count")
    return differ


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def read_manifest(folder: PathLike) -> dict[str, Any]:
    """The manifest of the part in ``folder``; a PredictError naming the folder when it is not
    a finished part.

    Args:
        folder: a part folder.
    """
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise PredictError(f"{os.fspath(folder)!r} is not a finished part: it has no {MANIFEST}") from None
    except (OSError, ValueError) as err:
        raise PredictError(f"cannot read the part manifest {os.fspath(path)!r}: {err}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != PART_FORMAT:
        raise PredictError(f"{os.fspath(path)!r} is not a zoo-predict part manifest")
    if manifest.get("version") != PART_VERSION:
        raise PredictError(
            f"part {os.fspath(folder)!r} has format version {manifest.get('version')}; this zoo-predict "
            f"reads version {PART_VERSION}"
        )
    for name in DATA_FILES.get(manifest.get("data", ""), ()):
        if not (Path(folder) / name).is_file():
            raise PredictError(f"part {os.fspath(folder)!r} lacks its data file {name}")
    return manifest


def finished_part(folder: PathLike, expected: Mapping[str, Any]) -> dict[str, Any] | None:
    """The manifest of the finished part in ``folder`` when it was made as ``expected`` says (a
    rerun reuses it), else None (no part there, an unreadable one, or one made otherwise).

    Args:
        folder: where the part would be.
        expected: the manifest a part made now would start with (:func:`part_manifest`).
    """
    try:
        manifest = read_manifest(folder)
    except PredictError:
        return None
    if same_run(manifest, expected) or manifest["share"] != expected["share"]:
        return None
    return manifest


class PartWriter:
    """Writes one part, as run_job's writer (``write``, ``rows``, ``score_columns``): the rows
    go into a hidden staging folder beside ``folder``, which becomes ``folder`` (replacing an
    earlier part there) when the ``with`` block ends without an error.

    Args:
        folder: the part folder to make.
        manifest: its manifest so far (:func:`part_manifest`).
        items_total: a function giving the number of rows of the whole input, called when the
            part is finished (every share reads the whole input).
        stop: called before each batch is written; raises to stop the share (another process
            of the launch failed).
    """

    def __init__(
        self,
        folder: PathLike,
        manifest: Mapping[str, Any],
        items_total: Any,
        stop: Callable[[], None] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.manifest = dict(manifest)
        self.meta_columns = list(manifest["meta_columns"])
        self.score_columns = list(manifest["score_columns"])
        self.data = str(manifest["data"])
        self._items_total = items_total
        self._stop = stop
        self.rows = 0
        self.batches: list[list[int]] = []
        self._tmp: Path | None = None
        self._sink: Any = None

    def __enter__(self) -> PartWriter:
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(
            tempfile.mkdtemp(prefix=temporary_prefix(self.folder.name), suffix=".tmp", dir=self.folder.parent)
        )
        try:
            if self.data in ("tsv", "tsvgz"):
                self._sink = open(self._tmp / DATA_FILES[self.data][0], "wb")  # noqa: SIM115 (closed in __exit__)
            elif self.data in ("npy", "npyt"):
                transposed = self.data == "npyt"
                self._sink = (
                    NpyRowWriter(
                        self._tmp / ("scores_t.npy" if transposed else "scores.npy"),
                        () if transposed else (len(self.score_columns),),
                    ),
                    open(self._tmp / "meta.jsonl", "w", encoding="utf-8"),  # noqa: SIM115
                )
            else:
                self._sink = ParquetSink(self._tmp / "part.parquet", self.meta_columns, self.score_columns)
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        return self

    def write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        """Append one batch of rows: ``meta_rows[i]`` the leading values, ``scores[i]`` the scores.

        Args:
            meta_rows: the rows' leading values.
            scores: (rows, score columns) float32.
        """
        if len(meta_rows) != len(scores) or scores.shape[1:] != (len(self.score_columns),):
            raise ValueError(f"got {len(meta_rows)} meta rows and scores of shape {scores.shape}")
        if self._stop is not None:
            self._stop()
        if not len(meta_rows):
            return
        size = 0
        if self.data == "tsv":
            columns = [text_column(c) for c in rows_to_columns(meta_rows, len(self.meta_columns))]
            for block in tsv_blocks(columns, scores):
                self._sink.write(block)
                size += len(block)
        elif self.data == "tsvgz":  # (the batch's member, as the single run's TSV writer makes it)
            columns = [text_column(c) for c in rows_to_columns(meta_rows, len(self.meta_columns))]
            member = gzip_member(tsv_blocks(columns, scores))
            self._sink.write(member)
            size = len(member)
        elif self.data in ("npy", "npyt"):  # (npyt: the batch column by column)
            self._sink[0].append(scores if self.data == "npy" else np.asarray(scores, np.float32).T.ravel())
            self._sink[1].write(json.dumps([list(row) for row in meta_rows], default=_plain) + "\n")
        else:
            self._sink.write(rows_to_columns(meta_rows, len(self.meta_columns)), scores)
        self.batches.append([len(meta_rows), size])
        self.rows += len(meta_rows)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._tmp is not None
        try:
            self._close(ok=exc_type is None)
            if exc_type is None:
                manifest = {**self.manifest, "rows": self.rows, "batches": self.batches}
                manifest["items_total"] = int(self._items_total())
                with open(self._tmp / MANIFEST, "w", encoding="utf-8") as f:
                    json.dump(manifest, f, indent=1)
                    f.write("\n")
                _publish(self._tmp, self.folder)
        finally:
            if self._tmp.exists():
                shutil.rmtree(self._tmp, ignore_errors=True)

    def _close(self, ok: bool) -> None:
        if self.data in ("tsv", "tsvgz"):
            self._sink.close()
        elif self.data in ("npy", "npyt"):
            self._sink[1].close()
            self._sink[0].close()
        else:
            self._sink.close(ok)


def _plain(value: Any) -> Any:
    """A numpy scalar among the leading values as the Python value it stands for."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"a leading value of type {type(value).__name__} cannot be kept in a part")


def _publish(tmp: Path, folder: Path) -> None:
    """Rename the finished ``tmp`` to ``folder``, replacing an earlier part there (only a
    folder with a part manifest, that is, what zoo-predict wrote)."""
    if folder.exists():
        if not (folder / MANIFEST).is_file() and any(folder.iterdir()):
            raise PredictError(
                f"{os.fspath(folder)!r} exists and is not a zoo-predict part; not replaced (move it away)"
            )
        old = folder.with_name(f"{temporary_prefix(folder.name)}old.tmp")
        os.rename(folder, old)
        os.rename(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
        return
    os.rename(tmp, folder)


def part_folders(paths: Sequence[PathLike]) -> list[Path]:
    """The part folders that ``paths`` name: each a part folder, or a folder of parts (every
    ``part-*-of-*`` in it), in share order; a PredictError when there are none.

    Args:
        paths: part folders and folders holding them.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if (path / MANIFEST).is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.iterdir() if _NAME.fullmatch(p.name) and p.is_dir())
        else:
            raise PredictError(f"part {os.fspath(path)!r} does not exist or is not a folder")
    if not found:
        raise PredictError(f"no parts in {', '.join(map(os.fspath, paths))} (folders named part-I-of-N)")
    return found


def remove_parts(folders: Sequence[PathLike]) -> None:
    """Delete finished part folders (after their rows went into the output), and the folder
    holding them when that leaves it empty.

    Args:
        folders: part folders (each with its manifest: nothing else is touched).
    """
    parents = set()
    for folder in map(Path, folders):
        if (folder / MANIFEST).is_file():
            shutil.rmtree(folder)
            parents.add(folder.parent)
    for parent in parents:
        with contextlib.suppress(OSError):  # something else is in it
            parent.rmdir()
