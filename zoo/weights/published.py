"""The record of one public pretrained weights file.

A family file lists the published files of each model it registers
(``register_model(..., published=(PublishedFile(...), ...))``): where the file is, how to
check it, and the exact model arguments that compute what the original did. Registering
fills in what the family states once for all its files (the model name, the paper, the
conventions of :class:`zoo._registry.Conventions`), so a record spells out only where its
file differs. Nothing here downloads anything: :mod:`zoo.weights.download` downloads,
verifies and caches the files, and ``zoo.create_model(name, pretrained=True)`` builds a
model from its record.
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


@dataclass(frozen=True, kw_only=True)
class PublishedFile:
    """One published weights file and the zoo model that reproduces its original.

    ``value_range``, ``n_value`` and ``targets`` left None take the model's conventions
    when the file is registered.

    Attributes:
        name: ``family.source`` (``deepsea.kipoi_predict``).
        model: the registry name of the model; filled in from the model the file is
            registered with.
        args: the constructor arguments of ``model`` that make it compute what the original
            did (including those a file's tensor shapes cannot tell, such as ``rc_average``,
            the strand averaging).
        layout: the registered layout (``zoo.weights.layouts.Layout``) the file is in.
        url: where the file is downloaded from.
        md5: the published checksum of the downloaded file, None where none is known.
        license: the license the file is published under.
        source: who publishes the file.
        description: what the file is, in a sentence.
        image_shape: image models: the (C, H, W) of the images the model makes or reads.
        value_range: image models: the images' pixel range.
        latent_size: image models: the length of a generator's or VAE's Gaussian latent
            (None for discriminators).
        n_value: DNA models: what the original's encoding puts in each channel for N.
        targets: DNA models: the list in ``zoo.targets`` naming the outputs (``deepsea_919``).
        archive_member: for an archive, the basename of the weight file inside it.
        weights_doi: the DOI of the weights' own record, where they have one apart from the
            paper.
        paper: the paper; filled in from the model the file is registered with.
    """

    name: str
    model: str = ""
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
    weights_doi: str | None = None
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
    """The record of the file at ``path`` in csinva/gan-vae-pretrained-pytorch (MIT license).

    ``fields`` are the other fields of :class:`PublishedFile`.
    """
    return PublishedFile(url=CSINVA + path, license="MIT", source=CSINVA_SOURCE, **fields)
