"""Lightning tasks: classification on logits, DCGAN, VAE.

Importing this package imports Lightning; ``import zoo`` does not import it.
"""

from zoo.tasks._common import NonFiniteLossError, ZooTask
from zoo.tasks.callbacks import AppendingCSVLogger, RunCheckpoint
from zoo.tasks.classification import ClassificationTask
from zoo.tasks.encoder import ConvEncoder
from zoo.tasks.gan import GANTask
from zoo.tasks.vae import VAETask

__all__ = [
    "AppendingCSVLogger",
    "ClassificationTask",
    "ConvEncoder",
    "RunCheckpoint",
    "GANTask",
    "NonFiniteLossError",
    "VAETask",
    "ZooTask",
]
