"""Lowering: a DNA model's layers to its :class:`~zoo.plan.ops.Plan`, the one place that walks them.

Two shapes are known. A :class:`~zoo.models._dna.DNAModel` that keeps the base class's
strand logits ``classifier(conv(x))`` (DeepSEA, Beluga, Basset and any model built like
them): ``conv`` an ``nn.Sequential`` of Conv1d, BatchNorm1d, elementwise activations,
MaxPool1d and Dropout; ``classifier`` [Dropout...] Flatten, Linear, then Linear, BatchNorm1d,
activations and Dropout. And a model whose class defines its own ``strand_logits`` together
with ``plan_ops(layer_ops)``, which states that function as ops, with :func:`layer_ops`
turning each of its runs of plain layers into ops (:class:`~zoo.models.sei.Sei`: residual
blocks and a spline over positions). So this module walks layers for every family and
imports none. Every other model (DanQ's LSTM, the image models, a model with its own
``strand_logits`` and no ``plan_ops``) lowers to an :class:`~zoo.plan.ops.Unsupported` that
says why.

Dropout and Identity are left out (identities in eval mode); a batch norm right after a
convolution or linear map is folded into it, any other one becomes a :class:`Scale`.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.models._dna import DNAModel
from zoo.plan.ops import (
    Activation,
    Conv,
    Linear,
    MaxPool,
    Op,
    Plan,
    Scale,
    Unsupported,
)

# Elementwise layers an Activation may hold.
_ACTIVATIONS = (
    nn.ReLU,
    nn.Threshold,
    nn.ELU,
    nn.LeakyReLU,
    nn.GELU,
    nn.SiLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
)
_IDENTITY = (nn.Dropout, nn.Identity)  # identities in eval mode
# A Threshold(th, v) counts as clamp_min(v) when v - th moves its outputs by no more than this.
_MAX_THRESHOLD_SHIFT = 1e-5


class _NoOp(Exception):
    """A layer the plan has no op for; the message says which and why."""


def lower(model: nn.Module) -> Plan | Unsupported:
    """The plan of ``model``'s strand logits, or why there is none.

    The model is read as it is now, in eval mode (batch norm by its running statistics).
    The plan's tensors are float32 on the model's device: folded weights are new tensors,
    the others the model's own parameters, detached (lowering a large model copies nothing
    it need not); a consumer that keeps weights past later changes to the model copies them
    (:func:`zoo.plan.ops.converted` with ``copy=True``).

    Args:
        model: any module; DNA models of the shapes in this module's description lower.
    """
    name = type(model).__name__
    if not isinstance(model, DNAModel):
        return Unsupported(f"{name} is not a DNA model: a plan describes networks on one-hot (N, 4, L)")
    recurrent = next((m for m in model.modules() if isinstance(m, nn.RNNBase)), None)
    if recurrent is not None:
        return Unsupported(f"{name} holds an {type(recurrent).__name__}, a recurrent layer with no plan op")
    try:
        with torch.no_grad():
            own = _defined_by(type(model), "strand_logits")
            if own is DNAModel:
                conv, dense = _conv_then_classifier(model)
            elif _defined_by(type(model), "plan_ops") is own:  # ops stated beside the function
                conv, dense = model.plan_ops(layer_ops)
                _check_dense(dense)
            else:
                return Unsupported(f"{name} has its own strand_logits, which no plan describes")
    except _NoOp as err:
        return Unsupported(f"{name}: {err}")
    return Plan(int(model.seq_len), bool(model.rc_average), conv, dense)


def _conv_then_classifier(model: DNAModel) -> tuple[tuple[Op, ...], tuple[Op, ...]]:
    """(conv ops, dense ops) of strand logits ``classifier(conv(x))``."""
    conv, classifier = getattr(model, "conv", None), getattr(model, "classifier", None)
    if not isinstance(conv, nn.Sequential) or not isinstance(classifier, nn.Sequential):
        raise _NoOp("conv and classifier must be nn.Sequential")
    layers = [m for m in classifier if not isinstance(m, _IDENTITY)]
    if (
        not layers
        or not isinstance(layers[0], nn.Flatten)
        or (layers[0].start_dim, layers[0].end_dim) != (1, -1)
    ):
        raise _NoOp("the classifier must start with a Flatten of every axis after the batch")
    return layer_ops(list(conv)), _dense_ops(layers[1:])


def _defined_by(cls: type, attribute: str) -> type | None:
    """The class in ``cls``'s MRO whose body defines ``attribute`` (None when none does)."""
    return next((c for c in cls.__mro__ if attribute in c.__dict__), None)


def _dense_ops(layers: list[nn.Module]) -> tuple[Op, ...]:
    """The ops of the layers after the flatten: a Linear first, then row-wise layers only."""
    return _check_dense(layer_ops(layers, dense=True))


def _check_dense(ops: tuple[Op, ...]) -> tuple[Op, ...]:
    """``ops``, the dense part of a plan, after checking that it starts with a Linear."""
    if not ops or not isinstance(ops[0], Linear):
        raise _NoOp("the classifier must have a Linear right after its Flatten")
    return ops


