"""Model registry: one :class:`ModelSpec` per model, the one description of it.

A spec holds the class, its paper defaults and paper, what it reads (:class:`Inputs`, whose
shape follows from the arguments), the conventions of its originals (:class:`Conventions`),
the checkpoint layouts that load into it, the function telling arguments from a state
dict's shapes, and its published files. Everything else reads it: the catalogue of
published files, the loaders, zoo-predict's defaults and the README's tables.

Each model family file calls :func:`register_model` at import time. This module never
imports a family: ``zoo.models`` imports them all and is the way in for every lookup
(``zoo.models.get_spec``, ``list_models``, ...), so the registry is complete wherever it is
used. Tests add and remove models and published files with :func:`register_model` /
:func:`unregister_model` and :func:`register_published` / :func:`unregister_published`.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

import torch
from torch import nn

from zoo.weights.layouts import Layout
from zoo.weights.published import PublishedFile

# (zoo-keyed state, current constructor arguments) -> the arguments the tensor shapes imply
ArgsFromState = Callable[[dict[str, torch.Tensor], dict[str, Any]], dict[str, Any]]

InputKind = Literal["dna", "latent", "image", "features"]


@dataclass(frozen=True)
class Inputs:
    """What a model reads: its kind and the shape of one item (after the batch axis).

    ``dims`` are sizes, or the name of the constructor argument giving a size (an argument
    holding a tuple, such as ``image_shape``, gives several), so the shape follows from the
    arguments: ``Inputs("dna", (4, "seq_len"))`` is (4, 1000) for DeepSEA's defaults.

    Attributes:
        kind: what the model reads (``"dna"``, ``"image"``, ...).
        dims: the item's sizes, each an int or the name of the constructor argument giving it.
    """

    kind: InputKind
    dims: tuple[int | str, ...]

    def shape(self, args: Mapping[str, Any]) -> tuple[int, ...]:
        """The item shape for constructor arguments ``args`` (a KeyError for one missing).

        Args:
            args: constructor arguments, holding every argument that ``dims`` names.
        """
        shape: list[int] = []
        for dim in self.dims:
            value = args[dim] if isinstance(dim, str) else dim
            shape += list(value) if isinstance(value, (tuple, list)) else [value]
        return tuple(shape)


DNA_INPUT = Inputs("dna", (4, "seq_len"))


@dataclass(frozen=True)
class Conventions:
    """What a model's originals did that no tensor records, stated once for a model.

    A published file states its own value where it differs (``PublishedFile.n_value``, ...);
    strand averaging is a constructor argument (``rc_average``), so a file states it in its
    ``args``.

    Attributes:
        alphabet: the order of one-hot DNA's channels.
        n_value: what the original's encoding puts in each channel for N.
        value_range: the pixel range of the images an image model makes or reads.
        targets: the list in ``zoo.targets`` naming the outputs.
    """

    alphabet: str | None = None
    n_value: float | None = None
    value_range: tuple[float, float] | None = None
    targets: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: its class, paper defaults, paper, inputs, conventions,
    checkpoint layouts, shape-to-arguments function and published files.

    Attributes:
        name: the registered name.
        cls: the model class.
        defaults: the paper's values of constructor arguments, overriding the constructor's.
        paper: the paper, cited as its published files cite it.
        doi: the paper's DOI.
        inputs: what the model reads.
        conventions: what its originals did that no tensor records.
        layouts: the public checkpoint layouts that load into it.
        args_from_state: the constructor arguments a zoo-keyed state dict's shapes imply.
        published: its public weight files.
    """

    name: str
    cls: type[nn.Module]
    defaults: dict[str, Any] = field(default_factory=dict)
    paper: str = ""
    doi: str | None = None
    inputs: Inputs | None = None
    conventions: Conventions = Conventions()
    layouts: tuple[Layout, ...] = ()
    args_from_state: ArgsFromState | None = None
    published: tuple[PublishedFile, ...] = ()

    @property
    def citation(self) -> str:
        """The paper with its DOI (``Zhou & Troyanskaya 2015, Nat. Methods, doi:...``), as its
        published files cite it; "" without a DOI."""
        return f"{self.paper}, doi:{self.doi}" if self.doi else ""

    def input_shape(self, args: Mapping[str, Any] | None = None) -> tuple[int, ...]:
        """The shape of one input item for the paper defaults overridden by ``args``.

        Args:
            args: constructor arguments overriding the paper defaults.
        """
        if self.inputs is None:
            raise ValueError(f"{self.name}: no input shape is registered")
        return self.inputs.shape({**_default_args(self), **(args or {})})

    @property
    def input_desc(self) -> str:
        """The input batch at the paper defaults: ``(N, 4, 1000) one-hot ACGT``, ``(N, 100)
        latent``; an argument without a default is named (``(N, in_features)``)."""
        if self.inputs is None:
            return ""
        args = _default_args(self)
        dims = [str(s) for d in self.inputs.dims for s in _dim_sizes(d, args)]
        what = {"dna": f"one-hot {self.conventions.alphabet}", "latent": "latent", "image": "image"}
        return " ".join(x for x in ("(N, " + ", ".join(dims) + ")", what.get(self.inputs.kind, "")) if x)


