"""Executed tutorial pages: each ```bash and ```python block of a page runs, in order, and its
output is shown below it.

The contract a tutorial page (``docs/tutorials/*.md``) is written to:

- Fenced ```bash and ```python blocks (at the start of a line) run in order, in one fresh
  temporary working directory per page. Python blocks share one namespace; bash blocks run
  with ``bash -euo pipefail``; the zoo's console scripts are on ``PATH``; ``ZOO_REPO`` is
  the repository's folder (for its example files).
- Blocks fenced as ```console or ```text are shown and not run (commands needing a GPU,
  the network or paper-size downloads).
- A picture the page's code writes into the working directory is shown with a Markdown
  image whose path starts with ``tutorial-output/`` followed by its path in the working
  directory: ``![logo](tutorial-output/run/logo.png)``.

The site build (``docs_build/hooks.py``) and ``tests/test_tutorials.py`` both run pages
through :func:`run_page`; a block that fails stops the page with a :class:`TutorialError`
naming the page, the block and its output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

RUNNABLE = ("bash", "python")
# how long one page may run, all its blocks together
PAGE_TIMEOUT_S = 600
# a block's output shown on the page is cut to its last lines beyond this
MAX_OUTPUT_LINES = 40
IMAGE_PREFIX = "tutorial-output/"
_FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
_IMAGE_LINK = re.compile(r"(!\[[^\]]*\]\()" + re.escape(IMAGE_PREFIX) + r"([^)\s]+)(\s+\"[^\"]*\")?\)")
_DRIVER = Path(__file__).with_name("_run_blocks.py")
ROOT = Path(__file__).resolve().parents[1]


class TutorialError(RuntimeError):
    """A tutorial page that did not run: the page, the block and what it printed."""


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page.

    Args:
        language: the fence's language (``bash``, ``python``, ``console``, ...).
        code: the block's text.
        end: the character offset where the block's closing fence ends in the page.
        line: the 1-based line of its opening fence.
    """

    language: str
    code: str
    end: int
    line: int

    @property
    def runnable(self) -> bool:
        """Whether the contract runs this block (```bash, ```python)."""
        return self.language in RUNNABLE


