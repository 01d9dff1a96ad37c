"""zoo.sampling and zoo-sample: sample grids, interpolations and discriminator scores."""

from __future__ import annotations

import stat
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import zoo
from zoo.cli.sample import main as sample_main
from zoo.sampling import (
    PAD,
    PAD_VALUE,
    generate,
    image_grid,
    interpolate,
    interpolation_latents,
    latents,
    sample_grid,
    save_grid_png,
    score_images,
    slerp,
)


def tiny_generator(head: str = "tanh") -> torch.nn.Module:
    """A 28 x 28 MLP generator with weights large enough to use the whole pixel range."""
    torch.manual_seed(0)
    model = zoo.create_model("mlp_decoder", in_size=8, hidden=(16,), image_shape=(1, 28, 28), head=head)
    with torch.no_grad():
        model.net[-1].weight.mul_(20)
    return model


def read_png(path) -> torch.Tensor:
    """A PNG file as a uint8 tensor (C, H, W)."""
    with Image.open(path) as image:
        pixels = torch.from_numpy(np.array(image))
    return pixels[None] if pixels.dim() == 2 else pixels.permute(2, 0, 1)


def test_grid_is_enlarged_to_at_least_112_pixels_an_image_and_padded(tmp_path):
    grid = sample_grid(tiny_generator(), n=6, seed=1, nrow=3)
    scale = 4  # 28 x 4 = 112
    assert grid.dtype == torch.uint8 and grid.shape == (1, PAD + 2 * (112 + PAD), PAD + 3 * (112 + PAD))
    assert (grid[:, :PAD] == PAD_VALUE).all() and (grid[:, :, :PAD] == PAD_VALUE).all()
    first = grid[0, PAD : PAD + 112, PAD : PAD + 112]
    # nearest-neighbour: every image pixel is a 4 x 4 block of one value
    blocks = first.view(28, scale, 28, scale)
    assert (blocks == blocks[:, :1, :, :1]).all()
    path = save_grid_png(grid, tmp_path / "s.png")
    assert torch.equal(read_png(path), grid)


def test_pixels_map_the_heads_range_to_0_255():
    z = latents(8, 5, seed=2)
    for head, low in (("tanh", -1.0), ("sigmoid", 0.0)):
        model = tiny_generator(head).eval()
        with torch.no_grad():
            raw = model(z)
        unit = generate(model, z)
        torch.testing.assert_close(unit, (raw - low) / (1 - low))
        grid = image_grid(unit, nrow=5)
        assert grid.min() == 0 and grid.max() == 255  # saturated pixels reach both ends
    with pytest.raises(ValueError, match="head='tanh' or 'sigmoid'"):
        generate(tiny_generator("identity"), z)


def test_same_seed_same_png_bytes_and_another_seed_differs(tmp_path):
    model = tiny_generator()
    for name, seed in (("a.png", 3), ("b.png", 3), ("c.png", 4)):
        save_grid_png(sample_grid(model, n=4, seed=seed), tmp_path / name)
    a, b, c = ((tmp_path / n).read_bytes() for n in ("a.png", "b.png", "c.png"))
    assert a == b and a != c


def test_slerp_endpoints_are_the_latents_and_the_path_keeps_the_norm():
    a, b = latents(64, 2, seed=5)
    assert torch.equal(slerp(a, b, 0.0), a) and torch.equal(slerp(a, b, 1.0), b)
    mid = slerp(a, b, 0.5)
    assert abs(mid.norm() - (a.norm() + b.norm()) / 2) < 0.05 * a.norm()  # not the short chord midpoint
    assert (a + b).norm() / 2 < 0.8 * mid.norm()
    torch.testing.assert_close(slerp(a, 2 * a, 0.25), 1.25 * a)  # parallel: the straight line


def test_interpolation_rows_start_and_end_at_the_pairs_latents():
    path = interpolation_latents(8, pairs=3, steps=5, seed=6).view(3, 5, 8)
    ends = latents(8, 6, seed=6).view(3, 2, 8)
    assert torch.equal(path[:, 0], ends[:, 0]) and torch.equal(path[:, -1], ends[:, 1])
    model = tiny_generator()
    grid = interpolate(model, pairs=3, steps=5, seed=6)
    assert grid.shape == (1, PAD + 3 * (112 + PAD), PAD + 5 * (112 + PAD))
    first = image_grid(generate(model, ends[:1, 0]), nrow=1, scale=4)
    assert torch.equal(grid[:, : first.shape[1], : first.shape[2]], first)


