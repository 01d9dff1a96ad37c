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


def make_head(name: str) -> nn.Module:
    """The head module called ``name``; unknown names get the list of known heads."""
    try:
        return HEADS[name]()
    except (KeyError, TypeError):
        raise ValueError(f"head={name!r} is not one of {sorted(HEADS)}") from None


def head_name(head: nn.Module) -> str:
    """The name under which ``head``'s class is in :data:`HEADS`."""
    return next(name for name, cls in HEADS.items() if type(head) is cls)


class HeadedModel(nn.Module):
    """Base of every zoo model.

    Subclasses implement :meth:`logits` (the values before the head) and set
    ``self.head``. ``model(x)`` returns ``head(logits(x))``, so training can use
    the stable ``*_with_logits`` losses on :meth:`logits` while ``model(x)`` gives
    the same probabilities as the original models.

    The constructor's arguments are the model's configuration, stated once in the
    signature: they are captured when the outermost ``__init__`` returns and kept in
    :attr:`config` (what saving and rebuilding read). Each is also readable as an
    attribute of the same name (``model.seq_len``); assigning one (``model.rc_average =
    True``) updates :attr:`config` too, so the two never disagree.

    ``target_names``, ``n_value`` and ``source`` describe the data rather than the network
    (outside :attr:`config`); the zoo format saves them with the weights.
    """

    head: nn.Module
    _config: dict[str, Any]
    # What is known of the model's outputs and inputs beyond its configuration: set by
    # zoo.create_model for a published checkpoint, restored by zoo.load_model, None otherwise.
    target_names: list[str] | None = None  # one name per output, in output order
    n_value: float | None = None  # the one-hot value of N (in each channel) it was trained with
    source: dict[str, Any] | None = None  # where the weights came from (name, url, md5, license)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def init_and_capture(self: HeadedModel, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            # The outermost constructor returns last, so its arguments are the ones kept.
            bound = signature.bind(self, *args, **kw)
            bound.apply_defaults()
            # lists (from YAML or JSON) kept as the tuples the constructors take
            config = {k: tuple(v) if isinstance(v, list) else v for k, v in list(bound.arguments.items())[1:]}
            object.__setattr__(self, "_config", config)
            for name, value in config.items():
                if not self._is_reserved(name):
                    object.__setattr__(self, name, value)

        cls.__init__ = init_and_capture  # type: ignore[method-assign]

    def _is_reserved(self, name: str) -> bool:
        """Whether ``name`` is a submodule, tensor or class attribute rather than a plain value."""
        return (
            name in self._modules
            or name in self._parameters
            or name in self._buffers
            or hasattr(type(self), name)
        )

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments this model was built with (a copy)."""
        return dict(self.__dict__.get("_config", {}))

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        config = self.__dict__.get("_config")
        if config is not None and name in config and name in self.__dict__:
            config[name] = value

    def input_dtype(self) -> torch.dtype | None:
        """The dtype the model takes: that of its first floating-point weight (None without one)."""
        return next((p.dtype for p in self.parameters() if p.is_floating_point()), None)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The model's output before its head."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``head(logits(x))``."""
        return self.head(self.logits(x))
