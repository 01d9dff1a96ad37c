"""Lightning's checkpoint callback and CSV logger, made safe for diverged and resumed runs."""

from __future__ import annotations

import csv
from weakref import proxy

import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_warn

from zoo._io.writing import atomic_path


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint for zoo-train runs, with two changes:

    - A NaN or infinite monitored value never makes a checkpoint "best": Lightning ranks
      NaN last, but still saves it as best while it has fewer than ``save_top_k``, and
      ``ckpt_path="best"`` then tests it.
    - ``save_last`` keeps ``last.ckpt`` at the latest epoch: Lightning rewrites it only when
      it saves a best checkpoint, so after an epoch that was not the best it was stale,
      and a resumed run repeated epochs.

    It also remembers the epoch of the best checkpoint (``best_model_epoch``, kept across a
    resume), so that the run's closing lines can say where the best value came from.
    """

    best_model_epoch: int | None = None

    def _update_best_and_save(
        self, current: torch.Tensor, trainer: Trainer, monitor_candidates: dict[str, torch.Tensor]
    ) -> None:
        """Lightning's ranking and saving, then the epoch of the best checkpoint."""
        super()._update_best_and_save(current, trainer, monitor_candidates)
        self._epochs = {p: e for p, e in getattr(self, "_epochs", {}).items() if p in self.best_k_models}
        self._epochs[self._last_checkpoint_saved] = int(monitor_candidates["epoch"])
        self.best_model_epoch = self._epochs.get(self.best_model_path)

    def state_dict(self) -> dict:
        """Lightning's state, with the best checkpoint's epoch."""
        return {**super().state_dict(), "best_model_epoch": self.best_model_epoch}

    def load_state_dict(self, state_dict: dict) -> None:
        """Lightning's state, with the best checkpoint's epoch where the file records it.

        Args:
            state_dict: the callback's saved state.
        """
        super().load_state_dict(state_dict)
        self.best_model_epoch = state_dict.get("best_model_epoch")
        if self.best_model_epoch is not None:
            self._epochs = {self.best_model_path: self.best_model_epoch}

    def check_monitor_top_k(self, trainer: Trainer, current: torch.Tensor | None = None) -> bool:
        """Lightning's decision, with non-finite values never among the best.

        Args:
            trainer: the trainer.
            current: the monitored value.
        """
        if current is not None and not bool(torch.isfinite(torch.as_tensor(current)).all()):
            rank_zero_warn(
                f"{self.monitor}={float(current)} at epoch {trainer.current_epoch} is not finite: "
                "not a candidate for the best checkpoint"
            )
            return False
        return super().check_monitor_top_k(trainer, current)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Lightning's saving, then last.ckpt where nothing was saved (runs without validation).

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_stale(trainer)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Lightning's saving, then last.ckpt where nothing was saved.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_stale(trainer)

    def _save_checkpoint(self, trainer: Trainer, filepath: str) -> None:
        """Lightning's saving, written on global rank 0 (the one that writes) to a hidden
        temporary file beside ``filepath`` and renamed into place: a full disk or a stop signal
        mid-write left a truncated best.ckpt or last.ckpt in place of the previous good one."""
        if not trainer.is_global_zero:
            super()._save_checkpoint(trainer, filepath)
            return
        with atomic_path(filepath, suffix=".ckpt") as tmp:
            trainer.save_checkpoint(tmp, self.save_weights_only)
        # what ModelCheckpoint._save_checkpoint records and notifies after its write
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        for logger in trainer.loggers:
            logger.after_save_checkpoint(proxy(self))

    def _save_last_if_stale(self, trainer: Trainer) -> None:
        # skipped where a checkpoint was saved at this step already (and while sanity checking)
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer continuing an existing metrics.csv (Lightning's deletes it,
    so resuming into the run directory lost the earlier epochs' rows)."""

    def _check_log_dir_exists(self) -> None:
        if not self._fs.isfile(self.metrics_file_path):
            return
        with self._fs.open(self.metrics_file_path, "r", newline="") as f:
            header = next(csv.reader(f), [])
        # Lightning writes its columns sorted; the rows appended next use that order too.
        self.metrics_keys = sorted(k for k in header if k)
        if header != self.metrics_keys:
            self._rewrite_with_new_header(self.metrics_keys)

    def _rewrite_with_new_header(self, fieldnames: list[str]) -> None:
        """The earlier rows under the widened header, written whole or not at all."""
        if not isinstance(self._fs, LocalFileSystem):
            return super()._rewrite_with_new_header(fieldnames)
        with open(self.metrics_file_path, newline="") as f:
            rows = list(csv.DictReader(f))
        with atomic_path(self.metrics_file_path, suffix=".csv") as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(rows)
        return None


class AppendingCSVLogger(CSVLogger):
    """Lightning's CSVLogger whose metrics.csv is continued, never deleted, when the run
    directory already has one (a resumed run adds its rows to the earlier epochs')."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        """The writer, made on first use (on global rank 0; other ranks log nothing)."""
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment
