"""The zoo's own Lightning checkpoints for the tests: written by a Trainer, or built as Lightning does."""

from __future__ import annotations

from pathlib import Path

import lightning
import torch
from torch.utils.data import DataLoader, TensorDataset

import zoo
from zoo.tasks import ClassificationTask

# A small DeepSEA whose non-shape settings all differ from the defaults (shapes cannot tell them).
ODD_DEEPSEA = {
    "seq_len": 200,
    "n_targets": 5,
    "hidden": 16,
    "conv_channels": (8, 8, 8),
    "dropouts": (0.1, 0.3, 0.0),
    "activation": "relu",
    "rc_average": True,
    "head": "identity",
}


def trained_deepsea_checkpoint(tmp_path: Path) -> tuple[ClassificationTask, Path]:
    """A ClassificationTask on ODD_DEEPSEA after one training step, and its Trainer-written .ckpt."""
    task = ClassificationTask(zoo.create_model("deepsea", **ODD_DEEPSEA), lr=0.1)
    data = TensorDataset(zoo.one_hot(["ACGTTGCAGA" * 20] * 4), torch.rand(4, 5).round())
    trainer = lightning.Trainer(
        max_epochs=1, limit_train_batches=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path, accelerator="cpu",
    )  # fmt: skip
    trainer.fit(task, DataLoader(data, batch_size=4))
    path = tmp_path / "last.ckpt"
    trainer.save_checkpoint(path)
    return task, path


def lightning_style_checkpoint(task: lightning.LightningModule, path: Path) -> Path:
    """Save ``task`` as Lightning's checkpoint connector does (the parts the zoo reads)."""
    ckpt = {
        "epoch": 0,
        "global_step": 0,
        "pytorch-lightning_version": lightning.__version__,
        "state_dict": task.state_dict(),
        "hyper_parameters": dict(task.hparams),
    }
    torch.save(ckpt, path)
    return path
