"""Lightning tasks: classification on logits, DCGAN, VAE; the per-epoch log line and stop reason.

Importing this package imports Lightning; ``import zoo`` does not import it.
"""

from zoo.tasks._common import NonFiniteLossError, ZooTask
from zoo.tasks.callbacks import AppendingCSVLogger, RunCheckpoint
from zoo.tasks.classification import ClassificationTask
from zoo.tasks.encoder import ConvEncoder
from zoo.tasks.gan import GANTask
from zoo.tasks.progress import EpochLog, stop_reason
from zoo.tasks.vae import VAETask

__all__ = [
    "AppendingCSVLogger",
    "ClassificationTask",
    "ConvEncoder",
    "EpochLog",
    "GANTask",
    "NonFiniteLossError",
    "RunCheckpoint",
    "VAETask",
    "ZooTask",
    "stop_reason",
]
