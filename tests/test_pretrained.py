"""The catalogue of published checkpoints and their download into the verified cache.

Downloads come from a local HTTP server started here, serving stand-in files."""

import hashlib
import io
import json
import os
import re
import tarfile
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

import zoo
import zoo.models
import zoo.weights
from tests import legacy
from zoo.cli.pretrained import call as pretrained_cli
from zoo.models import all_layouts
from zoo.pretrained import (
    ArchiveError,
    ChecksumError,
    DownloadError,
    Located,
    PublishedFile,
    all_pretrained,
    cache_dir,
    fetch,
    get_pretrained,
    list_pretrained,
    locate_weights,
    verify,
)
from zoo.summary import catalogue_table
from zoo.targets import load_target_names, target_table

WEIGHTS = b"stand-in weights " * 5000  # 85 kB: several reads, not one


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class Server:
    """Serves ``files`` (path -> bytes) on 127.0.0.1; ``cut`` paths announce their full length
    and close the connection after half of it."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                path = self.path.split("?", 1)[0]
                body = server.files.get(path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if path in server.cut:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # keep the test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def entry(
    url: str, checksum: str | None, name: str = "test.weights", member: str | None = None
) -> PublishedFile:
    return PublishedFile(
        name=name,
        model="deepsea",
        args={"seq_len": 1000, "n_targets": 919},
        layout="kipoi-deepsea",
        url=url,
        md5=checksum,
        license="MIT",
        source="test",
        n_value=0.25,
        targets="deepsea_919",
        description="a stand-in",
        archive_member=member,
    )


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# --- downloading ----------------------------------------------------------------------------


def test_download_is_verified_cached_and_reused_without_network(server, _cache, monkeypatch):
    server.files["/w.pth"] = WEIGHTS
    e = entry(server.url + "/w.pth?download=1", md5(WEIGHTS))
    path = fetch(e, progress=False)
    assert path == _cache / "test.weights" / "w.pth" and path.read_bytes() == WEIGHTS
    # no temporary file, no md5 sidecar: the file and its stamp (md5, size and time)
    assert files_under(_cache) == ["test.weights/w.pth", "test.weights/w.pth.stamp"]
    server.stop()

    def no_network(*args, **kwargs):
        raise AssertionError("the cached file should be used without network access")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    assert fetch(e, progress=False) == path
    assert server.requests == ["/w.pth?download=1"]


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("ZOO_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "sigmoid-zoo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "sigmoid-zoo"


def test_a_wrong_md5_keeps_nothing(server, _cache):
    server.files["/w.pth"] = WEIGHTS
    published = md5(b"the published file")
    with pytest.raises(ChecksumError) as err:
        fetch(entry(server.url + "/w.pth", published), progress=False)
    assert md5(WEIGHTS) in str(err.value) and published in str(err.value)
    assert files_under(_cache) == []


def test_a_connection_cut_half_way_is_an_error_and_keeps_nothing(server, _cache):
    server.files["/w.pth"] = WEIGHTS
    server.cut.add("/w.pth")
    url = server.url + "/w.pth"
    with pytest.raises(DownloadError) as err:
        fetch(entry(url, md5(WEIGHTS)), progress=False)
    message = str(err.value)
    assert url in message and f"{len(WEIGHTS) // 2} of {len(WEIGHTS)} bytes" in message
    assert files_under(_cache) == []


def test_a_missing_file_names_the_url(server, _cache):
    with pytest.raises(DownloadError, match=re.escape(server.url + "/gone.pth") + ".*Not Found"):
        fetch(entry(server.url + "/gone.pth", md5(WEIGHTS)), progress=False)
    assert files_under(_cache) == []


def test_ctrl_c_during_a_download_keeps_nothing(_cache, monkeypatch):
    class Response(io.BytesIO):
        headers = {"Content-Length": str(len(WEIGHTS))}

        def read(self, size=-1):
            if self.tell() > 0:
                raise KeyboardInterrupt
            return super().read(size)

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Response(WEIGHTS))
    with pytest.raises(KeyboardInterrupt):
        fetch(entry("http://127.0.0.1:9/w.pth", md5(WEIGHTS)), progress=False)
    assert files_under(_cache) == []


def test_without_a_published_md5_the_seen_one_is_recorded(server, _cache):
    server.files["/w.pth"] = WEIGHTS
    e = entry(server.url + "/w.pth", None, name="test.unpublished")
    with pytest.warns(UserWarning, match="no md5 was published"):
        path = fetch(e, progress=False)
    assert path.read_bytes() == WEIGHTS
    assert (path.parent / "w.pth.md5").read_text().strip() == md5(WEIGHTS)


# --- archives -------------------------------------------------------------------------------


def tar_gz(*members: tuple[str, bytes | str]) -> bytes:
    """A .tar.gz of regular files (bytes) and symbolic links (str: the link's target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_the_weight_file_is_taken_from_the_archive_and_cached(server, _cache):
    archive = tar_gz(("model/target.names", b"a\nb\n"), ("model/sei.pth", WEIGHTS), ("model/x.npy", b"np"))
    server.files["/sei_model.tar.gz"] = archive
    e = entry(server.url + "/sei_model.tar.gz", None, name="test.sei", member="sei.pth")
    with pytest.warns(UserWarning, match="no md5 was published"):
        path = fetch(e, progress=False)
    assert path == _cache / "test.sei" / "sei.pth" and path.read_bytes() == WEIGHTS
    assert (_cache / "test.sei" / "sei_model.tar.gz.md5").read_text().strip() == md5(archive)
    assert fetch(e, progress=False, member="x.npy").read_bytes() == b"np"
    server.stop()
    assert fetch(e, progress=False) == path  # from the cache
    assert files_under(_cache) == [
        "test.sei/sei.pth", "test.sei/sei.pth.stamp", "test.sei/sei_model.tar.gz",
        "test.sei/sei_model.tar.gz.md5", "test.sei/sei_model.tar.gz.stamp",
        "test.sei/x.npy", "test.sei/x.npy.stamp",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("../../evil/sei.pth", WEIGHTS)], "refusing member '../../evil/sei.pth': an unsafe path"),
        ([("/tmp/evil/sei.pth", WEIGHTS)], "refusing member '/tmp/evil/sei.pth': an unsafe path"),
        ([("model/sei.pth", "/etc/passwd")], "refusing member 'model/sei.pth': not a regular file"),
        ([("a/sei.pth", WEIGHTS), ("b/sei.pth", WEIGHTS)], "2 members are named 'sei.pth'"),
        ([("model/other.pth", WEIGHTS)], r"no member named 'sei.pth' \(members: model/other.pth\)"),
    ],
)
def test_a_hostile_or_odd_archive_is_refused_and_writes_nothing_outside(
    server, tmp_path, _cache, members, message
):
    server.files["/a.tar.gz"] = tar_gz(*members)
    e = entry(server.url + "/a.tar.gz", md5(server.files["/a.tar.gz"]), name="test.hostile", member="sei.pth")
    with pytest.raises(ArchiveError, match=message):
        fetch(e, progress=False)
    # the verified archive (and its stamp) only
    assert files_under(tmp_path) == ["cache/test.hostile/a.tar.gz", "cache/test.hostile/a.tar.gz.stamp"]
    assert not Path("/tmp/evil/sei.pth").exists()


