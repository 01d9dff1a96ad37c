"""What a run tells its user: one log line per epoch, and why training stopped.

Lines go through Python logging (logger ``zoo.train``), so under ``zoo-train`` they reach
the console and the run's ``train.log`` alike, and read well when the output is a file.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import timedelta
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, Timer
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

log = logging.getLogger("zoo.train")


def log_line(trainer: L.Trainer, message: str) -> None:
    """Log ``message`` at INFO on rank zero; while a tqdm progress bar is drawn, the console
    line is written above the bar instead of through it."""
    if not trainer.is_global_zero:
        return
    bar = trainer.progress_bar_callback
    if bar is not None and bar.is_enabled:
        from tqdm.contrib.logging import logging_redirect_tqdm

        with logging_redirect_tqdm():
            log.info(message)
    else:
        log.info(message)


def format_value(value: float) -> str:
    """A metric value for a log line: 4 significant digits."""
    return f"{value:.4g}"


def format_duration(seconds: float) -> str:
    """``1h02m``, ``3m05s`` or ``4.2 s``."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    if seconds >= 60:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{seconds:.1f} s"


class EpochLog(Callback):
    """Log one line per training epoch: the epoch's metrics (training means and validation),
    the learning rate, the time it took, and whether the monitored metric is the best so far.

    The history of the monitored metric is kept (``history``: epoch -> value) so that the
    run's summary can say at which epoch the best value came.

    Args:
        monitor: the monitored metric (None: none).
        mode: ``"max"`` or ``"min"``: which way is better.
    """

    def __init__(self, monitor: str | None = None, mode: str = "max") -> None:
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"EpochLog mode={mode!r}, expected 'min' or 'max'")
        self.monitor, self.mode = monitor, mode
        self.history: dict[int, float] = {}
        self._started = time.monotonic()

    def best(self) -> tuple[int, float] | None:
        """(epoch, value) of the best monitored value so far, or None."""
        finite = {e: v for e, v in self.history.items() if math.isfinite(v)}
        if not finite:
            return None
        pick = max if self.mode == "max" else min
        epoch = pick(finite, key=lambda e: finite[e])
        return epoch, finite[epoch]

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Say when training will stop.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        log_line(trainer, stop_rules(trainer))

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Start the epoch's clock.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        self._started = time.monotonic()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Log this epoch's line (validation has run by now).

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        metrics = epoch_metrics(trainer.callback_metrics)
        epoch = trainer.current_epoch
        note = ""
        if self.monitor is not None and self.monitor in metrics:
            self.history[epoch] = metrics[self.monitor]
            best = self.best()
            if best is not None and best[0] == epoch:
                note = f" (best {self.monitor})"
        shown = ", ".join(f"{name} {format_value(value)}" for name, value in metrics.items())
        took = format_duration(time.monotonic() - self._started)
        log_line(trainer, f"epoch {epoch}: {shown}{note} [{took}]")

    def state_dict(self) -> dict[str, Any]:
        """The monitored history, so a resumed run still knows its best epoch."""
        return {"history": dict(self.history)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the monitored history.

        Args:
            state_dict: the callback's saved state.
        """
        self.history = {int(k): float(v) for k, v in state_dict.get("history", {}).items()}


def metric_order(name: str) -> tuple[int, int, str]:
    """Sort key for metric names: training, validation, test, the rest; within each, the loss,
    AUROC and AUPRC first."""
    split, _, measure = name.partition("_")
    splits = {"train": 0, "val": 1, "test": 2}
    measures = {"loss": 0, "auroc": 1, "auprc": 2}
    if split not in splits:
        return (3, 0, name)
    return (splits[split], measures.get(measure, 3), measure)


def epoch_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Epoch-level scalars of ``trainer.callback_metrics`` in reading order (see
    :func:`metric_order`): per-step values dropped, the ``_epoch`` suffix removed, a
    ``*_targets_left_out`` count shown only when it is not 0."""
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if name.endswith("_step") or getattr(value, "numel", lambda: 1)() != 1:
            continue
        name, value = name.removesuffix("_epoch"), float(value)
        if not (name.endswith("_targets_left_out") and value == 0):
            out[name] = value
    return dict(sorted(out.items(), key=lambda kv: metric_order(kv[0])))


def _validation_unit(trainer: L.Trainer) -> str:
    """What early stopping counts: epochs, unless validation runs at another rhythm."""
    every_epoch = trainer.check_val_every_n_epoch == 1 and trainer.val_check_interval == 1.0
    return "epochs" if every_epoch else "validation checks"


def _timer(trainer: L.Trainer) -> Timer | None:
    """The Timer that ``max_time`` adds, if any."""
    return next((c for c in trainer.callbacks if isinstance(c, Timer)), None)


def stop_rules(trainer: L.Trainer) -> str:
    """When the coming ``fit`` will stop, in words (early stopping, time budget, step and epoch caps)."""
    rules = []
    stopper = trainer.early_stopping_callback
    if isinstance(stopper, EarlyStopping):
        rules.append(
            f"{stopper.monitor} not improving (by more than {abs(float(stopper.min_delta)):g}) for "
            f"{stopper.patience} {_validation_unit(trainer)}"
        )
    timer = _timer(trainer)
    remaining = timer.time_remaining() if timer is not None else None
    if remaining is not None:
        rules.append(f"max_time {timedelta(seconds=round(remaining))}")
    if trainer.max_steps not in (None, -1):
        rules.append(f"max_steps {trainer.max_steps}")
    if trainer.max_epochs not in (None, -1):
        rules.append(f"max_epochs {trainer.max_epochs}")
    return "training stops at the first of: " + "; ".join(rules) if rules else "training has no stop rule"


def best_checkpoint_value(trainer: L.Trainer) -> str | None:
    """The monitored value of the checkpoint kept as best, in words (``val_auroc 0.9995 at
    epoch 7``), or None without one: what every closing line calls "best".

    Args:
        trainer: the trainer of the fit just ended.
    """
    ckpt = trainer.checkpoint_callback
    if not isinstance(ckpt, ModelCheckpoint) or ckpt.monitor is None or ckpt.best_model_score is None:
        return None
    value = float(ckpt.best_model_score)
    if not ckpt.best_model_path or not math.isfinite(value):
        return None
    epoch = getattr(ckpt, "best_model_epoch", None)
    if epoch is None:  # a plain ModelCheckpoint: the first epoch the epoch log saw at that value
        epoch_log = next((c for c in trainer.callbacks if isinstance(c, EpochLog)), None)
        if epoch_log is not None and epoch_log.monitor == ckpt.monitor:
            epoch = next((e for e, v in sorted(epoch_log.history.items()) if v == value), None)
    return f"{ckpt.monitor} {format_value(value)}" + (f" at epoch {epoch}" if epoch is not None else "")


def stop_reason(trainer: L.Trainer) -> str:
    """Why the last ``fit`` ended, in words: interrupted, early stopping (and on what), the
    time budget (``max_time``), ``max_steps``, ``max_epochs`` or ``fast_dev_run``.

    Args:
        trainer: the trainer after ``fit``.
    """
    if trainer.interrupted:
        return "interrupted before the end"
    stopper = trainer.early_stopping_callback
    if isinstance(stopper, EarlyStopping) and stopper.stopping_reason != EarlyStoppingReason.NOT_STOPPED:
        if stopper.stopping_reason == EarlyStoppingReason.PATIENCE_EXHAUSTED:
            # "best" is the kept checkpoint's, as in the closing lines; the stopper counts from its
            # own reference, which a rise smaller than min_delta leaves below the best: named too
            reference = format_value(float(stopper.best_score))
            ckpt = trainer.checkpoint_callback
            same = isinstance(ckpt, ModelCheckpoint) and ckpt.monitor == stopper.monitor
            best = best_checkpoint_value(trainer) if same else None
            moved = best is not None and format_value(float(ckpt.best_model_score)) != reference
            return (
                f"early stopping: {stopper.monitor} did not improve by more than "
                f"{abs(float(stopper.min_delta)):g}"
                + (f" on {reference}" if moved else "")
                + f" for {stopper.wait_count} {_validation_unit(trainer)} (patience {stopper.patience}; "
                f"best {best or reference})"
            )
        return f"early stopping: {stopper.stopping_reason_message}"
    if trainer.fast_dev_run:
        return "fast_dev_run: one batch of each loop"
    timer = _timer(trainer)
    remaining = timer.time_remaining() if timer is not None else None
    if remaining is not None and remaining <= 0:
        budget = timedelta(seconds=round(timer.time_elapsed() + remaining))  # remaining <= 0: over budget
        return f"max_time reached (trainer.max_time {budget})"
    if trainer.max_steps not in (None, -1) and trainer.global_step >= trainer.max_steps:
        return f"max_steps reached ({trainer.max_steps} steps)"
    if trainer.max_epochs not in (None, -1) and trainer.current_epoch >= trainer.max_epochs:
        return f"max_epochs reached ({trainer.max_epochs} epochs)"
    return "stopped by a callback (trainer.should_stop)"
