"""The original public layouts (Kipoi, Selene, ExPecto, pytorch/examples DCGAN and VAE, the MLP GAN,
csinva/gan-vae-pretrained-pytorch's 28 x 28 and 32 x 32 DCGANs), rebuilt.

Not part of the package: converter tests save these modules' state_dicts the way the
original code does, and benchmarks time them as the reference the zoo must beat.
"""

from __future__ import annotations

import torch
from torch import nn


class Flatten(nn.Module):
    """The Lua-converted ``view(N, -1)`` (channel-major)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


class ViewGuard(nn.Module):
    """Kipoi's Lambda guard in front of each Linear: views 1-D input as a batch of one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(1, -1) if x.dim() == 1 else x


def _guarded_linear(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(ViewGuard(), nn.Linear(n_in, n_out))


def kipoi_deepsea_cpu() -> nn.Sequential:
    """Kipoi's ``deepsea_cpu``: Conv2d (1, 8) kernels on (N, 4, 1, 1000) AGCT input, Threshold."""
    return nn.Sequential(
        nn.Conv2d(4, 320, (1, 8)), nn.Threshold(0, 1e-6), nn.MaxPool2d((1, 4), (1, 4)), nn.Dropout(0.2),
        nn.Conv2d(320, 480, (1, 8)), nn.Threshold(0, 1e-6), nn.MaxPool2d((1, 4), (1, 4)), nn.Dropout(0.2),
        nn.Conv2d(480, 960, (1, 8)), nn.Threshold(0, 1e-6), nn.Dropout(0.5),
        Flatten(),
        _guarded_linear(50880, 925), nn.Threshold(0, 1e-6),
        _guarded_linear(925, 919), nn.Sigmoid(),
    )  # fmt: skip


# --- Kipoi's DeepSEA wrappers -------------------------------------------------------------


class ReCodeAlphabet(nn.Module):
    """Kipoi's recode layer: the caller gives ACGT, the convolutions expect AGCT."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[:, i, ...] for i in (0, 2, 1, 3)], dim=1)


class ConcatenateRC(nn.Module):
    """Kipoi's ConcatenateRC on (N, 4, 1, L): appends every input's reverse complement to the batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x.flip(1).flip(3)], dim=0)


class AverageRC(nn.Module):
    """Kipoi's AverageRC: (forward half + reverse-complement half) / 2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.shape[0] // 2
        return x[:half] / 2 + x[half:] / 2


def _deepsea_cpu_sized(seq_len: int, n_targets: int, hidden: int) -> nn.Sequential:
    positions = ((seq_len - 7) // 4 - 7) // 4 - 7
    return nn.Sequential(
        nn.Conv2d(4, 320, (1, 8)), nn.Threshold(0, 1e-6), nn.MaxPool2d((1, 4), (1, 4)), nn.Dropout(0.2),
        nn.Conv2d(320, 480, (1, 8)), nn.Threshold(0, 1e-6), nn.MaxPool2d((1, 4), (1, 4)), nn.Dropout(0.2),
        nn.Conv2d(480, 960, (1, 8)), nn.Threshold(0, 1e-6), nn.Dropout(0.5),
        Flatten(),
        _guarded_linear(960 * positions, hidden), nn.Threshold(0, 1e-6),
        _guarded_linear(hidden, n_targets), nn.Sigmoid(),
    )  # fmt: skip


def kipoi_deepsea_sized(seq_len: int = 1000, n_targets: int = 919, hidden: int = 925) -> nn.Sequential:
    """``deepsea_cpu`` for another window or target count (tests use short windows to stay fast)."""
    return _deepsea_cpu_sized(seq_len, n_targets, hidden)


def kipoi_deepsea_variant_effect(
    seq_len: int = 1000, n_targets: int = 919, hidden: int = 925
) -> nn.Sequential:
    """Kipoi's variant-effect model ``Sequential(ReCodeAlphabet, deepsea_cpu)``: keys ``1.*``."""
    return nn.Sequential(ReCodeAlphabet(), _deepsea_cpu_sized(seq_len, n_targets, hidden))


def kipoi_deepsea_predict(seq_len: int = 1000, n_targets: int = 919, hidden: int = 925) -> nn.Sequential:
    """Kipoi's predict model: ReCodeAlphabet, ConcatenateRC, deepsea_cpu, AverageRC (keys ``2.*``)."""
    return nn.Sequential(
        ReCodeAlphabet(), ConcatenateRC(), _deepsea_cpu_sized(seq_len, n_targets, hidden), AverageRC()
    )


# --- ExPecto's Beluga ---------------------------------------------------------------------


