"""Models that leave Python: any zoo model as an ONNX file or a ``torch.export`` program.

The exported graph is the model's ``forward``: the conventions of the original that the zoo
computes in the network are in the graph too (strand averaging for a model built with
``rc_average=True``, the sigmoid or tanh head; ``logits=True`` leaves the head out). What
no graph can hold is written into the file's metadata, one string per key (:func:`export_metadata`):
the model's name and constructor arguments, its input (shape, alphabet, the one-hot value of
N its original used), its outputs and their names, the paper and where the weights came from.

- ONNX (``.onnx``): the metadata is the model's ``metadata_props``; the batch axis is dynamic.
  Written with ``torch.onnx``'s ``torch.export``-based exporter (``onnxscript``), which
  handles every family; a model over 2 GB keeps its weights beside it in ``NAME.onnx.data``.
- ``torch.export`` program (``.pt2``): ``torch.export.save``'s archive with the metadata as
  the extra file ``zoo.json`` (a JSON object of the same strings); dynamic batch axis.

Both are written atomically: a failure leaves no output behind, and an existing output is
replaced only with ``overwrite=True``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from zoo._extras import install_hint
from zoo._io.stale import make_parents, remove_created, temporary_prefix
from zoo._io.writing import check_output, new_file_mode
from zoo.errors import ZooError
from zoo.heads import head_name
from zoo.models import model_args, spec_for_class
from zoo.targets import load_target_names

ExportFormat = Literal["onnx", "pt2"]
FORMATS: dict[str, ExportFormat] = {".onnx": "onnx", ".pt2": "pt2"}
# the names of the graph's input and output
INPUT_NAME, OUTPUT_NAME = "input", "output"
PROGRAM_METADATA = "zoo.json"  # the extra file of a .pt2 archive that holds the metadata
MAX_BATCH = 1 << 20  # the largest batch the exported graph's batch axis admits
EXAMPLE_BATCH = 2  # an example batch of 1 would pin the batch axis


class ExportError(ZooError):
    """A model that cannot be exported as asked, or an output that cannot be written."""


def export_format(path: str | os.PathLike[str]) -> ExportFormat:
    """The format an output path asks for, by its suffix: ``.onnx`` or ``.pt2``.

    Args:
        path: the output file.

    Raises:
        ExportError: for any other suffix.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(
            f"{os.fspath(path)!r}: expected an output ending in .onnx (ONNX) or .pt2 (torch.export program)"
        )
    return FORMATS[suffix]


