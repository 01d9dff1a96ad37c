"""Wrong input and wrong arguments give clear errors, never one from deep inside torch."""

import re

import pytest
import torch

import zoo


def test_unknown_model_lists_known_names_and_closest_match():
    with pytest.raises(ValueError) as err:
        zoo.create_model("deepsee")
    msg = str(err.value)
    assert "Did you mean 'deepsea'?" in msg
    for name in zoo.list_models():
        assert name in msg


def test_unknown_override_names_the_accepted_arguments():
    with pytest.raises(TypeError) as err:
        zoo.create_model("deepsea", seqlen=500)
    msg = str(err.value)
    assert "unknown argument 'seqlen'" in msg and "Did you mean 'seq_len'?" in msg
    assert "seq_len: int = 1000" in msg and "n_targets: int = 919" in msg


@pytest.mark.parametrize(
    "override", [{"seq_len": "1000"}, {"seq_len": 1000.0}, {"rc_average": 1}, {"head": "relu"}]
)
def test_ill_typed_override_is_refused(override):
    (key,) = override
    with pytest.raises(TypeError, match=f"argument '{key}' expects"):
        zoo.create_model("deepsea", **override)


@pytest.mark.parametrize(
    ("name", "override"),
    [
        ("binary_classifier", {"in_features": -1}),
        ("binary_classifier", {"in_features": 0}),
        ("binary_classifier", {"in_features": 3, "hidden": [4, 0]}),
        ("deepsea", {"n_targets": 0}),
        ("deepsea", {"conv_channels": [8, -8, 8]}),
    ],
)
def test_sizes_must_be_positive(name, override):
    assert zoo.create_model("deepsea", seq_len=200, dropouts=(0.2, 0, 0.0)).dropouts == (
        0.2,
        0,
        0.0,
    )  # not sizes
    key, value = list(override.items())[-1]
    with pytest.raises(
        ValueError, match=rf"{name}: argument '{key}' must be positive, got {re.escape(repr(value))}"
    ):
        zoo.create_model(name, **override)


def test_missing_argument_without_paper_default_is_named():
    with pytest.raises(TypeError, match="missing required argument.*'in_features'"):
        zoo.create_model("binary_classifier")
    assert zoo.create_model("binary_classifier", in_features=3, hidden=[4]).hidden == (4,)


DNA_CASES = [
    (torch.rand(2, 4, 1, 1000), r"Kipoi 4-D layout; drop axis 2 first \(x.squeeze\(2\)\)"),
    (torch.rand(2, 4, 1000, 1), r"drop axis 3"),
    (torch.rand(4, 1000), r"add a batch axis"),
    (torch.rand(2, 1000, 4), r"expects 4 channels .* got \(2, 1000, 4\) \(channels last"),
    (torch.rand(2, 5, 1000), r"expects 4 channels \(A, C, G, T\) in shape \(N, 4, 1000\)"),
    (torch.rand(2, 4, 999), r"built for sequences of 1000 bp.*got \(2, 4, 999\)"),
    (torch.rand(2, 4, 10, 10, 1), r"shape \(N, 4, 1000\), got \(2, 4, 10, 10, 1\)"),
    (torch.zeros(2, 4, 1000, dtype=torch.long), r"floating-point tensor.*torch.int64"),
    ([[0.0] * 1000] * 4, r"expects a tensor .* got list"),
]


@pytest.mark.parametrize("x,pattern", DNA_CASES, ids=[str(i) for i in range(len(DNA_CASES))])
def test_wrong_dna_input(x, pattern):
    model = zoo.DeepSEA(n_targets=3, conv_channels=(4, 4, 4), hidden=4)
    with pytest.raises(ValueError, match=pattern):
        model(x)