class ExpectoBeluga(nn.Module):
    """ExPecto's ``Beluga`` (deepsea.beluga.pth): ``model.0`` convs, ``model.1`` classifier, AGCT input.

    Input (N, 4, 1, seq_len) in A, G, C, T order.
    """

    def __init__(self, seq_len: int = 2000, n_targets: int = 2002, hidden: int = 2003) -> None:
        super().__init__()
        positions = (((seq_len - 14) // 4 - 14) // 4) - 14
        self.model = nn.Sequential(
            nn.Sequential(
                nn.Conv2d(4, 320, (1, 8)), nn.ReLU(), nn.Conv2d(320, 320, (1, 8)), nn.ReLU(),
                nn.Dropout(0.2), nn.MaxPool2d((1, 4), (1, 4)),
                nn.Conv2d(320, 480, (1, 8)), nn.ReLU(), nn.Conv2d(480, 480, (1, 8)), nn.ReLU(),
                nn.Dropout(0.2), nn.MaxPool2d((1, 4), (1, 4)),
                nn.Conv2d(480, 640, (1, 8)), nn.ReLU(), nn.Conv2d(640, 640, (1, 8)), nn.ReLU(),
            ),
            nn.Sequential(
                nn.Dropout(0.5), Flatten(), _guarded_linear(640 * positions, hidden), nn.ReLU(),
                _guarded_linear(hidden, n_targets),
            ),
            nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


# --- Kipoi's Basset -----------------------------------------------------------------------


def kipoi_basset(seq_len: int = 600, n_targets: int = 164) -> nn.Sequential:
    """Kipoi's Basset: Conv2d kernels along the HEIGHT axis of (N, 4, seq_len, 1) ACGT input."""
    positions = (((seq_len - 18) // 3 - 10) // 4 - 6) // 4
    return nn.Sequential(
        nn.Conv2d(4, 300, (19, 1)), nn.BatchNorm2d(300), nn.ReLU(), nn.MaxPool2d((3, 1), (3, 1)),
        nn.Conv2d(300, 200, (11, 1)), nn.BatchNorm2d(200), nn.ReLU(), nn.MaxPool2d((4, 1), (4, 1)),
        nn.Conv2d(200, 200, (7, 1)), nn.BatchNorm2d(200), nn.ReLU(), nn.MaxPool2d((4, 1), (4, 1)),
        Flatten(),
        _guarded_linear(200 * positions, 1000), nn.BatchNorm1d(1000), nn.ReLU(), nn.Dropout(0.3),
        _guarded_linear(1000, 1000), nn.BatchNorm1d(1000), nn.ReLU(), nn.Dropout(0.3),
        _guarded_linear(1000, n_targets), nn.Sigmoid(),
    )  # fmt: skip


# --- Selene's DeepSEA and DanQ ------------------------------------------------------------


class SeleneDeepSEA(nn.Module):
    """Selene's ``models/deepsea.py``: Conv1d, ReLU, and a hidden layer of ``n_targets`` units."""

    def __init__(self, sequence_length: int = 1000, n_targets: int = 919) -> None:
        super().__init__()
        self.conv_net = nn.Sequential(
            nn.Conv1d(4, 320, 8), nn.ReLU(), nn.MaxPool1d(4, 4), nn.Dropout(0.2),
            nn.Conv1d(320, 480, 8), nn.ReLU(), nn.MaxPool1d(4, 4), nn.Dropout(0.2),
            nn.Conv1d(480, 960, 8), nn.ReLU(), nn.Dropout(0.5),
        )  # fmt: skip
        self.n_channels = ((sequence_length - 7) // 4 - 7) // 4 - 7
        self.classifier = nn.Sequential(
            nn.Linear(960 * self.n_channels, n_targets),
            nn.ReLU(),
            nn.Linear(n_targets, n_targets),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_net(x)
        return self.classifier(out.view(out.size(0), 960 * self.n_channels))


class SeleneNonStrandSpecific(nn.Module):
    """Selene's NonStrandSpecific wrapper (keys ``model.*``): averages (or maxes) both strands."""

    def __init__(self, model: nn.Module, mode: str = "mean") -> None:
        super().__init__()
        self.model, self.mode = model, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        forward, reverse = self.model(x), self.model(x.flip(1).flip(2))
        return (forward + reverse) / 2 if self.mode == "mean" else torch.max(forward, reverse)


class SeleneDanQ(nn.Module):
    """Selene's ``models/danq.py``, faulty forward included.

    The forward hands the LSTM a (positions, batch, channels) tensor although the LSTM is
    ``batch_first=True``: it recurs across the batch, not along the sequence.
    """

    def __init__(self, sequence_length: int = 1000, n_targets: int = 919) -> None:
        super().__init__()
        self.nnet = nn.Sequential(nn.Conv1d(4, 320, 26), nn.ReLU(), nn.MaxPool1d(13, 13), nn.Dropout(0.2))
        self.bdlstm = nn.Sequential(nn.LSTM(320, 320, num_layers=1, batch_first=True, bidirectional=True))
        self.n_channels = (sequence_length - 25) // 13
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(self.n_channels * 640, 925), nn.ReLU(), nn.Linear(925, n_targets),
            nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.nnet(x)
        reshape_out = out.transpose(0, 1).transpose(0, 2)  # (positions, N, 320) into a batch_first LSTM
        out, _ = self.bdlstm(reshape_out)
        out = out.transpose(0, 1)
        return self.classifier(out.contiguous().view(out.size(0), 640 * self.n_channels))


# --- pytorch/examples DCGAN ---------------------------------------------------------------


class DCGANGenerator(nn.Module):
    """pytorch/examples ``dcgan/main.py`` Generator (netG): (N, nz, 1, 1) -> (N, nc, 64, 64) in [-1, 1]."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class DCGANDiscriminator(nn.Module):
    """pytorch/examples ``dcgan/main.py`` Discriminator (netD): (N, nc, 64, 64) -> (N,) probabilities."""

    def __init__(self, nc: int = 3, ndf: int = 64) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1, 1).squeeze(1)


# --- csinva/gan-vae-pretrained-pytorch: DCGANs adapted to 28 x 28 and 32 x 32 -------------------


class CsinvaGenerator(nn.Module):
    """mnist_dcgan (``padding=2``: 28 x 28) and cifar*_dcgan (``padding=0``: 32 x 32) Generator:
    pytorch/examples' netG whose last layer is ConvTranspose2d(ngf, nc, kernel_size=1, stride=1,
    padding) (after the fourth 4 x 4 layer the maps are 32 x 32), then Tanh."""

    def __init__(self, nc: int = 1, nz: int = 100, ngf: int = 64, padding: int = 2) -> None:
        super().__init__()
        body = list(DCGANGenerator(nz, ngf, nc).main)[:12]
        last = nn.ConvTranspose2d(ngf, nc, kernel_size=1, stride=1, padding=padding, bias=False)
        self.main = nn.Sequential(*body, last, nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class CsinvaMnistDiscriminator(nn.Module):
    """mnist_dcgan Discriminator: pytorch/examples' netD up to its third halving (28 -> 14 -> 7
    -> 3), then Conv2d(256, 1, 4, 2, 1) (3 -> 1), Sigmoid; the output viewed as (N,)."""

    def __init__(self, nc: int = 1, ndf: int = 64) -> None:
        super().__init__()
        body = list(DCGANDiscriminator(nc, ndf).main)[:8]
        self.main = nn.Sequential(*body, nn.Conv2d(ndf * 4, 1, 4, 2, 1, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1, 1).squeeze(1)


class CsinvaCifarDiscriminator(DCGANDiscriminator):
    """cifar10_dcgan / cifar100_dcgan_grayscale Discriminator: pytorch/examples' netD (32 -> 16
    -> 8 -> 4 -> 2) whose last convolution is Conv2d(512, 1, 2, 2, 0), Sigmoid."""

    def __init__(self, nc: int = 3, ndf: int = 64) -> None:
        super().__init__(nc, ndf)
        self.main[11] = nn.Conv2d(ndf * 8, 1, 2, 2, 0, bias=False)


# --- The MLP GAN of the GAN-on-MNIST tutorials (nn.Sequential, saved as state_dicts) -----------


def mlp_gan_generator(latent_size: int = 64, hidden_size: int = 256, image_size: int = 784) -> nn.Sequential:
    """G: (N, 64) -> (N, 784) in [-1, 1]; keys 0.*, 2.*, 4.*."""
    return nn.Sequential(
        nn.Linear(latent_size, hidden_size), nn.ReLU(),
        nn.Linear(hidden_size, hidden_size), nn.ReLU(),
        nn.Linear(hidden_size, image_size), nn.Tanh(),
    )  # fmt: skip


def mlp_gan_discriminator(image_size: int = 784, hidden_size: int = 256) -> nn.Sequential:
    """D: (N, 784) -> (N, 1) probabilities; keys 0.*, 2.*, 4.*."""
    return nn.Sequential(
        nn.Linear(image_size, hidden_size), nn.LeakyReLU(0.2),
        nn.Linear(hidden_size, hidden_size), nn.LeakyReLU(0.2),
        nn.Linear(hidden_size, 1), nn.Sigmoid(),
    )  # fmt: skip


# --- pytorch/examples vae/main.py --------------------------------------------------------------


class ExamplesVAE(nn.Module):
    """pytorch/examples VAE: 784 -> 400 -> (mu 20, logvar 20); 20 -> 400 -> 784, sigmoid."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h1 = torch.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc4(torch.relu(self.fc3(z))))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x.view(-1, 784))
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar
