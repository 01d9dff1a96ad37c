"""Prediction in three layers: inputs and outputs never import the runner.

zoo.predict.inputs makes jobs, zoo.predict.running scores them, zoo.predict.outputs writes
rows. The arrows run one way: the runner imports both other layers, and neither of them
imports the runner, wherever the import stands (a function body, a TYPE_CHECKING block) or
however it is spelled (relative, or a name of the lazy ``zoo.predict`` package).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import zoo.predict

PACKAGE = Path(zoo.predict.__file__).resolve().parent
RUNNING = "zoo.predict.running"
# the one module of the inputs that the outputs read: the annotated VCF copies the input's records
OUTPUTS_READ = {"zoo.predict.inputs.vcf"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer_modules(layer: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((PACKAGE / layer).rglob("*.py"))}


def _imports_of(name: str, path: Path) -> set[str]:
    return imported_modules(name, path.read_text(), is_package=path.name == "__init__.py")


def imported_modules(name: str, source: str, is_package: bool = False) -> set[str]:
    """Every module the code ``source`` of module ``name`` (a package's ``__init__`` when
    ``is_package``) imports, wherever the import stands.

    ``from package import x`` counts as importing ``package.x`` as well as ``package``; a
    name of the lazy ``zoo.predict`` package counts as the module it loads from.
    """
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            for alias in node.names:
                found.add(f"{base}.{alias.name}")
                if base == "zoo.predict" and alias.name in zoo.predict._EXPORTS:
                    found.add(f"zoo.predict{zoo.predict._EXPORTS[alias.name]}")
    return found


def _runner_imports(modules: set[str]) -> set[str]:
    return {m for m in modules if m == RUNNING or m.startswith(RUNNING + ".")}


def test_the_check_sees_every_way_of_importing_the_runner():
    source = """
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from zoo.predict.running.scorer import Scorer
def later():
    from zoo.predict import run_job
    from ..running import threads
    import zoo.predict.running.processes
"""
    found = _runner_imports(imported_modules("zoo.predict.inputs.example", source))
    assert {
        "zoo.predict.running.scorer",
        "zoo.predict.running.run",
        "zoo.predict.running.threads",
        "zoo.predict.running.processes",
    } <= found
    assert not _runner_imports(imported_modules("zoo.predict.inputs.example", "from zoo.predict import Job"))


@pytest.mark.parametrize("layer", ["inputs", "outputs"])
def test_inputs_and_outputs_never_import_the_runner(layer):
    modules = _layer_modules(layer)
    assert modules, layer
    for name, path in modules.items():
        wrong = _runner_imports(_imports_of(name, path))
        assert not wrong, f"{name} imports the runner: {sorted(wrong)}"


def test_inputs_never_import_outputs_and_outputs_read_only_the_vcf_reader():
    for name, path in _layer_modules("inputs").items():
        found = _imports_of(name, path)
        assert not {m for m in found if m.startswith("zoo.predict.outputs")}, name
    for name, path in _layer_modules("outputs").items():
        found = {m for m in _imports_of(name, path) if m.startswith("zoo.predict.inputs.")}
        wrong = {m for m in found if not any(m == r or m.startswith(r + ".") for r in OUTPUTS_READ)}
        assert not wrong, f"{name} imports {sorted(wrong)}"


def test_no_prediction_module_is_named_like_a_package_of_zoo():
    """zoo.predict.targets once stood beside the package zoo.targets; one name, one place."""
    zoo_root = PACKAGE.parent
    packages = {p.parent.name for p in zoo_root.glob("*/__init__.py")}
    clashes = sorted(p.relative_to(zoo_root) for p in PACKAGE.rglob("*.py") if p.stem in packages)
    assert not clashes