def layer_ops(layers: list[nn.Module] | nn.Sequential, dense: bool = False) -> tuple[Op, ...]:
    """The ops of a run of layers, on (N, C, L) or, with ``dense``, on (N, features).

    Args:
        layers: the modules in order; Dropout and Identity are left out.
        dense: whether they follow the flatten (Linear allowed, Conv1d and pools not).

    Raises:
        _NoOp: for a layer with no op here (its type or its settings).
    """
    ops: list[Op] = []
    foldable = False  # whether the last op is a Conv or Linear a batch norm may fold into
    for layer in layers:
        if isinstance(layer, _IDENTITY):
            continue
        if isinstance(layer, nn.BatchNorm1d):
            scale, shift = _batch_norm(layer)
            if foldable:
                ops[-1] = _folded(ops[-1], scale, shift)  # type: ignore[arg-type]
            else:
                ops.append(Scale(scale, shift))
            foldable = False
            continue
        if isinstance(layer, nn.Conv1d) and not dense:
            ops.append(_conv(layer))
        elif isinstance(layer, nn.Linear) and dense:
            bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_features)
            ops.append(Linear(_float(layer.weight), _float(bias, layer.weight.device)))
        elif isinstance(layer, _ACTIVATIONS):
            ops.append(Activation(layer, _activation_floor(layer)))
        elif isinstance(layer, nn.MaxPool1d) and not dense:
            ops.append(_pool(layer))
        else:
            where = "after the flatten" if dense else "in the convolution stack"
            raise _NoOp(f"{type(layer).__name__} {where} has no plan op")
        foldable = isinstance(ops[-1], (Conv, Linear))
    return tuple(ops)


def _float(t: torch.Tensor, device: torch.device | None = None) -> torch.Tensor:
    """``t`` detached, as float32 (the parameter itself where it is float32 already: no copy)."""
    return t.detach().to(device=device, dtype=torch.float32)


def _single(value: int | tuple[int, ...]) -> int:
    """The one value of a 1-d layer's size argument (an int or a 1-tuple)."""
    return value[0] if isinstance(value, tuple) else int(value)


def _conv(conv: nn.Conv1d) -> Conv:
    if conv.groups != 1 or _single(conv.stride) != 1 or conv.padding_mode != "zeros":
        raise _NoOp("a Conv1d must be ungrouped, of stride 1 and zero-padded")
    dilation, kernel = _single(conv.dilation), _single(conv.kernel_size)
    if conv.padding == "valid":
        padding = 0
    elif conv.padding == "same" and dilation * (kernel - 1) % 2 == 0:
        padding = dilation * (kernel - 1) // 2
    elif isinstance(conv.padding, tuple):
        padding = conv.padding[0]
    else:
        raise _NoOp(f"a Conv1d's padding={conv.padding!r} pads its ends unequally")
    bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
    return Conv(_float(conv.weight), _float(bias, conv.weight.device), dilation, padding)


def _pool(pool: nn.MaxPool1d) -> MaxPool:
    if _single(pool.padding) or _single(pool.dilation) != 1 or pool.ceil_mode or pool.return_indices:
        raise _NoOp("a MaxPool1d must be unpadded, undilated, floor-mode and without indices")
    return MaxPool(_single(pool.kernel_size), _single(pool.stride))


def _batch_norm(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) of an eval-mode batch norm, float32: ``bn(h) = h * scale + shift``."""
    if bn.running_mean is None or bn.running_var is None:
        raise _NoOp("a BatchNorm1d without running statistics has no eval-mode op")
    scale = torch.rsqrt(bn.running_var.float() + bn.eps)
    if bn.affine:
        scale = scale * bn.weight.detach().float()
    shift = -bn.running_mean.float() * scale
    if bn.affine:
        shift = shift + bn.bias.detach().float()
    return scale, shift


def _folded(op: Conv | Linear, scale: torch.Tensor, shift: torch.Tensor) -> Conv | Linear:
    """``op`` followed by the batch norm ``h * scale + shift``, as one op."""
    weight = op.weight * scale.view(-1, *([1] * (op.weight.dim() - 1)))
    bias = op.bias * scale + shift
    if isinstance(op, Conv):
        return Conv(weight, bias, op.dilation, op.padding)
    return Linear(weight, bias)


def _activation_floor(layer: nn.Module) -> float | None:
    """The ``v`` for which ``layer`` is ``clamp_min(v)`` (to within 1e-5); None if there is none.

    ReLU is clamp_min(0) exactly; Threshold(th, v) with th <= v <= th + 1e-5 differs from
    clamp_min(v) only for inputs in (th, v], by at most v - th. A clamp commutes with
    max-pooling, so a backend may fuse it into the convolution before the pool.

    Args:
        layer: an activation module.
    """
    if isinstance(layer, nn.ReLU):
        return 0.0
    if isinstance(layer, nn.Threshold):
        th, value = float(layer.threshold), float(layer.value)
        return value if 0.0 <= value - th <= _MAX_THRESHOLD_SHIFT else None
    return None
