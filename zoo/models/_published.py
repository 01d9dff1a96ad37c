"""Public pretrained weight files, described as data next to the families that load them.

Each family file lists the published files its models read as ``PUBLISHED``, a tuple of
:class:`PublishedFile`: where the file is, how to check it, and the exact model (registry
name and constructor arguments) that computes what the original did; ``zoo.models``
gathers them all in ``PUBLISHED``. Nothing here downloads anything: ``zoo.pretrained``
downloads, verifies and caches the files, and ``zoo.create_model(name, pretrained=True)``
builds a model from its record.
"""

from __future__ import annotations

import posixpath
import types
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Where csinva/gan-vae-pretrained-pytorch serves its files (MIT license).
CSINVA = "https://github.com/csinva/gan-vae-pretrained-pytorch/raw/master/"
CSINVA_SOURCE = "csinva/gan-vae-pretrained-pytorch"


@dataclass(frozen=True)
class PublishedFile:
    """One published weights file and the zoo model that reproduces its original.

    ``args`` are the constructor arguments of ``model`` that make it compute what the
    original did (including those a file's tensor shapes cannot tell); ``layout`` names the
    registered layout (``zoo.layouts.Layout``) the file is in. ``md5`` is the published
    checksum of the downloaded file, None where none is known. ``name`` reads
    ``family.source`` (``deepsea.kipoi_predict``).

    Image models: ``image_shape`` is (C, H, W) of the images the model makes or reads;
    ``value_range`` their pixel range; ``latent_size`` the length of a generator's or
    VAE's Gaussian latent (None for discriminators).

    DNA models: ``n_value`` is what the original's encoding puts in each channel for N;
    ``targets`` the list in ``zoo.targets`` naming the outputs (``deepsea_919``). For an
    archive, ``archive_member`` is the basename of the weight file inside it.
    """

    name: str
    model: str
    args: Mapping[str, Any] = field(hash=False)
    layout: str
    url: str
    md5: str | None
    license: str
    source: str
    description: str
    image_shape: tuple[int, int, int] | None = None
    value_range: tuple[float, float] | None = None
    latent_size: int | None = None
    n_value: float | None = None
    targets: str | None = None
    archive_member: str | None = None
    paper: str = ""

    def __post_init__(self) -> None:
        # read-only, so the frozen record cannot be changed through its arguments
        object.__setattr__(self, "args", types.MappingProxyType(dict(self.args)))

    @property
    def filename(self) -> str:
        """The name of the downloaded file: the last part of the URL's path."""
        return posixpath.basename(urllib.parse.urlsplit(self.url).path)

    @property
    def seq_len(self) -> int | None:
        """A DNA model's input length in bp (None for other models)."""
        return self.args.get("seq_len")

    @property
    def rc_average(self) -> bool:
        """Whether the original averages forward and reverse-complement predictions."""
        return bool(self.args.get("rc_average", False))


def csinva_file(path: str, **fields: Any) -> PublishedFile:
    """The record of the file at ``path`` in csinva/gan-vae-pretrained-pytorch (MIT license)."""
    return PublishedFile(url=CSINVA + path, license="MIT", source=CSINVA_SOURCE, **fields)
