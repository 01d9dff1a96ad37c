"""Unsafe, broken and mismatched weight files: clear errors, nothing run, the model unchanged."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

import zoo
from tests import legacy
from zoo.weights import (
    NonFiniteWarning,
    PartialLoadWarning,
    WeightsFileError,
    WeightsMismatchError,
    check_weights,
)


class CreatesMarker:
    """Unpickling this calls open(marker, 'w'): code from the file running at load time."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_unchanged(model: torch.nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())


@pytest.mark.parametrize("kind", ["torch.save", "legacy torch.save"])
def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path, kind):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pth"
    payload = {"conv.0.weight": torch.zeros(2), "x": CreatesMarker(str(marker))}
    # The zip format of torch >= 1.6, and the older plain-pickle format Lua-era ports used.
    torch.save(payload, path, _use_new_zipfile_serialization=kind == "torch.save")
    model = zoo.create_model("binary_classifier", in_features=4)
    before = snapshot(model)
    with pytest.raises(WeightsFileError, match="refused to load.*could run arbitrary code") as err:
        zoo.load_weights(model, path)
    assert str(path) in str(err.value)
    assert not marker.exists()
    assert_unchanged(model, before)
    # Control: the file really does run code when unpickled without weights_only.
    torch.load(path, weights_only=False)
    assert marker.exists()


def _good_file(tmp_path):
    path = tmp_path / "good.pt"
    torch.save(zoo.create_model("binary_classifier", in_features=4).state_dict(), path)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p, good: p.write_bytes(b""), "empty"),
        (lambda p, good: p.write_bytes(good.read_bytes()[:200]), "truncated"),
        (lambda p, good: p.write_text("this is a README, not weights\n"), "not a checkpoint"),
        (lambda p, good: torch.save([torch.zeros(3)], p), "holds a list, not a dict of tensors"),
        (lambda p, good: torch.save({"epoch": 3, "lr": 0.1}, p), "are not tensors"),
    ],
    ids=["empty", "truncated", "text", "list", "no-tensors"],
)
def test_broken_files_name_the_file_and_what_was_expected(tmp_path, make, message):
    path = tmp_path / "weights.pth"
    make(path, _good_file(tmp_path))
    model = zoo.create_model("binary_classifier", in_features=4)
    before = snapshot(model)
    with pytest.raises(WeightsFileError, match=message) as err:
        zoo.load_weights(model, path)
    assert str(path) in str(err.value) and "expected" in str(err.value)
    assert_unchanged(model, before)


def test_truncated_safetensors_and_missing_file(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"net.0.weight": torch.zeros(1, 4), "net.0.bias": torch.zeros(1)}, path)
    path.write_bytes(path.read_bytes()[:-8])
    model = zoo.create_model("binary_classifier", in_features=4)
    with pytest.raises(WeightsFileError, match="not a readable safetensors file"):
        zoo.load_weights(model, path)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        zoo.load_weights(model, tmp_path / "nope.pt")


def test_strict_mismatch_is_one_error_listing_every_key_with_both_shapes_and_the_fitting_override(tmp_path):
    other = zoo.create_model("deepsea", seq_len=200, n_targets=10, hidden=20)
    state = other.state_dict()
    del state["conv.0.bias"]
    state["extra.weight"] = torch.zeros(3, 3)
    torch.save(state, tmp_path / "w.pth")
    model = zoo.create_model("deepsea", seq_len=200)
    before = snapshot(model)
    with pytest.raises(WeightsMismatchError) as err:
        zoo.load_weights(model, tmp_path / "w.pth")
    text = str(err.value)
    assert "classifier.1.weight: shape in file [20, 2880], in model [925, 2880]" in text
    assert "classifier.3.weight: shape in file [10, 20], in model [919, 925]" in text
    assert "classifier.3.bias: shape in file [10], in model [919]" in text
    assert "conv.0.bias: missing from the file (model expects [320])" in text
    assert "extra.weight: unexpected (in the file with shape [3, 3]" in text
    assert "n_targets=10, hidden=20" in text
    assert {k for k, *_ in err.value.report.mismatched} == {
        "classifier.1.weight",
        "classifier.1.bias",
        "classifier.3.weight",
        "classifier.3.bias",
    }
    assert_unchanged(model, before)


def test_selene_deepsea_into_the_default_deepsea_names_selene_and_the_override(tmp_path):
    torch.save(legacy.SeleneDeepSEA(200, 919).state_dict(), tmp_path / "selene.pth")
    with pytest.raises(
        WeightsMismatchError, match=r"hidden=919, activation='relu': this is the layout of Selene"
    ):
        zoo.create_model("deepsea", seq_len=200, weights=tmp_path / "selene.pth")


def test_seq_len_override_is_told_from_the_first_linear_layer(tmp_path):
    torch.save(legacy.kipoi_deepsea_sized(seq_len=200).state_dict(), tmp_path / "kipoi.pth")
    with pytest.raises(WeightsMismatchError, match=r"seq_len=200"):
        zoo.create_model("deepsea", weights=tmp_path / "kipoi.pth")