def _dim_sizes(dim: int | str, args: Mapping[str, Any]) -> tuple[int | str, ...]:
    """The sizes one entry of ``Inputs.dims`` stands for; an argument without a value by name."""
    if not isinstance(dim, str):
        return (dim,)
    value = args.get(dim, dim)
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    cls: type[nn.Module],
    *,
    defaults: dict[str, Any] | None = None,
    paper: str = "",
    doi: str | None = None,
    inputs: Inputs | None = None,
    conventions: Conventions = Conventions(),
    layouts: tuple[Layout, ...] = (),
    args_from_state: ArgsFromState | None = None,
    published: tuple[PublishedFile, ...] = (),
) -> ModelSpec:
    """Register ``cls`` under ``name`` and return its spec.

    Args:
        name: the name to register; a name registered to another class is refused.
        cls: the model class.
        defaults: values overriding the constructor's defaults (the paper's).
        paper: the paper to cite.
        doi: the paper's DOI.
        inputs: what the model reads.
        conventions: what its originals did that no tensor records.
        layouts: the public checkpoint layouts that load into it.
        args_from_state: tells the constructor arguments a zoo-keyed state dict's shapes imply.
        published: its public weight files (see :func:`register_published`); one refused
            leaves the registry as it was.
    """
    if name in _REGISTRY and _REGISTRY[name].cls is not cls:
        raise ValueError(f"model name {name!r} is already registered to {_REGISTRY[name].cls}")
    owned = tuple(dataclasses.replace(layout, model=name) for layout in layouts)
    previous = _REGISTRY.get(name)
    _REGISTRY[name] = ModelSpec(
        name, cls, dict(defaults or {}), paper, doi, inputs, conventions, owned, args_from_state
    )
    try:
        for file in published:
            if file.model not in ("", name):
                raise ValueError(f"published file {file.name!r} names model {file.model!r}, not {name!r}")
            register_published(dataclasses.replace(file, model=name))
    except ValueError:
        # all or nothing: a refused file leaves the registry as it was
        if previous is None:
            del _REGISTRY[name]
        else:
            _REGISTRY[name] = previous
        raise
    return _REGISTRY[name]


def unregister_model(name: str) -> None:
    """Remove the model ``name`` and its published files from the registry.

    Args:
        name: a registered model name.
    """
    get_spec(name)  # unknown names get the known list
    del _REGISTRY[name]


def register_published(file: PublishedFile) -> PublishedFile:
    """Add ``file`` to the published files of its model (``file.model``) and return it as
    registered: with the model's paper and, where the record leaves them None, its
    conventions filled in.

    Args:
        file: the published file's description.
    """
    spec = get_spec(file.model)
    if any(other.name == file.name for other in all_published()):
        raise ValueError(f"a published file named {file.name!r} is already registered")
    if file.layout not in {layout.name for layout in spec.layouts}:
        raise ValueError(f"published file {file.name!r}: {spec.name} has no layout {file.layout!r}")
    conventions = spec.conventions
    args = {**default_args(spec.name), **file.args}  # the file's model's arguments, all of them
    weights = f"weights: doi:{file.weights_doi}" if file.weights_doi else ""
    registered = dataclasses.replace(
        file,
        image_shape=file.image_shape if file.image_shape is not None else _image_shape(spec, args),
        latent_size=file.latent_size if file.latent_size is not None else _latent_size(spec, args),
        n_value=conventions.n_value if file.n_value is None else file.n_value,
        value_range=conventions.value_range if file.value_range is None else file.value_range,
        targets=conventions.targets if file.targets is None else file.targets,
        paper=file.paper or "; ".join(x for x in (spec.citation, weights) if x),
    )
    _REGISTRY[spec.name] = dataclasses.replace(spec, published=(*spec.published, registered))
    return registered


