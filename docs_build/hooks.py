"""The site's mkdocs hooks (``hooks:`` in mkdocs.yml).

- Generated pages: one per console script, one per model family, the API reference and the
  target lists (:mod:`docs_build.reference`), so that new commands, models and modules appear
  without editing the site.
- Tutorials: every ``docs/tutorials/*.md`` page runs (:mod:`docs_build.tutorials`); the
  outputs appear below their blocks and the pictures the code wrote are copied into the site.
  A block that fails fails the build, naming the page and the block.
- Navigation: the sections whose entry is ``tutorials/index.md``, ``commands/index.md``,
  ``models/index.md`` or ``api/index.md`` get their pages; a top-level page no entry names
  goes under "Guides", so a new page is in the site before anyone lists it.
"""

from __future__ import annotations

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # mkdocs loads this file by path; its siblings import from the root
    sys.path.insert(0, str(ROOT))

from mkdocs.config.defaults import MkDocsConfig  # noqa: E402
from mkdocs.exceptions import PluginError  # noqa: E402
from mkdocs.structure.files import File, Files  # noqa: E402
from mkdocs.structure.pages import Page  # noqa: E402

from docs_build import reference  # noqa: E402
from docs_build.tutorials import PageRun, TutorialError, rendered_markdown, run_page  # noqa: E402

# The tutorials in reading order; a tutorial page not named here follows them, by file name.
TUTORIAL_ORDER = [
    "score-variants",
    "train-your-data",
    "ism-to-motifs",
    "image-models",
    "many-devices",
    "add-a-model",
]
AUTO_SECTIONS = ("tutorials/index.md", "commands/index.md", "models/index.md", "api/index.md")
GUIDES = "Guides"
EXTRAS_MARKER = "<!-- extras table -->"

_SPHINX_ROLE = re.compile(r":(?:func|meth|class|mod|attr|data|exc|obj|py:\w+):<code")

_runs: dict[str, PageRun] = {}


def _tutorial_key(uri: str) -> tuple[int, str]:
    stem = Path(uri).stem
    return (TUTORIAL_ORDER.index(stem) if stem in TUTORIAL_ORDER else len(TUTORIAL_ORDER), stem)


def _named_in(nav: Any) -> set[str]:
    """Every page path a nav (or part of one) names."""
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, dict):
        return set().union(*(_named_in(v) for v in nav.values()))
    if isinstance(nav, list):
        return set().union(set(), *(_named_in(v) for v in nav))
    return set()


def _expand(nav: list[Any], sections: dict[str, list[str]]) -> list[Any]:
    """The nav with each automatic section's entry replaced by its index and pages."""
    out: list[Any] = []
    for item in nav:
        if isinstance(item, dict):
            (title, value), *_ = item.items()
            if isinstance(value, str) and value in sections:
                item = {title: [value, *sections[value]]}
            elif isinstance(value, list):
                item = {title: _expand(value, sections)}
        out.append(item)
    return out


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages, run the tutorials and fill in the navigation."""
    generated = {
        **reference.command_pages(),
        **reference.model_pages(),
        **reference.api_pages(),
        **reference.target_files(),
    }
    for uri, content in generated.items():
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, content=content))

    tutorials = sorted(
        (f for f in files.documentation_pages() if f.src_uri.startswith("tutorials/") and f.name != "index"),
        key=lambda f: _tutorial_key(f.src_uri),
    )
    # the pages run in processes of their own, so two at a time take about half as long
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        futures = {f.src_uri: pool.submit(run_page, Path(f.abs_src_path)) for f in tutorials}
        failures = []
        for page_uri, future in futures.items():
            try:
                _runs[page_uri] = future.result()
            except TutorialError as err:
                failures.append(str(err))
    if failures:
        raise PluginError("\n".join(failures))
    for f in tutorials:
        run = _runs[f.src_uri]
        for rel, path in run.images.items():
            files.append(File.generated(config, f"tutorials/_output/{f.name}/{rel}", abs_src_path=str(path)))

    sections: dict[str, list[str]] = {key: [] for key in AUTO_SECTIONS}
    sections["tutorials/index.md"] = [f.src_uri for f in tutorials]
    for uri in sorted(generated):
        top = uri.split("/", 1)[0]
        if uri.endswith(".md") and not uri.endswith("/index.md") and f"{top}/index.md" in sections:
            sections[f"{top}/index.md"].append(uri)
    nav = _expand(config.nav or [], sections)
    config.nav = _with_guides(nav, [f.src_uri for f in files.documentation_pages()])
    return files


def _with_guides(nav: list[Any], pages: list[str]) -> list[Any]:
    """The nav with every top-level page it does not name added to the "Guides" section."""
    named = _named_in(nav)
    unnamed = sorted(p for p in pages if "/" not in p and p not in named)
    if not unnamed:
        return nav
    out = list(nav)
    for i, item in enumerate(out):
        if isinstance(item, dict) and GUIDES in item:
            out[i] = {GUIDES: [*item[GUIDES], *unnamed]}
            return out
    return [*out, {GUIDES: unnamed}]


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """A tutorial with its outputs and pictures; the installation page with the extras table."""
    run = _runs.get(page.file.src_uri)
    if run is not None:
        return rendered_markdown(run, markdown, f"_output/{page.file.name}")
    if EXTRAS_MARKER in markdown:
        return markdown.replace(EXTRAS_MARKER, reference.extras_table())
    return markdown


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Docstrings name code with Sphinx roles (``:func:`x```), which Markdown shows as the
    role's text before the code: keep the code, drop the role."""
    return _SPHINX_ROLE.sub("<code", html)


def on_post_build(config: MkDocsConfig) -> None:
    """Delete the tutorials' working directories once their pictures are in the site."""
    for run in _runs.values():
        run.cleanup()
    _runs.clear()


def on_build_error(error: Exception) -> None:
    """Delete the tutorials' working directories after a failed build too."""
    on_post_build(None)  # type: ignore[arg-type]
