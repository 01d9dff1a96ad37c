"""``zoo-evaluate CHECKPOINT --out DIR``: score a zoo-train classification checkpoint on labelled
DNA without training, writing what zoo-train's test writes.

    zoo-evaluate RUN_DIR/checkpoints/best.ckpt --out eval/                 # the run's own test split
    zoo-evaluate best.ckpt --fasta seqs.fa --labels labels.tsv --out eval/  # every record of other data

The --out DIR receives test_targets.csv (target, auroc, auprc, positives, negatives), images/test_targets.png
(per-target AUROC and AUPRC), images/test_curves.png (ROC and precision-recall curves of the best,
median and worst target) and evaluation.json (the mean figures and what was scored).
Without --fasta/--labels the data are the ones the checkpoint was trained on (its recorded data
module: FASTA + labels, or genome + BED), split as in training.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from torch.utils.data import DataLoader

from zoo._io.space import is_disk_full
from zoo._io.writing import atomic_path
from zoo.cli._command import Command, first_line
from zoo.cli._lightning import quiet_lightning
from zoo.data import DnaBedDataModule, DnaFastaDataModule
from zoo.errors import ZooError
from zoo.predict.running.loading import default_n_value
from zoo.tasks import ClassificationTask
from zoo.tasks.progress import epoch_metrics, format_value
from zoo.weights import checkpoint_hparams

SPLITS = ("all", "train", "val", "test")


class EvaluateError(ZooError):
    """A problem with zoo-evaluate's input that the user can fix; printed in one line."""


def build_parser() -> argparse.ArgumentParser:
    """The command line of zoo-evaluate."""
    p = argparse.ArgumentParser(
        prog="zoo-evaluate",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1].replace("\n", " "),
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", help="a zoo-train classification checkpoint (RUN_DIR/checkpoints/best.ckpt)")
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="folder the table and pictures are written to (created; its files are listed below)",
    )
    p.add_argument("--fasta", help="FASTA of records as long as the model's input (with --labels)")
    p.add_argument("--labels", help="labels TSV: header `name` + one column per target, rows of 0/1")
    p.add_argument(
        "--split",
        choices=SPLITS,
        help="which records: default `all` with --fasta/--labels, else `test` (the run's held-out split)",
    )
    p.add_argument("--batch-size", type=int, default=256, help="records per batch (default 256)")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes (default 0)")
    p.add_argument("--accelerator", default="auto", help="cpu, gpu or auto (default)")
    p.add_argument(
        "--precision", default="32-true", help="Lightning precision, e.g. bf16-mixed (default 32-true)"
    )
    p.add_argument("--threads", type=int, help="torch threads on the CPU")
    return p


# How DnaFastaDataModule splits records: kept from the checkpoint when --split picks one of other files.
_FASTA_SPLIT_ARGS = ("val_fraction", "test_fraction", "val_pattern", "test_pattern", "seed")


def _datamodule(ns: argparse.Namespace, task: ClassificationTask) -> tuple[L.LightningDataModule, str, str]:
    """(data module with every record of the chosen split in its ``train`` dataset when the
    split is ``all``, the split, a description of the data)."""
    recorded: dict[str, Any] = checkpoint_hparams(ns.checkpoint, "datamodule_hyper_parameters")
    args = task.hparams.model_record["args"]
    common = {"batch_size": ns.batch_size, "num_workers": ns.num_workers, "rc_augment": False}
    if ns.fasta or ns.labels:
        if not (ns.fasta and ns.labels):
            raise EvaluateError("give --fasta and --labels together")
        split = ns.split or "all"
        kept = {k: recorded[k] for k in _FASTA_SPLIT_ARGS if k in recorded and "fasta" in recorded}
        n_value = recorded.get("n_value", default_n_value(task.model))
        hp = {**kept, "fasta": ns.fasta, "labels": ns.labels, "n_value": n_value}
        cls, what = DnaFastaDataModule, f"{ns.fasta} + {ns.labels}"
    elif "fasta" in recorded:
        split, hp, cls = ns.split or "test", dict(recorded), DnaFastaDataModule
        what = f"{hp['fasta']} + {hp['labels']} (recorded in the checkpoint)"
    elif "genome" in recorded:
        split, hp, cls = ns.split or "test", dict(recorded), DnaBedDataModule
        what = f"{hp['genome']} + {hp['table']} (recorded in the checkpoint)"
    else:
        raise EvaluateError(f"{ns.checkpoint} records no data module: give --fasta and --labels")
    if split == "all":  # nothing held out: every record lands in the `train` dataset
        if cls is DnaFastaDataModule:
            hp.update(val_fraction=0.0, test_fraction=0.0, val_pattern=None, test_pattern=None)
        else:
            hp.update(val_chroms=[], test_chroms=[])
    hp.update(common, seq_len=args.get("seq_len"), n_targets=task.n_targets)
    return cls(**hp), split, what


