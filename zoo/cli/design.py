"""``zoo-design``: edit start sequences (or random ones) to raise or lower chosen targets of a zoo DNA
model; the designed FASTA, every accepted edit, a trajectory picture and logos in one folder."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from zoo._io.folders import FolderOutputError
from zoo._io.writing import publish_folder, staging_folder
from zoo.cli._command import Command, at_most, parse_key_values
from zoo.design import (
    DesignError,
    beam_design,
    ledidi_design,
    make_objective,
    random_sequences,
)
from zoo.design.outputs import plot_final_logos, plot_trajectory, write_edits, write_fasta
from zoo.predict.errors import PredictError
from zoo.predict.inputs.target_names import read_target_names
from zoo.predict.outputs.columns import pick_targets
from zoo.predict.running.loading import load_predict_model, n_targets_of

PROG = "zoo-design"
MAX_SEQUENCES = 10_000
MAX_EDITS = 100_000
EPILOG = """examples:
  zoo-design --weights model.safetensors --fasta start.fa --raise 'K562|CTCF|None' --max-edits 10 --out up/
  zoo-design --weights model.safetensors --random 4 --raise 0 --lower 3 --penalty 0.1 --keep 0-50 --out d/
  zoo-design --weights model.safetensors --fasta start.fa --raise 0 --method ledidi --max-edits 40 --out l/
"""


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Design DNA for a zoo model: greedy rounds or beam search on exact ISM, or ledidi.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m = p.add_argument_group("model (as zoo-predict)")
    m.add_argument("--model", help="registry name, or a published model (zoo-pretrained list)")
    m.add_argument("--weights", help="weights file; required unless --pretrained")
    m.add_argument("--pretrained", action="store_true", help="download --model's published weights")
    m.add_argument(
        "--model-arg", action="append", default=[], metavar="KEY=VALUE", help="constructor argument"
    )
    m.add_argument("--labels", help="target names, one per line (default: the names the weights record)")
    i = p.add_argument_group("start (one of)")
    i.add_argument("--fasta", help="start sequences, each the model's length")
    i.add_argument(
        "--random",
        type=at_most(MAX_SEQUENCES),
        metavar="N",
        help=f"N random starts (at most {MAX_SEQUENCES:,})",
    )
    i.add_argument("--seed", type=int, default=0, help="seed of the random starts and of ledidi (default 0)")
    g = p.add_argument_group("objective")
    g.add_argument("--raise", dest="raised", default="", help="targets to raise (names, indices, globs)")
    g.add_argument("--lower", default="", help="targets to lower")
    g.add_argument("--penalty", type=float, default=0.0, help="weight of the other targets' |logit change|")
    g.add_argument(
        "--keep", action="append", default=[], metavar="START-END",
        help="0-based positions [START, END) that may not change (repeatable)",
    )  # fmt: skip
    g.add_argument(
        "--max-edits", type=at_most(MAX_EDITS), default=10, help="most positions changed (default 10)"
    )
    s = p.add_argument_group("search")
    s.add_argument("--method", choices=["greedy", "beam", "ledidi"], default="greedy")
    s.add_argument("--beam-width", type=at_most(1024), default=4, help="sequences kept per round (beam)")
    s.add_argument("--ledidi-iter", type=at_most(100_000), default=500, help="ledidi's most iterations")
    s.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available, else cpu")
    o = p.add_argument_group("output")
    o.add_argument("--out", required=True, help="output folder (written whole, or not at all)")
    o.add_argument("--overwrite", action="store_true", help="replace an earlier zoo-design output in --out")
    o.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def _file_part(name: str) -> str:
    """``name`` made safe as a file name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "sequence"


def parse_keep(items: list[str], length: int) -> np.ndarray:
    """The (L,) mask of ``--keep START-END`` ranges."""
    mask = np.zeros(length, dtype=bool)
    for item in items:
        a, sep, b = item.partition("-")
        try:
            start, end = int(a), int(b)
        except ValueError:
            raise PredictError(f"--keep {item!r}: expected START-END (0-based, end excluded)") from None
        if not sep or not 0 <= start < end <= length:
            raise PredictError(f"--keep {item!r}: expected 0 <= START < END <= {length}")
        mask[start:end] = True
    return mask


def _starts(ns: argparse.Namespace, length: int) -> tuple[list[str], list[str]]:
    """(names, start sequences)."""
    if bool(ns.fasta) == (ns.random is not None):
        raise PredictError("give one start: --fasta FILE or --random N")
    if ns.random is not None:
        if ns.random < 1:
            raise PredictError(f"--random must be >= 1, got {ns.random}")
        return [f"random{i}" for i in range(ns.random)], random_sequences(ns.random, length, ns.seed)
    from zoo.predict.inputs.fasta import fasta_job

    names, seqs = [], []
    for item in fasta_job(ns.fasta, length).items:
        if item.status != "ok":
            raise PredictError(f"--fasta record {item.meta[0]!r}: {item.status} (each must be {length} bp)")
        names.append(str(item.meta[0]))
        seqs.append(item.windows[0])
        if len(seqs) > MAX_SEQUENCES:
            raise PredictError(f"--fasta holds more than {MAX_SEQUENCES:,} records")
    if not seqs:
        raise PredictError(f"--fasta {ns.fasta!r} holds no record")
    return names, seqs


