"""Building models: ``create_model`` (a registered model, optionally with weights loaded) and
``load_model`` (a model rebuilt from a zoo weights file)."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from zoo.models import build_model
from zoo.weights import (
    PathLike,
    WeightsFileError,
    load_weights,
    read_metadata,
    require_weights_file,
    stored_args,
)


def create_model(name: str, weights: str | os.PathLike[str] | None = None, **overrides: Any) -> nn.Module:
    """Build the model registered as ``name`` with paper defaults and ``overrides``.

    ``weights`` names a weight file (any format :func:`zoo.load_weights` reads) to
    load into the new model.
    """
    model = build_model(name, **overrides)
    if weights is not None:
        load_weights(model, weights)
    return model


def load_model(path: PathLike) -> nn.Module:
    """Rebuild a model saved by :func:`save_weights` (or ``zoo-convert``), in eval mode."""
    require_weights_file(path)
    meta = read_metadata(path)
    if "zoo_model" not in meta:
        raise WeightsFileError(
            f"{os.fspath(path)}: not a zoo weights file (no 'zoo_model' in its safetensors metadata); "
            "use zoo.create_model(name, weights=path) for files from other code, or convert it "
            "with `zoo-convert SRC DST.safetensors`"
        )
    model = _create_uninitialised(meta["zoo_model"], stored_args(path, meta))
    load_weights(model, path)  # strict: every tensor of the state dict comes from the file
    return model.eval()


def _create_uninitialised(name: str, args: dict[str, Any]) -> nn.Module:
    """``build_model(name, **args)`` with its tensors allocated but not randomly initialised
    (the random init of a large model costs more than reading its weights).

    Built on the meta device, then given empty CPU storage; only for models whose whole
    tensor state is in the state dict, which a strict load then overwrites. Any other model
    is built normally.
    """
    with torch.device("meta"):
        model = build_model(name, **args)
    every = [n for n, _ in model.named_parameters(remove_duplicate=False)]
    every += [n for n, _ in model.named_buffers(remove_duplicate=False)]
    unique = len(list(model.parameters())) + len(list(model.buffers()))
    # a non-persistent buffer would be left uninitialised, a shared tensor would come apart
    if not set(every) <= set(model.state_dict()) or len(every) != unique:
        return build_model(name, **args)
    for module in model.modules():  # (not Module.to_empty, whose meta path imports sympy: 0.4 s)
        for key, param in module._parameters.items():
            if param is not None:
                empty = torch.empty(param.shape, dtype=param.dtype)
                module._parameters[key] = nn.Parameter(empty, requires_grad=param.requires_grad)
        for key, buf in module._buffers.items():
            if buf is not None:
                module._buffers[key] = torch.empty(buf.shape, dtype=buf.dtype)
    return model
