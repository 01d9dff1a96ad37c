"""zoo-train works from a non-editable install: conf/ ships as the package zoo.conf."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_non_editable_install_ships_configs_and_every_module(tmp_path):
    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    shipped = {p.relative_to(site) for p in (site / "zoo").rglob("*") if p.suffix in (".py", ".yaml")}
    in_clone = {p.relative_to(ROOT) for p in (ROOT / "zoo").rglob("*.py")}
    in_clone |= {
        Path("zoo/conf") / p.relative_to(ROOT / "conf") for p in (ROOT / "conf").rglob("*") if p.is_file()
    }
    assert in_clone - shipped == set(), (
        "add the missing packages to [tool.setuptools] packages in pyproject.toml"
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = "import zoo, zoo.cli.train; print(zoo.__file__); print(zoo.cli.train.CONFIG_PATH)"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [str(site / "zoo" / "__init__.py"), "pkg://zoo.conf"]
    shown = subprocess.run(
        [sys.executable, "-m", "zoo.cli.train", "--cfg", "job", "experiment=deepsea_synthetic"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "_target_: zoo.data.ensure_synthetic_dna" in shown.stdout
    assert "_target_: zoo.tasks.ClassificationTask" in shown.stdout
