"""``zoo-predict merge``: join the parts of ``zoo-predict --shard I/N`` runs into one output."""

from __future__ import annotations

import argparse
import sys

from zoo.cli._command import Command
from zoo.predict.errors import PredictError

EPILOG = """examples:
  zoo-predict merge preds.tsv.parts --out preds.tsv
  zoo-predict merge parts/part-00000-of-00002 parts/part-00001-of-00002 --out preds.parquet
"""


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of ``zoo-predict merge``."""
    p = argparse.ArgumentParser(
        prog="zoo-predict merge",
        description="Join the parts written by zoo-predict --shard I/N (one per share) into the output "
        "a single zoo-predict run would have written, byte for byte.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("parts", nargs="+", help="part folders (part-I-of-N), or folders holding them")
    p.add_argument(
        "--out",
        required=True,
        help="the output: .tsv or .tsv.gz for the parts of a TSV run; .parquet, .h5, .tsv or (parts of a "
        "--vcf run) .vcf/.vcf.gz for the others",
    )
    p.add_argument("--vcf", help="the input VCF a .vcf/.vcf.gz output annotates (default: the parts' own)")
    p.add_argument("--overwrite", action="store_true", help="replace --out even when it is read-only")
    p.add_argument("--remove-parts", action="store_true", help="delete the parts once the output is written")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def run(ns: argparse.Namespace) -> int:
    """Merge the parts; returns the exit status (a PredictError propagates).

    Args:
        ns: the parsed command line.
    """
    from zoo.predict.outputs.merge import merge_parts
    from zoo.predict.outputs.parts import part_folders, remove_parts

    folders = part_folders(ns.parts)
    rows = merge_parts(folders, ns.out, overwrite=ns.overwrite, progress=not ns.no_progress, vcf=ns.vcf)
    if ns.remove_parts:
        remove_parts(folders)
    print(f"zoo-predict merge: wrote {rows} rows from {len(folders)} parts to {ns.out}", file=sys.stderr)
    return 0


COMMAND = Command(
    "zoo-predict merge",
    build_parser,
    run,
    reported=(PredictError,),
    reported_at_exit=(OSError,),
    fast_exit=True,
)
