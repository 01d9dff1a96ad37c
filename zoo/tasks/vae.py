"""A VAE with a zoo decoder as its Bernoulli decoder (sigmoid head): an ImageDecoder or MLPDecoder
paired with a small convolutional encoder, or a whole ``mlp_vae`` with its own encoder."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo._checks import require_number
from zoo.sampling import decode, decode_logits, latent_size
from zoo.tasks._common import ZooTask, adam, describe_model, rebuild, run_dir
from zoo.tasks.encoder import ConvEncoder
from zoo.tasks.plots import Gallery


def gaussian_kl(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) || N(0, I)) per sample, summed over latent dimensions."""
    return -0.5 * (1 + log_var - mean.pow(2) - log_var.exp()).sum(1)


class VAETask(ZooTask):
    """Variational autoencoder on images in [0, 1]; the decoder's logits give Bernoulli pixels.

    ``decoder`` is a decoder of latents (``image_decoder``, ``mlp_decoder``), which gets a
    :class:`ConvEncoder` of ``encoder_width`` (square images whose side is a power of two),
    or a model with its own ``encode`` (``mlp_vae``), whose encoder is used instead.

    Logs ``train_loss`` (negative ELBO per image, nats), and on held-out data ``val_loss``
    (the same), ``val_elbo`` (its negative), ``val_kl`` and ``val_recon_bce`` (binary
    cross-entropy per pixel of the reconstruction from the posterior mean). After every
    validation epoch writes ``images/reconstructions_latest.png`` (held-out images on odd
    rows, reconstructions below them) and ``images/samples_latest.png`` (fixed latents),
    upscaled; at the end of training ``images/{samples,reconstructions}_progress.png`` show
    them at about five epochs from first to last. The ELBO terms are computed in float32,
    also under mixed precision (``exp`` of a half-precision log-variance overflows early).

    Args:
        decoder: a decoder of latents, or a model with its own ``encode`` (see above).
        encoder_width: the width of the :class:`ConvEncoder` a decoder of latents gets.
        lr: the learning rate.
        beta: the weight of the KL term (>= 0).
        n_samples: the images of the fixed latent batch.
        sample_seed: the seed of the fixed latents.
        decoder_record: ``decoder``'s registry name and arguments (``{"name": ..., "args": {...}}``),
            which rebuild it when ``decoder`` is None (loading a checkpoint).
    """

    def __init__(
        self,
        decoder: nn.Module | None = None,
        encoder_width: int = 32,
        lr: float = 1e-3,
        beta: float = 1.0,
        n_samples: int = 64,
        sample_seed: int = 0,
        decoder_record: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        require_number(lr, "lr", above=0.0)
        require_number(beta, "beta", at_least=0.0)
        self.decoder = rebuild(decoder, decoder_record, "decoder")
        decoder_record = describe_model(self.decoder)  # plain values, read by save_hyperparameters
        self.save_hyperparameters(ignore=["decoder"])
        self.latent_dim = latent_size(self.decoder)
        self.encoder: nn.Module | None = None  # the decoder's own encode
        if not hasattr(self.decoder, "encode"):
            channels, height, width = self.decoder.image_shape
            if height != width:
                raise ValueError(f"the ConvEncoder reads square images; the decoder makes {height} x {width}")
            self.encoder = ConvEncoder(channels, height, self.latent_dim, encoder_width)
        fixed = torch.randn(n_samples, self.latent_dim, generator=torch.Generator().manual_seed(sample_seed))
        self.register_buffer("fixed_z", fixed, persistent=False)
        self._shown: torch.Tensor | None = None
        self.galleries = {
            "samples": Gallery("samples", "VAE samples (fixed latents)"),
            "reconstructions": Gallery(
                "reconstructions", "VAE: held-out images (odd rows) and their reconstructions"
            ),
        }

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log-variance) of q(z | x).

        Args:
            x: images in [0, 1].
        """
        return self.decoder.encode(x) if self.encoder is None else self.encoder(x)

    def elbo_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction BCE summed over pixels, KL, posterior mean) per image, one z sample.

        Args:
            x: images in [0, 1].
        """
        mean, log_var = (t.float() for t in self.encode(x))
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        logits = decode_logits(self.decoder, z).float()
        recon = F.binary_cross_entropy_with_logits(logits, x.float(), reduction="none").flatten(1).sum(1)
        return recon, gaussian_kl(mean, log_var), mean

    def training_step(self, batch: tuple[torch.Tensor, Any], batch_idx: int) -> torch.Tensor:
        """Negative ELBO (with ``beta`` on the KL), mean over the batch.

        Args:
            batch: (images, labels).
            batch_idx: the batch's index.
        """
        recon, kl, _ = self.elbo_terms(batch[0])
        loss = (recon + self.hparams.beta * kl).mean()
        self.require_finite("train_loss", loss)
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, Any], batch_idx: int) -> None:
        """Held-out ELBO and reconstruction BCE per pixel.

        Args:
            batch: (images, labels).
            batch_idx: the batch's index.
        """
        x = batch[0]
        recon, kl, mean = self.elbo_terms(x)
        recon_bce = F.binary_cross_entropy_with_logits(decode_logits(self.decoder, mean).float(), x.float())
        elbo = -(recon + kl).mean()
        self.require_finite("val_loss", elbo)
        values = {"val_loss": -elbo, "val_elbo": elbo, "val_kl": kl.mean(), "val_recon_bce": recon_bce}
        self.log_dict(values, on_epoch=True, prog_bar=True, sync_dist=True)
        if batch_idx == 0:
            self._shown = x[:32]

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder mean images for the posterior means of ``x``.

        Args:
            x: images in [0, 1].
        """
        return decode(self.decoder, self.encode(x)[0])

    @torch.no_grad()
    def on_validation_epoch_end(self) -> None:
        """Write reconstruction and sample grids."""
        if not self.trainer.is_global_zero or self._shown is None or self.trainer.sanity_checking:
            return
        folder, epoch, shown = run_dir(self) / "images", self.current_epoch, self._shown
        pairs = []
        for start in range(0, len(shown), 8):  # originals on one row, their reconstructions below
            chunk = shown[start : start + 8]
            pairs += [chunk, self.reconstruct(chunk)]
        self.galleries["reconstructions"].add(folder, epoch, torch.cat(pairs))
        self.galleries["samples"].add(folder, epoch, decode(self.decoder, self.fixed_z))

    def on_train_end(self) -> None:
        """Draw samples and reconstructions at a few epochs across training."""
        if self.trainer.is_global_zero:
            folder = run_dir(self) / "images"
            for gallery in self.galleries.values():
                gallery.save_progress(folder)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam over encoder and decoder."""
        return adam(self, self.parameters(), lr=self.hparams.lr)
