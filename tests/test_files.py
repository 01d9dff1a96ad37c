"""zoo._io.writing.atomic_path, the one way every writer replaces a file: complete or untouched,
the existing file's permissions kept, read-only files and devices never replaced."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from _io_support import fifo_reader

from zoo._io.writing import ReadOnlyOutputError, atomic_path, publish_folder, staging_folder


def _write(path: Path, text: str, **options: bool) -> None:
    with atomic_path(path, **options) as tmp:
        tmp.write_text(text)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_replacing_a_file_keeps_its_permissions(tmp_path: Path) -> None:
    out = tmp_path / "out.tsv"
    out.write_text("old")
    out.chmod(0o600)  # private data stays private
    _write(out, "new")
    assert out.read_text() == "new" and _mode(out) == 0o600
    out.chmod(0o751)
    _write(out, "newer")
    assert _mode(out) == 0o751
    _write(out, "newest", keep_mode=False)
    assert _mode(out) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_read_only_file_is_replaced_only_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "out.tsv"
    out.write_text("keep me")
    out.chmod(0o444)
    with pytest.raises(ReadOnlyOutputError, match="is a read-only file"):
        _write(out, "new")
    assert out.read_text() == "keep me" and os.listdir(tmp_path) == ["out.tsv"]
    _write(out, "new", overwrite_readonly=True)
    assert out.read_text() == "new" and _mode(out) == 0o444


def test_a_symlink_is_followed_and_stays_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    target = tmp_path / "data" / "real.tsv"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.tsv"
    link.symlink_to(target)
    _write(link, "new")
    assert link.is_symlink() and target.read_text() == "new" and _mode(target) == 0o640
    dangling = tmp_path / "dangling.tsv"
    dangling.symlink_to(tmp_path / "data" / "later.tsv")
    _write(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "data" / "later.tsv").read_text() == "made"
    assert sorted(os.listdir(tmp_path / "data")) == ["later.tsv", "real.tsv"]  # no temporary left


def test_a_fifo_is_written_into_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    streamed = fifo_reader(fifo)
    _write(fifo, "streamed")
    assert streamed() == "streamed" and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]


def test_a_device_node_is_written_into_not_replaced(tmp_path: Path) -> None:
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private copy of /dev/null
    except PermissionError:
        pytest.skip("making a device node needs root")
    link = tmp_path / "out.tsv"
    link.symlink_to(null)
    _write(null, "gone")
    _write(link, "gone too")
    assert stat.S_ISCHR(os.stat(null).st_mode) and link.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["null", "out.tsv"]


def test_a_folder_output_is_staged_and_replaces_only_an_earlier_output(tmp_path: Path) -> None:
    out = tmp_path / "results"
    umask = os.umask(0o022)
    try:
        tmp = staging_folder(out)
    finally:
        os.umask(umask)
    assert tmp.parent == tmp_path and tmp.name.startswith(".results.") and not any(tmp.iterdir())
    assert _mode(tmp) == 0o755  # as mkdir makes it, not mkdtemp's private 0700
    (tmp / "old.txt").write_text("old")
    publish_folder(tmp, out, command="zoo-x")
    assert sorted(p.name for p in out.iterdir()) == [".zoo-outputs", "old.txt"]
    tmp = staging_folder(out)  # inside the existing folder
    assert tmp.parent == out and tmp.name.startswith(".results.")
    (tmp / "new.txt").write_text("new")
    publish_folder(tmp, out, command="zoo-x")
    assert sorted(p.name for p in out.iterdir()) == [".zoo-outputs", "new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # nothing left beside it
    tmp = staging_folder(out)
    with pytest.raises(FileExistsError, match="'new.txt', which zoo-y did not write"):
        publish_folder(tmp, out, command="zoo-y")  # another command's output is not replaced
    assert (out / "new.txt").read_text() == "new"
