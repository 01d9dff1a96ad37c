"""Dinucleotide shuffles: references for DeepLIFT-SHAP that keep a sequence's local composition.

A shuffle that keeps every dinucleotide count is an Eulerian path through the multigraph whose
vertices are the symbols and whose edges are the sequence's adjacent pairs. A uniformly random
one is drawn as Altschul & Erickson (1985) and Kandel et al. (1996) describe: a random
spanning arborescence of "last exits" toward the final symbol (Wilson's algorithm), every
symbol's other exits in random order, then the walk from the first symbol.
"""

from __future__ import annotations

import numpy as np
import torch

_N_SYMBOL = 4  # every column that is not exactly one base (N, soft encodings) is one more symbol


def _symbols(x: np.ndarray) -> np.ndarray:
    """(L,) symbol of each column of a (4, L) one-hot: 0-3 for A, C, G, T, 4 for anything else."""
    clean = (x.sum(0) == 1) & ((x == 0) | (x == 1)).all(0)
    return np.where(clean, x.argmax(0), _N_SYMBOL)


def shuffle_order(symbols: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(L,) positions of ``symbols`` whose symbols, in this order, are a uniformly random
    sequence with the same first symbol, last symbol and count of every adjacent pair.

    Edge ``i`` (1 <= i < L) is the pair (symbols[i - 1], symbols[i]), named by the position it
    enters; the walk lists the positions of the edges it takes.
    """
    length = len(symbols)
    if length < 3:
        return np.arange(length)
    exits: dict[int, list[int]] = {}
    for position in range(1, length):
        exits.setdefault(int(symbols[position - 1]), []).append(position)
    last = int(symbols[-1])
    # Wilson's algorithm: a random walk from each symbol until it meets the tree; each symbol's
    # last exit is the one the walk took from it last (loops erase themselves that way).
    in_tree, last_exit = {last}, {}
    for start in exits:
        u = start
        while u not in in_tree:
            last_exit[u] = exits[u][rng.integers(len(exits[u]))]
            u = int(symbols[last_exit[u]])
        u = start
        while u not in in_tree:
            in_tree.add(u)
            u = int(symbols[last_exit[u]])
    queues = {}
    for u, edges in exits.items():
        rest = [e for e in edges if e != last_exit.get(u)]
        order = [rest[i] for i in rng.permutation(len(rest))]
        queues[u] = order + ([last_exit[u]] if u in last_exit else [])
    taken = dict.fromkeys(queues, 0)
    out = np.empty(length, dtype=np.int64)
    out[0], u = 0, int(symbols[0])
    for step in range(1, length):
        edge = queues[u][taken[u]]
        taken[u] += 1
        out[step], u = edge, int(symbols[edge])
    return out


def dinucleotide_shuffle(
    x: torch.Tensor | np.ndarray | str, n: int = 1, seed: int | np.random.Generator | None = 0
) -> torch.Tensor | list[str]:
    """``n`` random shuffles of DNA that keep its first and last base and every dinucleotide count.

    Columns move whole, so an N (or any column that is not one base) moves as one more symbol
    and keeps its encoding.

    Args:
        x: one-hot (4, L), which gives (n, 4, L), or (N, 4, L), which gives (N, n, 4, L)
            (float32); a string gives a list of ``n`` strings.
        n: the number of shuffles.
        seed: an int or a numpy Generator (None: fresh entropy).
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (shuffles per sequence), got {n!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if isinstance(x, str):
        codes = np.frombuffer(x.encode("ascii"), dtype=np.uint8)
        return [bytes(codes[shuffle_order(codes, rng)]).decode("ascii") for _ in range(n)]
    array = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    single = array.ndim == 2
    if single:
        array = array[None]
    if array.ndim != 3 or array.shape[1] != 4:
        raise ValueError(
            f"dinucleotide_shuffle takes one-hot DNA (4, L) or (N, 4, L), got shape {array.shape}"
        )
    out = np.empty((len(array), n, *array.shape[1:]), dtype=np.float32)
    for i, seq in enumerate(array):
        symbols = _symbols(seq)
        for j in range(n):
            out[i, j] = seq[:, shuffle_order(symbols, rng)]
    return torch.from_numpy(out[0] if single else out)
