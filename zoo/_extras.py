"""The one spelling of the pip command that installs an optional group of libraries."""

from __future__ import annotations


def install_hint(extra: str) -> str:
    """``pip install "sigmoid-zoo[EXTRA]"``: what an error about a missing optional library
    tells the user to run.

    Args:
        extra: the name of the extra in pyproject.toml (``interpret``, ``hdf5``, ...).
    """
    return f'pip install "sigmoid-zoo[{extra}]"'
