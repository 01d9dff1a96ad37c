"""zoo.plan: every supported DNA family lowers to a plan whose plain-torch execution is the model's
logits; the others say why they have none; the backends read the plan, not the layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch import nn

import zoo
from zoo.models import DeepSEA, Sei
from zoo.plan import Plan, Unsupported, lower
from zoo.plan.ops import (
    Activation,
    Conv,
    Linear,
    MaxPool,
    PositionMap,
    Residual,
    Scale,
    converted,
    position_major,
)
from zoo.plan.reference import logits, run_ops

ROOT = Path(zoo.__file__).resolve().parent

# Small configs of the families a plan describes.
SUPPORTED = {
    "deepsea": dict(seq_len=200, n_targets=5, hidden=7, conv_channels=(8, 12, 16)),
    "deepsea_relu": dict(seq_len=200, n_targets=5, hidden=7, conv_channels=(8, 12, 16), activation="relu"),
    "beluga": dict(seq_len=310, n_targets=4, hidden=9),
    "basset": dict(seq_len=200, n_targets=4),
    # 64 positions at the spline: every dilated convolution reads positions besides its centre
    "sei": dict(seq_len=1024, n_targets=6, conv_channels=(8, 12, 16), spline_df=5),
}
UNSUPPORTED = {  # name, small config, what the reason says
    "danq": (dict(seq_len=100, n_targets=3, hidden=7), "LSTM"),
    "image_decoder": (dict(in_size=6, ngf=4, n_layers=3), "not a DNA model"),
    "binary_classifier": (dict(in_features=3), "not a DNA model"),
}


def _randomized(model: nn.Module) -> nn.Module:
    """``model`` in eval mode with batch-norm statistics away from the identity and logits of
    order one, so that folding and every layer show in the logits."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=gen))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=gen))
                m.bias.copy_(0.2 * torch.randn(m.num_features, generator=gen))
            elif isinstance(m, (nn.Conv1d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 1.4 / fan_in**0.5)
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
    return model.eval()


def _model(key: str, rc_average: bool = False) -> nn.Module:
    return _randomized(zoo.create_model(key.split("_")[0], **SUPPORTED[key], rc_average=rc_average))


def _one_hot(n: int, length: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    x = nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=gen), 4).float().transpose(1, 2)
    x = x.contiguous()
    x[0, :, 3:9] = 0.25  # a run of N
    return x


@pytest.mark.parametrize("rc_average", [False, True])
@pytest.mark.parametrize("key", sorted(SUPPORTED))
def test_executing_the_plan_gives_the_models_logits(key: str, rc_average: bool) -> None:
    model = _model(key, rc_average)
    plan = lower(model)
    assert isinstance(plan, Plan), plan
    assert plan.rc_average == rc_average and plan.seq_len == model.seq_len
    x = _one_hot(3, model.seq_len)
    with torch.no_grad():
        expected = model.logits(x)
    assert expected.abs().max() > 0.5  # logits that every layer moves
    torch.testing.assert_close(logits(plan, x), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("key", sorted(UNSUPPORTED))
def test_models_without_a_plan_say_why(key: str) -> None:
    args, reason = UNSUPPORTED[key]
    plan = lower(zoo.create_model(key, **args))
    assert isinstance(plan, Unsupported)
    assert reason in plan.reason


class _DeepSEAWithOwnStrandLogits(DeepSEA):
    def strand_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.conv(x)) * 2.0


class _SeiWithOwnStrandLogits(Sei):
    def strand_logits(self, x: torch.Tensor) -> torch.Tensor:
        return super().strand_logits(x) * 2.0


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (_DeepSEAWithOwnStrandLogits(**SUPPORTED["deepsea"]), "its own strand_logits"),
        (_SeiWithOwnStrandLogits(**SUPPORTED["sei"]), "its own strand_logits"),
    ],
)
def test_a_model_with_its_own_strand_logits_has_no_plan(model: nn.Module, reason: str) -> None:
    plan = lower(model)
    assert isinstance(plan, Unsupported) and reason in plan.reason


def test_a_layer_without_an_op_is_named_in_the_reason() -> None:
    model = zoo.create_model("deepsea", **SUPPORTED["deepsea"])
    model.conv.append(nn.AdaptiveMaxPool1d(4))
    plan = lower(model)
    assert isinstance(plan, Unsupported)
    assert plan.reason == "DeepSEA: AdaptiveMaxPool1d in the convolution stack has no plan op"


def test_basset_lowers_to_convolutions_with_batch_norm_folded() -> None:
    plan = lower(_model("basset"))
    assert isinstance(plan, Plan)
    assert [type(op) for op in plan.conv] == [Conv, Activation, MaxPool] * 3
    assert [type(op) for op in plan.dense] == [Linear, Activation] * 2 + [Linear]
    assert all(op.floor == 0.0 for op in plan.conv + plan.dense if isinstance(op, Activation))
    assert [(op.kernel, op.stride) for op in plan.conv if isinstance(op, MaxPool)] == [(3, 3), (4, 4), (4, 4)]
    assert all(op.valid for op in plan.conv if isinstance(op, Conv))


