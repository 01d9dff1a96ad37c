"""Timing for the benchmark scripts: seconds per call, the device's queued work included.

Scripts run as ``python scripts/<name>.py`` put this folder on ``sys.path``, so they import
it as ``from _timing import ...``. Best-of is the usual summary: other processes on a
shared machine only ever add time to a call.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


def synchronizer(device: torch.device | str | None) -> Callable[[], None]:
    """A function that waits for the work queued on ``device``: ``torch.cuda.synchronize``
    on CUDA (kernels run asynchronously there), nothing elsewhere."""
    if device is not None and torch.device(device).type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def seconds(fn: Callable[[], object], device: torch.device | str | None = None) -> float:
    """Seconds one call of ``fn`` takes, until the work it queued on ``device`` is done."""
    sync = synchronizer(device)
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


@dataclass
class Timing:
    """The seconds of each timed call, and of the untimed warm-up calls before them."""

    times: list[float]
    warmup: float  # includes compilation when the function is compiled

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def calls(self) -> int:
        return len(self.times)


def timed(
    fn: Callable[[], object],
    calls: int,
    *,
    warmup: int = 1,
    min_time: float | None = None,
    device: torch.device | str | None = None,
) -> Timing:
    """``warmup`` untimed calls of ``fn``, then ``calls`` timed ones; with ``min_time``, timed
    calls stop once they add up to ``min_time`` seconds (at least one, at most ``calls``)."""
    warm = sum(seconds(fn, device) for _ in range(warmup))
    times: list[float] = []
    while len(times) < calls and (min_time is None or not times or sum(times) < min_time):
        times.append(seconds(fn, device))
    return Timing(times, warm)


def best_of(
    fn: Callable[[], object], calls: int, warmup: int = 1, device: torch.device | str | None = None
) -> float:
    """The fastest of ``calls`` timed calls of ``fn`` after ``warmup`` untimed ones, in seconds."""
    return timed(fn, calls, warmup=warmup, device=device).best


def alternate_best(
    fns: dict[str, Callable[[], object]], rounds: int, device: torch.device | str | None = None
) -> dict[str, float]:
    """Best seconds per call of each function, timed in alternating rounds after one warm-up each.

    Alternation spreads a noisy machine's slow spells over every contender alike, so the
    ratios between them hold even when absolute times do not.
    """
    for fn in fns.values():  # warm-up (and compilation) outside the rounds
        seconds(fn, device)
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] = min(best.get(name, float("inf")), seconds(fn, device))
    return best