def test_wrong_image_inputs():
    dec = zoo.ImageDecoder(in_size=10, n_channels=1, ngf=4, n_layers=2)
    with pytest.raises(ValueError, match=r"ImageDecoder expects input of shape \(N, in_size=10\)"):
        dec(torch.randn(2, 9))
    with pytest.raises(ValueError, match=r"\(N, in_size=10, 1=1, 1=1\), got \(2, 10, 2, 2\)"):
        dec(torch.randn(2, 10, 2, 2))
    disc = zoo.ImageDiscriminator(n_channels=1, ndf=4, image_size=8)
    with pytest.raises(ValueError, match=r"\(N, C=1, H=8, W=8\), got \(2, 3, 8, 8\)"):
        disc(torch.rand(2, 3, 8, 8))
    clf = zoo.BinaryClassifier(in_features=5)
    with pytest.raises(ValueError, match=r"\(N, in_features=5\), got \(5,\)"):
        clf(torch.rand(5))


def test_decoder_needs_two_layers():
    with pytest.raises(ValueError, match="n_layers=1, expected >= 2"):
        zoo.ImageDecoder(n_layers=1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.5, 1.5])
def test_dropouts_must_be_probabilities(bad):
    with pytest.raises(
        ValueError, match=r"deepsea: argument 'dropouts' must be|dropouts=.*each must be in \[0, 1\]"
    ):
        zoo.create_model("deepsea", seq_len=200, dropouts=(bad, 0.1, 0.1))
    with pytest.raises(ValueError, match=r"DeepSEA: dropouts=.*each must be in \[0, 1\]"):
        zoo.DeepSEA(seq_len=200, dropouts=(0.1, 0.1, bad))


def test_non_finite_float_arguments_are_refused_by_the_registry():
    with pytest.raises(
        ValueError, match=r"deepsea: argument 'dropouts' must be finite, got \(nan, 0.1, 0.1\)"
    ):
        zoo.create_model("deepsea", seq_len=200, dropouts=(float("nan"), 0.1, 0.1))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_input_of_another_float_dtype_names_the_expected_dtype(dtype):
    models = {
        "DeepSEA": (zoo.DeepSEA(seq_len=200, n_targets=3, conv_channels=(4, 4, 4), hidden=4),
                    zoo.one_hot(["ACGT" * 50])),
        "BinaryClassifier": (zoo.BinaryClassifier(in_features=5), torch.rand(2, 5)),
        "ImageDecoder": (zoo.ImageDecoder(in_size=10, n_channels=1, ngf=4, n_layers=2), torch.randn(2, 10)),
        "ImageDiscriminator": (zoo.ImageDiscriminator(n_channels=1, ndf=4, image_size=8),
                               torch.rand(2, 1, 8, 8)),
        "MLPDecoder": (zoo.create_model("mlp_decoder", in_size=6, hidden=(8,), image_shape=(1, 4, 4)),
                       torch.randn(2, 6)),
        "MLPVAE": (zoo.create_model("mlp_vae", image_shape=(1, 4, 4), hidden=8, latent_size=3),
                   torch.rand(2, 1, 4, 4)),
    }  # fmt: skip
    for name, (model, x) in models.items():
        expected_message = (
            rf"{name} expects torch.float32 input \(the dtype of its weights\), got {dtype}; "
            r"convert it with x.to\(torch.float32\)"
        )
        with pytest.raises(ValueError, match=expected_message):
            model.eval()(x.to(dtype))
        with torch.no_grad():
            expected = model(x)
            assert model.to(dtype)(x.to(dtype)).dtype == dtype  # the dtype of the weights: runs
        model.float()
        with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
            if dtype == torch.float64:  # which autocast does not cast
                with pytest.raises(ValueError, match=f"{name} expects torch.float32 input"):
                    model(x.to(dtype))
            else:
                assert model(x.to(dtype)).shape == expected.shape  # autocast casts for itself


def test_the_dtype_check_works_on_the_meta_device():
    with torch.device("meta"):
        model = zoo.BinaryClassifier(in_features=5)
        assert model(torch.empty(2, 5)).shape == (2, 1)
        with pytest.raises(ValueError, match="expects torch.float32 input"):
            model(torch.empty(2, 5, dtype=torch.float16))
