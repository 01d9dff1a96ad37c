"""Stop signals: every command ends with 128 + the signal's number and one line, never a
traceback or a success; a signal ignored when the command starts (nohup) stays ignored."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zoo._signals import cleanup_on_signals
from zoo.cli._command import Command

ROOT = Path(__file__).resolve().parents[1]


def _command(run) -> Command:
    return Command("zoo-x", argparse.ArgumentParser, run)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_every_command_exits_with_128_plus_the_signal_and_one_line(signum, capsys):
    def run(args: argparse.Namespace) -> int:
        os.kill(os.getpid(), signum)
        raise AssertionError("the signal did not stop the run")

    with pytest.raises(SystemExit) as stop:
        _command(run).main([])  # no option asks for it: every command stops so
    assert stop.value.code == 128 + signum
    assert capsys.readouterr().err == f"zoo-x: stopped by {signal.Signals(signum).name}\n"


def test_a_signal_ignored_at_start_stays_ignored():
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup starts a command
    try:
        with cleanup_on_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)  # ignored: the block goes on
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_command_under_nohup_runs_on_after_sighup():
    script = textwrap.dedent(
        """
        import argparse, os, signal
        from zoo.cli._command import Command
        def run(args):
            os.kill(os.getpid(), signal.SIGHUP)
            print("finished")
            return 0
        Command("zoo-x", argparse.ArgumentParser, run).main([])
        """
    )
    done = subprocess.run(
        ["nohup", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert (done.returncode, done.stdout) == (0, "finished\n"), done.stderr


def test_a_signal_during_lightnings_run_is_not_a_success(tmp_path):
    """Lightning's own SIGTERM handler ends a fit or test quietly with status 0: the command's
    handler must still stop it."""
    script = textwrap.dedent(
        """
        import argparse, os, signal, sys
        import lightning as L, torch
        from torch.utils.data import DataLoader, TensorDataset
        from zoo.cli._command import Command

        class Stopped(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.layer = torch.nn.Linear(2, 1)
            def test_step(self, batch, i):
                os.kill(os.getpid(), signal.SIGTERM)
                return self.layer(batch[0]).sum()

        def run(args):
            trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                                enable_model_summary=False, default_root_dir=sys.argv[1])
            trainer.test(Stopped(), DataLoader(TensorDataset(torch.zeros(8, 2)), batch_size=2), verbose=False)
            print("tested")
            return 0
        Command("zoo-x", argparse.ArgumentParser, run).main([])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 128 + signal.SIGTERM, done.stdout + done.stderr
    assert "tested" not in done.stdout and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "zoo-x: stopped by SIGTERM"


def test_ctrl_c_while_a_command_imports_is_one_line(tmp_path):
    """The console scripts catch a stop signal before their heavy imports (torch, Lightning)."""
    (tmp_path / "slow_command.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGINT)\nimport time\ntime.sleep(30)\n"
        "def main():\n    raise AssertionError('imported despite Ctrl-C')\n"
    )
    script = "from zoo.cli._launch import launch\nlaunch('zoo-x', 'slow_command')\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert (done.returncode, done.stderr) == (128 + signal.SIGINT, "zoo-x: stopped by SIGINT\n")


def test_the_console_scripts_start_through_the_launcher():
    import zoo.cli._launch as launch

    text = (ROOT / "pyproject.toml").read_text().split("[project.scripts]\n", 1)[1].split("\n[", 1)[0]
    scripts = {
        k.strip(): v.strip().strip('"')
        for k, _, v in (ln.partition("=") for ln in text.splitlines() if "=" in ln)
    }
    for name, target in scripts.items():
        module, _, attr = target.partition(":")
        assert module == "zoo.cli._launch", name
        assert launch.COMMANDS[attr] == (name, f"zoo.cli.{name.removeprefix('zoo-')}"), name
        assert callable(getattr(launch, attr)), name


def test_a_forked_child_is_not_stopped_as_the_command():
    """A DataLoader worker inherits the handler: Ctrl-C there is Python's KeyboardInterrupt
    (which the workers take quietly), not the command's stop with a traceback of its own."""
    script = textwrap.dedent(
        """
        import os, signal, sys
        from zoo._signals import cleanup_on_signals
        with cleanup_on_signals():
            pid = os.fork()
            if pid == 0:
                try:
                    os.kill(os.getpid(), signal.SIGINT)
                except KeyboardInterrupt:
                    os._exit(7)
                except BaseException as err:
                    os._exit(8)
                os._exit(9)
            print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "7"), done.stderr


def test_output_into_a_pipe_closed_early_is_no_traceback(tmp_path):
    """``zoo-pretrained list | head -1``: the reader leaves after one line; a command whose
    output is longer than the pipe holds ends quietly with the status of SIGPIPE instead of a
    BrokenPipeError traceback."""
    (tmp_path / "long_output.py").write_text(
        "def main():\n    for i in range(200_000):\n        print('line', i)\n"
    )
    script = "from zoo.cli._launch import launch\nlaunch('zoo-x', 'long_output')\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout.readline() == b"line 0\n"
    proc.stdout.close()  # the reader goes away with the rest unread
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 128 + signal.SIGPIPE, err
    assert err == "", err
