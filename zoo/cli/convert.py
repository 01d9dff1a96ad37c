"""``zoo-convert SRC DST.safetensors``: turn a weight file from other code into the zoo format.

The model and its constructor arguments come from the record the file stores, else from
its layout and tensor shapes; ``--model`` picks one when the file holds several (a GAN
checkpoint), ``--set k=v`` adds or overrides arguments. The result loads with
``zoo.load_model(DST)``.
"""

from __future__ import annotations

import argparse
import sys

from zoo._files import ReadOnlyOutputError, Terminated, cleanup_on_signals, is_stdout, parse_key_values
from zoo.models import list_models
from zoo.weights.convert import check_destination, convert


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``zoo-convert``."""
    parser = argparse.ArgumentParser(
        description="Turn a weight file from other code into the zoo format "
        "(a .safetensors file that zoo.load_model rebuilds)."
    )
    parser.add_argument(
        "src", help="weight file from Kipoi, ExPecto, Selene, pytorch/examples, Lightning, ..."
    )
    parser.add_argument("dst", help="output .safetensors file (zoo format)")
    parser.add_argument("--model", choices=list_models(), help="the zoo model to convert into")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="constructor argument"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace DST even when it is a read-only file"
    )
    args = parser.parse_args(argv)
    try:
        with cleanup_on_signals():  # SIGTERM/SIGHUP remove the temporary file as Ctrl-C does
            _run(args)
    except Terminated as stop:
        print(f"zoo-convert: {stop}", file=sys.stderr)
        raise SystemExit(stop.exit_status) from None


def _run(args: argparse.Namespace) -> None:
    """Check DST, convert, print the description; failures as SystemExit messages."""
    try:
        check_destination(args.src, args.dst, args.overwrite)  # before SRC is read
        described = convert(
            args.src, args.dst, args.model, parse_key_values(args.set, "--set"), args.overwrite
        )
        print(described, file=sys.stderr if is_stdout(args.dst) else sys.stdout)  # not into DST itself
    except ReadOnlyOutputError as err:
        raise SystemExit(f"zoo-convert: {err}; pass --overwrite to replace it") from None
    except (OSError, ValueError, TypeError) as err:
        raise SystemExit(f"zoo-convert: {err}") from None


if __name__ == "__main__":
    main()
