"""zoo.design and zoo-design on a tiny model trained on a planted CTCF motif: the objective rises,
kept positions stay, the budget holds, and every reported edit's logits equal rescoring."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("pyjaspar")  # the planted motif comes from JASPAR
sys.path.insert(0, str(Path(__file__).parent))

from _motif_support import SEQ_LEN, TARGETS, trained_model  # noqa: E402

from zoo.design import (  # noqa: E402
    DesignError,
    beam_design,
    greedy_design,
    ledidi_design,
    make_objective,
    random_sequences,
)
from zoo.dna import one_hot  # noqa: E402


def _rescore(model: torch.nn.Module, seqs: list[str], columns: list[int]) -> np.ndarray:
    with torch.no_grad():
        return model.logits(one_hot(seqs))[:, columns].numpy()


def _replay(start: str, edits) -> list[str]:  # noqa: ANN001
    seqs, seq = [], list(start)
    for e in edits:
        assert seq[e.position] == e.before
        seq[e.position] = e.after
        seqs.append("".join(seq))
    return seqs


def _objective_of(logits: np.ndarray, start: np.ndarray, penalty: float) -> np.ndarray:
    # raise target 0, penalise target 1's change: written out for the two-target model
    return logits[:, 0] - penalty * np.abs(logits[:, 1] - start[1])


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_design_raises_target_keeps_mask_and_budget(search: str) -> None:
    model = trained_model()
    start = random_sequences(1, SEQ_LEN, seed=5)[0]
    objective = make_objective([0], [], len(TARGETS), penalty=0.5)
    keep = np.zeros(SEQ_LEN, dtype=bool)
    keep[:60] = True
    if search == "greedy":
        result = greedy_design(model, start, objective, mask=keep, max_edits=6)
    else:
        result = beam_design(model, start, objective, mask=keep, max_edits=6, beam_width=3)
    assert result.columns == [0, 1]
    assert result.trajectory[-1] > result.trajectory[0] + 1.0
    assert result.designed[:60] == start[:60]
    assert 1 <= result.n_edits <= 6
    assert all(not keep[e.position] for e in result.edits)
    # every reported edit's logits and objective equal the model's on the replayed sequences
    seqs = _replay(start, result.edits)
    assert seqs[-1] == result.designed
    logits = _rescore(model, [start, *seqs], result.columns)
    np.testing.assert_allclose(np.array([e.logits for e in result.edits]), logits[1:], atol=1e-4)
    np.testing.assert_allclose(result.start_logits, logits[0], atol=1e-5)
    expected = _objective_of(logits, logits[0], 0.5)
    np.testing.assert_allclose(result.trajectory, expected, atol=1e-4)
    assert np.all(np.diff(result.trajectory) > 0)


def test_greedy_round_takes_the_best_single_change() -> None:
    """The first greedy edit is the best of all single changes, found by rescoring every mutant."""
    model = trained_model()
    start = random_sequences(1, SEQ_LEN, seed=5)[0]
    objective = make_objective([0], [1], len(TARGETS))
    result = greedy_design(model, start, objective, max_edits=1)
    assert result.n_edits == 1
    mutants = [start[:p] + b + start[p + 1 :] for p in range(SEQ_LEN) for b in "ACGT" if b != start[p]]
    logits = _rescore(model, mutants, [0, 1])
    values = logits[:, 0] - logits[:, 1]
    assert result.designed in mutants
    # the best change (ties within float error may pick either of two equal mutants)
    assert values[mutants.index(result.designed)] >= values.max() - 1e-4


def test_budget_spent_allows_only_edited_positions() -> None:
    model = trained_model()
    start = random_sequences(1, SEQ_LEN, seed=5)[0]
    result = greedy_design(model, start, make_objective([0]), max_edits=2, rounds=8)
    assert result.n_edits == 2
    # after the second edit only the two edited positions may change again
    assert len({e.position for e in result.edits}) == 2


def test_ledidi_design_raises_target_within_budget() -> None:
    pytest.importorskip("ledidi")
    model = trained_model()
    start = random_sequences(1, SEQ_LEN, seed=5)[0]
    keep = np.zeros(SEQ_LEN, dtype=bool)
    keep[:50] = True
    result = ledidi_design(
        model, start, make_objective([0]), mask=keep, max_edits=5, max_iter=150, input_weight=0.01
    )
    assert result.designed[:50] == start[:50]
    assert result.n_edits <= 5 and result.trajectory[-1] > result.trajectory[0]
    logits = _rescore(model, _replay(start, result.edits), result.columns)
    np.testing.assert_allclose(np.array([e.logits for e in result.edits]), logits, atol=1e-4)


def test_bad_requests_are_one_line_errors() -> None:
    model = trained_model()
    with pytest.raises(DesignError, match="nothing to design for"):
        make_objective([], [])
    with pytest.raises(DesignError, match=r"targets \[0\] are both raised and lowered"):
        make_objective([0], [0])
    with pytest.raises(DesignError, match=f"a start sequence has 5 bp; the model takes {SEQ_LEN}"):
        greedy_design(model, "ACGTA", make_objective([0]))
    with pytest.raises(DesignError, match=r"holds \['N'\]"):
        greedy_design(model, "N" * SEQ_LEN, make_objective([0]))
    with pytest.raises(DesignError, match="the mask keeps every position"):
        greedy_design(model, "A" * SEQ_LEN, make_objective([0]), mask=np.ones(SEQ_LEN, bool))
    with pytest.raises(DesignError, match="max_edits must be a whole number >= 1"):
        greedy_design(model, "A" * SEQ_LEN, make_objective([0]), max_edits=0)


def test_zoo_design_folder(tmp_path: Path) -> None:
    import zoo
    from zoo.cli.design import call

    weights = tmp_path / "m.safetensors"
    zoo.save_weights(trained_model(), weights)
    (tmp_path / "labels.txt").write_text("".join(f"{t}\n" for t in TARGETS))
    out = tmp_path / "d"
    code = call(["--weights", str(weights), "--labels", str(tmp_path / "labels.txt"), "--random", "2",
                 "--raise", "CTCF", "--penalty", "0.1", "--keep", "0-50", "--max-edits", "4",
                 "--out", str(out), "--no-progress"])  # fmt: skip
    assert code == 0
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert {"designed.fa", "edits.tsv", "trajectory.png", "logos"} <= set(names)
    lines = (out / "edits.tsv").read_text().splitlines()
    assert lines[0].split("\t") == ["sequence", "round", "position", "before", "after", "objective",
                                    "logit:CTCF", "logit:GC"]  # fmt: skip
    fasta = (out / "designed.fa").read_text().split(">")[1:]
    starts = random_sequences(2, SEQ_LEN, seed=0)
    for record, start in zip(fasta, starts):
        header, *seq = record.splitlines()
        seq = "".join(seq)
        assert seq[:50] == start[:50] and sum(a != b for a, b in zip(seq, start)) <= 4
    assert call(["--weights", str(weights), "--random", "1", "--raise", "nope", "--out", str(tmp_path / "e"),
                 "--no-progress"]) == 1  # fmt: skip
    assert not (tmp_path / "e").exists()
