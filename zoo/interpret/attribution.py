"""Attributions of one target's logit to the input bases, through captum.

Methods (``method=``):

- ``saliency``: the gradient of the logit, signed (captum ``Saliency(abs=False)``).
- ``input_x_gradient``: input times gradient (captum ``InputXGradient``).
- ``integrated_gradients``: captum ``IntegratedGradients`` from each reference (default one
  reference of 0.25 in every channel), averaged over the references.
- ``deeplift_shap``: captum ``DeepLift`` from each dinucleotide shuffle of the sequence
  (default 20), averaged: what captum's ``DeepLiftShap`` computes, with the references of each
  sequence its own shuffles.

Every method gives multipliers ``m_s`` (N, 4, L) for references ``r_s`` (zero for the two
gradient methods), with attributions ``mean_s (x - r_s) * m_s`` (captum's own output, which
``multiply_by_inputs`` would give), and *hypothetical contributions*

    hyp[b, l] = mean_s ( m_s[b, l] - sum_c r_s[c, l] * m_s[c, l] ),

the contribution base b would make at position l had it been there: the attribution of the
one-hot column e_b, ``sum_c (e_b[c] - r_s[c, l]) * m_s[c, l]``. This is the
``combine_mult_and_diffref`` formula of the DeepLIFT and TF-MoDISco examples, and what
``modisco motifs -a`` reads. For one-hot x, ``(hyp * x).sum(1) == attributions.sum(1)``; with
a zero reference hyp is the gradient, with the uniform one it is the gradient less its mean
over the four bases.

DeepLIFT needs each nonlinearity as a module used once. The zoo's layers are modules. For the
duration of a call, captum's DeepLift gets the rescale rule for the original DeepSEA's
nn.Threshold, a max-pool rule for overlapping windows, and a copy of each hooked layer's
input so that an activation followed by a pool keeps the pool's rule (see
``_deeplift_rules``): the attributions then sum to logit(x) - mean logit(references). A model
with ``rc_average=True`` runs its layers on both strands, so DeepLIFT refuses it: attribute it
with ``rc_average`` off (one strand).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from zoo._extras import install_hint
from zoo.interpret._arguments import Seqs, Target, as_one_hot, names_of, resolve_targets
from zoo.interpret.shuffle import dinucleotide_shuffle
from zoo.models import n_targets_of

AttributionMethod = Literal["saliency", "input_x_gradient", "integrated_gradients", "deeplift_shap"]
ATTRIBUTION_METHODS: tuple[str, ...] = (
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "deeplift_shap",
)
References = Literal["shuffle", "uniform", "zeros"]
MAX_STEPS = 10_000  # integrated-gradients steps; each is a forward and backward pass
MAX_SHUFFLES = 1_000  # shuffled references of a record; a batch's are allocated at once
_DEFAULT_REFERENCES = {"integrated_gradients": "uniform", "deeplift_shap": "shuffle"}


@dataclass
class AttributionResult:
    """Attributions of one target for N sequences of L bp.

    Attributes:
        attributions: (N, 4, L) float32 attributions.
        hypothetical: (N, 4, L) float32 hypothetical contributions (see the module).
        target: the model output attributed.
        target_name: its name, if known.
        method: the attribution method.
        convergence: (N,) sum of attributions - (logit(x) - mean logit(references)): DeepLIFT's
            and integrated gradients' completeness error; None for the gradient methods.
    """

    attributions: torch.Tensor  # (N, 4, L) float32
    hypothetical: torch.Tensor  # (N, 4, L) float32: hypothetical contributions (see the module)
    target: int
    target_name: str | None
    method: str
    # (N,) sum of attributions - (logit(x) - mean logit(references)): DeepLIFT's and integrated
    # gradients' completeness error; None for the gradient methods
    convergence: torch.Tensor | None


class _TargetLogit(nn.Module):
    """``model.logits(x)[:, target]``: the scalar captum attributes, one per sequence."""

    def __init__(self, model: nn.Module, target: int) -> None:
        super().__init__()
        self.model, self.target = model, target

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.logits(x)[:, self.target]


def _captum():  # noqa: ANN202 (the captum.attr module)
    try:
        import captum.attr
    except ImportError as err:
        raise ImportError(f"attributions need captum: {install_hint('interpret')}") from err
    return captum.attr


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """captum's notices that say what it does by design (input gradients switched on, hooks set)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Setting forward, backward hooks", UserWarning)
        warnings.filterwarnings("ignore", "Input Tensor 0 did not already require gradients", UserWarning)
        yield