def export_metadata(
    model: nn.Module, *, logits: bool = False, source: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """What an exported file says about ``model``, as ``zoo_*`` keys with string values.

    ``zoo_model`` and ``zoo_args`` (JSON) rebuild the model; ``zoo_input`` describes the
    graph's input and ``zoo_output`` its output (probabilities through the head, or logits);
    DNA models add ``zoo_alphabet``, ``zoo_n_value`` with ``zoo_n_handling`` (how N is
    encoded: the graph reads the one-hot tensor as given) and ``zoo_strands``; image models
    ``zoo_value_range``. ``zoo_targets`` (a JSON list) names the outputs where they are known:
    the model's ``target_names``, else its family's list when the output count matches.
    ``zoo_paper``, ``zoo_doi`` and ``zoo_source`` (JSON: where the weights came from) cite it.

    Args:
        model: a registered zoo model.
        logits: whether the graph stops before the head.
        source: where the weights came from (default: the model's ``source``).
    """
    spec = spec_for_class(type(model))
    args = model_args(model)
    meta = {
        "zoo_model": spec.name,
        "zoo_args": json.dumps(args),
        "zoo_input_name": INPUT_NAME,
        "zoo_output_name": OUTPUT_NAME,
    }
    if spec.inputs is not None:
        shape = ", ".join(["batch", *map(str, spec.inputs.shape(args))])
        dtype = str(model.input_dtype() or torch.float32).removeprefix("torch.")
        what = {"dna": f"one-hot DNA, channels {spec.conventions.alphabet}", "latent": "latent vectors"}
        meta["zoo_input"] = f"({shape}) {dtype} {what.get(spec.inputs.kind, spec.inputs.kind)}".strip()
    head = head_name(model.head) if isinstance(getattr(model, "head", None), nn.Module) else "identity"
    meta["zoo_head"] = "identity" if logits else head
    meta["zoo_output"] = (
        f"logits (the {head} head is left out)" if logits else f"{head}(logits), the model's forward"
    )
    if hasattr(model, "seq_len"):
        n_value = getattr(model, "n_value", None)
        n_value = spec.conventions.n_value if n_value is None else n_value
        meta["zoo_alphabet"] = spec.conventions.alphabet or "ACGT"
        if n_value is not None:
            meta["zoo_n_value"] = f"{n_value:g}"
            meta["zoo_n_handling"] = (
                f"encode N (and any other letter) as {n_value:g} in each of the four channels, as the "
                "original's encoding did; the graph reads the one-hot tensor as given"
            )
        meta["zoo_strands"] = (
            "both: the forward and reverse-complement probabilities are averaged inside the graph"
            if getattr(model, "rc_average", False)
            else "forward strand only"
        )
    value_range = spec.conventions.value_range
    if value_range is not None and spec.inputs is not None and spec.inputs.kind in ("image", "latent"):
        meta["zoo_value_range"] = json.dumps(list(value_range))
    names = _target_names(model, spec.conventions.targets)
    if names is not None:
        meta["zoo_targets"] = json.dumps(names)
    if spec.paper:
        meta["zoo_paper"] = spec.paper
    if spec.doi:
        meta["zoo_doi"] = spec.doi
    source = getattr(model, "source", None) if source is None else source
    if source:
        meta["zoo_source"] = json.dumps(dict(source))
    return meta


def _target_names(model: nn.Module, listed: str | None) -> list[str] | None:
    """The model's output names, else its family's shipped list when its length is the model's
    output count; None when neither is known."""
    names = getattr(model, "target_names", None)
    if names is not None:
        return list(names)
    n_targets = getattr(model, "n_targets", None)
    if listed is None or not isinstance(n_targets, int):
        return None
    shipped = load_target_names(listed)
    return shipped if len(shipped) == n_targets else None


class _Graph(nn.Module):
    """What is exported: the model's forward, or its logits (no head)."""

    def __init__(self, model: nn.Module, logits: bool) -> None:
        super().__init__()
        self.model = model
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The model's output for the batch ``x``."""
        return self.model.logits(x) if self.logits else self.model(x)


def _example(model: nn.Module) -> torch.Tensor:
    """An input batch of the model's registered shape, dtype and device."""
    spec = spec_for_class(type(model))
    if spec.inputs is None:
        raise ExportError(f"{spec.name}: no input shape is registered, so there is no graph to trace")
    param = next(model.parameters(), None)
    dtype = model.input_dtype() if hasattr(model, "input_dtype") else None
    shape = (EXAMPLE_BATCH, *spec.inputs.shape(model_args(model)))
    return torch.rand(
        shape, dtype=dtype or torch.float32, device=param.device if param is not None else "cpu"
    )


@contextlib.contextmanager
def _in_eval_mode(model: nn.Module) -> Iterator[None]:
    """The model in eval mode (dropout off, a VAE's posterior mean) for the block, then as it was."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters' progress lines and warnings kept off the user's terminal."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _batch_dim() -> dict[str, dict[int, Any]]:
    return {"x": {0: torch.export.Dim("batch", min=1, max=MAX_BATCH)}}


def _refuse_existing(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """``path``, refused when something is there and ``overwrite`` is not set (checked before the
    export's work, and again when the output is put in place)."""
    if os.path.lexists(path) and not overwrite:
        raise ExportError(f"{os.fspath(path)!r} exists; pass --overwrite (overwrite=True) to replace it")
    return Path(path)


@contextlib.contextmanager
def _staged(path: Path, overwrite: bool) -> Iterator[Path]:
    """A new private folder beside ``path`` to write the output into, under ``path``'s name; what
    it holds when the block ends moves into place (a ``.data`` file first, the named file last)
    and the folder is removed, also on a failure.

    An existing ``path`` is refused unless ``overwrite`` (also a read-only one, then replaced).
    """
    _refuse_existing(path, overwrite)
    target = check_output(path, overwrite_readonly=overwrite)
    if target.streamed:
        raise ExportError(f"{os.fspath(path)!r} is {target.kind}; an export is written to a regular file")
    created = make_parents(target.path)
    done = False
    try:
        folder = Path(tempfile.mkdtemp(dir=target.path.parent, prefix=temporary_prefix(target.path.name)))
        try:
            yield folder / target.path.name
            written = sorted(folder.iterdir(), key=lambda p: p.name == target.path.name)  # the file last
            beside = [p.name for p in written if p.name != target.path.name]
            taken = [n for n in beside if os.path.lexists(target.path.parent / n)]
            if taken and not overwrite:  # the weights file of a large model
                raise ExportError(
                    f"{os.fspath(target.path.parent / taken[0])!r} exists; pass --overwrite (overwrite=True) "
                    "to replace it"
                )
            for item in written:
                os.chmod(item, new_file_mode())  # mkdtemp's folder is private; outputs are not
                os.replace(item, target.path.parent / item.name)
            done = True
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        if not done:
            remove_created(created)


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    logits: bool = False,
    source: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` as an ONNX file with a dynamic batch axis and the zoo's metadata.

    The graph's input is ``input`` and its output ``output``; its metadata_props hold
    :func:`export_metadata`. A model over 2 GB keeps its weights in ``NAME.onnx.data`` beside it.

    Args:
        model: a registered zoo model (exported in eval mode; left in the mode it was in).
        path: the ``.onnx`` file to write.
        logits: export the logits (no head) instead of the model's forward.
        source: where the weights came from, for the metadata (default: ``model.source``).
        overwrite: replace an existing file.

    Returns:
        The path written.

    Raises:
        ImportError: without onnx or onnxscript (the message names the pip command).
        ExportError: an existing output without ``overwrite``, or a model with no input shape.
    """
    path = _refuse_existing(path, overwrite)
    for module in ("onnx", "onnxscript"):
        _require(module)
    meta = export_metadata(model, logits=logits, source=source)
    x = _example(model)
    with _in_eval_mode(model), torch.no_grad(), _quiet():
        program = torch.onnx.export(
            _Graph(model, logits),
            (x,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=_batch_dim(),
        )
    program.model.metadata_props.update(meta)
    with _staged(path, overwrite) as tmp, _quiet():
        program.save(tmp)
    return path


def export_program(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    logits: bool = False,
    source: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` as a ``torch.export`` program (``.pt2``) with a dynamic batch axis; the
    archive's extra file ``zoo.json`` holds :func:`export_metadata` as a JSON object.

    Args:
        model: a registered zoo model (exported in eval mode; left in the mode it was in).
        path: the ``.pt2`` file to write.
        logits: export the logits (no head) instead of the model's forward.
        source: where the weights came from, for the metadata (default: ``model.source``).
        overwrite: replace an existing file.

    Returns:
        The path written.
    """
    path = _refuse_existing(path, overwrite)
    meta = export_metadata(model, logits=logits, source=source)
    x = _example(model)
    with _in_eval_mode(model), torch.no_grad(), _quiet():
        program = torch.export.export(_Graph(model, logits), (x,), dynamic_shapes=_batch_dim())
    with _staged(path, overwrite) as tmp:
        torch.export.save(program, tmp, extra_files={PROGRAM_METADATA: json.dumps(meta)})
    return path


def export_model(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    logits: bool = False,
    source: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """:func:`export_onnx` or :func:`export_program`, as the suffix of ``path`` asks
    (``.onnx`` or ``.pt2``).

    Args:
        model: a registered zoo model.
        path: the file to write.
        logits: export the logits (no head) instead of the model's forward.
        source: where the weights came from, for the metadata (default: ``model.source``).
        overwrite: replace an existing file.

    Returns:
        The path written.
    """
    write = export_onnx if export_format(path) == "onnx" else export_program
    return write(model, path, logits=logits, source=source, overwrite=overwrite)


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The metadata_props of an ONNX file (without loading its weights).

    Args:
        path: an ``.onnx`` file.
    """
    onnx = _require("onnx")
    proto = onnx.load(os.fspath(path), load_external_data=False)
    return {prop.key: prop.value for prop in proto.metadata_props}


def load_program(path: str | os.PathLike[str]) -> tuple[torch.export.ExportedProgram, dict[str, str]]:
    """A ``.pt2`` file written by :func:`export_program`: the program and its metadata.

    ``program.module()(x)`` runs it.

    Args:
        path: a ``.pt2`` file.
    """
    extra = {PROGRAM_METADATA: ""}
    program = torch.export.load(os.fspath(path), extra_files=extra)
    return program, json.loads(extra[PROGRAM_METADATA] or "{}")


def _require(module: str) -> Any:
    """``module`` imported; an ImportError naming the pip command of the ``export`` extra without it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"exporting to ONNX needs {module}: {install_hint('export')}") from None
