"""The model table: every registered model built with a dummy batch run through it.

``zoo-demo`` prints it as plain text, ``zoo-demo --markdown`` as the table README.md carries
(a test keeps the two equal).
"""

from __future__ import annotations

import torch

from zoo.models import all_layouts, build_model, get_spec, list_models

# The one argument without a paper default, and what the demo uses for it; Sei at paper size
# holds 890 M parameters (3.6 GB), so the demo builds a narrow, short one.
DEMO_OVERRIDES = {
    "binary_classifier": {"in_features": 64},
    "sei": {"seq_len": 256, "n_targets": 32, "conv_channels": (16, 24, 32)},
}


def example_input(model: torch.nn.Module, batch: int = 2) -> torch.Tensor:
    """A random input batch of the shape ``model`` expects."""
    if hasattr(model, "seq_len"):
        return torch.rand(batch, 4, model.seq_len)
    if hasattr(model, "in_size"):
        return torch.randn(batch, model.in_size)
    if hasattr(model, "image_shape"):
        return torch.rand(batch, *model.image_shape)
    return torch.randn(batch, model.in_features)


def summary_rows() -> list[dict[str, str]]:
    """One row per registered model: name, class, input, output, parameters, paper."""
    rows = []
    for name in list_models():
        spec = get_spec(name)
        model = build_model(name, **DEMO_OVERRIDES.get(name, {})).eval()
        x = example_input(model)
        with torch.no_grad():
            y = model(x)
        rows.append({
            "name": name,
            "class": type(model).__name__,
            "input": "(N, " + ", ".join(map(str, x.shape[1:])) + ")",
            "output": "(N" + ("".join(f", {s}" for s in y.shape[1:]) or ",") + ")",
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
    """The README's table of checkpoint layouts that load into zoo models, from the registry."""
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
