"""Every weight layout the zoo reads, each against the original layout's own forward.

Each test builds the original model (tests.legacy, from the reference sheet), gives it random
weights, saves its state_dict the way the original code does, loads the file into the zoo
model and compares probabilities on the same inputs (fp32, eval, max abs diff <= 1e-5).
Short windows keep the models small; the layouts are the same at full size.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import zoo
from tests import legacy
from zoo.weights import LayoutWarning

TOL = 1e-5
AGCT = [0, 2, 1, 3]  # ACGT input -> the AGCT channel order of the Torch7-era models


def randomize(module: nn.Module) -> nn.Module:
    """Random parameters and batch-norm statistics (so that running stats are tested too)."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif t.dim() >= 2:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=gen) * (1.5 / fan_in) ** 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=gen) * 0.3 + (1.0 if name.endswith("weight") else 0.0))
    return module.eval()


def dna(n: int, length: int) -> torch.Tensor:
    """(n, 4, length) one-hot ACGT of random sequences, with a few N (0.25 everywhere)."""
    gen = torch.Generator().manual_seed(2)
    seqs = [
        "".join("ACGTN"[i] for i in torch.randint(0, 5, (length,), generator=gen).tolist()) for _ in range(n)
    ]
    return zoo.one_hot(seqs)


def assert_close(zoo_probs: torch.Tensor, reference: torch.Tensor) -> None:
    assert zoo_probs.shape == reference.shape
    assert reference.std() > 1e-3, "reference outputs are saturated: the comparison would prove little"
    assert (zoo_probs - reference).abs().max().item() <= TOL


def plain_modules(model: nn.Module) -> list[type]:
    return [type(m) for m in model.modules()]


# --- Kipoi DeepSEA ----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["deepsea_cpu", "variant_effect", "predict"])
def test_kipoi_deepsea_files(tmp_path, which):
    seq_len = 200
    build = {
        "deepsea_cpu": legacy.kipoi_deepsea_sized,
        "variant_effect": legacy.kipoi_deepsea_variant_effect,
        "predict": legacy.kipoi_deepsea_predict,
    }[which]
    original = randomize(build(seq_len=seq_len))
    path = tmp_path / "deepsea.pth"
    torch.save(original.state_dict(), path)
    x = dna(3, seq_len)
    with torch.no_grad():
        # deepsea_cpu alone takes AGCT (N, 4, 1, L); the wrapped files recode ACGT themselves.
        reference = original((x[:, AGCT] if which == "deepsea_cpu" else x)[:, :, None, :])
    rc = which == "predict"
    model = zoo.create_model("deepsea", seq_len=seq_len, rc_average=rc, weights=path).eval()
    fresh = zoo.create_model("deepsea", seq_len=seq_len, rc_average=rc)
    with torch.no_grad():
        assert_close(model(x), reference)
    assert plain_modules(model) == plain_modules(fresh)  # the zoo's Conv1d modules, no wrappers
    assert all(type(m) is not nn.Conv2d for m in model.modules())


def test_kipoi_deepsea_full_size_keys_match_reference(tmp_path):
    """The full-size deepsea_cpu layout (the real file's keys and shapes) loads strictly."""
    original = legacy.kipoi_deepsea_cpu()
    assert {k: tuple(v.shape) for k, v in original.state_dict().items()}["12.1.weight"] == (925, 50880)
    report = zoo.weights.check_weights(zoo.create_model("deepsea"), _save(original, tmp_path / "d.pth"))
    assert report.complete and report.layout == "kipoi-deepsea"


def _save(module: nn.Module, path):
    torch.save(module.state_dict(), path)
    return path


def test_kipoi_predict_file_into_a_model_without_strand_averaging_warns(tmp_path):
    path = _save(legacy.kipoi_deepsea_predict(seq_len=200), tmp_path / "predict.pth")
    with pytest.warns(LayoutWarning, match="rc_average=True"):
        zoo.create_model("deepsea", seq_len=200, weights=path)


# --- ExPecto Beluga, Kipoi Basset -------------------------------------------------------------


def test_expecto_beluga(tmp_path):
    seq_len, n_targets, hidden = 400, 50, 64
    original = randomize(legacy.ExpectoBeluga(seq_len, n_targets, hidden))
    path = _save(original, tmp_path / "deepsea.beluga.pth")
    x = dna(3, seq_len)
    with torch.no_grad():
        reference = original(x[:, AGCT, None, :])  # ExPecto is given AGCT directly
        model = zoo.create_model("beluga", seq_len=seq_len, n_targets=n_targets, hidden=hidden, weights=path)
        assert_close(model.eval()(x), reference)


def test_kipoi_basset_with_batchnorm_running_stats(tmp_path):
    seq_len = 300
    original = randomize(legacy.kipoi_basset(seq_len))
    path = _save(original, tmp_path / "basset.pth")
    x = dna(3, seq_len)
    with torch.no_grad():
        reference = original(x[:, :, :, None])  # (N, 4, L, 1): kernels along the height axis
        model = zoo.create_model("basset", seq_len=seq_len, weights=path).eval()
        assert_close(model(x), reference)
    assert torch.equal(model.conv[1].running_var, original[1].running_var)


