"""Pages generated when the site is built, so that they follow the code: one per console script
(from its ``--help``), one per model family (from the registry), the API reference (from the
docstrings) and the table of the package's extras (from pyproject.toml)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # the docs extra installs tomli on Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

# The API reference: the public modules, in the order the reference lists them, with a line
# saying what each is for. A module that does not exist (yet) is left out.
API_MODULES = {
    "zoo": "Building, loading and saving models; the registry's public names.",
    "zoo.dna": "One-hot encoding and reverse complements.",
    "zoo.heads": "The output heads and the base class of every model.",
    "zoo.models": "The model classes and the registry of their descriptions.",
    "zoo.weights": "Loading, checking, converting and saving weight files.",
    "zoo.pretrained": "The catalogue of published checkpoints and their download cache.",
    "zoo.targets": "The published target lists and matching target names.",
    "zoo.predict": "Scoring FASTA records, intervals and variants (zoo-predict's library).",
    "zoo.inference": "The fast batch-scoring path: bf16, oneDNN channels-last, the finite guard.",
    "zoo.interpret": "In-silico mutagenesis, attributions, TF-MoDISco inputs and pictures.",
    "zoo.sampling": "Pictures from the image models.",
    "zoo.plan": "A DNA model lowered once into a typed plan of operations.",
    "zoo.data": "Lightning data modules of DNA and image data.",
    "zoo.tasks": "Lightning tasks: classification, GAN and VAE training.",
    "zoo.training": "A training run from a composed config (what zoo-train runs).",
    "zoo.effects": "Variant-effect scores: Sei sequence classes, backgrounds, e-values, saturation.",
    "zoo.motifs": "Motif databases (JASPAR offline, MEME files), seqlets, TOMTOM names and FIMO scans.",
    "zoo.design": "Sequence design: greedy and beam search on exact ISM, and ledidi.",
    "zoo.export": "ONNX and torch.export programs of zoo models.",
    "zoo.hub": "Zoo-format files on the Hugging Face Hub.",
    "zoo.errors": "The errors the library raises about what a user gave.",
}


def module_exists(name: str) -> bool:
    """Whether ``name`` is an importable module (without importing it).

    Args:
        name: a dotted module name.
    """
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _api_page(module: str) -> str:
    """One module's reference page. A package whose names load lazily (``_EXPORTS``: ``zoo``,
    ``zoo.predict``, ``zoo.weights``) shows its docstring, then each name from the module
    that defines it, since static analysis cannot follow the lazy imports."""
    head = f"# `{module}`\n\n{API_MODULES[module]}\n\n"
    try:
        exports = getattr(importlib.import_module(module), "_EXPORTS", None)
    except ImportError:  # a module needing an optional library: documented from its source alone
        exports = None
    if not exports:
        return head + f"::: {module}\n"
    text = [head + f"::: {module}\n    options:\n      members: false\n"]
    elsewhere = []
    for name in sorted(exports, key=str.lower):
        where = importlib.util.resolve_name(exports[name], module)
        if where != module and where in API_MODULES and module_exists(where):
            elsewhere.append(f"- [`{name}`][{where}.{name}] (`{where}`)")
            continue
        text.append(
            f"::: {where}.{name}\n    options:\n      show_root_heading: true\n"
            "      show_root_full_path: false\n"
        )
    if elsewhere:
        text += ["## Documented with their modules", "", *elsewhere, ""]
    return "\n".join(text)


def api_pages() -> dict[str, str]:
    """The API reference: ``api/<module>.md`` -> its Markdown (mkdocstrings directives).

    Returns:
        One page per module of :data:`API_MODULES` that exists, and ``api/index.md``.
    """
    modules = [m for m in API_MODULES if module_exists(m)]
    pages = {f"api/{m}.md": _api_page(m) for m in modules}
    index = ["# API reference", "", "Generated from the docstrings of the public modules.", ""]
    index += [f"- [`{m}`]({m}.md): {API_MODULES[m]}" for m in modules]
    pages["api/index.md"] = "\n".join(index) + "\n"
    return pages


# --- commands ------------------------------------------------------------------------------


def console_scripts() -> dict[str, str]:
    """pyproject.toml's ``[project.scripts]``: command -> the module whose parser it runs.

    The entry points go through ``zoo.cli._launch``, whose ``COMMANDS`` names each one's module.
    """
    from zoo.cli._launch import COMMANDS

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    found = {}
    for command, target in sorted(scripts.items()):
        module, _, function = target.partition(":")
        if module == "zoo.cli._launch" and function in COMMANDS:
            found[command] = COMMANDS[function][1]
        else:
            found[command] = module
    return found


def _help(parser: argparse.ArgumentParser) -> str:
    """A parser's ``--help`` at a fixed width, so the page does not depend on the terminal."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        return parser.format_help()
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved


def _subcommands(parser: argparse.ArgumentParser, command: Any = None) -> dict[str, argparse.ArgumentParser]:
    """A parser's subcommands (``zoo-pretrained list``, ...), in the order they were added, then
    those its ``Command`` runs by their first argument (``zoo-predict merge``)."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if sub not in found.values():
                    found[name] = sub
    for name, make in getattr(command, "subcommands", {}).items():
        found[name] = make().build_parser()
    return found


def _fenced(text: str) -> str:
    return f"```text\n{text.rstrip()}\n```\n"


def _first_comment(path: Path) -> str:
    """The comment that opens a config file, its lines joined (``# @package`` lines skipped)."""
    found: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("# @package"):
            continue
        if not line.startswith("#"):
            break
        found.append(line.lstrip("# ").strip())
    return " ".join(found).replace("|", "\\|")


def hydra_groups_table(conf: Path = ROOT / "conf") -> str:
    """zoo-train's config groups: every option of every group with its first comment line.

    Args:
        conf: the config folder.
    """
    lines = ["| group | option | what it is |", "| --- | --- | --- |"]
    for group in sorted(p for p in conf.iterdir() if p.is_dir() and not p.name.startswith("_")):
        for option in sorted(group.glob("*.yaml")):
            lines.append(f"| `{group.name}` | `{option.stem}` | {_first_comment(option) or '-'} |")
    return "\n".join(lines)


def _train_page(module: str) -> str:
    """zoo-train's page: Hydra's help text and the config groups."""
    env = {**os.environ, "COLUMNS": "100", "HYDRA_FULL_ERROR": "0"}
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} --help failed:\n{done.stderr}")
    return (
        "# zoo-train\n\n"
        "`zoo-train` is a Hydra application: its command line is `key=value` overrides of a "
        "config composed from the groups below (`GROUP=OPTION`). The [training guide](../training.md) "
        "explains the recipes and the run folder.\n\n"
        f"## `zoo-train --help`\n\n{_fenced(done.stdout)}\n"
        f"## Config groups\n\nFrom `conf/` (installed as `zoo.conf`):\n\n{hydra_groups_table()}\n"
    )


def command_page(command: str, module: str) -> str:
    """One command's page: its ``--help``, and each subcommand's.

    Args:
        command: the console script's name (``zoo-predict``).
        module: the module whose ``build_parser`` makes its parser.
    """
    mod = importlib.import_module(module)
    if command == "zoo-train":
        return _train_page(module)
    parser = mod.build_parser()
    parser.prog = command
    doc = inspect.getdoc(mod) or ""
    summary = doc.split("\n\n", 1)[0].replace("\n", " ")
    text = [f"# {command}", "", summary, "", f"## `{command} --help`", "", _fenced(_help(parser))]
    for name, sub in _subcommands(parser, getattr(mod, "COMMAND", None)).items():
        text += [f"## `{command} {name}`", "", _fenced(_help(sub))]
    return "\n".join(text)


