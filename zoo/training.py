"""Training runs from a composed config: what ``zoo-train`` runs once Hydra has composed it.

:func:`train` checks the config (options, data files, the resume checkpoint, loggers) before
anything is built, instantiates the data module, task and trainer the config names, fits,
tests and returns the metrics; :func:`fit_summary` and :func:`results_summary` are the closing
lines. Importing this module registers the ``zoo.*`` resolvers the configs use.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn
from omegaconf import DictConfig, OmegaConf

from zoo._checks import require_number
from zoo._extras import install_hint
from zoo._io.writing import atomic_path
from zoo.data import array_dims, count_bed_targets, count_targets, fasta_seq_len
from zoo.data.arrays.records import FILE_OPTIONS
from zoo.data.inputs import ARRAY_SPLITS, PATH_OPTIONS, missing_data_paths, missing_paths_message
from zoo.errors import ZooError
from zoo.tasks import stop_reason
from zoo.tasks.progress import best_checkpoint_value, epoch_metrics, format_duration, format_value, log_line
from zoo.weights import read_checkpoint


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
    training array files): sizes read from data files so they flow into the model config;
    ``${zoo.stdout_is_terminal:}`` for the progress bar (drawn on a terminal, left out of logs
    written to a file)."""
    resolvers = {
        "zoo.fasta_seq_len": lambda path: fasta_seq_len(path),
        "zoo.label_count": lambda path: count_targets(path),
        "zoo.bed_target_count": lambda path: count_bed_targets(path),
        "zoo.array_dims": _array_dim,
        "zoo.stdout_is_terminal": lambda: sys.stdout.isatty(),
    }
    for name, fn in resolvers.items():
        OmegaConf.register_new_resolver(name, fn, replace=True)


register_resolvers()


class ConfigError(ZooError):
    """A config value zoo-train refuses before building anything; the CLI prints it in one line."""


