"""``zoo-demo``: build every registered model, run a batch through it, and print the table."""

from __future__ import annotations

import argparse

import torch

from zoo.summary import markdown_table, summary_rows


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``zoo-demo``."""
    parser = argparse.ArgumentParser(
        description="Build every registered model, run a batch through it, and print the table."
    )
    parser.add_argument("--markdown", action="store_true", help="print the README table")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rows = summary_rows()
    if args.markdown:
        print(markdown_table(rows))
        return
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in rows[0]}
    print("  ".join(k.ljust(w) for k, w in widths.items()))
    for r in rows:
        print("  ".join(r[k].ljust(w) for k, w in widths.items()))
    print(f"\n{len(rows)} models built; each ran a batch of 2 on the CPU.")


if __name__ == "__main__":
    main()
