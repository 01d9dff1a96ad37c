"""``zoo-convert SRC DST.safetensors``: turn a weight file from other code into the zoo format.

The model and its constructor arguments come from the record the file stores, else from
its layout and tensor shapes; ``--model`` picks one when the file holds several (a GAN
checkpoint), ``--set k=v`` adds or overrides arguments. A published checkpoint of the
catalogue (``--pretrained NAME``, or recognised by its md5) gets that model's arguments,
conventions, target names and source. The result loads with ``zoo.load_model(DST)``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from zoo._io.writing import is_stdout
from zoo.cli._command import Command, parse_key_values, with_overwrite_hint
from zoo.create import create_model
from zoo.models import list_models, model_args
from zoo.pretrained import get_pretrained
from zoo.weights import PathLike, save_weights
from zoo.weights.catalogue import recognise_published
from zoo.weights.convert import check_destination, convert


def convert_published(
    name: str, src: PathLike, dst: PathLike, overrides: dict[str, Any], overwrite: bool = False
) -> str:
    """``src``, a copy of the published checkpoint ``name`` (md5 checked), in the zoo format at
    ``dst``, with the published model's arguments, target names, N value and source."""
    model = create_model(name, weights=src, progress=False, **overrides)
    save_weights(model, dst, overwrite=overwrite)
    spelled = ", ".join(f"{k}={v!r}" for k, v in model_args(model).items())
    model_name = get_pretrained(name).model
    return f"{os.fspath(src)} [published {name}] -> {os.fspath(dst)}: {model_name}({spelled})"


def build_parser() -> argparse.ArgumentParser:
    """The command line of zoo-convert."""
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
        "--pretrained",
        metavar="NAME",
        help="SRC is a copy of this published checkpoint (see zoo-pretrained list; its md5 is checked); "
        "default: recognised by its md5",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="constructor argument"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace DST even when it is a read-only file"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Check DST, convert, print the description; returns the exit status."""
    check_destination(args.src, args.dst, args.overwrite)  # before SRC is read
    overrides = parse_key_values(args.set, "--set")
    name = args.pretrained or (None if args.model else recognise_published(args.src))
    if name is not None:
        described = convert_published(name, args.src, args.dst, overrides, args.overwrite)
    else:
        described = convert(args.src, args.dst, args.model, overrides, args.overwrite)
    print(described, file=sys.stderr if is_stdout(args.dst) else sys.stdout)  # not into DST itself
    return 0


COMMAND = Command(
    "zoo-convert",
    build_parser,
    run,
    reported=(OSError, ValueError, TypeError),
    label="",
    describe=with_overwrite_hint,
)
main = COMMAND.main
call = COMMAND.call


if __name__ == "__main__":
    main()