def prepare_data(cfg: DictConfig) -> None:
    """Run the configured synthetic-data generator when the data module reads its output.

    Args:
        cfg: the composed run config.
    """
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
    before data is built, naming the key: ``trainer.max_epochs=abc`` would fail mid-fit.

    Args:
        trainer: the ``trainer`` config.
    """
    for key in _TRAINER_INTS + _TRAINER_NUMBERS:
        value = trainer.get(key)
        if value is None:
            continue
        wanted = int if key in _TRAINER_INTS else (int, float)
        if isinstance(value, bool) or not isinstance(value, wanted):
            kind = "a whole number" if key in _TRAINER_INTS else "a number (a count or a fraction)"
            raise ConfigError(f"trainer.{key}={value!r} is not {kind}")


# Task arguments that Adam or the loss would only reject mid-fit: (lower bound, bound included).
_TASK_NUMBERS = {
    "lr": (0.0, False), "weight_decay": (0.0, True), "beta": (0.0, True),
    "focal_alpha": (0.0, True), "focal_gamma": (0.0, True),
}  # fmt: skip


_MAX_SEED = 2**32 - 1  # numpy's seeds, which Lightning's seed_everything checks mid-start


def check_run_config(cfg: DictConfig) -> None:
    """Refuse, before any data is made, the options that would only fail (or silently do
    something else) deep inside the run: the trainer's counts, ``seed``, ``torch_threads``,
    the task's rates and weights, a logger whose library is missing, and a ``ckpt_path`` that
    is no Lightning checkpoint.

    Args:
        cfg: the composed run config.
    """
    check_trainer_config(cfg.trainer)
    check_loggers(cfg.get("logger"))
    seed = cfg.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError(f"seed={seed!r} is not a whole number")
    if seed is not None and not 0 <= seed <= _MAX_SEED:
        raise ConfigError(f"seed={seed} is out of range: expected a whole number from 0 to {_MAX_SEED}")
    threads = cfg.get("torch_threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"torch_threads={threads!r} is not a whole number >= 1")
    task = cfg.get("task") or {}
    try:
        for key, (low, included) in _TASK_NUMBERS.items():
            if key in task:
                bound = {"at_least": low} if included else {"above": low}
                require_number(task[key], f"task.{key}", **bound)
        weights = task.get("pos_weight")
        if OmegaConf.is_list(weights):
            for i, w in enumerate(weights):
                require_number(w, f"task.pos_weight[{i}]", above=0.0)
        elif weights is not None:
            require_number(weights, "task.pos_weight", above=0.0)
    except (TypeError, ValueError) as err:
        raise ConfigError(str(err)) from None
    if cfg.get("ckpt_path"):
        check_resume_checkpoint(cfg.ckpt_path)


def check_data_paths(cfg: DictConfig) -> None:
    """Every file or folder the data config names exists (after :func:`prepare_data` made any
    generated ones): all missing ones are named in one ConfigError, before the first is read
    (reading sizes from them in the config's interpolations names only the first, in
    OmegaConf's words).

    Args:
        cfg: the composed run config.
    """
    data = cfg.get("data")
    if not isinstance(data, DictConfig):
        return
    keys = [k for k in (*PATH_OPTIONS, *ARRAY_SPLITS) if k in data and not OmegaConf.is_missing(data, k)]
    options = {k: OmegaConf.to_container(data[k], resolve=True) if OmegaConf.is_config(data[k]) else data[k]
               for k in keys}  # fmt: skip
    missing = missing_data_paths(options)
    if missing:
        raise ConfigError(missing_paths_message(missing))


def check_pos_weight(cfg: DictConfig) -> None:
    """A ``task.pos_weight`` list has one value per target (the model's ``n_targets``, which
    the data files give: call after :func:`prepare_data`).

    Args:
        cfg: the composed run config.
    """
    weights = OmegaConf.select(cfg, "task.pos_weight")
    n_targets = OmegaConf.select(cfg, "model.n_targets")
    if OmegaConf.is_list(weights) and isinstance(n_targets, int) and len(weights) not in (1, n_targets):
        raise ConfigError(
            f"task.pos_weight has {len(weights)} values, the model has {n_targets} targets; "
            "give one value, or one per target"
        )


# the data config's file options, named in the message about empty splits
_DATA_FILES = ("fasta", "labels", "genome", "table", "train", "dir")


def check_data_splits(cfg: DictConfig, datamodule: L.LightningDataModule) -> None:
    """Refuse, before the trainer starts, data whose training, validation or (with ``run_test``)
    test split is empty: a one-record FASTA gave Lightning's "metric val_auroc is not available"
    mid-fit. A split is not needed where the trainer is told to skip it
    (``limit_val_batches=0``, ``limit_test_batches=0``).

    Args:
        cfg: the composed run config.
        datamodule: the run's data module.
    """
    datasets = getattr(datamodule, "datasets", None)
    if datasets is None or not hasattr(datamodule, "setup"):
        return
    datamodule.setup("fit")  # reads the files once: setup keeps what it made
    sizes = {which: len(dataset) for which, dataset in datamodule.datasets.items()}
    needed = ["train"]
    if cfg.trainer.get("limit_val_batches", 1) != 0:
        needed.append("val")
    if cfg.get("run_test") and cfg.trainer.get("limit_test_batches", 1) != 0:
        needed.append("test")
    empty = [which for which in needed if sizes.get(which) == 0]
    if empty:
        files = ", ".join(f"data.{k}={cfg.data[k]}" for k in _DATA_FILES if cfg.data.get(k) not in (None, ""))
        counts = ", ".join(f"{which} {n}" for which, n in sizes.items())
        raise ConfigError(
            f"{files}: the {' and '.join(empty)} split{'s are' if len(empty) > 1 else ' is'} empty "
            f"({sum(sizes.values())} records: {counts}); training needs records in each: give more "
            "records, or change how they are split (data.val_fraction, data.test_fraction, data.val_pattern,"
            " ...)"
        )


# What trainer.fit needs in a checkpoint to resume from it (Lightning's own keys).
_RESUME_KEYS = ("state_dict", "optimizer_states", "loops", "pytorch-lightning_version")


def check_resume_checkpoint(path: str) -> None:
    """``ckpt_path`` is a readable Lightning checkpoint with what resuming needs.

    Args:
        path: the ``ckpt_path``.
    """
    try:
        ckpt = read_checkpoint(path)
    except (OSError, ValueError) as err:  # missing, a folder, empty, corrupt, unsafe
        raise ConfigError(f"ckpt_path={path}: {err}") from None
    missing = [k for k in _RESUME_KEYS if k not in ckpt]
    if missing:
        raise ConfigError(
            f"ckpt_path={path}: not a Lightning checkpoint to resume from (it has no "
            f"{', '.join(map(repr, missing))}); pass RUN_DIR/checkpoints/last.ckpt of a zoo-train run"
        )


def check_checkpoint_fits(path: str, task: L.LightningModule) -> None:
    """``ckpt_path``'s weights have the task's keys and shapes (another run's model would fail
    inside Lightning's load with a long traceback).

    Args:
        path: the ``ckpt_path``.
        task: the task the run built.
    """
    saved = read_checkpoint(path)["state_dict"]
    wanted = task.state_dict()
    differ = sorted(set(saved) ^ set(wanted)) + sorted(
        k for k in set(saved) & set(wanted) if tuple(saved[k].shape) != tuple(wanted[k].shape)
    )
    if differ:
        shown = ", ".join(differ[:5]) + (f" and {len(differ) - 5} more" if len(differ) > 5 else "")
        raise ConfigError(
            f"ckpt_path={path}: its weights do not fit this run's {type(task).__name__} ({len(differ)} "
            f"tensors differ in name or shape: {shown}); resume with the config that wrote it"
        )


# Logger class -> (modules any of which it needs, the pyproject extra that installs one).
LOGGER_PACKAGES = {
    "lightning.pytorch.loggers.TensorBoardLogger": (("tensorboard", "tensorboardX"), "tensorboard"),
    "lightning.pytorch.loggers.MLFlowLogger": (("mlflow",), "mlflow"),
    "lightning.pytorch.loggers.WandbLogger": (("wandb",), "wandb"),
}


def check_loggers(loggers: DictConfig | None) -> None:
    """Refuse a configured logger whose library is not installed, naming the pip command
    (before any data is made; Lightning would fail at the logger's construction).

    Args:
        loggers: the run's logger configs.
    """
    for name, conf in (loggers or {}).items():
        target = conf.get("_target_") if conf is not None else None
        if target not in LOGGER_PACKAGES:
            continue
        modules, extra = LOGGER_PACKAGES[target]
        if not any(importlib.util.find_spec(m) for m in modules):
            raise ConfigError(
                f"logger.{name} ({target.rsplit('.', 1)[1]}) needs {modules[0]}: " + install_hint(extra)
            )


def _shown(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the working directory when it is below it, else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _logger_places(trainer: L.Trainer) -> list[str]:
    """Where each logger writes (MLflow: its store and run id); fast_dev_run's stand-in has no place."""
    places = []
    for logger in trainer.loggers:
        kind = type(logger).__name__.removesuffix("Logger")
        if kind == "MLFlow":
            store = f" {_shown(logger.save_dir)}" if logger.save_dir else ""  # None for a tracking server
            places.append(f"MLflow{store} (run {logger.run_id})")
        elif kind == "Wandb":
            places.append(f"W&B {_shown(logger.experiment.dir)}")
        elif isinstance(logger, CSVLogger):  # AppendingCSVLogger included
            places.append(f"metrics {_shown(Path(logger.log_dir) / 'metrics.csv')}")
        elif getattr(logger, "log_dir", None) or getattr(logger, "save_dir", None):
            places.append(f"{kind} {_shown(getattr(logger, 'log_dir', None) or logger.save_dir)}")
    return places


def fit_summary(trainer: L.Trainer, reason: str, seconds: float) -> list[str]:
    """Lines on the fit just ended: why it stopped, and its checkpoints (read before a test
    restores the checkpoint callback's state from the tested file).

    Args:
        trainer: the trainer that fitted.
        reason: why it stopped.
        seconds: how long the fit took.
    """
    epochs = trainer.current_epoch  # epochs finished (a time limit can stop one midway)
    lines = [f"training stopped after {epochs} epoch(s), {format_duration(seconds)}: {reason}"]
    ckpt = trainer.checkpoint_callback
    if isinstance(ckpt, ModelCheckpoint) and ckpt.best_model_path:
        best = best_checkpoint_value(trainer)  # what the stop reason calls best, too
        lines.append(f"best checkpoint: {_shown(ckpt.best_model_path)}" + (f" ({best})" if best else ""))
    if isinstance(ckpt, ModelCheckpoint) and ckpt.last_model_path:
        lines.append(f"last checkpoint: {_shown(ckpt.last_model_path)}")
    return lines


def results_summary(
    trainer: L.Trainer, task: L.LightningModule, tested: dict[str, float] | None
) -> list[str]:
    """Lines on the test (figures, per-target table and pictures) and on where everything went.

    Args:
        trainer: the run's trainer.
        task: the run's task.
        tested: the test's figures; None without a test.
    """
    lines = []
    if tested is not None:
        figures = ", ".join(f"{k} {format_value(v)}" for k, v in epoch_metrics(tested).items())
        used = Path(trainer.ckpt_path).name if trainer.ckpt_path else "the last weights"
        lines.append(f"test ({used}): {figures}")
        outputs = getattr(task, "test_outputs", [])
        if outputs:
            lines.append("per-target results: " + ", ".join(_shown(p) for p in outputs))
    run = Path(trainer.default_root_dir)
    images = run / "images"
    if images.is_dir():
        lines.append(f"pictures: {_shown(images)}/ ({', '.join(sorted(p.name for p in images.iterdir()))})")
    places = _logger_places(trainer)
    lines.append(f"run folder: {_shown(run)}" + (f" ({'; '.join(places)})" if places else ""))
    return lines


def allow_mlflow_file_store(loggers: DictConfig | None) -> None:
    """MLflow 3 refuses a ``file:`` store unless ``MLFLOW_ALLOW_FILE_STORE`` is set (the store
    is in maintenance mode, and the database store needs the full mlflow with SQLAlchemy):
    a run configured with one opts in, unless the variable is already set.

    Args:
        loggers: the run's logger configs.
    """
    for conf in (loggers or {}).values():
        if conf is not None and conf.get("_target_") == "lightning.pytorch.loggers.MLFlowLogger":
            if str(conf.get("tracking_uri") or "file:").startswith("file:"):
                os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")


def train(cfg: DictConfig, on_training_start: Callable[[], None] | None = None) -> dict[str, float]:
    """Fit (and test, if ``run_test``) the composed run; returns the final logged metrics.

    Logs one line per epoch and, at the end, why training stopped and where the results went.
    A bad option raises a ConfigError naming its key before any data is made; a non-finite
    loss stops the run with a NonFiniteLossError (nothing is tested then).

    Args:
        cfg: the composed config.
        on_training_start: called once when training starts (after the checks, the data and
            the sanity check of validation), on every process.
    """
    check_run_config(cfg)
    L.seed_everything(cfg.seed, workers=True)
    if cfg.get("torch_threads"):
        torch.set_num_threads(cfg.torch_threads)
    allow_mlflow_file_store(cfg.get("logger"))
    prepare_data(cfg)
    check_data_paths(cfg)
    check_pos_weight(cfg)
    datamodule = instantiate(cfg.data)
    check_data_splits(cfg, datamodule)
    task = instantiate(cfg.task)
    if cfg.ckpt_path:
        check_checkpoint_fits(cfg.ckpt_path, task)
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None]
    if on_training_start is not None:
        callbacks.append(_OnTrainStart(on_training_start))
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    log_line(trainer, f"run folder: {_shown(trainer.default_root_dir)}")
    started = time.monotonic()
    trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
    seconds = time.monotonic() - started
    reason = stop_reason(trainer)
    metrics: dict[str, Any] = dict(trainer.callback_metrics)
    summary = fit_summary(trainer, reason, seconds)
    tested = None
    if cfg.run_test and not trainer.fast_dev_run and not trainer.interrupted:
        best = "best" if cfg.monitor.metric else None
        checkpoint = trainer.checkpoint_callback
        if best and checkpoint is not None and not checkpoint.best_model_path:
            rank_zero_warn(f"no finite {cfg.monitor.metric} in any epoch: no best checkpoint, so no test")
        else:
            tested = {}
            for result in trainer.test(task, datamodule=datamodule, ckpt_path=best, verbose=False):
                tested.update({k: float(v) for k, v in result.items()})
            metrics.update(tested)
    for line in summary + results_summary(trainer, task, tested):
        log_line(trainer, line)
    return {k: float(v) for k, v in metrics.items()}


class _OnTrainStart(Callback):
    """Calls a function when training starts."""

    def __init__(self, function: Callable[[], None]) -> None:
        self.function = function

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Call it."""
        self.function()


def save_run_config(cfg: DictConfig) -> Path | None:
    """Write the run's composed config, Hydra's config and the overrides to RUN_DIR/.hydra as
    Hydra would (it is told not to: it overwrites them), each as ``NAME.yaml``, or beside an
    earlier run's as ``NAME.run-N.yaml`` (N = 2, 3, ...); on global rank 0 only.

    Args:
        cfg: the composed run config.

    Returns:
        The folder, or None where nothing is written.
    """
    if rank_zero_only.rank != 0 or not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.instance().cfg
    folder = Path(hydra_cfg.hydra.runtime.output_dir) / ".hydra"
    files = {"config": cfg, "hydra": hydra_cfg, "overrides": hydra_cfg.hydra.overrides.task}
    suffix, n = "", 1
    while any((folder / f"{name}{suffix}.yaml").exists() for name in files):
        n += 1
        suffix = f".run-{n}"
    for name, node in files.items():
        with atomic_path(folder / f"{name}{suffix}.yaml", suffix=".yaml") as tmp:
            tmp.write_text(OmegaConf.to_yaml(node), encoding="utf-8")
    return folder
