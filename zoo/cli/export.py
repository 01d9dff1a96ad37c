"""``zoo-export``: a zoo model as an ONNX file, a torch.export program or a Hugging Face folder.

    zoo-export deepsea.onnx --model deepsea.kipoi_predict --weights deepsea_predict.pth
    zoo-export deepsea.pt2 --model deepsea.kipoi_predict --pretrained
    zoo-export model.onnx --weights model.safetensors          # a zoo checkpoint
    zoo-export model.onnx --weights hf://OWNER/REPO@REVISION   # a zoo model on the Hub
    zoo-export hub/ --format hub --weights model.safetensors --license Apache-2.0

The format follows OUT's suffix (``.onnx``, ``.pt2``) unless ``--format`` names it; ``hub``
writes the folder to upload to the Hugging Face Hub (weights, record, model card). The model
is found as zoo-predict finds it (``--model``, ``--weights``, ``--pretrained``, ``--model-arg``),
image models too. The graph has a dynamic batch axis and computes the model's forward: strand
averaging and the head included (``--logits`` leaves the head out); the file's metadata names
the model, its arguments, conventions, targets and source. The output is written whole or not
at all; an existing one is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from torch import nn

from zoo.cli._command import Command, parse_key_values
from zoo.errors import ZooError

FORMATS = ("onnx", "pt2", "hub")


def build_parser() -> argparse.ArgumentParser:
    """The command line of zoo-export."""
    p = argparse.ArgumentParser(
        prog="zoo-export",
        description=__doc__.splitlines()[0].split(": ", 1)[1],
        epilog="\n".join(__doc__.splitlines()[2:7]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "out", metavar="OUT", help="the file to write (.onnx or .pt2), or with --format hub the folder"
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="onnx, pt2 (a torch.export program) or hub (a folder to upload); default: OUT's suffix",
    )
    p.add_argument(
        "--model",
        help="registry name (e.g. deepsea) or a published model (e.g. deepsea.kipoi_predict); optional when "
        "--weights is a zoo checkpoint, a zoo-train .ckpt or hf://...",
    )
    p.add_argument(
        "--weights",
        help="weights file (as zoo-predict reads it) or hf://OWNER/REPO[@REVISION]; required unless "
        "--pretrained or --untrained",
    )
    p.add_argument(
        "--pretrained", action="store_true", help="download --model's published weights (md5 checked)"
    )
    p.add_argument(
        "--untrained", action="store_true", help="export --model with random weights (to try the export)"
    )
    p.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="constructor argument (JSON value)",
    )
    p.add_argument("--logits", action="store_true", help="export the logits: the graph without the head")
    p.add_argument("--license", help="with --format hub: the weights' license, when their source names none")
    p.add_argument(
        "--repo-id",
        default="OWNER/REPO",
        metavar="OWNER/REPO",
        help="with --format hub: the repository, for the card",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    return p


def _format(ns: argparse.Namespace) -> str:
    """The format asked for: --format, else OUT's suffix."""
    if ns.format is not None:
        return ns.format
    suffix = Path(ns.out).suffix.lower()
    if suffix in (".onnx", ".pt2"):
        return suffix[1:]
    raise ZooError(
        f"OUT {ns.out!r}: expected a file ending in .onnx or .pt2, or --format hub for a Hugging Face folder"
    )


def _load(ns: argparse.Namespace) -> tuple[nn.Module, str]:
    """The model to export and its registry name, found as zoo-predict finds it."""
    from zoo.models import build_model, get_spec
    from zoo.predict.running.loading import load_predict_model

    args = parse_key_values(ns.model_arg, "--model-arg")
    if ns.untrained:
        if ns.model is None or ns.weights is not None or ns.pretrained:
            raise ZooError("--untrained needs --model (a registry name) and no --weights or --pretrained")
        get_spec(ns.model)  # an unknown name gets the known list
        return build_model(ns.model, **args).eval(), ns.model
    if ns.weights is None and not ns.pretrained:
        raise ZooError(
            "--weights is needed (a weights file or hf://OWNER/REPO), or --pretrained with a published "
            "--model; --untrained exports random weights"
        )
    return load_predict_model(ns.model, ns.weights, args, pretrained=ns.pretrained, dna_only=False)


def _source(ns: argparse.Namespace, model: nn.Module) -> dict[str, str]:
    """Where the weights came from, for the metadata: what the model records (a published file,
    a Hub repository, a zoo file's record), else the weights file given, or none."""
    from zoo.weights.download import file_md5

    if getattr(model, "source", None):
        return dict(model.source)
    if ns.untrained:
        return {"weights": "none: random initialisation (--untrained)"}
    return {"file": os.path.basename(ns.weights), "md5": file_md5(ns.weights)}


def run(ns: argparse.Namespace) -> int:
    """Load the model and write the output; returns the exit status."""
    fmt = _format(ns)
    out = Path(ns.out)
    # checked before the model is loaded (a download, a large file); the writers check again
    if fmt != "hub" and os.path.lexists(out) and not ns.overwrite:
        raise ZooError(f"OUT {ns.out!r} exists; pass --overwrite to replace it")
    if fmt == "hub" and out.is_dir() and any(out.iterdir()) and not ns.overwrite:
        raise ZooError(f"OUT {ns.out!r} exists and is not empty; pass --overwrite to replace an earlier one")
    if fmt == "hub" and os.path.lexists(out) and not out.is_dir():
        raise ZooError(f"OUT {ns.out!r} is a file; --format hub writes a folder")
    model, name = _load(ns)
    if fmt == "hub":
        from zoo.hub import write_hub_folder

        write_hub_folder(model, out, license=ns.license, repo_id=ns.repo_id, overwrite=ns.overwrite)
        print(f"{name} -> {ns.out}/ (model.safetensors, zoo.json, README.md): upload with "
              f"`hf upload {ns.repo_id} {ns.out} --exclude .zoo-outputs`")  # fmt: skip
        return 0
    from zoo.export import export_onnx, export_program

    write = export_onnx if fmt == "onnx" else export_program
    write(model, out, logits=ns.logits, source=_source(ns, model), overwrite=ns.overwrite)
    what = "logits" if ns.logits else "forward"
    print(f"{name} ({what}, dynamic batch) -> {ns.out}", file=sys.stdout)
    return 0


COMMAND = Command("zoo-export", build_parser, run, reported=(OSError, ValueError, TypeError, ImportError))
main = COMMAND.main
call = COMMAND.call


if __name__ == "__main__":
    main()
