"""The model families; importing this package registers every model."""

from zoo.models.basset import Basset
from zoo.models.beluga import Beluga
from zoo.models.classifier import BinaryClassifier
from zoo.models.danq import DanQ
from zoo.models.dcgan import ImageDecoder, ImageDiscriminator, dcgan_init
from zoo.models.deepsea import DeepSEA

__all__ = [
    "Basset",
    "Beluga",
    "BinaryClassifier",
    "DanQ",
    "DeepSEA",
    "ImageDecoder",
    "ImageDiscriminator",
    "dcgan_init",
]
