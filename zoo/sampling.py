"""Pictures from the image models: sample grids, latent interpolations, discriminator scores.

Generators (``image_decoder``, ``mlp_decoder``) map Gaussian latents to images; a VAE
(``mlp_vae``) does so with :meth:`decode`. Their head sets the pixel range: tanh gives
[-1, 1], sigmoid [0, 1]; grids map that range to 0..255 and enlarge each image by whole
pixels (nearest neighbour) so that a 28-pixel digit is readable. Discriminators
(``image_discriminator``, or a ``binary_classifier`` reading flattened images) score images.

Examples:
    >>> from zoo.sampling import sample_grid, save_grid_png          # doctest: +SKIP
    >>> grid = sample_grid(zoo.load_model("g.safetensors"), n=16, seed=0)  # doctest: +SKIP
    >>> save_grid_png(grid, "samples.png")                               # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from zoo._io.text import tsv_field_problem
from zoo._io.writing import atomic_path
from zoo._types import ImageShape
from zoo.models import BinaryClassifier

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MIN_SIDE = 112  # the smallest side, in pixels, an image gets in a grid by default
PAD = 2  # pixels between grid cells
PAD_VALUE = 128  # mid grey: visible against white and black backgrounds
MAX_IMAGES = 4096  # images a picture holds: a 64 x 64 grid
MAX_PIXELS = 100_000_000  # pixels of a picture (a side of 10,000), about 300 MB in RGB
_BATCH = 256  # latents decoded at once: memory does not grow with the number of images


# --- What generators, VAEs and discriminators share -------------------------------------------


def latent_size(model: nn.Module) -> int:
    """The length of the latent vector ``model`` decodes: a VAE's ``latent_size``, a decoder's ``in_size``.

    Args:
        model: a VAE or a decoder.
    """
    size = getattr(model, "latent_size", None) or getattr(model, "in_size", None)
    if not isinstance(size, int):
        raise ValueError(f"{type(model).__name__} takes no latent vectors (it is not a generator or a VAE)")
    return size


def decode_logits(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Images before the head for latents ``z``: a VAE's ``decode_logits``, a decoder's ``logits``.

    Args:
        model: a VAE or a decoder.
        z: latents (N, latent size).
    """
    return model.decode_logits(z) if hasattr(model, "decode_logits") else model.logits(z)


