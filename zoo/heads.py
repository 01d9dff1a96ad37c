"""Output heads and the common shape of every zoo model: ``forward = head(logits(x))``."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Literal

import torch
from torch import nn

HeadName = Literal["sigmoid", "logsigmoid", "hardsigmoid", "tanh", "identity"]

HEADS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "logsigmoid": nn.LogSigmoid,  # log(sigmoid(x)), computed stably as -softplus(-x)
    "hardsigmoid": nn.Hardsigmoid,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}
"""The heads a model can end with (``head=`` of every model): name -> module class."""


def make_head(name: str) -> nn.Module:
    """The head module called ``name``; unknown names get the list of known heads.

    Args:
        name: a key of :data:`HEADS`.
    """
    try:
        return HEADS[name]()
    except (KeyError, TypeError):
        raise ValueError(f"head={name!r} is not one of {sorted(HEADS)}") from None


def head_name(head: nn.Module) -> str:
    """The name under which ``head``'s class is in :data:`HEADS`.

    Args:
        head: a head module.
    """
    return next(name for name, cls in HEADS.items() if type(head) is cls)


@functools.cache
def init_parameters(cls: type[nn.Module]) -> tuple[str, ...]:
    """The names of ``cls.__init__``'s parameters, ``self`` and ``*args``/``**kwargs`` left out.

    Args:
        cls: a model class.
    """
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return tuple(p.name for p in params if p.kind in kinds)


class HeadedModel(nn.Module):
    """Base of every zoo model.

    Subclasses implement :meth:`logits` (the values before the head) and set
    ``self.head``. ``model(x)`` returns ``head(logits(x))``, so training can use
    the stable ``*_with_logits`` losses on :meth:`logits` while ``model(x)`` gives
    the same probabilities as the original models.

    The constructor's arguments are the model's configuration, stated once in the
    signature: each constructor keeps every argument as the attribute of the same name
    (``self.seq_len = seq_len``; ``head`` as the module ``make_head(head)`` makes), and
    :attr:`config` reads them back, so assigning one (``model.rc_average = True``) shows in
    :attr:`config` too (what saving and rebuilding read).

    ``target_names``, ``n_value`` and ``source`` describe the data rather than the network
    (outside :attr:`config`); the zoo format saves them with the weights.
    """

    head: nn.Module
    # What is known of the model's outputs and inputs beyond its configuration: set by
    # zoo.create_model for a published checkpoint, restored by zoo.load_model, None otherwise.
    target_names: list[str] | None = None  # one name per output, in output order
    n_value: float | None = None  # the one-hot value of N (in each channel) it was trained with
    source: dict[str, Any] | None = None  # where the weights came from (name, url, md5, license)

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this model: each parameter of its class's
        ``__init__`` read back from the attribute of that name (``head`` by its name in
        :data:`HEADS`; lists as the tuples the constructors take)."""
        config = {}
        for name in init_parameters(type(self)):
            value = getattr(self, name)
            if isinstance(value, nn.Module):
                value = head_name(value)
            config[name] = tuple(value) if isinstance(value, list) else value
        return config

    def input_dtype(self) -> torch.dtype | None:
        """The dtype the model takes: that of its first floating-point weight (None without one)."""
        return next((p.dtype for p in self.parameters() if p.is_floating_point()), None)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The model's output before its head.

        Args:
            x: the input batch.
        """
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``head(logits(x))``.

        Args:
            x: the input batch.
        """
        return self.head(self.logits(x))
