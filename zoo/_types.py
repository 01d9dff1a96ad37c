"""Type aliases shared across the package, defined once.

Nothing here imports torch: the FASTA reader processes import these aliases and start
without it.
"""

from __future__ import annotations

import os
from typing import Literal

# A path as users pass it: a string or any os.PathLike of str (pathlib.Path).
PathLike = str | os.PathLike[str]

# The numeric precisions of fast inference and ISM.
Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")

# An image's (channels, height, width).
ImageShape = tuple[int, int, int]
