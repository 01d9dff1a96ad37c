"""The zoo format (save_weights -> load_model) and the zoo-convert command."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys

import pytest
import torch
from _checkpoints import ODD_DEEPSEA, lightning_style_checkpoint, trained_deepsea_checkpoint
from _io_support import signal_when_writing
from conftest import demo_overrides, example_input

import zoo
from tests import legacy
from zoo._registry import model_args
from zoo.cli.convert import main as convert_main
from zoo.tasks import GANTask, VAETask
from zoo.weights import read_metadata


def _randomize_buffers(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        for name, t in model.named_buffers():
            if name.endswith("running_var"):
                t.uniform_(0.5, 1.5)
            elif name.endswith("running_mean"):
                t.normal_(0, 0.1)
    return model.eval()


@pytest.mark.parametrize("name", zoo.list_models())
def test_save_then_load_model_round_trips_every_registered_model(tmp_path, name):
    model = _randomize_buffers(zoo.create_model(name, **demo_overrides(name)))
    path = zoo.save_weights(model, tmp_path / f"{name}.safetensors")
    loaded = zoo.load_model(path)
    assert type(loaded) is type(model) and not loaded.training
    assert model_args(loaded) == model_args(model)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = example_input(model)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_round_trip_keeps_non_default_arguments(tmp_path):
    model = zoo.create_model(
        "deepsea", seq_len=300, hidden=16, conv_channels=(8, 16, 32), activation="relu", head="logsigmoid"
    ).eval()
    loaded = zoo.load_model(zoo.save_weights(model, tmp_path / "d.safetensors"))
    assert model_args(loaded) == model_args(model)
    assert loaded.conv_channels == (8, 16, 32) and isinstance(loaded.head, torch.nn.LogSigmoid)
    meta = read_metadata(tmp_path / "d.safetensors")
    assert meta["zoo_model"] == "deepsea" and json.loads(meta["zoo_args"])["head"] == "logsigmoid"


def test_load_model_refuses_a_file_without_zoo_metadata(tmp_path):
    torch.save(zoo.create_model("binary_classifier", in_features=4).state_dict(), tmp_path / "w.pt")
    with pytest.raises(ValueError, match="not a zoo weights file.*zoo-convert"):
        zoo.load_model(tmp_path / "w.pt")


def test_convert_kipoi_predict_file_keeps_strand_averaging(tmp_path, capsys):
    original = legacy.kipoi_deepsea_predict(seq_len=200).eval()
    torch.save(original.state_dict(), tmp_path / "predict.pth")
    convert_main([str(tmp_path / "predict.pth"), str(tmp_path / "deepsea.safetensors")])
    assert "Kipoi DeepSEA predict model" in capsys.readouterr().out
    model = zoo.load_model(tmp_path / "deepsea.safetensors")
    assert model.rc_average and model.seq_len == 200
    x = zoo.one_hot(["ACGTTGCAAC" * 20, "GATTACAGGC" * 20])
    with torch.no_grad():
        assert (model(x) - original(x[:, :, None, :])).abs().max() <= 1e-5


def test_convert_selene_danq_warns_and_dcgan_netd_needs_no_arguments(tmp_path, capsys):
    torch.save(legacy.SeleneDanQ(100, 30).state_dict(), tmp_path / "danq.pth")
    convert_main([str(tmp_path / "danq.pth"), str(tmp_path / "danq.safetensors")])
    assert "recurs across the batch" in capsys.readouterr().err
    danq = zoo.load_model(tmp_path / "danq.safetensors")
    assert (danq.seq_len, danq.n_targets, danq.hidden) == (100, 30, 925)
    torch.save(legacy.DCGANDiscriminator(nc=1, ndf=8).state_dict(), tmp_path / "netD.pth")
    convert_main([str(tmp_path / "netD.pth"), str(tmp_path / "netD.safetensors")])
    netd = zoo.load_model(tmp_path / "netD.safetensors")
    assert (netd.n_channels, netd.ndf, netd.image_size) == (1, 8, 64)


def test_convert_asks_which_model_when_a_checkpoint_holds_several(tmp_path):
    generator = zoo.create_model("image_decoder", ngf=8, n_layers=3)
    discriminator = zoo.create_model("image_discriminator", ndf=8, image_size=16)
    state = {f"generator.{k}": v for k, v in generator.state_dict().items()}
    state |= {f"discriminator.{k}": v for k, v in discriminator.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 1}, tmp_path / "gan.ckpt")
    with pytest.raises(SystemExit, match="holds several models.*--model"):
        convert_main([str(tmp_path / "gan.ckpt"), str(tmp_path / "g.safetensors")])
    convert_main([str(tmp_path / "gan.ckpt"), str(tmp_path / "g.safetensors"), "--model", "image_decoder"])
    loaded = zoo.load_model(tmp_path / "g.safetensors")
    assert (loaded.ngf, loaded.n_layers) == (8, 3)
    assert torch.equal(loaded.main[0].weight, generator.main[0].weight)


def test_convert_command_fails_cleanly_and_writes_nothing(tmp_path):
    (tmp_path / "bad.pth").write_bytes(b"\x80\x02 not really a pickle")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo.cli.convert",
            str(tmp_path / "bad.pth"),
            str(tmp_path / "out.safetensors"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "bad.pth" in out.stderr and "expected" in out.stderr
    assert not (tmp_path / "out.safetensors").exists()


def test_convert_a_lightning_checkpoint_keeps_the_recorded_arguments(tmp_path, capsys):
    task, ckpt = trained_deepsea_checkpoint(tmp_path)
    convert_main([str(ckpt), str(tmp_path / "d.safetensors")])
    assert "hyper_parameters['model_record']" in capsys.readouterr().out
    loaded = zoo.load_model(tmp_path / "d.safetensors")
    model = task.model.eval()
    assert (
        model_args(loaded) == model_args(model) == {**model_args(zoo.create_model("deepsea")), **ODD_DEEPSEA}
    )
    x = zoo.one_hot(["GATTACAGGC" * 20, "ACGTTGCAAC" * 20])
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    # --set still applies on top of the record; --model must agree with it
    convert_main([str(ckpt), str(tmp_path / "fwd.safetensors"), "--set", "rc_average=false"])
    fwd = zoo.load_model(tmp_path / "fwd.safetensors")
    assert model_args(fwd) == {**model_args(model), "rc_average": False}
    with pytest.raises(SystemExit, match="--model 'basset'.*'deepsea' \\(as model\\)"):
        convert_main([str(ckpt), str(tmp_path / "b.safetensors"), "--model", "basset"])
    assert not (tmp_path / "b.safetensors").exists()


def test_convert_picks_the_recorded_network_of_a_gan_or_vae_checkpoint(tmp_path):
    generator = zoo.create_model("image_decoder", in_size=4, ngf=8, n_layers=2, head="sigmoid")
    discriminator = zoo.create_model("image_discriminator", ndf=8, image_size=8, head="identity")
    gan = lightning_style_checkpoint(GANTask(generator, discriminator), tmp_path / "gan.ckpt")
    with pytest.raises(SystemExit, match="holds several models.*generator_record.*discriminator_record"):
        convert_main([str(gan), str(tmp_path / "x.safetensors")])
    for net, name in ((generator, "image_decoder"), (discriminator, "image_discriminator")):
        convert_main([str(gan), str(tmp_path / f"{name}.safetensors"), "--model", name])
        loaded = zoo.load_model(tmp_path / f"{name}.safetensors")
        assert model_args(loaded) == model_args(net) and loaded.head.__class__ is net.head.__class__
    # the VAE of `zoo-train experiment=image_decoder_vae_digits`: a sigmoid decoder, not the default tanh
    vae = lightning_style_checkpoint(VAETask(generator, encoder_width=8), tmp_path / "vae.ckpt")
    convert_main([str(vae), str(tmp_path / "dec.safetensors"), "--model", "image_decoder"])
    decoder = zoo.load_model(tmp_path / "dec.safetensors")
    z = torch.randn(3, 4)
    with torch.no_grad():
        assert decoder.head.__class__ is torch.nn.Sigmoid and torch.equal(decoder(z), generator.eval()(z))


def test_convert_output_gets_the_usual_file_mode(tmp_path):
    old = os.umask(0o027)
    try:
        path = zoo.save_weights(
            zoo.create_model("binary_classifier", in_features=3), tmp_path / "w.safetensors"
        )
        convert_main([str(path), str(tmp_path / "c.safetensors")])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # 0o666 less the umask, not mkstemp's 0o600
    assert stat.S_IMODE((tmp_path / "c.safetensors").stat().st_mode) == 0o640


def test_other_programs_record_hyperparameters_leave_the_shapes_to_decide(tmp_path):
    model = zoo.create_model("deepsea", seq_len=200, n_targets=3, hidden=8, conv_channels=(8, 8, 8))
    state = {f"net.{k}": v for k, v in model.state_dict().items()}
    hparams = {"log_record": True, "model_record": "best so far", "best_record": {"name": "foo", "args": {}}}
    torch.save({"state_dict": state, "hyper_parameters": hparams}, tmp_path / "other.ckpt")
    convert_main([str(tmp_path / "other.ckpt"), str(tmp_path / "o.safetensors"), "--model", "deepsea"])
    loaded = zoo.load_model(tmp_path / "o.safetensors")
    assert model_args(loaded) == model_args(model)


def test_a_read_only_output_is_replaced_only_when_asked_and_modes_are_kept(tmp_path):
    model = zoo.create_model("binary_classifier", in_features=3)
    src = zoo.save_weights(model, tmp_path / "src.safetensors")
    dst = tmp_path / "dst.safetensors"
    dst.write_bytes(b"precious")
    dst.chmod(0o444)
    with pytest.raises(SystemExit, match="is a read-only file; pass --overwrite to replace it"):
        convert_main([str(src), str(dst)])
    with pytest.raises(PermissionError, match="is a read-only file; pass overwrite=True to replace it"):
        zoo.save_weights(model, dst)
    assert dst.read_bytes() == b"precious"
    convert_main([str(src), str(dst), "--overwrite"])
    assert stat.S_IMODE(dst.stat().st_mode) == 0o444 and zoo.load_model(dst).in_features == 3
    zoo.save_weights(model, dst, overwrite=True)
    src.chmod(0o600)
    zoo.save_weights(model, src)
    assert stat.S_IMODE(src.stat().st_mode) == 0o600


def test_convert_refuses_to_write_over_its_source(tmp_path):
    src = zoo.save_weights(zoo.create_model("binary_classifier", in_features=3), tmp_path / "w.safetensors")
    os.link(src, tmp_path / "same.safetensors")
    before = src.read_bytes()
    for dst in (src, tmp_path / "same.safetensors"):
        with pytest.raises(SystemExit, match=f"zoo-convert: DST {str(dst)!r} is the same file as SRC"):
            convert_main([str(src), str(dst), "--set", "in_features=3"])
    assert src.read_bytes() == before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_convert_stopped_by_a_signal_leaves_no_temporary_file(tmp_path, signum):
    src = zoo.save_weights(zoo.create_model("binary_classifier", in_features=3), tmp_path / "src.safetensors")
    # the write stalls half-way (a slow disk): the signal comes while the temporary file exists
    script = (
        "import time, safetensors.torch\n"
        "def slow(tensors, path, metadata=None):\n"
        "    open(path, 'wb').write(b'half')\n"
        "    time.sleep(60)\n"
        "safetensors.torch.save_file = slow\n"
        "from zoo.cli.convert import main\n"
        f"main([{str(src)!r}, {str(tmp_path / 'dst.safetensors')!r}])\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    err = signal_when_writing(proc, tmp_path, ".dst.", signum)
    assert proc.returncode == 128 + signum, err.decode()
    assert [p.name for p in tmp_path.iterdir()] == ["src.safetensors"]
    assert err.decode().strip() == f"zoo-convert: stopped by {signal.Signals(signum).name}"


def test_convert_keeps_the_target_names_and_n_value_a_zoo_train_checkpoint_records(tmp_path, capsys):
    from zoo.tasks import ClassificationTask

    names = [f"cell{i}_CTCF_None" for i in range(ODD_DEEPSEA["n_targets"])]
    task = ClassificationTask(zoo.create_model("deepsea", **ODD_DEEPSEA), target_names=names)
    ckpt = lightning_style_checkpoint(task, tmp_path / "named.ckpt")
    saved = torch.load(ckpt, weights_only=True)
    saved["datamodule_hyper_parameters"] = {"n_value": 0.0}  # as a DNA data module records it
    torch.save(saved, ckpt)
    convert_main([str(ckpt), str(tmp_path / "named.safetensors")])
    loaded = zoo.load_model(tmp_path / "named.safetensors")
    assert loaded.target_names == names and loaded.n_value == 0.0


def _published_deepsea(tmp_path, publish):
    """A small stand-in of Kipoi's DeepSEA predict file, registered as a published checkpoint."""
    import hashlib

    original = legacy.kipoi_deepsea_predict(seq_len=200, n_targets=919, hidden=8).eval()
    torch.save(original.state_dict(), tmp_path / "deepsea_predict.pth")
    digest = hashlib.md5((tmp_path / "deepsea_predict.pth").read_bytes()).hexdigest()
    args = {"seq_len": 200, "n_targets": 919, "hidden": 8, "rc_average": True}
    publish("deepsea.kipoi_predict", name="deepsea.test", md5=digest, args=args)
    return original, tmp_path / "deepsea_predict.pth", digest


def test_convert_recognises_a_published_file_by_its_md5(tmp_path, capsys, publish):
    original, src, digest = _published_deepsea(tmp_path, publish)
    convert_main([str(src), str(tmp_path / "d.safetensors")])
    assert "[published deepsea.test]" in capsys.readouterr().out
    loaded = zoo.load_model(tmp_path / "d.safetensors")
    assert loaded.rc_average and len(loaded.target_names) == 919 and loaded.n_value == 0.25
    assert loaded.source["name"] == "deepsea.test" and loaded.source["md5"] == digest
    x = zoo.one_hot(["ACGTTGCAGA" * 20])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), original(x.unsqueeze(2)), rtol=0, atol=1e-5)


def test_convert_pretrained_checks_the_md5(tmp_path, publish):
    _, src, digest = _published_deepsea(tmp_path, publish)
    with open(src, "ab") as f:
        f.write(b"\0")
    with pytest.raises(SystemExit, match=f"differs from the published md5 {digest}"):
        convert_main([str(src), str(tmp_path / "d.safetensors"), "--pretrained", "deepsea.test"])
    assert not (tmp_path / "d.safetensors").exists()
