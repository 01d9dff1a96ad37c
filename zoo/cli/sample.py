"""``zoo-sample WEIGHTS OUT``: pictures from an image model's weights file.

For a generator or VAE (``image_decoder``, ``mlp_decoder``, ``mlp_vae``): a PNG grid of
``-n`` samples from seeded Gaussian latents, or with ``--interpolate PAIRS`` one row per
latent pair along the spherical interpolation between them; each image enlarged by whole
pixels (nearest neighbour) to at least 112 pixels a side unless ``--scale`` says otherwise.
For a discriminator (``image_discriminator``, ``binary_classifier``) with ``--score FOLDER``:
a TSV table of the probability that each image under FOLDER is real.

The model comes from the file when it is a zoo file or a zoo-train checkpoint (``--model``
picks a network of a GAN checkpoint); any other file zoo.create_model reads needs
``--model`` and the ``--model-arg`` values that build the original.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from torch import nn

from zoo._io.outputs import check_output, is_stdout, same_file_as
from zoo.cli._command import Command, first_line, parse_key_values, with_overwrite_hint
from zoo.create import create_model, load_model
from zoo.models import list_models
from zoo.sampling import interpolate, sample_grid, save_grid_png, score_images, write_scores
from zoo.weights import (
    check_buildable,
    read_metadata,
    read_model_records,
    records_named,
    require_weights_file,
    stored_args,
)

EPILOG = """examples:
  zoo-sample runs/gan/checkpoints/last.ckpt samples.png --model image_decoder -n 64 --seed 0
  zoo-sample netG_epoch_99.pth walk.png --model image_decoder --model-arg n_channels=1 \\
      --model-arg final=1x1_crop2 --interpolate 4 --steps 10
  zoo-sample netD_epoch_99.pth scores.tsv --model image_discriminator --model-arg n_channels=1 \\
      --model-arg image_size=28 --model-arg final=3x3 --score digits/
"""


def load_image_model(weights: str, name: str | None, model_args: dict[str, Any]) -> nn.Module:
    """The model of ``weights`` in eval mode: a zoo file's or a zoo-train checkpoint's recorded
    network (``name`` picks one of several; ``model_args`` override its arguments), else
    ``create_model(name, weights=weights, **model_args)``."""
    path = require_weights_file(weights)
    meta = read_metadata(path)
    if meta.get("zoo_model") and name in (None, meta["zoo_model"]) and not model_args:
        return load_model(path)
    records = {} if meta.get("zoo_model") else read_model_records(path)
    if meta.get("zoo_model"):
        stored = {meta["zoo_model"]: stored_args(path, meta)}
    elif records:  # a zoo-train checkpoint: its networks' names and arguments
        stored = {r["name"]: r["args"] for r in records_named(path, records, name).values()}
    else:
        stored = {}
    if name is None:
        if len(stored) != 1:
            held = ", ".join(map(repr, stored)) or "no zoo model record"
            raise ValueError(
                f"{os.fspath(path)} holds {held}: pass --model NAME "
                "(and --model-arg for a file from other code)"
            )
        name = next(iter(stored))
    args = {**stored.get(name, {}), **model_args}
    check_buildable(name, args, path)  # a recorded size is the file's before memory is allocated
    return create_model(name, weights=path, **args).eval()


def build_parser() -> argparse.ArgumentParser:
    """The command line of zoo-sample."""
    parser = argparse.ArgumentParser(
        description="Make pictures from an image model's weights: a grid of samples or latent "
        "interpolations (PNG), or a discriminator's scores of a folder of images (TSV).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "weights", help="weights file: a zoo file, a zoo-train .ckpt, or any file with --model"
    )
    parser.add_argument("out", help="output: a .png picture, or with --score a .tsv table")
    m = parser.add_argument_group("model")
    m.add_argument("--model", choices=list_models(), help="registry name (needed for files from other code)")
    m.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="constructor argument (VALUE is JSON, e.g. image_shape=[1,28,28] or final=3x3)",
    )
    g = parser.add_argument_group("generators and VAEs")
    g.add_argument("-n", type=int, default=64, help="samples in the grid (default 64)")
    g.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    g.add_argument("--nrow", type=int, help="images a row (default: a square grid)")
    g.add_argument("--scale", type=int, help="enlargement factor (default: to at least 112 pixels a side)")
    g.add_argument("--interpolate", type=int, metavar="PAIRS", help="one interpolation row per latent pair")
    g.add_argument("--steps", type=int, default=8, help="images along each interpolation (default 8)")
    d = parser.add_argument_group("discriminators")
    d.add_argument("--score", metavar="FOLDER", help="score the PNG/JPEG images under FOLDER")
    d.add_argument(
        "--range",
        choices=["symmetric", "unit"],
        default="symmetric",
        help="pixel range the discriminator was trained on: symmetric [-1, 1] (default), unit [0, 1]",
    )
    d.add_argument("--resize", action="store_true", help="resize images of another size (bilinear)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace OUT even when it is a read-only file"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Do what the parsed command line asks and print a one-line description of the output (on
    stderr when OUT is standard output itself, ``/dev/stdout``); returns the exit status."""
    described = make_output(args)
    print(described, file=sys.stderr if is_stdout(args.out) else sys.stdout)
    return 0


def make_output(args: argparse.Namespace) -> str:
    """Do what the parsed command line asks; returns a one-line description of the output.

    OUT is checked first: it must not be the weights file, nor read-only without --overwrite.
    """
    if same_file_as(args.out, {"weights": args.weights}):
        raise ValueError(f"{args.out!r} is the same file as the weights {args.weights!r}; write elsewhere")
    check_output(args.out, overwrite_readonly=args.overwrite)
    if args.interpolate is not None and args.interpolate < 1:  # 0 must not fall back to a grid
        raise ValueError(f"--interpolate must be >= 1 (latent pairs), got {args.interpolate}")
    model = load_image_model(args.weights, args.model, parse_key_values(args.model_arg, "--model-arg"))
    if args.score:
        value_range = (-1.0, 1.0) if args.range == "symmetric" else (0.0, 1.0)
        rows = score_images(model, args.score, value_range=value_range, resize=args.resize)
        write_scores(rows, args.out, overwrite=args.overwrite)
        return f"{args.out}: {len(rows)} images scored"
    if not str(args.out).lower().endswith(".png"):
        raise ValueError(f"{args.out}: a picture is written as PNG; name it *.png")
    if args.interpolate is not None:
        grid = interpolate(model, args.interpolate, args.steps, args.seed, args.scale)
        what = f"{args.interpolate} interpolations of {args.steps} steps"
    else:
        grid = sample_grid(model, args.n, args.seed, args.nrow, args.scale)
        what = f"{args.n} samples"
    save_grid_png(grid, args.out, overwrite=args.overwrite)
    return f"{args.out}: {what}, {grid.shape[2]} x {grid.shape[1]} pixels (seed {args.seed})"


def _describe(err: BaseException) -> str:
    """The message of ``err``: a read-only OUT names --overwrite; a torch error (e.g. -n too
    large for memory) is cut to its first line, before the C++ trace torch appends."""
    if isinstance(err, (RuntimeError, MemoryError)):
        return first_line(err)
    return with_overwrite_hint(err)


COMMAND = Command(
    "zoo-sample",
    build_parser,
    run,
    reported=(OSError, ValueError, TypeError, RuntimeError, MemoryError),
    label="",
    describe=_describe,
    stop_signals=True,  # SIGTERM/SIGHUP remove the temporary file as Ctrl-C does
)
main = COMMAND.main


if __name__ == "__main__":
    main()
