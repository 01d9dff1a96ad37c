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


def test_a_kernel_longer_than_any_searched_sequence_is_refused_with_the_length_it_needs():
    # the shortest fitting length was searched up to 100 kb only: a bare StopIteration beyond
    with pytest.raises(
        ValueError, match=r"^DeepSEA: seq_len=1000 is too short; it needs seq_len >= 4199995$"
    ):
        zoo.create_model("deepsea", kernel_size=200_000)


def test_binary_classifier_hidden_layers():
    model = zoo.BinaryClassifier(in_features=6, n_outputs=2, hidden=(5, 4))
    widths = [m.out_features for m in model.net if isinstance(m, torch.nn.Linear)]
    assert widths == [5, 4, 2]
    assert model(torch.randn(3, 6)).shape == (3, 2)


# --- the registry entry is the one description of a model ----------------------------------


def test_the_input_description_follows_from_the_paper_defaults():
    from zoo.models import get_spec

    assert get_spec("deepsea").input_desc == "(N, 4, 1000) one-hot ACGT"
    assert get_spec("sei").input_shape({"seq_len": 256}) == (4, 256)
    assert get_spec("image_decoder").input_desc == "(N, 100) latent"
    assert get_spec("image_discriminator").input_desc == "(N, 3, 64, 64) image"
    assert get_spec("mlp_vae").input_desc == "(N, 1, 28, 28) image"
    assert get_spec("binary_classifier").input_desc == "(N, in_features)"  # no default to show


@pytest.mark.parametrize("name", MODELS)
def test_every_model_reads_the_shape_its_spec_gives(name):
    from zoo.models import get_spec

    model = build(name).eval()
    shape = get_spec(name).input_shape(model.config)
    with torch.no_grad():
        model(torch.rand(2, *shape))


def test_a_model_registered_in_a_test_is_described_looked_up_and_removed():
    from zoo.models import (
        Conventions,
        DeepSEA,
        Inputs,
        PublishedFile,
        get_spec,
        list_models,
        register_model,
        unregister_model,
    )
    from zoo.predict.running.loading import default_n_value
    from zoo.pretrained import get_pretrained, list_pretrained

    class ShortDeepSEA(DeepSEA):
        """Another class, so the registry tells it from DeepSEA."""

    layout = get_spec("deepsea").layouts[0]
    file = PublishedFile(
        name="short_deepsea.test",
        args={"seq_len": 500},
        layout=layout.name,
        url="https://example.org/short.pth",
        md5=None,
        license="MIT",
        source="test",
        description="a stand-in",
    )
    spec = register_model(
        "short_deepsea",
        ShortDeepSEA,
        defaults={"seq_len": 500},
        paper="A. Author 2024, J.",
        doi="10.0/test",
        inputs=Inputs("dna", (4, "seq_len")),
        conventions=Conventions(alphabet="ACGT", n_value=0.1, targets="deepsea_919"),
        layouts=(layout,),
        published=(file,),
    )
    try:
        assert spec is get_spec("short_deepsea") and "short_deepsea" in list_models()
        assert spec.input_desc == "(N, 4, 500) one-hot ACGT"
        registered = get_pretrained("short_deepsea")
        assert "short_deepsea.test" in list_pretrained() and registered is spec.published[0]
        # the model's conventions and paper fill what the record leaves out
        assert registered.model == "short_deepsea" and registered.n_value == 0.1
        assert registered.targets == "deepsea_919" and registered.paper == "A. Author 2024, J., doi:10.0/test"
        with torch.device("meta"):
            assert default_n_value(zoo.create_model("short_deepsea")) == 0.1  # zoo-predict's default
    finally:
        unregister_model("short_deepsea")
    assert "short_deepsea" not in list_models() and "short_deepsea.test" not in list_pretrained()


def test_a_published_file_is_refused_unless_it_fits_its_model():
    import dataclasses

    from zoo.models import register_published, unregister_published
    from zoo.pretrained import get_pretrained, list_pretrained

    known = get_pretrained("deepsea.kipoi_predict")
    with pytest.raises(ValueError, match="already registered"):
        register_published(known)
    with pytest.raises(ValueError, match="deepsea has no layout 'expecto-beluga'"):
        register_published(dataclasses.replace(known, name="deepsea.other", layout="expecto-beluga"))
    with pytest.raises(ValueError, match="unknown model"):
        register_published(dataclasses.replace(known, name="nothing.other", model="nothing"))
    with pytest.raises(ValueError, match="no published file named"):
        unregister_published("deepsea.other")
    assert "deepsea.other" not in list_pretrained()


# --- explicit construction -------------------------------------------------------------------


def test_constructors_assign_what_they_keep_without_hidden_hooks():
    from zoo.heads import HeadedModel

    assert "__setattr__" not in vars(HeadedModel) and "__init_subclass__" not in vars(HeadedModel)
    model = zoo.create_model("deepsea", seq_len=200, hidden=8, head="tanh")
    assert model.config == {**zoo.models.default_args("deepsea"), "seq_len": 200, "hidden": 8, "head": "tanh"}
    model.rc_average = True  # an attribute the constructor assigned: config reads it back
    assert model.config["rc_average"] is True
    classifier = zoo.BinaryClassifier(5, hidden=[4, 3])  # built directly, as YAML hands a list
    assert classifier.config["hidden"] == (4, 3)  # lists kept as the tuples the constructor takes


def test_n_targets_of_is_one_function():
    import zoo.interpret.attribution
    import zoo.predict

    assert zoo.predict.n_targets_of is zoo.models.n_targets_of is zoo.interpret.attribution.n_targets_of
    assert zoo.models.n_targets_of(build("basset")) == 164


def test_a_model_whose_published_file_is_refused_is_not_registered():
    import dataclasses

    from zoo.models import DeepSEA, get_spec, list_models, register_model
    from zoo.pretrained import get_pretrained

    class OtherDeepSEA(DeepSEA):
        """Another class, so the registry tells it from DeepSEA."""

    wrong = dataclasses.replace(get_pretrained("deepsea.kipoi_predict"), name="other.x", model="")
    with pytest.raises(ValueError, match="other_deepsea has no layout 'kipoi-deepsea-predict'"):
        register_model(
            "other_deepsea", OtherDeepSEA, layouts=(get_spec("deepsea").layouts[0],), published=(wrong,)
        )
    assert "other_deepsea" not in list_models()
