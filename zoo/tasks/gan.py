"""GAN training (manual optimization): a generator (``image_decoder`` or ``mlp_decoder``) against a
discriminator (``image_discriminator``, or a ``binary_classifier`` reading flattened images)."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn
from torch.nn import functional as F

from zoo._checks import require_number
from zoo.models import dcgan_init as dcgan_init_fn
from zoo.sampling import discriminator_image_shape, discriminator_logits
from zoo.tasks._common import ZooTask, adam, describe_model, rebuild, run_dir
from zoo.tasks.plots import Gallery

# Fixed-latent samples closer than this (root mean square per pixel, images in [0, 1]) are one
# image: 8x8 digits are about 0.37 apart, a collapsed MLP GAN's samples 0.07.
COLLAPSE_SPREAD = 0.1


def sample_spread(images: torch.Tensor) -> float:
    """How far apart ``images`` (N, C, H, W) in [0, 1] are: the root mean square difference per
    pixel, averaged over all pairs; 0 for identical images (or fewer than two).

    Args:
        images: the samples, e.g. the generator's images for the fixed latents.
    """
    if len(images) < 2:
        return 0.0
    flat = images.detach().float().flatten(1)
    distances = torch.cdist(flat, flat) / flat.shape[1] ** 0.5
    n = len(flat)
    return float(distances.sum() / (n * (n - 1)))


class GANTask(ZooTask):
    """Non-saturating GAN: the discriminator is trained on its logits with BCE-with-logits.

    The discriminator must read the generator's images: an ImageDiscriminator of the same
    (C, H, W), or a BinaryClassifier with ``in_features = C * H * W`` and one output, which
    gets them flattened (the MLP GAN). ``dcgan_init`` re-initialises convolutions and batch
    norms only; an MLP's Linear layers keep torch's initialisation, as in the MLP GAN.

    Logs ``train_d_loss`` and ``train_g_loss``. After every training epoch the generator's
    images for one fixed latent batch go to ``images/samples_latest.png`` (upscaled); at the
    end of training ``images/samples_progress.png`` shows them at about five epochs from
    first to last. The generator's head sets the image range: tanh -> [-1, 1] (mapped to
    [0, 1] for the PNG), sigmoid -> [0, 1].

    Both steps go through ``manual_backward`` and the Lightning optimizers, so ``16-mixed``
    precision scales each loss and unscales, checks and steps each optimizer with the
    trainer's gradient scaler (a step with inf/NaN gradients is skipped).

    When the fixed-latent samples stay nearly identical (:func:`sample_spread` below
    :data:`COLLAPSE_SPREAD`) for ``COLLAPSE_EPOCHS`` epochs in a row, training warns once that
    the samples collapsed (a learning rate or architecture that does not fit the data).

    Args:
        generator: the generator.
        discriminator: the discriminator.
        lr: both optimizers' learning rate.
        betas: both Adam optimizers' betas.
        dcgan_init: re-initialise convolutions and batch norms (see above).
        n_samples: the images of the fixed latent batch.
        sample_seed: the seed of the fixed latents.
        generator_record: ``generator``'s registry name and arguments (``{"name": ..., "args": {...}}``),
            which rebuild it when ``generator`` is None (loading a checkpoint).
        discriminator_record: ``discriminator``'s registry name and arguments
            (``{"name": ..., "args": {...}}``), which rebuild it when ``discriminator`` is None
            (loading a checkpoint).
    """

    # The first epochs' samples are alike before the generator has learnt (a good MLP GAN on
    # 8x8 digits left that state after 12 epochs, the DCGAN after 3); a collapsed one never does.
    COLLAPSE_EPOCHS = 20

    def __init__(
        self,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        dcgan_init: bool = True,
        n_samples: int = 64,
        sample_seed: int = 0,
        generator_record: dict[str, Any] | None = None,
        discriminator_record: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        require_number(lr, "lr", above=0.0)
        if not isinstance(betas, (list, tuple)) or len(betas) != 2:
            raise ValueError(f"betas={betas!r} must be two numbers in [0, 1)")
        for i, beta in enumerate(betas):
            require_number(beta, f"betas[{i}]", at_least=0.0)
            if beta >= 1:
                raise ValueError(f"betas[{i}]={beta!r} must be < 1")
        self.automatic_optimization = False
        self.generator = rebuild(generator, generator_record, "generator")
        self.discriminator = rebuild(discriminator, discriminator_record, "discriminator")
        # Plain values (save_hyperparameters reads these locals): rebuild both models on load.
        generator_record = describe_model(self.generator)
        discriminator_record = describe_model(self.discriminator)
        betas = tuple(betas)
        self.save_hyperparameters(ignore=["generator", "discriminator"])
        shape = tuple(self.generator.image_shape)
        if discriminator_image_shape(self.discriminator, shape) != shape:
            raise ValueError(
                f"the discriminator reads images of shape {discriminator_image_shape(self.discriminator)}, "
                f"the generator makes {shape}"
            )
        if dcgan_init and generator is not None:  # not when rebuilding from a checkpoint
            self.generator.apply(dcgan_init_fn)
            self.discriminator.apply(dcgan_init_fn)
        self.latent_dim = int(generator_record["args"]["in_size"])
        fixed = torch.randn(n_samples, self.latent_dim, generator=torch.Generator().manual_seed(sample_seed))
        self.register_buffer("fixed_z", fixed, persistent=False)  # not in the state_dict
        self.samples = Gallery("samples", "GAN samples (fixed latents)")
        self._collapsed_epochs, self._collapse_told = 0, False

    def to_unit(self, images: torch.Tensor) -> torch.Tensor:
        """Generator output mapped to [0, 1] for saving.

        Args:
            images: the generator's output.
        """
        return images * 0.5 + 0.5 if isinstance(self.generator.head, nn.Tanh) else images

    def training_step(self, batch: tuple[torch.Tensor, Any], batch_idx: int) -> None:
        """One discriminator step, then one generator step.

        Args:
            batch: (real images, labels).
            batch_idx: the batch's index.
        """
        real = batch[0]
        opt_g, opt_d = self.optimizers()
        z = torch.randn(real.shape[0], self.latent_dim, device=self.device)
        fake = self.generator(z)
        ones = torch.ones(real.shape[0], device=self.device)
        zeros = torch.zeros_like(ones)

        d_loss = F.binary_cross_entropy_with_logits(
            self.discriminate(real), ones
        ) + F.binary_cross_entropy_with_logits(self.discriminate(fake.detach()), zeros)
        self.require_finite("train_d_loss", d_loss)
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d.step()

        g_loss = F.binary_cross_entropy_with_logits(self.discriminate(fake), ones)
        self.require_finite("train_g_loss", g_loss)
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        self.log_dict(
            {"train_d_loss": d_loss, "train_g_loss": g_loss}, on_step=True, on_epoch=True, prog_bar=True
        )

    def discriminate(self, images: torch.Tensor) -> torch.Tensor:
        """The discriminator's logits (N,) for images (N, C, H, W).

        Args:
            images: (N, C, H, W).
        """
        return discriminator_logits(self.discriminator, images)

    @torch.no_grad()
    def sample(self, z: torch.Tensor | None = None) -> torch.Tensor:
        """Generator images in [0, 1] for latents ``z`` (default: the fixed batch), in eval mode.

        Args:
            z: latents (default: the fixed batch).
        """
        was_training = self.generator.training
        self.generator.eval()
        images = self.to_unit(self.generator(self.fixed_z if z is None else z))
        self.generator.train(was_training)
        return images

    def on_train_epoch_end(self) -> None:
        """Check the weights are finite, then write the fixed-latent sample grid for this epoch
        as the latest."""
        super().on_train_epoch_end()
        if self.trainer.is_global_zero:
            images = self.sample()
            self.samples.add(run_dir(self) / "images", self.current_epoch, images)
            self._check_collapse(images)

    def _check_collapse(self, images: torch.Tensor) -> None:
        """Warn once when the fixed-latent samples have been nearly identical for
        ``COLLAPSE_EPOCHS`` epochs in a row."""
        spread = sample_spread(images)
        self._collapsed_epochs = self._collapsed_epochs + 1 if spread < COLLAPSE_SPREAD else 0
        if self._collapsed_epochs >= self.COLLAPSE_EPOCHS and not self._collapse_told:
            self._collapse_told = True
            rank_zero_warn(
                f"GAN samples collapsed: the fixed-latent samples differ by {spread:.3g} per pixel "
                f"(below {COLLAPSE_SPREAD}) for {self._collapsed_epochs} epochs: the generator makes one "
                "image whatever the latent; try another task.lr or model (see images/samples_latest.png)"
            )

    def on_train_end(self) -> None:
        """Draw the samples at a few epochs across training."""
        if self.trainer.is_global_zero:
            self.samples.save_progress(run_dir(self) / "images")

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        """Adam for the generator, then Adam for the discriminator (DCGAN's betas)."""
        hp = self.hparams
        return [
            adam(self, self.generator.parameters(), lr=hp.lr, betas=tuple(hp.betas)),
            adam(self, self.discriminator.parameters(), lr=hp.lr, betas=tuple(hp.betas)),
        ]