# --- Selene DeepSEA and DanQ ------------------------------------------------------------------


def test_selene_deepsea_bare_state_dict(tmp_path):
    seq_len = 200
    original = randomize(legacy.SeleneDeepSEA(seq_len, 919))
    path = _save(original, tmp_path / "deepsea.pth")
    x = dna(3, seq_len)
    model = zoo.create_model("deepsea", seq_len=seq_len, hidden=919, activation="relu", weights=path).eval()
    with torch.no_grad():
        assert_close(model(x), original(x))


@pytest.mark.parametrize("prefix", ["module.", "model.", "module.model."])
def test_selene_checkpoint_dict(tmp_path, prefix):
    """A Selene *.pth.tar: {step, arch, state_dict, min_loss, optimizer}; `model.` is its
    NonStrandSpecific wrapper (averages both strands), `module.` DataParallel."""
    seq_len = 200
    selene = randomize(legacy.SeleneDeepSEA(seq_len, 919))
    wrapped = legacy.SeleneNonStrandSpecific(selene) if "model." in prefix else selene
    optimizer = torch.optim.SGD(selene.parameters(), lr=0.1, momentum=0.9)
    state = {(prefix.replace("model.", "") + k): v for k, v in wrapped.state_dict().items()}
    checkpoint = {
        "step": 10,
        "arch": "DeepSEA",
        "state_dict": state,
        "min_loss": 0.2,
        "optimizer": optimizer.state_dict(),
    }
    path = tmp_path / "best_model.pth.tar"
    torch.save(checkpoint, path)
    x = dna(3, seq_len)
    rc = "model." in prefix
    model = zoo.create_model(
        "deepsea", seq_len=seq_len, hidden=919, activation="relu", rc_average=rc, weights=path
    )
    with torch.no_grad():
        assert_close(model.eval()(x), wrapped.eval()(x))


def correct_danq(selene: legacy.SeleneDanQ, x: torch.Tensor) -> torch.Tensor:
    """DanQ computed correctly with Selene's modules: the LSTM runs along each sequence."""
    features = selene.nnet(x).transpose(1, 2)  # (N, positions, 320) for the batch_first LSTM
    states, _ = selene.bdlstm(features)
    return selene.classifier(states.reshape(len(x), -1))  # position-major, like Selene's view


def test_selene_danq_loads_with_a_warning_and_runs_the_lstm_along_the_sequence(tmp_path):
    seq_len = 100
    selene = randomize(legacy.SeleneDanQ(seq_len, 919))
    path = _save(selene, tmp_path / "danq.pth")
    x = dna(3, seq_len)
    with pytest.warns(LayoutWarning, match="recurs across the batch"):
        model = zoo.create_model("danq", seq_len=seq_len, weights=path).eval()
    with torch.no_grad():
        correct = correct_danq(selene, x)
        assert_close(model(x), correct)
        # Selene's own forward differs, and depends on the batch a sample is in:
        assert (selene(x) - correct).abs().max() > 1e-3
        assert (selene(x)[:1] - selene(x[:1])).abs().max() > 1e-4
        assert (model(x)[:1] - model(x[:1])).abs().max() <= TOL


# --- pytorch/examples DCGAN -------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "module."])
def test_dcgan_netg(tmp_path, prefix):
    original = randomize(legacy.DCGANGenerator(nz=100, ngf=16, nc=3))
    path = tmp_path / "netG_epoch_24.pth"
    torch.save({prefix + k: v for k, v in original.state_dict().items()}, path)
    z = torch.randn(3, 100, 1, 1)
    model = zoo.create_model("image_decoder", ngf=16, n_layers=5, weights=path).eval()
    with torch.no_grad():
        assert_close(model(z), original(z))
        assert_close(model(z.flatten(1)), original(z))


def test_dcgan_netd(tmp_path):
    original = randomize(legacy.DCGANDiscriminator(nc=3, ndf=16))
    path = _save(original, tmp_path / "netD_epoch_24.pth")
    images = torch.rand(3, 3, 64, 64) * 2 - 1
    model = zoo.create_model("image_discriminator", ndf=16, image_size=64, weights=path).eval()
    with torch.no_grad():
        assert_close(model(images), original(images))


# --- the zoo's own files: Lightning checkpoints, compile/DDP prefixes, .pt, .safetensors ------


def lightning_checkpoint(state: dict[str, torch.Tensor]) -> dict:
    """The shape of a Lightning .ckpt: the task's state_dict nested under 'state_dict'."""
    return {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "2.6.0",
        "state_dict": state,
        "loops": {},
        "callbacks": {},
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-3, "params": [0, 1]}]}],
        "lr_schedulers": [],
        "hyper_parameters": {"lr": 1e-3, "model": {"name": "deepsea", "seq_len": 200}},
    }


