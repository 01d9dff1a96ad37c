"""zoo-train: every config composes and builds; runs write metrics, checkpoints and pictures;
resume, multirun and two-process DDP work; checkpoints load into bare models."""

import csv
import importlib.util
import json
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from sklearn.metrics import average_precision_score, roc_auc_score

import zoo
from zoo.tasks import NonFiniteLossError
from zoo.training import ConfigError, prepare_data, train

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
# Recipes on a published data set read the files a user downloads (no generator to point at
# a temporary folder); tests/test_arrays.py runs them on small stand-ins of those files.
OWN_DATA = {"deepsea_bundle"}
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml") if p.stem not in OWN_DATA)
DNA_EXPERIMENTS = [e for e in EXPERIMENTS if not e.startswith("image_")]
TINY_STEPS = ["trainer.max_epochs=1", "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1",
              "+trainer.limit_test_batches=1", "trainer.enable_progress_bar=false"]  # fmt: skip


def compose_cfg(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=overrides)


def tiny_dna(tmp_path: Path, seq_len: int | None = None) -> list[str]:
    """Overrides that generate a 64-sequence synthetic set under tmp_path."""
    data = tmp_path / "data"
    out = [f"synthetic.fasta={data}/s.fa", f"synthetic.labels={data}/l.tsv", "synthetic.n_seqs=64",
           "synthetic.copies=1", "data.batch_size=8"]  # fmt: skip
    return out + ([f"synthetic.seq_len={seq_len}"] if seq_len else [])


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "csv" / "metrics.csv") as f:
        return list(csv.DictReader(f))


