"""``zoo-pretrained``: the catalogue of published checkpoints; download or verify their files.

    zoo-pretrained list
    zoo-pretrained show deepsea.kipoi_predict
    zoo-pretrained download deepsea.kipoi_predict     # into the cache; prints the path
    zoo-pretrained verify deepsea.kipoi_predict deepsea_predict.pth
    zoo-pretrained verify deepsea.kipoi_predict       # the cached file, hashed in full

Downloads go to ``$ZOO_CACHE_DIR`` (default ``$XDG_CACHE_HOME/sigmoid-zoo`` or
``~/.cache/sigmoid-zoo``) and are kept only when complete and matching the published md5;
a cached file is checked again (its stamp, or its md5) whenever it is used.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from zoo.cli._command import Command
from zoo.models import get_spec
from zoo.pretrained import (
    PublishedFile,
    cached_md5,
    entry_dir,
    fetch,
    file_md5,
    get_pretrained,
    verify,
    verify_cached,
)
from zoo.summary import catalogue_rows
from zoo.targets import load_target_names

EPILOG = """exit status of verify: 0 the file's md5 is the published one; 1 it differs (or an error);
3 no md5 was published to compare with (the file's md5 is printed)"""
UNCHECKED = 3


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog="zoo-pretrained",
        description=__doc__.splitlines()[0].split(": ", 1)[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every published checkpoint, one per line")
    show = sub.add_parser("show", help="one checkpoint: conventions, targets, URL, license, md5, cache")
    show.add_argument("name", help="catalogue name (e.g. deepsea.kipoi_predict) or a model name")
    down = sub.add_parser("download", help="download into the cache (once) and print the path")
    down.add_argument("name")
    down.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    check = sub.add_parser(
        "verify", help="check a local file (default: the cached one) against the published md5"
    )
    check.add_argument("name")
    check.add_argument("file", nargs="?", help="a local copy (default: the cached file, hashed in full)")
    return p


def _list() -> str:
    rows = catalogue_rows()
    columns = ("name", "model", "input", "output", "names", "conventions", "md5", "license")
    titles = {"names": "output names"}
    table = [[titles.get(c, c) for c in columns], *([r[c] for c in columns] for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in table)


def _data_fields(entry: PublishedFile) -> list[tuple[str, str]]:
    """What the model reads and writes: DNA windows and named targets, or images."""
    fields = []
    if entry.n_value is not None:
        alphabet = get_spec(entry.model).conventions.alphabet
        described = f"{entry.seq_len} bp one-hot {alphabet}, N as {entry.n_value:g} in each channel"
        fields.append(("input", described))
        fields.append(("strands", "both, probabilities averaged" if entry.rc_average else "forward only"))
    if entry.targets:
        names = load_target_names(entry.targets)
        listed = f"{len(names):,} (zoo.targets list {entry.targets!r}): {', '.join(names[:3])}, ..."
        fields.append(("targets", listed))
    if entry.image_shape is not None and entry.value_range is not None:
        shape = " x ".join(map(str, entry.image_shape))
        fields.append(("images", f"{shape}, pixels in [{entry.value_range[0]:g}, {entry.value_range[1]:g}]"))
    if entry.latent_size is not None:
        fields.append(("latent", f"{entry.latent_size} standard normal values"))
    return fields


def _show(entry: PublishedFile) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in entry.args.items())
    md5 = entry.md5 or "none published"
    cached = entry_dir(entry) / (entry.archive_member or entry.filename)
    if entry.md5 is None and cached_md5(entry):
        md5 += f" (seen at download: {cached_md5(entry)})"
    fields = [
        ("model", f"{entry.model} ({args})"),
        *_data_fields(entry),
        ("layout", entry.layout),
        ("source", entry.source),
        ("url", entry.url),
        ("file", entry.filename + (f" (holds {entry.archive_member})" if entry.archive_member else "")),
        ("md5", md5),
        ("license", entry.license),
        *([("paper", entry.paper)] if entry.paper else []),
        (
            "cached",
            str(cached)
            if cached.is_file()
            else f"no, expected at {cached} (zoo-pretrained download {entry.name})",
        ),
        ("python", f"zoo.create_model({entry.name!r}, pretrained=True)"),
    ]
    return "\n".join([entry.name, f"  {entry.description}", *(f"  {k + ':':9}{v}" for k, v in fields)])


def _verify(entry: PublishedFile, path: str) -> int:
    if entry.md5 is None:
        print(
            f"{path}: md5 {file_md5(path)}; not checked: no md5 was published for {entry.name} "
            "(compare it with the md5 of a copy you trust)"
        )
        return UNCHECKED
    seen = verify(entry, path)  # a ChecksumError naming both hashes when they differ
    print(f"{path}: md5 {seen} is the published md5 of {entry.name}")
    return 0


def run(ns: argparse.Namespace) -> int:
    """Run the parsed subcommand; returns the exit status (see EPILOG)."""
    if ns.command == "list":
        print(_list())
        return 0
    entry = get_pretrained(ns.name)
    if ns.command == "show":
        print(_show(entry))
        return 0
    if ns.command == "download":
        with warnings.catch_warnings():  # the md5-not-published warning: said once, plainly
            warnings.simplefilter("ignore")
            path = fetch(entry, progress=not ns.no_progress)
        if entry.md5 is None:
            print(f"zoo-pretrained: no md5 was published; md5 seen: {cached_md5(entry)}", file=sys.stderr)
        print(path)
        return 0
    if ns.file is None:  # the cached file: a full hash, whatever its stamp says
        path, seen = verify_cached(entry)
        if entry.md5 is None:  # compared with the md5 recorded at download, where there is one
            print(f"{path}: md5 {seen}; not checked: no md5 was published for {entry.name}")
            return UNCHECKED
        print(f"{path}: md5 {seen} is the published md5 of {entry.name}")
        return 0
    return _verify(entry, ns.file)


COMMAND = Command("zoo-pretrained", build_parser, run, reported=(OSError, ValueError))
main = COMMAND.main
call = COMMAND.call


if __name__ == "__main__":
    main()
