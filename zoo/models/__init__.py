"""The model families, one file each; importing this package registers every model.

Lookups go through here (not through ``zoo._registry`` directly) so that every family is
registered before the registry is read.
"""

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
