"""Every public callable of the API reference documents its parameters in one style: a Google
``Args:`` section naming exactly the parameters of its signature (``*args`` and ``**kwargs`` as
written there); a dataclass lists its fields under ``Attributes:``; and griffe has nothing to
warn about (the strict site build fails on its warnings). The objects are those the
reference pages show (docs_build/reference.py): each module's public names (its ``__all__``, or
what it defines), the names a lazy package exports through ``_EXPORTS``, and the public methods
of their classes, whose constructor's parameters are documented in the class docstring (or
``__init__``'s, which the site merges into it)."""

from __future__ import annotations

import ast
import importlib.util
import logging
import sys
from pathlib import Path

import pytest

griffe = pytest.importorskip("griffe", reason="the docs extra installs griffe (with mkdocstrings)")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docs_build.reference import API_MODULES, module_exists  # noqa: E402

_STARS = {"variadic positional": "*", "variadic keyword": "**"}


@pytest.fixture(scope="module")
def package():
    loader = griffe.GriffeLoader(search_paths=[str(ROOT)], docstring_parser=griffe.Parser.google)
    zoo = loader.load("zoo")
    loader.resolve_aliases(implicit=False, external=None)
    return zoo


def _get(package, path: str):
    return package if path == "zoo" else package[path.removeprefix("zoo.")]


def _documented(package, module: str) -> list:
    """The objects ``module``'s reference page shows, as ``_api_page`` and mkdocstrings pick them."""
    mod = _get(package, module)
    if "_EXPORTS" in mod.members:  # a lazy package: read statically, importing nothing
        exports = ast.literal_eval(str(mod.members["_EXPORTS"].value))
        found = []
        for name, source in exports.items():
            where = importlib.util.resolve_name(source, module)
            if where != module and where in API_MODULES and module_exists(where):
                continue  # documented on that module's page
            found.append(_get(package, where)[name])
        return found
    found = []
    for name, member in mod.members.items():
        if name.startswith("_") or (member.is_alias and not member.is_public):
            continue
        if not member.is_module:
            found.append(member)
    return found


def _parameters(function, method: bool) -> list[str]:
    params = list(function.parameters)
    if method and "staticmethod" not in function.labels and params and params[0].name in ("self", "cls"):
        params = params[1:]
    return [_STARS.get(p.kind.value, "") + p.name for p in params]


class _Warnings(logging.Handler):
    """Collects what griffe warns about a docstring (the strict site build fails on it)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


_WARNINGS = _Warnings()
logging.getLogger("griffe").addHandler(_WARNINGS)


def _args_named(*objects, sections: tuple[str, ...] = ("parameters",)) -> list[str] | None:
    """The names in the ``Args:`` sections (or other ``sections``) of the objects' docstrings
    (None: no docstring)."""
    names: list[str] | None = None
    for obj in objects:
        if obj is None or obj.docstring is None:
            continue
        names = names or []
        for section in obj.docstring.parse(griffe.Parser.google):
            if section.kind.value in sections:
                names += [p.name for p in section.value]
    return names


def _problem(parameters: list[str], named: list[str] | None) -> str | None:
    if not parameters:
        return None
    if named is None:
        return "no docstring"
    missing = [p for p in parameters if p not in named]
    extra = [n for n in named if n not in parameters]
    parts = [f"missing {', '.join(missing)}"] if missing else []
    parts += [f"extra {', '.join(extra)}"] if extra else []
    return "; ".join(parts) or None


def _check(obj, problems: dict[str, str], seen: set[str], method: bool = False) -> None:
    obj = obj.final_target if obj.is_alias else obj
    if obj.path in seen or not (obj.is_function or obj.is_class):
        return
    seen.add(obj.path)
    _WARNINGS.messages.clear()
    if obj.is_function:
        problem = _problem(_parameters(obj, method), _args_named(obj))
    else:
        init = obj.members.get("__init__")
        init = None if init is None or init.is_alias else init
        # a dataclass's constructor parameters are its fields: Google style lists them under
        # Attributes:
        sections = ("parameters", "attributes") if "dataclass" in obj.labels else ("parameters",)
        problem = _problem(_parameters(obj, method=True), _args_named(obj, init, sections=sections))
    problem = "; ".join([*([problem] if problem else []), *_WARNINGS.messages])
    if problem:
        problems[obj.path] = problem
    if obj.is_class:
        for name, member in obj.members.items():
            if not name.startswith("_") and not member.is_alias and not member.inherited:
                _check(member, problems, seen, method=member.is_function)


def _problems(package, module: str) -> dict[str, str]:
    problems: dict[str, str] = {}
    seen: set[str] = set()
    for obj in _documented(package, module):
        _check(obj, problems, seen)
    return problems


MODULES = [m for m in API_MODULES if module_exists(m)]


@pytest.mark.parametrize("module", MODULES)
def test_public_callables_document_each_parameter_under_args(package, module: str) -> None:
    problems = _problems(package, module)
    assert not problems, f"{len(problems)} docstrings in {module}'s reference:\n" + "\n".join(
        f"{path}: {why}" for path, why in sorted(problems.items())
    )


def test_the_check_sees_public_callables_and_catches_an_undocumented_parameter(package) -> None:
    # The walk reaches the objects the reference shows, through __all__ and _EXPORTS alike.
    paths = {o.final_target.path if o.is_alias else o.path for o in _documented(package, "zoo.models")}
    assert {"zoo.models.deepsea.DeepSEA", "zoo._registry.get_spec"} <= paths
    exported = {o.path for o in _documented(package, "zoo.predict")}
    assert "zoo.predict.running.results.score_fasta" in exported
    # A docstring that names a parameter the signature lacks, and omits one it has, is caught.
    code = (
        "def f(a: int, *rest: int, **extra: int) -> None:\n"
        '    """F.\n\n    Args:\n        a: x.\n        b: y.\n        *rest: z.\n    """\n'
    )
    module = griffe.visit("probe", Path("probe.py"), code, docstring_parser=griffe.Parser.google)
    assert _problem(_parameters(module["f"], False), _args_named(module["f"])) == "missing **extra; extra b"
    # So is a class whose constructor's parameter has no type anywhere (griffe warns), and a
    # dataclass may list its fields under Attributes: instead.
    code = (
        "import dataclasses\n"
        "class C:\n"
        '    """C.\n\n    Args:\n        x: x.\n    """\n'
        "    def __init__(self, x) -> None: ...\n"
        "@dataclasses.dataclass\n"
        "class D:\n"
        '    """D.\n\n    Attributes:\n        y: y.\n    """\n'
        "    y: int\n"
    )
    with griffe.temporary_visited_package(
        "probe", {"__init__.py": code}, docstring_parser=griffe.Parser.google
    ) as probe:
        problems: dict[str, str] = {}
        _check(probe["C"], problems, set())
        _check(probe["D"], problems, set())
        assert _parameters(probe["D"], method=True) == ["y"]
    assert list(problems) == ["probe.C"]
    assert problems["probe.C"].endswith("No type or annotation for parameter 'x'")
