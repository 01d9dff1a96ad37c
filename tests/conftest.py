import contextlib
import dataclasses
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from zoo.models import PublishedFile, register_published, unregister_published
from zoo.pretrained import get_pretrained
from zoo.summary import DEMO_OVERRIDES, example_input

# The repository root on sys.path, so tests import their reference layouts as ``tests.legacy``
# however pytest is started (``python -m pytest`` adds it, plain ``pytest`` does not).
sys.path.append(str(Path(__file__).resolve().parents[1]))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _no_random_init(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
    if tensor.device.type != "meta":  # on the meta device an init computes nothing
        raise AssertionError("load_model ran a random initialisation")
    return tensor


@contextlib.contextmanager
def random_init_forbidden(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Inside: nn.init's random initialisers fail on real tensors (to prove a load skips them)."""
    with monkeypatch.context() as m:
        for name in ("kaiming_uniform_", "uniform_", "normal_"):
            m.setattr(nn.init, name, _no_random_init)
        yield


@pytest.fixture
def publish() -> Iterator[Callable[..., PublishedFile]]:
    """``publish(like, **fields)`` registers a published file for one test: the record ``like``
    (a catalogue name) with ``fields`` changed (the real files are too large, or unreachable,
    for tests). Each is unregistered when the test ends."""
    added: list[str] = []

    def add(like: str, **fields: object) -> PublishedFile:
        made = register_published(dataclasses.replace(get_pretrained(like), **fields))
        added.append(made.name)
        return made

    yield add
    for name in added:
        unregister_published(name)


def demo_overrides(name: str) -> dict:
    """Arguments a model needs beyond its paper defaults (only binary_classifier has any)."""
    return dict(DEMO_OVERRIDES.get(name, {}))


__all__ = ["demo_overrides", "example_input", "random_init_forbidden"]
