"""The files a zoo-predict run reads, and the check that its output is none of them (shared by
the plain scoring path and the variant-effect scores)."""

from __future__ import annotations

import argparse
import os

from zoo._io.writing import same_file_as
from zoo.predict.errors import PredictError
from zoo.predict.inputs.fastx import STDIN


def input_files(ns: argparse.Namespace) -> dict[str, str | None]:
    """Every file the run reads, by option: the output must be none of them.

    Args:
        ns: the parsed zoo-predict command line.
    """
    fasta = "/dev/stdin" if ns.fasta == STDIN else ns.fasta  # stdin may be a file: --out x < x
    files = {"--fasta": fasta, "--genome": ns.genome, "--bed": ns.bed, "--vcf": ns.vcf}
    files |= {"--labels": ns.labels, "--weights": ns.weights}
    if ns.genome:  # the indexes pysam reads beside the genome and the VCF
        files |= {"genome index": f"{ns.genome}.fai", "genome block index": f"{ns.genome}.gzi"}
    if ns.vcf:
        files |= {"VCF index": f"{ns.vcf}.tbi", "VCF CSI index": f"{ns.vcf}.csi"}
    files["--regions"] = next((r for r in ns.regions or () if os.path.isfile(r)), None)
    return files


def refuse_input_as_output(out: str, ns: argparse.Namespace, what: str = "--out") -> None:
    """A PredictError when writing ``out`` would replace one of the run's inputs.

    Args:
        out: the path the run would write.
        ns: the parsed zoo-predict command line.
        what: how the error names ``out``.
    """
    inputs = input_files(ns)
    clash = same_file_as(out, inputs)
    if clash is not None:
        raise PredictError(
            f"{what} {out!r} is the same file as {clash} {inputs[clash]!r}: it would be "
            "overwritten; write the table elsewhere"
        )