class Collect(logging.Handler):
    """The messages of the zoo.train logger while a run is made (Hydra would print them)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def train_logged(cfg) -> tuple[dict[str, float], list[str]]:
    """train(cfg) and the lines it logged."""
    logger, handler = logging.getLogger("zoo.train"), Collect()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        return train(cfg), handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_instantiates(tmp_path, name):
    short = {"sei": 1024}  # Sei's paper filters on 4096 bp take seconds a sequence on a CPU
    extra = tiny_dna(tmp_path, short.get(name)) if name in DNA_EXPERIMENTS else []
    cfg = compose_cfg([f"experiment={name}", f"run_dir={tmp_path}/run", "trainer=cpu", *extra])
    prepare_data(cfg)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    task = instantiate(cfg.task)
    trainer = instantiate(cfg.trainer, callbacks=[instantiate(c) for c in cfg.callbacks.values()],
                          logger=[instantiate(c) for c in cfg.logger.values()])  # fmt: skip
    assert trainer.max_epochs == cfg.trainer.max_epochs
    x, y = next(iter(datamodule.train_dataloader()))
    with torch.no_grad():
        if name in DNA_EXPERIMENTS:  # sizes flowed in from the generated files
            assert x.shape[1:] == (4, cfg.synthetic.seq_len) and task.model.seq_len == cfg.synthetic.seq_len
            assert task.model.logits(x[:2]).shape == (2, y.shape[1]) == (2, cfg.synthetic.n_targets)
        elif "gan" in name:
            assert task.generator(task.fixed_z[:2]).shape == (2, *x.shape[1:])
            assert task.discriminator.logits(x[:2]).shape == (2,) and x.min() < 0  # tanh range
        else:
            task.eval()
            assert task.reconstruct(x[:2]).shape == x[:2].shape and x.min() >= 0


def test_the_mlp_gan_recipe_trains_at_its_own_rate_and_length():
    # at DCGAN's 2e-4 for 60 epochs the MLP pair collapsed to one non-digit; 2e-3 for 100 makes digits
    mlp = compose_cfg(["experiment=image_decoder_gan_digits", "model=mlp_gan"])
    assert (mlp.task.lr, mlp.trainer.max_epochs) == (2e-3, 100)
    dcgan = compose_cfg(["experiment=image_decoder_gan_digits"])
    assert (dcgan.task.lr, dcgan.trainer.max_epochs) == (2e-4, 60)
    mine = compose_cfg(["experiment=image_decoder_gan_digits", "model=mlp_gan", "task.lr=1e-3"])
    assert mine.task.lr == 1e-3  # the command line still wins


@pytest.mark.parametrize("name", DNA_EXPERIMENTS)
def test_dna_experiments_encode_n_as_zoo_predict_scores_it(name):
    from zoo.models import build_model
    from zoo.predict.running.loading import default_n_value

    cfg = compose_cfg([f"experiment={name}"])
    with torch.device("meta"):  # the model's conventions, without its memory
        model = build_model(cfg.model.name)
    assert cfg.data.n_value == default_n_value(model)


@pytest.mark.parametrize("trainer", ["cpu", "gpu", "gpu_fp16", "ddp", "ddp_cpu"])
def test_trainer_configs_compose(tmp_path, trainer):
    cfg = compose_cfg([f"trainer={trainer}", f"run_dir={tmp_path}"])
    assert cfg.trainer.default_root_dir == str(tmp_path)
    precision = {"gpu": "bf16-mixed", "gpu_fp16": "16-mixed", "ddp": "bf16-mixed"}.get(trainer)
    assert cfg.trainer.get("precision") == precision
    assert cfg.trainer.enable_progress_bar is False  # pytest captures stdout: not a terminal
    if trainer == "ddp_cpu":
        built = instantiate(cfg.trainer)
        assert built.num_devices == 2 and type(built.strategy).__name__ == "DDPStrategy"
        assert built.strategy._process_group_backend == "gloo"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.max_epochs=abc", r"trainer.max_epochs='abc' is not a whole number"),
        ("+trainer.max_steps=2.5", r"trainer.max_steps=2.5 is not a whole number"),
        ("+trainer.limit_val_batches=all", r"trainer.limit_val_batches='all' is not a number"),
    ],
)
def test_bad_trainer_counts_are_refused_before_any_data_is_made(tmp_path, override, message):
    cfg = compose_cfg(
        ["experiment=deepsea_synthetic", f"run_dir={tmp_path}/run", *tiny_dna(tmp_path), override]
    )
    with pytest.raises(ValueError, match=message):
        train(cfg)
    assert not any(tmp_path.rglob("*.fa"))  # refused before the synthetic data was generated


@pytest.fixture(scope="module")
def classification_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cls")
    cfg = compose_cfg(
        ["experiment=deepsea_synthetic", f"run_dir={tmp}/run", *tiny_dna(tmp, 200), *TINY_STEPS]
    )
    metrics, lines = train_logged(cfg)
    return tmp, cfg, metrics, lines


def test_classification_recipes_stop_early_on_val_auroc_within_a_time_budget():
    for name in DNA_EXPERIMENTS:
        cfg = compose_cfg([f"experiment={name}"])
        stopper = cfg.callbacks.early_stopping
        assert (stopper.monitor, stopper.mode) == (
            "val_auroc",
            "max",
        ) and stopper.patience > cfg.task.lr_patience
        assert cfg.trainer.max_time and cfg.trainer.max_epochs >= 100  # the epoch count is only a cap
    cfg = compose_cfg([])  # the base config is a classification run too
    assert cfg.callbacks.early_stopping.monitor == "val_auroc" and cfg.trainer.max_time


def test_classification_run_writes_metrics_checkpoints_and_tests(classification_run):
    tmp, cfg, metrics, _ = classification_run
    run = tmp / "run"
    rows = read_metrics(run)
    names = set(rows[0])
    assert {"train_loss_epoch", "val_loss", "val_auroc", "val_auprc", "val_targets_left_out", "test_auroc",
            "test_auprc"} <= names  # fmt: skip
    assert 0 <= metrics["val_auroc"] <= 1 and "test_auroc" in metrics
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["model_record"]["args"]["seq_len"] == 200
    assert {p.name for p in (run / "images").iterdir()} == {"val_targets.png", "test_targets.png",
                                                             "test_curves.png"}  # fmt: skip
    assert (run / "test_targets.csv").is_file() and not list(run.glob("*.tmp*"))


def test_the_test_table_holds_sklearn_scores_of_the_best_checkpoint_on_the_test_split(classification_run):
    from zoo.data.synthetic import MOTIFS
    from zoo.tasks import ClassificationTask
    from zoo.tasks.evaluation import read_target_table

    tmp, cfg, metrics, _ = classification_run
    table = read_target_table(tmp / "run" / "test_targets.csv")
    task = ClassificationTask.load_from_checkpoint(
        tmp / "run" / "checkpoints" / "best.ckpt", weights_only=True
    )
    datamodule = instantiate(cfg.data)
    datamodule.setup("test")
    x, y = next(iter(datamodule.test_dataloader()))  # limit_test_batches=1: the first batch was tested
    with torch.no_grad():
        probs = torch.sigmoid(task.eval().model.logits(x)).numpy()
    assert [r.name for r in table] == list(MOTIFS)[:8]  # the label file's header
    for t, row in enumerate(table):
        assert (row.positives, row.negatives) == (int(y[:, t].sum()), len(y) - int(y[:, t].sum()))
        if row.scored:
            assert row.auroc == pytest.approx(roc_auc_score(y[:, t], probs[:, t]), abs=1e-6)
            assert row.auprc == pytest.approx(average_precision_score(y[:, t], probs[:, t]), abs=1e-6)
        else:
            assert np.isnan(row.auroc)
    assert metrics["test_auroc"] == pytest.approx(np.nanmean([r.auroc for r in table]), abs=1e-6)


def test_the_closing_lines_say_why_training_stopped_and_where_everything_is(classification_run):
    tmp, _, metrics, lines = classification_run
    run = tmp / "run"
    assert lines[0] == f"run folder: {run}"
    assert lines[1] == "training stops at the first of: val_auroc not improving (by more than 0.001) for 6 " \
        "epochs; max_time 0:30:00; max_epochs 1"  # fmt: skip
    assert lines[2].startswith("epoch 0: train_loss ")
    closing = lines[3:]
    assert closing[0].startswith("training stopped after 1 epoch(s), ")
    assert closing[0].endswith(": max_epochs reached (1 epochs)")
    assert closing[1].startswith(f"best checkpoint: {run}/checkpoints/best.ckpt (val_auroc ")
    assert closing[1].endswith(" at epoch 0)")
    assert closing[2] == f"last checkpoint: {run}/checkpoints/last.ckpt"
    assert closing[3].startswith("test (best.ckpt): test_loss ") and "test_auroc" in closing[3]
    assert closing[4] == f"per-target results: {run}/test_targets.csv, {run}/images/test_targets.png, " \
        f"{run}/images/test_curves.png"  # fmt: skip
    assert closing[-1] == f"run folder: {run} (metrics {run}/csv/metrics.csv)"


def test_early_stopping_ends_the_run_and_says_so(tmp_path):
    # No AUROC can improve by more than 1: epoch 0 sets the stopper's reference, patience 3 stops
    # after epoch 3; a better AUROC of epochs 1-3 is still the best checkpoint, and the lines say so.
    cfg = compose_cfg(["experiment=deepsea_synthetic", f"run_dir={tmp_path}/run", *tiny_dna(tmp_path, 200),
                       *TINY_STEPS, "trainer.max_epochs=20", "callbacks.early_stopping.min_delta=1.0",
                       "callbacks.early_stopping.patience=3", "run_test=false"])  # fmt: skip
    _, lines = train_logged(cfg)
    assert {row["epoch"] for row in read_metrics(tmp_path / "run")} == {"0", "1", "2", "3"}
    stopped = next(line for line in lines if line.startswith("training stopped"))
    assert stopped.startswith("training stopped after 4 epoch(s), ")
    reason = r"val_auroc did not improve by more than 1 (on \d\.\d+ )?for 3 epochs \(patience 3; best (.+)\)"
    match = re.search(f": early stopping: {reason}$", stopped)
    assert match, stopped
    # the closing lines agree with each other and with the epochs' lines: the best checkpoint's value
    per_epoch = {
        int(m[1]): m[2] for m in (re.match(r"epoch (\d+): .*val_auroc (\S+?),", ln) for ln in lines) if m
    }
    best_epoch = max(per_epoch, key=lambda e: float(per_epoch[e]))
    assert best_epoch > 0 and match[1] is not None  # the example: a rise under min_delta after epoch 0
    best = f"val_auroc {per_epoch[best_epoch]} at epoch {best_epoch}"
    assert match[2] == best
    kept = next(line for line in lines if line.startswith("best checkpoint: "))
    assert kept == f"best checkpoint: {tmp_path}/run/checkpoints/best.ckpt ({best})"
    saved = torch.load(tmp_path / "run" / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert saved["epoch"] == best_epoch


def test_classification_checkpoint_loads_into_the_bare_model(classification_run):
    tmp, cfg, _, _ = classification_run
    path = tmp / "run" / "checkpoints" / "last.ckpt"
    record = torch.load(path, map_location="cpu", weights_only=True)["hyper_parameters"]["model_record"]
    bare = zoo.create_model(record["name"], **record["args"]).eval()
    zoo.load_weights(bare, path)
    from zoo.tasks import ClassificationTask

    task = ClassificationTask.load_from_checkpoint(path, map_location="cpu", weights_only=True).eval()
    x = zoo.one_hot(["ACGT" * 50, "GATTACA" * 28 + "ACGT"])
    with torch.no_grad():
        assert torch.equal(bare(x), task.model(x))


def test_resume_from_checkpoint_continues_the_epoch_count(classification_run, tmp_path):
    tmp, _, _, _ = classification_run
    last = tmp / "run" / "checkpoints" / "last.ckpt"
    before = torch.load(last, map_location="cpu", weights_only=True)
    overrides = [
        "experiment=deepsea_synthetic",
        f"run_dir={tmp_path}/resumed",
        *tiny_dna(tmp, 200),
        *TINY_STEPS,
    ]
    cfg = compose_cfg([*overrides, "trainer.max_epochs=2", f"ckpt_path={last}", "run_test=false"])
    train(cfg)
    after = torch.load(
        tmp_path / "resumed" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True
    )
    assert after["global_step"] == 2 * before["global_step"]
    assert {row["epoch"] for row in read_metrics(tmp_path / "resumed")} == {"1"}


@pytest.fixture(scope="module")
def image_runs(tmp_path_factory):
    runs = {}
    for name in ("image_decoder_gan_digits", "image_decoder_vae_digits"):
        tmp = tmp_path_factory.mktemp(name)
        train(compose_cfg([f"experiment={name}", f"run_dir={tmp}", *TINY_STEPS]))
        runs[name] = tmp
    return runs


def test_gan_run_logs_both_losses_and_saves_a_sample_grid(image_runs):
    run = image_runs["image_decoder_gan_digits"]
    assert {"train_d_loss_epoch", "train_g_loss_epoch"} <= set(read_metrics(run)[0])
    assert {p.name for p in (run / "images").iterdir()} == {"samples_latest.png", "samples_progress.png"}
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"last.ckpt"}


def test_vae_run_logs_heldout_loss_and_elbo_and_saves_grids(image_runs):
    run = image_runs["image_decoder_vae_digits"]
    assert {"val_recon_bce", "val_elbo", "val_loss", "train_loss_epoch"} <= set(read_metrics(run)[0])
    grids = {
        f"{kind}_{which}.png" for kind in ("reconstructions", "samples") for which in ("latest", "progress")
    }
    assert {p.name for p in (run / "images").iterdir()} == grids
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}


@pytest.mark.parametrize(
    ("experiment", "attribute"),
    [
        ("image_decoder_gan_digits", "generator"),
        ("image_decoder_gan_digits", "discriminator"),
        ("image_decoder_vae_digits", "decoder"),
        ("image_decoder_vae_digits", "encoder"),
    ],
)
def test_image_checkpoints_load_into_bare_models(image_runs, experiment, attribute):
    from zoo.tasks import GANTask, VAETask

    path = image_runs[experiment] / "checkpoints" / "last.ckpt"
    task_cls = GANTask if "gan" in experiment else VAETask
    task = task_cls.load_from_checkpoint(path, map_location="cpu", weights_only=True).eval()
    trained = getattr(task, attribute)
    if attribute == "encoder":
        from zoo.tasks import ConvEncoder

        bare = ConvEncoder(trained.n_channels, trained.image_size, trained.latent_dim, trained.width)
    else:
        record = task.hparams[f"{attribute}_record"]
        bare = zoo.create_model(record["name"], **record["args"])
    zoo.load_weights(bare.eval(), path)
    for key, value in trained.state_dict().items():
        assert torch.equal(bare.state_dict()[key], value), key


def run_cli(
    args: list[str], cwd: Path, env: dict | None = None, status: int = 0
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    command = [sys.executable, "-m", "zoo.cli.train", *args]
    out = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == status, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def test_a_cli_run_logs_each_epoch_and_its_summary_to_train_log_without_bars_or_false_warnings(tmp_path):
    run = tmp_path / "run"
    out = run_cli(["experiment=deepsea_synthetic", f"hydra.run.dir={run}", *tiny_dna(tmp_path, 200),
                   *TINY_STEPS[:-1], "trainer.max_epochs=2"], cwd=tmp_path)  # fmt: skip
    console = out.stdout + out.stderr
    assert "exists and is not empty" not in console  # a brand-new run folder deletes nothing
    assert "it/s]" not in console and "Validation DataLoader" not in console  # no progress bar in a file
    assert "Tip:" not in console
    log = (run / "train.log").read_text()
    for text in ("epoch 0: train_loss", "epoch 1: train_loss", "training stopped after 2 epoch(s)",
                 "max_epochs reached (2 epochs)", "best checkpoint: run/checkpoints/best.ckpt",
                 "test (best.ckpt): test_loss", "GPU available: False"):  # fmt: skip
        assert text in log and text in out.stdout, text  # paths below the working directory are relative
    assert out.stdout.rstrip().splitlines()[-1] == "run folder: run (metrics run/csv/metrics.csv)"


def test_plain_zoo_train_says_in_one_line_what_to_choose_and_leaves_nothing_behind(tmp_path):
    out = run_cli([], cwd=tmp_path, status=2)
    (line,) = out.stderr.strip().splitlines()
    assert "no data chosen (data.fasta, data.labels not set)" in line
    assert (
        "`zoo-train experiment=deepsea_synthetic`" in line
        and "data.fasta=SEQS.fa data.labels=LABELS.tsv" in line
    )
    assert "image_decoder_vae_digits" in line  # the recipes are listed
    assert list(tmp_path.iterdir()) == []  # no run folder


def test_help_shows_the_examples_a_user_needs(tmp_path):
    out = run_cli(["--help"], cwd=tmp_path)
    assert "zoo-train experiment=deepsea_synthetic data.fasta=seqs.fa data.labels=labels.tsv" in out.stdout
    (groups,) = [line for line in out.stdout.splitlines() if line.startswith("experiment: ")]
    assert set(EXPERIMENTS) <= set(groups.removeprefix("experiment: ").split(", "))  # every recipe listed
    assert "logger: csv, mlflow, tensorboard, wandb" in out.stdout and "zoo-evaluate" in out.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_logger_whose_library_is_missing_names_the_pip_command(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    cfg = compose_cfg(["experiment=deepsea_synthetic", "logger=mlflow", f"run_dir={tmp_path}/run",
                       *tiny_dna(tmp_path)])  # fmt: skip
    with pytest.raises(
        ConfigError, match=r'logger.mlflow \(MLFlowLogger\) needs mlflow: pip install "sigmoid-zoo\[mlflow\]"'
    ):
        train(cfg)
    assert not (tmp_path / "data").exists()  # refused before any data was made


@pytest.mark.skipif(
    importlib.util.find_spec("mlflow") is None, reason='needs mlflow: pip install "sigmoid-zoo[mlflow]"'
)
def test_mlflow_logger_writes_a_local_file_store(tmp_path):
    from mlflow.tracking import MlflowClient

    store = f"file:{tmp_path}/mlruns"
    cfg = compose_cfg(["experiment=deepsea_synthetic", "logger=mlflow", f"logger.mlflow.tracking_uri={store}",
                       f"run_dir={tmp_path}/run", *tiny_dna(tmp_path, 200), *TINY_STEPS])  # fmt: skip
    metrics = train(cfg)
    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("zoo-train").experiment_id])
    assert run.data.metrics["val_auroc"] == pytest.approx(metrics["val_auroc"])
    assert run.data.metrics["test_auroc"] == pytest.approx(metrics["test_auroc"])
    assert run.data.tags["run_dir"] == f"{tmp_path}/run" and run.data.params["lr"] == "0.001"
    assert read_metrics(tmp_path / "run")  # the CSV log as always


@pytest.mark.skipif(
    importlib.util.find_spec("wandb") is None, reason='needs wandb: pip install "sigmoid-zoo[wandb]"'
)
def test_wandb_logger_runs_offline_into_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))  # not the user's settings
    cfg = compose_cfg(["experiment=deepsea_synthetic", "logger=wandb", f"run_dir={tmp_path}/run",
                       *tiny_dna(tmp_path, 200), *TINY_STEPS])  # fmt: skip
    train(cfg)
    import wandb

    wandb.finish()
    (offline,) = (tmp_path / "run" / "wandb").glob("offline-run-*")
    assert list(offline.glob("run-*.wandb")) and read_metrics(tmp_path / "run")


def test_multirun_sweeps_two_jobs(tmp_path):
    args = ["-m", "experiment=deepsea_synthetic", "task.lr=1e-3,1e-4", "run_test=false",
            f"hydra.sweep.dir={tmp_path}/sweep", *tiny_dna(tmp_path, 200), *TINY_STEPS]  # fmt: skip
    run_cli(args, cwd=tmp_path)
    for job, lr in (("0", "0.001"), ("1", "0.0001")):
        run = tmp_path / "sweep" / job
        assert read_metrics(run) and (run / "checkpoints" / "last.ckpt").is_file()
        saved = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
        assert saved["hyper_parameters"]["lr"] == float(lr)
        assert f"- task.lr={lr}\n" in (run / ".hydra" / "overrides.yaml").read_text()


def test_ddp_cpu_runs_two_processes_into_one_run_directory(tmp_path):
    run = tmp_path / "ddp"
    args = ["experiment=deepsea_synthetic", "trainer=ddp_cpu", f"hydra.run.dir={run}",
            *tiny_dna(tmp_path, 200), *TINY_STEPS]  # fmt: skip
    out = run_cli(args, cwd=tmp_path)
    log = out.stdout + out.stderr
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in log
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    assert "val_auroc" in read_metrics(run)[0] and (run / ".hydra" / "config.yaml").is_file()
    assert "test_auroc" in log


@pytest.mark.parametrize(
    ("experiment", "extra"),
    [
        ("deepsea", ["synthetic.seq_len=1000"]),  # the full-size DeepSEA (52.8M parameters)
        ("image_decoder_gan_digits", []),
        ("image_decoder_vae_digits", []),
    ],
)
def test_fast_dev_run_each_task(tmp_path, experiment, extra):
    dna = tiny_dna(tmp_path) if experiment == "deepsea" else []
    cfg = compose_cfg([f"experiment={experiment}", f"run_dir={tmp_path}/run", "trainer=cpu",
                       "+trainer.fast_dev_run=true", *dna, *extra])  # fmt: skip
    metrics = train(cfg)
    if experiment == "deepsea":
        assert cfg.model.name == "deepsea" and "conv_channels" not in cfg.model  # paper size
        assert {"train_loss_step", "val_auroc"} <= set(metrics)
    else:
        assert (tmp_path / "run" / "images" / "samples_latest.png").is_file()


def test_sei_recipe_composes_at_paper_size_and_fast_dev_runs_narrow(tmp_path):
    cfg = compose_cfg(["experiment=sei"])
    assert cfg.model.name == "sei" and "conv_channels" not in cfg.model and cfg.synthetic.seq_len == 4096
    narrow = ["synthetic.seq_len=256", "+model.conv_channels=[8,8,16]", "+trainer.fast_dev_run=true"]
    run = [f"run_dir={tmp_path}/run", "trainer=cpu", *tiny_dna(tmp_path)]
    cfg = compose_cfg(["experiment=sei", *run, *narrow])
    metrics = train(cfg)
    assert {"train_loss_step", "val_auroc"} <= set(metrics)


def test_same_seed_gives_the_same_weights(classification_run, tmp_path):
    tmp, _, _, _ = classification_run
    cfg = compose_cfg(["experiment=deepsea_synthetic", f"run_dir={tmp_path}/again", *tiny_dna(tmp, 200),
                       *TINY_STEPS, "run_test=false"])  # fmt: skip
    train(cfg)
    first = torch.load(tmp / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    again = torch.load(
        tmp_path / "again" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True
    )
    assert first["state_dict"].keys() == again["state_dict"].keys()
    assert all(torch.equal(first["state_dict"][k], again["state_dict"][k]) for k in first["state_dict"])


def test_own_fasta_and_labels_replace_the_synthetic_data(tmp_path):
    (tmp_path / "own.fa").write_text("".join(f">s{i}\n{'ACGTTGCA' * 15}\n" for i in range(4)))
    (tmp_path / "own.tsv").write_text("name\tx\ty\tz\n" + "".join(f"s{i}\t1\t0\t{i % 2}\n" for i in range(4)))
    cfg = compose_cfg(["experiment=deepsea_synthetic", f"run_dir={tmp_path}/run", *tiny_dna(tmp_path),
                       f"data.fasta={tmp_path}/own.fa", f"data.labels={tmp_path}/own.tsv"])  # fmt: skip
    prepare_data(cfg)
    assert not (tmp_path / "data").exists()  # the generator did not run
    assert (cfg.model.seq_len, cfg.model.n_targets) == (120, 3)  # read from the files


def _bad_checkpoint(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.ckpt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(os.urandom(4096))
    elif kind == "truncated":
        torch.save({"state_dict": {"w": torch.zeros(1000)}}, path)
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "weights-only":
        torch.save({"state_dict": {"w": torch.zeros(3)}}, path)
    return path


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("task.lr=abc", r"task\.lr='abc' is not a number"),
        ("task.lr=-1", r"task\.lr=-1 must be > 0"),
        ("task.lr=nan", r"task\.lr=nan is not a finite number"),
        ("task.weight_decay=-0.1", r"task\.weight_decay=-0.1 must be >= 0"),
        ("task.pos_weight=[1,abc]", r"task\.pos_weight\[1\]='abc' is not a number"),
        ("task.pos_weight=0", r"task\.pos_weight=0 must be > 0"),
        ("seed=abc", r"seed='abc' is not a whole number"),
        ("seed=1.5", r"seed=1\.5 is not a whole number"),
        ("seed=-1", r"^seed=-1 is out of range: expected a whole number from 0 to 4294967295$"),
        ("seed=4294967296", r"^seed=4294967296 is out of range"),
        ("torch_threads=0", r"torch_threads=0 is not a whole number >= 1"),
        ("ckpt_path=CKPT/missing.ckpt", r"ckpt_path=.*missing\.ckpt: weights file .* does not exist"),
        ("ckpt_path=CKPT/empty.ckpt", r"ckpt_path=.*empty\.ckpt: .*the file is empty"),
        ("ckpt_path=CKPT/random.ckpt", r"ckpt_path=.*random\.ckpt: .*could not be read"),
        ("ckpt_path=CKPT/truncated.ckpt", r"ckpt_path=.*truncated\.ckpt: .*(truncated|corrupt)"),
        (
            "ckpt_path=CKPT/weights-only.ckpt",
            r"not a Lightning checkpoint to resume from \(it has no 'optimizer_states'",
        ),
    ],
)
def test_bad_run_options_are_refused_at_start_naming_the_key(tmp_path, override, message):
    for kind in ("empty", "random", "truncated", "weights-only"):
        _bad_checkpoint(tmp_path, kind)
    cfg = compose_cfg(["experiment=deepsea_synthetic", f"run_dir={tmp_path}/run", *tiny_dna(tmp_path),
                       override.replace("CKPT", str(tmp_path))])  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        train(cfg)
    assert not any(tmp_path.rglob("*.fa")) and not (tmp_path / "run").exists()  # refused before any data


def test_a_pos_weight_list_of_the_wrong_length_is_refused_before_training(tmp_path):
    cfg = compose_cfg(["experiment=deepsea_synthetic", f"run_dir={tmp_path}/run", *tiny_dna(tmp_path),
                       "task.pos_weight=[1.0,2.0,3.0]"])  # fmt: skip
    with pytest.raises(ConfigError, match=r"task\.pos_weight has 3 values, the model has 8 targets"):
        train(cfg)
    assert not (tmp_path / "run").exists()


def test_a_checkpoint_of_another_model_is_refused_naming_the_tensors(classification_run, tmp_path):
    tmp, _, _, _ = classification_run
    cfg = compose_cfg(["experiment=deepsea_synthetic", f"run_dir={tmp_path}/run", *tiny_dna(tmp, 200),
                       "model.hidden=32", f"ckpt_path={tmp}/run/checkpoints/last.ckpt"])  # fmt: skip
    with pytest.raises(ConfigError, match=r"its weights do not fit .*model\.classifier\.1\.bias"):
        train(cfg)


def test_a_diverging_run_stops_and_keeps_no_checkpoint_of_it_and_runs_no_test(tmp_path):
    cfg = compose_cfg(["experiment=deepsea_synthetic", f"run_dir={tmp_path}/run", *tiny_dna(tmp_path, 200),
                       *TINY_STEPS, "trainer.max_epochs=3", "task.lr=1e12"])  # fmt: skip
    with pytest.raises(
        NonFiniteLossError, match=r"(train|val)_loss is (nan|inf) at epoch 0.*training diverged"
    ):
        train(cfg)
    for path in (tmp_path / "run").rglob("*.ckpt"):  # none, or only ones of finite weights
        state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()), path
    rows = read_metrics(tmp_path / "run") if (tmp_path / "run" / "csv" / "metrics.csv").exists() else []
    assert not any(row.get("test_auroc") for row in rows)


def test_last_ckpt_is_the_latest_epoch_even_when_it_was_not_the_best(tmp_path):
    # lr=0: every epoch scores the same, so only the first is ever "best"
    cfg = compose_cfg(["experiment=deepsea_synthetic", f"run_dir={tmp_path}/run", *tiny_dna(tmp_path, 200),
                       *TINY_STEPS, "trainer.max_epochs=3", "task.lr=1e-30", "run_test=false"])  # fmt: skip
    train(cfg)
    load = lambda name: torch.load(tmp_path / "run" / "checkpoints" / name, weights_only=True)  # noqa: E731
    assert load("last.ckpt")["global_step"] == 3 * 2 and load("best.ckpt")["epoch"] == 0


def test_a_nan_monitored_value_never_becomes_the_best_checkpoint(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from zoo.tasks import RunCheckpoint

    class Trainer:
        current_epoch = 0

    nan = torch.tensor(float("nan"))
    assert ModelCheckpoint(monitor="val_auroc", mode="max").check_monitor_top_k(Trainer(), nan)  # Lightning's
    with pytest.warns(UserWarning, match="val_auroc=nan at epoch 0 is not finite"):
        assert not RunCheckpoint(monitor="val_auroc", mode="max").check_monitor_top_k(Trainer(), nan)
    assert RunCheckpoint(monitor="val_auroc", mode="max").check_monitor_top_k(Trainer(), torch.tensor(0.5))


def _steps(epochs: int) -> list[str]:
    return [f"trainer.max_epochs={epochs}", "+trainer.limit_train_batches=3", "+trainer.limit_val_batches=2",
            "trainer.enable_progress_bar=false", "trainer.deterministic=true", "run_test=false"]  # fmt: skip


def test_a_resumed_deterministic_run_reproduces_the_uninterrupted_one(tmp_path):
    # same seed: 2 epochs straight, against 1 epoch and a resume for the second into the same directory
    base = ["experiment=deepsea_synthetic", *tiny_dna(tmp_path, 200), "data.rc_augment=true"]
    straight = train(compose_cfg([*base, f"run_dir={tmp_path}/straight", *_steps(2)]))
    train(compose_cfg([*base, f"run_dir={tmp_path}/resumed", *_steps(1)]))
    last = tmp_path / "resumed" / "checkpoints" / "last.ckpt"
    resumed = train(compose_cfg([*base, f"run_dir={tmp_path}/resumed", *_steps(2), f"ckpt_path={last}"]))
    assert set(straight) == set(resumed)
    for key, value in straight.items():
        assert resumed[key] == pytest.approx(value, abs=1e-6), key
    rows = {run: read_metrics(tmp_path / run) for run in ("straight", "resumed")}
    assert [r["epoch"] for r in rows["resumed"]] == [r["epoch"] for r in rows["straight"]]  # epoch 0 kept
    for a, b in zip(rows["straight"], rows["resumed"]):
        for key in ("val_loss", "val_auroc", "train_loss_epoch"):
            if a.get(key):
                assert float(b[key]) == pytest.approx(float(a[key]), abs=1e-6), key
    ckpts = [torch.load(tmp_path / run / "checkpoints" / "last.ckpt", weights_only=True)
             for run in ("straight", "resumed")]  # fmt: skip
    assert ckpts[0]["global_step"] == ckpts[1]["global_step"] == 6
    for key, value in ckpts[0]["state_dict"].items():
        torch.testing.assert_close(ckpts[1]["state_dict"][key], value, rtol=0, atol=1e-6, msg=key)


def test_zoo_train_resumed_into_its_run_directory_keeps_the_earlier_rows_and_config(tmp_path):
    run = tmp_path / "run"
    args = [
        "experiment=deepsea_synthetic",
        f"hydra.run.dir={run}",
        *tiny_dna(tmp_path, 200),
        "run_test=false",
    ]
    run_cli([*args, *_steps(1)], cwd=tmp_path)
    first = (run / ".hydra" / "config.yaml").read_text()
    run_cli([*args, *_steps(2), f"ckpt_path={run}/checkpoints/last.ckpt"], cwd=tmp_path)
    assert (run / ".hydra" / "config.yaml").read_text() == first and "max_epochs: 1" in first
    resumed = (run / ".hydra" / "config.run-2.yaml").read_text()
    assert "max_epochs: 2" in resumed and "last.ckpt" in resumed
    assert "ckpt_path" in (run / ".hydra" / "overrides.run-2.yaml").read_text()
    assert sorted({r["epoch"] for r in read_metrics(run) if r.get("val_loss")}) == ["0", "1"]


@pytest.mark.parametrize(
    ("override", "message", "started"),
    [
        ("task.lr=abc", "zoo-train: error: task.lr='abc' is not a number", False),
        (
            "ckpt_path=random.ckpt",
            "zoo-train: error: ckpt_path=random.ckpt: random.ckpt: could not be read",
            False,
        ),
        ("model.hidden=abc", "zoo-train: error: task.model: deepsea: argument", False),
        ("task.lr=1e12", "zoo-train: error: train_loss is", True),
    ],
    ids=["bad-lr", "random-ckpt", "bad-model-option", "diverging"],
)
def test_zoo_train_reports_a_failure_in_one_line_with_status_1(tmp_path, override, message, started):
    (tmp_path / "random.ckpt").write_bytes(os.urandom(4096))
    args = ["experiment=deepsea_synthetic", f"hydra.run.dir={tmp_path}/runs/today/run",
            *tiny_dna(tmp_path, 200), *TINY_STEPS, "trainer.max_epochs=3", override]  # fmt: skip
    out = run_cli(args, cwd=tmp_path, status=1)
    assert "Traceback" not in out.stderr and message in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("zoo-train: error: ")
    # a run that failed before training leaves no run folder (nor the folders made for it)
    assert (tmp_path / "runs").exists() == started
    if started:  # what a run that trained left: its log and config
        assert {"train.log", ".hydra"} <= {p.name for p in (tmp_path / "runs" / "today" / "run").iterdir()}


def test_missing_data_files_are_all_named_in_one_line_and_no_run_folder_is_left(tmp_path):
    (tmp_path / "seqs.fa").write_text(">a\nACGT\n")
    for given, missing in (
        (
            ["data.fasta=nope.fa", "data.labels=nope.tsv"],
            "data.fasta='nope.fa' and data.labels='nope.tsv' do",
        ),
        (["data.fasta=seqs.fa", "data.labels=gone/l.tsv"], "data.labels='gone/l.tsv' does"),
    ):
        out = run_cli(
            ["experiment=deepsea_synthetic", "hydra.run.dir=runs/run", *given], cwd=tmp_path, status=1
        )
        assert out.stderr.strip().splitlines() == [f"zoo-train: error: {missing} not exist"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["seqs.fa"]


def test_a_failed_resume_leaves_its_run_folder_as_it_was(tmp_path):
    run = tmp_path / "run"
    run_cli(["experiment=deepsea_synthetic", f"hydra.run.dir={run}", *tiny_dna(tmp_path, 200), *TINY_STEPS],
            cwd=tmp_path)  # fmt: skip
    before = {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}
    args = ["experiment=deepsea_synthetic", f"hydra.run.dir={run}", *tiny_dna(tmp_path, 200), *TINY_STEPS,
            f"ckpt_path={run}/checkpoints/last.ckpt", "task.lr=abc"]  # fmt: skip
    run_cli(args, cwd=tmp_path, status=1)
    assert {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()} == before


def test_zoo_evaluate_rescores_the_runs_test_split_like_the_run(classification_run, tmp_path, capsys):
    from zoo.cli.evaluate import main as evaluate
    from zoo.tasks.evaluation import read_target_table

    tmp, _, metrics, _ = classification_run
    evaluate([str(tmp / "run" / "checkpoints" / "best.ckpt"), "--out", str(tmp_path / "eval")])
    again, before = (
        read_target_table(tmp_path / "eval" / "test_targets.csv"),
        read_target_table(tmp / "run" / "test_targets.csv"),
    )
    for a, b in zip(again, before, strict=True):
        assert (a.name, a.positives, a.negatives) == (b.name, b.positives, b.negatives)
        assert a.auroc == pytest.approx(b.auroc, abs=1e-6, nan_ok=True)
    assert {p.name for p in (tmp_path / "eval" / "images").iterdir()} == {
        "test_targets.png",
        "test_curves.png",
    }
    summary = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert summary["split"] == "test" and summary["metrics"]["test_auroc"] == pytest.approx(
        metrics["test_auroc"]
    )
    assert "per-target results:" in capsys.readouterr().out


def test_zoo_evaluate_scores_every_record_of_other_files_as_sklearn_does(classification_run, tmp_path):
    from zoo.cli.evaluate import main as evaluate
    from zoo.data import read_labels
    from zoo.tasks import ClassificationTask
    from zoo.tasks.evaluation import read_target_table

    tmp, cfg, _, _ = classification_run
    fasta, labels = cfg.synthetic.fasta, cfg.synthetic.labels
    ckpt = tmp / "run" / "checkpoints" / "best.ckpt"
    evaluate([str(ckpt), "--fasta", fasta, "--labels", labels, "--out", str(tmp_path / "all")])
    names, targets, y, _ = read_labels(labels)
    sequences = dict(line.split("\n", 1) for line in Path(fasta).read_text().lstrip(">").split("\n>"))
    task = ClassificationTask.load_from_checkpoint(ckpt, weights_only=True).eval()
    with torch.no_grad():
        probs = torch.sigmoid(task.model.logits(zoo.one_hot([sequences[n].strip() for n in names]))).numpy()
    table = read_target_table(tmp_path / "all" / "test_targets.csv")
    assert [r.name for r in table] == targets and sum(
        table[0].__dict__[k] for k in ("positives", "negatives")
    ) == 64
    for t, row in enumerate(table):
        assert row.auroc == pytest.approx(roc_auc_score(y[:, t], probs[:, t]), abs=1e-5)
        assert row.auprc == pytest.approx(average_precision_score(y[:, t], probs[:, t]), abs=1e-5)
    assert json.loads((tmp_path / "all" / "evaluation.json").read_text())["records"] == 64


def test_zoo_evaluate_refuses_what_it_cannot_score(classification_run, image_runs, tmp_path):
    from zoo.cli.evaluate import main as evaluate

    tmp, cfg, _, _ = classification_run
    ckpt = str(tmp / "run" / "checkpoints" / "best.ckpt")
    gan = str(image_runs["image_decoder_gan_digits"] / "checkpoints" / "last.ckpt")
    header, *rows = Path(cfg.synthetic.labels).read_text().splitlines()
    names = header.split("\t")
    swapped = tmp_path / "swapped.tsv"  # the same targets in another order: output 1 is CTCF, not GATA1
    swapped.write_text("\n".join(["\t".join([names[0], names[2], names[1], *names[3:]]), *rows]) + "\n")
    cases = [
        (
            [ckpt, "--fasta", cfg.synthetic.fasta, "--labels", str(swapped), "--out", str(tmp_path / "s")],
            "column 1 is 'GATA1', the model's output 1 is 'CTCF'",
        ),
        ([gan, "--out", str(tmp_path / "g")], "is not a zoo-train classification checkpoint"),
        ([ckpt, "--fasta", "x.fa", "--out", str(tmp_path / "f")], "give --fasta and --labels together"),
        ([ckpt, "--out", str(tmp / "run")], "already holds an evaluation"),  # never overwrites results
    ]
    for args, message in cases:
        with pytest.raises(SystemExit, match=message):
            evaluate(args)
    assert not any((tmp_path / name).exists() for name in ("g", "f", "s"))


def _stopping_script(method: str, signum: int, command: str) -> str:
    """A script that runs ``command``'s main with ClassificationTask.``method`` sending ``signum``
    to the process (the user's Ctrl-C or a scheduler's SIGTERM, mid-run)."""
    return (
        "import os\nfrom zoo.tasks import ClassificationTask\n"
        f"step = ClassificationTask.{method}\n"
        "def stopped(self, *args, **kwargs):\n"
        f"    os.kill(os.getpid(), {int(signum)})\n"
        "    return step(self, *args, **kwargs)\n"
        f"ClassificationTask.{method} = stopped\n"
        f"from zoo.cli.{command} import main\nmain()\n"
    )


def _assert_stopped(done: subprocess.CompletedProcess, prog: str, signum: int) -> None:
    name = signal.Signals(signum).name
    assert done.returncode == 128 + signum, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stdout + done.stderr
    assert "Received SIGTERM" not in done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"{prog}: stopped by {name}"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_zoo_train_stopped_by_a_signal_exits_with_128_plus_it(tmp_path, signum):
    args = ["experiment=deepsea_synthetic", f"hydra.run.dir={tmp_path}/run", *tiny_dna(tmp_path, 200),
            *TINY_STEPS]  # fmt: skip
    script = _stopping_script("training_step", signum, "train")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=tmp_path, capture_output=True,
                          text=True, env=env, timeout=300)  # fmt: skip
    _assert_stopped(done, "zoo-train", signum)
    assert not (tmp_path / "run" / "test_targets.csv").exists()  # no test of the interrupted run


def test_zoo_evaluate_stopped_by_sigterm_is_no_success_and_writes_no_summary(classification_run, tmp_path):
    tmp, _, _, _ = classification_run
    argv = [str(tmp / "run" / "checkpoints" / "best.ckpt"), "--out", str(tmp_path / "eval")]
    script = _stopping_script("test_step", signal.SIGTERM, "evaluate").replace(
        "main()", f"import sys\nsys.argv[1:] = {argv!r}\nmain()"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    _assert_stopped(done, "zoo-evaluate", signal.SIGTERM)
    assert not (tmp_path / "eval" / "evaluation.json").exists()


def test_data_with_an_empty_split_is_refused_before_training_naming_the_files(tmp_path):
    """Three records leave no validation or test record: Lightning failed mid-fit with a
    traceback about early stopping's metric."""
    cfg = compose_cfg(["experiment=deepsea_synthetic", f"run_dir={tmp_path}/run", *tiny_dna(tmp_path, 200),
                       *TINY_STEPS])  # fmt: skip
    prepare_data(cfg)
    header, *rows = Path(cfg.synthetic.labels).read_text().splitlines()
    labels = tmp_path / "three.tsv"
    labels.write_text("\n".join([header, *rows[:3]]) + "\n")
    cfg.data.labels = str(labels)
    empty = r"labels=.*three\.tsv: the val and test splits are empty \(3 records: train 3, val 0, test 0\)"
    with pytest.raises(ConfigError, match=empty):
        train(cfg)
    assert not (tmp_path / "run").exists()