def test_a_damaged_archive_is_refused_and_keeps_no_member(server, _cache):
    whole = tar_gz(("model/sei.pth", bytes(range(256)) * 4000))
    server.files["/a.tar.gz"] = whole[: len(whole) // 2]  # as published, but cut: the md5 fits
    e = entry(server.url + "/a.tar.gz", md5(whole[: len(whole) // 2]), name="test.damaged", member="sei.pth")
    with pytest.raises(ArchiveError, match="a damaged archive"):
        fetch(e, progress=False)
    assert files_under(_cache) == ["test.damaged/a.tar.gz", "test.damaged/a.tar.gz.stamp"]


# --- local copies and checks -----------------------------------------------------------------


def test_a_local_copy_is_checked_against_the_published_md5(tmp_path):
    local = tmp_path / "w.pth"
    local.write_bytes(WEIGHTS)
    good = entry("https://example.org/w.pth", md5(WEIGHTS))
    assert locate_weights(good, weights=local) == Located(local, md5(WEIGHTS), checked=True)
    bad = entry("https://example.org/w.pth", md5(b"other"))
    with pytest.raises(ChecksumError) as err:
        locate_weights(bad, weights=local)
    assert md5(WEIGHTS) in str(err.value) and md5(b"other") in str(err.value)
    with pytest.warns(UserWarning, match=r"not checked .*check_md5=False"):
        assert locate_weights(bad, weights=local, check_md5=False) == Located(local, None, checked=False)
    with pytest.warns(UserWarning, match=f"md5 {md5(WEIGHTS)} differs from the published md5"):
        verify(bad, local, allow_mismatch=True)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        locate_weights(good, weights=tmp_path / "missing.pth")


def test_a_published_name_checks_a_local_copy_too(tmp_path):
    local = tmp_path / "deepsea_predict.pth"
    local.write_bytes(WEIGHTS)
    with pytest.raises(ChecksumError, match="89e640bf6bdbe1ff165f484d9796efc7"):
        locate_weights("deepsea.kipoi_predict", weights=local)


def test_a_local_archive_gives_its_member(tmp_path, _cache):
    local = tmp_path / "sei_model.tar.gz"
    local.write_bytes(tar_gz(("model/sei.pth", WEIGHTS)))
    e = entry(
        "https://example.org/sei_model.tar.gz", md5(local.read_bytes()), name="test.sei", member="sei.pth"
    )
    located = locate_weights(e, weights=local)
    assert located.path.read_bytes() == WEIGHTS and _cache in located.path.parents
    assert located.md5 == md5(local.read_bytes()) and located.checked


# --- the catalogue --------------------------------------------------------------------------


def test_the_catalogue_lists_the_published_models():
    dna = [name for name in list_pretrained() if name.split(".")[0] in ("basset", "beluga", "deepsea", "sei")]
    assert dna == [
        "basset.kipoi",
        "beluga.expecto",
        "deepsea.kipoi_predict",
        "deepsea.kipoi_variant_effects",
        "sei.sei_framework",
    ]
    assert list_pretrained() == sorted(
        e.name for e in zoo.models.all_published()
    )  # the image models' files too
    assert "dcgan.mnist28_netd" in list_pretrained()
    assert get_pretrained("sei") is get_pretrained("sei.sei_framework")
    assert get_pretrained("deepsea").name == "deepsea.kipoi_predict"
    with pytest.raises(
        ValueError, match=r"unknown pretrained model 'deepsea.kipoi'.*Did you mean 'deepsea.kipoi_predict'"
    ):
        get_pretrained("deepsea.kipoi")


@pytest.mark.parametrize("e", all_pretrained(), ids=lambda e: e.name)
def test_every_entry_fits_its_model_and_its_target_list(e):
    assert e.url.startswith("https://") and e.filename and "?" not in e.filename
    assert e.md5 is None or re.fullmatch(r"[0-9a-f]{32}", e.md5)
    assert e.model in zoo.list_models()
    with torch.device("meta"):  # paper sizes without the memory
        model = zoo.create_model(e.model, **e.args)
    # the entry's layout is one its own model registered
    assert e.layout in {layout.name for layout in all_layouts() if layout.model == e.model}
    with pytest.raises(TypeError):
        e.args["head"] = "identity"  # entries are read-only
    if e.n_value is None:  # an image model's file: no target list
        assert e.targets is None and e.seq_len is None
        return
    assert model.seq_len == e.seq_len and model.rc_average == e.rc_average
    assert len(load_target_names(e.targets)) == model.n_targets


def test_conventions_of_the_published_files():
    assert get_pretrained("deepsea.kipoi_predict").rc_average
    assert not get_pretrained("deepsea.kipoi_variant_effects").rc_average
    assert get_pretrained("beluga.expecto").n_value == 0.0
    sei = get_pretrained("sei")
    assert sei.rc_average and sei.md5 is None and sei.archive_member == "sei.pth"
    assert sei.filename == "sei_model.tar.gz"
    assert os.path.basename(get_pretrained("basset").filename) == "pretrained_model_reloaded_th.pth"


# --- zoo.create_model with catalogue names ---------------------------------------------------

SMALL_DEEPSEA = {"seq_len": 200, "n_targets": 919, "hidden": 8}


@pytest.fixture
def add_entry(publish):
    """Add catalogue entries for a test (the published files are too large for tests): a
    stand-in record of ``model`` named ``model.tag``, with ``fields`` changed."""

    def add(model: str, tag: str, **fields) -> PublishedFile:
        like = {"deepsea": "deepsea.kipoi_predict", "sei": "sei.sei_framework"}[model]
        defaults = {"url": "https://example.org/" + tag, "md5": None, "license": "MIT", "source": "test"}
        return publish(like, name=f"{model}.{tag}", **{**defaults, **fields})

    return add


def kipoi_predict_file(path: Path) -> tuple[torch.nn.Module, bytes]:
    """A small stand-in of Kipoi's DeepSEA predict file, saved as Kipoi's file is (a state_dict)."""
    original = legacy.kipoi_deepsea_predict(**SMALL_DEEPSEA).eval()
    torch.save(original.state_dict(), path)
    return original, path.read_bytes()


def test_pretrained_true_downloads_verifies_and_names_the_outputs(server, _cache, add_entry, tmp_path):
    original, data = kipoi_predict_file(tmp_path / "deepsea_predict.pth")
    server.files["/deepsea_predict.pth"] = data
    e = add_entry(
        "deepsea",
        tag="test_predict",
        url=server.url + "/deepsea_predict.pth?download=1",
        md5=md5(data),
        layout="kipoi-deepsea-predict",
        args={**SMALL_DEEPSEA, "rc_average": True},
    )
    model = zoo.create_model("deepsea.test_predict", pretrained=True, progress=False).eval()
    assert model.rc_average and model.seq_len == 200
    assert model.target_names == load_target_names("deepsea_919") and model.n_value == 0.25
    assert model.source == {"name": e.name, "url": e.url, "md5": md5(data), "license": "MIT"}
    x = zoo.one_hot(["ACGTTGCANN" * 20, "TTGACCAGTA" * 20])
    with torch.no_grad():
        expected = original(legacy_input(x))
        torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-5)
    server.stop()  # from the cache from now on
    again = zoo.create_model("deepsea.test_predict", pretrained=True, progress=False)
    assert again.target_names == model.target_names
    table = target_table(model.target_names)
    ctcf = [t.name for t in table if t.assay == "CTCF"]  # the table of a model's own names
    assert len(ctcf) > 10 and all("_CTCF_" in name for name in ctcf)


def legacy_input(x: torch.Tensor) -> torch.Tensor:
    """Kipoi's 4-D input (N, 4, 1, L) in ACGT order (its ReCodeAlphabet turns it into AGCT)."""
    return x.unsqueeze(2)


def test_a_local_copy_is_md5_checked_and_refused_with_both_hashes(tmp_path):
    _, data = kipoi_predict_file(tmp_path / "deepsea_predict.pth")
    with pytest.raises(ChecksumError) as err:
        zoo.create_model("deepsea.kipoi_predict", weights=tmp_path / "deepsea_predict.pth", **SMALL_DEEPSEA)
    assert md5(data) in str(err.value) and "89e640bf6bdbe1ff165f484d9796efc7" in str(err.value)
    with pytest.warns(UserWarning, match=r"not checked against deepsea.kipoi_predict's published md5"):
        model = zoo.create_model(
            "deepsea.kipoi_predict",
            weights=tmp_path / "deepsea_predict.pth",
            check_md5=False,
            **SMALL_DEEPSEA,
        )
    assert len(model.target_names) == 919 and model.source["md5"] is None


def test_without_a_published_md5_the_hash_seen_is_said_and_recorded(tmp_path, add_entry):
    """Sei's archive has no published md5: a local copy loads, with a warning giving its md5."""
    # a zoo Sei of 40 targets stands in for the original network (the keys are the original's)
    network = zoo.create_model("sei", seq_len=64, n_targets=40, conv_channels=(4, 4, 8))
    original = legacy.SeleneNonStrandSpecific(network).eval()
    buffer = io.BytesIO()
    torch.save({"state_dict": original.state_dict()}, buffer)
    archive = tmp_path / "sei_model.tar.gz"
    archive.write_bytes(tar_gz(("model/sei.pth", buffer.getvalue())))
    add_entry(
        "sei",
        tag="test",
        url="https://example.org/sei_model.tar.gz",
        layout="selene-sei",
        archive_member="sei.pth",
        targets="sei_seqclass_40",  # any shipped list of this model's small size
        args={"seq_len": 64, "n_targets": 40, "conv_channels": (4, 4, 8), "rc_average": True},
    )
    seen = md5(archive.read_bytes())
    with pytest.warns(UserWarning, match=f"no md5 was published .* its md5 is {seen}"):
        model = zoo.create_model("sei.test", weights=archive).eval()
    assert model.source["md5"] == seen and model.target_names == load_target_names("sei_seqclass_40")
    x = zoo.one_hot(["ACGT" * 16, "TTGA" * 16])
    with torch.no_grad():
        torch.testing.assert_close(model(x), original(x), rtol=0, atol=1e-5)


def test_a_plain_model_name_is_unchanged(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("no download for a plain model name")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    model = zoo.create_model("deepsea", **SMALL_DEEPSEA)
    assert model.target_names is None and model.n_value is None and model.source is None
    assert not model.rc_average


def test_a_catalogue_name_without_weights_is_the_published_architecture(monkeypatch):
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda *a, **k: pytest.fail("no download without pretrained")
    )
    with torch.device("meta"):
        model = zoo.create_model("beluga.expecto")
    assert model.rc_average and model.n_value == 0.0 and len(model.target_names) == 2002
    assert model.source is None  # no weights, so no source


def test_unknown_catalogue_names_and_models_without_entries(monkeypatch):
    with pytest.raises(
        ValueError, match=r"unknown pretrained model 'deepsea.kipoi'.*'deepsea.kipoi_predict'"
    ):
        zoo.create_model("deepsea.kipoi", pretrained=True)
    with pytest.raises(ValueError, match=r"model 'danq' has no published checkpoint"):
        zoo.create_model("danq", pretrained=True)


def test_the_zoo_format_keeps_names_conventions_and_source(tmp_path, add_entry):
    _, data = kipoi_predict_file(tmp_path / "deepsea_predict.pth")
    add_entry(
        "deepsea",
        tag="test_predict",
        url="https://example.org/deepsea_predict.pth",
        md5=md5(data),
        layout="kipoi-deepsea-predict",
        args={**SMALL_DEEPSEA, "rc_average": True},
        n_value=0.0,
    )
    model = zoo.create_model("deepsea.test_predict", weights=tmp_path / "deepsea_predict.pth")
    path = zoo.save_weights(model, tmp_path / "m.safetensors")
    meta = zoo.weights.read_metadata(path)
    assert json.loads(meta["zoo_targets"]) == model.target_names and json.loads(meta["zoo_n_value"]) == 0.0
    assert json.loads(meta["zoo_source"])["md5"] == md5(data)
    loaded = zoo.load_model(path)
    assert (loaded.target_names, loaded.n_value, loaded.source) == (model.target_names, 0.0, model.source)
    assert loaded.rc_average
    plain = zoo.load_model(
        zoo.save_weights(zoo.create_model("deepsea", **SMALL_DEEPSEA), tmp_path / "p.safetensors")
    )
    assert plain.target_names is None and plain.n_value is None


# --- zoo-pretrained and the README table ------------------------------------------------------


def test_readme_carries_the_catalogue_table():
    table = catalogue_table()
    assert table in (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert len(table.splitlines()) == 2 + len(all_pretrained())
    sei = "| `sei.sei_framework` | `sei` | (N, 4, 4096) | (N, 21907) | 21,907 (sei_21907) |"
    assert sei + " both strands averaged; N as 0.25 | none published |" in table
    netg = "| `dcgan.mnist28_netg` | `image_decoder` | (N, 100) | (N, 1, 28, 28) | - | pixels in [-1, 1] |"
    assert netg in table


def test_the_command_lists_and_shows_entries(capsys):
    assert pretrained_cli(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "model", "input"] and len(lines) == 1 + len(all_pretrained())
    row = next(line for line in lines if line.startswith("deepsea.kipoi_predict "))
    assert row.split()[:8] == ["deepsea.kipoi_predict", "deepsea", "(N,", "4,", "1000)", "(N,", "919)", "919"]
    assert pretrained_cli(["show", "deepsea.kipoi_predict"]) == 0
    shown = capsys.readouterr().out
    for text in (
        "strands: both, probabilities averaged",
        "N as 0.25 in each channel",
        "919 (zoo.targets list 'deepsea_919')",
        "md5:     89e640bf6bdbe1ff165f484d9796efc7",
        "license: CC-BY-3.0",
        "https://zenodo.org/record/1466993/files/deepsea_predict.pth?download=1",
        f"cached:  no, expected at {cache_dir() / 'deepsea.kipoi_predict' / 'deepsea_predict.pth'} "
        "(zoo-pretrained download deepsea.kipoi_predict)",
    ):
        assert text in shown, text
    assert pretrained_cli(["show", "deepsea.kipo"]) == 1
    assert re.search(
        r"unknown pretrained model 'deepsea.kipo'\. Did you mean .*'deepsea.kipoi_predict'",
        capsys.readouterr().err,
    )


def test_the_command_downloads_and_verifies(server, _cache, add_entry, tmp_path, capsys):
    server.files["/w.pth"] = WEIGHTS
    add_entry("deepsea", tag="test", url=server.url + "/w.pth", md5=md5(WEIGHTS))
    assert pretrained_cli(["download", "deepsea.test", "--no-progress"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == _cache / "deepsea.test" / "w.pth" and path.read_bytes() == WEIGHTS
    assert pretrained_cli(["show", "deepsea.test"]) == 0
    assert f"cached:  {path}" in capsys.readouterr().out

    assert pretrained_cli(["verify", "deepsea.test", str(path)]) == 0
    assert f"md5 {md5(WEIGHTS)} is the published md5 of deepsea.test" in capsys.readouterr().out
    (tmp_path / "other.pth").write_bytes(WEIGHTS + b"!")
    assert pretrained_cli(["verify", "deepsea.test", str(tmp_path / "other.pth")]) == 1
    err = capsys.readouterr().err
    assert md5(WEIGHTS + b"!") in err and md5(WEIGHTS) in err

    add_entry("deepsea", tag="unpublished", url=server.url + "/w.pth", md5=None)
    assert pretrained_cli(["verify", "deepsea.unpublished", str(path)]) == 3
    assert f"md5 {md5(WEIGHTS)}; not checked: no md5 was published" in capsys.readouterr().out
    assert pretrained_cli(["download", "deepsea.unpublished", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert f"md5 seen: {md5(WEIGHTS)}" in captured.err and captured.out.strip().endswith("w.pth")
    add_entry("deepsea", tag="progress", url=server.url + "/w.pth", md5=md5(WEIGHTS))
    assert pretrained_cli(["download", "deepsea.progress"]) == 0
    assert re.search(r"w\.pth: 100%.*85\.0k", capsys.readouterr().err)  # tqdm's bar, on stderr
    add_entry("deepsea", tag="gone", url=server.url + "/gone.pth", md5=md5(WEIGHTS))
    assert pretrained_cli(["download", "deepsea.gone", "--no-progress"]) == 1
    assert f"zoo-pretrained: error: downloading {server.url}/gone.pth failed" in capsys.readouterr().err


def test_an_image_models_published_file_loads_by_name(tmp_path):
    """The catalogue holds the image models' files too: same name, md5 and cache rules."""
    original = legacy.ExamplesVAE().eval()
    torch.save(original.state_dict(), tmp_path / "vae_epoch_25.pth")
    with pytest.raises(ChecksumError, match="170d7720f7d98109540d6ee88d1c6898"):
        zoo.create_model("vae.mnist", weights=tmp_path / "vae_epoch_25.pth")
    with pytest.warns(UserWarning, match="check_md5=False"):
        model = zoo.create_model("vae.mnist", weights=tmp_path / "vae_epoch_25.pth", check_md5=False).eval()
    assert model.source["name"] == "vae.mnist" and model.target_names is None and model.n_value is None
    z = torch.randn(3, 20)
    with torch.no_grad():
        torch.testing.assert_close(model.decode(z), original.decode(z).view(3, 1, 28, 28), rtol=0, atol=1e-6)


# --- the cache is checked, not trusted ------------------------------------------------------


def _unreachable(*args, **kwargs):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


def test_a_file_put_under_the_caches_name_is_refused_not_loaded(
    _cache, add_entry, tmp_path, monkeypatch, capsys
):
    original, data = kipoi_predict_file(tmp_path / "deepsea_predict.pth")
    e = add_entry(
        "deepsea",
        tag="placed",
        url="https://example.org/deepsea_predict.pth",
        md5=md5(data),
        layout="kipoi-deepsea-predict",
        args={**SMALL_DEEPSEA, "rc_average": True},
    )
    monkeypatch.setattr(urllib.request, "urlopen", _unreachable)
    cached = _cache / e.name / "deepsea_predict.pth"
    cached.parent.mkdir(parents=True)
    other = legacy.kipoi_deepsea_predict(**SMALL_DEEPSEA)  # same layout, other weights
    torch.save(other.state_dict(), cached)
    placed = md5(cached.read_bytes())
    with pytest.raises(ChecksumError) as err:
        zoo.create_model(e.name, pretrained=True, progress=False)
    message = str(err.value)
    assert str(cached) in message and placed in message and md5(data) in message and "\n" not in message
    assert pretrained_cli(["download", e.name, "--no-progress"]) == 1
    assert placed in capsys.readouterr().err
    assert pretrained_cli(["verify", e.name]) == 1  # the cached file, checked in full
    assert placed in capsys.readouterr().err
    assert cached.is_file()  # the user's file is reported, never deleted

    cached.write_bytes(data)  # the published bytes, put there by hand: checked, then stamped
    model = zoo.create_model(e.name, pretrained=True, progress=False)
    assert model.source["md5"] == md5(data)
    assert (cached.parent / "deepsea_predict.pth.stamp").is_file()
    assert pretrained_cli(["verify", e.name]) == 0
    assert f"md5 {md5(data)} is the published md5 of {e.name}" in capsys.readouterr().out

    def no_hashing(path):
        raise AssertionError("a stamped file whose size and time are unchanged is not hashed again")

    with monkeypatch.context() as patched:
        patched.setattr(zoo.weights.download, "file_md5", no_hashing)
        assert locate_weights(e.name, progress=False).md5 == md5(data)
    changed = bytearray(data)
    changed[-3] ^= 1  # the same size, a later time: the stamp disagrees, the full md5 decides
    cached.write_bytes(bytes(changed))
    os.utime(cached, ns=(cached.stat().st_atime_ns, cached.stat().st_mtime_ns + 10**9))
    with pytest.raises(ChecksumError, match=md5(bytes(changed))):
        zoo.create_model(e.name, pretrained=True, progress=False)


def test_a_changed_file_of_an_unpublished_entry_is_refused(server, _cache):
    server.files["/w.pth"] = WEIGHTS
    e = entry(server.url + "/w.pth", None, name="test.unpublished_changed")
    with pytest.warns(UserWarning, match="no md5 was published"):
        path = fetch(e, progress=False)
    path.write_bytes(WEIGHTS + b"!")
    with pytest.raises(ChecksumError, match="recorded when it was downloaded"):
        fetch(e, progress=False)


def test_an_extracted_member_changed_in_the_cache_is_extracted_again(server, _cache):
    archive = tar_gz(("model/sei.pth", WEIGHTS), ("model/x.npy", b"np"))
    server.files["/sei_model.tar.gz"] = archive
    e = entry(server.url + "/sei_model.tar.gz", md5(archive), name="test.sei", member="sei.pth")
    member = fetch(e, progress=False)
    member.write_bytes(b"something else")
    server.stop()
    assert fetch(e, progress=False) == member and member.read_bytes() == WEIGHTS


def test_offline_pretrained_is_one_line_naming_the_url_the_cache_path_and_the_ways_out(
    _cache, add_entry, monkeypatch, capsys
):
    e = add_entry("deepsea", tag="offline", url="https://example.org/deepsea_predict.pth", md5=md5(WEIGHTS))
    monkeypatch.setattr(urllib.request, "urlopen", _unreachable)
    with pytest.raises(DownloadError) as err:
        zoo.create_model(e.name, pretrained=True, progress=False)
    message = str(err.value)
    expected_at = _cache / e.name / "deepsea_predict.pth"
    assert isinstance(err.value, zoo.errors.ZooError) and "\n" not in message
    assert e.url in message and str(expected_at) in message
    assert "weights=PATH" in message and f"zoo-pretrained download {e.name}" in message
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert not expected_at.parent.exists() or files_under(expected_at.parent) == []
    assert pretrained_cli(["show", e.name]) == 0
    assert str(expected_at) in capsys.readouterr().out
