"""What every DNA model shares: input checks and optional strand averaging."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from zoo._checks import check_dna
from zoo.dna import reverse_complement
from zoo.heads import HeadedModel


def strand_mean_logits(forward_logits: torch.Tensor, reverse_logits: torch.Tensor) -> torch.Tensor:
    """The logit of the mean of both strands' probabilities, computed stably.

    logit((p_f + p_r) / 2) = logsumexp(logsig(f), logsig(r)) - logsumexp(logsig(-f), logsig(-r)),
    so ``sigmoid`` of the result is exactly the probability average that Kipoi's
    AverageRC and ExPecto compute, without forming probabilities near 0 or 1.
    """
    pos = torch.logaddexp(F.logsigmoid(forward_logits), F.logsigmoid(reverse_logits))
    neg = torch.logaddexp(F.logsigmoid(-forward_logits), F.logsigmoid(-reverse_logits))
    return pos - neg


def strand_pair(
    logits_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(forward, reverse-complement) logits of ``x`` from one call on both strands as one batch."""
    both = logits_fn(torch.cat([x, reverse_complement(x)]))
    # split at the batch size rather than ``chunk(2)``, whose guard pins an exported graph's
    # batch axis (torch.export) to the example's size
    n = x.shape[0]
    return both[:n], both[n:]


def conv_out_len(length: int, kernel: int, pool: int = 1) -> int:
    """Length after a valid (unpadded) convolution of width ``kernel`` and a max-pool."""
    return (length - kernel + 1) // pool


class DNAModel(HeadedModel):
    """Base of the genomic CNNs: input (N, 4, seq_len) in A, C, G, T order.

    Subclasses assign ``seq_len``, ``rc_average``, ``head`` and either the two stages
    ``conv`` and ``classifier`` or their own :meth:`strand_logits`.
    """

    seq_len: int
    rc_average: bool
    conv: nn.Module
    classifier: nn.Module

    def strand_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for the strand given, (N, 4, seq_len) -> (N, n_targets)."""
        return self.classifier(self.conv(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, n_targets) logits; with ``rc_average`` those of the mean strand probability."""
        x = check_dna(x, type(self).__name__, self.seq_len, self.input_dtype())
        if not self.rc_average:
            return self.strand_logits(x)
        return strand_mean_logits(*strand_pair(self.strand_logits, x))


_LONGEST_SEQ_LEN = 1 << 40  # searched for the shortest seq_len that fits the layers


def positions_after_convs(model: str, seq_len: int, positions: Callable[[int], int]) -> int:
    """``positions(seq_len)``, refusing a seq_len that leaves no positions to flatten, with
    the shortest that does (a ValueError, also for layers, e.g. a ``kernel_size``, that no
    length fits).

    Args:
        model: the model's name, for the message.
        seq_len: the input length.
        positions: the positions the convolutions and pooling leave of a length; never fewer
            for a longer one.
    """
    n = positions(seq_len)
    if n >= 1:
        return n
    if positions(_LONGEST_SEQ_LEN) < 1:
        raise ValueError(
            f"{model}: its convolutions and pooling leave no positions of any sequence up to "
            f"{_LONGEST_SEQ_LEN} bp (seq_len={seq_len}); make kernel_size or the pooling smaller"
        )
    low, high = seq_len, _LONGEST_SEQ_LEN  # positions(low) < 1 <= positions(high)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if positions(mid) >= 1 else (mid, high)
    raise ValueError(f"{model}: seq_len={seq_len} is too short; it needs seq_len >= {high}")


def implied_seq_len(
    positions: Callable[[int], int], in_features: int, channels: int, current: int
) -> dict[str, int]:
    """``{"seq_len": n}`` when a first dense layer of ``in_features`` = ``channels`` x
    ``positions(n)`` pins down ``n``; else ``{}``.

    ``current`` is kept when it fits, else the first multiple of 100 that does, else the
    smallest that does (searched up to 100 kb).
    """
    if in_features % channels:
        return {}
    target = in_features // channels
    if positions(current) == target:
        return {"seq_len": current}
    fits = [n for n in range(1, 100_001) if positions(n) == target]
    if not fits:
        return {}
    round_ = [n for n in fits if n % 100 == 0]
    return {"seq_len": (round_ or fits)[0]}


def n_targets_of(model: nn.Module) -> int:
    """The number of outputs of a DNA model: its ``n_targets``, else the width of the logits
    of one all-N (0.25) sequence on the model's device.

    Args:
        model: a DNA model.
    """
    n = getattr(model, "n_targets", None)
    if isinstance(n, int):
        return n
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    with torch.no_grad():
        probe = torch.full((1, 4, model.seq_len), 0.25, device=device)
        return int(model.logits(probe).shape[1])
