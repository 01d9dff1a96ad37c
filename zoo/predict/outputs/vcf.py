"""Variant scores written back into the VCF: every input record, with one INFO field per score column.

The rows of :func:`zoo.predict.inputs.variants.variant_job` (one per ALT allele, in file order) are
matched to the input records again as they arrive; each score column becomes an INFO field
of ``Number=A`` (one value per ALT allele, ``.`` where the allele was not scored) whose key
is the column name made a legal INFO key (``diff:CTCF K562`` -> ``diff_CTCF_K562``). A
``##zoo_predict_score`` header line maps each key back to its score and target. A record with
an allele that was not scored carries the reasons in ``ZOO_STATUS`` (``ok`` for the others).

Scores are written as ``%.6g`` (``.`` where not scored). A name ending in ``.gz`` gets a
bgzip-compressed VCF and its tabix index (``.tbi``), which
needs the records sorted by position within each contig; any other name a plain VCF.
Both files appear only when everything is written.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo._io.bgzf import BGZFWriter
from zoo._io.space import require_free_space
from zoo._io.writing import same_file_as
from zoo._types import PathLike
from zoo.predict.errors import PredictError
from zoo.predict.inputs.vcf import vcf_records
from zoo.predict.outputs.staged import StagedWriter, stage_path
from zoo.predict.outputs.textformat import tsv_rows
from zoo.predict.outputs.writers import require_output_path, write_error

STATUS_KEY = "ZOO_STATUS"
_INDEX_ROOM = 1 << 20  # free bytes a tabix index is given room for (at least; a fiftieth of the VCF)
_KEY = re.compile(r"[A-Za-z_][0-9A-Za-z_.]*")
_MEANING = {
    "ref": "probability with the reference allele",
    "alt": "probability with the alternative allele",
    "diff": "p_alt - p_ref",
    "logfc": "logit(p_alt) - logit(p_ref)",
}
_META = ["chrom", "pos", "id", "ref", "alt", "status"]


def info_key(name: str) -> str:
    """``name`` as a legal VCF INFO key (``[A-Za-z_][0-9A-Za-z_.]*``): other characters become
    ``_``, and a leading digit or dot gets a ``_`` in front."""
    key = re.sub(r"[^0-9A-Za-z_.]", "_", name)
    return key if _KEY.fullmatch(key) else f"_{key}"


def info_keys(names: Sequence[str], taken: Sequence[str] = ()) -> list[str]:
    """:func:`info_key` of each name, made unique among themselves and against ``taken`` (the
    input's INFO keys) by a ``_2``, ``_3`` ... suffix."""
    used, keys = set(taken), []
    for name in names:
        key = base = info_key(name)
        k = 2
        while key in used:
            key, k = f"{base}_{k}", k + 1
        used.add(key)
        keys.append(key)
    return keys


def _quoted(text: str) -> str:
    """``text`` inside a quoted header value (VCF 4.3 escapes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class VCFWriter(StagedWriter):
    """Writes ``vcf``'s records to ``path`` with the score columns as INFO fields.

    Takes the rows of a variant job (leading columns chrom, pos, id, ref, alt, status) through
    ``write`` in file order, as :func:`zoo.predict.run_job` hands them over:
    ``run_job(job, scorer, functools.partial(VCFWriter, vcf, path))``. Each record is copied
    as text with the new fields appended to its INFO, so samples and every other field stay
    as they were (htslib's record translation would stop the process on a record whose
    contig the input's header does not declare).
    """

    def __init__(
        self,
        vcf: PathLike,
        path: PathLike,
        meta_columns: Sequence[str],
        score_columns: Sequence[str],
        overwrite: bool = False,
    ) -> None:
        if list(meta_columns) != _META:
            raise ValueError(f"VCFWriter takes a variant job's rows ({', '.join(_META)}), got {meta_columns}")
        self.vcf = vcf
        inputs = {"the input VCF": vcf, "its index": f"{os.fspath(vcf)}.tbi"}
        for output in (path, f"{os.fspath(path)}.tbi"):
            clash = same_file_as(output, inputs)
            if clash is not None:
                raise PredictError(
                    f"output {os.fspath(output)!r} is the same file as {clash} {os.fspath(inputs[clash])!r}: "
                    "it would be overwritten; write the VCF elsewhere"
                )
        self.path: Path = require_output_path(path, overwrite)
        self.overwrite = overwrite
        self.meta_columns, self.score_columns = list(meta_columns), list(score_columns)
        self.indexed = self.path.name.endswith(".gz")
        self.rows = 0
        self.keys: list[str] = []
        self.status_key = STATUS_KEY
        super().__init__()
        self._records: Iterator[Any] = iter(())
        self._record: Any = None
        self._alleles: list[tuple[str, list[str]]] = []  # (status, score texts) of the record's alleles
        self._seen: dict[str, int] = {}  # contig -> last position written (order check)
        self._last: str | None = None

    def _stage(self, stack: contextlib.ExitStack) -> None:
        header = self._header()
        suffix = ".vcf.gz" if self.indexed else ".vcf"
        self._tmp = stage_path(stack, self.path, suffix, self.overwrite)
        if self.indexed:
            self._tmp_index = stage_path(stack, f"{self.path}.tbi", ".tbi", self.overwrite)
        opener = BGZFWriter if self.indexed else open  # (Python's writes: a full disk's errno)
        self._out = stack.enter_context(opener(os.fspath(self._tmp), "wb"))
        self._out.write(str(header).encode("utf-8"))
        self._records = stack.enter_context(contextlib.closing(vcf_records(self.vcf)))

    def _header(self) -> Any:
        """The input's header, its contigs completed from the records, with the new INFO lines."""
        header, contigs = None, {}
        with contextlib.closing(vcf_records(self.vcf)) as records:
            for record in records:
                if header is None:
                    header = record.header.copy()
                contigs[record.chrom] = None
        if header is None:
            raise PredictError(f"VCF file {os.fspath(self.vcf)!r} has no variants")
        for chrom in contigs:
            if chrom not in header.contigs:  # tools that read the output expect every contig declared
                header.contigs.add(chrom)
        self.keys = info_keys(self.score_columns, taken=list(header.info))
        self.status_key = info_keys([STATUS_KEY], taken=[*header.info, *self.keys])[0]
        for key, column in zip(self.keys, self.score_columns):
            score, sep, target = column.partition(":")
            if not sep:
                score, target = "", column
            meaning = f" ({_MEANING[score]})" if score in _MEANING else ""
            text = f"zoo-predict {score or 'score'}{meaning} of target '{target}'"
            header.add_line(f"##INFO=<ID={key},Number=A,Type=Float,Description={_quoted(text)}>")
            header.add_line(f"##zoo_predict_score=<ID={key},Score={_quoted(score)},Target={_quoted(target)}>")
        header.add_line(
            f"##INFO=<ID={self.status_key},Number=.,Type=String,Description="
            '"zoo-predict: why an ALT allele was not scored (ok for those that were)">'
        )
        return header

    def write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        """Take the rows of the next alleles (file order); write each record once all its alleles are in."""
        if len(meta_rows) != len(scores) or scores.shape[1:] != (len(self.score_columns),):
            raise ValueError(f"got {len(meta_rows)} meta rows and scores of shape {scores.shape}")
        # every score as text at once (%.6g, as htslib writes floats), then split per row
        texts = tsv_rows([], scores).decode("ascii").split("\n") if self.score_columns else []
        lines = []
        for i, meta in enumerate(meta_rows):
            if self._record is None:
                self._record = next(self._records, None)
                if self._record is None:
                    raise ValueError(f"row {meta} comes after the last record of {os.fspath(self.vcf)}")
            record = self._record
            alts = record.alts or (None,)
            expected = (record.chrom, record.pos, record.ref, alts[len(self._alleles)] or ".")
            if (meta[0], meta[1], meta[3], meta[4]) != expected:
                raise ValueError(f"row {meta} does not match record {expected} of {os.fspath(self.vcf)}")
            self._alleles.append((meta[5], texts[i].split("\t") if texts else []))
            if len(self._alleles) == len(alts):
                lines.append(self._line())
        try:
            self._out.write("".join(lines).encode("utf-8"))
        except OSError as err:  # a full disk, a closed pipe
            raise write_error(self.path, err) from None
        self.rows += len(scores)

    def _line(self) -> str:
        """The text of the current record with its new INFO fields."""
        record, alleles = self._record, self._alleles
        self._record, self._alleles = None, []
        if self.indexed:
            self._check_order(record.chrom, record.pos)
        fields = str(record).rstrip("\n").split("\t")
        added = []
        if record.alts:
            for j, key in enumerate(self.keys):
                values = ["." if texts[j] == "nan" else texts[j] for _, texts in alleles]
                if values.count(".") < len(values):
                    added.append(f"{key}={','.join(values)}")
        statuses = [status for status, _ in alleles]
        if any(status != "ok" for status in statuses):
            added.append(f"{self.status_key}={','.join(statuses)}")
        if added:
            fields[7] = ";".join(added if fields[7] == "." else [fields[7], *added])
        return "\t".join(fields) + "\n"

    def _check_order(self, chrom: str, pos: int) -> None:
        """Refuse a record out of order: a tabix index needs contigs in blocks, positions rising."""
        last = self._seen.get(chrom)
        if last is not None and (pos < last or chrom != self._last):
            where = f"{chrom}:{pos} after {chrom}:{last}" if chrom == self._last else f"{chrom} twice"
            raise PredictError(
                f"VCF {os.fspath(self.vcf)!r} is not sorted ({where}); a tabix-indexed .vcf.gz needs "
                "sorted records: sort it (bcftools sort) or write a plain .vcf"
            )
        self._seen[chrom], self._last = pos, chrom

    def _finish(self) -> None:
        import pysam

        if self._record is not None or next(self._records, None) is not None:
            raise ValueError(f"fewer rows than alleles in {os.fspath(self.vcf)}")
        try:
            self._out.close()
            if self.indexed:
                index = os.fspath(self._tmp_index)
                # htslib reports a failed write of the index without its cause: room is checked
                require_free_space(self._tmp.parent, max(_INDEX_ROOM, os.path.getsize(self._tmp) // 50))
                pysam.tabix_index(os.fspath(self._tmp), preset="vcf", index=index, force=True)
        except OSError as err:  # the last block flushed: a full disk, a closed pipe
            raise write_error(self.path, err) from None
