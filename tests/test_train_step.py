"""The Lightning classification step learns what a plain torch loop learns.

A few optimisation steps of ``ClassificationTask`` under a real ``Trainer`` (bf16-mixed and
32-true, on the CPU) against a loop written here: ``torch.autocast`` on the CPU in bfloat16 (or
no autocast), BCE-with-logits in float32 on ``model.logits``, torch's reference Adam (the task
steps with the fused kernel) with the learning rate and weight decay of the Hydra task config.
Same small DeepSEA (dropout on), same batches, same dropout masks (both seed the generator
before each step), so the losses and the weights must agree within the precision's rounding.
"""

from __future__ import annotations

import copy
from pathlib import Path

import lightning as L
import torch
from omegaconf import OmegaConf
from torch.nn import functional as F
from torch.nn.utils import parameters_to_vector
from torch.utils.data import DataLoader, TensorDataset

import zoo
from zoo.tasks import ClassificationTask

SEED = 0
STEPS = 4
BATCH = 16
SEQ_LEN = 200
N_TARGETS = 12
TASK_CONFIG = Path(__file__).resolve().parents[1] / "conf" / "task" / "classification.yaml"


def task_options() -> dict:
    """The task's arguments as the Hydra config sets them (all but the model)."""
    options = OmegaConf.to_container(OmegaConf.load(TASK_CONFIG).task)
    for key in ("_target_", "_convert_", "model"):
        options.pop(key)
    # The plain loop below is plain BCE: a config with another loss needs it there too.
    assert options["loss"] == "bce" and options["pos_weight"] is None
    return options


def small_deepsea() -> torch.nn.Module:
    """DeepSEA's layers (threshold activations, three dropouts) at a size that trains in a blink."""
    torch.manual_seed(SEED)
    model = zoo.create_model(
        "deepsea", seq_len=SEQ_LEN, n_targets=N_TARGETS, hidden=24, conv_channels=(16, 24, 32)
    )
    return model.train()  # Lightning keeps the mode it finds: dropout on, as in a real run


def batches() -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot sequences and 0/1 targets, STEPS + 1 batches: the fit stops after STEPS, within
    its first epoch, so the config's ReduceLROnPlateau (stepped at epoch ends, on val_auroc)
    rightly never acts, as in the first epoch of a real run."""
    generator = torch.Generator().manual_seed(SEED + 1)
    n = (STEPS + 1) * BATCH
    bases = torch.randint(0, 4, (n, SEQ_LEN), generator=generator)
    x = F.one_hot(bases, 4).float().transpose(1, 2).contiguous()
    y = (torch.rand(n, N_TARGETS, generator=generator) < 0.3).float()
    return x, y


def seed_step(step: int) -> None:
    """Seed the global generator before a step: both runs then draw the same dropout masks."""
    torch.manual_seed(SEED + 100 + step)


class SeedAndRecord(L.Callback):
    """Seeds each step as the plain loop does and records each step's loss."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx: int) -> None:
        seed_step(batch_idx)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx: int) -> None:
        self.losses.append(float(outputs["loss"]))


def lightning_steps(model: torch.nn.Module, precision: str, root: Path) -> list[float]:
    """STEPS steps of ClassificationTask (the config's arguments) under a Trainer; the losses."""
    record = SeedAndRecord()
    trainer = L.Trainer(
        default_root_dir=root, accelerator="cpu", devices=1, precision=precision, max_steps=STEPS,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, callbacks=[record],
    )  # fmt: skip
    loader = DataLoader(TensorDataset(*batches()), batch_size=BATCH)
    trainer.fit(ClassificationTask(model, **task_options()), loader)
    assert trainer.global_step == STEPS
    return record.losses


def plain_steps(model: torch.nn.Module, bf16: bool) -> list[float]:
    """STEPS plain torch steps, autocast to bfloat16 or not; the losses."""
    options = task_options()
    optimizer = torch.optim.Adam(model.parameters(), lr=options["lr"], weight_decay=options["weight_decay"])
    x, y = batches()
    losses = []
    for step in range(STEPS):
        rows = slice(step * BATCH, (step + 1) * BATCH)
        seed_step(step)
        optimizer.zero_grad()
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            logits = model.logits(x[rows])
        loss = F.binary_cross_entropy_with_logits(logits.float(), y[rows])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def weights(model: torch.nn.Module) -> torch.Tensor:
    """All the model's weights as one vector."""
    return parameters_to_vector(model.parameters()).detach().clone()


def test_bf16_mixed_steps_learn_what_the_plain_autocast_loop_learns(tmp_path):
    start = small_deepsea()
    models = {name: copy.deepcopy(start) for name in ("lightning", "plain", "plain fp32")}
    losses = {
        "lightning": lightning_steps(models["lightning"], "bf16-mixed", tmp_path),
        "plain": plain_steps(models["plain"], bf16=True),
        "plain fp32": plain_steps(models["plain fp32"], bf16=False),
    }
    initial = weights(start)
    update = {name: weights(model) - initial for name, model in models.items()}
    # The bf16 tolerance is bf16's own effect on these steps, measured here: how far the plain
    # bf16 loop lands from the same loop in float32. A fixed element-wise tolerance cannot
    # serve: Adam divides each gradient by its own size, so where a gradient is near zero one
    # bf16 rounding can flip the sign of that weight's whole step (up to 2 x lr apart), and an
    # equally correct bf16 step (another kernel, another summation order) lands that far from
    # the plain one. If Lightning's step is no further from float32 than the plain bf16 step,
    # the triangle inequality bounds their distance by twice bf16's effect. A learning rate
    # 10% off, a weight decay of 1e-2, a pos_weight of 2 or dropout turned off each land further.
    bf16_effect = (update["plain"] - update["plain fp32"]).norm()
    loss_effect = max(abs(p - f) for p, f in zip(losses["plain"], losses["plain fp32"], strict=True))
    assert 0 < bf16_effect < 0.5 * update["plain"].norm()  # autocast matters, and the bound is not vacuous
    assert loss_effect > 0
    distance = (update["lightning"] - update["plain"]).norm()
    assert distance <= 2 * bf16_effect, (
        f"{distance:.3g} from the plain loop's weights; bf16: {bf16_effect:.3g}"
    )
    torch.testing.assert_close(losses["lightning"], losses["plain"], rtol=0, atol=2 * loss_effect)


def test_32_true_steps_learn_what_the_plain_loop_learns(tmp_path):
    start = small_deepsea()
    models = {name: copy.deepcopy(start) for name in ("lightning", "plain")}
    losses = {
        "lightning": lightning_steps(models["lightning"], "32-true", tmp_path),
        "plain": plain_steps(models["plain"], bf16=False),
    }
    initial = weights(start)
    trained = {name: weights(model) for name, model in models.items()}
    assert (trained["plain"] - initial).abs().max() > 1e-3  # every step moves weights by up to lr
    # float32 throughout, the same gradients: only the fused and the reference Adam round
    # differently (a few float32 ulps of a weight, ~1e-8 here), far below one step's 1e-3.
    torch.testing.assert_close(losses["lightning"], losses["plain"], rtol=1e-6, atol=0)
    torch.testing.assert_close(trained["lightning"], trained["plain"], rtol=1e-6, atol=1e-7)
