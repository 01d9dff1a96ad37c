"""The built documentation site in a real headless browser: the home page, a tutorial and an API
page render, every picture on them loads, and the browser reports no console error.

Needs the built site (``mkdocs build --strict``, which ``.ci/run`` runs first), Playwright's
Python package and a Chromium from the system's packages (``apt-get install chromium``);
without them the test is skipped, saying which is missing. No browser is downloaded.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("ZOO_SITE_DIR", ROOT / "site"))
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def _chromium() -> str | None:
    return os.environ.get("ZOO_CHROMIUM") or next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    if not (SITE / "index.html").is_file():
        pytest.skip(f"the site is not built in {SITE}: run `mkdocs build --strict` first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason='Playwright is not installed: pip install ".[docs]"'
    )
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium on this system: apt-get install chromium (or set ZOO_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _first_tutorial_with_pictures() -> str:
    for page in sorted((ROOT / "docs" / "tutorials").glob("*.md")):
        if "](tutorial-output/" in page.read_text():
            return f"tutorials/{page.stem}/"
    raise AssertionError("no tutorial shows a picture")


def _visit(browser: object, url: str) -> dict[str, object]:
    """Open ``url``; what rendered: title, main text, pictures and their sizes, errors."""
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on(
        "console",
        lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None,
    )
    page.on("pageerror", lambda err: errors.append(f"page error: {err}"))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url} {req.failure}"))
    page.on(
        "response", lambda res: errors.append(f"HTTP {res.status}: {res.url}") if res.status >= 400 else None
    )
    try:
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, url
        page.wait_for_load_state("networkidle")
        images = page.eval_on_selector_all(
            "article img",
            "els => els.map(e => ({src: e.currentSrc, complete: e.complete, width: e.naturalWidth}))",
        )
        return {
            "title": page.title(),
            "h1": page.inner_text("article h1"),
            "text": page.inner_text("article"),
            "images": images,
            "errors": errors,
        }
    finally:
        page.close()


@pytest.mark.parametrize(
    ("path", "heading", "min_images"),
    [
        ("", "sigmoid-zoo", 1),
        (None, None, 1),  # a tutorial with pictures
        ("api/zoo/", "zoo", 0),
    ],
    ids=["home", "tutorial", "api"],
)
def test_page_renders_with_its_pictures_and_no_console_error(
    browser: object, site_url: str, path: str | None, heading: str | None, min_images: int
) -> None:
    path = path if path is not None else _first_tutorial_with_pictures()
    seen = _visit(browser, site_url + path)
    assert seen["errors"] == []
    if heading is not None:
        assert seen["h1"].strip().strip("¶").strip() == heading
    images = seen["images"]
    assert len(images) >= min_images, images
    broken = [i["src"] for i in images if not (i["complete"] and i["width"] > 0)]
    assert broken == []
    if path.startswith("api/"):
        assert "create_model" in seen["text"]  # a documented function, from its docstring
    if path.startswith("tutorials/"):
        assert "output" in seen["text"]  # the executed blocks' outputs are on the page
