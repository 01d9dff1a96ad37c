"""Lightning tasks: losses, metrics against sklearn, probabilities, pictures, plain checkpoints."""

import copy
import pickle

import numpy as np
import pytest
import torch
from lightning import Trainer
from PIL import Image
from sklearn.metrics import average_precision_score, roc_auc_score
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset
from torchvision.ops import sigmoid_focal_loss

import zoo
from zoo.data import FakeImageDataModule
from zoo.tasks import ClassificationTask, ConvEncoder, GANTask, VAETask
from zoo.tasks._common import adam
from zoo.tasks.evaluation import read_target_table
from zoo.tasks.plots import MIN_GRID_PIXELS


def quiet_trainer(tmp_path, **kwargs) -> Trainer:
    return Trainer(
        default_root_dir=tmp_path, accelerator="cpu", logger=False, enable_progress_bar=False,
        enable_model_summary=False, **kwargs,
    )  # fmt: skip


def test_validation_auroc_and_auprc_are_means_over_targets_with_positives(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(60, 5)
    y = (torch.rand(60, 3) < 0.4).float()
    y[:, 1] = 0  # no positives: left out and counted
    model = zoo.create_model("binary_classifier", in_features=5, n_outputs=3)
    task = ClassificationTask(model)
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    (result,) = quiet_trainer(tmp_path).validate(task, loader, verbose=False)
    with torch.no_grad():
        probs = torch.sigmoid(model.logits(x)).numpy()
    auroc = np.mean([roc_auc_score(y[:, t], probs[:, t]) for t in (0, 2)])
    auprc = np.mean([average_precision_score(y[:, t], probs[:, t]) for t in (0, 2)])
    assert result["val_auroc"] == pytest.approx(auroc, abs=1e-5)
    assert result["val_auprc"] == pytest.approx(auprc, abs=1e-5)
    assert result["val_targets_left_out"] == 1
    assert result["val_loss"] == pytest.approx(
        F.binary_cross_entropy_with_logits(model.logits(x), y).item(), 1e-5
    )


def test_a_single_output_classifier_gets_binary_auroc_and_auprc(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(40, 5), (torch.rand(40, 1) < 0.5).float()
    model = zoo.create_model("binary_classifier", in_features=5)  # n_outputs=1: one logit per row
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    (result,) = quiet_trainer(tmp_path).validate(ClassificationTask(model), loader, verbose=False)
    with torch.no_grad():
        probs = torch.sigmoid(model.logits(x)).numpy()
    assert result["val_auroc"] == pytest.approx(roc_auc_score(y[:, 0], probs[:, 0]), abs=1e-5)
    assert result["val_auprc"] == pytest.approx(average_precision_score(y[:, 0], probs[:, 0]), abs=1e-5)
    assert result["val_targets_left_out"] == 0


def test_losses_are_bce_with_pos_weight_or_sigmoid_focal():
    logits, target = torch.randn(8, 3), (torch.rand(8, 3) < 0.5).float()
    model = zoo.create_model("binary_classifier", in_features=4, n_outputs=3)
    weighted = ClassificationTask(model, pos_weight=[1.0, 2.0, 3.0])
    expected = F.binary_cross_entropy_with_logits(logits, target, pos_weight=torch.tensor([1.0, 2.0, 3.0]))
    assert torch.allclose(weighted.loss(logits, target), expected)
    focal = ClassificationTask(model, loss="focal", focal_alpha=0.3, focal_gamma=1.5)
    expected = sigmoid_focal_loss(logits, target, alpha=0.3, gamma=1.5, reduction="mean")
    assert torch.allclose(focal.loss(logits, target), expected)
    with pytest.raises(ValueError, match="loss='mse'"):
        ClassificationTask(model, loss="mse")


def test_predict_returns_probabilities(tmp_path):
    model = zoo.create_model("binary_classifier", in_features=4, n_outputs=2, head="identity")
    x = torch.randn(10, 4)
    batches = quiet_trainer(tmp_path).predict(
        ClassificationTask(model), DataLoader(TensorDataset(x), batch_size=4)
    )
    with torch.no_grad():
        assert torch.allclose(torch.cat(batches), torch.sigmoid(model.logits(x)))


def fit_fast(tmp_path, task, datamodule) -> dict:
    trainer = quiet_trainer(tmp_path, max_epochs=1, limit_train_batches=2, limit_val_batches=1)
    trainer.fit(task, datamodule=datamodule)
    path = tmp_path / "last.ckpt"
    trainer.save_checkpoint(path)
    return torch.load(path, map_location="cpu", weights_only=True)  # plain hyperparameters only


def test_gan_trains_both_networks_on_logits_and_writes_a_sample_grid(tmp_path):
    generator = zoo.create_model("image_decoder", in_size=8, n_channels=1, ngf=8, n_layers=2)
    discriminator = zoo.create_model("image_discriminator", n_channels=1, ndf=8, image_size=8)
    before = [p.detach().clone() for p in (*generator.parameters(), *discriminator.parameters())]
    task = GANTask(generator, discriminator, n_samples=16)
    assert abs(float(generator.main[0].weight.detach().std()) - 0.02) < 0.005  # DCGAN init
    dm = FakeImageDataModule(n_images=48, image_size=8, n_channels=1, scale="symmetric", batch_size=8)
    ckpt = fit_fast(tmp_path, task, dm)
    after = [*generator.parameters(), *discriminator.parameters()]
    assert all(not torch.equal(a, b) for a, b in zip(before, after))

    grid = Image.open(tmp_path / "images" / "samples_latest.png")
    width, height = 8 * 8 + 9 * 2, 2 * 8 + 3 * 2  # 16 images, 8 per row, 2-pixel padding
    factor = -(-MIN_GRID_PIXELS // width)  # upscaled by a whole factor to be seen
    assert grid.size[0] == width * factor and 0 < grid.size[1] - height * factor < 100  # a title above
    assert grid.text["Title"] == "GAN samples (fixed latents), epoch 0"
    assert (tmp_path / "images" / "samples_progress.png").is_file()  # drawn when training ended
    assert ckpt["hyper_parameters"]["generator_record"]["args"]["head"] == "tanh"
    rebuilt = GANTask(**ckpt["hyper_parameters"])
    rebuilt.load_state_dict(ckpt["state_dict"])
    assert torch.equal(rebuilt.sample(), task.sample())


def test_vae_logs_heldout_terms_and_writes_grids(tmp_path):
    decoder = zoo.create_model("image_decoder", in_size=4, n_channels=1, ngf=8, n_layers=2, head="sigmoid")
    task = VAETask(decoder, encoder_width=8, n_samples=8)
    dm = FakeImageDataModule(n_images=48, image_size=8, n_channels=1, scale="unit", batch_size=8)
    ckpt = fit_fast(tmp_path, task, dm)
    images = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert images == ["reconstructions_latest.png", "reconstructions_progress.png", "samples_latest.png",
                      "samples_progress.png"]  # fmt: skip
    for name, title in (("samples", "VAE samples"), ("reconstructions", "VAE: held-out images")):
        with Image.open(tmp_path / "images" / f"{name}_latest.png") as picture:
            assert picture.text["Title"].startswith(title) and picture.text["Title"].endswith(", epoch 0")
    x = torch.stack([dm.datasets["val"][i][0] for i in range(8)])
    (result,) = quiet_trainer(tmp_path).validate(
        task, DataLoader(TensorDataset(x), batch_size=8), verbose=False
    )
    task.eval()  # validation runs in eval mode (batch norm on running statistics)
    expected = F.binary_cross_entropy(task.reconstruct(x), x)
    assert result["val_recon_bce"] == pytest.approx(expected.item(), rel=1e-4)
    assert result["val_elbo"] == pytest.approx(-result["val_loss"]) and result["val_kl"] >= 0
    assert ckpt["hyper_parameters"]["decoder_record"]["name"] == "image_decoder"


def test_conv_encoder_shapes():
    mean, log_var = ConvEncoder(n_channels=3, image_size=16, latent_dim=5, width=4)(torch.randn(2, 3, 16, 16))
    assert mean.shape == log_var.shape == (2, 5)
    with pytest.raises(ValueError, match="image_size=12"):
        ConvEncoder(image_size=12)


def test_compiled_task_trains_like_the_eager_one_and_keeps_plain_checkpoint_keys(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(32, 6), (torch.rand(32, 2) < 0.5).float()
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    models = {
        name: zoo.create_model("binary_classifier", in_features=6, n_outputs=2, hidden=[8])
        for name in ("eager", "compiled")
    }
    models["compiled"].load_state_dict(models["eager"].state_dict())
    initial = {k: v.clone() for k, v in models["eager"].state_dict().items()}
    tasks = {name: ClassificationTask(model, compile=name == "compiled") for name, model in models.items()}
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()  # reset() keeps the counts of earlier tests
    for name, task in tasks.items():
        quiet_trainer(tmp_path / name, max_epochs=1, enable_checkpointing=False).fit(task, loader)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # a graph was compiled
    copied = copy.deepcopy(tasks["compiled"])  # a copy computes with its own weights
    with torch.no_grad():
        for p in copied.model.parameters():
            p.zero_()
        assert torch.equal(copied._logits(x), torch.zeros(32, 2))
    assert pickle.loads(pickle.dumps(tasks["compiled"])).hparams.compile is True
    assert tasks["compiled"].hparams.compile is True
    assert set(tasks["compiled"].state_dict()) == set(tasks["eager"].state_dict())
    trained, expected = models["compiled"].state_dict(), models["eager"].state_dict()
    for key, start in initial.items():
        assert not torch.equal(expected[key], start)  # 4 Adam steps moved every tensor
        torch.testing.assert_close(trained[key], expected[key], rtol=1e-4, atol=1e-5)


def test_tasks_step_with_the_fused_adam_where_torch_has_it(tmp_path):
    model = zoo.create_model("binary_classifier", in_features=3)
    assert ClassificationTask(model).configure_optimizers()["optimizer"].defaults["fused"] is True
    on_meta = [torch.nn.Parameter(torch.empty(2, device="meta"))]  # no fused kernel: torch's default
    assert not adam(ClassificationTask(model), on_meta, lr=1e-3).defaults["fused"]
    # Lightning cannot clip a fused optimizer's gradients under mixed precision: a clipping run trains
    x, y = torch.randn(16, 3), (torch.rand(16, 1) < 0.5).float()
    task = ClassificationTask(model)
    trainer = quiet_trainer(
        tmp_path, max_steps=2, precision="bf16-mixed", gradient_clip_val=1.0, enable_checkpointing=False
    )
    trainer.fit(task, DataLoader(TensorDataset(x, y), batch_size=8))
    assert trainer.global_step == 2 and not trainer.optimizers[0].defaults["fused"]


def test_checkpoints_record_the_training_labels_target_names(tmp_path):
    from zoo.data import DnaFastaDataModule
    from zoo.weights import recorded_info

    rng = np.random.default_rng(0)
    names = ["K562_CTCF_None", "HepG2_DNase_None", "GM12878_EP300_None"]
    fasta, labels = tmp_path / "s.fa", tmp_path / "l.tsv"
    fasta.write_text("".join(f">r{i}\n{''.join(rng.choice(list('ACGT'), 200))}\n" for i in range(8)))
    rows = [f"r{i}\t" + "\t".join(str(int(v)) for v in rng.integers(0, 2, 3)) for i in range(8)]
    labels.write_text("name\t" + "\t".join(names) + "\n" + "\n".join(rows) + "\n")
    data = DnaFastaDataModule(str(fasta), str(labels), batch_size=4, val_fraction=0, test_fraction=0)
    model = zoo.create_model("deepsea", seq_len=200, n_targets=3, hidden=4, conv_channels=(8, 8, 8))
    task = ClassificationTask(model)
    trainer = quiet_trainer(tmp_path, max_epochs=1, limit_train_batches=1, enable_checkpointing=False)
    trainer.fit(task, datamodule=data)
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    assert task.model.target_names == names
    assert recorded_info(tmp_path / "last.ckpt")["target_names"] == names  # the checkpoint's hyperparameters
    assert ClassificationTask.load_from_checkpoint(tmp_path / "last.ckpt").model.target_names == names


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lr": "abc"}, TypeError, r"lr='abc' is not a number"),
        ({"lr": 0.0}, ValueError, r"lr=0.0 must be > 0"),
        ({"lr": float("nan")}, ValueError, r"lr=nan is not a finite number"),
        ({"weight_decay": -1.0}, ValueError, r"weight_decay=-1.0 must be >= 0"),
        ({"pos_weight": [1.0, 2.0]}, ValueError, r"pos_weight has 2 values for a model with 3 targets"),
        ({"pos_weight": [1.0, float("nan"), 1.0]}, ValueError, r"pos_weight\[1\]=nan is not a finite number"),
        ({"pos_weight": "2"}, TypeError, r"pos_weight='2' is not a number"),
        ({"focal_alpha": 1.5}, ValueError, r"focal_alpha=1.5 must be <= 1"),
    ],
)
def test_classification_task_refuses_bad_arguments_naming_them(kwargs, error, message):
    model = zoo.create_model("binary_classifier", in_features=5, n_outputs=3)
    with pytest.raises(error, match=message):
        ClassificationTask(model, **kwargs)


def test_gan_and_vae_tasks_refuse_bad_arguments_naming_them():
    generator = zoo.create_model("image_decoder", in_size=8, n_channels=1, ngf=8, n_layers=2)
    discriminator = zoo.create_model("image_discriminator", n_channels=1, ndf=8, image_size=8)
    with pytest.raises(ValueError, match=r"betas\[1\]=1.5 must be < 1"):
        GANTask(generator, discriminator, betas=(0.5, 1.5))
    with pytest.raises(TypeError, match=r"lr=None is not a number"):
        GANTask(generator, discriminator, lr=None)
    with pytest.raises(ValueError, match=r"beta=-1 must be >= 0"):
        VAETask(generator, beta=-1)


def _broken(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    return model


@pytest.mark.parametrize("kind", ["classification", "gan", "vae"])
def test_a_non_finite_loss_stops_training_before_any_checkpoint(tmp_path, kind):
    from zoo.tasks import NonFiniteLossError, RunCheckpoint

    if kind == "classification":
        task = ClassificationTask(_broken(zoo.create_model("binary_classifier", in_features=5, n_outputs=2)))
        x, y = torch.randn(32, 5), (torch.rand(32, 2) < 0.5).float()
        loaders = {"train_dataloaders": DataLoader(TensorDataset(x, y), batch_size=8)}
        name = "train_loss"
    else:
        decoder = zoo.create_model(
            "image_decoder", in_size=4, n_channels=1, ngf=8, n_layers=2, head="sigmoid"
        )
        discriminator = zoo.create_model("image_discriminator", n_channels=1, ndf=8, image_size=8)
        task = GANTask(decoder, discriminator) if kind == "gan" else VAETask(decoder, encoder_width=8)
        _broken(task.discriminator if kind == "gan" else task.decoder)
        scale = "symmetric" if kind == "gan" else "unit"
        loaders = {"datamodule": FakeImageDataModule(n_images=32, image_size=8, n_channels=1, scale=scale,
                                                     batch_size=8)}  # fmt: skip
        name = "train_d_loss" if kind == "gan" else "train_loss"
    checkpoint = RunCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    trainer = quiet_trainer(tmp_path, max_epochs=2, callbacks=[checkpoint], num_sanity_val_steps=0)
    with pytest.raises(NonFiniteLossError, match=rf"{name} is nan at epoch 0, step 0: training diverged"):
        trainer.fit(task, **loaders)
    assert not (tmp_path / "ckpt").exists() or not list((tmp_path / "ckpt").iterdir())


def test_checkpoints_keep_the_random_state_and_a_resumed_fit_puts_it_back(tmp_path):
    from zoo.tasks._common import RNG_KEY, rng_states

    task = ClassificationTask(zoo.create_model("binary_classifier", in_features=5))
    x, y = torch.randn(16, 5), (torch.rand(16, 1) < 0.5).float()
    trainer = quiet_trainer(tmp_path, max_epochs=1, enable_checkpointing=False)
    trainer.fit(task, DataLoader(TensorDataset(x, y), batch_size=8))
    trainer.save_checkpoint(tmp_path / "a.ckpt")
    saved = torch.load(tmp_path / "a.ckpt", weights_only=True)[RNG_KEY]  # plain values and tensors
    assert torch.equal(saved["torch"], rng_states()["torch"])
    torch.manual_seed(123)  # elsewhere in the stream ...
    ClassificationTask.load_from_checkpoint(tmp_path / "a.ckpt", weights_only=True)
    assert not torch.equal(torch.get_rng_state(), saved["torch"])  # ... which only reading leaves alone


def test_the_csv_logger_continues_an_existing_metrics_file(tmp_path):
    from zoo.tasks import AppendingCSVLogger

    (tmp_path / "metrics.csv").write_text("epoch,step,val_loss\n0,1,0.5\n")
    logger = AppendingCSVLogger(tmp_path, name="", version="")
    logger.log_metrics({"epoch": 1, "val_loss": 0.25, "val_auroc": 0.75}, step=3)
    logger.save()
    import csv

    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows == [
        {"epoch": "0", "step": "1", "val_auroc": "", "val_loss": "0.5"},
        {"epoch": "1", "step": "3", "val_auroc": "0.75", "val_loss": "0.25"},
    ]


def test_test_writes_the_per_target_table_of_sklearn_scores_and_the_pictures(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(80, 5)
    y = (torch.rand(80, 3) < 0.4).float()
    y[:, 1] = 0  # one class only: no scores, still counted
    model = zoo.create_model("binary_classifier", in_features=5, n_outputs=3)
    task = ClassificationTask(model, target_names=["CTCF", "empty", "GATA1"])
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    (result,) = quiet_trainer(tmp_path).test(task, loader, verbose=False)
    with torch.no_grad():
        probs = torch.sigmoid(model.logits(x)).numpy()
    table = read_target_table(tmp_path / "test_targets.csv")
    assert [r.name for r in table] == ["CTCF", "empty", "GATA1"]
    for t in (0, 2):
        assert table[t].auroc == pytest.approx(roc_auc_score(y[:, t], probs[:, t]), abs=1e-6)
        assert table[t].auprc == pytest.approx(average_precision_score(y[:, t], probs[:, t]), abs=1e-6)
        assert (table[t].positives, table[t].negatives) == (int(y[:, t].sum()), 80 - int(y[:, t].sum()))
    assert np.isnan(table[1].auroc) and (table[1].positives, table[1].negatives) == (0, 80)
    assert result["test_auroc"] == pytest.approx((table[0].auroc + table[2].auroc) / 2, abs=1e-6)
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["test_curves.png", "test_targets.png"]
    assert task.test_outputs[0] == tmp_path / "test_targets.csv"


def test_checkpoints_loaded_for_testing_say_which_epoch_their_weights_are_from(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    x, y = torch.randn(32, 4), (torch.rand(32, 2) < 0.5).float()
    task = ClassificationTask(zoo.create_model("binary_classifier", in_features=4, n_outputs=2))
    saver = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    quiet_trainer(tmp_path, max_epochs=2, callbacks=[saver]).fit(
        task, DataLoader(TensorDataset(x, y), batch_size=8)
    )
    assert task.weights_epoch == 1  # epochs 0 and 1 ran
    loaded = ClassificationTask.load_from_checkpoint(tmp_path / "last.ckpt", weights_only=True)
    assert loaded.weights_epoch == 1
    quiet_trainer(tmp_path).test(loaded, DataLoader(TensorDataset(x, y), batch_size=8), verbose=False)
    assert loaded.test_outputs == [tmp_path / "test_targets.csv", tmp_path / "images" / "test_targets.png",
                                   tmp_path / "images" / "test_curves.png"]  # fmt: skip


@pytest.mark.parametrize("name", ["classification", "gan", "vae"])
def test_tasks_train_in_float16_with_a_gradient_scaler(tmp_path, name):
    """16-mixed runs on GPUs only; on the CPU the same plugin (float16 autocast + GradScaler) is
    given explicitly. The scaler starts so high that the first float16 gradients overflow: those
    steps must be skipped (the scale drops) and training go on with finite weights."""
    from lightning.pytorch.plugins.precision import MixedPrecision

    torch.manual_seed(0)
    if name == "classification":
        task = ClassificationTask(
            zoo.create_model("binary_classifier", in_features=6, n_outputs=2, hidden=[8])
        )
        x, y = torch.randn(96, 6), (torch.rand(96, 2) < 0.5).float()
        data = {"train_dataloaders": DataLoader(TensorDataset(x, y), batch_size=8)}
    else:
        decoder = zoo.create_model("image_decoder", in_size=8, n_channels=1, ngf=8, n_layers=2,
                                   head="tanh" if name == "gan" else "sigmoid")  # fmt: skip
        if name == "gan":
            task = GANTask(
                decoder, zoo.create_model("image_discriminator", n_channels=1, ndf=8, image_size=8)
            )
        else:
            task = VAETask(decoder, encoder_width=8)
        scale = "symmetric" if name == "gan" else "unit"
        data = {
            "datamodule": FakeImageDataModule(
                n_images=120, image_size=8, n_channels=1, scale=scale, batch_size=8
            )
        }
    start = {k: v.clone() for k, v in task.state_dict().items() if v.is_floating_point()}
    plugin = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu", init_scale=2.0**24))
    trainer = quiet_trainer(
        tmp_path, max_steps=24, plugins=[plugin], enable_checkpointing=False, limit_val_batches=1
    )
    trainer.fit(task, **data)
    assert plugin.scaler.get_scale() < 2.0**24  # overflowing steps were found and skipped
    state = task.state_dict()
    assert all(torch.isfinite(state[k]).all() for k in start)
    assert any(not torch.equal(state[k], v) for k, v in start.items())  # later steps trained


def test_sample_spread_tells_collapsed_samples_from_varied_ones():
    from zoo.tasks.gan import sample_spread

    same = torch.rand(1, 1, 8, 8).expand(16, 1, 8, 8)
    assert sample_spread(same) == pytest.approx(0.0, abs=1e-6)
    varied = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert sample_spread(varied) > 0.3  # uniform pixels: about 0.41 apart
    assert sample_spread(torch.zeros(1, 1, 8, 8)) == 0.0  # one sample: nothing to compare


def test_a_gan_whose_samples_collapse_warns_once(monkeypatch, tmp_path):
    generator = zoo.create_model("image_decoder", in_size=8, n_channels=1, ngf=8, n_layers=2)
    discriminator = zoo.create_model("image_discriminator", n_channels=1, ndf=8, image_size=8)
    task = GANTask(generator, discriminator, n_samples=8)
    monkeypatch.setattr(task, "sample", lambda z=None: torch.full((8, 1, 8, 8), 0.5))  # one image, 8 times
    dm = FakeImageDataModule(n_images=16, image_size=8, n_channels=1, scale="symmetric", batch_size=8)
    trainer = quiet_trainer(
        tmp_path, max_epochs=task.COLLAPSE_EPOCHS + 2, limit_train_batches=1, limit_val_batches=0
    )
    with pytest.warns(
        UserWarning, match=r"GAN samples collapsed: the fixed-latent samples differ by 0 "
    ) as seen:
        trainer.fit(task, datamodule=dm)
    assert sum("collapsed" in str(w.message) for w in seen) == 1