def _maxpool_rule(
    module: nn.MaxPool1d,
    inputs: torch.Tensor,
    outputs: torch.Tensor,
    grad_input: torch.Tensor,
    grad_output: torch.Tensor,
    eps: float = 1e-10,
) -> torch.Tensor:
    """DeepLIFT's max-pool rule on captum's batch of (inputs; references): the change of each
    pooled output is routed to the positions that won the max (in the input half, the part
    above the reference's max; in the reference half, the rest), added up where windows
    overlap, and divided by each position's change. A position wins a share only if its own
    change covers it, so only an unchanged position needs a fallback: the input half's
    gradient, the same multiplier for both halves, as every rule further up needs."""
    with torch.no_grad():
        x, x_ref = inputs.chunk(2)
        out, out_ref = outputs.chunk(2)
        top = torch.max(out, out_ref)
        shares = grad_output * torch.cat([top - out_ref, out - top])
        _, winners = F.max_pool1d(
            inputs, module.kernel_size, module.stride, module.padding, module.dilation, module.ceil_mode, True
        )
        routed = torch.zeros_like(inputs).scatter_add_(2, winners, shares)
        routed = sum(routed.chunk(2))
        delta = x - x_ref
        unchanged = delta == 0
        half = torch.where(unchanged, grad_input.chunk(2)[0], routed / delta.masked_fill(unchanged, 1))
    return torch.cat([half, half])


