"""The package's shape: no import cycles inside zoo/, and generic machinery that knows no family."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import zoo

ROOT = Path(zoo.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every zoo module that ``path`` imports, wherever the import stands (function bodies too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from zoo.x import y`` imports the module zoo.x.y when there is one, else zoo.x
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def import_graph() -> dict[str, set[str]]:
    """zoo module -> the zoo modules it imports."""
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_function_local_imports():
    graph = import_graph()
    assert "zoo.models" in graph["zoo.weights.matching"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycles_inside_zoo():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    "module",
    [
        "zoo._registry",
        "zoo.layouts",
        "zoo.weights.layouts",
        "zoo.weights.published",
        "zoo.weights.download",
        "zoo.inference",
        "zoo.inference.channels_last",
        "zoo.plan",
        "zoo.plan.lower",
        "zoo.plan.ops",
        "zoo.plan.reference",
        "zoo.interpret._band",
        "zoo.heads",
    ],
)
def test_generic_machinery_imports_no_model_family(module):
    """Not directly, nor through any module it imports: a family may build on the machinery
    (Sei states its plan ops), never the other way round."""
    families = {m for m in _modules() if m.startswith("zoo.models.") and m != "zoo.models._dna"}
    graph = import_graph()
    reached, todo = set(), [module]
    while todo:
        for imported in graph[todo.pop()] - reached:
            reached.add(imported)
            todo.append(imported)
    assert not reached & (families | {"zoo.models"}), sorted(reached & (families | {"zoo.models"}))


def test_every_family_declares_its_layouts_in_its_own_file():
    from zoo.models import get_spec, list_models

    for name in list_models():
        spec = get_spec(name)
        for layout in spec.layouts:
            assert layout.model == name
            assert layout.keys, layout.name