def _trainer(ns: argparse.Namespace, out: Path) -> L.Trainer:
    """The Lightning trainer that scores, or an EvaluateError naming ``--accelerator`` or
    ``--precision`` when Lightning cannot use them here (``gpu`` on a machine without one)."""
    try:
        return L.Trainer(
            accelerator=ns.accelerator, devices=1, precision=ns.precision, logger=False, default_root_dir=out,
            enable_checkpointing=False, enable_model_summary=False, enable_progress_bar=sys.stdout.isatty(),
        )  # fmt: skip
    except MisconfigurationException as err:  # a device this machine lacks
        raise EvaluateError(
            f"--accelerator {ns.accelerator}: {first_line(err)} (no such device here); "
            "use --accelerator cpu or auto"
        ) from None
    except ValueError as err:  # a name Lightning does not know
        raise EvaluateError(
            f"--accelerator {ns.accelerator} --precision {ns.precision}: {first_line(err)}"
        ) from None


def evaluate(ns: argparse.Namespace) -> dict[str, Any]:
    """Score the checkpoint on the chosen records; write the table, pictures and evaluation.json."""
    if ns.threads is not None and ns.threads < 1:
        raise EvaluateError(f"--threads {ns.threads}: expected a whole number >= 1")
    if ns.threads:
        torch.set_num_threads(ns.threads)
    out = Path(ns.out)
    trainer = _trainer(ns, out)  # before anything is read: a device or precision it cannot use
    hparams = checkpoint_hparams(ns.checkpoint, "hyper_parameters")
    if "model_record" not in hparams:
        raise EvaluateError(f"{ns.checkpoint} is not a zoo-train classification checkpoint (no model_record)")
    if (out / "test_targets.csv").exists():
        raise EvaluateError(f"{out} already holds an evaluation (test_targets.csv): choose another --out")
    task = ClassificationTask.load_from_checkpoint(ns.checkpoint, map_location="cpu", weights_only=True)
    datamodule, split, what = _datamodule(ns, task)
    datamodule.setup("test")
    dataset = datamodule.datasets["train" if split == "all" else split]
    if len(dataset) == 0:
        raise EvaluateError(f"the {split} split of {what} has no records")
    names = [str(n) for n in datamodule.target_names]
    trained = task.hparams.get("target_names")
    if trained and list(trained) != names:  # output i is scored against label column i
        first = next(i for i, (a, b) in enumerate(zip(trained, names)) if a != b)  # as many: checked
        raise EvaluateError(
            f"the labels' targets are not the ones {ns.checkpoint} was trained on, in its order: "
            f"column {first + 1} is {names[first]!r}, the model's output {first + 1} is {trained[first]!r}"
        )
    task.hparams.target_names = names  # the table's row names
    task.test_label = f"{what}, {split} ({len(dataset)} records)"
    loader = DataLoader(dataset, batch_size=ns.batch_size, num_workers=ns.num_workers)
    written = [out / name for name in _OUTPUTS if not (out / name).exists()]  # what a failure removes
    made = [folder for folder in (out / "images", out) if not folder.exists()]
    try:
        return _score(ns, trainer, task, loader, out, what, split, len(dataset))
    except BaseException as err:  # an error, a full disk, a stop signal: no partial evaluation
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        for folder in made:
            with contextlib.suppress(OSError):  # not empty: something else was put there
                folder.rmdir()
        if is_disk_full(err):
            raise EvaluateError(f"cannot write {out}: {os.strerror(err.errno)}") from None
        raise


# what an evaluation writes into --out, all removed when it fails
_OUTPUTS = ("test_targets.csv", "images/test_targets.png", "images/test_curves.png", "evaluation.json")


def _score(
    ns: argparse.Namespace,
    trainer: L.Trainer,
    task: ClassificationTask,
    loader: DataLoader,
    out: Path,
    what: str,
    split: str,
    records: int,
) -> dict[str, Any]:
    """Test ``task`` on ``loader`` (the table and pictures) and write evaluation.json."""
    (result,) = trainer.test(task, dataloaders=loader, verbose=False)
    summary = {
        "checkpoint": os.fspath(ns.checkpoint),
        "data": what,
        "split": split,
        "records": records,
        "weights_epoch": task.weights_epoch,
        "metrics": {k: float(v) for k, v in epoch_metrics(result).items()},
        "outputs": [os.fspath(p) for p in task.test_outputs],
    }
    with atomic_path(out / "evaluation.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def run(ns: argparse.Namespace) -> int:
    """Evaluate as the parsed command line asks and print the figures; returns the exit status."""
    quiet_lightning()
    summary = evaluate(ns)
    figures = ", ".join(f"{k} {format_value(v)}" for k, v in summary["metrics"].items())
    split = "every record" if summary["split"] == "all" else f"{summary['split']} split"
    print(f"{summary['data']}, {split} ({summary['records']}): {figures}")
    print("per-target results: " + ", ".join(summary["outputs"]))
    return 0


COMMAND = Command("zoo-evaluate", build_parser, run, reported=(OSError, ValueError), label="")
main = COMMAND.main
call = COMMAND.call


if __name__ == "__main__":
    main()
