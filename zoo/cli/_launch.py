"""The console scripts' entry points: a stop signal is one line from the first instant.

A console script imports its command's module before calling ``main``, and that import (torch,
Lightning, Hydra) takes a second or more; Ctrl-C then was a traceback from deep inside an import.
Each entry point here installs quiet handlers first (this module imports nothing heavy), then
imports the command and runs it; the command's ``main`` replaces the handlers with its own.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

from zoo._signals import stop_quietly_while_starting

# entry point -> (the command's name, the module whose ``main`` runs it)
COMMANDS = {
    name.replace("-", "_"): (f"zoo-{name}", f"zoo.cli.{name}")
    for name in (
        "demo",
        "train",
        "evaluate",
        "predict",
        "interpret",
        "convert",
        "sample",
        "pretrained",
        "export",
        "motifs",
        "design",
    )
}


def launch(prog: str, module: str) -> None:
    """Catch stop signals quietly, import ``module`` and run its ``main``.

    Args:
        prog: the command's name, for the line a stop signal prints.
        module: the command's module.
    """
    stop_quietly_while_starting(prog)
    try:
        try:
            importlib.import_module(module).main()
        finally:
            sys.stdout.flush()  # here, where a closed pipe can still be caught
    except BrokenPipeError:
        # The reader of standard output went away (``zoo-pretrained list | head``): end quietly,
        # as shell tools do, with the status of SIGPIPE; output to the closed pipe is dropped.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(128 + signal.SIGPIPE)


def demo() -> None:
    """``zoo-demo``."""
    launch(*COMMANDS["demo"])


def train() -> None:
    """``zoo-train``."""
    launch(*COMMANDS["train"])


def evaluate() -> None:
    """``zoo-evaluate``."""
    launch(*COMMANDS["evaluate"])


def predict() -> None:
    """``zoo-predict``."""
    launch(*COMMANDS["predict"])


def interpret() -> None:
    """``zoo-interpret``."""
    launch(*COMMANDS["interpret"])


def convert() -> None:
    """``zoo-convert``."""
    launch(*COMMANDS["convert"])


def sample() -> None:
    """``zoo-sample``."""
    launch(*COMMANDS["sample"])


def pretrained() -> None:
    """``zoo-pretrained``."""
    launch(*COMMANDS["pretrained"])


def export() -> None:
    """``zoo-export``."""
    launch(*COMMANDS["export"])


def motifs() -> None:
    """``zoo-motifs``."""
    launch(*COMMANDS["motifs"])


def design() -> None:
    """``zoo-design``."""
    launch(*COMMANDS["design"])
