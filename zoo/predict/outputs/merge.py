"""Parts (:mod:`zoo.predict.outputs.parts`) joined into the output one process would have written.

The parts' manifests must agree (same inputs, weights, conventions and columns) and make a
whole set (every share of the count once, each with the rows its groups hold); anything
else is a one-line PredictError naming the parts. The batches are then taken back in
input order (group ``g`` from part ``g % N``) and

- for a TSV output, their bytes are copied as they are (``copy_file_range`` where the
  file system has it): a ``.tsv`` output's text, a ``.tsv.gz`` output's gzip members (one
  a batch, as the single run compresses them: nothing is compressed again),
- for Parquet, HDF5 and an annotated VCF, each batch is handed to that output's writer as
  the single run handed it, so the file is the same, byte for byte.

The output appears when it is complete (:func:`zoo._io.writing.atomic_path`); the parts
are left for the caller to remove.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from zoo._io.writing import ReadOnlyOutputError, atomic_path
from zoo._types import PathLike
from zoo.predict.errors import PredictError
from zoo.predict.outputs.columnar import gunzip_member, gzip_member, open_text_table
from zoo.predict.outputs.parts import DATA_FILES, fingerprint, part_name, read_manifest, same_run
from zoo.predict.outputs.writers import open_writer, require_output_path, write_error

_COPY = 1 << 24  # bytes copied at a time


def check_parts(folders: Sequence[PathLike]) -> list[dict[str, Any]]:
    """The manifests of ``folders`` ordered by share, after checking that they make one whole
    output: a PredictError naming the parts that disagree, a share that is missing or twice,
    or a part whose rows do not fill its groups.

    Args:
        folders: part folders.
    """
    found = [(Path(f), read_manifest(f)) for f in folders]
    first_path, first = found[0]
    for path, manifest in found[1:]:
        differ = same_run(first, manifest)
        if differ:
            raise PredictError(
                f"parts {os.fspath(first_path)!r} and {os.fspath(path)!r} were not made by one run "
                f"(they differ in {', '.join(differ)}); merge the parts of one run only"
            )
    count = int(first["share"][1])
    by_share: dict[int, tuple[Path, dict[str, Any]]] = {}
    for path, manifest in found:
        index = int(manifest["share"][0])
        if index in by_share:
            raise PredictError(
                f"share {index} of {count} is given twice: {os.fspath(by_share[index][0])!r} and "
                f"{os.fspath(path)!r}"
            )
        by_share[index] = (path, manifest)
    missing = [part_name(i, count) for i in range(count) if i not in by_share]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise PredictError(
            f"{len(missing)} of {count} shares missing: {shown} (in {os.fspath(first_path.parent)!r}); "
            "score them (--shard I/N) before merging"
        )
    totals = {int(m["items_total"]) for _, m in found}
    if len(totals) > 1:
        raise PredictError(f"the parts counted different numbers of input rows: {sorted(totals)}")
    total = totals.pop()
    manifests = [by_share[i][1] for i in range(count)]
    for index, manifest in enumerate(manifests):
        want = expected_rows(index, count, int(manifest["group_items"]), total)
        if manifest["rows"] != want:
            raise PredictError(
                f"part {os.fspath(by_share[index][0])!r} holds {manifest['rows']} rows; its share of "
                f"{manifest['items_total']} rows has {want}: it is not a whole share"
            )
    return manifests


def expected_rows(index: int, count: int, group_items: int, total: int) -> int:
    """The rows of share ``index`` of ``count`` when the input has ``total`` rows.

    Args:
        index: the share.
        count: the number of shares.
        group_items: rows per group.
        total: the input's rows.
    """
    groups = -(-total // group_items)
    return sum(min(group_items, total - g * group_items) for g in range(index, groups, count))


def batch_order(manifests: Sequence[dict[str, Any]]) -> Iterator[tuple[int, int]]:
    """(part, batch) in input order: group ``g`` of the input is the next batches of part
    ``g % N`` whose rows make the group's size.

    Args:
        manifests: the parts' manifests, in share order (:func:`check_parts`).
    """
    count = len(manifests)
    group_items, total = int(manifests[0]["group_items"]), int(manifests[0]["items_total"])
    cursors = [0] * count
    for g in range(-(-total // group_items)):
        part, want, got = g % count, min(group_items, total - g * group_items), 0
        batches = manifests[part]["batches"]
        while got < want:
            if cursors[part] >= len(batches):
                raise PredictError(f"{part_name(part, count)}: its batches end inside group {g}")
            got += int(batches[cursors[part]][0])
            yield part, cursors[part]
            cursors[part] += 1
        if got != want:
            raise PredictError(f"{part_name(part, count)}: a batch runs past the end of group {g}")


def merge_parts(
    folders: Sequence[PathLike],
    out: PathLike,
    *,
    overwrite: bool = False,
    progress: bool = False,
    vcf: PathLike | None = None,
) -> int:
    """Join the parts in ``folders`` into ``out``, the output a single process would have written
    (byte for byte); returns its rows.

    Args:
        folders: part folders, one per share, in any order.
        out: the output: .tsv/.tsv.gz for text parts; .parquet, .h5, .tsv, or .vcf/.vcf.gz (a
            variant run's parts) for the others; the folder of the tracks for a --regions run's.
        overwrite: replace a read-only ``out``.
        progress: show a progress bar on stderr.
        vcf: the input VCF a VCF output annotates (default: the one the parts were made from,
            whose fingerprint it must still have).
    """
    from tqdm import tqdm

    ordered = sorted(map(Path, folders), key=lambda f: int(read_manifest(f)["share"][0]))
    manifests = check_parts(ordered)
    first = manifests[0]
    data, name = first["data"], os.fspath(out)
    if data == "parquet":
        raise PredictError(
            "these parts are an --out-parts Parquet data set: read the folder as one table "
            "(pyarrow.dataset, DuckDB, Spark) instead of merging it"
        )
    if first["output"].startswith("tracks-") and Path(name).is_file():
        raise PredictError(f"--out {name!r} is a file; these parts are tracks, which go into a folder")
    text_name = name.endswith((".tsv", ".tsv.gz", ".txt", ".txt.gz")) or _text_target(name)
    if data in ("tsv", "tsvgz") and not text_name:
        raise PredictError(
            f"--out {name!r}: these parts hold TSV text (made for a {first['output']} output); merge them "
            "into a .tsv or .tsv.gz"
        )
    total = int(first["items_total"])
    with tqdm(total=total, unit=" rows", file=sys.stderr, disable=not progress, desc="merge") as bar:
        if data in ("tsv", "tsvgz"):
            _merge_text(ordered, manifests, out, overwrite, bar)
        else:
            _merge_rows(ordered, manifests, out, overwrite, bar, vcf)
    return total


def _text_target(name: str) -> bool:
    """Whether ``name`` is a pipe or device (which gets TSV streamed into it)."""
    try:
        return not Path(name).is_file() and Path(name).exists()
    except OSError:
        return False


def _merge_text(
    folders: Sequence[Path], manifests: Sequence[dict[str, Any]], out: PathLike, overwrite: bool, bar: Any
) -> None:
    """The header, then every batch's bytes in input order: copied as they are when the parts
    hold what the output holds (text, or gzip members), else each batch compressed (or
    decompressed) as the single run's writer does it."""
    path = require_output_path(out, overwrite)
    compress = os.fspath(path).endswith(".gz")
    data = manifests[0]["data"]
    same = (data == "tsvgz") == compress  # the parts' bytes are the output's
    header = ("\t".join([*manifests[0]["meta_columns"], *manifests[0]["score_columns"]]) + "\n").encode()
    offsets = [np.concatenate([[0], np.cumsum([b[1] for b in m["batches"]])]) for m in manifests]
    sources = [open(f / DATA_FILES[data][0], "rb") for f in folders]  # noqa: SIM115 (closed below)
    try:
        with _staged(path, overwrite) as tmp, open_text_table(tmp) as target:
            try:
                target.write(gzip_member([header]) if compress else header)
                target.flush()
                run: tuple[int, int, int] | None = None  # (part, start, end) of bytes to copy next
                for part, batch in batch_order(manifests):
                    start, end = int(offsets[part][batch]), int(offsets[part][batch + 1])
                    if not same:
                        _convert(sources[part], target, start, end, compress)
                    elif run is not None and run[0] == part and run[2] == start:
                        run = (part, run[1], end)
                    else:
                        if run is not None:
                            _copy(sources[run[0]], target, run[1], run[2])
                        run = (part, start, end)
                    bar.update(manifests[part]["batches"][batch][0])
                if run is not None:
                    _copy(sources[run[0]], target, run[1], run[2])
            except OSError as err:
                raise write_error(path, err) from None
    finally:
        for source in sources:
            source.close()


def _convert(source: IO[bytes], target: IO[bytes], start: int, end: int, compress: bool) -> None:
    """Bytes ``start`` to ``end`` of ``source``, one batch, appended to ``target`` as one gzip
    member (``compress``: the part holds text) or as text (the part holds the member)."""
    source.seek(start)
    data = source.read(end - start)
    if len(data) != end - start:
        raise PredictError(f"part file {source.name!r} is shorter than its manifest says")
    if compress:
        target.write(gzip_member([data]))
        return
    try:
        target.write(gunzip_member(data))
    except (ValueError, zlib.error):
        raise PredictError(
            f"part file {source.name!r} is damaged: a batch is not a whole gzip member"
        ) from None


def _copy(source: IO[bytes], target: IO[bytes], start: int, end: int) -> None:
    """Bytes ``start`` to ``end`` of ``source`` appended to ``target`` (in the kernel, where it
    can; ``target`` is flushed)."""
    while start < end:
        try:
            done = os.copy_file_range(source.fileno(), target.fileno(), end - start, start)
        except (AttributeError, OSError):  # no copy_file_range here, or not between these files
            break
        if done == 0:
            break
        start += done
    source.seek(start)
    while start < end:
        block = source.read(min(_COPY, end - start))
        if not block:
            raise PredictError(f"part file {source.name!r} is shorter than its manifest says")
        target.write(block)
        start += len(block)
    target.flush()


class _staged:
    """``atomic_path`` with zoo-predict's message for an output that cannot be written."""

    def __init__(self, path: Path, overwrite: bool) -> None:
        self._context = atomic_path(path, overwrite_readonly=overwrite)
        self._path = path

    def __enter__(self) -> Path:
        try:
            return self._context.__enter__()
        except ReadOnlyOutputError:
            raise PredictError(
                f"--out {os.fspath(self._path)!r} is a read-only file; pass --overwrite to replace it"
            ) from None

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)