def test_lightning_classification_checkpoint(tmp_path):
    trained = randomize(zoo.create_model("deepsea", seq_len=200, n_targets=8))
    state = {f"model.{k}": v for k, v in trained.state_dict().items()}
    state["loss_fn.pos_weight"] = torch.ones(8)  # other task attributes are ignored
    torch.save(lightning_checkpoint(state), tmp_path / "last.ckpt")
    model = zoo.create_model("deepsea", seq_len=200, n_targets=8, weights=tmp_path / "last.ckpt").eval()
    x = dna(2, 200)
    with torch.no_grad():
        assert torch.equal(model(x), trained(x))


@pytest.mark.parametrize(
    "attr, name, kwargs",
    [
        ("generator", "image_decoder", {"ngf": 8, "n_layers": 3}),
        ("discriminator", "image_discriminator", {"ndf": 8, "image_size": 16}),
    ],
)
def test_lightning_gan_checkpoint_picks_the_part_that_fits(tmp_path, attr, name, kwargs):
    generator = randomize(zoo.create_model("image_decoder", ngf=8, n_layers=3))
    discriminator = randomize(zoo.create_model("image_discriminator", ndf=8, image_size=16))
    state = {f"generator.{k}": v for k, v in generator.state_dict().items()}
    state |= {f"discriminator.{k}": v for k, v in discriminator.state_dict().items()}
    torch.save(lightning_checkpoint(state), tmp_path / "gan.ckpt")
    model = zoo.create_model(name, weights=tmp_path / "gan.ckpt", **kwargs).eval()
    expected = generator if attr == "generator" else discriminator
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected.state_dict()[key]), key


def test_lightning_vae_checkpoint_loads_the_decoder(tmp_path):
    decoder = randomize(zoo.create_model("image_decoder", ngf=8, n_layers=2, in_size=16, head="sigmoid"))
    encoder = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.Flatten(), nn.Linear(8 * 4 * 4, 32))
    state = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    state |= {f"decoder.{k}": v for k, v in decoder.state_dict().items()}
    torch.save(lightning_checkpoint(state), tmp_path / "vae.ckpt")
    model = zoo.create_model(
        "image_decoder", ngf=8, n_layers=2, in_size=16, head="sigmoid", weights=tmp_path / "vae.ckpt"
    )
    z = torch.randn(2, 16)
    with torch.no_grad():
        assert torch.equal(model.eval()(z), decoder(z))


@pytest.mark.parametrize("wrap", ["compile", "ddp", "ddp+compile"])
def test_compile_and_ddp_prefixes(tmp_path, wrap):
    trained = randomize(zoo.create_model("basset", seq_len=300))
    wrapped: nn.Module = trained
    if "compile" in wrap:
        wrapped = torch.compile(wrapped)  # state_dict keys gain `_orig_mod.`
    if "ddp" in wrap:
        wrapped = nn.DataParallel(wrapped)  # the same `module.` prefix as DistributedDataParallel
    assert next(iter(wrapped.state_dict())).startswith("module." if "ddp" in wrap else "_orig_mod.")
    torch.save(wrapped.state_dict(), tmp_path / "w.pt")
    model = zoo.create_model("basset", seq_len=300, weights=tmp_path / "w.pt").eval()
    x = dna(2, 300)
    with torch.no_grad():
        assert torch.equal(model(x), trained(x))
    assert type(model) is zoo.Basset  # no compile or DataParallel wrapper left


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".safetensors"])
def test_plain_state_dict_files(tmp_path, suffix):
    trained = randomize(zoo.create_model("danq", seq_len=100, n_targets=12, hidden=16))
    path = tmp_path / f"weights{suffix}"
    state = trained.state_dict()
    if suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, path)  # plain: no zoo metadata
    else:
        torch.save(state, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the zoo's own keys load without any warning
        model = zoo.create_model("danq", seq_len=100, n_targets=12, hidden=16, weights=path).eval()
    x = dna(2, 100)
    with torch.no_grad():
        assert torch.equal(model(x), trained(x))


def test_a_real_lightning_checkpoint_loads(tmp_path):
    """A .ckpt written by Lightning's Trainer (plain hyper_parameters) under the task's `model.`."""
    lightning = pytest.importorskip("lightning")

    class Task(lightning.LightningModule):
        def __init__(self, model: nn.Module, lr: float = 1e-2) -> None:
            super().__init__()
            self.save_hyperparameters(ignore=["model"])
            self.model = model

        def training_step(self, batch, batch_idx):
            x, y = batch
            return nn.functional.binary_cross_entropy_with_logits(self.model.logits(x), y)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    task = Task(zoo.create_model("binary_classifier", in_features=4, hidden=(3,)))
    data = torch.utils.data.TensorDataset(torch.randn(8, 4), torch.rand(8, 1))
    trainer = lightning.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, accelerator="cpu",
    )  # fmt: skip
    trainer.fit(task, torch.utils.data.DataLoader(data, batch_size=4))
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    model = zoo.create_model("binary_classifier", in_features=4, hidden=(3,), weights=tmp_path / "last.ckpt")
    x = torch.randn(5, 4)
    with torch.no_grad():
        assert torch.equal(model(x), task.model(x))
