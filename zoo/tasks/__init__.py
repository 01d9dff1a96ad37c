"""Lightning tasks: classification on logits, DCGAN, VAE.

Importing this package imports Lightning; ``import zoo`` does not import it.
"""

from zoo.tasks.classification import ClassificationTask
from zoo.tasks.encoder import ConvEncoder
from zoo.tasks.gan import GANTask
from zoo.tasks.vae import VAETask

__all__ = ["ClassificationTask", "ConvEncoder", "GANTask", "VAETask"]