def _merge_rows(
    folders: Sequence[Path],
    manifests: Sequence[dict[str, Any]],
    out: PathLike,
    overwrite: bool,
    bar: Any,
    vcf: PathLike | None,
) -> None:
    """Every batch handed, in input order, to the writer of ``out``."""
    meta_columns, score_columns = manifests[0]["meta_columns"], manifests[0]["score_columns"]
    name = os.fspath(out)
    writer: Any
    if manifests[0]["output"].startswith("tracks-"):
        from zoo.predict.outputs.tracks import TrackWriter

        sizes = dict(manifests[0].get("sources", {}).get("chrom_sizes", []))
        fmt = manifests[0]["output"].removeprefix("tracks-")
        writer = TrackWriter(out, sizes, meta_columns, score_columns, fmt=fmt, overwrite=overwrite)
    elif name.endswith((".vcf", ".vcf.gz")):
        from zoo.predict.outputs.vcf import VCFWriter

        source = vcf or manifests[0].get("sources", {}).get("--vcf")
        if source is None or meta_columns[:5] != ["chrom", "pos", "id", "ref", "alt"]:
            raise PredictError(f"--out {name!r}: a VCF output needs the parts of a --vcf run")
        recorded = manifests[0]["inputs"].get("--vcf")
        if recorded is not None and fingerprint(source) != recorded:
            raise PredictError(f"the VCF {os.fspath(source)!r} is not the one the parts were scored from")
        writer = VCFWriter(source, out, meta_columns, score_columns, overwrite=overwrite)
    else:
        writer = open_writer(out, meta_columns, score_columns, overwrite=overwrite)
    transposed = manifests[0]["data"] == "npyt"  # each batch column by column, one flat array
    k = len(score_columns)
    scores = [_ScoreReader(f / ("scores_t.npy" if transposed else "scores.npy")) for f in folders]
    metas = [open(f / "meta.jsonl", encoding="utf-8") for f in folders]  # noqa: SIM115 (closed below)
    try:
        with writer:
            for part, batch in batch_order(manifests):
                n = int(manifests[part]["batches"][batch][0])
                rows = [tuple(row) for row in json.loads(metas[part].readline())]
                if len(rows) != n:
                    raise PredictError(f"part {os.fspath(folders[part])!r}: batch {batch} is damaged")
                block = scores[part].next(n * k)
                if transposed and hasattr(writer, "write_transposed"):
                    writer.write_transposed(rows, block.reshape(k, n))
                elif transposed:
                    writer.write(rows, np.ascontiguousarray(block.reshape(k, n).T))
                else:
                    writer.write(rows, block.reshape(n, k))
                bar.update(n)
    finally:
        for meta in metas:
            meta.close()
        for reader in scores:
            reader.close()


class _ScoreReader:
    """The float32 values of a part's ``.npy`` file, read in order (plain reads: faster than
    faulting a memory map in page by page)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 (closed by close)
        npy = np.lib.format
        version = npy.read_magic(self._file)
        header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        _, _, dtype = header(self._file)
        if dtype != np.dtype("<f4"):
            raise PredictError(f"part file {os.fspath(path)!r} does not hold float32 scores")
        self._path = path

    def next(self, count: int) -> np.ndarray:
        """The next ``count`` values, a new array (a writer may keep it)."""
        view = np.empty(count, np.float32)
        if self._file.readinto(memoryview(view).cast("B")) != 4 * count:
            raise PredictError(f"part file {os.fspath(self._path)!r} is shorter than its manifest says")
        return view

    def close(self) -> None:
        """Close the file."""
        self._file.close()