def decode(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Images (in the head's range) for latents ``z``: a VAE's ``decode``, a decoder's forward.

    Args:
        model: a VAE or a decoder.
        z: latents (N, latent size).
    """
    return model.decode(z) if hasattr(model, "decode") else model(z)


def pixel_range(model: nn.Module) -> tuple[float, float]:
    """The range of ``model``'s images, told by its head: tanh (-1, 1), sigmoid (0, 1).

    Args:
        model: an image model.
    """
    head = getattr(model, "head", None)
    if isinstance(head, nn.Tanh):
        return (-1.0, 1.0)
    if isinstance(head, (nn.Sigmoid, nn.Hardsigmoid)):
        return (0.0, 1.0)
    raise ValueError(
        f"{type(model).__name__} has head {type(head).__name__}: its outputs have no pixel range "
        "(a generator needs head='tanh' or 'sigmoid')"
    )


def discriminator_image_shape(discriminator: nn.Module, image_shape: ImageShape | None = None) -> ImageShape:
    """(C, H, W) of the images ``discriminator`` scores: an ImageDiscriminator's own; for a
    BinaryClassifier (which reads them flattened) ``image_shape`` when given, else a square
    one- or three-channel image of its ``in_features`` pixels.

    Args:
        discriminator: an ImageDiscriminator or a BinaryClassifier.
        image_shape: the (C, H, W) a BinaryClassifier's flat input stands for.
    """
    if isinstance(discriminator, BinaryClassifier):
        if discriminator.n_outputs != 1:
            raise ValueError(
                f"a binary_classifier discriminator needs n_outputs=1, got {discriminator.n_outputs}"
            )
        n = discriminator.in_features
        if image_shape is not None:
            if math.prod(image_shape) != n:
                raise ValueError(
                    f"images of shape {tuple(image_shape)} have {math.prod(image_shape)} values; the "
                    f"binary_classifier discriminator reads {n} (in_features)"
                )
            return tuple(image_shape)  # type: ignore[return-value]
        for channels in (1, 3):
            side = math.isqrt(n // channels)
            if channels * side * side == n:
                return (channels, side, side)
        raise ValueError(f"in_features={n} is no square image: give the image shape (C, H, W)")
    shape = getattr(discriminator, "image_shape", None)
    if shape is None:
        raise ValueError(f"{type(discriminator).__name__} is not an image discriminator")
    return tuple(shape)


def discriminator_logits(discriminator: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """One logit per image, (N,), for images (N, C, H, W); a BinaryClassifier reads them flattened.

    Args:
        discriminator: an ImageDiscriminator or a BinaryClassifier.
        images: (N, C, H, W).
    """
    if isinstance(discriminator, BinaryClassifier):
        return discriminator.logits(images.flatten(1)).squeeze(1)
    return discriminator.logits(images)


# --- Grids -------------------------------------------------------------------------------------


def latents(size: int, n: int, seed: int) -> torch.Tensor:
    """``n`` standard normal latent vectors (n, size), the same for the same ``seed``.

    Args:
        size: the latent length.
        n: the number of vectors.
        seed: the seed.
    """
    return torch.randn(n, size, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def generate(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """``model``'s images for latents ``z``, in eval mode, mapped to [0, 1].

    Args:
        model: a VAE or a decoder.
        z: latents (N, latent size).
    """
    low, high = pixel_range(model)
    was_training = model.training
    model.eval()
    try:
        images = torch.cat([decode(model, part) for part in z.split(_BATCH)]) if len(z) else decode(model, z)
    finally:
        model.train(was_training)
    return ((images - low) / (high - low)).clamp(0, 1)


def default_scale(side: int, min_side: int = MIN_SIDE) -> int:
    """The whole enlargement that makes an image of ``side`` pixels at least ``min_side``.

    Args:
        side: the image's side in pixels.
        min_side: the least side wanted.
    """
    return max(1, math.ceil(min_side / side))


def image_grid(images: torch.Tensor, nrow: int, scale: int = 1) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] as one uint8 picture (C, H', W'): ``nrow`` images a row,
    each enlarged ``scale`` times by repeating pixels, ``PAD`` grey pixels between them.

    Args:
        images: (N, C, H, W) in [0, 1].
        nrow: images per row.
        scale: how many times each image is enlarged.
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images (N, 1 or 3, H, W), got {tuple(images.shape)}")
    if nrow < 1 or scale < 1:
        raise ValueError(f"nrow and scale must be >= 1, got nrow={nrow}, scale={scale}")
    height = PAD + math.ceil(len(images) / nrow) * (images.shape[2] * scale + PAD)
    width = PAD + nrow * (images.shape[3] * scale + PAD)
    if height * width > MAX_PIXELS:  # checked before the enlarged copies are allocated
        raise ValueError(
            f"the picture would be {width:,} x {height:,} pixels, more than the limit of "
            f"{MAX_PIXELS:,} pixels: at most {MAX_PIXELS:,}; use a smaller scale, nrow or number of images"
        )
    pixels = (images * 255).round().clamp(0, 255).to(torch.uint8)
    pixels = pixels.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
    n, c, h, w = pixels.shape
    rows = math.ceil(n / nrow)
    grid = torch.full((c, PAD + rows * (h + PAD), PAD + nrow * (w + PAD)), PAD_VALUE, dtype=torch.uint8)
    for i, image in enumerate(pixels):
        top, left = PAD + (i // nrow) * (h + PAD), PAD + (i % nrow) * (w + PAD)
        grid[:, top : top + h, left : left + w] = image
    return grid


def sample_grid(
    model: nn.Module, n: int = 64, seed: int = 0, nrow: int | None = None, scale: int | None = None
) -> torch.Tensor:
    """A uint8 picture (C, H, W) of ``n`` samples of ``model`` from seeded Gaussian latents;
    ``nrow`` defaults to a square grid, ``scale`` to :func:`default_scale`.

    Args:
        model: a VAE or a decoder.
        n: the number of samples.
        seed: the seed of the latents.
        nrow: images per row; None: a square grid.
        scale: the enlargement; None: :func:`default_scale`.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if n > MAX_IMAGES:
        raise ValueError(f"n={n:,} is more than the limit of images in a picture: at most {MAX_IMAGES:,}")
    images = generate(model, latents(latent_size(model), n, seed))
    scale = default_scale(images.shape[-1]) if scale is None else scale  # (0 is refused, not a default)
    return image_grid(images, math.ceil(math.sqrt(n)) if nrow is None else nrow, scale)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation from ``a`` (t=0) to ``b`` (t=1) along the last axis.

    Gaussian latents concentrate near a sphere: the straight line between two of them passes
    through improbably short vectors, the great circle does not. Parallel vectors fall back
    to the straight line.

    Args:
        a: the start (t=0).
        b: the end (t=1).
        t: where along the arc, in [0, 1].
    """
    unit_a = a / a.norm(dim=-1, keepdim=True)
    unit_b = b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((unit_a * unit_b).sum(-1, keepdim=True).clamp(-1, 1))
    sin_omega = torch.sin(omega)
    straight = (1 - t) * a + t * b
    curved = torch.sin((1 - t) * omega) / sin_omega * a + torch.sin(t * omega) / sin_omega * b
    return torch.where(sin_omega.abs() < 1e-6, straight, curved)


def interpolation_latents(size: int, pairs: int, steps: int, seed: int) -> torch.Tensor:
    """(pairs * steps, size): for each of ``pairs`` seeded latent pairs, ``steps`` points of
    the spherical interpolation from the first (step 0) to the second (last step).

    Args:
        size: the latent length.
        pairs: the number of latent pairs.
        steps: the points per pair.
        seed: the seed of the latents.
    """
    if pairs < 1 or steps < 2:
        raise ValueError(f"expected pairs >= 1 and steps >= 2, got pairs={pairs}, steps={steps}")
    if pairs * steps > MAX_IMAGES:
        raise ValueError(
            f"pairs x steps = {pairs * steps:,} images, more than the limit of images in a picture: "
            f"at most {MAX_IMAGES:,}"
        )
    ends = latents(size, 2 * pairs, seed).view(pairs, 2, size)
    ts = torch.linspace(0, 1, steps).tolist()
    return torch.stack([slerp(a, b, t) for a, b in ends for t in ts])


def interpolate(
    model: nn.Module, pairs: int = 4, steps: int = 8, seed: int = 0, scale: int | None = None
) -> torch.Tensor:
    """A uint8 picture (C, H, W) with one row per latent pair: ``steps`` images along the
    spherical interpolation between the pair (see :func:`interpolation_latents`).

    Args:
        model: a VAE or a decoder.
        pairs: the number of latent pairs (rows).
        steps: the images per row.
        seed: the seed of the latents.
        scale: the enlargement; None: :func:`default_scale`.
    """
    images = generate(model, interpolation_latents(latent_size(model), pairs, steps, seed))
    return image_grid(images, steps, default_scale(images.shape[-1]) if scale is None else scale)


def save_grid_png(grid: torch.Tensor, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write a uint8 picture (C, H, W) as a PNG at ``path`` (atomically; a read-only file is
    replaced only with ``overwrite``); returns the path.

    Args:
        grid: the uint8 picture (C, H, W).
        path: the PNG to write.
        overwrite: replace a read-only file.
    """
    from PIL import Image

    if grid.dtype != torch.uint8 or grid.dim() != 3 or grid.shape[0] not in (1, 3):
        raise ValueError(f"expected a uint8 picture (1 or 3, H, W), got {grid.dtype} {tuple(grid.shape)}")
    pixels = grid.permute(1, 2, 0).numpy()
    image = Image.fromarray(pixels[:, :, 0] if grid.shape[0] == 1 else pixels)
    with atomic_path(path, suffix=".png", overwrite_readonly=overwrite) as tmp:
        image.save(tmp, format="PNG")
    return Path(path)


def sample_images(model: nn.Module, n: int = 64, seed: int = 0) -> torch.Tensor:
    """``n`` samples of ``model`` from the seeded latents of :func:`sample_grid`, as uint8 images
    (N, C, H, W) at the model's own size: no border, no enlargement.

    Args:
        model: a generator or VAE decoder.
        n: how many (1 to :data:`MAX_IMAGES`).
        seed: the seed of the latents.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if n > MAX_IMAGES:
        raise ValueError(f"n={n:,} is more than the limit of images: at most {MAX_IMAGES:,}")
    return _to_uint8(generate(model, latents(latent_size(model), n, seed)))


def interpolation_images(model: nn.Module, pairs: int, steps: int, seed: int = 0) -> torch.Tensor:
    """The images of :func:`interpolate` (pair-major: each pair's ``steps`` images in order) as
    uint8 images (N, C, H, W) at the model's own size.

    Args:
        model: a generator or VAE decoder.
        pairs: latent pairs.
        steps: images along each interpolation.
        seed: the seed of the latents.
    """
    return _to_uint8(generate(model, interpolation_latents(latent_size(model), pairs, steps, seed)))


def _to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] as uint8 pixels, rounded as :func:`image_grid` rounds them."""
    return (images * 255).round().clamp(0, 255).to(torch.uint8)


def save_image_pngs(images: torch.Tensor, folder: str | os.PathLike[str], names: list[str]) -> list[Path]:
    """Write each uint8 image (C, H, W) of ``images`` as a PNG of its own size, grey or RGB, in
    the existing ``folder``, under ``names`` (``.png`` added); returns the paths.

    Args:
        images: (N, 1 or 3, H, W) uint8.
        folder: an existing folder (a staging folder: the files are written directly).
        names: one file name (without suffix) per image.
    """
    from PIL import Image

    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected uint8 images (N, 1 or 3, H, W), got {images.dtype} {tuple(images.shape)}")
    if len(names) != len(images):
        raise ValueError(f"got {len(names)} names for {len(images)} images")
    paths = []
    for image, name in zip(images, names):
        pixels = image.permute(1, 2, 0).numpy()
        path = Path(folder, f"{name}.png")
        Image.fromarray(pixels[:, :, 0] if image.shape[0] == 1 else pixels).save(path, format="PNG")
        paths.append(path)
    return paths


# --- Scoring images ----------------------------------------------------------------------------


def image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The PNG and JPEG files under ``folder`` (subfolders too), sorted.

    Args:
        folder: the folder searched.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"{os.fspath(folder)} is not a folder of images")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {os.fspath(folder)}")
    return files


def _claimed_size(path: Path) -> str:
    """``width x height`` as the image file's header states them (read without decoding)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # only the header is read
        try:
            with Image.open(path) as opened:
                return f"{opened.size[0]} x {opened.size[1]}"
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def read_image(path: Path, shape: ImageShape, value_range: tuple[float, float], resize: bool) -> torch.Tensor:
    """The image at ``path`` as a float tensor of ``shape`` with pixels in ``value_range``;
    grey or RGB as ``shape`` asks; another size is resized (bilinear) only with ``resize``.

    Args:
        path: the image file.
        shape: the (C, H, W) wanted.
        value_range: the range of the pixels.
        resize: resize an image of another size (else refused).
    """
    import numpy as np
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms.functional import resize as resize_image

    channels, height, width = shape
    modes = {1: "L", 3: "RGB"}
    if channels not in modes:
        raise ValueError(f"the discriminator reads {channels}-channel images; files give 1 (grey) or 3 (RGB)")
    try:
        with warnings.catch_warnings():
            # above MAX_IMAGE_PIXELS PIL only warns, then decodes gigabytes; twice that it raises
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                pixels = np.asarray(opened.convert(modes[channels]), dtype=np.float32) / 255
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ValueError(
            f"{path}: {_claimed_size(path)} pixels, more than the {Image.MAX_IMAGE_PIXELS} an image "
            "may have to be read (a decompression bomb?); expected an image of about "
            f"{width} x {height} pixels"
        ) from None
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path}: not a readable PNG or JPEG image ({err})") from None
    image = torch.from_numpy(pixels.reshape(pixels.shape[0], pixels.shape[1], -1)).permute(2, 0, 1)
    if image.shape[1:] != (height, width):
        if not resize:
            raise ValueError(
                f"{path}: {image.shape[2]} x {image.shape[1]} pixels, the discriminator reads {width} x "
                f"{height}; resize the images or pass resize=True (zoo-sample --resize)"
            )
        image = resize_image(image, [height, width], antialias=True).clamp(0, 1)
    low, high = value_range
    return image * (high - low) + low


@torch.no_grad()
def score_images(
    discriminator: nn.Module,
    folder: str | os.PathLike[str],
    value_range: tuple[float, float] = (-1.0, 1.0),
    resize: bool = False,
    image_shape: ImageShape | None = None,
    batch_size: int = 64,
) -> list[tuple[str, float]]:
    """(path relative to ``folder``, probability that the image is real) for every image under
    ``folder``: sigmoid of the discriminator's logit, in eval mode.

    Pixels are mapped to ``value_range``, the range the discriminator was trained on
    ((-1, 1) beside a tanh generator, the default; (0, 1) beside a sigmoid one).

    Args:
        discriminator: an ImageDiscriminator or a BinaryClassifier.
        folder: the folder of images (PNG and JPEG, subfolders too).
        value_range: the range the pixels are mapped to.
        resize: resize images of another size (else refused).
        image_shape: the (C, H, W) a BinaryClassifier's flat input stands for.
        batch_size: images per pass.
    """
    if hasattr(discriminator, "in_size") or hasattr(discriminator, "latent_size"):
        raise ValueError(
            f"{type(discriminator).__name__} makes images from latents; only a discriminator scores them"
        )
    shape = discriminator_image_shape(discriminator, image_shape)
    root = Path(folder)
    files = image_files(root)
    was_training = discriminator.training
    discriminator.eval()
    rows: list[tuple[str, float]] = []
    try:
        for start in range(0, len(files), batch_size):
            chunk = files[start : start + batch_size]
            batch = torch.stack([read_image(p, shape, value_range, resize) for p in chunk])
            probs = torch.sigmoid(discriminator_logits(discriminator, batch))
            rows += [(p.relative_to(root).as_posix(), float(v)) for p, v in zip(chunk, probs)]
    finally:
        discriminator.train(was_training)
    return rows


def write_scores(
    rows: list[tuple[str, float]], path: str | os.PathLike[str], overwrite: bool = False
) -> Path:
    """Write :func:`score_images` rows as a TSV table (``path``, ``probability``), atomically
    (a read-only file is replaced only with ``overwrite``).

    An image name that would break the table (a tab or line break in it) is a ValueError.

    Args:
        rows: :func:`score_images` rows.
        path: the TSV file to write.
        overwrite: replace a read-only file.
    """
    for name, _ in rows:
        problem = tsv_field_problem(name)
        if problem is not None:
            raise ValueError(f"image name {name!r} {problem}: rename the file to score it into a TSV table")
    with atomic_path(path, suffix=".tsv", overwrite_readonly=overwrite) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write("path\tprobability\n")
            f.writelines(f"{name}\t{prob:.6g}\n" for name, prob in rows)
    return Path(path)
