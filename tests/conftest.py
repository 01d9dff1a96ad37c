import pytest
import torch

from zoo.summary import DEMO_OVERRIDES, example_input


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def demo_overrides(name: str) -> dict:
    """Arguments a model needs beyond its paper defaults (only binary_classifier has any)."""
    return dict(DEMO_OVERRIDES.get(name, {}))


__all__ = ["demo_overrides", "example_input"]
