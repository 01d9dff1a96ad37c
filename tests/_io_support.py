"""Helpers for the tests of outputs: FIFOs read in the background, processes stopped mid-write."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path


def fifo_reader(path: Path) -> Callable[[], str]:
    """Make a FIFO at ``path`` and start reading it; the returned call waits for and returns the text."""
    os.mkfifo(path)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(path.read_text()), daemon=True)
    reader.start()

    def text() -> str:
        reader.join(timeout=30)
        return got[0] if got else "<nothing read>"

    return text


def signal_when_writing(proc: subprocess.Popen[bytes], folder: Path, prefix: str, signum: int) -> bytes:
    """Send ``signum`` to ``proc`` once a temporary file ``prefix*`` exists in ``folder`` (the
    output is being written); return its stderr after it exits."""
    deadline = time.monotonic() + 60
    while not [p for p in folder.iterdir() if p.name.startswith(prefix)]:
        assert time.monotonic() < deadline and proc.poll() is None, "no temporary file appeared"
        time.sleep(0.05)
    time.sleep(0.5)  # let it write what it has
    proc.send_signal(signum)
    try:
        return proc.communicate(timeout=30)[1]
    finally:
        proc.kill()
