"""Public pretrained weight files, described as data next to the families that load them.

Each family file lists the published files its models read as ``PUBLISHED``, a tuple of
:class:`PublishedFile`: where the file is, how to check it, and the exact model (registry
name and constructor arguments) that computes what the original did. A catalogue builds on
these records; nothing here downloads anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Where csinva/gan-vae-pretrained-pytorch serves its files (MIT license).
CSINVA = "https://github.com/csinva/gan-vae-pretrained-pytorch/raw/master/"
CSINVA_SOURCE = "csinva/gan-vae-pretrained-pytorch"


@dataclass(frozen=True)
class PublishedFile:
    """One published weights file and the zoo model that reproduces its original.

    ``args`` are the constructor arguments of ``model`` that make it compute what the
    original did (including those a file's tensor shapes cannot tell); ``layout`` names the
    registered layout (``zoo.layouts.Layout``) the file is in. ``md5`` is None where it is
    not known. ``image_shape`` is (C, H, W) of the images the model makes or reads;
    ``value_range`` their pixel range; ``latent_size`` the length of a generator's or
    VAE's Gaussian latent (None for discriminators).
    """

    name: str
    model: str
    args: Mapping[str, Any]
    layout: str
    url: str
    md5: str | None
    license: str
    source: str
    description: str
    image_shape: tuple[int, int, int]
    value_range: tuple[float, float]
    latent_size: int | None = None


def csinva_file(path: str, **fields: Any) -> PublishedFile:
    """The record of the file at ``path`` in csinva/gan-vae-pretrained-pytorch (MIT license)."""
    return PublishedFile(url=CSINVA + path, license="MIT", source=CSINVA_SOURCE, **fields)