def test_another_familys_layout_is_named(tmp_path):
    torch.save(legacy.kipoi_basset(300).state_dict(), tmp_path / "basset.pth")
    with pytest.raises(WeightsMismatchError, match=r"Kipoi Basset.*create_model\('basset'"):
        zoo.create_model("deepsea", seq_len=200, weights=tmp_path / "basset.pth")


def test_non_strict_loads_what_fits_and_reports_the_rest(tmp_path):
    source = zoo.create_model("deepsea", seq_len=200, n_targets=10)
    torch.save(source.state_dict(), tmp_path / "w.pth")
    model = zoo.create_model("deepsea", seq_len=200)
    before = snapshot(model)
    report = check_weights(model, tmp_path / "w.pth")  # dry run: nothing loaded
    assert_unchanged(model, before)
    assert [k for k, *_ in report.mismatched] == ["classifier.3.weight", "classifier.3.bias"]
    with pytest.warns(PartialLoadWarning, match="loaded 8 of 10 tensors") as caught:
        assert zoo.load_weights(model, tmp_path / "w.pth", strict=False) is model
    assert caught[0].message.report.mismatched == report.mismatched
    assert torch.equal(model.conv[0].weight, source.conv[0].weight)
    assert torch.equal(model.classifier[3].weight, before["classifier.3.weight"])


def test_non_strict_with_nothing_that_fits_still_raises(tmp_path):
    torch.save(zoo.create_model("binary_classifier", in_features=4).state_dict(), tmp_path / "w.pth")
    with pytest.raises(WeightsMismatchError, match="nothing fits"):
        zoo.load_weights(zoo.create_model("deepsea", seq_len=200), tmp_path / "w.pth", strict=False)


def test_zoo_file_of_another_model_points_to_load_model(tmp_path):
    zoo.save_weights(zoo.create_model("binary_classifier", in_features=4), tmp_path / "w.safetensors")
    with pytest.raises(WeightsMismatchError, match=r"zoo 'binary_classifier'.*zoo.load_model"):
        zoo.load_weights(zoo.create_model("deepsea", seq_len=200), tmp_path / "w.safetensors")


def test_corrupt_zoo_args_metadata_names_the_file_and_the_key(tmp_path):
    state = zoo.create_model("binary_classifier", in_features=4).state_dict()
    path = tmp_path / "w.safetensors"
    save_file(state, path, metadata={"zoo_model": "binary_classifier", "zoo_args": '{"in_features": 4'})
    with pytest.raises(
        WeightsFileError, match=r"w\.safetensors: its safetensors metadata 'zoo_args' is not valid"
    ):
        zoo.load_model(path)


def test_a_model_name_instead_of_a_model_suggests_create_model(tmp_path):
    path = tmp_path / "basset.pt"
    torch.save(zoo.create_model("basset", seq_len=300).state_dict(), path)
    with pytest.raises(TypeError, match=r"expected a model \(an nn.Module\).*got str") as err:
        zoo.load_weights("basset", path)
    assert f"zoo.create_model('basset', weights={str(path)!r})" in str(err.value)


def test_a_directory_is_not_a_weights_file(tmp_path):
    model = zoo.create_model("binary_classifier", in_features=4)
    for load in (lambda: zoo.load_weights(model, tmp_path), lambda: zoo.load_model(tmp_path)):
        with pytest.raises(IsADirectoryError, match="is a directory; expected a weights file"):
            load()


def _exact_snapshot(model: torch.nn.Module) -> dict[str, bytes]:
    """The bytes of every tensor: equal means bit-identical (NaN and -0.0 included)."""
    return {
        k: v.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes()
        for k, v in model.state_dict().items()
    }


def _ten_tensor_model() -> torch.nn.Module:
    return zoo.create_model(
        "binary_classifier", in_features=4, hidden=(3, 3, 3, 3)
    )  # net.0 ... net.8: 10 tensors


@pytest.mark.parametrize(
    ("last", "message"),
    [
        (
            lambda t: t.to_sparse(),
            r"net\.8\.bias: a sparse tensor \(torch\.sparse_coo\) in the file; expected a dense one",
        ),
        (
            lambda t: torch.empty_like(t, device="meta"),
            r"net\.8\.bias: a tensor without values \(on the meta device\)",
        ),
        (lambda t: t.long(), r"net\.8\.bias: dtype torch\.int64 in the file, torch\.float32 in the model"),
        (lambda t: t.bool(), r"net\.8\.bias: dtype torch\.bool in the file, torch\.float32 in the model"),
        (
            lambda t: t.to(torch.complex64),
            r"net\.8\.bias: dtype torch\.complex64 in the file, torch\.float32",
        ),
    ],
    ids=["sparse", "meta", "int", "bool", "complex"],
)
def test_a_tensor_of_the_wrong_kind_is_refused_before_any_tensor_is_copied(tmp_path, last, message):
    source = _ten_tensor_model()
    state = source.state_dict()
    assert list(state)[-1] == "net.8.bias" and len(state) == 10
    state["net.8.bias"] = last(state["net.8.bias"])
    torch.save(state, tmp_path / "w.pt")
    model = _ten_tensor_model()
    before = _exact_snapshot(model)
    with pytest.raises(WeightsMismatchError, match=message):
        zoo.load_weights(model, tmp_path / "w.pt")
    assert _exact_snapshot(model) == before  # not one of the nine good tensors was copied
    report = check_weights(model, tmp_path / "w.pt")
    assert not report.complete and [k for k, _ in report.unusable] == ["net.8.bias"]


