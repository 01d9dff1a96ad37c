"""The per-epoch log line and the reason a fit stopped, on tiny real fits."""

import logging

import pytest
import torch
from lightning import Trainer
from lightning.pytorch.callbacks import EarlyStopping
from torch.utils.data import DataLoader, TensorDataset

import zoo
from zoo.tasks import ClassificationTask, EpochLog, stop_reason
from zoo.tasks.progress import epoch_metrics, format_duration, stop_rules


def loaders() -> tuple[DataLoader, DataLoader]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 4, generator=g)
    y = (x[:, :2] > 0).float()
    return DataLoader(TensorDataset(x[:32], y[:32]), batch_size=8), DataLoader(TensorDataset(x[32:], y[32:]))


def fit(tmp_path, callbacks=(), task_args=None, **trainer_args) -> Trainer:
    model = zoo.create_model("binary_classifier", in_features=4, n_outputs=2)
    task = ClassificationTask(model, **(task_args or {}))
    trainer = Trainer(default_root_dir=tmp_path, accelerator="cpu", logger=False, enable_progress_bar=False,
                      enable_model_summary=False, enable_checkpointing=False, callbacks=list(callbacks),
                      **trainer_args)  # fmt: skip
    trainer.fit(task, *loaders())
    return trainer


def test_early_stopping_says_on_what_and_after_how_long(tmp_path):
    # An improvement must exceed 1.0, which an AUROC cannot: the first epoch sets the best, then 2 fail.
    stopper = EarlyStopping(monitor="val_auroc", mode="max", patience=2, min_delta=1.0)
    epoch_log = EpochLog(monitor="val_auroc")
    trainer = fit(tmp_path, [stopper, epoch_log], max_epochs=20)
    assert trainer.current_epoch == 3
    first = f"{epoch_log.history[0]:.4g}"  # the best early stopping saw: epoch 0's
    assert stop_reason(trainer) == (
        f"early stopping: val_auroc did not improve by more than 1 for 2 epochs (patience 2; best {first})"
    )


def test_time_budget_and_epoch_cap_are_told_apart(tmp_path):
    timed = fit(tmp_path / "t", max_epochs=20, max_time={"seconds": 0})  # over budget after one batch
    assert timed.current_epoch == 0
    assert stop_reason(timed) == "max_time reached (trainer.max_time 0:00:00)"
    capped = fit(tmp_path / "c", max_epochs=2)
    assert stop_reason(capped) == "max_epochs reached (2 epochs)"
    stepped = fit(tmp_path / "s", max_epochs=5, max_steps=3)
    assert stop_reason(stepped) == "max_steps reached (3 steps)"


def test_stop_rules_list_every_limit(tmp_path):
    stopper = EarlyStopping(monitor="val_auroc", mode="max", patience=4, min_delta=0.001)
    trainer = Trainer(
        default_root_dir=tmp_path, max_epochs=7, max_time="00:01:00:00", callbacks=[stopper], logger=False
    )
    assert stop_rules(trainer) == (
        "training stops at the first of: val_auroc not improving (by more than 0.001) for 4 epochs; "
        "max_time 1:00:00; max_epochs 7"
    )


def test_epoch_lines_and_best_epoch(tmp_path, caplog):
    epoch_log = EpochLog(monitor="val_auroc", mode="max")
    with caplog.at_level(logging.INFO, logger="zoo.train"):
        trainer = fit(tmp_path, [epoch_log], task_args={"lr": 0.05}, max_epochs=3)
    lines = [r.getMessage() for r in caplog.records if r.name == "zoo.train"]
    assert lines[0] == stop_rules(trainer)
    assert [line.split(":")[0] for line in lines[1:]] == ["epoch 0", "epoch 1", "epoch 2"]
    assert all("train_loss " in line and "val_auroc " in line and "lr 0.05" in line for line in lines[1:])
    assert "targets_left_out" not in lines[1]  # a zero count is not shown
    assert sorted(epoch_log.history) == [0, 1, 2]
    best_epoch, best = epoch_log.best()
    assert best == max(epoch_log.history.values()) and epoch_log.history[best_epoch] == best
    assert "(best val_auroc)" in lines[1 + best_epoch]
    restored = EpochLog("val_auroc")
    restored.load_state_dict(epoch_log.state_dict())
    assert restored.best() == epoch_log.best()


def test_plateau_schedule_lowers_the_rate_when_val_auroc_stalls(tmp_path):
    task = ClassificationTask(
        zoo.create_model("binary_classifier", in_features=4), lr_patience=0, lr_factor=0.5
    )
    config = task.configure_optimizers()["lr_scheduler"]
    assert config["monitor"] == "val_auroc" and config["scheduler"].mode == "max"
    assert (config["scheduler"].threshold, config["scheduler"].threshold_mode) == (1e-3, "abs")
    # A rate too small to reorder the scores, so val_auroc stays put: every epoch after the first stalls.
    trainer = fit(tmp_path, task_args={"lr": 1e-6, "lr_patience": 0, "lr_factor": 0.5}, max_epochs=3)
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.25e-6)
    assert trainer.callback_metrics["lr"] == pytest.approx(0.5e-6)  # the rate epoch 2 trained with
    with pytest.raises(ValueError, match="task.lr_patience"):
        ClassificationTask(zoo.create_model("binary_classifier", in_features=4), lr_patience=-1)


def test_metric_names_in_reading_order():
    metrics = {"val_auprc": 0.5, "lr": 0.1, "train_loss_step": 9.0, "val_auroc": 0.6, "train_loss_epoch": 0.3,
               "val_loss": 0.4, "val_targets_left_out": 0.0, "test_targets_left_out": 2.0}  # fmt: skip
    shown = epoch_metrics({k: torch.tensor(v) for k, v in metrics.items()})
    assert list(shown) == ["train_loss", "val_loss", "val_auroc", "val_auprc", "test_targets_left_out", "lr"]
    assert format_duration(3725) == "1h02m" and format_duration(185) == "3m05s"