def command_pages() -> dict[str, str]:
    """``commands/<command>.md`` for every console script, and ``commands/index.md``."""
    scripts = console_scripts()
    pages = {f"commands/{c}.md": command_page(c, m) for c, m in scripts.items()}
    index = ["# Commands", "", "Every command the package installs; each page is its `--help`.", ""]
    for command, module in scripts.items():
        doc = inspect.getdoc(importlib.import_module(module)) or ""
        first = doc.split("\n\n", 1)[0].replace("\n", " ")
        what = first.split(": ", 1)[1] if ": " in first else first
        index.append(f"- [`{command}`]({command}.md): {what}")
    pages["commands/index.md"] = "\n".join(index) + "\n"
    return pages


# --- model families ------------------------------------------------------------------------


def _families() -> dict[str, list[str]]:
    """Family file stem -> the registered model names defined there."""
    from zoo.models import get_spec, list_models

    families: dict[str, list[str]] = {}
    for name in list_models():
        families.setdefault(get_spec(name).cls.__module__.rsplit(".", 1)[-1], []).append(name)
    return families


def _value(value: object) -> str:
    return f"`{value!r}`"


def _target_summary(list_name: str) -> str:
    """A target list in a few lines: how many names, the first ones, the commonest assays."""
    from zoo.targets import load_target_names, target_table

    names = load_target_names(list_name)
    table = target_table(names)
    lines = [
        f"**{list_name}**: {len(names):,} names "
        f"([the full list](../targets/{list_name}.txt), one per line, in output order). "
        f"First: {', '.join(f'`{n}`' for n in names[:3])}."
    ]
    assays = Counter(t.assay for t in table if t.assay)
    if assays:
        common = ", ".join(f"{a} {n:,}" for a, n in assays.most_common(8))
        lines.append(f"Commonest assays: {common}.")
    return " ".join(lines)


def family_page(family: str, names: list[str]) -> str:
    """One model family's page: its architecture (the family file's docstring), and for each
    model its paper, defaults, conventions, the layouts it reads and its published files.

    Args:
        family: the family file's stem (``deepsea``).
        names: the registered models of that file.
    """
    from zoo.models import all_layouts, get_spec
    from zoo.weights.catalogue import all_pretrained

    module = importlib.import_module(f"zoo.models.{family}")
    doc = inspect.getdoc(module) or ""
    title, _, rest = doc.partition("\n")
    text = [f"# {title.split(':', 1)[0].split(' (', 1)[0]}", "", title, "", rest.strip(), ""]
    text += [f"Source: `zoo/models/{family}.py`.", ""]
    layouts = all_layouts()
    published = all_pretrained()
    for name in names:
        spec = get_spec(name)
        text += [f"## `{name}`", ""]
        text += [f'`zoo.create_model("{name}")` builds `{spec.cls.__module__}.{spec.cls.__name__}`.', ""]
        cls_doc = inspect.getdoc(spec.cls) or ""
        if cls_doc:
            text += [cls_doc.split("\n\n", 1)[0].replace("\n", " "), ""]
        if spec.paper:
            doi = f" ([doi:{spec.doi}](https://doi.org/{spec.doi}))" if spec.doi else ""
            text += [f"- Paper: {spec.paper}{doi}"]
        if spec.input_desc:
            text += [f"- Input at the defaults: {spec.input_desc}"]
        conv = spec.conventions
        if conv.alphabet:
            text += [f"- Alphabet: {conv.alphabet}; N encoded as {conv.n_value:g} in every channel"]
        if conv.value_range:
            text += [f"- Pixels in [{conv.value_range[0]:g}, {conv.value_range[1]:g}]"]
        if conv.targets:
            text += [f"- Outputs: {_target_summary(conv.targets)}"]
        text += [""]
        params = inspect.signature(spec.cls.__init__).parameters
        rows = [
            (p, spec.defaults.get(p, params[p].default))
            for p in params
            if p != "self" and params[p].kind is not inspect.Parameter.VAR_KEYWORD
        ]
        if rows:
            text += ["| argument | default |", "| --- | --- |"]
            text += [
                f"| `{p}` | {'(required)' if d is inspect.Parameter.empty else _value(d)} |" for p, d in rows
            ]
            text += [""]
        own = sorted((lay for lay in layouts if lay.model == name), key=lambda lay: lay.name)
        if own:
            text += [
                "### Layouts it reads",
                "",
                "| layout | from | original model ran with |",
                "| --- | --- | --- |",
            ]
            for lay in own:
                implied = ", ".join(f"`{k}={v!r}`" for k, v in lay.implied_args.items())
                wrapped = "; ".join(
                    f"under `{part}.`: " + ", ".join(f"`{k}={v!r}`" for k, v in args.items())
                    for part, args in lay.wrapper_args.items()
                )
                ran_with = "; ".join(x for x in (implied, wrapped) if x) or "-"
                text.append(f"| `{lay.name}` | {lay.description} | {ran_with} |")
            text += [""]
        files = [f for f in published if f.model == name]
        if files:
            text += ["### Published files", ""]
            for f in files:
                text += [f"#### `{f.name}`", "", f.description, ""]
                text += [f'- `zoo.create_model("{f.name}", pretrained=True)`; layout `{f.layout}`']
                if f.args:
                    text += ["- Arguments: " + ", ".join(f"`{k}={v!r}`" for k, v in f.args.items())]
                if f.n_value is not None:
                    strands = "both strands averaged" if f.args.get("rc_average") else "forward strand"
                    text += [f"- Conventions: {strands}; N as {f.n_value:g}"]
                if f.value_range is not None:
                    text += [f"- Conventions: pixels in [{f.value_range[0]:g}, {f.value_range[1]:g}]"]
                if f.targets:
                    text += [f"- Outputs: {_target_summary(f.targets)}"]
                text += [f"- File: <{f.url}> (md5 {f'`{f.md5}`' if f.md5 else 'not published'})"]
                text += [f"- Source: {f.source}; license: {f.license}"]
                text += [""]
    return "\n".join(text)


