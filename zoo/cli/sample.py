"""``zoo-sample WEIGHTS OUT``: pictures from an image model's weights file.

For a generator or VAE (``image_decoder``, ``mlp_decoder``, ``mlp_vae``): a PNG grid of
``-n`` samples from seeded Gaussian latents, or with ``--interpolate PAIRS`` one row per
latent pair along the spherical interpolation between them; each image enlarged by whole
pixels (nearest neighbour) to at least 112 pixels a side unless ``--scale`` says otherwise.
With ``--single`` OUT is a folder of one PNG per image at the model's own size (no border,
no enlargement: ``sample_0.png`` ..., or ``pair_0_step_0.png`` ... with ``--interpolate``),
which ``--score`` reads as they are. For a discriminator (``image_discriminator``,
``binary_classifier``) with ``--score FOLDER``: a TSV table of the probability that each
image under FOLDER is real.

The model comes from the file when it is a zoo file or a zoo-train checkpoint (``--model``
picks a network of a GAN checkpoint); a published file of the catalogue (``zoo-pretrained
list``) is recognised by its md5, or named with ``--model`` (``--model vae.mnist``, its md5
checked); any other file zoo.create_model reads needs ``--model`` and the ``--model-arg``
values that build the original.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from torch import nn

from zoo._io.folders import FolderOutputError, earlier_output
from zoo._io.space import is_disk_full
from zoo._io.writing import check_output, is_stdout, publish_folder, same_file_as, staging_folder
from zoo.cli._command import Command, at_most, first_line, parse_key_values, with_overwrite_hint
from zoo.create import create_model, load_model
from zoo.models import list_models
from zoo.pretrained import all_pretrained
from zoo.sampling import (
    MAX_IMAGES,
    MAX_PIXELS,
    interpolate,
    interpolation_images,
    sample_grid,
    sample_images,
    save_grid_png,
    save_image_pngs,
    score_images,
    write_scores,
)
from zoo.weights import (
    WeightsMismatchError,
    check_buildable,
    read_metadata,
    read_model_records,
    records_named,
    require_weights_file,
    stored_args,
)
from zoo.weights.catalogue import recognise_published

MAX_INTERPOLATION = 256  # latent pairs, or images along one interpolation
PROG = "zoo-sample"

EPILOG = """examples:
  zoo-sample runs/gan/checkpoints/last.ckpt samples.png --model image_decoder -n 64 --seed 0
  zoo-sample vae_epoch_25.pth samples.png    # a published file (zoo-pretrained list), by its md5
  zoo-sample vae_epoch_25.pth samples.png --model vae.mnist
  zoo-sample vae_epoch_25.pth samples/ --single -n 100    # 100 PNGs at the model's size
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
    if name is not None and name in image_catalogue():  # a copy of a published file: md5 checked
        return _create(name, path, model_args)
    meta = read_metadata(path)
    if name is None and not meta.get("zoo_model") and not read_model_records(path):
        published = recognise_published(path)  # a published file without a record, by its md5
        if published is not None:
            return _create(published, path, model_args)
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
    return _create(name, path, args, check_sizes=True)


def image_catalogue() -> list[str]:
    """The names of the catalogue's published image models (``vae.mnist``, ...)."""
    return [entry.name for entry in all_pretrained() if entry.image_shape is not None]


def _create(name: str, path: os.PathLike[str], args: dict[str, Any], check_sizes: bool = False) -> nn.Module:
    """``create_model(name, weights=path, **args)`` in eval mode; the sizes that would fit a
    file that does not are said as this command's options (``--model-arg ngf=4``).
    ``check_sizes``: compare the arguments with the file's tensors before memory is allocated
    (they may come from a checkpoint's record)."""
    try:
        if check_sizes:
            check_buildable(name, args, path)
        return create_model(name, weights=path, progress=False, **args).eval()
    except WeightsMismatchError as err:
        report = err.report
        if not (report.fitting_args and report.hint):
            raise
        spelled = " ".join(f"--model-arg {k}={_cli_json(v)}" for k, v in report.fitting_args.items())
        raise ValueError(str(err).replace(report.hint, f"These sizes fit the file: {spelled}")) from None


def _cli_json(value: Any) -> str:
    """A --model-arg VALUE: compact JSON, so the shell sees one word."""
    return json.dumps(list(value) if isinstance(value, tuple) else value, separators=(",", ":"))