def test_a_run_folder_that_cannot_be_made_is_one_line_and_nothing_is_made(tmp_path, monkeypatch):
    from zoo.cli._hydra import run_folder_problem

    (tmp_path / "file").write_text("x")
    args = ["experiment=deepsea_synthetic", f"hydra.run.dir={tmp_path}/file/run", *tiny_dna(tmp_path, 200)]
    out = run_cli(args, cwd=tmp_path, status=1)
    assert out.stderr == (
        f"zoo-train: error: the run folder {tmp_path}/file/run cannot be made: {tmp_path}/file is a file, "
        "not a folder\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no data generated either
    # a read-only parent (root may write anywhere, so the permission check is stood in for)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert run_folder_problem(tmp_path / "a" / "run") == (
        f"the run folder {tmp_path}/a/run cannot be made: {tmp_path} is not writable"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threads", "-1"], r"^zoo-evaluate: --threads -1: expected a whole number >= 1$"),
        (["--accelerator", "gpu"], r"^zoo-evaluate: --accelerator gpu: .* use --accelerator cpu or auto$"),
    ],
    ids=["threads", "gpu"],
)
def test_zoo_evaluate_refuses_threads_or_a_device_it_cannot_use_in_one_line(tmp_path, args, message):
    from zoo.cli.evaluate import main as evaluate

    if "gpu" in args and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit, match=message):
        evaluate([str(tmp_path / "best.ckpt"), "--out", str(tmp_path / "eval"), *args])
    assert list(tmp_path.iterdir()) == []


