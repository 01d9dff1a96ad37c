"""``zoo-train`` / ``python -m zoo.train``: Hydra-composed Lightning training runs.

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

from zoo.data import count_bed_targets, count_targets, fasta_seq_len

_CLONE_CONF = Path(__file__).resolve().parent.parent / "conf"
# From a clone (editable install or PYTHONPATH) read conf/ in place; installed, the package.
CONFIG_PATH = (
    str(_CLONE_CONF)
    if (_CLONE_CONF / "config.yaml").is_file() and (_CLONE_CONF.parent / "pyproject.toml").is_file()
    else "pkg://zoo.conf"
)


def register_resolvers() -> None:
    """``${zoo.fasta_seq_len:F}``, ``${zoo.label_count:T}``, ``${zoo.bed_target_count:T}``:
    sizes read from data files so they flow into the model config."""
    resolvers = {
        "zoo.fasta_seq_len": lambda path: fasta_seq_len(path),
        "zoo.label_count": lambda path: count_targets(path),
        "zoo.bed_target_count": lambda path: count_bed_targets(path),
    }
    for name, fn in resolvers.items():
        OmegaConf.register_new_resolver(name, fn, replace=True)


register_resolvers()


def prepare_data(cfg: DictConfig) -> None:
    """Run the configured synthetic-data generator when the data module reads its output."""
    synthetic = cfg.get("synthetic")
    if synthetic and OmegaConf.select(cfg, "data.fasta") == synthetic.get("fasta"):
        instantiate(synthetic)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit (and test, if ``run_test``) the composed run; returns the final logged metrics."""
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
