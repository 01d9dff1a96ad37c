"""Packaging promises: cheap import, README kept true."""

import subprocess
import sys
from pathlib import Path

from zoo.summary import markdown_table, summary_rows

ROOT = Path(__file__).resolve().parents[1]


def test_import_and_create_load_neither_lightning_nor_hydra():
    code = (
        "import sys, zoo\n"
        "assert 'torch' not in sys.modules, 'import zoo alone should not import torch'\n"
        "from zoo.summary import DEMO_OVERRIDES\n"
        "for name in zoo.list_models():\n"
        "    zoo.create_model(name, **DEMO_OVERRIDES.get(name, {}))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'hydra',"
        " 'pytorch_lightning', 'omegaconf'))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_readme_model_table_is_current():
    readme = (ROOT / "README.md").read_text()
    assert markdown_table(summary_rows()) in readme


def test_package_is_typed():
    assert (ROOT / "zoo" / "py.typed").exists()


def test_weights_page_layouts_table_is_current():
    from zoo.summary import layouts_table

    page = (ROOT / "docs" / "weights.md").read_text()
    assert layouts_table() in page
