"""Run a tutorial page's blocks in order, in the current directory: ``python _run_blocks.py SPOOL``.

``SPOOL/blocks.json`` lists the blocks (``language``, ``code``). Block ``n``'s standard output
and error, its child processes' included, go to ``SPOOL/n.out`` (the file descriptors
themselves are redirected); python blocks share one namespace; bash blocks run with
``bash -euo pipefail``. The first block that fails ends the run. ``SPOOL/status.json`` says
which failed (``{"failed": n}``) or that none did (``{"failed": null}``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path


def _run_block(language: str, code: str, namespace: dict[str, object], n: int) -> bool:
    """Run one block; True when it succeeded. Its output goes to the current fds 1 and 2."""
    if language == "bash":
        return subprocess.run(["bash", "-euo", "pipefail", "-c", code], check=False).returncode == 0
    try:
        exec(compile(code, f"<block {n + 1}>", "exec"), namespace)
    except SystemExit as err:
        return err.code in (None, 0)
    except BaseException as err:  # the traceback from the block's own frame on
        traceback.print_exception(type(err), err, err.__traceback__.tb_next if err.__traceback__ else None)
        return False
    return True


def main(spool: Path) -> None:
    """Run every block listed in ``spool/blocks.json`` and write ``spool/status.json``."""
    blocks = json.loads((spool / "blocks.json").read_text())
    namespace: dict[str, object] = {"__name__": "__main__"}
    saved = os.dup(1), os.dup(2)
    failed = None
    for n, block in enumerate(blocks):
        with open(spool / f"{n}.out", "wb") as out:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
            try:
                ok = _run_block(block["language"], block["code"], namespace, n)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
        if not ok:
            failed = n
            break
    (spool / "status.json").write_text(json.dumps({"failed": failed}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
