"""``zoo-train`` / ``python -m zoo.cli.train``: Hydra-composed Lightning training runs.

    zoo-train experiment=deepsea_synthetic
    zoo-train experiment=deepsea_synthetic data.fasta=seqs.fa data.labels=labels.tsv
    zoo-train -m experiment=deepsea_synthetic task.lr=1e-3,1e-4

Configs live in the repository's conf/ (installed as the package ``zoo.conf``). The run
directory (``hydra.run.dir``) receives the composed config (.hydra/), metrics.csv,
hparams.yaml, checkpoints/ (last.ckpt, best.ckpt) and images/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from zoo.data import array_dims, count_bed_targets, count_targets, fasta_seq_len
from zoo.data.arrays import FILE_OPTIONS

_CLONE_CONF = Path(__file__).resolve().parents[2] / "conf"
# From a clone (editable install or PYTHONPATH) read conf/ in place; installed, the package.
CONFIG_PATH = (
    str(_CLONE_CONF)
    if (_CLONE_CONF / "config.yaml").is_file() and (_CLONE_CONF.parent / "pyproject.toml").is_file()
    else "pkg://zoo.conf"
)


def _array_dim(which: str, _parent_: DictConfig) -> int:
    """``seq_len`` or ``n_targets`` of the array files the enclosing data config reads."""
    dims = ("seq_len", "n_targets")
    if which not in dims:
        raise ValueError(f"zoo.array_dims takes seq_len or n_targets, got {which!r}")
    options = {k: _parent_[k] for k in ("dir", *FILE_OPTIONS) if k in _parent_}
    train = _parent_.train
    if isinstance(train, DictConfig):
        train = OmegaConf.to_container(train, resolve=True)
    return array_dims(train, **options)[dims.index(which)]


def register_resolvers() -> None:
    """``${zoo.fasta_seq_len:F}``, ``${zoo.label_count:T}``, ``${zoo.bed_target_count:T}``,
    ``${zoo.array_dims:seq_len}`` / ``${zoo.array_dims:n_targets}`` (in a data config: its
    training array files): sizes read from data files so they flow into the model config."""
    resolvers = {
        "zoo.fasta_seq_len": lambda path: fasta_seq_len(path),
        "zoo.label_count": lambda path: count_targets(path),
        "zoo.bed_target_count": lambda path: count_bed_targets(path),
        "zoo.array_dims": _array_dim,
    }
    for name, fn in resolvers.items():
        OmegaConf.register_new_resolver(name, fn, replace=True)


register_resolvers()


def prepare_data(cfg: DictConfig) -> None:
    """Run the configured synthetic-data generator when the data module reads its output."""
    synthetic = cfg.get("synthetic")
    if synthetic and OmegaConf.select(cfg, "data.fasta") == synthetic.get("fasta"):
        instantiate(synthetic)


# Trainer arguments Lightning only checks deep inside fit (a bare AssertionError there).
_TRAINER_INTS = (
    "max_epochs", "min_epochs", "max_steps", "min_steps", "num_nodes", "log_every_n_steps",
    "accumulate_grad_batches", "num_sanity_val_steps", "check_val_every_n_epoch",
)  # fmt: skip
_TRAINER_NUMBERS = ("limit_train_batches", "limit_val_batches", "limit_test_batches", "val_check_interval")


def check_trainer_config(trainer: DictConfig) -> None:
    """Refuse a trainer count that is not a whole number (or a fraction that is not a number)
    before data is built, naming the key: ``trainer.max_epochs=abc`` would fail mid-fit."""
    for key in _TRAINER_INTS + _TRAINER_NUMBERS:
        value = trainer.get(key)
        if value is None:
            continue
        wanted = int if key in _TRAINER_INTS else (int, float)
        if isinstance(value, bool) or not isinstance(value, wanted):
            kind = "a whole number" if key in _TRAINER_INTS else "a number (a count or a fraction)"
            raise ValueError(f"trainer.{key}={value!r} is not {kind}")


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit (and test, if ``run_test``) the composed run; returns the final logged metrics."""
    check_trainer_config(cfg.trainer)
    L.seed_everything(cfg.seed, workers=True)
    if cfg.get("torch_threads"):
        torch.set_num_threads(cfg.torch_threads)
    prepare_data(cfg)
    datamodule = instantiate(cfg.data)
    task = instantiate(cfg.task)
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None]
    loggers = [instantiate(c) for c in cfg.logger.values() if c is not None]
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
    metrics: dict[str, Any] = dict(trainer.callback_metrics)
    if cfg.run_test and not trainer.fast_dev_run:
        best = "best" if cfg.monitor.metric else None
        for result in trainer.test(task, datamodule=datamodule, ckpt_path=best):
            metrics.update(result)
    return {k: float(v) for k, v in metrics.items()}


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns the monitored metric (for sweepers)."""
    metrics = train(cfg)
    metric = cfg.monitor.metric
    return metrics.get(metric) if metric else None


if __name__ == "__main__":
    main()