def test_deepseas_threshold_is_a_clamp_at_its_value() -> None:
    plan = lower(_model("deepsea"))
    floors = {op.floor for op in plan.conv + plan.dense if isinstance(op, Activation)}
    assert floors == {1e-6}
    far = zoo.create_model("deepsea", **SUPPORTED["deepsea"])
    far.conv[1] = nn.Threshold(0.0, 0.5)  # no clamp: a backend must apply the module
    assert lower(far).conv[1].floor is None


def test_sei_lowers_to_residual_blocks_a_map_over_positions_and_dense_layers() -> None:
    model = _model("sei")
    plan = lower(model)
    assert isinstance(plan, Plan)
    residuals = [op for op in plan.conv if isinstance(op, Residual)]
    assert len(residuals) == 3 + 4  # three blocks, the last carrying the first dilated one, then four
    assert residuals[2].tail is not None and all(r.tail is None for r in residuals[:2] + residuals[3:])
    dilated = [residuals[2].tail[0], *(r.body[0] for r in residuals[3:])]
    assert [op.dilation for op in dilated] == [2, 4, 8, 16, 25]
    assert [op.padding for op in dilated] == [4, 8, 16, 32, 50]  # lengths kept
    assert isinstance(plan.conv[-1], PositionMap) and plan.conv[-1].matrix.shape == (64, 5)
    assert [type(op) for op in plan.dense] == [Linear, Activation, Linear]
    # the spline's output flattens channel-major: 16 channels x 5 values into the first Linear
    assert plan.dense[0].weight.shape == (6, 16 * 5)


def test_the_plan_keeps_float32_on_the_models_device_and_converts_on_request() -> None:
    plan = lower(_model("basset"))
    tensors = [op.weight for op in plan.conv + plan.dense if isinstance(op, (Conv, Linear))]
    assert all(t.dtype == torch.float32 and not t.requires_grad for t in tensors)
    half = converted(plan.dense, torch.bfloat16, copy=True)
    assert half[0].weight.dtype == torch.bfloat16 and half[1].module is plan.dense[1].module


def test_position_major_columns_take_the_channels_last_flatten() -> None:
    weight = torch.randn(3, 4 * 5)  # 4 channels x 5 positions, channel-major
    h = torch.randn(2, 4, 5)
    expected = h.flatten(1) @ weight.T
    torch.testing.assert_close(h.transpose(1, 2).flatten(1) @ position_major(weight, 4).T, expected)


def test_a_batch_norm_after_an_activation_is_a_per_channel_scale() -> None:
    layers = _randomized(nn.Sequential(nn.Conv1d(4, 8, 8), nn.ReLU(), nn.BatchNorm1d(8)))
    model = zoo.create_model("deepsea", **SUPPORTED["deepsea"])
    model.conv = nn.Sequential(*layers, *list(_randomized(model).conv)[1:])  # in place of the first conv
    plan = lower(model.eval())
    assert [type(op) for op in plan.conv[:3]] == [Conv, Activation, Scale]
    x = _one_hot(2, model.seq_len)
    with torch.no_grad():
        torch.testing.assert_close(run_ops(plan.conv[:3], x), layers(x), rtol=0, atol=1e-6)
        torch.testing.assert_close(logits(plan, x), model.logits(x), rtol=0, atol=1e-5)


def _names_used(path: Path) -> set[str]:
    """Every ``a.b`` attribute chain's last two parts in the module at ``path`` (``nn.Conv1d``)."""
    tree = ast.parse(path.read_text())
    return {
        f"{node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
    }


@pytest.mark.parametrize(
    "module",
    sorted(
        str(p.relative_to(ROOT))
        for p in [*(ROOT / "inference").glob("*.py"), ROOT / "interpret" / "_band.py"]
    ),
)
def test_the_backends_read_the_plan_not_the_layers(module: str) -> None:
    layers = {
        "nn.Conv1d",
        "nn.BatchNorm1d",
        "nn.MaxPool1d",
        "nn.Linear",
        "nn.Sequential",
        "nn.ReLU",
        "nn.Threshold",
    }
    assert not _names_used(ROOT / module) & layers


def test_lowering_copies_only_what_it_folds() -> None:
    # a large model (Sei's dense layers hold 2 GB) lowers without a copy of its weights
    model = _model("sei")
    plan = lower(model)
    assert plan.dense[0].weight.data_ptr() == model.classifier[0].weight.data_ptr()
    basset = _model("basset")
    folded = lower(basset).conv[0].weight
    assert folded.data_ptr() != basset.conv[0].weight.data_ptr()  # batch norm folded: a new tensor
