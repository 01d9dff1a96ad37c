"""Forward, backward and consistency checks over every registered model."""

import pytest
import torch
from torch.nn import functional as F

import zoo
from zoo.summary import DEMO_OVERRIDES, example_input

MODELS = zoo.list_models()


def build(name: str, **kw):
    return zoo.create_model(name, **{**DEMO_OVERRIDES.get(name, {}), **kw})


def test_registry_has_the_promised_models():
    assert set(MODELS) >= {
        "basset", "beluga", "binary_classifier", "danq", "deepsea",
        "image_decoder", "image_discriminator",
    }  # fmt: skip
    assert MODELS == sorted(MODELS)


EXPECTED_OUTPUT = {
    "basset": (164,),
    "beluga": (2002,),
    "binary_classifier": (1,),
    "danq": (919,),
    "deepsea": (919,),
    "image_decoder": (3, 64, 64),
    "image_discriminator": (),
    "mlp_decoder": (1, 28, 28),
    "mlp_vae": (1, 28, 28),
    "sei": (32,),  # DEMO_OVERRIDES' n_targets
}


@pytest.mark.parametrize("name", MODELS)
def test_forward_backward(name):
    model = build(name).train()
    x = example_input(model, batch=3)
    logits = model.logits(x)
    assert logits.shape == (3, *EXPECTED_OUTPUT[name])
    assert torch.isfinite(logits).all()
    logits.float().pow(2).mean().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}.{pname} received no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}.{pname} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"{name}.{pname} received an all-zero gradient"


@pytest.mark.parametrize("name", MODELS)
def test_head_of_logits_is_forward_and_batch_independent(name):
    model = build(name).eval()
    x = example_input(model, batch=4)
    with torch.no_grad():
        probs = model(x)
        assert torch.equal(model.head(model.logits(x)), probs)
        alone = model(x[2:3])
    torch.testing.assert_close(alone, probs[2:3], rtol=1e-5, atol=1e-6)
    if not isinstance(model.head, torch.nn.Tanh):  # the GAN generators' default head is tanh
        assert ((probs >= 0) & (probs <= 1)).all()


def test_danq_batch_mates_do_not_change_a_sample():
    """Selene's DanQ recurs across the batch; ours runs the LSTM along each sequence."""
    model = build("danq").eval()
    x = example_input(model, batch=3)
    other = torch.cat([x[:1], example_input(model, batch=2)])
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], model(other)[0], rtol=1e-5, atol=1e-6)


HEAD_REFERENCES = {
    "sigmoid": lambda z: 1 / (1 + torch.exp(-z)),
    "logsigmoid": lambda z: -F.softplus(-z),
    "hardsigmoid": lambda z: torch.clamp(z / 6 + 0.5, 0, 1),
    "tanh": lambda z: (torch.exp(z) - torch.exp(-z)) / (torch.exp(z) + torch.exp(-z)),
    "identity": lambda z: z,
}


@pytest.mark.parametrize("head", sorted(HEAD_REFERENCES))
@pytest.mark.parametrize("name", ["binary_classifier", "image_decoder", "deepsea"])
def test_every_head(name, head):
    model = build(name, head=head).eval()
    x = example_input(model)
    with torch.no_grad():
        z = model.logits(x)
        out = model(x)
    torch.testing.assert_close(out, HEAD_REFERENCES[head](z), rtol=1e-5, atol=1e-6)
    assert torch.equal(out, model.head(z))


def test_unknown_head_is_refused():
    with pytest.raises(TypeError, match="head"):
        zoo.create_model("deepsea", head="softmax")
    with pytest.raises(ValueError, match="head='softmax' is not one of"):
        zoo.DeepSEA(head="softmax")


@pytest.mark.parametrize("name", ["deepsea", "beluga", "basset", "danq"])
def test_rc_average_is_the_mean_of_both_strand_probabilities(name):
    plain = build(name, rc_average=False).eval()
    averaged = build(name, rc_average=True).eval()
    averaged.load_state_dict(plain.state_dict())
    x = example_input(plain, batch=2)
    with torch.no_grad():
        expected = (plain(x) + plain(x.flip(1, 2))) / 2
        got = averaged(x)
        assert torch.equal(averaged.head(averaged.logits(x)), got)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n_layers", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("ngf", [4, 16])
def test_image_decoder_shapes(n_layers, ngf):
    model = zoo.ImageDecoder(in_size=10, n_channels=1, ngf=ngf, n_layers=n_layers, head="sigmoid")
    side = 2 ** (n_layers + 1)
    assert model(torch.randn(2, 10)).shape == (2, 1, side, side)
    assert model(torch.randn(2, 10, 1, 1)).shape == (2, 1, side, side)
    assert model.image_size == side


def test_image_decoder_is_the_dcgan_generator_layout():
    keys = [k for k in zoo.create_model("image_decoder").state_dict() if k.endswith("weight")]
    assert keys[0] == "main.0.weight" and keys[-1] == "main.12.weight"


@pytest.mark.parametrize("size", [8, 16, 32, 64, 128])
def test_image_discriminator_sizes(size):
    model = zoo.ImageDiscriminator(n_channels=2, ndf=4, image_size=size)
    assert model(torch.rand(3, 2, size, size)).shape == (3,)


@pytest.mark.parametrize("size", [4, 48, 100])
def test_image_discriminator_refuses_other_sizes(size):
    with pytest.raises(ValueError, match="power of two >= 8"):
        zoo.ImageDiscriminator(image_size=size)


@pytest.mark.parametrize("seq_len,positions", [(500, 22), (1000, 53), (2000, 115)])
def test_deepsea_flattened_size_follows_seq_len(seq_len, positions):
    model = zoo.DeepSEA(seq_len=seq_len, n_targets=5, conv_channels=(8, 8, 16), hidden=7)
    assert model.classifier[1].in_features == 16 * positions
    assert model(torch.rand(2, 4, seq_len)).shape == (2, 5)


def test_full_deepsea_matches_the_kipoi_flattened_size():
    assert zoo.DeepSEA().classifier[1].weight.shape == (925, 50880)
    assert zoo.Beluga().classifier[2].weight.shape == (2003, 67840)
    assert zoo.Basset().classifier[1].weight.shape == (1000, 2000)
    assert zoo.DanQ().classifier[1].weight.shape == (925, 48000)


def test_too_short_sequence_is_refused():
    with pytest.raises(ValueError, match=r"seq_len=50 is too short; it needs seq_len >= \d+"):
        zoo.DeepSEA(seq_len=50)


def test_binary_classifier_hidden_layers():
    model = zoo.BinaryClassifier(in_features=6, n_outputs=2, hidden=(5, 4))
    widths = [m.out_features for m in model.net if isinstance(m, torch.nn.Linear)]
    assert widths == [5, 4, 2]
    assert model(torch.randn(3, 6)).shape == (3, 2)
