"""What every interpretation function takes: DNA as strings or one-hot, and targets by index or name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo._checks import check_dna
from zoo.dna import one_hot

Seqs = str | Sequence[str] | torch.Tensor | np.ndarray
Target = int | str


def as_one_hot(seqs: Seqs, model: nn.Module, n_value: float = 0.25) -> torch.Tensor:
    """``seqs`` as a float32 (N, 4, seq_len) CPU tensor: strings are encoded with ``n_value`` for N,
    one-hot tensors or arrays ((N, 4, L), or one (4, L)) are checked and used as they are."""
    name = type(model).__name__
    if isinstance(seqs, np.ndarray):
        seqs = torch.from_numpy(seqs)
    if isinstance(seqs, torch.Tensor):
        x = seqs.unsqueeze(0) if seqs.dim() == 2 and seqs.shape[0] == 4 else seqs
        if not x.is_floating_point():
            x = x.float()
        x = x.detach().to("cpu", torch.float32)
    else:
        x = one_hot([seqs] if isinstance(seqs, str) else seqs, n_value)
    seq_len = getattr(model, "seq_len", None)
    if not isinstance(seq_len, int):
        raise ValueError(f"{name} has no seq_len: interpretation needs a DNA model (N, 4, seq_len)")
    x = check_dna(x, name, seq_len)
    if len(x) == 0:
        raise ValueError("seqs is empty: give at least one sequence")
    return x.contiguous()


def names_of(model: nn.Module, target_names: Sequence[str] | None) -> list[str] | None:
    """``target_names`` if given, else the names the model carries (``model.target_names``, from
    the catalogue or the weights file), else None."""
    names = target_names if target_names is not None else getattr(model, "target_names", None)
    return list(names) if names is not None else None


def resolve_targets(
    targets: Target | Sequence[Target] | None, n_targets: int, target_names: Sequence[str] | None = None
) -> list[int]:
    """Target indices from None (all), an index, a name, or a list of them.

    Names are looked up in ``target_names`` (one per model output); an unknown name or an
    index out of range raises ValueError naming it.
    """
    if target_names is not None:
        target_names = list(target_names)
        if len(target_names) != n_targets:
            raise ValueError(f"target_names has {len(target_names)} names; the model has {n_targets} targets")
    if targets is None:
        return list(range(n_targets))
    items: list[Any] = [targets] if isinstance(targets, (int, str, np.integer)) else list(targets)
    if not items:
        raise ValueError("targets is empty: give None (all targets), an index, a name or a list of them")
    out = []
    for item in items:
        if isinstance(item, str):
            if target_names is None:
                raise ValueError(f"target {item!r} is a name: pass target_names to look names up")
            if item not in target_names:
                raise ValueError(f"target {item!r} is not among the {n_targets} target_names")
            out.append(target_names.index(item))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not 0 <= int(item) < n_targets:
                raise ValueError(f"target index {int(item)} is out of range for {n_targets} targets")
            out.append(int(item))
        else:
            raise ValueError(f"target {item!r} is neither an index nor a name")
    return out
