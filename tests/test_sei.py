"""Sei: the spline basis against scipy, the published checkpoint layout, sequence classes."""

import warnings

import numpy as np
import pytest
import torch
from conftest import random_init_forbidden
from scipy.interpolate import splev
from torch import nn

import zoo
import zoo.weights
from zoo.inference import prepare_logits
from zoo.models.sei import (
    SEI_KEYS,
    Sei,
    sei_args_from_state,
    sei_sequence_class_names,
    sei_sequence_classes,
    sei_spline_basis,
)

# 64 positions at the spline: wide enough that every dilated convolution (up to 25 x 2) reads
# positions besides its centre
SMALL = {"seq_len": 1024, "n_targets": 10, "conv_channels": (8, 12, 16)}


def scipy_basis(n: int, df: int = 16) -> np.ndarray:
    """The basis exactly as the reference describes it, evaluated by scipy."""
    x = np.arange(n)
    inner = np.percentile(x, 100 * np.linspace(0, 1, df - 4 + 2)[1:-1])
    knots = np.sort(np.concatenate(([x.min(), x.max()] * 4, inner)))
    return np.stack([splev(x, (knots, np.eye(df)[i], 3)) for i in range(df)], axis=1)


@pytest.mark.parametrize(("n", "df"), [(256, 16), (16, 16), (2, 16), (37, 7), (64, 4)])
def test_spline_basis_is_scipys(n, df):
    ours = sei_spline_basis(n, df)
    assert ours.shape == (n, df)
    np.testing.assert_allclose(ours, scipy_basis(n, df), rtol=0, atol=1e-12)


def test_the_basis_is_a_buffer_outside_the_state_dict():
    model = Sei(**SMALL)
    assert set(model.state_dict()) == SEI_KEYS  # the published key set, nothing more
    basis = dict(model.named_buffers())["spline_tr.1.basis"]
    assert basis.shape == (64, 16) and basis.dtype == torch.float32
    np.testing.assert_allclose(basis.numpy(), scipy_basis(64), atol=1e-7)
    assert model.to(torch.float64).spline_tr[1].basis.dtype == torch.float64


# --- the original, rebuilt from the published description --------------------------------


class OriginalSplineTr(nn.Module):
    """The original's parameter-free spline: its basis built lazily from the input, with scipy."""

    def __init__(self, df: int) -> None:
        super().__init__()
        self.df, self.basis = df, None

    def forward(self, x):
        if self.basis is None:
            self.basis = torch.from_numpy(scipy_basis(x.shape[-1], self.df)).float()
        return torch.matmul(x, self.basis)


