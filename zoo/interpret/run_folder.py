"""zoo-interpret's output folder, written batch by batch: ism.npy, TF-MoDISco's .npz inputs,
index.tsv.

The arrays of every batch are streamed into the folder as they come, so memory stays that of
a batch: ism.npy as it stays, the one-hot windows and hypothetical contributions as hidden
``.npy`` files that :meth:`InterpretOutputs.finish` makes into the compressed ``.npz`` files
TF-MoDISco reads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo._io.npy import NpyRowWriter
from zoo.interpret.modisco import save_modisco_inputs


class InterpretOutputs:
    """The arrays of one interpretation run, streamed into ``folder``.

    Args:
        folder: an existing empty folder to write into.
        methods: ``"ism"`` and the attribution methods, each once.
        n_targets: the targets interpreted (one set of attributions each).
        seq_len: the length of the model's input windows.
        ism_span: (start, end) when ISM covers window positions [start, end) only: ism.npy
            then has end - start positions, and index.tsv says which in a second header line
            ``#ism_positions<TAB>start<TAB>end``; None: every position.
    """

    def __init__(
        self,
        folder: Path,
        methods: list[str],
        n_targets: int,
        seq_len: int,
        ism_span: tuple[int, int] | None = None,
    ) -> None:
        self.folder = folder
        self.n_targets = n_targets
        self.ism_span = ism_span
        ism_len = seq_len if ism_span is None else ism_span[1] - ism_span[0]
        self.ohe = NpyRowWriter(folder / ".ohe.npy", (4, seq_len))
        self.ism = NpyRowWriter(folder / "ism.npy", (ism_len, 4, n_targets)) if "ism" in methods else None
        self.hyp = {
            m: [NpyRowWriter(folder / f".{m}.{k}.npy", (4, seq_len)) for k in range(n_targets)]
            for m in methods
            if m != "ism"
        }
        self.meta: list[tuple] = []

    def attribution_name(self, method: str, k: int) -> str:
        """The file of one method's attributions for one target: ``<method>.npz`` when there is
        one target, else ``<method>.<k>.npz``.

        Args:
            method: the attribution method.
            k: the target's place among index.tsv's targets.
        """
        return f"{method}.npz" if self.n_targets == 1 else f"{method}.{k}.npz"

    def finish(self, meta_columns: list[str], targets: list[str]) -> dict[str, Any]:
        """Complete ohe.npz, <method>.npz (hypothetical contributions), ism.npy and index.tsv;
        returns the arrays (memory-mapped) by name, for pictures.

        Args:
            meta_columns: the names of index.tsv's columns after ``row``.
            targets: the names of the interpreted targets, in order.
        """
        arrays: dict[str, Any] = {"ohe": self.ohe.close()}
        if self.ism is not None:
            arrays["ism"] = self.ism.close()
        for method, per_target in self.hyp.items():
            arrays[method] = []
            for k, rows in enumerate(per_target):
                hyp = rows.close()
                save_modisco_inputs(
                    arrays["ohe"],
                    hyp,
                    self.folder / "ohe.npz",
                    self.folder / self.attribution_name(method, k),
                )
                arrays[method].append(hyp)
        if not self.hyp:
            with open(self.folder / "ohe.npz", "wb") as f:
                np.savez_compressed(f, arrays["ohe"])
        with open(self.folder / "index.tsv", "w", encoding="utf-8", newline="\n") as f:
            f.write("#targets\t" + "\t".join(targets) + "\n")
            if self.ism_span is not None and self.ism is not None:
                f.write(f"#ism_positions\t{self.ism_span[0]}\t{self.ism_span[1]}\n")
            f.write("\t".join(["row", *meta_columns]) + "\n")
            for row, meta in enumerate(self.meta):
                f.write("\t".join(map(str, (row, *meta))) + "\n")
        return arrays

    def remove_staging(self) -> None:
        """Delete the hidden .npy files that became .npz files."""
        for rows in [self.ohe, *(r for per_target in self.hyp.values() for r in per_target)]:
            os.unlink(rows.path)


def record_label(meta_columns: Sequence[str], meta: Sequence[Any]) -> str:
    """What names a record of index.tsv for a person: a FASTA record's name, a BED interval's name
    (else ``chrom:start-end``), a variant's ID (else ``chrom:pos REF>ALT``).

    Args:
        meta_columns: index.tsv's columns after ``row`` (those of the input's job).
        meta: the record's values in those columns.
    """
    values = dict(zip(meta_columns, meta))
    if "id" in values:  # a VCF record
        if str(values["id"]) not in ("", "."):
            return str(values["id"])
        return f"{values['chrom']}:{values['pos']} {values['ref']}>{values['alt']}"
    if "chrom" in values:  # a BED interval
        if str(values.get("name", ".")) not in ("", "."):
            return str(values["name"])
        return f"{values['chrom']}:{values['start']}-{values['end']}"
    return str(values.get("name", meta[0]))
