"""Shared helpers for the zoo-predict tests: the shipped example and an independent reference."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from zoo.cli.predict import call as run
from zoo.dna import reverse_complement_str

DATA = Path(__file__).resolve().parent / "data" / "predict"
WEIGHTS = DATA / "tiny_deepsea.safetensors"


def variant_argv(vcf: Path = DATA / "variants.vcf") -> list[str]:
    """zoo-predict arguments that score ``vcf`` on the example genome with the example weights."""
    return ["--weights", str(WEIGHTS), "--genome", str(DATA / "genome.fa"), "--vcf", str(vcf)]


def example_model() -> torch.nn.Module:
    """The shipped 200 bp -> 5 target DeepSEA-shaped model."""
    return zoo.load_model(WEIGHTS)


def direct_logits(model: torch.nn.Module, seqs: list[str]) -> np.ndarray:
    """model.logits(one_hot(seqs)), one sequence at a time (no batching shared with zoo-predict)."""
    with torch.no_grad():
        return np.stack([model.logits(zoo.one_hot([s]))[0].numpy() for s in seqs])


def direct_probs(model: torch.nn.Module, seqs: list[str], rc: str = "none") -> np.ndarray:
    """sigmoid(model.logits(one_hot(seq))), combined with the reverse complement's as asked."""
    forward = 1 / (1 + np.exp(-direct_logits(model, seqs).astype(np.float64)))
    if rc == "none":
        return forward
    reverse = 1 / (
        1 + np.exp(-direct_logits(model, [reverse_complement_str(s) for s in seqs]).astype(np.float64))
    )
    return (forward + reverse) / 2 if rc == "mean" else np.maximum(forward, reverse)


def read_fasta(path: Path) -> dict[str, str]:
    """name -> sequence of a small FASTA file."""
    records: dict[str, str] = {}
    name = ""
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            records[name] = ""
        elif line.strip():
            records[name] += line.strip()
    return records


def read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a TSV file."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return rows[0], rows[1:]


def float_columns(header: list[str], rows: list[list[str]], columns: list[str]) -> np.ndarray:
    """The named columns of a TSV table as floats (nan stays nan)."""
    idx = [header.index(c) for c in columns]
    return np.array([[float(r[i]) for i in idx] for r in rows], dtype=np.float64)


def predict_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str, out: str = "out.tsv"
) -> str:
    """Run zoo-predict expecting failure; return stderr; check that the folder is left empty."""
    before = set(tmp_path.iterdir())
    assert run([*argv, "--out", str(tmp_path / out), "--no-progress"]) == 1
    assert set(tmp_path.iterdir()) == before  # neither the output nor a temporary file
    err = capsys.readouterr().err
    assert err.startswith("zoo-predict: error: ")
    return err