@contextlib.contextmanager
def _deeplift_rules(model: nn.Module) -> Iterator[None]:
    """captum's DeepLift, made to keep its attributions summing to the change of the output,
    for the duration of the block; captum and ``model`` are as they were afterwards.

    - nn.Threshold (the original DeepSEA's activation) gets the rescale rule captum gives
      ReLU; captum does not list it and would pass plain gradients through it.
    - nn.MaxPool1d gets :func:`_maxpool_rule`, which adds up the shares of overlapping
      windows (captum's own keeps one of them).
    - Every hooked layer of ``model`` takes a copy of its input. captum hooks the tensor
      between two adjacent hooked layers (an activation and the pool after it) twice, and the
      activation's hook, registered first, would read the gradient before the pool's rule
      replaced it: the pool's rule would be lost.
    """
    from captum.attr._core import deep_lift

    rules = deep_lift.SUPPORTED_NON_LINEAR
    saved = {kind: rules.get(kind) for kind in (nn.Threshold, nn.MaxPool1d)}
    rules[nn.Threshold] = deep_lift.nonlinear
    rules[nn.MaxPool1d] = _maxpool_rule
    handles = [
        m.register_forward_pre_hook(lambda _, args: tuple(a.clone() for a in args))
        for m in model.modules()
        if type(m) in rules
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        for kind, rule in saved.items():
            if rule is None:
                rules.pop(kind, None)
            else:
                rules[kind] = rule


def _references(kind: References | torch.Tensor, x: torch.Tensor, n_shuffles: int, seed: int) -> torch.Tensor:
    """(N, S, 4, L) references for each sequence of ``x`` (N, 4, L)."""
    if isinstance(kind, (torch.Tensor, np.ndarray)):
        refs = torch.as_tensor(kind, dtype=torch.float32)
        refs = refs[None] if refs.dim() == 2 else refs
        refs = refs.expand(len(x), *refs.shape) if refs.dim() == 3 else refs
        if refs.dim() != 4 or refs.shape[0] != len(x) or refs.shape[2:] != x.shape[1:]:
            raise ValueError(
                f"references must be (4, L), (S, 4, L) or (N, S, 4, L) for inputs {tuple(x.shape)}, "
                f"got {tuple(torch.as_tensor(kind).shape)}"
            )
        return refs
    if kind == "shuffle":
        return dinucleotide_shuffle(x, n_shuffles, seed)  # type: ignore[return-value]
    if kind == "uniform":
        return torch.full((len(x), 1, *x.shape[1:]), 0.25)
    if kind == "zeros":
        return torch.zeros(len(x), 1, *x.shape[1:])
    raise ValueError(f"references={kind!r} is not 'shuffle', 'uniform', 'zeros' or a tensor")


def combine_multipliers(
    x: torch.Tensor, refs: torch.Tensor, multipliers: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(attributions, hypothetical) from multipliers (N, S, 4, L) for references (N, S, 4, L)
    of inputs (N, 4, L), by the formulas of the module docstring."""
    attributions = ((x[:, None] - refs) * multipliers).mean(1)
    hypothetical = (multipliers - (refs * multipliers).sum(2, keepdim=True)).mean(1)
    return attributions, hypothetical


def attribute(
    model: nn.Module,
    seqs: Seqs,
    target: Target = 0,
    *,
    method: AttributionMethod = "deeplift_shap",
    target_names: Sequence[str] | None = None,
    references: References | torch.Tensor | None = None,
    n_shuffles: int = 20,
    n_steps: int = 50,
    seed: int = 0,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    n_value: float = 0.25,
) -> AttributionResult:
    """Attributions and hypothetical contributions (N, 4, L) of one target's logit.

    The model is moved to ``device`` and put in eval mode.

    Args:
        model: the model.
        seqs: DNA strings or one-hot sequences (N, 4, L).
        target: an index, or a name from ``target_names``.
        method: the attribution method.
        target_names: the names ``target`` is looked up in (default: the model's
            ``target_names``, where it carries them).
        references: for integrated gradients and DeepLIFT-SHAP: "shuffle" (``n_shuffles``
            dinucleotide shuffles of each sequence, drawn from ``seed``), "uniform" (0.25
            everywhere), "zeros", or a tensor (4, L), (S, 4, L) or (N, S, 4, L); by default
            "uniform" for integrated gradients and "shuffle" for DeepLIFT-SHAP.
        n_shuffles: the shuffles per sequence of the "shuffle" references.
        n_steps: the steps of integrated gradients.
        seed: the seed of the shuffles.
        batch_size: rows (sequence-reference pairs) per pass.
        device: where to run the model.
        n_value: the one-hot value of N in string input.
    """
    if method not in ATTRIBUTION_METHODS:
        raise ValueError(f"method={method!r} is not one of {list(ATTRIBUTION_METHODS)}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    for option, value, limit in (("n_shuffles", n_shuffles, MAX_SHUFFLES), ("n_steps", n_steps, MAX_STEPS)):
        if isinstance(value, int) and value > limit:  # before references or steps are allocated
            raise ValueError(f"{option}={value:,} is more than the limit: at most {limit:,}")
    if method == "deeplift_shap" and getattr(model, "rc_average", False):
        raise ValueError(
            "DeepLIFT needs each layer used once, and a model with rc_average=True runs its layers "
            "on both strands: set model.rc_average = False to attribute one strand"
        )
    attr_lib = _captum()
    device = torch.device(device)
    x = as_one_hot(seqs, model, n_value)
    target_names = names_of(model, target_names)
    index = resolve_targets(target, n_targets_of(model), target_names)
    if len(index) != 1:
        raise ValueError(f"attribute takes one target, got {len(index)}: call it once per target")
    model = model.to(device).eval()
    forward = _TargetLogit(model, index[0]).eval()
    kind = references if references is not None else _DEFAULT_REFERENCES.get(method, "zeros")
    if method in ("saliency", "input_x_gradient"):
        if references is not None:
            raise ValueError(f"method={method!r} takes no references")
        refs = torch.zeros(len(x), 1, *x.shape[1:])
        saliency = attr_lib.Saliency(forward)
        with _quiet():
            grads = [saliency.attribute(part.to(device), abs=False).cpu() for part in x.split(batch_size)]
        multipliers = torch.cat(grads)[:, None]
    else:
        refs = _references(kind, x, n_shuffles, seed)
        multipliers = _reference_multipliers(attr_lib, method, forward, x, refs, n_steps, batch_size, device)
    attributions, hypothetical = combine_multipliers(x, refs, multipliers)
    if method == "saliency":
        attributions = multipliers[:, 0]
    convergence = None
    if method in ("integrated_gradients", "deeplift_shap"):
        with torch.no_grad():
            f_x = torch.cat([forward(part.to(device)).cpu() for part in x.split(batch_size)])
            flat = refs.reshape(-1, *x.shape[1:])
            f_refs = torch.cat([forward(part.to(device)).cpu() for part in flat.split(batch_size)])
        convergence = attributions.sum((1, 2)) - (f_x - f_refs.view(len(x), -1).mean(1))
    name = list(target_names)[index[0]] if target_names is not None else None
    return AttributionResult(attributions, hypothetical, index[0], name, method, convergence)


def _reference_multipliers(
    attr_lib,  # noqa: ANN001 (the captum.attr module)
    method: str,
    forward: nn.Module,
    x: torch.Tensor,
    refs: torch.Tensor,
    n_steps: int,
    batch_size: int,
    device: torch.device,
) -> torch.Tensor:
    """(N, S, 4, L) multipliers of each (sequence, reference) pair: captum with
    ``multiply_by_inputs=False`` on rows that pair each sequence with each of its references."""
    n, s = refs.shape[:2]
    inputs = x[:, None].expand_as(refs).reshape(n * s, *x.shape[1:])
    baselines = refs.reshape(n * s, *x.shape[1:])
    out = []
    if method == "deeplift_shap":
        explainer = attr_lib.DeepLift(forward, multiply_by_inputs=False)
        with _deeplift_rules(forward), _quiet():
            for a, b in zip(inputs.split(batch_size), baselines.split(batch_size)):
                out.append(explainer.attribute(a.to(device), baselines=b.to(device)).detach().cpu())
    else:
        explainer = attr_lib.IntegratedGradients(forward, multiply_by_inputs=False)
        with _quiet():
            for a, b in zip(inputs.split(batch_size), baselines.split(batch_size)):
                grads = explainer.attribute(
                    a.to(device), baselines=b.to(device), n_steps=n_steps, internal_batch_size=batch_size
                )
                out.append(grads.detach().cpu())
    return torch.cat(out).view(n, s, *x.shape[1:])
