"""Sei's channels-last fast path: padded and dilated convolutions, residual blocks and the
spline basis as steps, equal to the plain model within the precision tolerances, with the
plain model's NaN and infinities."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import zoo
from tests._inference_support import TOLERANCE, same_non_finite
from zoo import inference
from zoo._checks import NonFiniteWarning
from zoo.inference import PRECISIONS, channels_last, onednn, prepare_logits
from zoo.plan import lower
from zoo.plan.ops import Activation, Conv, Residual

# A small Sei: every block of the paper's (pools to 8 positions, 5 spline values per channel).
SMALL = dict(seq_len=128, n_targets=7, conv_channels=(16, 24, 32), spline_df=5)
CPU = torch.device("cpu")


def _sei(rc_average: bool = False, n: int = 5, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """A small Sei whose logits reach about +-4, and ``n`` one-hot sequences with a run of N."""
    torch.manual_seed(seed)
    model = zoo.create_model("sei", **SMALL, rc_average=rc_average).eval()
    x = nn.functional.one_hot(torch.randint(0, 4, (n, model.seq_len)), 4).float().transpose(1, 2)
    x = x.contiguous()
    x[:, :, :7] = 0.25
    last = model.classifier[2]
    with torch.no_grad():
        last.bias.zero_()
        last.weight.mul_(4.0 / model.logits(x).abs().max())
    return model, x


def test_sei_takes_the_fast_path() -> None:
    model, _ = _sei()
    assert isinstance(inference._fast_strand_logits(model, torch.float32, CPU), inference.GuardedSteps)


@pytest.mark.parametrize("rc_average", [False, True])
@pytest.mark.parametrize("precision", PRECISIONS)
def test_fast_path_matches_the_plain_model(precision: str, rc_average: bool) -> None:
    model, x = _sei(rc_average)
    with torch.no_grad():
        expected = model.logits(x)
    assert expected.abs().max() > 3.0  # probabilities away from 0.5, so the bound means something
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback from bf16 to fp32
        got = prepare_logits(model, precision)(x)
    assert got.dtype == torch.float32 and got.shape == expected.shape
    assert (torch.sigmoid(got) - torch.sigmoid(expected)).abs().max().item() <= TOLERANCE[precision]
    if precision == "fp32":
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_slices_of_the_batch_and_a_short_last_one_match_the_plain_model(
    monkeypatch: pytest.MonkeyPatch, precision: str
) -> None:
    model, x = _sei(n=7)
    widest = SMALL["seq_len"] * SMALL["conv_channels"][0]  # the first stage: all positions, c1 channels
    itemsize = inference.PRECISION_DTYPES[precision].itemsize
    monkeypatch.setattr(channels_last, "SLICE_BYTES", 3 * widest * itemsize + 1)
    assert channels_last.slice_rows(lower(model), inference.PRECISION_DTYPES[precision]) == 3  # 3, 3, 1
    with torch.no_grad():
        expected = torch.sigmoid(model.logits(x))
    got = torch.sigmoid(prepare_logits(model, precision)(x))
    assert (got - expected).abs().max().item() <= TOLERANCE[precision]


def test_slices_are_never_empty_however_wide_the_activations(monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = _sei()
    monkeypatch.setattr(channels_last, "SLICE_BYTES", 10)
    assert channels_last.slice_rows(lower(model), torch.float32) == 1


@pytest.mark.parametrize("precision", PRECISIONS)
def test_steps_as_run_on_cuda_match_the_plain_model(monkeypatch: pytest.MonkeyPatch, precision: str) -> None:
    # CUDA runs the same steps on the whole batch with plain conv2d (padding and dilation as
    # arguments); here on CPU tensors with oneDNN off

    class CudaLike:
        type = "cuda"

    monkeypatch.setattr(onednn, "AVAILABLE", False)
    model, x = _sei(rc_average=True)
    dtype = inference.PRECISION_DTYPES[precision]
    strand_fn = inference._fast_strand_logits(model, dtype, CudaLike())  # type: ignore[arg-type]
    fn = inference._dna_logits_fn(model, strand_fn, dtype, CPU)
    with torch.no_grad():
        expected = torch.sigmoid(model.logits(x))
    assert (torch.sigmoid(fn(x)) - expected).abs().max().item() <= TOLERANCE[precision]


def test_a_residual_block_leaves_its_input_as_it_was() -> None:
    model, x = _sei()
    plan = lower(model)
    block = next(op for op in plan.conv if isinstance(op, Residual) and op.tail is not None)
    channels = block.body[0].weight.shape[1]
    h = torch.randn(2, 16, channels)
    before = h.clone()
    body = channels_last._conv_steps(block.body, torch.float32)
    tail = channels_last._conv_steps(block.tail, torch.float32)
    out = channels_last.residual_step(body, tail)(h)
    assert torch.equal(h, before)
    # the block by the plain ops on (N, C, L): y + tail(h + y)
    conv = lambda op, t: nn.functional.conv1d(t, op.weight, op.bias, padding=op.padding, dilation=op.dilation)  # noqa: E731
    hc = h.transpose(1, 2)
    y = hc
    for op in block.body:
        y = conv(op, y) if isinstance(op, Conv) else torch.relu(y)
    t = hc + y
    for op in block.tail:
        t = conv(op, t) if isinstance(op, Conv) else torch.relu(t)
    torch.testing.assert_close(out, (y + t).transpose(1, 2), rtol=0, atol=1e-5)


def test_a_residual_block_that_starts_with_an_activation_takes_the_plain_path() -> None:
    block = Residual((Activation(nn.ReLU(), 0.0), Conv(torch.randn(3, 3, 1), torch.zeros(3))))
    assert channels_last._conv_steps((block,), torch.float32) is None


_NON_FINITE_WEIGHTS = {  # (state_dict key, index into the flattened tensor, value)
    "nan-first-conv": ("lconv1.0.weight", 0, float("nan")),
    "inf-residual-body": ("conv1.0.weight", 3, float("inf")),
    "-inf-second-stage": ("lconv2.2.weight", 5, float("-inf")),
    "nan-dilated-bias": ("dconv3.1.bias", 1, float("nan")),
    "nan-last-dilated": ("dconv5.1.weight", 2, float("nan")),
    "inf-dense": ("classifier.0.weight", 2, float("inf")),
    "inf-last-bias": ("classifier.2.bias", 0, float("inf")),
}


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("case", sorted(_NON_FINITE_WEIGHTS))
def test_non_finite_weights_give_the_plain_models_nan_and_inf(case: str, precision: str) -> None:
    # oneDNN's fused relu turns NaN into 0: the fast path must not turn broken weights into
    # plausible probabilities
    model, x = _sei(rc_average=True)
    name, index, value = _NON_FINITE_WEIGHTS[case]
    with torch.no_grad():
        model.state_dict()[name].view(-1)[index] = value
        expected = model.logits(x)
    assert not torch.isfinite(expected).all()
    with pytest.warns(NonFiniteWarning, match=rf"Sei has NaN or infinite weights in {name}") as caught:
        fn = prepare_logits(model, precision)
    assert not [w for w in caught if "wrong on this machine" in str(w.message)]
    same_non_finite(fn(x), expected)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_non_finite_and_huge_inputs_give_the_plain_models_nan_and_inf(precision: str) -> None:
    model, x = _sei()
    x = x.clone()
    x[1, :, 10] = float("nan")
    x[2, 0, 20] = float("inf")
    x[3, 1, 30] = 3e38  # finite, but overflows in the first convolution
    with torch.no_grad():
        expected = model.logits(x)
    assert torch.isfinite(expected[[0, 4]]).all() and not torch.isfinite(expected[1:4]).all()
    same_non_finite(prepare_logits(model, precision)(x), expected)


def test_finite_batches_take_the_fused_steps_and_broken_ones_the_exact_steps() -> None:
    model, x = _sei()
    strand_fn = inference._fast_strand_logits(model, torch.float32, CPU)
    assert strand_fn.trusted(x) and strand_fn.trusted(x[:0])
    assert not strand_fn.trusted(torch.where(x == 1, float("nan"), x))
    assert not strand_fn.trusted(x * 1e31)
    with torch.no_grad():
        model.dconv2[1].bias[0] = float("nan")  # inside a residual block
    assert not inference._fast_strand_logits(model, torch.float32, CPU).trusted(x)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_an_empty_batch_gives_an_empty_result(precision: str) -> None:
    model, x = _sei()
    assert prepare_logits(model, precision)(x[:0]).shape == (0, SMALL["n_targets"])


def test_the_prepared_function_keeps_the_weights_it_was_prepared_with() -> None:
    model, x = _sei()
    fn = prepare_logits(model, "fp32")
    before = fn(x)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    torch.testing.assert_close(fn(x), before, rtol=0, atol=0)