def build_parser() -> argparse.ArgumentParser:
    """The command line of zoo-sample."""
    parser = argparse.ArgumentParser(
        prog="zoo-sample",
        description="Make pictures from an image model's weights: a grid of samples or latent "
        "interpolations (PNG), or a discriminator's scores of a folder of images (TSV).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "weights", help="weights file: a zoo file, a zoo-train .ckpt, or any file with --model"
    )
    parser.add_argument(
        "out", help="output: a .png picture, with --single a folder of PNGs, with --score a .tsv table"
    )
    m = parser.add_argument_group("model")
    m.add_argument(
        "--model",
        choices=[*list_models(), *image_catalogue()],
        metavar="NAME",
        help="registry name (needed for files from other code without a published md5), or a published "
        "image model (zoo-pretrained list; its md5 is checked); default: what the file records, or the "
        "published file of its md5",
    )
    m.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="constructor argument (VALUE is JSON, e.g. image_shape=[1,28,28] or final=3x3)",
    )
    g = parser.add_argument_group("generators and VAEs")
    g.add_argument(
        "-n",
        type=at_most(MAX_IMAGES),
        default=64,
        help=f"samples in the grid (default 64, at most {MAX_IMAGES:,})",
    )
    g.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    g.add_argument("--nrow", type=int, help="images a row (default: a square grid)")
    g.add_argument(
        "--scale",
        type=int,
        help="enlargement factor (default: to at least 112 pixels a side); "
        f"a picture has at most {MAX_PIXELS:,} pixels",
    )
    g.add_argument(
        "--interpolate",
        type=at_most(MAX_INTERPOLATION),
        metavar="PAIRS",
        help=f"one interpolation row per latent pair (at most {MAX_INTERPOLATION})",
    )
    g.add_argument(
        "--steps",
        type=at_most(MAX_INTERPOLATION),
        default=8,
        help=f"images along each interpolation (default 8, at most {MAX_INTERPOLATION}; "
        f"PAIRS x STEPS at most {MAX_IMAGES:,})",
    )
    g.add_argument(
        "--single",
        action="store_true",
        help="OUT is a folder of one PNG per image at the model's own size (sample_0.png, ...; "
        "pair_0_step_0.png, ... with --interpolate): no grid, border or enlargement, as --score reads "
        "them; an existing OUT may hold only an earlier --single output",
    )
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
    try:
        described = make_output(args)
    except OSError as err:
        if not is_disk_full(err):
            raise
        # the write's own error names no file, or the hidden temporary one
        raise OSError(f"cannot write {args.out}: {os.strerror(err.errno)}") from None
    print(described, file=sys.stderr if is_stdout(args.out) else sys.stdout)
    return 0


def make_output(args: argparse.Namespace) -> str:
    """Do what the parsed command line asks; returns a one-line description of the output.

    OUT is checked first: it must not be the weights file, nor read-only without --overwrite.
    """
    if same_file_as(args.out, {"weights": args.weights}):
        raise ValueError(f"{args.out!r} is the same file as the weights {args.weights!r}; write elsewhere")
    if not args.single:
        check_output(args.out, overwrite_readonly=args.overwrite)
    if args.interpolate is not None and args.interpolate < 1:  # 0 must not fall back to a grid
        raise ValueError(f"--interpolate must be >= 1 (latent pairs), got {args.interpolate}")
    if args.single:
        return _single_images(args)
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


def _single_folder(args: argparse.Namespace) -> Path:
    """OUT of ``--single`` checked: a new folder whose parent exists, or a folder that is empty or
    holds only an earlier ``--single`` output (nothing else in it is ever replaced)."""
    if args.scale is not None or args.nrow is not None:
        raise ValueError(
            "--single writes images at the model's size, one file each; --scale and --nrow are for grids"
        )
    if args.score:
        raise ValueError("--single writes a generator's images; --score reads images (leave out --single)")
    target = Path(args.out)
    if target.exists() and not target.is_dir():
        raise ValueError(f"{args.out}: --single writes a folder of PNGs, and this is a file")
    if target.is_dir():
        try:
            earlier_output(target, PROG, {"weights": args.weights})
        except FolderOutputError as err:
            raise ValueError(str(err)) from None
    parent = target.resolve().parent
    if not parent.is_dir():
        raise ValueError(f"{args.out}: its parent folder {os.fspath(parent)!r} does not exist")
    return target


def _single_images(args: argparse.Namespace) -> str:
    """Write ``--single`` images into the folder OUT (staged, then put in place); returns the
    one-line description."""
    target = _single_folder(args)
    model = load_image_model(args.weights, args.model, parse_key_values(args.model_arg, "--model-arg"))
    if args.interpolate is not None:
        images = interpolation_images(model, args.interpolate, args.steps, args.seed)
        width_p, width_s = len(str(args.interpolate - 1)), len(str(args.steps - 1))
        names = [
            f"pair_{p:0{width_p}d}_step_{s:0{width_s}d}"
            for p in range(args.interpolate)
            for s in range(args.steps)
        ]
        what = f"{args.interpolate} interpolations of {args.steps} steps"
    else:
        images = sample_images(model, args.n, args.seed)
        names = [f"sample_{i:0{len(str(args.n - 1))}d}" for i in range(args.n)]
        what = f"{args.n} samples"
    tmp: Path | None = staging_folder(target)
    try:
        save_image_pngs(images, tmp, names)
        try:
            publish_folder(tmp, target, command=PROG)
        except FolderOutputError as err:  # a file appeared in OUT meanwhile
            raise ValueError(str(err)) from None
        tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    height, width = images.shape[2:]
    return f"{args.out}: {what} as single images, {width} x {height} pixels (seed {args.seed})"


def _describe(err: BaseException) -> str:
    """The message of ``err``: a read-only OUT names --overwrite; a torch error (e.g. -n too
    large for memory) is cut to its first line, before the C++ trace torch appends."""
    if isinstance(err, (RuntimeError, MemoryError)):
        return first_line(err)
    return with_overwrite_hint(err)


COMMAND = Command(
    PROG,
    build_parser,
    run,
    reported=(OSError, ValueError, TypeError, RuntimeError, MemoryError),
    label="",
    describe=_describe,
)
main = COMMAND.main
call = COMMAND.call


if __name__ == "__main__":
    main()
