"""The SLURM launcher configs of zoo-train sweeps: they compose into submitit's launchers, and
a sweep runs through submitit's local executor (the SLURM launcher's path, without SLURM)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from tests.test_train import CONF, TINY_STEPS, tiny_dna

pytest.importorskip("hydra_plugins.hydra_submitit_launcher")


def launcher(name: str, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"hydra/launcher={name}", *overrides], return_hydra_config=True)
    return cfg.hydra.launcher


def test_slurm_launcher_composes() -> None:
    slurm = launcher("slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=4")
    assert slurm._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (slurm.partition, slurm.gpus_per_node, slurm.tasks_per_node, slurm.nodes) == ("gpu", 4, 1, 1)
    assert (slurm.timeout_min, slurm.cpus_per_task, slurm.mem_gb, slurm.array_parallelism) == (
        1440,
        8,
        64,
        64,
    )
    assert slurm.submitit_folder.endswith("/.submitit/%j")  # inside the sweep folder


def test_local_launcher_composes() -> None:
    local = launcher("slurm_local")
    assert local._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"
    assert (local.gpus_per_node, local.tasks_per_node) == (0, 1)


def test_sweep_runs_through_submitit(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["-m", "hydra/launcher=slurm_local", "experiment=deepsea_synthetic", "task.lr=1e-3,1e-4",
            "run_test=false", f"hydra.sweep.dir={sweep}", *tiny_dna(tmp_path, 200), *TINY_STEPS]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "zoo.cli.train", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for job, lr in (("0", 1e-3), ("1", 1e-4)):
        saved = torch.load(sweep / job / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
        assert saved["hyper_parameters"]["lr"] == lr
    assert list((sweep / ".submitit").glob("*/*_log.out"))  # submitit ran the jobs and kept their logs
