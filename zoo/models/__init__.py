"""The model families, one file each; importing this package registers every model.

Lookups go through here (not through ``zoo._registry`` directly) so that every family is
registered before the registry is read.
"""

from zoo._registry import (
    ModelSpec,
    all_layouts,
    args_from_state,
    build_model,
    default_args,
    get_spec,
    layouts_for_keys,
    list_models,
    model_args,
    spec_for_class,
)
from zoo.models import basset, beluga, classifier, dcgan, deepsea, mlp, sei
from zoo.models._published import PublishedFile
from zoo.models.basset import Basset
from zoo.models.beluga import Beluga
from zoo.models.classifier import BinaryClassifier
from zoo.models.danq import DanQ
from zoo.models.dcgan import ImageDecoder, ImageDiscriminator, dcgan_init
from zoo.models.deepsea import DeepSEA
from zoo.models.mlp import MLPVAE, MLPDecoder
from zoo.models.sei import Sei

# Every public pretrained file the families describe (see zoo.models._published).
PUBLISHED: tuple[PublishedFile, ...] = (
    *basset.PUBLISHED, *beluga.PUBLISHED, *deepsea.PUBLISHED, *sei.PUBLISHED,
    *dcgan.PUBLISHED, *mlp.PUBLISHED, *classifier.PUBLISHED,
)  # fmt: skip

__all__ = [
    "Basset",
    "Beluga",
    "BinaryClassifier",
    "DanQ",
    "DeepSEA",
    "ImageDecoder",
    "ImageDiscriminator",
    "MLPDecoder",
    "MLPVAE",
    "ModelSpec",
    "PUBLISHED",
    "PublishedFile",
    "Sei",
    "all_layouts",
    "args_from_state",
    "build_model",
    "dcgan_init",
    "default_args",
    "get_spec",
    "layouts_for_keys",
    "list_models",
    "model_args",
    "spec_for_class",
]
