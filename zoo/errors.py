"""The base of the errors the library raises about what a user gave it.

Library code raises a subclass of :class:`ZooError` (a ``ValueError``) for input, files or
arguments a user can fix; every command prints one as a single line and exits 1.
"""

from __future__ import annotations


class ZooError(ValueError):
    """A problem with the user's input, files or arguments, stated so that they can fix it."""
