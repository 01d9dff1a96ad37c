"""Multi-label / binary classification on a zoo model's logits."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import Metric
from torchmetrics.classification import (
    BinaryAUROC,
    BinaryAveragePrecision,
    MultilabelAUROC,
    MultilabelAveragePrecision,
)
from torchvision.ops import sigmoid_focal_loss

from zoo._checks import require_number
from zoo.tasks._common import ZooTask, adam, describe_model, rebuild, run_dir
from zoo.tasks.plots import save_target_scores_png


class TargetCounts(Metric):
    """Positives and negatives seen per target (summed across processes)."""

    def __init__(self, n_targets: int) -> None:
        super().__init__()
        self.add_state("positives", torch.zeros(n_targets, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("negatives", torch.zeros(n_targets, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, target: torch.Tensor) -> None:
        """Count one batch of 0/1 targets (N, T)."""
        self.positives += (target > 0.5).sum(0)
        self.negatives += (target <= 0.5).sum(0)

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(positives, negatives) per target."""
        return self.positives, self.negatives


class ClassificationTask(ZooTask):
    """Train any zoo classifier on ``model.logits`` with BCE-with-logits or sigmoid focal loss.

    Logs ``train_loss`` per step; per epoch ``val_loss``, ``val_auroc`` and ``val_auprc``
    (means over targets; targets with no positives, or no negatives, in the split have
    no AUROC and are left out, their number logged as ``val_targets_left_out``); the same
    with ``test_`` at test time. ``predict_step`` returns probabilities. Each evaluation
    epoch also draws the per-target scores to ``images/{val,test}_targets_epochNNN.png``.

    ``target_names`` name the outputs; left out, they are taken from the data module's
    ``target_names`` (the labels' header) when training starts and saved in the checkpoint's
    hyperparameters.

    ``lr``, ``weight_decay``, ``pos_weight`` (> 0: one value, or one per target) and the
    focal parameters are checked here, naming the argument. A non-finite loss stops the run
    (see :class:`zoo.tasks._common.ZooTask`).

    ``compile=True`` runs ``model.logits`` through ``torch.compile`` in the training and
    evaluation steps (the weights and checkpoints are the model's own, uncompiled): worth it
    on a GPU; on a CPU the first steps pay a compilation of tens of seconds.
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        loss: Literal["bce", "focal"] = "bce",
        pos_weight: float | list[float] | None = None,
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
        compile: bool = False,
        model_record: dict[str, Any] | None = None,
        target_names: list[str] | None = None,
    ) -> None:
        super().__init__()
        if loss not in ("bce", "focal"):
            raise ValueError(f"loss={loss!r} is not one of ['bce', 'focal']")
        require_number(lr, "lr", above=0.0)
        require_number(weight_decay, "weight_decay", at_least=0.0)
        require_number(focal_alpha, "focal_alpha", at_least=0.0, at_most=1.0)
        require_number(focal_gamma, "focal_gamma", at_least=0.0)
        self.model = rebuild(model, model_record, "model")
        # Saved as plain values (save_hyperparameters reads these locals): rebuilds the model on load.
        model_record = describe_model(self.model)
        self.save_hyperparameters(ignore=["model"])
        args = model_record["args"]
        n_targets = int(args.get("n_targets", args.get("n_outputs", 1)))
        self._n_targets = n_targets
        self._name_targets(target_names)
        self._compiled_logits: Callable[[torch.Tensor], torch.Tensor] | None = None
        self.pos_weight = None if pos_weight is None else _pos_weight(pos_weight, n_targets)
        self._single_target = n_targets == 1  # torchmetrics' multilabel metrics need 2 labels or more
        self.metrics = nn.ModuleDict(
            {
                split: nn.ModuleDict(
                    {
                        "auroc": BinaryAUROC()
                        if self._single_target
                        else MultilabelAUROC(n_targets, average=None),
                        "auprc": BinaryAveragePrecision()
                        if self._single_target
                        else MultilabelAveragePrecision(n_targets, average=None),
                        "counts": TargetCounts(n_targets),
                    }
                )
                for split in ("val", "test")
            }
        )

    def setup(self, stage: str) -> None:
        """Record the training data's target names (the data module's label header) in the
        hyperparameters, so checkpoints name the outputs (zoo-predict and zoo-convert read them)."""
        if self.hparams.target_names is None:
            names = getattr(getattr(self.trainer, "datamodule", None), "target_names", None)
            if names:
                self.hparams.target_names = [str(name) for name in names]
                self._name_targets(self.hparams.target_names)

    def _name_targets(self, names: list[str] | None) -> None:
        """Give the model its target names when they fit its outputs."""
        if names is not None and len(names) == self._n_targets:
            self.model.target_names = list(names)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """``model.logits``, through ``torch.compile`` when the task was built with compile=True."""
        if not self.hparams.compile:
            return self.model.logits(x)
        if self._compiled_logits is None:  # made at the first step, on this task's own model
            self._compiled_logits = torch.compile(self.model.logits)
        return self._compiled_logits(x)

    def __getstate__(self) -> dict[str, Any]:
        # A compiled function holds the model it was made from: copies and pickles compile afresh.
        return {**super().__getstate__(), "_compiled_logits": None}

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The configured loss of logits against 0/1 targets, mean over elements."""
        if self.hparams.loss == "focal":
            return sigmoid_focal_loss(
                logits,
                target,
                alpha=self.hparams.focal_alpha,
                gamma=self.hparams.focal_gamma,
                reduction="mean",
            )
        weight = None if self.pos_weight is None else self.pos_weight.to(logits.device)
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """Loss on one batch; logged per step."""
        x, y = batch
        loss = self.loss(self._logits(x), y)
        self.require_finite("train_loss", loss)  # before the optimizer applies it
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def _eval_step(self, split: str, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        x, y = batch
        logits = self._logits(x)
        loss = self.loss(logits, y)
        self.require_finite(f"{split}_loss", loss)  # before the epoch's checkpoint is saved
        self.log(f"{split}_loss", loss, on_epoch=True, sync_dist=True)
        metrics = self.metrics[split]
        scores, target = (logits[:, 0], y[:, 0].long()) if self._single_target else (logits, y.long())
        metrics["auroc"].update(scores, target)
        metrics["auprc"].update(scores, target)
        metrics["counts"].update(y)

    def _eval_epoch_end(self, split: str) -> None:
        metrics = self.metrics[split]
        positives, negatives = metrics["counts"].compute()
        with warnings.catch_warnings():  # torchmetrics warns about the targets we leave out
            warnings.simplefilter("ignore")
            # one value per target, (T,), also for a single target's scalar
            auroc, auprc = metrics["auroc"].compute().reshape(-1), metrics["auprc"].compute().reshape(-1)
        scored = (positives > 0) & (negatives > 0)
        values = {
            f"{split}_auroc": auroc[scored].mean() if scored.any() else torch.tensor(float("nan")),
            f"{split}_auprc": auprc[scored].mean() if scored.any() else torch.tensor(float("nan")),
            f"{split}_targets_left_out": (~scored).sum().float(),
        }
        # Metric states are already gathered across processes, so every rank logs the same value.
        self.log_dict(values, prog_bar=split == "val", sync_dist=True)
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            epoch = f"{self.current_epoch:03d}"
            save_target_scores_png(
                run_dir(self) / "images" / f"{split}_targets_epoch{epoch}.png",
                auroc, auprc, scored, f"{split} split, epoch {self.current_epoch}",
            )  # fmt: skip
        for metric in metrics.values():
            metric.reset()

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Accumulate validation loss and metric states."""
        self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        """Log val_auroc, val_auprc, val_targets_left_out."""
        self._eval_epoch_end("val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Accumulate test loss and metric states."""
        self._eval_step("test", batch)

    def on_test_epoch_end(self) -> None:
        """Log test_auroc, test_auprc, test_targets_left_out."""
        self._eval_epoch_end("test")

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Probabilities, sigmoid(logits), for a batch (x, ...) or x."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return torch.sigmoid(self.model.logits(x))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam over the model's parameters."""
        return adam(self, self.model.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)


def _pos_weight(value: Any, n_targets: int) -> torch.Tensor:
    """``pos_weight`` as a tensor: one positive number, or one per target."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    for i, v in enumerate(values):
        require_number(v, "pos_weight" if len(values) == 1 else f"pos_weight[{i}]", above=0.0)
    if len(values) not in (1, n_targets):
        raise ValueError(
            f"pos_weight has {len(values)} values for a model with {n_targets} targets; "
            "give one value, or one per target"
        )
    return torch.tensor(values if len(values) > 1 else values[0], dtype=torch.float32)