class OriginalSei(nn.Module):
    """Sei as published (model/sei.py), with its widths as parameters so a test can run it."""

    def __init__(self, n_targets, c=(480, 640, 960), df=16):
        super().__init__()
        c1, c2, c3 = c

        def conv(i, o):
            return nn.Conv1d(i, o, kernel_size=9, padding=4)

        self.c3, self.df = c3, df
        self.lconv1 = nn.Sequential(conv(4, c1), conv(c1, c1))
        self.conv1 = nn.Sequential(conv(c1, c1), nn.ReLU(inplace=True), conv(c1, c1), nn.ReLU(inplace=True))
        self.lconv2 = nn.Sequential(nn.MaxPool1d(4, 4), nn.Dropout(0.2), conv(c1, c2), conv(c2, c2))
        self.conv2 = nn.Sequential(
            nn.Dropout(0.2), conv(c2, c2), nn.ReLU(inplace=True), conv(c2, c2), nn.ReLU(inplace=True)
        )
        self.lconv3 = nn.Sequential(nn.MaxPool1d(4, 4), nn.Dropout(0.2), conv(c2, c3), conv(c3, c3))
        self.conv3 = nn.Sequential(
            nn.Dropout(0.2), conv(c3, c3), nn.ReLU(inplace=True), conv(c3, c3), nn.ReLU(inplace=True)
        )
        for i, d in enumerate((2, 4, 8, 16, 25), start=1):
            block = nn.Sequential(
                nn.Dropout(0.1), nn.Conv1d(c3, c3, 5, dilation=d, padding=2 * d), nn.ReLU(inplace=True)
            )
            setattr(self, f"dconv{i}", block)
        self.spline_tr = nn.Sequential(nn.Dropout(0.5), OriginalSplineTr(df))
        self.classifier = nn.Sequential(
            nn.Linear(c3 * df, n_targets),
            nn.ReLU(inplace=True),
            nn.Linear(n_targets, n_targets),
            nn.Sigmoid(),
        )

    def forward(self, x):
        lout1 = self.lconv1(x)
        out1 = self.conv1(lout1)
        lout2 = self.lconv2(out1 + lout1)
        out2 = self.conv2(lout2)
        lout3 = self.lconv3(out2 + lout2)
        out3 = self.conv3(lout3)
        cat1 = out3 + self.dconv1(out3 + lout3)
        cat2 = cat1 + self.dconv2(cat1)
        cat3 = cat2 + self.dconv3(cat2)
        cat4 = cat3 + self.dconv4(cat3)
        out = cat4 + self.dconv5(cat4)
        spline_out = self.spline_tr(out)
        return self.classifier(spline_out.view(spline_out.size(0), self.c3 * self.df))


class NonStrandSpecific(nn.Module):
    """Selene's wrapper, mode "mean": the mean of the forward and reverse-complement outputs."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return (self.model(x) + self.model(torch.flip(x, [1, 2]))) / 2


def _randomise(model: nn.Module) -> nn.Module:
    """Unit-variance weights and random biases: outputs that vary with the input without
    saturating (the default init leaves them near the biases' sigmoid)."""
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, (nn.Conv1d, nn.Linear)):
                bound = (3 / layer.weight[0].numel()) ** 0.5
                layer.weight.uniform_(-bound, bound)
                layer.bias.uniform_(-0.1, 0.1)
    return model.eval()


def _selene_file(tmp_path, wrap: str = "nonstrandspecific"):
    """A Selene checkpoint of a small original Sei, saved as Selene saves it: the state_dict of
    NonStrandSpecific(Sei) (under DataParallel: module.model.*) in a checkpoint dict."""
    original = _randomise(NonStrandSpecific(OriginalSei(10, c=(8, 12, 16))))
    saved = nn.DataParallel(original) if wrap == "dataparallel" else original
    state = saved.state_dict()
    path = tmp_path / "sei.pth.tar"
    torch.save(state if wrap == "bare_state_dict" else {"step": 7, "arch": "Sei", "state_dict": state}, path)
    return original, path


def _dna(n: int, seq_len: int) -> torch.Tensor:
    return zoo.one_hot(["".join(np.random.default_rng(i).choice(list("ACGTN"), seq_len)) for i in range(n)])


@pytest.mark.parametrize("wrap", ["nonstrandspecific", "dataparallel", "bare_state_dict"])
def test_a_selene_checkpoint_reproduces_the_original(tmp_path, wrap):
    original, path = _selene_file(tmp_path, wrap)
    prefix = "module.model." if wrap == "dataparallel" else "model."
    saved = torch.load(path, weights_only=True)
    assert all(k.startswith(prefix) for k in saved.get("state_dict", saved))
    assert zoo.weights.check_weights(Sei(**SMALL, rc_average=True), path).layout == "selene-sei"

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rc_average=True is what the wrapper implies: no warning
        model = zoo.create_model("sei", **SMALL, rc_average=True, weights=path).eval()
    x = _dna(3, SMALL["seq_len"])
    with torch.no_grad():
        expected, got = original(x), model(x)
    assert got.shape == (3, 10) and expected.std(0).max() > 0.01  # outputs that tell inputs apart
    assert ((expected > 1e-3) & (expected < 1 - 1e-3)).all()  # and are not saturated
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_the_wrapper_implies_both_strands(tmp_path):
    _, path = _selene_file(tmp_path)
    with pytest.warns(zoo.weights.LayoutWarning, match=r"original model ran with rc_average=True"):
        zoo.create_model("sei", **SMALL, weights=path)
    saved = torch.load(path, weights_only=True)["state_dict"]
    state = {k.removeprefix("model."): v for k, v in saved.items()}
    assert sei_args_from_state(state, {}) == {"n_targets": 10, "conv_channels": (8, 12, 16), "spline_df": 16}


