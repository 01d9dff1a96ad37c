"""What ``zoo-train`` needs around Hydra: where the configs are, and a check that runs before
Hydra makes a run folder."""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf

_CLONE_CONF = Path(__file__).resolve().parents[2] / "conf"
# From a clone (editable install or PYTHONPATH) read conf/ in place; installed, the package.
IN_CLONE = (_CLONE_CONF / "config.yaml").is_file() and (_CLONE_CONF.parent / "pyproject.toml").is_file()
CONFIG_PATH = str(_CLONE_CONF) if IN_CLONE else "pkg://zoo.conf"


def experiment_names() -> list[str]:
    """The recipes in conf/experiment (``experiment=NAME``), sorted."""
    folder = _CLONE_CONF / "experiment" if IN_CLONE else resources.files("zoo.conf") / "experiment"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def missing_keys(cfg: DictConfig | ListConfig, prefix: str = "") -> list[str]:
    """The mandatory values (``???``) still unset in the composed config, Hydra's own left out.

    Interpolations are not followed (``OmegaConf.missing_keys`` resolves them, and
    ``${zoo.fasta_seq_len:${data.fasta}}`` fails on the missing file name first).
    """
    found: list[str] = []
    keys = cfg.keys() if isinstance(cfg, DictConfig) else range(len(cfg))
    for key in keys:
        name = f"{prefix}{key}"
        if name == "hydra" or OmegaConf.is_interpolation(cfg, key):
            continue
        if OmegaConf.is_missing(cfg, key):
            found.append(name)
        elif OmegaConf.is_config(cfg[key]):
            found += missing_keys(cfg[key], f"{name}.")
    return sorted(found)


def missing_message(command: str, missing: list[str]) -> str:
    """One line telling the user what to choose when ``missing`` values are unset."""
    keys = ", ".join(missing)
    if any(k.startswith("data.") for k in missing):
        return (
            f"{command}: no data chosen ({keys} not set). Pick a recipe, e.g. "
            f"`{command} experiment=deepsea_synthetic` (recipes: {', '.join(experiment_names())}), "
            f"or give your files: `{command} data.fasta=SEQS.fa data.labels=LABELS.tsv`. "
            f"Examples: `{command} --help`."
        )
    return f"{command}: {keys} not set; give {' '.join(f'{k}=VALUE' for k in missing)} (`{command} --help`)."


def run_folder_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the run folder ``path`` cannot be made or written (its nearest existing parent is a
    file, or is not writable), in words; None where it can.

    Args:
        path: the run folder (``hydra.run.dir``).
    """
    folder = Path(path)
    if folder.exists():
        if not folder.is_dir():
            return f"the run folder {os.fspath(path)} is a file"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"the run folder {os.fspath(path)} is not writable"
        return None
    parent = folder.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"the run folder {os.fspath(path)} cannot be made: {parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the run folder {os.fspath(path)} cannot be made: {parent} is not writable"
    return None


class RequireChoices(Callback):
    """Hydra callback: before a single run starts (and before Hydra creates its folder), stop
    with one line when the config still lacks mandatory values, e.g. plain ``zoo-train``, or
    when the run folder cannot be made.

    A multirun is not checked here: its sweep may set the values per job.
    """

    def __init__(self, command: str = "zoo-train") -> None:
        self.command = command

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Exit with status 2 and one line on stderr when a mandatory value is unset; with
        status 1 when the run folder cannot be made (Hydra's own error is a traceback)."""
        missing = missing_keys(config)
        if missing:
            print(missing_message(self.command, missing), file=sys.stderr)
            raise SystemExit(2)
        problem = run_folder_problem(config.hydra.run.dir)
        if problem is not None:
            print(f"{self.command}: error: {problem}", file=sys.stderr)
            raise SystemExit(1)