def test_vae_samples_through_decode(tmp_path):
    vae = zoo.create_model("mlp_vae", image_shape=(1, 8, 8), hidden=6, latent_size=3)
    grid = sample_grid(vae, n=4, seed=0, scale=2)
    assert grid.shape == (1, PAD + 2 * (16 + PAD), PAD + 2 * (16 + PAD))
    with torch.no_grad():
        expected = vae.eval().decode(latents(3, 4, 0))
    assert torch.equal(grid, image_grid(expected, nrow=2, scale=2))


def write_digits(folder, n: int = 3, side: int = 28) -> torch.Tensor:
    """``n`` grey PNGs (some in a subfolder); returns them as floats in [0, 1]."""
    gen = torch.Generator().manual_seed(7)
    pixels = torch.randint(0, 256, (n, 1, side, side), generator=gen, dtype=torch.uint8)
    (folder / "sub").mkdir(parents=True)
    for i, image in enumerate(pixels):
        Image.fromarray(image[0].numpy()).save(folder / ("sub" if i == 0 else "") / f"d{i}.png")
    return pixels.float() / 255


def test_scoring_a_folder_gives_the_discriminators_probabilities(tmp_path):
    images = write_digits(tmp_path / "digits")
    netd = zoo.create_model("image_discriminator", n_channels=1, ndf=4, image_size=28, final="3x3").eval()
    rows = score_images(netd, tmp_path / "digits")
    assert [r[0] for r in rows] == ["d1.png", "d2.png", "sub/d0.png"]
    order = [1, 2, 0]
    with torch.no_grad():
        expected = netd(images[order] * 2 - 1)  # the default range: [-1, 1]
        torch.testing.assert_close(torch.tensor([r[1] for r in rows]), expected)
        unit = score_images(netd, tmp_path / "digits", value_range=(0.0, 1.0))
        torch.testing.assert_close(torch.tensor([r[1] for r in unit]), netd(images[order]))
    mlp = zoo.create_model("binary_classifier", in_features=784, hidden=(8,), activation="leaky_relu").eval()
    with torch.no_grad():
        flat = torch.tensor([r[1] for r in score_images(mlp, tmp_path / "digits")])
        torch.testing.assert_close(flat, mlp(images[order].flatten(1) * 2 - 1).squeeze(1))


def test_scoring_refuses_other_sizes_unless_asked_to_resize(tmp_path):
    write_digits(tmp_path / "digits", n=2, side=20)
    netd = zoo.create_model("image_discriminator", n_channels=1, ndf=4, image_size=28, final="3x3")
    with pytest.raises(
        ValueError, match=r"d1\.png: 20 x 20 pixels, the discriminator reads 28 x 28.*--resize"
    ):
        score_images(netd, tmp_path / "digits")
    assert len(score_images(netd, tmp_path / "digits", resize=True)) == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        score_images(netd, tmp_path / "empty")


def test_zoo_sample_command_writes_grids_interpolations_and_score_tables(tmp_path, capsys):
    generator = tiny_generator()
    zoo.save_weights(generator, tmp_path / "g.safetensors")
    sample_main([str(tmp_path / "g.safetensors"), str(tmp_path / "s.png"), "-n", "4", "--seed", "9"])
    assert torch.equal(read_png(tmp_path / "s.png"), sample_grid(generator, n=4, seed=9))
    sample_main(
        [str(tmp_path / "g.safetensors"), str(tmp_path / "i.png"), "--interpolate", "2", "--steps", "3"]
    )
    assert torch.equal(read_png(tmp_path / "i.png"), interpolate(generator, pairs=2, steps=3, seed=0))
    assert "2 interpolations of 3 steps" in capsys.readouterr().out
    # a file from other code: --model and --model-arg build the original
    netd = zoo.create_model("image_discriminator", n_channels=1, ndf=4, image_size=28, final="3x3").eval()
    torch.save(netd.state_dict(), tmp_path / "netD.pth")
    write_digits(tmp_path / "digits")
    args = ["--model", "image_discriminator", "--model-arg", "n_channels=1", "--model-arg", "ndf=4",
            "--model-arg", "image_size=28", "--model-arg", "final=3x3"]  # fmt: skip
    sample_main(
        [str(tmp_path / "netD.pth"), str(tmp_path / "scores.tsv"), *args, "--score", str(tmp_path / "digits")]
    )
    lines = (tmp_path / "scores.tsv").read_text().splitlines()
    rows = score_images(netd, tmp_path / "digits")
    assert lines == ["path\tprobability", *(f"{p}\t{v:.6g}" for p, v in rows)]