@dataclass
class PageRun:
    """A page that ran: its blocks' outputs and where the page's working directory is.

    Args:
        page: the page's path.
        workdir: the working directory the blocks ran in (deleted by :meth:`cleanup`).
        blocks: every fenced block of the page, in order.
        outputs: what each runnable block printed (stdout and stderr), in order; a block that
            did not run (after a failure) has none.
        images: each ``tutorial-output/`` path the page shows -> the file in ``workdir``.
    """

    page: Path
    workdir: Path
    blocks: list[Block]
    outputs: list[str] = field(default_factory=list)
    images: dict[str, Path] = field(default_factory=dict)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def cleanup(self) -> None:
        """Delete the working directory."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def find_blocks(markdown: str) -> list[Block]:
    """Every fenced code block of a page, in order.

    Args:
        markdown: the page's text.

    Returns:
        The blocks, runnable or not.
    """
    return [
        Block(m.group(1).lower(), m.group(2), m.end(), markdown.count("\n", 0, m.start()) + 1)
        for m in _FENCE.finditer(markdown)
    ]


def image_paths(markdown: str) -> list[str]:
    """The working-directory paths of the pictures a page shows (``tutorial-output/PATH``).

    Args:
        markdown: the page's text.
    """
    return [m.group(2) for m in _IMAGE_LINK.finditer(markdown)]


def clean_output(text: str) -> str:
    """What a terminal would show: each line after its last carriage return (progress bars
    redraw with ``\\r``), no trailing blank lines, cut to the last :data:`MAX_OUTPUT_LINES`.

    Args:
        text: the raw output.
    """
    lines = [line.rsplit("\r", 1)[-1].rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) > MAX_OUTPUT_LINES:
        cut = len(lines) - MAX_OUTPUT_LINES
        lines = [f"... ({cut} lines above not shown)", *lines[-MAX_OUTPUT_LINES:]]
    return "\n".join(lines)


def tutorial_env(bin_dir: Path | None = None) -> dict[str, str]:
    """The environment blocks run in: the zoo's console scripts on ``PATH``, the repository's
    folder as ``ZOO_REPO``, pictures without a display, no colours.

    Args:
        bin_dir: the folder of the console scripts; default the running Python's.
    """
    bin_dir = bin_dir or Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.update({"MPLBACKEND": "Agg", "NO_COLOR": "1", "COLUMNS": "100", "PYTHONUNBUFFERED": "1"})
    env["ZOO_REPO"] = str(ROOT)  # the pages read the repository's example files through it
    env.pop("PYTHONPATH", None)
    return env


def run_page(page: Path, timeout_s: float = PAGE_TIMEOUT_S) -> PageRun:
    """Run a tutorial page's ```bash and ```python blocks in order in a fresh temporary folder.

    Args:
        page: the Markdown file.
        timeout_s: the most seconds the page's blocks may take together.

    Returns:
        The run; call its ``cleanup`` once its pictures are copied.

    Raises:
        TutorialError: a block failed (naming the page, the block's number and line, and the
            end of its output), the page ran out of time, or a picture it shows was not written.
    """
    markdown = page.read_text(encoding="utf-8")
    blocks = find_blocks(markdown)
    runnable = [i for i, b in enumerate(blocks) if b.runnable]
    tmp = tempfile.TemporaryDirectory(prefix=f"tutorial-{page.stem}-")
    workdir = Path(tmp.name) / "work"
    spool = Path(tmp.name) / "spool"
    workdir.mkdir()
    spool.mkdir()
    run = PageRun(page, workdir, blocks, _tmp=tmp)
    plan = [{"language": blocks[i].language, "code": blocks[i].code} for i in runnable]
    (spool / "blocks.json").write_text(json.dumps(plan))
    try:
        try:
            subprocess.run(
                [sys.executable, str(_DRIVER), str(spool)],
                cwd=workdir,
                env=tutorial_env(),
                stdin=subprocess.DEVNULL,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TutorialError(f"{page}: did not finish within {timeout_s:g} s") from None
        for n in range(len(runnable)):
            out = spool / f"{n}.out"
            if out.exists():
                run.outputs.append(clean_output(out.read_text(encoding="utf-8", errors="replace")))
        status_file = spool / "status.json"
        if not status_file.exists():
            raise TutorialError(f"{page}: the blocks' runner ended without a status (killed?)")
        failed = json.loads(status_file.read_text())["failed"]
        if failed is not None:
            block = blocks[runnable[failed]]
            raise TutorialError(
                f"{page}: block {failed + 1} (```{block.language} at line {block.line}) failed:\n"
                + (
                    run.outputs[failed]
                    if failed < len(run.outputs) and run.outputs[failed]
                    else "(no output)"
                )
            )
        for rel in image_paths(markdown):
            path = workdir / rel
            if not path.is_file():
                raise TutorialError(f"{page}: shows {IMAGE_PREFIX}{rel}, which its code did not write")
            run.images[rel] = path
    except BaseException:
        run.cleanup()
        raise
    return run


def rendered_markdown(run: PageRun, markdown: str, image_base: str) -> str:
    """The page with each runnable block's output below it, in a ```text block, and its
    ``tutorial-output/`` pictures pointed at ``image_base``.

    Args:
        run: the page's run.
        markdown: the page's text (the site passes it without its front matter).
        image_base: the path, relative to the page, the pictures are copied under.
    """
    pieces, last = [], 0
    runnable = [b for b in find_blocks(markdown) if b.runnable]
    for block, output in zip(runnable, run.outputs):
        if not output:
            continue
        pieces.append(markdown[last : block.end])
        fence = "```" + "`" * max((len(m) - 2 for m in re.findall(r"`{3,}", output)), default=0)
        pieces.append(f'\n\n{fence}text title="output"\n{output}\n{fence}')
        last = block.end
    pieces.append(markdown[last:])
    text = "".join(pieces)
    base = image_base.rstrip("/") + "/"
    return _IMAGE_LINK.sub(lambda m: f"{m.group(1)}{base}{m.group(2)}{m.group(3) or ''})", text)
