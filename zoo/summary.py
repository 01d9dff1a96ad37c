"""The model table: every registered model at its paper size, and a dummy batch run through it.
Also the tables of checkpoint layouts (docs/weights.md) and of published checkpoints (README.md).

``zoo-demo`` prints the model table as plain text, ``zoo-demo --markdown`` as the table
README.md carries (a test keeps the two equal).
"""

from __future__ import annotations

import torch

from zoo.models import all_layouts, build_model, get_spec, list_models, spec_for_class
from zoo.targets import load_target_names
from zoo.weights.catalogue import all_pretrained
from zoo.weights.published import PublishedFile

# The one argument without a paper default, and what the table uses for it.
PAPER_OVERRIDES = {"binary_classifier": {"in_features": 64}}
# What the demo batch runs at: the table's sizes, except Sei, whose paper size holds 890 M
# parameters (3.6 GB): its batch runs through a narrow, short one (the table counts the
# paper's on the meta device, where nothing is allocated).
DEMO_OVERRIDES = {
    **PAPER_OVERRIDES,
    "sei": {"seq_len": 256, "n_targets": 32, "conv_channels": (16, 24, 32)},
}


def example_input(model: torch.nn.Module, batch: int = 2) -> torch.Tensor:
    """A random input batch of ``batch`` items of the shape the registry gives ``model``'s
    arguments: uniform in [0, 1) for DNA and images, standard normal for latents and features."""
    inputs = spec_for_class(type(model)).inputs
    if inputs is None:
        raise ValueError(f"{type(model).__name__}: no input shape is registered")
    shape = (batch, *inputs.shape(model.config))
    return torch.rand(shape) if inputs.kind in ("dna", "image") else torch.randn(shape)


def _shape(shape: torch.Size) -> str:
    """``(N, 4, 1000)``: a batch's shape after its first axis."""
    return "(N" + ("".join(f", {s}" for s in shape) or ",") + ")"


def summary_rows() -> list[dict[str, str]]:
    """One row per registered model at its paper size: name, class, input, output, parameters,
    paper. Shapes and counts come from the model built on the meta device; each model also
    runs a real batch (at :data:`DEMO_OVERRIDES` sizes) that must give finite outputs."""
    rows = []
    for name in list_models():
        spec = get_spec(name)
        paper = PAPER_OVERRIDES.get(name, {})
        model = build_model(name, **DEMO_OVERRIDES.get(name, paper)).eval()
        x = example_input(model)
        with torch.no_grad():
            y = model(x)
        if not torch.isfinite(y).all():
            raise RuntimeError(f"{name}: the demo batch gave non-finite outputs")
        if DEMO_OVERRIDES.get(name, paper) != paper:  # the table's sizes, counted without memory
            with torch.device("meta"), torch.no_grad():
                model = build_model(name, **paper).eval()
                x = example_input(model)
                y = model(x)
        rows.append({
            "name": name,
            "class": type(model).__name__,
            "input": _shape(x.shape[1:]),
            "output": _shape(y.shape[1:]),
            "parameters": f"{sum(p.numel() for p in model.parameters()):,}",
            "paper": spec.paper,
        })  # fmt: skip
    return rows


def markdown_table(rows: list[dict[str, str]]) -> str:
    """The README's model table."""
    lines = [
        "| name | class | input | output | parameters | source |",
        "| --- | --- | --- | --- | ---: | --- |",
    ]
    lines += [
        f"| `{r['name']}` | `{r['class']}` | {r['input']} | {r['output']} | {r['parameters']} "
        f"| {r['paper']} |"
        for r in rows
    ]
    return "\n".join(lines)


def layouts_table() -> str:
    """The table of checkpoint layouts that load into zoo models (docs/weights.md), from the registry."""
    lines = ["| layout | loads into | from | original model ran with |", "| --- | --- | --- | --- |"]
    for layout in sorted(all_layouts(), key=lambda lay: (lay.model, lay.name)):
        implied = ", ".join(f"`{k}={v!r}`" for k, v in layout.implied_args.items())
        wrapped = "; ".join(
            f"under `{part}.`: " + ", ".join(f"`{k}={v!r}`" for k, v in args.items())
            for part, args in layout.wrapper_args.items()
        )
        lines.append(
            f"| `{layout.name}` | `{layout.model}` | {layout.description} | "
            f"{'; '.join(x for x in (implied, wrapped) if x) or '-'} |"
        )
    return "\n".join(lines)


def _conventions(entry: PublishedFile) -> str:
    """What the original did that no tensor records: strands and N for DNA, the pixel range for images."""
    if entry.n_value is not None:
        strands = "both strands averaged" if entry.rc_average else "forward strand"
        return f"{strands}; N as {entry.n_value:g}"
    if entry.value_range is not None:
        low, high = entry.value_range
        return f"pixels in [{low:g}, {high:g}]"
    return "-"


def catalogue_rows() -> list[dict[str, str]]:
    """One row per published checkpoint: name, model, input and output shapes (of the model
    its record builds, on the meta device), output names, conventions, md5, license."""
    rows = []
    for entry in all_pretrained():
        with torch.device("meta"), torch.no_grad():
            model = build_model(entry.model, **entry.args).eval()
            x = example_input(model)
            y = model(x)
        names = f"{len(load_target_names(entry.targets)):,} ({entry.targets})" if entry.targets else "-"
        rows.append({
            "name": entry.name,
            "model": entry.model,
            "input": _shape(x.shape[1:]),
            "output": _shape(y.shape[1:]),
            "names": names,
            "conventions": _conventions(entry),
            "md5": "published" if entry.md5 else "none published",
            "license": entry.license,
        })  # fmt: skip
    return rows


def catalogue_table() -> str:
    """The README's table of published checkpoints (``zoo.create_model(name, pretrained=True)``)."""
    lines = [
        "| name | model | input | output | output names | conventions | md5 | license |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    columns = ("input", "output", "names", "conventions", "md5", "license")
    lines += [
        f"| `{r['name']}` | `{r['model']}` | " + " | ".join(r[c] for c in columns) + " |"
        for r in catalogue_rows()
    ]
    return "\n".join(lines)