def model_pages() -> dict[str, str]:
    """``models/<family>.md`` for every family file, and ``models/index.md``."""
    from zoo.summary import catalogue_table, markdown_table, summary_rows

    families = _families()
    pages = {f"models/{fam}.md": family_page(fam, names) for fam, names in families.items()}
    index = ["# Models", "", "One page per model family (one file in `zoo/models/`):", ""]
    for fam, names in families.items():
        index.append(f"- [{fam}]({fam}.md): " + ", ".join(f"`{n}`" for n in names))
    index += ["", "## Every model at its paper size", "", markdown_table(summary_rows())]
    index += ["", "## Published checkpoints", "", catalogue_table(), ""]
    pages["models/index.md"] = "\n".join(index)
    return pages


def target_files() -> dict[str, str]:
    """``targets/<list>.txt`` for every published target list."""
    from zoo.targets import available_target_lists, load_target_names

    return {f"targets/{n}.txt": "\n".join(load_target_names(n)) + "\n" for n in available_target_lists()}


# --- extras --------------------------------------------------------------------------------


def extras_table(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The optional extras: name, the packages, and what they enable (each extra's comment).

    Args:
        pyproject: the project file; an extra's comment is the ``# ...`` after its list.
    """
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    text = pyproject.read_text()
    lines = ["| extra | installs | enables |", "| --- | --- | --- |"]
    for name, packages in extras.items():
        match = re.search(rf"^{re.escape(name)} = \[.*?\][ \t]*(?:#[ \t]*([^\n]*))?$", text, re.M | re.S)
        what = (match.group(1) or "").replace("fmt: skip", "").strip(" ;") if match else ""
        if name == "dev":
            what = "everything below plus the test and lint tools, so that CI tests them all"
        shown = ", ".join(f"`{p}`" for p in packages)
        lines.append(f'| `{name}` (`pip install "sigmoid-zoo[{name}]"`) | {shown} | {what or "-"} |')
    return "\n".join(lines)
