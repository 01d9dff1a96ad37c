"""zoo.export and zoo-export: every registered model as ONNX (run by onnxruntime) and as a
torch.export program gives the zoo's outputs, at two batch sizes, with its metadata."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
import torch

import zoo
from zoo._extras import install_hint
from zoo.cli.export import call as export_cli
from zoo.export import (
    ExportError,
    export_model,
    export_onnx,
    export_program,
    load_program,
    read_onnx_metadata,
)
from zoo.models import get_spec, list_models, model_args
from zoo.summary import DEMO_OVERRIDES

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

TOLERANCE = 1e-4  # fp32
# small sizes of each family, so that every export runs in seconds; a family missing here
# is exported at zoo-demo's sizes
SMALL = {
    "basset": {"seq_len": 200, "n_targets": 5},
    "beluga": {"seq_len": 400, "n_targets": 5},
    "danq": {"seq_len": 100, "n_targets": 5, "hidden": 8},
    "deepsea": {"seq_len": 200, "n_targets": 5, "hidden": 8, "conv_channels": (8, 8, 8)},
    "sei": {"seq_len": 64, "n_targets": 5, "conv_channels": (8, 8, 8), "spline_df": 4},
    "binary_classifier": {"in_features": 6},
}
DNA = [name for name in list_models() if get_spec(name).inputs and get_spec(name).inputs.kind == "dna"]
# every model; DNA models also with strand averaging, the convention their published files use
CASES = [(name, False) for name in list_models()] + [(name, True) for name in DNA]


def small_model(name: str, rc_average: bool = False) -> torch.nn.Module:
    torch.manual_seed(0)
    args = dict(SMALL.get(name, DEMO_OVERRIDES.get(name, {})))
    if rc_average:
        args["rc_average"] = True
    return zoo.create_model(name, **args).eval()


def inputs(model: torch.nn.Module, batch: int) -> torch.Tensor:
    """Real one-hot DNA with some N columns (0.25 each) for DNA models; else random values."""
    spec = get_spec(next(n for n in list_models() if get_spec(n).cls is type(model)))
    shape = (batch, *spec.input_shape(model_args(model)))
    if spec.inputs.kind != "dna":
        return torch.rand(shape) if spec.inputs.kind == "image" else torch.randn(shape)
    bases = torch.randint(0, 4, (batch, shape[2]))
    x = torch.nn.functional.one_hot(bases, 4).transpose(1, 2).float()
    x[:, :, ::7] = 0.25  # N
    return x


def zoo_output(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize(("name", "rc_average"), CASES, ids=[f"{n}{'-rc' if rc else ''}" for n, rc in CASES])
def test_onnxruntime_gives_the_zoo_outputs_at_two_batch_sizes(tmp_path, name, rc_average):
    model = small_model(name, rc_average)
    path = export_onnx(model, tmp_path / "model.onnx")
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["output"]
    assert isinstance(session.get_inputs()[0].shape[0], str)  # a named, dynamic batch axis
    for batch in (1, 5):
        x = inputs(model, batch)
        (got,) = session.run(None, {"input": x.numpy()})
        expected = zoo_output(model, x)
        assert got.shape == tuple(expected.shape)
        assert abs(torch.from_numpy(got) - expected).max().item() <= TOLERANCE
    assert read_onnx_metadata(path)["zoo_model"] == name


@pytest.mark.parametrize(("name", "rc_average"), CASES, ids=[f"{n}{'-rc' if rc else ''}" for n, rc in CASES])
def test_a_torch_export_program_gives_the_zoo_outputs_at_two_batch_sizes(tmp_path, name, rc_average):
    model = small_model(name, rc_average)
    path = export_program(model, tmp_path / "model.pt2")
    program, meta = load_program(path)
    for batch in (1, 4):
        x = inputs(model, batch)
        with torch.no_grad():
            got = program.module()(x)
        assert abs(got - zoo_output(model, x)).max().item() <= TOLERANCE
    assert meta["zoo_model"] == name and json.loads(meta["zoo_args"]) == json.loads(
        json.dumps(model_args(model))
    )


def test_the_onnx_graph_averages_both_strands_probabilities(tmp_path):
    """The strand convention is in the graph: the mean of the forward and reverse-complement
    probabilities of the single-strand network, computed here by hand."""
    single = small_model("deepsea")
    averaged = small_model("deepsea", rc_average=True)
    averaged.load_state_dict(single.state_dict())
    session = ort.InferenceSession(os.fspath(export_onnx(averaged, tmp_path / "rc.onnx")))
    x = inputs(single, 3)
    reverse = x.flip(1, 2)  # A<->T, C<->G along the reversed sequence (ACGT channel order)
    with torch.no_grad():
        expected = (torch.sigmoid(single.logits(x)) + torch.sigmoid(single.logits(reverse))) / 2
    (got,) = session.run(None, {"input": x.numpy()})
    assert abs(torch.from_numpy(got) - expected).max().item() <= TOLERANCE


def test_logits_leave_the_head_out(tmp_path):
    model = small_model("image_decoder")  # the tanh head
    session = ort.InferenceSession(os.fspath(export_onnx(model, tmp_path / "logits.onnx", logits=True)))
    x = inputs(model, 2)
    (got,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        assert abs(torch.from_numpy(got) - model.logits(x)).max().item() <= TOLERANCE
        assert abs(torch.from_numpy(got).tanh() - model(x)).max().item() <= TOLERANCE
    meta = read_onnx_metadata(tmp_path / "logits.onnx")
    assert meta["zoo_head"] == "identity" and meta["zoo_output"] == "logits (the tanh head is left out)"


def test_the_metadata_names_the_model_its_conventions_targets_and_source(tmp_path):
    model = zoo.create_model("deepsea", hidden=8, conv_channels=(8, 8, 8), rc_average=True).eval()
    model.source = {"name": "deepsea.kipoi_predict", "md5": "0" * 32, "license": "CC-BY-3.0"}
    meta = read_onnx_metadata(export_onnx(model, tmp_path / "deepsea.onnx"))
    shipped = Path(zoo.__file__).parent / "targets" / "deepsea_919.txt"  # the list, read here as text
    assert json.loads(meta["zoo_targets"]) == shipped.read_text(encoding="utf-8").splitlines()
    assert json.loads(meta["zoo_args"])["rc_average"] is True
    assert meta["zoo_input"] == "(batch, 4, 1000) float32 one-hot DNA, channels ACGT"
    assert meta["zoo_alphabet"] == "ACGT" and meta["zoo_n_value"] == "0.25"
    assert meta["zoo_n_handling"].startswith("encode N (and any other letter) as 0.25 in each of the four")
    assert meta["zoo_strands"].startswith("both: the forward and reverse-complement probabilities")
    assert meta["zoo_head"] == "sigmoid"
    assert (
        meta["zoo_paper"] == "Zhou & Troyanskaya 2015, Nat. Methods"
        and meta["zoo_doi"] == "10.1038/nmeth.3547"
    )
    assert json.loads(meta["zoo_source"]) == model.source
    beluga = small_model("beluga")
    meta = read_onnx_metadata(export_onnx(beluga, tmp_path / "beluga.onnx"))
    assert meta["zoo_n_value"] == "0" and meta["zoo_strands"] == "forward strand only"
    assert "zoo_targets" not in meta  # 5 outputs: no list names them


def test_image_metadata_gives_the_pixel_range(tmp_path):
    model = small_model("image_decoder")
    _, meta = load_program(export_program(model, tmp_path / "decoder.pt2"))
    assert json.loads(meta["zoo_value_range"]) == list(get_spec("image_decoder").conventions.value_range)
    assert meta["zoo_input"].startswith("(batch, 100") and "zoo_n_value" not in meta


def test_an_existing_output_is_kept_unless_overwrite(tmp_path):
    model = small_model("binary_classifier")
    out = tmp_path / "model.onnx"
    out.write_text("mine")
    with pytest.raises(ExportError, match=r"'.*model.onnx' exists; pass --overwrite \(overwrite=True\)"):
        export_onnx(model, out)
    assert out.read_text() == "mine"
    export_model(model, out, overwrite=True)
    assert read_onnx_metadata(out)["zoo_model"] == "binary_classifier"
    with pytest.raises(ExportError, match=r"expected an output ending in .onnx .* or .pt2"):
        export_model(model, tmp_path / "model.txt")


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch.export, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        export_program(small_model("binary_classifier"), tmp_path / "sub" / "model.pt2")
    assert list(tmp_path.iterdir()) == []  # no file, no temporary, no folder made for it


def test_missing_onnx_libraries_give_the_pip_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import fails
    with pytest.raises(ImportError) as err:
        export_onnx(small_model("binary_classifier"), tmp_path / "m.onnx")
    assert str(err.value) == f"exporting to ONNX needs onnxscript: {install_hint('export')}"
    assert export_cli([os.fspath(tmp_path / "m.onnx"), "--model", "binary_classifier", "--untrained",
                       "--model-arg", "in_features=3"]) == 1  # fmt: skip
    assert (
        capsys.readouterr().err
        == f"zoo-export: error: exporting to ONNX needs onnxscript: {install_hint('export')}\n"
    )
    assert not (tmp_path / "m.onnx").exists()


def test_the_command_exports_a_zoo_checkpoint_with_its_record(tmp_path, capsys):
    model = small_model("danq", rc_average=True)
    model.target_names = [f"t{i}" for i in range(5)]
    weights = zoo.save_weights(model, tmp_path / "danq.safetensors")
    out = tmp_path / "danq.onnx"
    assert export_cli([os.fspath(out), "--weights", os.fspath(weights)]) == 0
    assert capsys.readouterr().out == f"danq (forward, dynamic batch) -> {out}\n"
    meta = read_onnx_metadata(out)
    assert json.loads(meta["zoo_targets"]) == model.target_names
    md5 = hashlib.md5(weights.read_bytes()).hexdigest()
    assert json.loads(meta["zoo_source"]) == {"file": "danq.safetensors", "md5": md5}
    session = ort.InferenceSession(os.fspath(out))
    x = inputs(model, 2)
    (got,) = session.run(None, {"input": x.numpy()})
    assert abs(torch.from_numpy(got) - zoo_output(model, x)).max().item() <= TOLERANCE


E = "zoo-export: error: "
BAD_INPUT = [
    (["OUT.onnx", "--model", "nosuch", "--untrained"], E + "unknown model 'nosuch'."),
    (
        ["OUT.onnx", "--weights", "MISSING.safetensors"],
        E + "weights file 'MISSING.safetensors' does not exist",
    ),
    (["OUT.onnx", "--model", "deepsea"], E + "--weights is needed (a weights file or hf://OWNER/REPO)"),
    (["OUT.txt", "--model", "deepsea", "--untrained"], E + "OUT 'OUT.txt': expected a file ending in .onnx"),
    (
        ["EXISTING.onnx", "--model", "deepsea", "--untrained"],
        E + "OUT 'EXISTING.onnx' exists; pass --overwrite",
    ),
    (["OUT.onnx", "--weights", "hf://no good"], E + "'hf://no good' is not a Hugging Face reference"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT)
def test_bad_input_is_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "EXISTING.onnx").write_text("mine")
    assert export_cli(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert sorted(os.listdir(tmp_path)) == ["EXISTING.onnx"]
    assert (tmp_path / "EXISTING.onnx").read_text() == "mine"


def test_a_large_model_keeps_its_weights_beside_the_onnx_file(tmp_path, monkeypatch):
    """Past torch.onnx's size limit (paper-size Sei: 3.6 GB) the weights go to NAME.onnx.data,
    which the graph names relative to itself: both files move into place together."""
    from torch.onnx._internal.exporter import _onnx_program

    monkeypatch.setattr(_onnx_program, "_LARGE_MODEL_THRESHOLD", 0)  # every model counts as large
    model = small_model("sei", rc_average=True)
    path = export_onnx(model, tmp_path / "sei.onnx")
    assert sorted(os.listdir(tmp_path)) == ["sei.onnx", "sei.onnx.data"]
    session = ort.InferenceSession(os.fspath(path))
    x = inputs(model, 3)
    (got,) = session.run(None, {"input": x.numpy()})
    assert abs(torch.from_numpy(got) - zoo_output(model, x)).max().item() <= TOLERANCE
    assert read_onnx_metadata(path)["zoo_model"] == "sei"


def test_a_published_file_exports_with_its_source(tmp_path, publish, capsys):
    from tests import legacy

    original = legacy.ExamplesVAE().eval()
    torch.save(original.state_dict(), tmp_path / "vae.pth")
    entry = publish(
        "vae.mnist", name="vae.test", md5=hashlib.md5((tmp_path / "vae.pth").read_bytes()).hexdigest()
    )
    out = tmp_path / "vae.pt2"
    assert (
        export_cli([os.fspath(out), "--model", "vae.test", "--weights", os.fspath(tmp_path / "vae.pth")]) == 0
    )
    program, meta = load_program(out)
    source = json.loads(meta["zoo_source"])
    assert (source["name"], source["url"], source["md5"], source["license"]) == (
        "vae.test", entry.url, entry.md5, "MIT",
    )  # fmt: skip
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():  # the reconstruction of the posterior mean, as the original's decode(mu)
        mu, _ = original.encode(x.view(3, 784))
        expected = original.decode(mu).view(3, 1, 28, 28)
        assert abs(program.module()(x) - expected).max().item() <= TOLERANCE


@pytest.mark.slow
def test_paper_size_deepsea_with_strand_averaging_exports_exactly(tmp_path):
    """Kipoi's DeepSEA predict model at its size (211 MB of weights): onnxruntime gives its
    probabilities, and the metadata its 919 target names."""
    model = zoo.create_model("deepsea", rc_average=True).eval()
    path = export_onnx(model, tmp_path / "deepsea.onnx")
    session = ort.InferenceSession(os.fspath(path))
    x = inputs(model, 2)
    (got,) = session.run(None, {"input": x.numpy()})
    assert abs(torch.from_numpy(got) - zoo_output(model, x)).max().item() <= TOLERANCE
    assert len(json.loads(read_onnx_metadata(path)["zoo_targets"])) == 919
