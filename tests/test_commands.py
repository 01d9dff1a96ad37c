"""The command skeleton: every console script is build_parser() + run(args), gets its entry
point from zoo.cli._command, and imports no other command's module."""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo._io.npy import NpyRowWriter
from zoo._io.writing import ReadOnlyOutputError
from zoo.cli._command import Command, parse_key_values
from zoo.errors import ZooError

ROOT = Path(zoo.__file__).resolve().parent


def _console_scripts() -> dict[str, str]:
    """pyproject.toml's [project.scripts] (tomllib is Python 3.11's; the lines are simple)."""
    text = (ROOT.parent / "pyproject.toml").read_text().split("[project.scripts]\n", 1)[1]
    lines = text.split("\n[", 1)[0].splitlines()
    return {k.strip(): v.strip().strip('"') for k, _, v in (ln.partition("=") for ln in lines if "=" in ln)}


SCRIPTS = _console_scripts()


def test_every_console_script_is_a_parser_and_a_run():
    assert set(SCRIPTS) == {
        f"zoo-{n}"
        for n in (
            "demo train evaluate predict interpret convert sample pretrained motifs design export".split()
        )
    }
    from zoo.cli._launch import COMMANDS

    for name, target in SCRIPTS.items():
        launcher, _, attr = target.partition(":")  # a stop signal is quiet from the start
        assert launcher == "zoo.cli._launch", name
        prog, module_name = COMMANDS[attr]
        assert prog == name, name
        module = importlib.import_module(module_name)
        assert isinstance(module.build_parser(), argparse.ArgumentParser), name
        assert callable(module.run), name
        if name != "zoo-train":  # Hydra runs zoo-train; it reports through zoo.cli._command.report
            command = module.COMMAND
            assert isinstance(command, Command) and command.prog == name
            assert module.main == command.main and command.run is module.run


def test_the_help_names_each_option_as_its_usage_does():
    """The prose of a command's help (its module docstring) calls an option's value by the same
    placeholder as the usage line, so `DIR receives ...` is the `--out DIR` of the usage."""
    import re

    checked = 0
    for name, target in SCRIPTS.items():
        if name == "zoo-train":  # Hydra's overrides, no argparse options
            continue
        from zoo.cli._launch import COMMANDS

        module = importlib.import_module(COMMANDS[target.partition(":")[2]][1])
        parser = module.build_parser()
        usage = parser.format_usage() + "".join(
            sub.format_usage()
            for action in parser._actions
            if isinstance(action.choices, dict)
            for sub in action.choices.values()
            if isinstance(sub, argparse.ArgumentParser)
        )
        for option, placeholder in re.findall(r"(--[a-z][a-z-]*)[ =]([A-Z][A-Z_=]*[A-Z])\b", module.__doc__):
            assert f"{option} {placeholder}" in usage, (name, option, placeholder)
            checked += 1
    assert checked


def test_command_modules_import_no_other_command():
    commands = {p.stem for p in (ROOT / "cli").glob("*.py") if not p.stem.startswith("_")}
    for stem in commands:
        tree = ast.parse((ROOT / "cli" / f"{stem}.py").read_text())
        imported = {
            node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
        } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        others = {m for m in imported if m.startswith("zoo.cli.") and m.rpartition(".")[2] in commands}
        assert not others, f"zoo/cli/{stem}.py imports {others}"


def test_command_errors_are_zoo_errors():
    from zoo.cli.evaluate import EvaluateError
    from zoo.training import ConfigError

    assert issubclass(EvaluateError, ZooError) and issubclass(ConfigError, ZooError)


