"""``zoo-demo``: build every registered model, run a batch through it, and print the table."""

from __future__ import annotations

import argparse

import torch

from zoo.cli._command import Command
from zoo.summary import markdown_table, summary_rows


def build_parser() -> argparse.ArgumentParser:
    """The command line of zoo-demo."""
    parser = argparse.ArgumentParser(
        description="Build every registered model, run a batch through it, and print the table."
    )
    parser.add_argument("--markdown", action="store_true", help="print the README table")
    return parser


def run(args: argparse.Namespace) -> int:
    """Build the models, run a batch through each and print the table; returns the exit status."""
    torch.manual_seed(0)
    rows = summary_rows()
    if args.markdown:
        print(markdown_table(rows))
        return 0
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in rows[0]}
    print("  ".join(k.ljust(w) for k, w in widths.items()))
    for r in rows:
        print("  ".join(r[k].ljust(w) for k, w in widths.items()))
    print(f"\n{len(rows)} models built; each ran a batch of 2 on the CPU.")
    return 0


COMMAND = Command("zoo-demo", build_parser, run)
main = COMMAND.main
call = COMMAND.call


if __name__ == "__main__":
    main()
