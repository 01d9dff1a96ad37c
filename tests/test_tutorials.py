"""The tutorial pages run as the site build runs them, and the runner keeps the pages' contract
(docs_build/tutorials.py): blocks in order in a fresh folder, python blocks sharing one
namespace, bash with -euo pipefail, console blocks not run, a failure naming page and block."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docs_build.hooks import _expand, _named_in, _with_guides  # noqa: E402
from docs_build.tutorials import TutorialError, clean_output, rendered_markdown, run_page  # noqa: E402

TUTORIALS = sorted(p for p in (ROOT / "docs" / "tutorials").glob("*.md") if p.name != "index.md")


def _page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(text)
    return page


@pytest.mark.slow
@pytest.mark.parametrize("page", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_page_runs(page: Path) -> None:
    run = run_page(page)
    try:
        text = page.read_text()
        shown = text.count("](tutorial-output/")
        assert len(run.images) == shown
        for path in run.images.values():
            assert path.stat().st_size > 0
        rendered = rendered_markdown(run, text, "_output/x")
        assert "tutorial-output/" not in rendered
    finally:
        run.cleanup()


def test_there_are_tutorials() -> None:
    assert len(TUTORIALS) >= 4


BLOCKS = """# A page

```bash
ls -A | wc -l
echo one > a.txt
```

```python
import os
value = open("a.txt").read().strip()
print("python sees", value, "in", "an empty folder" if os.listdir(".") == ["a.txt"] else "?")
```

```console
exit 1
```

```text
not run either
```

```python
print("shared:", value)
with open("b.txt", "w") as f:
    f.write("two")
```

```bash
cat b.txt; echo
command -v zoo-predict > /dev/null && echo "zoo-predict on PATH"
```
"""


def test_blocks_run_in_order_in_a_fresh_folder_with_outputs_below_them(tmp_path: Path) -> None:
    page = _page(tmp_path, BLOCKS)
    run = run_page(page)
    try:
        assert run.outputs == [
            "0",
            "python sees one in an empty folder",
            "shared: one",
            "two\nzoo-predict on PATH",
        ]
        assert run.workdir != tmp_path and sorted(p.name for p in run.workdir.iterdir()) == ["a.txt", "b.txt"]
        rendered = rendered_markdown(run, BLOCKS, "_output/page")
        # each output directly below its block, in a text block; the console block untouched
        assert 'echo one > a.txt\n```\n\n```text title="output"\n0\n```' in rendered
        assert 'print("shared:", value)' in rendered.split("shared: one")[0]
        assert "```console\nexit 1\n```\n\n```text\nnot run either\n```" in rendered
        workdir = run.workdir
    finally:
        run.cleanup()
    assert not workdir.exists()


@pytest.mark.parametrize(
    ("code", "printed"),
    [
        ("```bash\necho before\nfalse\necho after\n```", "before"),  # -e
        ("```bash\nfalse | cat\necho after\n```", "(no output)"),  # -o pipefail
        (
            "```bash\necho $UNSET_VARIABLE_OF_THE_TEST\n```",
            "UNSET_VARIABLE_OF_THE_TEST: unbound variable",
        ),  # -u
        ("```python\nprint('before')\n1 / 0\n```", "ZeroDivisionError: division by zero"),
    ],
)
def test_a_failing_block_names_the_page_and_the_block(tmp_path: Path, code: str, printed: str) -> None:
    page = _page(tmp_path, f"# Page\n\n```python\nx = 1\n```\n\ntext\n\n{code}\n\n```bash\necho never\n```\n")
    with pytest.raises(TutorialError) as caught:
        run_page(page)
    message = str(caught.value)
    lines = message.splitlines()
    assert lines[0] == f"{page}: block 2 (```{code[3:].split(chr(10))[0]} at line 9) failed:"
    assert printed in message
    assert "after" not in message and "never" not in message


def test_pictures_are_found_and_pointed_at_the_site(tmp_path: Path) -> None:
    text = (
        "# Page\n\n```python\nimport os\nos.makedirs('run')\nopen('run/p.png', 'wb').write(b'png')\n```\n\n"
        '![a picture](tutorial-output/run/p.png "title")\n'
    )
    run = run_page(_page(tmp_path, text))
    try:
        assert list(run.images) == ["run/p.png"]
        assert run.images["run/p.png"].read_bytes() == b"png"
        rendered = rendered_markdown(run, text, "_output/page")
        assert '![a picture](_output/page/run/p.png "title")' in rendered
    finally:
        run.cleanup()


def test_a_picture_the_code_did_not_write_fails_the_page(tmp_path: Path) -> None:
    page = _page(tmp_path, "# Page\n\n```bash\ntrue\n```\n\n![missing](tutorial-output/missing.png)\n")
    with pytest.raises(
        TutorialError, match=r"shows tutorial-output/missing\.png, which its code did not write"
    ):
        run_page(page)


def test_a_page_that_runs_too_long_is_stopped(tmp_path: Path) -> None:
    page = _page(tmp_path, "# Page\n\n```bash\nsleep 30\n```\n")
    with pytest.raises(TutorialError, match=r"did not finish within 1 s"):
        run_page(page, timeout_s=1)


def test_output_is_what_a_terminal_shows() -> None:
    assert clean_output("a\rb\n 10%\r 50%\r100%\nend\n\n\n") == "b\n100%\nend"
    long = "\n".join(str(i) for i in range(100))
    shown = clean_output(long).splitlines()
    assert shown[0] == "... (60 lines above not shown)" and shown[1:] == [str(i) for i in range(60, 100)]


def test_automatic_sections_and_guides_of_the_navigation() -> None:
    nav = [
        {"Home": "index.md"},
        {"Tutorials": "tutorials/index.md"},
        {"Guides": [{"Training": "training.md"}]},
        {"API": "api/index.md"},
    ]
    sections = {"tutorials/index.md": ["tutorials/a.md", "tutorials/b.md"], "api/index.md": ["api/zoo.md"]}
    expanded = _expand(nav, sections)
    assert expanded == [
        {"Home": "index.md"},
        {"Tutorials": ["tutorials/index.md", "tutorials/a.md", "tutorials/b.md"]},
        {"Guides": [{"Training": "training.md"}]},
        {"API": ["api/index.md", "api/zoo.md"]},
    ]
    assert _named_in(expanded) == {
        "index.md",
        "tutorials/index.md",
        "tutorials/a.md",
        "tutorials/b.md",
        "training.md",
        "api/index.md",
        "api/zoo.md",
    }
    pages = ["index.md", "training.md", "new-page.md", "another.md", "tutorials/a.md", "api/zoo.md"]
    assert _with_guides(expanded, pages)[2] == {
        "Guides": [{"Training": "training.md"}, "another.md", "new-page.md"]
    }
    assert _with_guides([{"Home": "index.md"}], ["index.md", "x.md"]) == [
        {"Home": "index.md"},
        {"Guides": ["x.md"]},
    ]
    assert _with_guides(expanded, ["index.md"]) == expanded
