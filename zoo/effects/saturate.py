"""Every single-base change of genome regions, scored as variants, written as a bgzipped,
tabix-indexed table that genome tools can query (``tabix snvs.tsv.gz chr1:1000-1010``).

Each position p of a region whose base is A, C, G or T gets three rows (one per other base),
scored exactly as the same SNV from a VCF: the window of the model's length with the variant
at index ``seq_len // 2 - 1`` (:func:`zoo.predict.inputs.variants.allele_windows`).
Positions whose base is not A, C, G, T, or whose window runs off the contig, get no rows.

For the convolutional families (a plan of valid convolutions, pools, activations, then dense
layers) with the scorer's ``rc`` none, the windows share their computation
(:mod:`zoo.effects._shared_windows`: one convolution stack per phase, the SNV's change
carried through the fixed centre band); other models run the reference and the three
alternative windows whole through the scorer (4 windows for 3 SNVs, where a VCF takes 6).

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
from zoo.effects._shared_windows import SharedWindowSNVs, shared_plan
from zoo.effects.scoring import StrongestRows, VariantScoring
from zoo.predict.errors import PredictError
from zoo.predict.inputs.genome import Genome
from zoo.predict.inputs.regions import Region, read_regions
from zoo.predict.inputs.variants import variant_position
from zoo.predict.outputs.staged import StagedWriter, stage_path
from zoo.predict.outputs.textformat import text_column, tsv_rows
from zoo.predict.outputs.writers import require_output_path, write_error
from zoo.predict.running.run import RunSummary
from zoo.predict.running.scorer import Scorer

BASES = "ACGT"
META = ["chrom", "pos", "ref", "alt"]
MAX_POSITIONS = 50_000_000
# zlib level of the table: level 2 compresses the numbers' text about 7x faster than the
# default 6, into blocks about 10% larger
_LEVEL = 2


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
        self._out = stack.enter_context(
            BGZFWriter(os.fspath(self._tmp), "wb", level=_LEVEL, threads=torch.get_num_threads())
        )
        self._out.write(("#" + "\t".join(META + self.columns) + "\n").encode("utf-8"))

    def write(self, meta_rows: Sequence[tuple[Any, ...]], scores: np.ndarray) -> None:
        """Append rows (chrom, pos, ref, alt) with their scores, in genome order."""
        if not len(meta_rows):
            return
        columns = [text_column(list(values)) for values in zip(*meta_rows)]
        try:
            self._out.write(tsv_rows(columns, scores if self.columns else scores[:, :0]))
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


class _SNVLogits:
    """Logits (3n, 2, T) of the three SNVs of every scorable position of a genome stretch:
    by shared windows (:mod:`zoo.effects._shared_windows`) where the model's plan allows it
    and the scorer does not combine strands itself, else by whole windows through the scorer
    (the reference and the three alternatives: 4 windows for 3 SNVs)."""

    def __init__(self, model: nn.Module, scorer: Scorer) -> None:
        self.scorer, self.c = scorer, variant_position(scorer.seq_len)
        self.shared = None
        if scorer.rc == "none" and shared_plan(model) is not None:
            self.shared = SharedWindowSNVs(model, scorer.device, scorer.n_value)

    @property
    def method(self) -> str:
        """``shared`` or ``model`` (whole windows)."""
        return "shared" if self.shared is not None else "model"

    @property
    def period(self) -> int:
        """Positions a chunk is a multiple of (the windows that share their stack are this far apart)."""
        return self.shared.period if self.shared is not None else 1

    def chunk(
        self, genome: Genome, chrom: str, first: int, last: int
    ) -> tuple[list[int], list[str], torch.Tensor]:
        """(1-based positions, reference bases, logits (3n, 2, T)) of the scorable positions
        among the 0-based [first, last), every window inside the contig; in genome order."""
        c, seq_len = self.c, self.scorer.seq_len
        if self.shared is None:
            windows = [genome.fetch(chrom, p - c, p - c + seq_len) for p in range(first, last)]
            kept = [(p, w) for p, w in zip(range(first, last), windows) if w[c].upper() in BASES]
            if not kept:
                return [], [], torch.zeros(0)
            refs = [w[c].upper() for _, w in kept]
            mutants = [w[:c] + b + w[c + 1 :] for (_, w), r in zip(kept, refs) for b in BASES if b != r]
            logits = self.scorer.logits(self.scorer.encode([w for _, w in kept] + mutants)).float().cpu()
            n = len(kept)
            pairs = torch.stack([logits[:n].repeat_interleave(3, dim=0), logits[n:]], dim=1)
            return [p + 1 for p, _ in kept], refs, pairs
        # phase f holds the positions first + f + period * j; phases of equal count run together
        period, n = self.shared.period, last - first
        positions: list[int] = []
        centres: list[str] = []
        parts = []
        for count in sorted({-(-(n - f) // period) for f in range(min(period, n))}, reverse=True):
            phases = [f for f in range(min(period, n)) if -(-(n - f) // period) == count]
            span = seq_len + period * (count - 1)
            longs = [genome.fetch(chrom, first + f - c, first + f - c + span) for f in phases]
            bases = [long[c + period * j].upper() for long in longs for j in range(count)]
            positions += [first + f + period * j for f in phases for j in range(count)]
            centres += bases
            refs = [r if r in BASES else "A" for r in bases]  # non-bases are scored, then dropped
            parts.append(self.shared.snv_logits(longs, count, refs).view(len(bases), 3, 2, -1))
        logits = torch.cat(parts)
        order = [i for i in sorted(range(len(positions)), key=positions.__getitem__) if centres[i] in BASES]
        if not order:
            return [], [], torch.zeros(0)
        return (
            [positions[i] + 1 for i in order],
            [centres[i] for i in order],
            logits[torch.tensor(order)].flatten(0, 1),
        )


def _chunks(
    genome: Genome, regions: Sequence[Region], seq_len: int, size: int
) -> Iterator[tuple[str, int, int]]:
    """(chrom, first, last): 0-based spans of at most ``size`` positions whose windows fit."""
    c = variant_position(seq_len)
    for region in regions:
        length = genome.lengths[region.chrom]
        first, last = max(region.start, c), min(region.end, length - seq_len + c + 1)
        for a in range(first, last, size):
            yield region.chrom, a, min(a + size, last)


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
        # positions a chunk: a multiple of the shared windows' period, about a batch of windows
        size = snv_logits.period * max(1, scorer.batch_size // 4)
        with (
            SaturationTable(out, columns, overwrite) as table,
            tqdm(total=total, unit=" bp", file=sys.stderr, disable=not progress, desc="zoo-predict") as bar,
            torch.inference_mode(),
        ):
            for chrom, first, last in _chunks(fasta, placed, scorer.seq_len, size):
                positions, refs, logits = snv_logits.chunk(fasta, chrom, first, last)
                if positions:
                    values = scoring.table(logits).astype(np.float32)
                    meta = [
                        (chrom, pos, ref, b) for pos, ref in zip(positions, refs) for b in BASES if b != ref
                    ]
                    table.write(meta, values)
                    if strongest is not None:
                        strongest.add(columns, meta, values)
                bar.update(last - first)
            if table.rows == 0:
                raise PredictError("--saturate: no position of the regions could be scored")
            rows = table.rows
    finally:
        fasta.close()
    return RunSummary(rows=rows)
