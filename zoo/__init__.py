"""A model zoo of sigmoid-headed PyTorch architectures.

``import zoo`` is cheap: submodules load on first use, and nothing here imports
Lightning or Hydra.

Examples:
    >>> import zoo
    >>> model = zoo.create_model("deepsea")
    >>> probs = model(zoo.one_hot(["ACGT" * 250]))  # (1, 919)
    >>> zoo.list_pretrained()  # published checkpoints: zoo.create_model(name, pretrained=True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "list_models": "zoo.models",
    "create_model": "zoo.create",
    "get_spec": "zoo.models",
    "one_hot": "zoo.dna",
    "reverse_complement": "zoo.dna",
    "load_weights": "zoo.weights",
    "save_weights": "zoo.weights",
    "load_model": "zoo.create",
    "list_pretrained": "zoo.pretrained",
    "HEADS": "zoo.heads",
    "HeadedModel": "zoo.heads",
    "Basset": "zoo.models",
    "Beluga": "zoo.models",
    "BinaryClassifier": "zoo.models",
    "DanQ": "zoo.models",
    "DeepSEA": "zoo.models",
    "ImageDecoder": "zoo.models",
    "ImageDiscriminator": "zoo.models",
    "MLPDecoder": "zoo.models",
    "MLPVAE": "zoo.models",
    "Sei": "zoo.models",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from zoo.create import create_model, load_model
    from zoo.dna import one_hot, reverse_complement
    from zoo.heads import HEADS, HeadedModel
    from zoo.models import (
        MLPVAE,
        Basset,
        Beluga,
        BinaryClassifier,
        DanQ,
        DeepSEA,
        ImageDecoder,
        ImageDiscriminator,
        MLPDecoder,
        Sei,
        get_spec,
        list_models,
    )
    from zoo.pretrained import list_pretrained
    from zoo.weights import load_weights, save_weights


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