def test_float_tensors_of_another_width_still_load(tmp_path):
    source = _ten_tensor_model()
    torch.save({k: v.double() for k, v in source.state_dict().items()}, tmp_path / "w.pt")
    model = zoo.load_weights(_ten_tensor_model(), tmp_path / "w.pt")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in source.state_dict().items())


def test_an_integer_buffer_refuses_a_float_tensor(tmp_path):
    state = zoo.create_model("basset", seq_len=300).state_dict()
    state["conv.1.num_batches_tracked"] = state["conv.1.num_batches_tracked"].float()
    torch.save(state, tmp_path / "w.pt")
    model = zoo.create_model("basset", seq_len=300)
    before = _exact_snapshot(model)
    with pytest.raises(
        WeightsMismatchError,
        match=r"conv\.1\.num_batches_tracked: dtype torch\.float32 in the file, torch\.int64",
    ):
        zoo.load_weights(model, tmp_path / "w.pt")
    assert _exact_snapshot(model) == before


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_load_with_a_warning_naming_them(tmp_path, value):
    state = _ten_tensor_model().state_dict()
    state["net.2.weight"][1, 1] = value
    state["net.6.bias"][0] = value
    torch.save(state, tmp_path / "w.pt")
    with pytest.warns(
        NonFiniteWarning, match=r"w\.pt: NaN or infinite values in net\.2\.weight, net\.6\.bias"
    ):
        model = zoo.load_weights(_ten_tensor_model(), tmp_path / "w.pt")
    torch.testing.assert_close(model.net[2].weight, state["net.2.weight"], rtol=0, atol=0, equal_nan=True)


def _zoo_file_with_args(tmp_path, args: str, name: str = "binary_classifier"):
    state = zoo.create_model("binary_classifier", in_features=4).state_dict()
    path = tmp_path / "w.safetensors"
    save_file(state, path, metadata={"zoo_model": name, "zoo_args": args})
    return path


def test_deeply_nested_zoo_targets_are_a_clear_error(tmp_path):
    state = zoo.create_model("binary_classifier", in_features=4).state_dict()
    path = tmp_path / "w.safetensors"
    meta = {"zoo_model": "binary_classifier", "zoo_args": '{"in_features": 4}', "zoo_targets": "[" * 100_000}
    save_file(state, path, metadata=meta)
    with pytest.raises(
        WeightsFileError, match=r"w\.safetensors: its safetensors metadata 'zoo_targets' is nested"
    ):
        zoo.load_model(path)


def test_deeply_nested_zoo_args_are_a_clear_error(tmp_path):
    path = _zoo_file_with_args(tmp_path, "[" * 100_000 + "]" * 100_000)
    with pytest.raises(
        WeightsFileError, match=r"w\.safetensors: its safetensors metadata 'zoo_args' is nested too deep"
    ):
        zoo.load_model(path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            '{"in_features": 4, "hidden": [100000, 100000]}',
            r"net\.0\.weight: shape in file \[1, 4\], in model \[100000, 4\]",
        ),
        (
            '{"in_features": 4000000000}',
            r"net\.0\.weight: shape in file \[1, 4\], in model \[1, 4000000000\]",
        ),
        (
            '{"in_features": 4, "hidden": [' + ", ".join(["1"] * 5000) + "]}",
            r"'hidden' has 5000 entries, more than .*2 tensors",
        ),
        (
            '{"in_features": 4, "hidden": [2, 2e400]}',
            r"the arguments for 'binary_classifier' do not build a model",
        ),
        (
            '{"in_features": 4, "n_outputs": 1, "hidden": [], "head": "sigmoid", "zzz": 3}',
            r"unknown argument 'zzz'",
        ),
    ],
    ids=["40-GB hidden", "16-GB input", "5000 layers", "inf size", "unknown argument"],
)
def test_absurd_stored_sizes_are_refused_before_anything_is_allocated(tmp_path, monkeypatch, args, message):
    from zoo import models

    path = _zoo_file_with_args(tmp_path, args)
    devices = []
    build = models.build_model

    def spy(name, **kwargs):
        devices.append(torch.get_default_device().type)
        return build(name, **kwargs)

    for module in (
        "zoo.create",
        "zoo.weights.building",
        "zoo.weights.convert",
        "zoo.predict.running.loading",
    ):
        monkeypatch.setattr(f"{module}.build_model", spy, raising=False)
    with pytest.raises((WeightsFileError, WeightsMismatchError), match=message):
        zoo.load_model(path)
    assert set(devices) <= {"meta"}  # only ever built without memory
