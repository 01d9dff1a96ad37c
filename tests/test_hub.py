"""hf://OWNER/REPO[@REVISION] models read from a Hugging Face cache the tests build on disk
(models--OWNER--REPO/{blobs,snapshots/<commit>,refs/<branch>}), offline; and the folder
write_hub_folder makes for upload."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import zoo
from zoo._extras import install_hint
from zoo.create import load_hub_model
from zoo.hub import HubError, parse_hub_ref, write_hub_folder

hf_constants = pytest.importorskip("huggingface_hub.constants")

COMMIT = "a" * 40
OTHER_COMMIT = "b" * 40


def put_in_cache(
    cache: Path, repo_id: str, folder: Path, commit: str, refs: tuple[str, ...] = ("main",)
) -> None:
    """The files of ``folder`` as huggingface_hub caches a download of ``repo_id`` at ``commit``:
    blobs named by their sha256, snapshot entries linking to them, each ref naming the commit."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "snapshots" / commit).mkdir(parents=True)
    for file in folder.iterdir():
        if file.name.startswith("."):
            continue  # the writer's manifest is no file of the repository
        blob = repo / "blobs" / hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.copyfile(file, blob)
        (repo / "snapshots" / commit / file.name).symlink_to(
            os.path.relpath(blob, repo / "snapshots" / commit)
        )
    (repo / "refs").mkdir(exist_ok=True)
    for ref in refs:
        (repo / "refs" / ref).write_text(commit)


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache, and huggingface_hub offline (it never reaches the network)."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", os.fspath(cache))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    return cache


def tiny_deepsea(rc_average: bool = True) -> torch.nn.Module:
    torch.manual_seed(1)
    model = zoo.create_model("deepsea", seq_len=200, n_targets=3, hidden=8, conv_channels=(8, 8, 8))
    model.rc_average = rc_average
    model.target_names = ["DNase", "CTCF", "H3K4me3"]
    model.source = {"name": "my-lab.deepsea", "url": "https://example.org/w.pth", "md5": "0" * 32}
    return model.eval()


@pytest.fixture
def hub_folder(tmp_path):
    model = tiny_deepsea()
    folder = write_hub_folder(model, tmp_path / "upload", license="MIT", repo_id="lab/tiny-deepsea")
    return model, folder


def test_the_upload_folder_holds_weights_record_and_card(hub_folder):
    model, folder = hub_folder
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "README.md", "model.safetensors", "zoo.json",
    ]  # fmt: skip
    record = json.loads((folder / "zoo.json").read_text())
    weights = (folder / "model.safetensors").read_bytes()
    assert record["sha256"] == hashlib.sha256(weights).hexdigest() and record["size"] == len(weights)
    assert (
        record["model"] == "deepsea" and record["args"]["rc_average"] is True and record["license"] == "MIT"
    )
    assert record["doi"] == "10.1038/nmeth.3547" and record["source"] == model.source
    card = (folder / "README.md").read_text()
    _, front, body = card.split("---\n", 2)
    tags = ["sigmoid-zoo", "deepsea", "genomics", "dna"]
    assert yaml.safe_load(front) == {"library_name": "sigmoid-zoo", "license": "mit", "tags": tags}
    assert "Zhou & Troyanskaya 2015, Nat. Methods, [doi:10.1038/nmeth.3547]" in body
    assert "- License of the weights: MIT" in body
    assert "- Input: (N, 4, 200), one-hot DNA, channels ACGT" in body
    assert "- Unknown bases (N): 0.25 in each of the four channels" in body
    assert record["targets"] is None  # its own names, not the shipped list
    assert "- Strands: both strands, probabilities averaged" in body
    assert "3 outputs, in output order:\n\n```text\nDNase\nCTCF\nH3K4me3\n```" in body
    assert 'zoo.create_model("hf://lab/tiny-deepsea")' in body


def test_a_license_is_required_and_an_earlier_folder_is_replaced_only_when_asked(tmp_path, hub_folder):
    model, folder = hub_folder
    model.source = None
    with pytest.raises(HubError, match="the weights' license is not known: pass --license"):
        write_hub_folder(model, tmp_path / "other")
    with pytest.raises(HubError, match="exists and is not empty; pass --overwrite"):
        write_hub_folder(model, folder, license="CC-BY-4.0")
    write_hub_folder(model, folder, license="CC-BY-4.0", overwrite=True)
    assert json.loads((folder / "zoo.json").read_text())["license"] == "CC-BY-4.0"
    assert not (tmp_path / "other").exists()


