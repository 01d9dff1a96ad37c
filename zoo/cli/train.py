"""``zoo-train`` / ``python -m zoo.cli.train``: Hydra-composed Lightning training runs.

    zoo-train experiment=deepsea_synthetic
    zoo-train experiment=deepsea_synthetic data.fasta=seqs.fa data.labels=labels.tsv
    zoo-train -m experiment=deepsea_synthetic task.lr=1e-3,1e-4

Configs live in the repository's conf/ (installed as the package ``zoo.conf``). The run
directory (``hydra.run.dir``) receives the composed config (.hydra/), train.log (the log
lines, with the closing summary), csv/metrics.csv, checkpoints/ (last.ckpt, best.ckpt),
images/ and, for classification, test_targets.csv.

Resuming into the same run directory (``ckpt_path=RUN_DIR/checkpoints/last.ckpt``) keeps
what is there: csv/metrics.csv gets the new rows after the earlier ones, and the new run's
composed config goes beside the first as .hydra/config.run-2.yaml (and so on). The
checkpoints hold the random generators' states, so a resumed run continues as the
uninterrupted one would have (with ``trainer.deterministic=true``, to the same metrics).

A bad option, a bad file or a diverged run (a NaN or infinite loss) ends the command with
one line ``zoo-train: error: ...`` and exit status 1; a diverged run saves no checkpoint of
its broken weights and is not tested.
"""

from __future__ import annotations

import argparse
import os

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from zoo._io.space import is_disk_full
from zoo.cli._command import exit_on_stop_signals, first_line, report
from zoo.cli._hydra import CONFIG_PATH, undo_run_folder
from zoo.cli._lightning import route_logging
from zoo.data._errors import DataFileError
from zoo.errors import ZooError
from zoo.tasks import NonFiniteLossError
from zoo.training import ConfigError, prepare_data, save_run_config, train
from zoo.weights import WeightsFileError

__all__ = ["CONFIG_PATH", "ConfigError", "build_parser", "main", "prepare_data", "run", "train"]


# The failures that are the input's, told in one line: a traceback would only bury the message.
_REPORTED = (
    ZooError, WeightsFileError, DataFileError, NonFiniteLossError, FileNotFoundError,
    IsADirectoryError, InstantiationException, OmegaConfBaseException,
)  # fmt: skip


def _one_line(err: BaseException) -> str:
    """The message of ``err``; for Hydra's instantiate errors, the cause with the config key."""
    if isinstance(err, InstantiationException) and err.__cause__ is not None:
        key = next(
            (ln.split(":", 1)[1].strip() for ln in str(err).splitlines() if ln.startswith("full_key:")), ""
        )
        return (f"{key}: " if key else "") + str(err.__cause__)
    return first_line(err)


def build_parser() -> argparse.ArgumentParser:
    """zoo-train's command line, which is Hydra's: overrides (``key=value``), ``--multirun``,
    ``--cfg``, ``--help`` and the rest. Hydra parses it itself when :func:`main` is called."""
    from hydra._internal.utils import get_args_parser  # what hydra.main parses with

    return get_args_parser()


def run(cfg: DictConfig) -> float | None:
    """Train the composed run; returns the monitored metric (Hydra's sweepers read it). A
    failure of the input (an option, a file, a diverged run) exits with status 1 and one line
    ``zoo-train: error: ...`` on stderr, printed by the commands' shared skeleton.

    Hydra, not :class:`zoo.cli._command.Command`, runs zoo-train, and it leaves the skeleton
    two things: it parses the command line and reports a bad override in its own words; and this
    function's return value goes to the sweepers, so it cannot be the exit status. Stop signals
    end the run as in every command (:func:`main`).

    Args:
        cfg: the composed config.
    """
    route_logging()
    started = False

    def training_starts() -> None:
        nonlocal started
        started = True
        save_run_config(cfg)  # a run that fails before this leaves the run folder as it was

    try:
        try:
            metrics = train(cfg, on_training_start=training_starts)
        except _REPORTED as err:
            raise SystemExit(report("zoo-train", err, describe=_one_line)) from None
        except OSError as err:
            if not is_disk_full(err):
                raise
            # every file of the run is written whole (checkpoints, tables, pictures): what is
            # there is complete, and the checkpoints saved before are kept to resume from
            full = ZooError(f"cannot write {cfg.run_dir}: {os.strerror(err.errno)}")
            raise SystemExit(report("zoo-train", full)) from None
    except BaseException:
        if not started:  # a bad option or file, a stop signal: nothing of the run is worth keeping
            undo_run_folder()
        raise
    metric = cfg.monitor.metric
    return metrics.get(metric) if metric else None


# Hydra composes the config from the command line and calls run with it.
_hydra_main = hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="config")(run)


def main() -> None:
    """The console script: Hydra's, with the stop signals of every command (SIGINT, SIGTERM and
    SIGHUP end the run with 128 + the signal number and one line; Lightning alone would exit
    with 1 on Ctrl-C and 0 on SIGTERM)."""
    with exit_on_stop_signals("zoo-train"):
        _hydra_main()


if __name__ == "__main__":
    main()