def test_zoo_convert_reads_the_selene_checkpoint(tmp_path):
    original, path = _selene_file(tmp_path)
    from zoo.weights.convert import convert

    convert(path, tmp_path / "sei.safetensors")
    model = zoo.load_model(tmp_path / "sei.safetensors")
    assert model.rc_average and model.conv_channels == (8, 12, 16) and model.n_targets == 10
    # the spline fits any length, so seq_len is not in the file: the paper's is assumed
    assert model.seq_len == 4096
    x = _dna(2, 4096)
    with torch.no_grad():
        torch.testing.assert_close(model(x), original(x), rtol=0, atol=1e-5)


def test_a_zoo_train_checkpoint_of_sei_is_no_selene_file(tmp_path):
    """A Lightning checkpoint of a zoo Sei has the same keys under the task's model. as a Selene
    file under NonStrandSpecific's; its record says it is the zoo's own, implying nothing."""
    from zoo.tasks import ClassificationTask

    task = ClassificationTask(Sei(**SMALL))
    path = tmp_path / "run.ckpt"
    torch.save(
        {"state_dict": task.state_dict(), "hyper_parameters": dict(task.hparams)},
        path,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = zoo.weights.check_weights(Sei(**SMALL), path)
        zoo.load_weights(Sei(**SMALL), path)
    assert report.layout == "zoo" and report.prefix == "model."


def test_a_file_with_the_wrong_kernel_is_refused_naming_the_key(tmp_path):
    state = {f"model.{k}": v for k, v in Sei(**SMALL).state_dict().items()}
    state["model.dconv3.1.weight"] = torch.zeros(16, 16, 9)
    torch.save(state, tmp_path / "odd.pth")
    expected = r"dconv3.1.weight: shape in file \[16, 16, 9\], in model \[16, 16, 5\]"
    with pytest.raises(zoo.weights.WeightsMismatchError, match=expected):
        zoo.create_model("sei", **SMALL, weights=tmp_path / "odd.pth")


def test_rc_average_is_the_mean_of_both_strand_probabilities():
    plain = _randomise(Sei(**SMALL))
    averaged = Sei(**SMALL, rc_average=True).eval()
    averaged.load_state_dict(plain.state_dict())
    x = torch.rand(2, 4, SMALL["seq_len"])
    with torch.no_grad():
        torch.testing.assert_close(averaged(x), (plain(x) + plain(x.flip(1, 2))) / 2, rtol=1e-5, atol=1e-6)


def _published_parameter_count(c=(480, 640, 960), n=21907, df=16) -> int:
    """Parameters of the layer list in the description, counted layer by layer."""
    c1, c2, c3 = c
    convs = [(4, c1), (c1, c1), (c1, c1), (c1, c1), (c1, c2), (c2, c2), (c2, c2), (c2, c2)]
    convs += [(c2, c3), (c3, c3), (c3, c3), (c3, c3)]
    count = sum(i * o * 9 + o for i, o in convs) + 5 * (c3 * c3 * 5 + c3)
    return count + (c3 * df * n + n) + (n * n + n)


def test_paper_size_on_the_meta_device():
    with torch.device("meta"):
        model = zoo.create_model("sei")
    count = sum(p.numel() for p in model.parameters())
    assert count == _published_parameter_count() and 885e6 < count < 895e6
    assert model.classifier[0].in_features == 960 * 16 and model.spline_tr[1].basis.shape == (256, 16)


@pytest.mark.parametrize(("seq_len", "positions"), [(32, 2), (1024, 64), (4096, 256), (4112, 257)])
def test_the_spline_follows_seq_len(seq_len, positions):
    with torch.device("meta"):
        model = Sei(seq_len=seq_len, n_targets=3, conv_channels=(4, 4, 8))
    assert model.spline_tr[1].basis.shape == (positions, 16)


@pytest.mark.parametrize("seq_len", [16, 100, 4100])
def test_other_lengths_are_refused(seq_len):
    with pytest.raises(ValueError, match=f"Sei: seq_len={seq_len} must be a multiple of 16"):
        Sei(seq_len=seq_len)


def test_a_spline_below_cubic_is_refused():
    with pytest.raises(ValueError, match="spline_df=3 must be at least 4"):
        Sei(spline_df=3)


def test_load_model_skips_random_init_and_recomputes_the_basis(tmp_path, monkeypatch):
    model = _randomise(Sei(**SMALL, rc_average=True))
    path = zoo.save_weights(model, tmp_path / "sei.safetensors")
    with random_init_forbidden(monkeypatch):
        loaded = zoo.load_model(path)
    basis = loaded.spline_tr[1].basis
    assert basis.device.type == "cpu" and torch.equal(basis, model.spline_tr[1].basis)
    x = torch.rand(2, 4, SMALL["seq_len"])
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_prepare_logits_runs_a_small_sei():
    """Sei takes the plain path (its padded, dilated, residual convolutions are not the fast
    path's valid Conv1d stack); bf16 runs on a bfloat16 copy of the weights."""
    model = _randomise(Sei(**SMALL, rc_average=True))
    x = torch.rand(5, 4, SMALL["seq_len"])
    with torch.no_grad():
        expected = model.logits(x)
    torch.testing.assert_close(prepare_logits(model, "fp32")(x), expected, rtol=1e-5, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to fp32: bf16 itself is close
        bf16 = prepare_logits(model, "bf16")(x)
    assert bf16.dtype == torch.float32 and model.classifier[0].weight.dtype == torch.float32
    torch.testing.assert_close(torch.sigmoid(bf16), torch.sigmoid(expected), rtol=0, atol=2e-2)


# --- sequence classes ---------------------------------------------------------------------


def test_sequence_classes_project_onto_the_centroids(tmp_path):
    rng = np.random.default_rng(0)
    predictions = rng.random((3, 50))
    centroids = rng.normal(size=(45, 50))  # more centroids than named classes, as in the framework
    expected = np.empty((3, 40))
    for row in range(3):
        for k in range(40):
            expected[row, k] = sum(predictions[row, t] * centroids[k, t] for t in range(50)) / np.sqrt(
                sum(v * v for v in centroids[k])
            )
    np.testing.assert_allclose(sei_sequence_classes(predictions, centroids), expected, rtol=1e-12)
    np.testing.assert_allclose(
        sei_sequence_classes(torch.tensor(predictions), centroids.T), expected, rtol=1e-12
    )
    np.save(tmp_path / "projvec_targets.npy", centroids)
    np.testing.assert_allclose(sei_sequence_classes(predictions, tmp_path / "projvec_targets.npy"), expected)
    names = sei_sequence_class_names()
    assert len(names) == 40 and names[0].startswith("PC1")


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((45, 49), r"expected shape \(K, 50\) or \(50, K\)"),
        ((50, 50), r"square"),
        ((30, 50), r"30 centroids, expected at least 40"),
    ],
)
def test_sequence_classes_refuse_a_projection_that_does_not_fit(shape, message):
    with pytest.raises(ValueError, match=message):
        sei_sequence_classes(np.zeros((2, 50)), np.ones(shape))