def test_a_model_loads_offline_from_the_cache_by_branch_tag_and_commit(offline_cache, hub_folder):
    model, folder = hub_folder
    put_in_cache(offline_cache, "lab/tiny-deepsea", folder, COMMIT, refs=("main", "v1"))
    x = torch.rand(2, 4, 200)
    for ref in ("hf://lab/tiny-deepsea", "hf://lab/tiny-deepsea@v1", f"hf://lab/tiny-deepsea@{COMMIT}"):
        loaded = zoo.create_model(ref)
        with torch.no_grad():
            assert torch.equal(loaded(x), model(x))
        assert loaded.rc_average is True and loaded.target_names == model.target_names
        assert loaded.source == {**model.source, "hub": f"hf://lab/tiny-deepsea@{COMMIT}"}
    # the weights alone, into a model built here; and overrides of the stored arguments
    into = zoo.create_model("deepsea", weights="hf://lab/tiny-deepsea", **tiny_args(rc_average=True))
    assert all(torch.equal(a, b) for a, b in zip(into.state_dict().values(), model.state_dict().values()))
    single = load_hub_model("hf://lab/tiny-deepsea", rc_average=False)
    with torch.no_grad():
        assert torch.allclose(single(x), torch.sigmoid(model.strand_logits(x)))


def tiny_args(**extra):
    return {"seq_len": 200, "n_targets": 3, "hidden": 8, "conv_channels": (8, 8, 8), **extra}


def test_the_record_and_weights_come_from_one_commit(offline_cache, tmp_path, hub_folder):
    """main moved on to a commit with other weights; a pinned revision still reads its own."""
    model, folder = hub_folder
    put_in_cache(offline_cache, "lab/tiny-deepsea", folder, COMMIT, refs=("v1",))
    newer = tiny_deepsea(rc_average=False)
    with torch.no_grad():
        newer.conv[0].weight.add_(1.0)
    put_in_cache(
        offline_cache,
        "lab/tiny-deepsea",
        write_hub_folder(newer, tmp_path / "v2", license="MIT"),
        OTHER_COMMIT,
    )
    x = torch.rand(1, 4, 200)
    with torch.no_grad():
        assert torch.equal(zoo.create_model("hf://lab/tiny-deepsea@v1")(x), model(x))
        assert torch.equal(zoo.create_model("hf://lab/tiny-deepsea")(x), newer(x))


def test_a_revision_the_cache_lacks_is_a_clear_error_offline(offline_cache, hub_folder):
    put_in_cache(offline_cache, "lab/tiny-deepsea", hub_folder[1], COMMIT)
    for ref, revision in (
        ("hf://lab/tiny-deepsea@v9", "v9"),
        (f"hf://lab/tiny-deepsea@{OTHER_COMMIT}", OTHER_COMMIT),
    ):
        with pytest.raises(HubError) as err:
            zoo.create_model(ref)
        assert str(err.value) == (
            f"hf://lab/tiny-deepsea@{revision}: zoo.json at revision {revision!r} is not in the Hugging Face "
            f"cache ({offline_cache}) and HF_HUB_OFFLINE is set; download it once where the Hub is "
            "reachable, or name a revision the cache holds"
        )
    with pytest.raises(HubError, match=r"hf://lab/other@main: zoo.json at revision 'main' is not in the"):
        zoo.create_model("hf://lab/other")


def test_weights_that_differ_from_their_record_are_refused(offline_cache, hub_folder):
    _, folder = hub_folder
    record = json.loads((folder / "zoo.json").read_text())
    record["sha256"] = "0" * 64
    (folder / "zoo.json").write_text(json.dumps(record))
    put_in_cache(offline_cache, "lab/tiny-deepsea", folder, COMMIT)
    with pytest.raises(
        HubError, match=r"the sha256 of model.safetensors is not the one its record gives \(0{64}\)"
    ):
        zoo.create_model("hf://lab/tiny-deepsea")


