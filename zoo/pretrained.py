"""Published checkpoints: the catalogue, and their download into a verified local cache.

Examples:
    >>> from zoo.pretrained import list_pretrained, locate_weights
    >>> list_pretrained()[:2]
    ['basset.kipoi', 'beluga.expecto']
    >>> path = locate_weights("deepsea.kipoi_predict").path  # downloads once, then cached

The public names of :mod:`zoo.weights.catalogue` (finding records by name) and
:mod:`zoo.weights.download` (downloading, verifying and caching their files), in one place.
"""

from zoo.weights.catalogue import Located, all_pretrained, get_pretrained, list_pretrained, locate_weights
from zoo.weights.download import (
    CACHE_ENV,
    ArchiveError,
    ChecksumError,
    DownloadError,
    cache_dir,
    cached_md5,
    entry_dir,
    extract_member,
    fetch,
    file_md5,
    verify,
    verify_cached,
)
from zoo.weights.published import PublishedFile

__all__ = [
    "CACHE_ENV",
    "ArchiveError",
    "ChecksumError",
    "DownloadError",
    "Located",
    "PublishedFile",
    "all_pretrained",
    "cache_dir",
    "cached_md5",
    "entry_dir",
    "extract_member",
    "fetch",
    "file_md5",
    "get_pretrained",
    "list_pretrained",
    "locate_weights",
    "verify",
    "verify_cached",
]
