"""Building models: ``create_model`` (a registered model or a published checkpoint, optionally
with weights loaded) and ``load_model`` (a model rebuilt from a zoo weights file)."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from zoo.hub import HUB_PREFIX, HubError, hub_weights, is_hub_ref
from zoo.models import build_model, list_models, spec_for_class
from zoo.targets import load_target_names
from zoo.weights import (
    PathLike,
    WeightsFileError,
    attach_info,
    check_buildable,
    fitting_info,
    load_weights,
    read_metadata,
    require_weights_file,
    stored_args,
    stored_info,
)
from zoo.weights.catalogue import get_pretrained, locate_weights
from zoo.weights.published import PublishedFile


def create_model(
    name: str,
    weights: str | os.PathLike[str] | None = None,
    *,
    pretrained: bool = False,
    check_md5: bool = True,
    progress: bool = True,
    **overrides: Any,
) -> nn.Module:
    """Build the model registered as ``name`` with paper defaults and ``overrides``.

    ``weights`` names a weight file (any format :func:`zoo.load_weights` reads) to
    load into the new model.

    ``name`` may also be a published checkpoint of the catalogue (``"deepsea.kipoi_predict"``,
    see ``zoo.list_pretrained()``): the model then has the published model's arguments and
    conventions (``rc_average``) and, for DNA models, its output names
    (``model.target_names``) and the one-hot value of N it expects (``model.n_value``).
    ``pretrained=True`` downloads the published file into the cache (once; a progress bar
    unless ``progress=False``), checks its md5 and loads it; a model name alone with
    ``pretrained=True`` takes its first published file.
    Offline, ``weights=`` a local copy of the published file: its md5 is checked against the
    published one and a mismatch refused (``check_md5=False`` warns instead).

    ``name`` may also be ``"hf://OWNER/REPO[@REVISION]"``: a zoo repository on the Hugging Face
    Hub (:mod:`zoo.hub`), read through the Hugging Face cache (offline with ``HF_HUB_OFFLINE=1``);
    ``weights="hf://..."`` loads such a repository's weights file into the model ``name``.

    Args:
        name: a registered model, a published checkpoint of the catalogue or an ``hf://``
            reference.
        weights: a weight file to load into the new model (any format :func:`zoo.load_weights`
            reads), or ``"hf://..."``; offline, a local copy of the published file.
        pretrained: download the published file into the cache (once), check its md5 and load
            it.
        check_md5: refuse a local copy of a published file whose md5 differs from the
            published one; False warns instead.
        progress: show a progress bar while downloading.
        **overrides: constructor arguments replacing the paper defaults.

    Returns:
        The model, with ``target_names``, ``n_value`` and ``source`` set for a published
        checkpoint.
    """
    if is_hub_ref(name):  # a zoo repository on the Hugging Face Hub
        if weights is not None or pretrained:
            raise ValueError(
                f"{name}: a Hugging Face model holds its weights; leave weights= and pretrained= out"
            )
        return load_hub_model(name, **overrides)
    if is_hub_ref(weights):  # its zoo weights file, loaded into the model asked for
        weights = hub_weights(os.fspath(weights)).path  # type: ignore[arg-type]
    entry = _catalogue_entry(name, pretrained)
    if entry is None:
        model = build_model(name, **overrides)
        if weights is not None:
            load_weights(model, weights)
        return model
    args = {**entry.args, **overrides}
    source = None
    if weights is None and not pretrained:
        model = build_model(entry.model, **args)  # the published architecture, not its weights
    else:
        located = locate_weights(entry, weights, check_md5=check_md5, progress=progress)
        model = _create_uninitialised(entry.model, args)
        load_weights(model, located.path)  # strict: every tensor comes from the file
        source = {"name": entry.name, "url": entry.url, "md5": located.md5, "license": entry.license}
    names = load_target_names(entry.targets) if entry.targets else None
    return attach_info(model, names, entry.n_value, source)


def _catalogue_entry(name: str, pretrained: bool) -> PublishedFile | None:
    """The published checkpoint ``name`` refers to: a catalogue name, or a model's default when
    ``pretrained``; None for a registered model name without ``pretrained``."""
    if not isinstance(name, str) or (name in list_models() and not pretrained):
        return None
    if name in list_models() or "." in name:
        return get_pretrained(name)
    return None  # an unknown model name: build_model names the known ones


def load_model(path: PathLike) -> nn.Module:
    """Rebuild a model saved by :func:`save_weights` (or ``zoo-convert``), in eval mode, with the
    target names, N value and source the file records.

    The stored name and arguments are checked against the file's tensors (on the meta
    device) before the model is allocated: a corrupt record is a clear error, never an
    allocation the file's size does not justify.

    Args:
        path: the zoo weights file (``.safetensors`` with a ``zoo_model`` record).
    """
    require_weights_file(path)
    meta = read_metadata(path)
    if "zoo_model" not in meta:
        raise WeightsFileError(
            f"{os.fspath(path)}: not a zoo weights file (no 'zoo_model' in its safetensors metadata); "
            "use zoo.create_model(name, weights=path) for files from other code, or convert it "
            "with `zoo-convert SRC DST.safetensors`"
        )
    name, args = meta["zoo_model"], stored_args(path, meta)
    check_buildable(name, args, path)  # the stored sizes are the file's before memory is allocated
    model = _create_uninitialised(name, args)
    load_weights(model, path)  # strict: every tensor of the state dict comes from the file
    try:
        attach_info(model, **stored_info(path, meta))
    except ValueError as err:
        raise WeightsFileError(f"{os.fspath(path)}: its safetensors metadata: {err}") from None
    return model.eval()


def _create_uninitialised(name: str, args: dict[str, Any]) -> nn.Module:
    """``build_model(name, **args)`` with its tensors allocated but not randomly initialised
    (the random init of a large model costs more than reading its weights).

    Built on the meta device, then given empty CPU storage; only for models whose whole
    tensor state is in the state dict, which a strict load then overwrites, or whose other
    buffers their modules recompute (``reset_buffers()``, e.g. Sei's spline basis). Any other
    model is built normally.
    """
    with torch.device("meta"):
        model = build_model(name, **args)
    in_file = set(model.state_dict())
    outside = {name.rpartition(".")[0] for name, _ in model.named_buffers() if name not in in_file}
    computed = [module for prefix, module in model.named_modules() if prefix in outside]  # their owners
    every = [n for n, _ in model.named_parameters(remove_duplicate=False)]
    every += [n for n, _ in model.named_buffers(remove_duplicate=False)]
    unique = len(list(model.parameters())) + len(list(model.buffers()))
    # such a buffer would be left uninitialised, a shared tensor would come apart
    if any(not callable(getattr(m, "reset_buffers", None)) for m in computed) or len(every) != unique:
        return build_model(name, **args)
    for module in model.modules():  # (not Module.to_empty, whose meta path imports sympy: 0.4 s)
        for key, param in module._parameters.items():
            if param is not None:
                empty = torch.empty(param.shape, dtype=param.dtype)
                module._parameters[key] = nn.Parameter(empty, requires_grad=param.requires_grad)
        for key, buf in module._buffers.items():
            if buf is not None:
                module._buffers[key] = torch.empty(buf.shape, dtype=buf.dtype)
    for module in computed:
        module.reset_buffers()
    return model


def load_hub_model(text: str, **overrides: Any) -> nn.Module:
    """The model of the zoo repository ``hf://OWNER/REPO[@REVISION]``, in eval mode, with the
    target names, N value and source its weights file records; ``model.source`` also names
    the repository and the commit read (``hub``).

    Args:
        text: the reference.
        **overrides: constructor arguments replacing the stored ones (``rc_average=True``).
    """
    found = hub_weights(text)
    if overrides:
        meta = read_metadata(found.path)
        model = build_model(found.record["model"], **{**found.record.get("args", {}), **overrides})
        load_weights(model, found.path)
        attach_info(model, **fitting_info(model, stored_info(found.path, meta)))
        model.eval()
    else:
        model = load_model(found.path)
    if spec_for_class(type(model)).name != found.record.get("model"):
        raise HubError(f"{text}: the weights are of {spec_for_class(type(model)).name!r}, the record names "
                       f"{found.record.get('model')!r}")  # fmt: skip
    model.source = {
        **(getattr(model, "source", None) or {}),
        "hub": f"{HUB_PREFIX}{found.ref.repo_id}@{found.commit}",
    }
    return model