def _targets(text: str, labels: list[str] | None, n: int, option: str) -> tuple[list[int], list[str]]:
    wanted = [t.strip() for t in text.split(",") if t.strip()]
    if not wanted:
        return [], []
    try:
        return pick_targets(labels, n, wanted)
    except PredictError as err:
        raise PredictError(f"{option}: {err}") from None


def _prepare_folder(ns: argparse.Namespace) -> Path:
    from zoo._io.folders import earlier_output

    target = Path(ns.out)
    if target.exists() and not target.is_dir():
        raise PredictError(f"--out {ns.out!r} is a file; zoo-design writes a folder")
    if target.is_dir():
        try:
            earlier = earlier_output(target, PROG, {"--weights": ns.weights, "--fasta": ns.fasta})
        except FolderOutputError as err:
            raise PredictError(f"--out {err}") from None
        if earlier and not ns.overwrite:
            raise PredictError(f"--out {ns.out!r} exists and is not empty; pass --overwrite to replace it")
    if not target.resolve().parent.is_dir():
        raise PredictError(f"--out {ns.out!r}: its parent folder does not exist")
    return staging_folder(target)


def run(ns: argparse.Namespace) -> int:
    """Design what the parsed command line asks and write the folder; returns the exit status."""
    from tqdm import tqdm

    if ns.penalty < 0:
        raise PredictError(f"--penalty must be >= 0, got {ns.penalty}")
    if ns.max_edits < 1:
        raise PredictError(f"--max-edits must be >= 1, got {ns.max_edits}")
    ns.device = ns.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, _ = load_predict_model(
        ns.model, ns.weights, parse_key_values(ns.model_arg, "--model-arg"), pretrained=ns.pretrained,
        progress=not ns.no_progress,
    )  # fmt: skip
    n = n_targets_of(model)
    labels = read_target_names(ns.labels, n) if ns.labels else getattr(model, "target_names", None)
    raised, raised_names = _targets(ns.raised, labels, n, "--raise")
    lowered, lowered_names = _targets(ns.lower, labels, n, "--lower")
    objective = make_objective(raised, lowered, n, ns.penalty)
    names, starts = _starts(ns, model.seq_len)
    keep = parse_keep(ns.keep, model.seq_len)
    all_names = list(labels) if labels is not None else [str(t) for t in range(n)]
    column_names = [all_names[c] for c in objective.columns]
    tmp = _prepare_folder(ns)
    try:
        results = []
        with tqdm(
            total=len(starts), unit=" sequences", file=sys.stderr, disable=ns.no_progress, desc=PROG
        ) as bar:
            for start in starts:
                if ns.method == "ledidi":
                    r = ledidi_design(model, start, objective, mask=keep, max_edits=ns.max_edits,
                                      max_iter=ns.ledidi_iter, device=ns.device, seed=ns.seed)  # fmt: skip
                else:
                    width = 1 if ns.method == "greedy" else ns.beam_width
                    r = beam_design(model, start, objective, mask=keep, max_edits=ns.max_edits,
                                    beam_width=width, device=ns.device, method=ns.method,
                                    on_round=lambda k: bar.set_postfix_str(f"round {k}"))  # fmt: skip
                results.append(r)
                bar.update(1)
        safe = [_file_part(name) for name in names]
        write_fasta(tmp / "designed.fa", results, names)
        write_edits(tmp / "edits.tsv", results, names, column_names)
        plot_trajectory(tmp / "trajectory.png", results[:8], names[:8], column_names)
        first = (raised or lowered)[0]
        plot_final_logos(tmp / "logos", model, results[:8], safe[:8], first, all_names[first], ns.device)
        publish_folder(tmp, ns.out, command=PROG)
        tmp = None
    except FolderOutputError as err:
        raise PredictError(f"--out {err}") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    gains = [r.trajectory[-1] - r.trajectory[0] for r in results]
    print(
        f"{PROG}: designed {len(results)} sequences ({ns.method}; targets raised: {raised_names or '-'}, "
        f"lowered: {lowered_names or '-'}); mean objective gain {np.mean(gains):.4g}; wrote {ns.out}",
        file=sys.stderr,
    )
    return 0


COMMAND = Command(
    PROG, build_parser, run, reported=(PredictError, DesignError, ValueError, ImportError),
    reported_at_exit=(OSError,), fast_exit=True,
)  # fmt: skip
main = COMMAND.main
call = COMMAND.call


if __name__ == "__main__":
    main()
