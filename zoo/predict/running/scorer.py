"""A DNA model ready to score windows: selected targets, strand combination, precision and device.

Every model call goes through :func:`zoo.inference.prepare_logits`. Strands are combined
in logit space so that probabilities and log fold changes both come from logits:
``mean`` is the logit of the mean probability (stable, as the models' ``rc_average``),
``max`` is the larger logit (sigmoid is monotonic, so it is also the larger probability).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from zoo._checks import require_number
from zoo.dna import base_codes, one_hot, one_hot_codes
from zoo.inference import prepare_logits
from zoo.models._dna import strand_mean_logits, strand_pair
from zoo.predict.errors import PredictError
from zoo.predict.outputs.columns import pick_targets
from zoo.predict.running.loading import default_n_value, n_targets_of

RC_MODES: tuple[str, ...] = ("none", "mean", "max")


class Scorer:
    """A DNA model ready to score: selected targets, strand combination, precision and device.

    Args:
        model: a DNA model.
        labels: names all of the model's targets (default: the model's ``target_names``,
            else ``target_0`` ...).
        targets: keeps a subset (names, indices as strings or ints, globs such as
            ``*K562*`` or ``re:REGEX`` patterns over the names).
        rc: combines each window with its reverse complement (one of :data:`RC_MODES`).
        precision: as :func:`zoo.inference.prepare_logits` takes it.
        device: as :func:`zoo.inference.prepare_logits` takes it.
        n_value: the one-hot value of N (default:
            :func:`~zoo.predict.running.loading.default_n_value`).
        batch_size: the number of windows per model call (reverse complements double it).

    Options that cannot work (an unknown target, a model that does not take DNA, a precision
    the device lacks) raise a :class:`~zoo.predict.errors.PredictError`.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        labels: Sequence[str] | None = None,
        targets: Sequence[str | int] | None = None,
        rc: str = "none",
        precision: str = "fp32",
        device: str | torch.device = "cpu",
        n_value: float | None = None,
        batch_size: int = 128,
    ) -> None:
        if rc not in RC_MODES:
            raise PredictError(f"rc={rc!r} is not one of {list(RC_MODES)}")
        if batch_size < 1:
            raise PredictError(f"batch size must be >= 1, got {batch_size}")
        if not hasattr(model, "seq_len"):
            raise PredictError(f"{type(model).__name__} does not take DNA sequences")
        if labels is None:  # the names the weights record, else target_0, target_1, ...
            labels = getattr(model, "target_names", None)
        wanted = [str(t) for t in targets] if targets else None
        n_targets = n_targets_of(model)
        picked, self.columns = pick_targets(labels, n_targets, wanted)
        self.seq_len: int = model.seq_len
        try:
            self.n_value = default_n_value(model) if n_value is None else require_number(n_value, "n_value")
        except (TypeError, ValueError) as err:
            raise PredictError(str(err)) from None
        self.rc, self.batch_size = rc, batch_size
        try:
            self.device = torch.device(device)
            self._logits_fn = prepare_logits(model, precision, self.device)  # type: ignore[arg-type]
        except (ValueError, RuntimeError) as err:
            raise PredictError(str(err)) from err
        keep_all = picked == list(range(n_targets))
        self._picked = None if keep_all else torch.tensor(picked, device=self.device)

    def encode(self, seqs: Sequence[str]) -> torch.Tensor:
        """What :meth:`logits` takes: one-hot (N, 4, seq_len) for the CPU; for CUDA the checked
        base codes (N, seq_len) uint8, pinned, which the GPU one-hot encodes itself (1 byte a
        base crosses the bus instead of 16, and the CPU thread that feeds the GPU does less).

        Args:
            seqs: sequences of exactly seq_len bases.
        """
        if self.device.type != "cuda":
            return one_hot(list(seqs), n_value=self.n_value)
        return base_codes(list(seqs)).pin_memory()

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Strand-combined float32 logits of the selected targets, (N, T), on the scoring device.

        Args:
            x: one-hot (N, 4, seq_len) or base codes (N, seq_len) from :meth:`encode`.
        """
        x = x.to(self.device, non_blocking=True)
        if x.dtype == torch.uint8:
            x = one_hot_codes(x, self.n_value)
        if self.rc == "none":
            out = self._logits_fn(x)
            return out if self._picked is None else out.index_select(1, self._picked)
        forward, reverse = strand_pair(self._logits_fn, x)
        if self._picked is not None:
            forward, reverse = forward.index_select(1, self._picked), reverse.index_select(1, self._picked)
        if self.rc == "mean":
            return strand_mean_logits(forward, reverse)
        return torch.maximum(forward, reverse)

    def from_codes(self, codes: np.ndarray) -> torch.Tensor:
        """What :meth:`logits` takes, from the checked base codes (N, seq_len) of
        :func:`zoo.dna.base_codes` made elsewhere (pinned for CUDA; the CPU one-hot encodes
        them in :meth:`logits`, as the GPU does).

        Args:
            codes: checked base codes (N, seq_len).
        """
        x = torch.from_numpy(codes)
        return x.pin_memory() if self.device.type == "cuda" else x

    def predict(self, seqs: Sequence[str]) -> np.ndarray:
        """Probabilities (N, T) of the selected targets for sequences of exactly seq_len bases.

        Args:
            seqs: sequences of exactly seq_len bases.
        """
        outs = [
            torch.sigmoid(self.logits(self.encode(seqs[i : i + self.batch_size]))).cpu()
            for i in range(0, len(seqs), self.batch_size)
        ]
        return torch.cat(outs).numpy() if outs else np.zeros((0, len(self.columns)), np.float32)
