"""The model families, one file each; importing this package registers every model.

Lookups go through here (not through ``zoo._registry`` directly) so that every family is
registered before the registry is read. Every family file in this folder is imported, also
one that the list below does not name, so a new family is registered by adding its file;
the imports below give the public classes their names in ``zoo.models``.
"""

import importlib
import pkgutil
from typing import Any

from zoo._registry import (
    Conventions,
    Inputs,
    ModelSpec,
    all_layouts,
    all_published,
    args_from_state,
    build_model,
    default_args,
    get_spec,
    layouts_for_keys,
    list_models,
    model_args,
    register_model,
    register_published,
    spec_for_class,
    unregister_model,
    unregister_published,
)
from zoo.models._dna import n_targets_of
from zoo.models.basset import Basset
from zoo.models.beluga import Beluga
from zoo.models.classifier import BinaryClassifier
from zoo.models.danq import DanQ
from zoo.models.dcgan import ImageDecoder, ImageDiscriminator, dcgan_init
from zoo.models.deepsea import DeepSEA
from zoo.models.mlp import MLPVAE, MLPDecoder
from zoo.models.sei import Sei
from zoo.weights.published import PublishedFile

for _family in pkgutil.iter_modules(__path__):
    if not _family.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_family.name}")


def __getattr__(name: str) -> Any:
    # PUBLISHED, the tuple of every published file, is now read from the registry
    if name == "PUBLISHED":
        return tuple(all_published())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Basset",
    "Beluga",
    "BinaryClassifier",
    "Conventions",
    "DanQ",
    "DeepSEA",
    "ImageDecoder",
    "ImageDiscriminator",
    "Inputs",
    "MLPDecoder",
    "MLPVAE",
    "ModelSpec",
    "PublishedFile",
    "Sei",
    "all_layouts",
    "all_published",
    "args_from_state",
    "build_model",
    "dcgan_init",
    "default_args",
    "get_spec",
    "layouts_for_keys",
    "list_models",
    "model_args",
    "n_targets_of",
    "register_model",
    "register_published",
    "spec_for_class",
    "unregister_model",
    "unregister_published",
]