def test_every_error_class_of_the_library_is_a_zoo_error():
    """Errors about what a user gave (files, layouts, checksums, arguments) share one base, so a
    command prints any of them as one line; other failures keep their own kinds."""
    import ast

    import zoo

    root = Path(zoo.__file__).parent
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                bases = {b.id if isinstance(b, ast.Name) else ast.unparse(b) for b in node.bases}
                found.append((path.relative_to(root), node.name, bases))
    kept_apart = {"ZooError", "ReadOnlyOutputError", "NonFiniteLossError"}
    assert len(found) > 10
    for path, name, bases in found:
        if name not in kept_apart:
            assert bases & {"ZooError", "PredictError", "WeightsFileError", "DataFileError"}, (
                path,
                name,
                bases,
            )


def test_one_module_is_named_plots():
    assert [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("plots.py")] == ["tasks/plots.py"]


def _command(run, **fields) -> Command:
    def build_parser() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog="zoo-x")
        parser.add_argument("what", nargs="?", default="")
        return parser

    return Command("zoo-x", build_parser, run, **fields)


def test_a_zoo_error_is_one_line_and_status_1(capsys):
    def run(args: argparse.Namespace) -> int:
        raise ZooError(f"bad {args.what}")

    command = _command(run)
    assert command.call(["input"]) == 1
    assert capsys.readouterr().err == "zoo-x: error: bad input\n"
    with pytest.raises(SystemExit, match=r"^zoo-x: error: bad input$"):
        command.main(["input"])


def test_what_a_command_reports_and_how(capsys):
    def run(args: argparse.Namespace) -> int:
        raise ReadOnlyOutputError("'out.png' is a read-only file")

    from zoo.cli._command import with_overwrite_hint

    command = _command(run, reported=(OSError,), label="", describe=with_overwrite_hint)
    with pytest.raises(
        SystemExit, match=r"^zoo-x: 'out.png' is a read-only file; pass --overwrite to replace it$"
    ):
        command.main([])
    with pytest.raises(ReadOnlyOutputError):  # not reported: raised as it is
        _command(run).call([])
    only_at_exit = _command(run, reported_at_exit=(OSError,))
    with pytest.raises(ReadOnlyOutputError):
        only_at_exit.call([])
    with pytest.raises(SystemExit, match="^zoo-x: error: 'out.png'"):
        only_at_exit.main([])


def test_success_returns_and_another_status_exits():
    assert _command(lambda args: 0).main([]) is None
    with pytest.raises(SystemExit) as stop:
        _command(lambda args: 3).main([])
    assert stop.value.code == 3


def test_a_stop_signal_exits_with_128_plus_its_number(capsys):
    def run(args: argparse.Namespace) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("the signal did not stop the run")

    with pytest.raises(SystemExit) as stop:
        _command(run).main([])
    assert stop.value.code == 128 + signal.SIGTERM
    assert capsys.readouterr().err == "zoo-x: stopped by SIGTERM\n"


def test_fast_exit_leaves_with_the_status_and_flushed_messages():
    code = (
        "import argparse\nfrom zoo.cli._command import Command\nfrom zoo.errors import ZooError\n"
        "def run(args):\n    print('out')\n    raise ZooError('failed')\n"
        "Command('zoo-x', argparse.ArgumentParser, run, fast_exit=True).main([])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (1, "out\n", "zoo-x: error: failed\n")


def test_key_values_read_json_and_refuse_what_is_no_pair():
    assert parse_key_values(["a=3", "b=[1, 2]", "c=relu"], "--set") == {"a": 3, "b": [1, 2], "c": "relu"}
    with pytest.raises(ZooError, match="--set 'a': expected KEY=VALUE"):
        parse_key_values(["a"], "--set")


def test_the_npy_writer_streams_rows_into_one_file(tmp_path):
    rows = np.arange(5 * 2 * 3, dtype=np.float64).reshape(5, 2, 3)
    writer = NpyRowWriter(tmp_path / "a.npy", (2, 3))
    writer.append(rows[:2])
    writer.append(rows[2:])
    mapped = writer.close()
    assert mapped.dtype == np.float32 and mapped.shape == (5, 2, 3)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), rows.astype(np.float32))
