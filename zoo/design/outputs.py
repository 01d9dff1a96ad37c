"""A design run's folder: designed.fa, edits.tsv, trajectory.png and a logo of each final sequence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import nn

from zoo._io.writing import atomic_path
from zoo.design.search import DesignResult


def write_fasta(path: Path, results: Sequence[DesignResult], names: Sequence[str]) -> Path:
    """The designed sequences as FASTA, each record named ``<name>`` with its objective and edits.

    Args:
        path: the file.
        results: the designs.
        names: one record name per design.
    """
    with atomic_path(path, suffix=".fa") as tmp, open(tmp, "w", encoding="ascii", newline="\n") as f:
        for name, result in zip(names, results):
            f.write(f">{name} objective={result.trajectory[-1]:.6g} edits={result.n_edits}\n")
            for i in range(0, len(result.designed), 60):
                f.write(result.designed[i : i + 60] + "\n")
    return path


def write_edits(
    path: Path, results: Sequence[DesignResult], names: Sequence[str], targets: Sequence[str]
) -> Path:
    """edits.tsv: one row per accepted edit (round 0: the start), with the objective and the
    logit of every objective target after it.

    Args:
        path: the file.
        results: the designs.
        names: one name per design.
        targets: the names of the objective's columns.
    """
    header = [
        "sequence",
        "round",
        "position",
        "before",
        "after",
        "objective",
        *(f"logit:{t}" for t in targets),
    ]
    with atomic_path(path, suffix=".tsv") as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(header) + "\n")
        for name, r in zip(names, results):
            f.write("\t".join([name, "0", ".", ".", ".", f"{r.start_objective:.6g}",
                               *(f"{v:.6g}" for v in r.start_logits)]) + "\n")  # fmt: skip
            for e in r.edits:
                values = [f"{e.objective:.6g}", *(f"{v:.6g}" for v in e.logits)]
                f.write("\t".join([name, str(e.round), str(e.position), e.before, e.after, *values]) + "\n")
    return path


def plot_trajectory(
    path: Path, results: Sequence[DesignResult], names: Sequence[str], targets: Sequence[str]
) -> Path:
    """trajectory.png: the objective (top) and each objective target's logit (bottom) after every
    edit, one line per design.

    Args:
        path: the PNG.
        results: the designs.
        names: one name per design.
        targets: the names of the objective's columns.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 6), dpi=120, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    for name, r in zip(names, results):
        line = top.plot(range(len(r.trajectory)), r.trajectory, marker="o", ms=3, label=name)[0]
        logits = np.array([r.start_logits, *(e.logits for e in r.edits)])
        for k, target in enumerate(targets[:4]):
            bottom.plot(
                logits[:, k], color=line.get_color(), ls=["-", "--", ":", "-."][k], label=f"{name}: {target}"
            )
    top.set_ylabel("objective")
    bottom.set_ylabel("logit")
    bottom.set_xlabel("edit")
    top.legend(fontsize=7)
    bottom.legend(fontsize=7)
    title = f"design trajectory ({results[0].method})"
    fig.suptitle(title)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", metadata={"Title": title})
    return path


def plot_final_logos(
    folder: Path,
    model: nn.Module,
    results: Sequence[DesignResult],
    names: Sequence[str],
    target: int,
    target_name: str,
    device: str = "cpu",
) -> list[Path]:
    """A logo of each designed sequence: ISM importance of ``target`` on its bases (above) and the
    ISM heatmap (below), the edited positions starred; the 100 positions around the strongest.

    Args:
        folder: where the PNGs go (``<name>.png``).
        model: the model.
        results: the designs.
        names: one name per design (file-safe).
        target: the model output drawn.
        target_name: its name.
        device: where the ISM runs.
    """
    from zoo.dna import one_hot
    from zoo.interpret import ism, plot_attribution

    folder.mkdir(exist_ok=True)
    x = one_hot([r.designed for r in results])
    delta = ism(model, x, [target], device=device).delta[..., 0].numpy()
    paths = []
    for i, (name, r) in enumerate(zip(names, results)):
        importance = -delta[i].sum(1)[None, :] / 3 * x[i].numpy()
        edited = [p for p, (a, b) in enumerate(zip(r.start, r.designed)) if a != b]
        labels = [(p, p + 1, "*") for p in edited]
        paths.append(
            plot_attribution(
                folder / f"{name}.png",
                importance,
                delta[i],
                one_hot=x[i],
                target_name=f"{target_name} (ISM)",
                record_name=f"{name}, designed",
                labels=labels,
            )  # fmt: skip
        )
    return paths
