"""The site's generated pages follow the code: every console script, model family, published
file, layout, extra and public module has its place (docs_build/reference.py)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docs_build import reference  # noqa: E402


def _scripts() -> list[str]:
    """[project.scripts]'s command names, read as plain lines (not through the code under test)."""
    text = (ROOT / "pyproject.toml").read_text().split("[project.scripts]\n", 1)[1].split("\n\n", 1)[0]
    return [line.split(" = ", 1)[0] for line in text.splitlines() if " = " in line]


def test_every_console_script_has_a_page_with_its_help() -> None:
    pages = reference.command_pages()
    scripts = _scripts()
    assert len(scripts) >= 8
    assert sorted(p for p in pages if p != "commands/index.md") == sorted(f"commands/{s}.md" for s in scripts)
    for script in scripts:
        page = pages[f"commands/{script}.md"]
        assert page.startswith(f"# {script}\n")
        assert f"[`{script}`]({script}.md): " in pages["commands/index.md"]
        if script != "zoo-train":
            assert f"usage: {script} " in page, script
    pretrained = pages["commands/zoo-pretrained.md"]
    for sub in ("list", "show", "download", "verify"):
        assert f"## `zoo-pretrained {sub}`\n\n```text\nusage: zoo-pretrained {sub}" in pretrained


def test_zoo_train_page_lists_every_config_group_option() -> None:
    page = reference.command_pages()["commands/zoo-train.md"]
    assert "zoo-train: train a zoo model with Lightning" in page  # Hydra's help text
    for option in sorted((ROOT / "conf").glob("*/*.yaml")):
        assert f"| `{option.parent.name}` | `{option.stem}` |" in page, option


def test_every_model_is_on_its_family_page_with_paper_layouts_and_files() -> None:
    import zoo
    from zoo.models import all_layouts, get_spec
    from zoo.weights.catalogue import all_pretrained

    pages = reference.model_pages()
    family_files = sorted(
        p.stem for p in (ROOT / "zoo" / "models").glob("*.py") if not p.stem.startswith("_")
    )
    assert sorted(p for p in pages if p != "models/index.md") == [f"models/{f}.md" for f in family_files]
    for name in zoo.list_models():
        spec = get_spec(name)
        page = pages[f"models/{spec.cls.__module__.rsplit('.', 1)[1]}.md"]
        assert f"## `{name}`\n" in page
        if spec.doi:
            assert f"(https://doi.org/{spec.doi})" in page
    for layout in all_layouts():
        page = pages[f"models/{get_spec(layout.model).cls.__module__.rsplit('.', 1)[1]}.md"]
        assert f"| `{layout.name}` | {layout.description} |" in page
    for entry in all_pretrained():
        page = pages[f"models/{get_spec(entry.model).cls.__module__.rsplit('.', 1)[1]}.md"]
        assert f"#### `{entry.name}`" in page and entry.url in page and entry.license in page
        if entry.targets:
            assert f"[the full list](../targets/{entry.targets}.txt)" in page


def test_target_lists_are_published_whole() -> None:
    from zoo.targets import load_target_names

    files = reference.target_files()
    assert files["targets/sei_21907.txt"].splitlines() == load_target_names("sei_21907")
    assert len(files["targets/deepsea_919.txt"].splitlines()) == 919


def test_extras_table_has_every_extra_and_what_it_enables() -> None:
    table = reference.extras_table()
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[project.optional-dependencies]\n", 1)[1].split("\n[", 1)[0]
    extras = re.findall(r"^([a-z][\w-]*) = \[", section, re.M)
    assert {"dev", "docs", "interpret", "arrays"} <= set(extras)
    for extra in extras:
        assert f'| `{extra}` (`pip install "sigmoid-zoo[{extra}]"`) |' in table
    assert '| `hdf5` (`pip install "sigmoid-zoo[hdf5]"`) | `h5py` | zoo-predict --out *.h5 |' in table


def test_api_pages_cover_the_lazily_exported_names() -> None:
    import importlib

    pages = reference.api_pages()
    for module in ("zoo", "zoo.predict", "zoo.weights"):
        page = pages[f"api/{module}.md"]
        for name in importlib.import_module(module)._EXPORTS:
            assert re.search(rf"(::: [\w.]+\.{name}\n|\[`{name}`\]\[)", page), (module, name)
    assert "api/zoo.interpret.md" in pages and "[`zoo.interpret`](zoo.interpret.md)" in pages["api/index.md"]
