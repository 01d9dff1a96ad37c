"""Multi-label / binary classification on a zoo model's logits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat
from torchvision.ops import sigmoid_focal_loss

from zoo._checks import require_number
from zoo.tasks._common import ZooTask, adam, describe_model, rebuild, run_dir
from zoo.tasks.evaluation import (
    mean_scores,
    pick_targets,
    row_names,
    score_targets,
    target_curves,
    write_target_table,
)
from zoo.tasks.plots import save_curves_png, save_target_scores_png


class Scores(Metric):
    """Every logit and 0/1 target of a split, gathered across processes: the per-target scores
    and curves are computed from them once per epoch."""

    full_state_update = False

    def __init__(self, n_targets: int) -> None:
        super().__init__()
        self.n_targets = n_targets
        self.add_state("logits", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        """Keep one batch: float32 logits (also under mixed precision) and uint8 targets, (N, T)."""
        self.logits.append(logits.detach().float())
        self.target.append(target.detach().to(torch.uint8))

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, target), (N, T) each."""
        if isinstance(self.logits, list) and not self.logits:
            return torch.zeros(0, self.n_targets), torch.zeros(0, self.n_targets, dtype=torch.uint8)
        return dim_zero_cat(self.logits), dim_zero_cat(self.target)


class ClassificationTask(ZooTask):
    """Train any zoo classifier on ``model.logits`` with BCE-with-logits or sigmoid focal loss.

    Logs ``train_loss`` per step, ``lr`` per epoch; per epoch ``val_loss``, ``val_auroc`` and
    ``val_auprc`` (means over targets; targets with no positives, or no negatives, in the
    split have no AUROC and are left out, their number logged as ``val_targets_left_out``);
    the same with ``test_`` at test time. ``predict_step`` returns probabilities.

    ``lr_patience`` lowers the learning rate by ``lr_factor`` when ``val_auroc`` has not
    improved by more than ``lr_min_delta`` (absolute) for that many epochs
    (``ReduceLROnPlateau``); None keeps it constant.

    Pictures and tables go to the trainer's ``default_root_dir``: after each validation epoch
    ``images/val_targets.png`` (per-target AUROC and AUPRC); at test time ``test_targets.csv``
    (target, auroc, auprc, positives, negatives), ``images/test_targets.png`` and
    ``images/test_curves.png`` (ROC and precision-recall of the best, median and worst
    target).

    ``target_names`` name the outputs (and the table's rows; else ``target_i``); left out,
    they are taken from the data module's ``target_names`` (the labels' header) when training
    starts and saved in the checkpoint's hyperparameters.

    ``lr``, ``weight_decay``, ``pos_weight`` (> 0: one value, or one per target) and the
    focal parameters are checked here, naming the argument. A non-finite loss stops the run
    (see :class:`zoo.tasks._common.ZooTask`).

    ``compile=True`` runs ``model.logits`` through ``torch.compile`` in the training and
    evaluation steps (the weights and checkpoints are the model's own, uncompiled): worth it
    on a GPU; on a CPU the first steps pay a compilation of tens of seconds.

    Args:
        model: the zoo classifier.
        lr: the learning rate.
        weight_decay: the optimizer's weight decay.
        loss: ``"bce"`` (BCE-with-logits) or ``"focal"`` (sigmoid focal loss).
        pos_weight: the weight of positives in the BCE (> 0: one value, or one per target).
        focal_alpha: the focal loss's weight of positives, in [0, 1].
        focal_gamma: the focal loss's focusing exponent (>= 0).
        compile: run ``model.logits`` through ``torch.compile`` (see above).
        lr_patience: epochs without improvement before the learning rate is lowered; None
            keeps it constant.
        lr_factor: what the learning rate is multiplied by when lowered.
        lr_min_delta: the least absolute ``val_auroc`` gain that counts as an improvement.
        model_record: ``model``'s registry name and arguments (``{"name": ..., "args": {...}}``),
            which rebuild it when ``model`` is None (loading a checkpoint).
        target_names: name the outputs (see above).
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
        lr_patience: int | None = None,
        lr_factor: float = 0.5,
        lr_min_delta: float = 1e-3,
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
        if lr_patience is not None and (isinstance(lr_patience, bool) or not isinstance(lr_patience, int)
                                        or lr_patience < 0):  # fmt: skip
            raise ValueError(f"task.lr_patience must be a whole number >= 0 or null, got {lr_patience!r}")
        if not 0 < lr_factor < 1:
            raise ValueError(f"task.lr_factor must be in (0, 1), got {lr_factor!r}")
        self.model = rebuild(model, model_record, "model")
        # Saved as plain values (save_hyperparameters reads these locals): rebuilds the model on load.
        model_record = describe_model(self.model)
        self.save_hyperparameters(ignore=["model"])
        args = model_record["args"]
        self.n_targets = int(args.get("n_targets", args.get("n_outputs", 1)))
        self._name_targets(target_names)
        self._compiled_logits: Callable[[torch.Tensor], torch.Tensor] | None = None
        self.pos_weight = None if pos_weight is None else _pos_weight(pos_weight, self.n_targets)
        self.metrics = nn.ModuleDict({split: Scores(self.n_targets) for split in ("val", "test")})
        self.test_label = "test split"  # what the test pictures call the data (zoo-evaluate names its file)
        self.test_outputs: list[Path] = []  # the table and pictures the last test wrote
        self.weights_epoch: int | None = None  # the epoch the current weights are from

    def setup(self, stage: str) -> None:
        """Record the training data's target names (the data module's label header) in the
        hyperparameters, so checkpoints name the outputs (zoo-predict and zoo-convert read them).

        Args:
            stage: Lightning's stage.
        """
        if self.hparams.target_names is None:
            names = getattr(getattr(self.trainer, "datamodule", None), "target_names", None)
            if names:
                self.hparams.target_names = [str(name) for name in names]
                self._name_targets(self.hparams.target_names)

    def _name_targets(self, names: list[str] | None) -> None:
        """Give the model its target names when they fit its outputs."""
        if names is not None and len(names) == self.n_targets:
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

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Put the random generators back when resuming a fit, and note the epoch the loaded
        weights are from (the test pictures' title says it).

        Args:
            checkpoint: the checkpoint dict.
        """
        super().on_load_checkpoint(checkpoint)
        self.weights_epoch = checkpoint.get("epoch")

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The configured loss of logits against 0/1 targets, mean over elements (in float32,
        also under mixed precision).

        Args:
            logits: the model's logits.
            target: 0/1 targets of the same shape.
        """
        logits = logits.float()
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
        """Loss on one batch; logged per step, and the learning rate per epoch.

        Args:
            batch: (sequences, labels).
            batch_idx: the batch's index.
        """
        x, y = batch
        loss = self.loss(self._logits(x), y)
        self.require_finite("train_loss", loss)  # before the optimizer applies it
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        self.log("lr", float(self.optimizers().param_groups[0]["lr"]), on_step=False, on_epoch=True)
        return loss

    def on_train_epoch_end(self) -> None:
        """Check the weights are finite; they now are this epoch's."""
        super().on_train_epoch_end()
        self.weights_epoch = self.current_epoch

    def _eval_step(self, split: str, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        x, y = batch
        logits = self._logits(x)
        loss = self.loss(logits, y)
        self.require_finite(f"{split}_loss", loss)  # before the epoch's checkpoint is saved
        self.log(f"{split}_loss", loss, on_epoch=True, sync_dist=True)
        self.metrics[split].update(logits, y)

    def _eval_epoch_end(self, split: str) -> None:
        logits, target = self.metrics[split].compute()
        self.metrics[split].reset()
        table = score_targets(logits, target, row_names(self.hparams.get("target_names"), self.n_targets))
        values = {f"{split}_{k}": torch.tensor(v) for k, v in mean_scores(table).items()}
        # Metric states are already gathered across processes, so every rank logs the same value.
        self.log_dict(values, prog_bar=split == "val", sync_dist=True)
        if not self.trainer.is_global_zero or self.trainer.sanity_checking:
            return
        folder = run_dir(self)
        if split == "val":
            title = f"validation split, epoch {self.current_epoch}"
            save_target_scores_png(folder / "images" / "val_targets.png", table, title)
            return
        weights = "weights" if self.weights_epoch is None else f"weights of epoch {self.weights_epoch}"
        if self.trainer.ckpt_path:
            weights += f" ({Path(self.trainer.ckpt_path).name})"
        title = f"{self.test_label}, {weights}"
        self.test_outputs = [
            write_target_table(folder / "test_targets.csv", table),
            save_target_scores_png(folder / "images" / "test_targets.png", table, title),
        ]
        curves = target_curves(logits, target, table, pick_targets(table))
        if curves:
            self.test_outputs.append(save_curves_png(folder / "images" / "test_curves.png", curves, title))

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Accumulate validation loss and scores.

        Args:
            batch: (sequences, labels).
            batch_idx: the batch's index.
        """
        self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        """Log val_auroc, val_auprc, val_targets_left_out; draw the per-target scores."""
        self._eval_epoch_end("val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Accumulate test loss and scores.

        Args:
            batch: (sequences, labels).
            batch_idx: the batch's index.
        """
        self._eval_step("test", batch)

    def on_test_epoch_end(self) -> None:
        """Log test_auroc, test_auprc, test_targets_left_out; write the per-target table and pictures."""
        self._eval_epoch_end("test")

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Probabilities, sigmoid(logits), for a batch (x, ...) or x.

        Args:
            batch: (x, ...) or x.
            batch_idx: the batch's index.
        """
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return torch.sigmoid(self.model.logits(x))

    def configure_optimizers(self) -> dict[str, Any]:
        """Adam over the model's parameters; with ``lr_patience``, ReduceLROnPlateau on val_auroc."""
        hp = self.hparams
        optimizer = adam(self, self.model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.lr_patience is None:
            return {"optimizer": optimizer}
        trainer = self._trainer  # None outside a Trainer
        every = trainer.check_val_every_n_epoch if trainer is not None else 1
        # An absolute threshold, like early stopping's min_delta: a rise of 1e-5 in AUROC is no progress.
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="max",
            factor=hp.lr_factor,
            patience=hp.lr_patience,
            threshold=hp.get("lr_min_delta", 1e-3),
            threshold_mode="abs",
        )
        # Stepped after each validation (every `every` epochs), on the metric early stopping watches.
        scheduler = {"scheduler": plateau, "monitor": "val_auroc", "interval": "epoch", "frequency": every}
        return {"optimizer": optimizer, "lr_scheduler": scheduler}


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
