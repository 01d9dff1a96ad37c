"""What ``zoo-train`` needs around Hydra: where the configs are, a check that runs before
Hydra makes a run folder, and the undoing of that folder when the run fails before training."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf

from zoo._io.stale import missing_folders, remove_created

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
    missing = missing_folders(folder.absolute().parent)
    parent = missing[-1].parent if missing else folder.absolute().parent  # the nearest that exists
    if not parent.is_dir():
        return f"the run folder {os.fspath(path)} cannot be made: {parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the run folder {os.fspath(path)} cannot be made: {parent} is not writable"
    return None


@dataclass
class RunFolderBefore:
    """A single run's folder as it was before Hydra made it (see :func:`note_run_folder`)."""

    path: Path
    made: list[Path] = field(default_factory=list)  # folders the run makes, the run folder first
    entries: set[Path] = field(default_factory=set)  # what an existing folder held
    sizes: dict[Path, int] = field(default_factory=dict)  # ... and the sizes of its files


_before: RunFolderBefore | None = None


def note_run_folder(path: str | os.PathLike[str]) -> RunFolderBefore:
    """Remember what the run folder ``path`` is before the run: the folders that do not exist
    yet (it and its missing parents), or, for an existing one (a resumed run), the sizes of
    the files directly in it (train.log gets the run's lines appended).

    Args:
        path: the run folder (``hydra.run.dir``).
    """
    global _before
    folder = Path(path).absolute()
    before = RunFolderBefore(folder)
    if folder.is_dir():
        before.entries = set(folder.iterdir())
        before.sizes = {p: p.stat().st_size for p in before.entries if p.is_file() and not p.is_symlink()}
    else:
        before.made = missing_folders(folder)
    _before = before
    return before


def undo_run_folder() -> None:
    """Take back what this run did to its run folder, for a run that failed before training
    started: a folder it made goes, with the parents it made (where nothing else came into
    them meanwhile); an existing folder keeps what it held, a file of it that grew (the log)
    is cut back to its size, and what the run added to it goes. Nothing is done outside a single run noted by
    :func:`note_run_folder` (a multirun, or ``train`` called from Python)."""
    global _before
    before, _before = _before, None
    if before is None or not HydraConfig.initialized():
        return
    if Path(HydraConfig.get().runtime.output_dir).absolute() != before.path:
        return  # not the folder noted: leave everything
    if before.made:
        shutil.rmtree(before.path, ignore_errors=True)
        # the parents only when empty: another run may have made a folder beside ours
        remove_created(before.made[:0:-1])
        return
    for path in before.path.iterdir():
        if path not in before.entries:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        elif path in before.sizes and path.stat().st_size > before.sizes[path]:
            os.truncate(path, before.sizes[path])


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
        note_run_folder(config.hydra.run.dir)  # a failure before training takes the folder back
