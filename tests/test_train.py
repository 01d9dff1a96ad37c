"""zoo-train: every config composes and builds; runs write metrics, checkpoints and pictures;
resume, multirun and two-process DDP work; checkpoints load into bare models."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

import zoo
from zoo.cli.train import TrainConfigError, prepare_data, train
from zoo.tasks import NonFiniteLossError

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
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


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


@pytest.mark.parametrize("name", DNA_EXPERIMENTS)
def test_dna_experiments_encode_n_as_zoo_predict_scores_it(name):
    from zoo.predict.loading import N_VALUE_BY_MODEL

    cfg = compose_cfg([f"experiment={name}"])
    assert cfg.data.n_value == N_VALUE_BY_MODEL.get(cfg.model.name, 0.25)


@pytest.mark.parametrize("trainer", ["cpu", "gpu", "ddp", "ddp_cpu"])
def test_trainer_configs_compose(tmp_path, trainer):
    cfg = compose_cfg([f"trainer={trainer}", f"run_dir={tmp_path}"])
    assert cfg.trainer.default_root_dir == str(tmp_path)
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
    metrics = train(cfg)
    return tmp, cfg, metrics


def test_classification_run_writes_metrics_checkpoints_and_tests(classification_run):
    tmp, cfg, metrics = classification_run
    run = tmp / "run"
    rows = read_metrics(run)
    names = set(rows[0])
    assert {"train_loss_epoch", "val_loss", "val_auroc", "val_auprc", "val_targets_left_out", "test_auroc",
            "test_auprc"} <= names  # fmt: skip
    assert 0 <= metrics["val_auroc"] <= 1 and "test_auroc" in metrics
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["model_record"]["args"]["seq_len"] == 200
    epochs = {int(r["epoch"]) for r in rows if r.get("val_auroc")}
    pictures = {p.name for p in (run / "images").iterdir()}
    assert pictures >= {f"val_targets_epoch{e:03d}.png" for e in epochs} and epochs
    assert any(name.startswith("test_targets_epoch") for name in pictures)


def test_classification_checkpoint_loads_into_the_bare_model(classification_run):
    tmp, cfg, _ = classification_run
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
    tmp, _, _ = classification_run
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
    assert (run / "images" / "samples_epoch000.png").is_file()
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"last.ckpt"}


def test_vae_run_logs_heldout_loss_and_elbo_and_saves_grids(image_runs):
    run = image_runs["image_decoder_vae_digits"]
    assert {"val_recon_bce", "val_elbo", "val_loss", "train_loss_epoch"} <= set(read_metrics(run)[0])
    assert {"reconstructions_epoch000.png", "samples_epoch000.png"} <= {
        p.name for p in (run / "images").iterdir()
    }
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
    command = [sys.executable, "-m", "zoo.cli.train", *args]
    out = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=300)  # fmt: skip
    assert out.returncode == status, out.stdout[-3000:] + out.stderr[-3000:]
    return out


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
        assert list((tmp_path / "run" / "images").glob("samples_epoch000.png"))


def test_sei_recipe_composes_at_paper_size_and_fast_dev_runs_narrow(tmp_path):
    cfg = compose_cfg(["experiment=sei"])
    assert cfg.model.name == "sei" and "conv_channels" not in cfg.model and cfg.synthetic.seq_len == 4096
    narrow = ["synthetic.seq_len=256", "+model.conv_channels=[8,8,16]", "+trainer.fast_dev_run=true"]
    run = [f"run_dir={tmp_path}/run", "trainer=cpu", *tiny_dna(tmp_path)]
    cfg = compose_cfg(["experiment=sei", *run, *narrow])
    metrics = train(cfg)
    assert {"train_loss_step", "val_auroc"} <= set(metrics)


def test_same_seed_gives_the_same_weights(classification_run, tmp_path):
    tmp, _, _ = classification_run
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
    with pytest.raises(TrainConfigError, match=message):
        train(cfg)
    assert not any(tmp_path.rglob("*.fa")) and not (tmp_path / "run").exists()  # refused before any data


def test_a_pos_weight_list_of_the_wrong_length_is_refused_before_training(tmp_path):
    cfg = compose_cfg(["experiment=deepsea_synthetic", f"run_dir={tmp_path}/run", *tiny_dna(tmp_path),
                       "task.pos_weight=[1.0,2.0,3.0]"])  # fmt: skip
    with pytest.raises(TrainConfigError, match=r"task\.pos_weight has 3 values, the model has 8 targets"):
        train(cfg)
    assert not (tmp_path / "run").exists()


def test_a_checkpoint_of_another_model_is_refused_naming_the_tensors(classification_run, tmp_path):
    tmp, _, _ = classification_run
    cfg = compose_cfg(["experiment=deepsea_synthetic", f"run_dir={tmp_path}/run", *tiny_dna(tmp, 200),
                       "model.hidden=32", f"ckpt_path={tmp}/run/checkpoints/last.ckpt"])  # fmt: skip
    with pytest.raises(TrainConfigError, match=r"its weights do not fit .*model\.classifier\.1\.bias"):
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
    rows = read_metrics(tmp_path / "run") if (tmp_path / "run" / "metrics.csv").exists() else []
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
    ("override", "message"),
    [
        ("task.lr=abc", "zoo-train: error: task.lr='abc' is not a number"),
        ("ckpt_path=random.ckpt", "zoo-train: error: ckpt_path=random.ckpt: random.ckpt: could not be read"),
        ("task.lr=1e12", "zoo-train: error: train_loss is"),
    ],
    ids=["bad-lr", "random-ckpt", "diverging"],
)
def test_zoo_train_reports_a_failure_in_one_line_with_status_1(tmp_path, override, message):
    (tmp_path / "random.ckpt").write_bytes(os.urandom(4096))
    args = ["experiment=deepsea_synthetic", f"hydra.run.dir={tmp_path}/run", *tiny_dna(tmp_path, 200),
            *TINY_STEPS, "trainer.max_epochs=3", override]  # fmt: skip
    out = run_cli(args, cwd=tmp_path, status=1)
    assert "Traceback" not in out.stderr and message in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("zoo-train: error: ")
