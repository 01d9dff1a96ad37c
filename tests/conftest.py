import sys
from pathlib import Path

import pytest
import torch

from zoo.summary import DEMO_OVERRIDES, example_input

# The repository root on sys.path, so tests import their reference layouts as ``tests.legacy``
# however pytest is started (``python -m pytest`` adds it, plain ``pytest`` does not).
sys.path.append(str(Path(__file__).resolve().parents[1]))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def demo_overrides(name: str) -> dict:
    """Arguments a model needs beyond its paper defaults (only binary_classifier has any)."""
    return dict(DEMO_OVERRIDES.get(name, {}))


__all__ = ["demo_overrides", "example_input"]
