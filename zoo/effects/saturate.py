"""Every single-base change of genome regions, scored as variants, written as a bgzipped,
tabix-indexed table that genome tools can query (``tabix snvs.tsv.gz chr1:1000-1010``).

Each position p of a region whose base is A, C, G or T gets three rows (one per other base),
scored exactly as the same SNV from a VCF: the window of the model's length with the variant
at index ``seq_len // 2 - 1`` (:func:`zoo.predict.inputs.variants.allele_windows`).
Positions whose base is not A, C, G, T, or whose window runs off the contig, get no rows.

Where the model has the exact band ISM (:mod:`zoo.interpret.ism`: DeepSEA, Beluga, Basset
and their shapes) and the strands are not combined by the scorer, the reference window is
run once and the three changes at its variant index by the band method (which recomputes
only what a one-base change reaches); otherwise the reference and the three alternative
windows go through the model (4 windows for 3 SNVs, where a VCF takes 6).

Table: ``#chrom``, ``pos`` (1-based), ``ref``, ``alt``, then the score columns of the
:class:`~zoo.effects.scoring.VariantScoring` (``%.6g``); rows in genome order.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo._io.bgzf import BGZFWriter
from zoo._types import PathLike
from zoo.effects.scoring import StrongestRows, VariantScoring
from zoo.predict.errors import PredictError
from zoo.predict.inputs.genome import Genome
from zoo.predict.inputs.regions import Region, read_regions
from zoo.predict.inputs.variants import variant_position
from zoo.predict.outputs.staged import StagedWriter, stage_path
from zoo.predict.outputs.textformat import tsv_rows
from zoo.predict.outputs.writers import require_output_path, write_error
from zoo.predict.running.run import RunSummary
from zoo.predict.running.scorer import Scorer

BASES = "ACGT"
META = ["chrom", "pos", "ref", "alt"]
MAX_POSITIONS = 50_000_000


class SaturationTable(StagedWriter):
    """The bgzipped table and its tabix index, written under temporary names and renamed
    together when complete (nothing is left after an error).

    Args:
        path: the table (``.tsv.gz``); the index is ``path + ".tbi"``.
        columns: the score columns.
        overwrite: replace a read-only file.
    """

    def __init__(self, path: PathLike, columns: Sequence[str], overwrite: bool = False) -> None:
        self.path = require_output_path(path, overwrite)
        self.columns, self.overwrite, self.rows = list(columns), overwrite, 0
        super().__init__()

    def _stage(self, stack: contextlib.ExitStack) -> None:
        self._tmp = stage_path(stack, self.path, ".tsv.gz", self.overwrite)
        self._tmp_index = stage_path(stack, f"{self.path}.tbi", ".tbi", self.overwrite)
        self._out = stack.enter_context(BGZFWriter(os.fspath(self._tmp), "wb"))
        self._out.write(("#" + "\t".join(META + self.columns) + "\n").encode("utf-8"))

    def write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        """Append rows (chrom, pos, ref, alt) with their scores, in genome order."""
        texts = tsv_rows([], scores).decode("ascii").split("\n") if self.columns else [""] * len(meta_rows)
        lines = [
            "\t".join(map(str, meta)) + ("\t" + text if self.columns else "") + "\n"
            for meta, text in zip(meta_rows, texts)
        ]
        try:
            self._out.write("".join(lines).encode("utf-8"))
        except OSError as err:
            raise write_error(self.path, err) from None
        self.rows += len(meta_rows)

    def _finish(self) -> None:
        import pysam

        try:
            self._out.close()
            pysam.tabix_index(
                os.fspath(self._tmp),
                seq_col=0,
                start_col=1,
                end_col=1,
                meta_char="#",
                zerobased=False,
                index=os.fspath(self._tmp_index),
                force=True,
            )
        except OSError as err:
            raise write_error(self.path, err) from None


def _positions(
    genome: Genome, regions: Sequence[Region], seq_len: int
) -> Iterator[tuple[str, int, str, str]]:
    """(chrom, 1-based pos, ref base, reference window) of every position that can be scored."""
    c = variant_position(seq_len)
    for region in regions:
        length = genome.lengths[region.chrom]
        first, last = max(region.start, c), min(region.end, length - seq_len + c + 1)
        for p in range(first, last):
            window = genome.fetch(region.chrom, p - c, p - c + seq_len)
            ref = window[c].upper()
            if ref in BASES:
                yield region.chrom, p + 1, ref, window


def _batched(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _SNVLogits:
    """Logits (3n, 2, T) of the three SNVs at the variant index of n reference windows."""

    def __init__(self, model: nn.Module, scorer: Scorer) -> None:
        from zoo.interpret._band import supports_band_ism

        self.scorer, self.c = scorer, variant_position(scorer.seq_len)
        self.ism = None
        if scorer.rc == "none" and supports_band_ism(model):
            from zoo.interpret.ism import prepare_ism

            self.ism = prepare_ism(
                model,
                None,
                device=scorer.device,
                n_value=scorer.n_value,
                method="band",
                start=self.c,
                end=self.c + 1,
                batch_size=max(3, scorer.batch_size),
            )

    @property
    def method(self) -> str:
        """``band`` or ``model`` (whole windows)."""
        return "band" if self.ism is not None else "model"

    def __call__(self, windows: list[str], refs: list[str]) -> torch.Tensor:
        alts = [[b for b in BASES if b != ref] for ref in refs]
        if self.ism is not None:
            result = self.ism(windows)
            reference = result.reference  # (n, T)
            delta = result.delta[:, 0]  # (n, 4, T)
            rows = []
            for i, others in enumerate(alts):
                for b in others:
                    rows.append(torch.stack([reference[i], reference[i] + delta[i, BASES.index(b)]]))
            return torch.stack(rows)
        c = self.c
        mutants = [w[:c] + b + w[c + 1 :] for w, others in zip(windows, alts) for b in others]
        logits = self.scorer.logits(self.scorer.encode(windows + mutants)).float().cpu()
        n = len(windows)
        reference = logits[:n].repeat_interleave(3, dim=0)
        return torch.stack([reference, logits[n:]], dim=1)


def saturate_regions(
    model: nn.Module,
    scorer: Scorer,
    scoring: VariantScoring,
    genome: PathLike,
    out: PathLike,
    *,
    regions: Sequence[str] = (),
    bed: PathLike | None = None,
    progress: bool = False,
    overwrite: bool = False,
    strongest: StrongestRows | None = None,
) -> RunSummary:
    """Score every SNV of ``regions`` (``chr:start-end`` strings, 1-based inclusive) and
    ``bed`` and write the tabix-indexed table ``out``.

    Args:
        model: the DNA model.
        scorer: a Scorer of every model target (device, strands, N's value, batch size).
        scoring: the scores (variant scores: seqclass, per-target, evalue ...).
        genome: the FASTA genome.
        out: the table (``.tsv.gz``).
        regions: region strings.
        bed: a BED file of regions.
        progress: show a progress bar (positions).
        overwrite: replace a read-only output.
        strongest: keeps the strongest rows (for pictures).

    Returns:
        the rows written (three per scored position).
    """
    from tqdm import tqdm

    if not scoring.variants:
        raise PredictError("--saturate scores variants: use variant scores")
    fasta = Genome(genome)
    try:
        placed, _ = read_regions(genome, fasta.lengths, regions, bed)
        total = sum(r.end - r.start for r in placed)
        if total > MAX_POSITIONS:
            raise PredictError(
                f"--saturate: the regions hold {total:,} bp; at most {MAX_POSITIONS:,} at once"
            )
        snv_logits = _SNVLogits(model, scorer)
        columns = scoring.columns()
        per_batch = max(1, scorer.batch_size // 2)
        with (
            SaturationTable(out, columns, overwrite) as table,
            tqdm(total=total, unit=" bp", file=sys.stderr, disable=not progress, desc="zoo-predict") as bar,
            torch.inference_mode(),
        ):
            for batch in _batched(_positions(fasta, placed, scorer.seq_len), per_batch):
                chroms, positions, refs, windows = zip(*batch)
                logits = snv_logits(list(windows), list(refs))
                values = scoring.table(logits).astype(np.float32)
                meta = [
                    (chrom, pos, ref, b)
                    for chrom, pos, ref in zip(chroms, positions, refs)
                    for b in BASES
                    if b != ref
                ]
                table.write(meta, values)
                if strongest is not None:
                    strongest.add(columns, meta, values)
                bar.update(len(batch))
            if table.rows == 0:
                raise PredictError("--saturate: no position of the regions could be scored")
            rows = table.rows
    finally:
        fasta.close()
    return RunSummary(rows=rows)