def test_zoo_evaluate_on_a_full_disk_names_the_folder_and_leaves_no_partial_evaluation(
    classification_run, tmp_path, monkeypatch
):
    """The table was written, the pictures were not: the folder looked evaluated (and a rerun
    was refused as "already holds an evaluation")."""
    import errno

    import zoo.tasks.classification as classification
    from zoo.cli.evaluate import main as evaluate

    def full_disk(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(classification, "save_curves_png", full_disk)
    tmp, _, _, _ = classification_run
    out = tmp_path / "eval"
    with pytest.raises(SystemExit, match=rf"^zoo-evaluate: cannot write {out}: No space left on device$"):
        evaluate([str(tmp / "run" / "checkpoints" / "best.ckpt"), "--out", str(out)])
    assert list(tmp_path.iterdir()) == []


def test_zoo_train_on_a_full_disk_is_one_line_and_leaves_no_truncated_checkpoint(
    tmp_path, monkeypatch, capsys
):
    import errno

    import lightning.fabric.plugins.io.torch_io as torch_io

    from zoo.cli.train import run

    def half_written(checkpoint, path):  # the disk fills up half-way through the file
        Path(path).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch_io, "_atomic_save", half_written)
    run_dir = tmp_path / "run"
    cfg = compose_cfg(
        ["experiment=deepsea_synthetic", f"run_dir={run_dir}", *tiny_dna(tmp_path, 200), *TINY_STEPS]
    )
    with pytest.raises(SystemExit) as stop:
        run(cfg)
    assert stop.value.code == 1
    assert (
        capsys.readouterr().err.splitlines()[-1]
        == f"zoo-train: error: cannot write {run_dir}: No space left on device"
    )
    # neither a truncated file nor a temporary one (the folder the failed write made is gone too)
    checkpoints = run_dir / "checkpoints"
    assert not checkpoints.exists() or not [p.name for p in checkpoints.iterdir()]
