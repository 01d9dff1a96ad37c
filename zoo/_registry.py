"""Model registry: names -> constructors with paper defaults, their checkpoint layouts,
and argument checking.

Each model family file calls :func:`register_model` at import time. This module never
imports a family: ``zoo.models`` imports them all and is the way in for every lookup
(``zoo.models.get_spec``, ``list_models``, ...), so the registry is complete wherever it is
used.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

import torch
from torch import nn

from zoo.heads import head_name
from zoo.layouts import Layout

# (zoo-keyed state, current constructor arguments) -> the arguments the tensor shapes imply
ArgsFromState = Callable[[dict[str, torch.Tensor], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: its class, paper defaults, provenance and checkpoint layouts."""

    name: str
    cls: type[nn.Module]
    defaults: dict[str, Any] = field(default_factory=dict)
    paper: str = ""
    input_desc: str = ""
    layouts: tuple[Layout, ...] = ()
    args_from_state: ArgsFromState | None = None


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    cls: type[nn.Module],
    *,
    defaults: dict[str, Any] | None = None,
    paper: str = "",
    input_desc: str = "",
    layouts: tuple[Layout, ...] = (),
    args_from_state: ArgsFromState | None = None,
) -> None:
    """Register ``cls`` under ``name``; ``defaults`` override the constructor's defaults.

    ``layouts`` are the public checkpoint layouts that load into this model;
    ``args_from_state`` tells the constructor arguments a zoo-keyed state dict's shapes imply.
    """
    if name in _REGISTRY and _REGISTRY[name].cls is not cls:
        raise ValueError(f"model name {name!r} is already registered to {_REGISTRY[name].cls}")
    owned = tuple(dataclasses.replace(layout, model=name) for layout in layouts)
    _REGISTRY[name] = ModelSpec(name, cls, dict(defaults or {}), paper, input_desc, owned, args_from_state)


def list_models() -> list[str]:
    """Sorted names of every registered model."""
    return sorted(_REGISTRY)


def all_layouts() -> list[Layout]:
    """Every registered model's checkpoint layouts."""
    return [layout for spec in _REGISTRY.values() for layout in spec.layouts]


def layouts_for_keys(keys: set[str] | frozenset[str]) -> list[Layout]:
    """Every registered layout whose key set is exactly ``keys`` (several layouts may share a
    key set: their shapes, or only the arguments they imply, tell them apart)."""
    return [layout for layout in all_layouts() if layout.keys == keys]


def args_from_state(name: str, state: dict[str, torch.Tensor], current: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments that the zoo-keyed ``state`` implies for model ``name``;
    arguments the shapes cannot tell keep their ``current`` value. {} when the state does not
    fit the family's keys."""
    fn = _REGISTRY[name].args_from_state if name in _REGISTRY else None
    if fn is None:
        return {}
    try:
        return fn(state, current)
    except (KeyError, IndexError, ValueError, ZeroDivisionError):
        return {}


def get_spec(name: str) -> ModelSpec:
    """The registry entry for ``name``; unknown names get the known list and closest match."""
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {type(name).__name__}")
    try:
        return _REGISTRY[name]
    except KeyError:
        known = sorted(_REGISTRY)
        close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.4)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Known models: {', '.join(known)}") from None


def spec_for_class(cls: type[nn.Module]) -> ModelSpec:
    """The first registry entry built from ``cls`` (used when saving a model)."""
    for spec in _REGISTRY.values():
        if spec.cls is cls:
            return spec
    raise ValueError(f"{cls.__name__} is not a registered zoo model")


def constructor_params(cls: type[nn.Module]) -> dict[str, inspect.Parameter]:
    """The keyword parameters of ``cls.__init__`` (without ``self``)."""
    params = inspect.signature(cls.__init__).parameters
    return {n: p for n, p in params.items() if n != "self"}


def describe_args(cls: type[nn.Module], defaults: dict[str, Any] | None = None) -> str:
    """``name: type = default`` for every constructor argument, for error messages."""
    hints = typing.get_type_hints(cls.__init__)
    parts = []
    for pname, p in constructor_params(cls).items():
        ann = _type_name(hints.get(pname, Any))
        default = (defaults or {}).get(pname, p.default)
        parts.append(f"{pname}: {ann}" + ("" if default is inspect.Parameter.empty else f" = {default!r}"))
    return ", ".join(parts)


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _matches(value: Any, tp: Any) -> bool:
    """A small runtime check for the annotation kinds model constructors use."""
    if tp is Any:
        return True
    origin = get_origin(tp)
    if origin is Literal:
        return value in get_args(tp)
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in get_args(tp))
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(value, (tuple, list)):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(args) == len(value) and all(_matches(v, a) for v, a in zip(value, args))
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def _is_size(tp: Any) -> bool:
    """Whether an annotation is ``int`` or a tuple of ints: the models' sizes and counts."""
    if tp is int:
        return True
    args = [a for a in get_args(tp) if a is not Ellipsis]
    return get_origin(tp) is tuple and bool(args) and all(a is int for a in args)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def build_kwargs(spec: ModelSpec, overrides: dict[str, Any]) -> dict[str, Any]:
    """Paper defaults merged with ``overrides``, every name and type checked."""
    params = constructor_params(spec.cls)
    hints = typing.get_type_hints(spec.cls.__init__)
    accepted = describe_args(spec.cls, spec.defaults)
    for key, value in overrides.items():
        if key not in params:
            close = difflib.get_close_matches(key, list(params), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"{spec.name}: unknown argument {key!r}.{hint} Accepted arguments: {accepted}")
        if key in hints and not _matches(value, hints[key]):
            raise TypeError(
                f"{spec.name}: argument {key!r} expects {_type_name(hints[key])}, got "
                f"{type(value).__name__} {value!r}. Accepted arguments: {accepted}"
            )
        if key in hints and _is_size(hints[key]) and any(v < 1 for v in _as_tuple(value)):
            raise ValueError(f"{spec.name}: argument {key!r} must be positive, got {value!r}")
        if any(isinstance(v, float) and not math.isfinite(v) for v in _as_tuple(value)):
            raise ValueError(f"{spec.name}: argument {key!r} must be finite, got {value!r}")
    kwargs = {**spec.defaults, **overrides}
    missing = [n for n, p in params.items() if p.default is inspect.Parameter.empty and n not in kwargs]
    if missing:
        raise TypeError(
            f"{spec.name}: missing required argument(s) {', '.join(map(repr, missing))} "
            f"(the model has no paper default for them). Accepted arguments: {accepted}"
        )
    # Lists from YAML/JSON arrive where the constructor wants tuples.
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def build_model(name: str, **overrides: Any) -> nn.Module:
    """The model registered as ``name``, built with paper defaults and ``overrides`` (no weights)."""
    spec = get_spec(name)
    return spec.cls(**build_kwargs(spec, overrides))


def default_args(name: str) -> dict[str, Any]:
    """The constructor arguments ``name`` gets with no overrides (required ones left out)."""
    spec = get_spec(name)
    return {
        k: spec.defaults.get(k, p.default)
        for k, p in constructor_params(spec.cls).items()
        if k in spec.defaults or p.default is not inspect.Parameter.empty
    }


def model_args(model: nn.Module) -> dict[str, Any]:
    """The constructor arguments of a zoo model (its ``config``), with ``head`` named after
    the head module it has now."""
    args = dict(model.config)
    if isinstance(getattr(model, "head", None), nn.Module) and "head" in args:
        args["head"] = head_name(model.head)
    return args