def _image_shape(spec: ModelSpec, args: Mapping[str, Any]) -> tuple[int, int, int] | None:
    """The (C, H, W) of the images a published image model makes or reads, where its arguments
    ``args`` state it (``image_shape``, or the input shape of an image-reading model); else None."""
    if "image_shape" in args:
        return tuple(args["image_shape"])  # type: ignore[return-value]
    if spec.inputs is not None and spec.inputs.kind == "image":
        try:
            return spec.inputs.shape(args)  # type: ignore[return-value]
        except KeyError:
            return None
    return None


def _latent_size(spec: ModelSpec, args: Mapping[str, Any]) -> int | None:
    """The length of the Gaussian latent a published generator or VAE decodes (None for other
    models): its ``latent_size`` argument in ``args``, or the input size of a latent-reading model."""
    if "latent_size" in args:
        return int(args["latent_size"])
    if spec.inputs is not None and spec.inputs.kind == "latent":
        return spec.inputs.shape(args)[0]
    return None


def unregister_published(name: str) -> None:
    """Remove the published file ``name`` from the registry.

    Args:
        name: a published file's name.
    """
    for spec in _REGISTRY.values():
        kept = tuple(file for file in spec.published if file.name != name)
        if len(kept) != len(spec.published):
            _REGISTRY[spec.name] = dataclasses.replace(spec, published=kept)
            return
    raise ValueError(f"no published file named {name!r} is registered")


def all_published() -> list[PublishedFile]:
    """Every registered model's published files, model by model in registration order."""
    return [file for spec in _REGISTRY.values() for file in spec.published]


def list_models() -> list[str]:
    """Sorted names of every registered model."""
    return sorted(_REGISTRY)


def all_layouts() -> list[Layout]:
    """Every registered model's checkpoint layouts."""
    return [layout for spec in _REGISTRY.values() for layout in spec.layouts]


def layouts_for_keys(keys: set[str] | frozenset[str]) -> list[Layout]:
    """Every registered layout whose key set is exactly ``keys`` (several layouts may share a
    key set: their shapes, or only the arguments they imply, tell them apart).

    Args:
        keys: a checkpoint's state-dict keys.
    """
    return [layout for layout in all_layouts() if layout.keys == keys]


def args_from_state(name: str, state: dict[str, torch.Tensor], current: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments that the zoo-keyed ``state`` implies for model ``name``.

    Args:
        name: a registered model name.
        state: a state dict with the zoo's keys.
        current: the arguments so far; those the shapes cannot tell keep their value here.

    Returns:
        The arguments; {} when the state does not fit the family's keys.
    """
    fn = _REGISTRY[name].args_from_state if name in _REGISTRY else None
    if fn is None:
        return {}
    try:
        return fn(state, current)
    except (KeyError, IndexError, ValueError, ZeroDivisionError):
        return {}


def get_spec(name: str) -> ModelSpec:
    """The registry entry for ``name``; unknown names get the known list and closest match.

    Args:
        name: a registered model name.
    """
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
    """The first registry entry built from ``cls`` (used when saving a model).

    Args:
        cls: a model class.
    """
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
    """The model registered as ``name``, built with paper defaults and ``overrides`` (no weights).

    Args:
        name: a registered model name.
        **overrides: constructor arguments replacing the paper defaults, each name and type checked.
    """
    spec = get_spec(name)
    return spec.cls(**build_kwargs(spec, overrides))


def default_args(name: str) -> dict[str, Any]:
    """The constructor arguments ``name`` gets with no overrides (required ones left out).

    Args:
        name: a registered model name.
    """
    return _default_args(get_spec(name))


def _default_args(spec: ModelSpec) -> dict[str, Any]:
    return {
        k: spec.defaults.get(k, p.default)
        for k, p in constructor_params(spec.cls).items()
        if k in spec.defaults or p.default is not inspect.Parameter.empty
    }


def model_args(model: nn.Module) -> dict[str, Any]:
    """The constructor arguments that rebuild a zoo model (its ``config``).

    Args:
        model: a zoo model.
    """
    return dict(model.config)