def test_zoo_sample_errors_name_the_problem_and_write_nothing(tmp_path):
    zoo.save_weights(tiny_generator(), tmp_path / "g.safetensors")
    torch.save(tiny_generator().state_dict(), tmp_path / "g.pth")
    cases = [
        ([str(tmp_path / "g.safetensors"), str(tmp_path / "out.jpg")], "name it \\*.png"),
        ([str(tmp_path / "g.pth"), str(tmp_path / "out.png")], "pass --model NAME"),
        (
            [str(tmp_path / "g.safetensors"), str(tmp_path / "out.png"), "--score", str(tmp_path)],
            "only a discriminator",
        ),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit, match=message):
            sample_main(argv)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pth", "g.safetensors"]


def test_zoo_sample_is_a_console_script():
    out = subprocess.run([sys.executable, "-m", "zoo.cli.sample", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--interpolate" in out.stdout and "--score" in out.stdout


def test_zoo_sample_keeps_read_only_outputs_and_its_weights_and_names_odd_file_names(tmp_path):
    zoo.save_weights(tiny_generator(), tmp_path / "g.safetensors")
    out = tmp_path / "s.png"
    out.write_bytes(b"precious")
    out.chmod(0o444)
    with pytest.raises(SystemExit, match="is a read-only file; pass --overwrite to replace it"):
        sample_main([str(tmp_path / "g.safetensors"), str(out), "-n", "4"])
    assert out.read_bytes() == b"precious"
    sample_main([str(tmp_path / "g.safetensors"), str(out), "-n", "4", "--overwrite"])
    assert read_png(out).dtype == torch.uint8 and stat.S_IMODE(out.stat().st_mode) == 0o444
    (tmp_path / "w.png").symlink_to(tmp_path / "g.safetensors")  # the weights, under another name
    with pytest.raises(SystemExit, match="is the same file as the weights"):
        sample_main([str(tmp_path / "g.safetensors"), str(tmp_path / "w.png"), "-n", "4"])
    assert zoo.load_model(tmp_path / "g.safetensors").in_size == 8
    # an image whose name holds a tab would shift the table's columns
    netd = zoo.create_model("image_discriminator", n_channels=1, ndf=4, image_size=28, final="3x3")
    zoo.save_weights(netd, tmp_path / "d.safetensors")
    write_digits(tmp_path / "digits")
    (tmp_path / "digits" / "d1.png").rename(tmp_path / "digits" / "d\t1.png")
    with pytest.raises(SystemExit, match=r"image name 'd\\t1\.png' holds a tab"):
        sample_main(
            [
                str(tmp_path / "d.safetensors"),
                str(tmp_path / "scores.tsv"),
                "--score",
                str(tmp_path / "digits"),
            ]
        )
    assert not (tmp_path / "scores.tsv").exists()


def test_zoo_sample_scores_into_standard_output_and_says_so_on_stderr(tmp_path):
    netd = zoo.create_model("image_discriminator", n_channels=1, ndf=4, image_size=28, final="3x3")
    zoo.save_weights(netd, tmp_path / "d.safetensors")
    write_digits(tmp_path / "digits")
    argv = [str(tmp_path / "d.safetensors"), "/dev/stdout", "--score", str(tmp_path / "digits")]
    done = subprocess.run([sys.executable, "-m", "zoo.cli.sample", *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = score_images(netd.eval(), tmp_path / "digits")
    assert done.stdout.splitlines() == ["path\tprobability", *(f"{p}\t{v:.6g}" for p, v in rows)]
    assert "/dev/stdout: 3 images scored" in done.stderr


def test_zoo_sample_refuses_a_zero_scale_or_nrow_instead_of_taking_the_default(tmp_path):
    zoo.save_weights(tiny_generator(), tmp_path / "g.safetensors")
    for option in ("--scale", "--nrow"):
        with pytest.raises(SystemExit, match=r"nrow and scale must be >= 1, got .*=0"):
            sample_main([str(tmp_path / "g.safetensors"), str(tmp_path / "out.png"), option, "0"])
    assert not (tmp_path / "out.png").exists()


def test_zoo_sample_refuses_interpolate_0_instead_of_sampling_a_grid(tmp_path):
    zoo.save_weights(tiny_generator(), tmp_path / "g.safetensors")
    for pairs in ("0", "-1"):
        with pytest.raises(SystemExit, match=rf"--interpolate must be >= 1 \(latent pairs\), got {pairs}$"):
            sample_main([str(tmp_path / "g.safetensors"), str(tmp_path / "out.png"), "--interpolate", pairs])
    assert not (tmp_path / "out.png").exists()


def test_zoo_sample_refuses_a_checkpoint_record_of_absurd_size_before_allocating(tmp_path):
    from _checkpoints import lightning_style_checkpoint

    from zoo.tasks import GANTask

    generator = zoo.create_model("image_decoder", in_size=8, n_channels=1, ngf=8, n_layers=2)
    discriminator = zoo.create_model("image_discriminator", n_channels=1, ndf=8, image_size=8)
    path = lightning_style_checkpoint(GANTask(generator, discriminator), tmp_path / "gan.ckpt")
    saved = torch.load(path, weights_only=True)
    saved["hyper_parameters"]["generator_record"]["args"]["ngf"] = 1_000_000  # 0.6 GB of weights
    torch.save(saved, path)
    with pytest.raises(SystemExit, match=r"(?s)zoo-sample: .*does not fit ImageDecoder.*main\.0\.weight"):
        sample_main([str(path), str(tmp_path / "out.png"), "--model", "image_decoder"])
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize(
    ("option", "value", "limit"),
    [("-n", "1000000", "4,096"), ("--steps", "1000000000", "256"), ("--interpolate", "9" * 5000, "256")],
)
def test_zoo_sample_refuses_absurd_counts_naming_the_limit(tmp_path, capsys, option, value, limit):
    zoo.save_weights(tiny_generator(), tmp_path / "g.safetensors")
    with pytest.raises(SystemExit) as exit_:
        sample_main([str(tmp_path / "g.safetensors"), str(tmp_path / "out.png"), option, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(f"zoo-sample: error: argument {option}") and f"at most {limit}" in err
    assert len(err) < 200 and not (tmp_path / "out.png").exists()


def test_grids_of_absurd_size_are_refused_before_anything_is_allocated():
    model = tiny_generator()
    with pytest.raises(ValueError, match="at most 4,096"):
        sample_grid(model, n=10**9)
    with pytest.raises(ValueError, match="at most 4,096"):
        interpolate(model, pairs=100, steps=100)
    with pytest.raises(ValueError, match=r"pixels.*at most"):
        sample_grid(model, n=64, scale=10**6)


def test_zoo_sample_takes_a_catalogue_name_and_recognises_a_published_file(tmp_path, publish):
    import hashlib

    from tests import legacy

    torch.manual_seed(0)
    torch.save(legacy.ExamplesVAE().state_dict(), tmp_path / "vae.pth")
    digest = hashlib.md5((tmp_path / "vae.pth").read_bytes()).hexdigest()
    publish("vae.mnist", name="vae.copy", md5=digest)
    weights = str(tmp_path / "vae.pth")
    sample_main([weights, str(tmp_path / "named.png"), "--model", "vae.copy", "-n", "4"])
    sample_main([weights, str(tmp_path / "recognised.png"), "-n", "4"])  # by its md5, no --model
    assert (tmp_path / "named.png").read_bytes() == (tmp_path / "recognised.png").read_bytes()
    with pytest.raises(SystemExit, match=rf"md5 {digest} differs from the published md5 .* of vae\.mnist"):
        sample_main([weights, str(tmp_path / "other.png"), "--model", "vae.mnist"])
    assert not (tmp_path / "other.png").exists()


def test_zoo_sample_gives_the_fitting_sizes_as_its_own_options(tmp_path):
    from tests import legacy

    torch.save(legacy.DCGANGenerator(nz=8, ngf=4, nc=1).state_dict(), tmp_path / "netG.pth")
    argv = [str(tmp_path / "netG.pth"), str(tmp_path / "out.png"), "--model", "image_decoder"]
    with pytest.raises(SystemExit) as err:
        sample_main([*argv, "--model-arg", "in_size=8"])
    message = str(err.value.code)
    assert "--model-arg ngf=4 --model-arg n_channels=1" in message and "zoo.create_model(" not in message
    sample_main(
        [*argv, "--model-arg", "in_size=8", "--model-arg", "ngf=4", "--model-arg", "n_channels=1", "-n", "4"]
    )
    assert (tmp_path / "out.png").is_file()


def _png_header_only(path, width: int, height: int) -> None:
    """A PNG that claims ``width`` x ``height`` grey pixels and holds none (a decompression bomb's
    header: a few bytes on disk, gigabytes decoded)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [10_000, 100_000])  # PIL warns above 89 M pixels, refuses above twice that
def test_zoo_sample_score_refuses_a_decompression_bomb_in_one_line(tmp_path, side):
    netd = zoo.create_model("image_discriminator", n_channels=1, ndf=4, image_size=28, final="3x3")
    zoo.save_weights(netd, tmp_path / "d.safetensors")
    write_digits(tmp_path / "digits")
    _png_header_only(tmp_path / "digits" / "bomb.png", side, side)
    argv = [
        str(tmp_path / "d.safetensors"),
        str(tmp_path / "scores.tsv"),
        "--score",
        str(tmp_path / "digits"),
    ]
    with pytest.raises(SystemExit) as stop:
        sample_main(argv)
    message = str(stop.value.code)
    assert message.startswith(f"zoo-sample: {tmp_path / 'digits' / 'bomb.png'}: {side} x {side} pixels")
    assert "\n" not in message and "decompression bomb" in message
    assert not (tmp_path / "scores.tsv").exists()


def test_single_images_are_written_at_the_models_size_and_score_back_unchanged(tmp_path, capsys):
    generator = tiny_generator()
    zoo.save_weights(generator, tmp_path / "g.safetensors")
    out = tmp_path / "samples"
    sample_main([str(tmp_path / "g.safetensors"), str(out), "--single", "-n", "3", "--seed", "9"])
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == ["sample_0.png", "sample_1.png", "sample_2.png"]
    expected = (generate(generator, latents(8, 3, 9)) * 255).round().to(torch.uint8)
    for i, name in enumerate(names):  # 28 x 28 like the model's images: no border, no enlargement
        assert torch.equal(read_png(out / name), expected[i])
    assert "3 samples as single images, 28 x 28 pixels" in capsys.readouterr().out
    # a discriminator of the same size scores them as they are: no --resize needed
    netd = zoo.create_model("image_discriminator", n_channels=1, ndf=4, image_size=28, final="3x3").eval()
    zoo.save_weights(netd, tmp_path / "d.safetensors")
    sample_main([str(tmp_path / "d.safetensors"), str(tmp_path / "scores.tsv"), "--score", str(out)])
    with torch.no_grad():
        probabilities = netd(expected.float() / 255 * 2 - 1)
    lines = (tmp_path / "scores.tsv").read_text().splitlines()
    assert lines == ["path\tprobability", *(f"{n}\t{float(p):.6g}" for n, p in zip(names, probabilities))]
    # interpolations too, one file per pair and step
    sample_main([str(tmp_path / "g.safetensors"), str(tmp_path / "walk"), "--single", "--interpolate", "2",
                 "--steps", "2"])  # fmt: skip
    walk = sorted(p.name for p in (tmp_path / "walk").iterdir() if not p.name.startswith("."))
    assert walk == ["pair_0_step_0.png", "pair_0_step_1.png", "pair_1_step_0.png", "pair_1_step_1.png"]


def test_single_images_refuse_a_scale_and_a_folder_of_other_files(tmp_path):
    generator = tiny_generator()
    zoo.save_weights(generator, tmp_path / "g.safetensors")
    weights = str(tmp_path / "g.safetensors")
    with pytest.raises(SystemExit, match=r"--single writes images at the model's size"):
        sample_main([weights, str(tmp_path / "s"), "--single", "--scale", "2"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(SystemExit, match=r"notes\.txt"):
        sample_main([weights, str(tmp_path / "mine"), "--single", "-n", "2"])
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.safetensors", "mine"]
