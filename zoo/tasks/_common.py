"""What the tasks share: a base class that stops on a non-finite loss and keeps the random
state in checkpoints, checked arguments, turning modules into plain hyperparameters and
back, and the run directory."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn

from zoo._checks import list_names, non_finite_tensors
from zoo.heads import HEADS
from zoo.models import build_model, model_args, spec_for_class


def adam(task: L.LightningModule, params: Iterable[nn.Parameter], **kwargs: Any) -> torch.optim.Adam:
    """``torch.optim.Adam`` for ``task``, with the fused kernel where torch has one for every
    parameter's device and the trainer does not clip gradients.

    The fused kernel makes one pass over the weights instead of one per operation. Lightning
    refuses to clip the gradients of a fused optimizer under mixed precision, so clipping runs
    keep torch's default.
    """
    params = list(params)
    trainer = getattr(task, "_trainer", None)  # None outside a Trainer (task.trainer would raise)
    clips = trainer is not None and bool(getattr(trainer, "gradient_clip_val", None))
    fused = not clips and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return torch.optim.Adam(params, fused=fused or None, **kwargs)


def _plain(value: Any) -> Any:
    """A head module as its name (models keep ``head`` as a module); other values unchanged."""
    if isinstance(value, nn.Module):
        for name, cls in HEADS.items():
            if type(value) is cls:
                return name
        raise TypeError(f"cannot store module {value!r} as a plain hyperparameter")
    return value


def describe_model(model: nn.Module) -> dict[str, Any]:
    """``{"name": registry name, "args": constructor arguments}``: plain values for a checkpoint."""
    args = {k: _plain(v) for k, v in model_args(model).items()}
    return {"name": spec_for_class(type(model)).name, "args": args}


def rebuild(model: nn.Module | None, record: dict[str, Any] | None, what: str) -> nn.Module:
    """``model`` itself, or the model a :func:`describe_model` describes (when loading a checkpoint)."""
    if model is not None:
        return model
    if record is None:
        raise TypeError(f"give {what} (a zoo model) or {what}_record (its registry name and arguments)")
    return build_model(record["name"], **record["args"])


def run_dir(module: L.LightningModule) -> Path:
    """Where pictures go: the trainer's ``default_root_dir`` (the Hydra run directory)."""
    return Path(module.trainer.default_root_dir)


class NonFiniteLossError(RuntimeError):
    """Training diverged: a loss (or a weight) became NaN or infinite."""


# The checkpoint entry holding the random number generators' states (plain values and tensors,
# so checkpoints still load with torch.load(weights_only=True)).
RNG_KEY = "zoo_rng_states"


def rng_states() -> dict[str, Any]:
    """The states of torch's (CPU and CUDA), numpy's and Python's global generators."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Put back what :func:`rng_states` returned (CUDA states only where the devices match)."""
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    cuda = states.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


class ZooTask(L.LightningModule):
    """Base of the zoo's tasks: what a run needs beyond the losses.

    - A non-finite loss stops the run at once with a :class:`NonFiniteLossError` (training
      steps before the optimizer applies it, evaluation steps before a checkpoint is saved),
      and so do non-finite weights at the end of a training epoch: a diverged run never
      saves a checkpoint of NaN weights, nor tests one.
    - Checkpoints hold the random generators' states, put back when ``trainer.fit``
      resumes from one: a resumed run draws the same data order, dropout masks and
      augmentations as the uninterrupted run would have.
    """

    def require_finite(self, name: str, value: torch.Tensor) -> None:
        """Stop the run with a NonFiniteLossError naming ``name`` unless ``value`` is finite.

        Args:
            name: what ``value`` is (``train_loss``).
            value: the loss.
        """
        if not bool(torch.isfinite(value.detach()).all()):
            raise NonFiniteLossError(
                f"{name} is {value.detach().float().mean().item()} at epoch {self.current_epoch}, step "
                f"{self.global_step}: training diverged (try a lower task.lr); no checkpoint is saved from "
                "this point on"
            )

    def on_train_epoch_end(self) -> None:
        """Refuse to go on (and to save the epoch's checkpoint) with non-finite weights."""
        broken = non_finite_tensors(dict(self.named_parameters()))
        if broken:
            raise NonFiniteLossError(
                f"NaN or infinite weights ({list_names(broken)}) at the end of epoch {self.current_epoch}: "
                "training diverged (try a lower task.lr); the epoch's checkpoint is not saved"
            )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the random generators' states with the weights.

        Args:
            checkpoint: the checkpoint dict.
        """
        checkpoint[RNG_KEY] = rng_states()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Resuming a fit: put the random generators back as they were when it was saved (not
        when a checkpoint is only read, e.g. by ``load_from_checkpoint``).

        Args:
            checkpoint: the checkpoint dict.
        """
        trainer = self._trainer
        states = checkpoint.get(RNG_KEY)
        if states is not None and trainer is not None and trainer.state.fn == TrainerFn.FITTING:
            set_rng_states(states)