@pytest.mark.parametrize(
    "text", ["hf://owner", "hf://owner/", "hf:///repo", "hf://o/r@", "hf://o/r@a..b", "hf://o/r/x"]
)
def test_malformed_references_name_the_expected_form(text):
    with pytest.raises(
        HubError, match=r"is not a Hugging Face reference; expected hf://OWNER/REPO or hf://OWNER/REPO@"
    ):
        parse_hub_ref(text)
    assert parse_hub_ref("hf://lab/tiny-deepsea@v1.2").revision == "v1.2"
    assert parse_hub_ref("hf://lab/tiny_deepsea.x").revision == "main"


def test_missing_huggingface_hub_gives_the_pip_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ImportError) as err:
        zoo.create_model("hf://lab/tiny-deepsea")
    assert str(err.value) == f"hf:// models need huggingface_hub: {install_hint('hub')}"


def test_zoo_predict_scores_an_hf_model(offline_cache, hub_folder, tmp_path, capsys):
    from zoo.cli.predict import call as predict_cli

    model, folder = hub_folder
    put_in_cache(offline_cache, "lab/tiny-deepsea", folder, COMMIT)
    seq = "ACGT" * 50
    (tmp_path / "seqs.fa").write_text(f">s1\n{seq}\n")
    out = tmp_path / "scores.tsv"
    argv = [
        "--weights",
        "hf://lab/tiny-deepsea",
        "--fasta",
        os.fspath(tmp_path / "seqs.fa"),
        "--out",
        os.fspath(out),
    ]
    assert predict_cli([*argv, "--no-progress"]) == 0, capsys.readouterr().err
    header, row = out.read_text().splitlines()[:2]
    assert header.split("\t")[-3:] == model.target_names
    with torch.no_grad():
        expected = model(zoo.one_hot(seq).unsqueeze(0))[0]
    got = torch.tensor([float(v) for v in row.split("\t")[-3:]])
    assert torch.allclose(got, expected, atol=1e-5)


def test_the_command_writes_the_folder_and_exports_offline_in_a_fresh_process(tmp_path, hub_folder):
    """The real environment variables, read by huggingface_hub at import, in a new process."""
    from zoo.cli.export import call as export_cli

    model, _ = hub_folder
    weights = zoo.save_weights(model, tmp_path / "tiny.safetensors")
    up = tmp_path / "up"
    assert (
        export_cli([os.fspath(up), "--format", "hub", "--weights", os.fspath(weights), "--license", "MIT"])
        == 0
    )
    cache = tmp_path / "cache"
    put_in_cache(cache, "lab/tiny-deepsea", up, COMMIT)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": os.fspath(cache)}
    code = (
        "import torch, zoo; m = zoo.create_model('hf://lab/tiny-deepsea'); "
        "torch.manual_seed(0); print(m(torch.rand(1, 4, 200)).tolist())"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    torch.manual_seed(0)
    with torch.no_grad():
        expected = model(torch.rand(1, 4, 200))
    assert torch.allclose(torch.tensor(json.loads(done.stdout)), expected, atol=1e-6)


def test_the_record_names_the_shipped_target_list_when_the_outputs_are_it(tmp_path):
    model = zoo.create_model("deepsea", seq_len=200, hidden=8, conv_channels=(8, 8, 8))
    shipped = (
        (Path(zoo.__file__).parent / "targets" / "deepsea_919.txt").read_text(encoding="utf-8").splitlines()
    )
    model.target_names = shipped
    folder = write_hub_folder(model, tmp_path / "up", license="CC-BY-3.0")
    assert json.loads((folder / "zoo.json").read_text())["targets"] == "deepsea_919"
    card = (folder / "README.md").read_text()
    assert "919 outputs (the zoo's list `deepsea_919`), in output order:" in card
    assert "license: cc-by-3.0\n" in card


def test_a_model_name_that_is_not_the_repositorys_is_refused(offline_cache, hub_folder, tmp_path, capsys):
    from zoo.cli.export import call as export_cli

    put_in_cache(offline_cache, "lab/tiny-deepsea", hub_folder[1], COMMIT)
    out = tmp_path / "m.onnx"
    assert export_cli([os.fspath(out), "--model", "basset", "--weights", "hf://lab/tiny-deepsea"]) == 1
    assert capsys.readouterr().err == (
        "zoo-export: error: --model 'basset' but hf://lab/tiny-deepsea holds a 'deepsea' model\n"
    )
    assert not out.exists()
    with pytest.raises(
        ValueError, match="a Hugging Face model holds its weights; leave weights= and pretrained="
    ):
        zoo.create_model("hf://lab/tiny-deepsea", pretrained=True)
