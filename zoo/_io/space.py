"""A full disk: which errors are one, and the free space on the file system an output goes to,
for writers that cannot survive a failed write (libBigWig, under pyBigWig, crashes the process
when a write fails)."""

from __future__ import annotations

import errno
import os

# a write refused for want of room: the disk, a quota, a file size limit (ulimit -f)
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` is a write refused for want of room (:data:`DISK_FULL_ERRNOS`).

    Args:
        err: the error raised by a write.
    """
    return isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS


def no_space_error(path: str | os.PathLike[str]) -> OSError:
    """The error of a write to ``path`` on a full disk (``errno.ENOSPC``).

    Args:
        path: the file or folder written.
    """
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))


def require_free_space(path: str | os.PathLike[str], nbytes: int) -> None:
    """Raise :func:`no_space_error` when the file system holding ``path`` has fewer than
    ``nbytes`` bytes free for this user; nothing where that cannot be known (no ``statvfs``).

    Args:
        path: an existing file or folder on the file system written to.
        nbytes: the bytes about to be written.
    """
    if not hasattr(os, "statvfs"):
        return
    st = os.statvfs(path)
    if st.f_bavail * st.f_frsize < nbytes:
        raise no_space_error(path)
