"""Run several zoo-predict command lines in one process of a torchrun launch (process start-up
is the slow part of a launch), in a process group this driver makes (zoo-predict uses it).

``python -m torch.distributed.run --nproc-per-node N tests/_parts_driver.py ARGV_LISTS_JSON``;
the exit status is that of the last command that failed, else 0. Two variables make one
rank misbehave, for the tests of failures: ``PARTS_KILL_RANK=R`` and ``PARTS_KILL_AFTER=PATH``
kill rank R (SIGKILL, as an out-of-memory killer would) when its share starts, once PATH
exists; ``PARTS_FAIL_RANK=R`` makes rank R's share fail with an error; ``PARTS_SLOW_RANK=R``
makes each model call of rank R take half a second longer.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import torch.distributed as dist

import zoo.predict.running.distributed as distributed
from zoo.cli.predict import call
from zoo.predict.errors import PredictError
from zoo.predict.running.scorer import Scorer

rank = os.environ["RANK"]
score_share = distributed.score_share


def killed(*args: object, **kwargs: object) -> object:
    """Wait for the other rank's part, then die without a word."""
    deadline = time.monotonic() + 60
    while not os.path.exists(os.environ["PARTS_KILL_AFTER"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGKILL)
    return None


def failing(*args: object, **kwargs: object) -> object:
    """A share that fails as a bad input would."""
    raise PredictError("injected failure")


if os.environ.get("PARTS_KILL_RANK") == rank:
    distributed.score_share = killed  # type: ignore[assignment]
if os.environ.get("PARTS_FAIL_RANK") == rank:
    distributed.score_share = failing  # type: ignore[assignment]

if os.environ.get("PARTS_SLOW_RANK") == rank:
    logits = Scorer.logits

    def slow(self: Scorer, *args: object, **kwargs: object) -> object:
        time.sleep(0.5)
        return logits(self, *args, **kwargs)

    Scorer.logits = slow  # type: ignore[method-assign]

dist.init_process_group("gloo")
status = 0
for argv in json.loads(sys.argv[1]):
    status = call(argv) or status
dist.destroy_process_group()
sys.exit(status)
