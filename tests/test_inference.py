"""prepare_logits: every precision path gives float32 logits of the right shape, close to model.logits."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
import torch
from conftest import random_init_forbidden
from torch import nn

import zoo
from tests._inference_support import TOLERANCE, same_non_finite
from zoo import inference
from zoo._checks import NonFiniteWarning
from zoo.inference import PRECISIONS, channels_last, onednn, prepare_logits
from zoo.models import DeepSEA
from zoo.plan import lower
from zoo.plan.ops import MaxPool

# Small configs of every model family; the fast channels-last path covers deepsea, beluga, basset.
SMALL = {
    "deepsea": dict(seq_len=200, n_targets=5, hidden=7, conv_channels=(16, 16, 16)),
    "deepsea_relu_rc": dict(seq_len=200, n_targets=5, hidden=7, conv_channels=(16, 16, 16), activation="relu",
                            rc_average=True),
    "beluga": dict(seq_len=400, n_targets=6, hidden=9),
    "basset": dict(seq_len=200, n_targets=4),
    "danq": dict(seq_len=100, n_targets=5, hidden=7),
    "image_decoder": dict(in_size=6, ngf=4, n_layers=3, head="sigmoid"),
}  # fmt: skip


def _model_and_input(key: str) -> tuple[nn.Module, torch.Tensor]:
    name = key.split("_relu")[0]
    model = zoo.create_model(name, **SMALL[key]).eval()
    for module in model.modules():  # non-trivial batch-norm statistics, so folding is exercised
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.uniform_(module.bias, -0.2, 0.2)
    if name == "image_decoder":
        x = torch.randn(5, model.in_size)
    else:
        x = nn.functional.one_hot(torch.randint(0, 4, (5, model.seq_len)), 4).float().transpose(1, 2)
        x = x.contiguous()
        x[:, :, :7] = 0.25  # a run of N
    # scale the last layer so logits reach about +-4: probabilities spread over (0, 1), like a trained model's
    last = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.ConvTranspose2d))][-1]
    with torch.no_grad():
        if last.bias is not None:
            last.bias.zero_()
        last.weight.mul_(4.0 / model.logits(x).abs().max())
    return model, x


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("key", sorted(SMALL))
def test_precision_paths_match_model_logits(key: str, precision: str) -> None:
    model, x = _model_and_input(key)
    with torch.no_grad():
        expected = model.logits(x)
    weights_before = {k: v.clone() for k, v in model.state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no silent fallback from bf16 to fp32
        logits = prepare_logits(model, precision, "cpu")(x)
    assert logits.dtype == torch.float32
    assert logits.shape == expected.shape
    diff = (torch.sigmoid(logits) - torch.sigmoid(expected)).abs().max().item()
    assert diff <= TOLERANCE[precision], f"{key} {precision}: max |dp| = {diff}"
    assert expected.abs().max() > 3.0  # probabilities away from 0.5, so the bound means something
    for k, v in model.state_dict().items():  # the caller's model is untouched (no bf16 cast)
        assert v.dtype == weights_before[k].dtype and torch.equal(v, weights_before[k]), k


def test_fast_path_keeps_input_checks() -> None:
    model, x = _model_and_input("deepsea")
    fn = prepare_logits(model, "bf16")
    with pytest.raises(ValueError, match="drop axis 2"):
        fn(x[:, :, None, :])
    with pytest.raises(ValueError, match="built for sequences of 200 bp"):
        fn(x[:, :, :50])


def test_wrong_bf16_kernels_fall_back_to_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    # torch 2.14.1's oneDNN gives garbage for bf16 Conv1d with 8 or 12 input channels and
    # kernel 8 on AVX-512 CPUs; simulate any such broken kernel by corrupting the bf16 stack.
    model, x = _model_and_input("deepsea")
    build = inference._fast_strand_logits

    def broken(model: nn.Module, dtype: torch.dtype, device: torch.device):  # noqa: ANN202
        fn = build(model, dtype, device)
        return (lambda h: fn(h) * 0 + 5.0) if dtype == torch.bfloat16 else fn

    monkeypatch.setattr(inference, "_fast_strand_logits", broken)
    with pytest.warns(RuntimeWarning, match="bf16 inference of DeepSEA is wrong on this machine"):
        fn = prepare_logits(model, "bf16")
    with torch.no_grad():
        expected = torch.sigmoid(model.logits(x))
    assert (torch.sigmoid(fn(x)) - expected).abs().max().item() <= 1e-5


def test_threshold_far_from_relu_falls_back_to_exact_order() -> None:
    model, x = _model_and_input("deepsea")
    for i, layer in enumerate(model.conv):
        if isinstance(layer, nn.Threshold):
            model.conv[i] = nn.Threshold(0.0, 0.5)  # moving it past the pool would change outputs
    with torch.no_grad():
        expected = torch.sigmoid(model.logits(x))
    got = torch.sigmoid(prepare_logits(model, "fp32")(x))
    assert (got - expected).abs().max().item() <= 1e-5


@pytest.mark.parametrize("precision", ["fp16", "float32", "", None])
def test_invalid_precision_is_refused(precision: object) -> None:
    model, _ = _model_and_input("deepsea")
    with pytest.raises(ValueError, match=r"precision=.* is not one of \['fp32', 'bf16'\]"):
        prepare_logits(model, precision)  # type: ignore[arg-type]


def test_invalid_device_is_refused() -> None:
    model, _ = _model_and_input("deepsea")
    with pytest.raises(ValueError, match="is not a torch device"):
        prepare_logits(model, "fp32", "gpu0")
    with pytest.raises(ValueError, match="not supported"):
        prepare_logits(model, "fp32", "meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch sees no CUDA device"):
            prepare_logits(model, "fp32", "cuda")


def test_non_zoo_module_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a zoo model with a .logits method"):
        prepare_logits(nn.Linear(3, 2), "fp32")


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("key", ["deepsea", "basset"])
def test_batches_larger_than_a_conv_slice_match_model_logits(key: str, precision: str) -> None:
    # the convolutions run on slices of _CONV_ROWS sequences; 2.2 slices, the last one short
    model, _ = _model_and_input(key)
    n = 2 * channels_last.CONV_ROWS + 7
    x = nn.functional.one_hot(torch.randint(0, 4, (n, model.seq_len)), 4).float().transpose(1, 2)
    with torch.no_grad():
        expected = torch.sigmoid(model.logits(x.contiguous()))
    got = torch.sigmoid(prepare_logits(model, precision)(x.contiguous()))
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() <= TOLERANCE[precision]


class _CudaLike:
    """Stands in for a CUDA device where the code only asks ``device.type``."""

    type = "cuda"


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("key", ["deepsea", "deepsea_relu_rc", "beluga", "basset"])
def test_steps_as_run_on_cuda_match_model_logits(
    monkeypatch: pytest.MonkeyPatch, key: str, precision: str
) -> None:
    # CUDA runs the channels-last steps on the whole batch with plain conv2d/linear; here the
    # same branches run on CPU tensors (oneDNN off), on more rows than one CPU slice
    monkeypatch.setattr(onednn, "AVAILABLE", False)
    model, _ = _model_and_input(key)
    n = 2 * channels_last.CONV_ROWS + 7
    x = nn.functional.one_hot(torch.randint(0, 4, (n, model.seq_len)), 4).float().transpose(1, 2).contiguous()
    dtype = inference.PRECISION_DTYPES[precision]
    strand_fn = inference._fast_strand_logits(model, dtype, _CudaLike())  # type: ignore[arg-type]
    assert strand_fn is not None
    fn = inference._dna_logits_fn(model, strand_fn, dtype, torch.device("cpu"))
    with torch.no_grad():
        expected = torch.sigmoid(model.logits(x))
    got = torch.sigmoid(fn(x))
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() <= TOLERANCE[precision]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("compile", [False, True])
@pytest.mark.parametrize("precision", PRECISIONS)
def test_prepare_logits_on_cuda_matches_model_logits(precision: str, compile: bool) -> None:
    model, x = _model_and_input("deepsea")
    with torch.no_grad():
        expected = torch.sigmoid(model.logits(x))
    torch._dynamo.reset()
    got = torch.sigmoid(prepare_logits(model, precision, "cuda", compile=compile)(x.cuda())).cpu()
    tolerance = 1e-4 if precision == "fp32" else TOLERANCE[precision]  # TF32 convolutions, torch's default
    assert (got - expected).abs().max().item() <= tolerance


@pytest.mark.parametrize(("key", "precision"), [("deepsea", "fp32"), ("deepsea", "bf16")])
def test_compile_leaves_the_oneDNN_path_uncompiled(key: str, precision: str) -> None:
    # inductor made this model slower than the oneDNN path, so compile=True leaves that path alone
    model, x = _model_and_input(key)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    eager = prepare_logits(model, precision, "cpu")(x)
    assert torch.equal(prepare_logits(model, precision, "cpu", compile=True)(x), eager)
    assert not torch._dynamo.utils.counters["stats"]["unique_graphs"]


@pytest.mark.parametrize("key", ["danq", "image_decoder"])
def test_compile_applies_to_models_without_the_oneDNN_path(key: str) -> None:
    model, x = _model_and_input(key)
    with torch.no_grad():
        expected = torch.sigmoid(model.logits(x))
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    got = torch.sigmoid(prepare_logits(model, "fp32", "cpu", compile=True)(x))
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1
    assert (got - expected).abs().max().item() <= TOLERANCE["fp32"]


def test_both_convolution_paths_are_used_and_agree() -> None:
    # DeepSEA at 200 bp: the first convolution has 193 output positions (oneDNN convolution),
    # the later ones fewer than _MIN_CONV_POSITIONS (one matmul over windows).
    model, x = _model_and_input("deepsea")
    conv = model.conv[0]
    assert model.seq_len - conv.kernel_size[0] + 1 >= channels_last.MIN_CONV_POSITIONS
    h = x.transpose(1, 2).contiguous()  # (N, L, C)
    short = h[:, : channels_last.MIN_CONV_POSITIONS - 1 + 7].contiguous()  # one position too few for a conv
    for floor in (None, 0.0, 1e-6):
        step = channels_last.conv_step(lower(model).conv[0], torch.float32, floor)
        for inp in (h, short):
            with torch.no_grad():
                expected = conv(inp.transpose(1, 2)).transpose(1, 2)
                if floor is not None:
                    expected = expected.clamp_min(floor)
                got = step(inp)
            assert got.shape == expected.shape
            assert torch.allclose(got, expected, atol=1e-5), (floor, inp.shape)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_max_pool_on_integer_bits_equals_float_max_pool(dtype: torch.dtype) -> None:
    h = torch.randn(3, 41, 5).clamp_min(0.0).to(dtype)  # non-negative, with exact zeros; 41 % 4 != 0
    h[0, :4, 0] = 0.0
    by_bits = channels_last.pool_step(MaxPool(4, 4), nonnegative=True)(h)
    expected = nn.functional.max_pool1d(h.float().transpose(1, 2), 4).transpose(1, 2).to(dtype)
    assert by_bits.dtype == dtype
    assert torch.equal(by_bits, expected)
    assert torch.equal(channels_last.pool_step(MaxPool(4, 4))(h), expected)


def test_load_model_skips_random_init_and_matches_a_normal_build(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, x = _model_and_input("basset")  # batch norm buffers included
    path = zoo.save_weights(model, tmp_path / "basset.safetensors")
    with random_init_forbidden(monkeypatch):
        loaded = zoo.load_model(path)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded.logits(x), model.logits(x))


def test_uninitialised_build_falls_back_for_state_outside_the_state_dict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from zoo import create

    class WithConstant(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(2, 2)
            self.register_buffer("table", torch.arange(4.0), persistent=False)  # not in any file

    monkeypatch.setattr(create, "build_model", lambda name, **args: WithConstant())
    built = create._create_uninitialised("with_constant", {})
    assert torch.equal(built.table, torch.arange(4.0))
    assert built.linear.weight.device.type == "cpu"


@pytest.mark.parametrize("name", ["deepsea", "danq"])
def test_prepared_function_keeps_the_weights_it_was_prepared_with(name: str) -> None:
    """Both the channels-last path (deepsea) and the plain path (danq) snapshot the weights."""
    small = {"deepsea": dict(seq_len=200, n_targets=3, conv_channels=(16, 16, 16), hidden=8),
             "danq": dict(seq_len=200, n_targets=3)}[name]  # fmt: skip
    model = zoo.create_model(name, **small).eval()
    x = torch.rand(3, 4, 200)
    with torch.no_grad():
        before = model.logits(x)
    fn = prepare_logits(model, "fp32")
    other = zoo.create_model(name, **small)
    model.load_state_dict(other.state_dict())  # in place, after preparing
    torch.testing.assert_close(fn(x), before, rtol=1e-5, atol=1e-5)


def test_bf16_without_avx512_falls_back_or_runs_plain_bf16() -> None:
    """oneDNN's bf16 kernels need AVX-512: limited to AVX2 it must not crash."""
    code = (
        "import warnings, torch, zoo\n"
        "from zoo.inference import prepare_logits\n"
        "m = zoo.create_model('deepsea', seq_len=200, n_targets=3, conv_channels=(16, 16, 16), hidden=8)\n"
        "x = torch.rand(2, 4, 200)\n"
        "fn = prepare_logits(m, 'bf16')\n"
        "err = (torch.sigmoid(fn(x)) - torch.sigmoid(m.eval().logits(x))).abs().max().item()\n"
        "assert err < 1e-2, err\n"
        "print('ok', torch.ops.mkldnn._is_mkldnn_bf16_supported())\n"
    )
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok")


@pytest.mark.parametrize("key", ["deepsea", "deepsea_relu_rc", "beluga", "basset"])
def test_public_torch_fallback_matches_the_onednn_path_and_model_logits(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    # where torch lacks the private oneDNN ops (zoo.inference.onednn.AVAILABLE is False) the same steps
    # run on F.linear / F.conv2d + clamp_min; prepared fresh, on more rows than one CPU slice
    model, _ = _model_and_input(key)
    n = channels_last.CONV_ROWS + 3
    x = nn.functional.one_hot(torch.randint(0, 4, (n, model.seq_len)), 4).float().transpose(1, 2).contiguous()
    with torch.no_grad():
        expected = model.logits(x)
    fused = prepare_logits(model, "fp32")(x)

    def private_op(*args: object, **kwargs: object) -> None:
        raise AssertionError("a private oneDNN op ran with zoo.inference.onednn.AVAILABLE = False")

    monkeypatch.setattr(onednn, "AVAILABLE", False)
    for op in ("_linear_pointwise", "_convolution_pointwise", "_is_mkldnn_bf16_supported"):
        monkeypatch.setattr(torch.ops.mkldnn, op, private_op)
    monkeypatch.setattr(torch._C._nn, "mkldnn_reorder_conv2d_weight", private_op)
    assert inference._fast_strand_logits(model, torch.float32, torch.device("cpu")) is not None
    fallback = prepare_logits(model, "fp32")(x)
    assert fallback.dtype == torch.float32 and fallback.shape == expected.shape
    torch.testing.assert_close(fallback, fused, rtol=0, atol=1e-5)
    torch.testing.assert_close(fallback, expected, rtol=0, atol=1e-5)


class _DeepSEAWithOwnStrandLogits(DeepSEA):
    def strand_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.conv(x)) * 2.0


@pytest.mark.parametrize(
    ("key", "fast"),
    [("deepsea", True), ("beluga", True), ("basset", True), ("danq", False), ("image_decoder", False)],
)
def test_fast_path_is_taken_by_the_models_whose_strand_logits_are_classifier_of_conv(
    key: str, fast: bool
) -> None:
    model, _ = _model_and_input(key)
    strand_fn = inference._fast_strand_logits(model, torch.float32, torch.device("cpu"))
    assert (strand_fn is not None) == fast


def test_a_model_overriding_strand_logits_takes_the_plain_path() -> None:
    model = _DeepSEAWithOwnStrandLogits(**SMALL["deepsea"]).eval()
    x = nn.functional.one_hot(torch.randint(0, 4, (3, model.seq_len)), 4).float().transpose(1, 2)
    assert inference._fast_strand_logits(model, torch.float32, torch.device("cpu")) is None
    with torch.no_grad():
        expected = model.logits(x.contiguous())
    torch.testing.assert_close(prepare_logits(model, "fp32")(x.contiguous()), expected, rtol=0, atol=1e-5)


_NON_FINITE_WEIGHTS = {  # (state_dict key, index into the flattened tensor, value)
    "nan-first-conv": ("conv.0.weight", 0, float("nan")),
    "inf-first-conv": ("conv.0.weight", 3, float("inf")),
    "-inf-first-conv": ("conv.0.weight", 5, float("-inf")),
    "nan-conv-bias": ("conv.4.bias", 1, float("nan")),
    "inf-dense": ("classifier.1.weight", 2, float("inf")),
    "inf-last-bias": ("classifier.3.bias", 0, float("inf")),
}


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("case", sorted(_NON_FINITE_WEIGHTS))
@pytest.mark.parametrize("key", ["deepsea", "deepsea_relu_rc"])
def test_non_finite_weights_give_the_plain_models_nan_and_inf(key: str, case: str, precision: str) -> None:
    # oneDNN's fused relu/hardtanh turn NaN into the floor and an integer max over float bits
    # drops NaNs with the sign bit set: the fast path must not turn broken weights into
    # plausible probabilities
    model, x = _model_and_input(key)
    name, index, value = _NON_FINITE_WEIGHTS[case]
    with torch.no_grad():
        model.state_dict()[name].view(-1)[index] = value
        expected = model.logits(x)
    assert not torch.isfinite(expected).all()  # the plain model shows the broken weight
    with pytest.warns(NonFiniteWarning, match=rf"DeepSEA has NaN or infinite weights in {name}") as caught:
        fn = prepare_logits(model, precision)
    assert not [w for w in caught if "wrong on this machine" in str(w.message)]  # no bf16 fallback
    same_non_finite(fn(x), expected)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("key", ["deepsea", "deepsea_relu_rc", "beluga", "basset"])
def test_non_finite_and_huge_inputs_give_the_plain_models_nan_and_inf(key: str, precision: str) -> None:
    model, x = _model_and_input(key)
    x = x.clone()
    x[1, :, 10] = float("nan")  # the N value of a checkpoint that stored NaN
    x[2, 0, 20] = float("inf")
    x[3, 1, 30] = 3e38  # finite, but overflows in the first convolution
    with torch.no_grad():
        expected = model.logits(x)
    assert torch.isfinite(expected[[0, 4]]).all() and not torch.isfinite(expected[1:4]).all()
    same_non_finite(prepare_logits(model, precision)(x), expected)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_weights_that_overflow_give_the_plain_models_inf_and_nan(precision: str) -> None:
    model, x = _model_and_input("deepsea_relu_rc")
    with torch.no_grad():
        model.conv[0].weight[0] = 1e38  # finite weights whose sums overflow
        expected = model.logits(x)
    assert not torch.isfinite(expected).all()
    same_non_finite(prepare_logits(model, precision)(x), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_exact_max_pool_keeps_nan_of_either_sign(dtype: torch.dtype) -> None:
    h = torch.rand(2, 8, 3).to(dtype)
    h[0, 1, 0] = float("nan")
    h[1, 5, 2] = -torch.tensor(float("nan"))  # sign bit set: a negative integer
    step = channels_last.pool_step(MaxPool(4, 4), nonnegative=True)
    expected = nn.functional.max_pool1d(h.float().transpose(1, 2), 4).transpose(1, 2).to(dtype)
    assert torch.equal(step(h, exact=True).isnan(), expected.isnan())
    assert expected.isnan().sum() == 2


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("key", sorted(SMALL))
def test_an_empty_batch_gives_an_empty_result_as_the_plain_model_does(key: str, precision: str) -> None:
    model, x = _model_and_input(key)
    with torch.no_grad():
        expected = model.logits(x[:0])
    got = prepare_logits(model, precision)(x[:0])
    assert got.shape == expected.shape and got.dtype == torch.float32


@pytest.mark.parametrize("key", ["deepsea", "deepsea_relu_rc", "beluga", "basset"])
def test_finite_batches_take_the_fused_steps_and_broken_ones_the_exact_steps(key: str) -> None:
    model, x = _model_and_input(key)
    strand_fn = inference._fast_strand_logits(model, torch.float32, torch.device("cpu"))
    assert strand_fn.trusted(x) and strand_fn.trusted(x[:0])
    assert not strand_fn.trusted(torch.where(x == 1, float("nan"), x))
    assert not strand_fn.trusted(x * 1e31)
    with torch.no_grad():
        model.conv[0].bias[0] = float("nan")
    assert not inference._fast_strand_logits(model, torch.float32, torch.device("cpu")).trusted(x)


def test_dense_layers_without_a_channels_last_kernel_run_as_plain_ops_after_fast_convolutions() -> None:
    model, x = _model_and_input("deepsea")
    model.classifier[2] = nn.Tanh()  # no clamp: no fused dense step
    assert inference._fast_strand_logits(model, torch.float32, torch.device("cpu")) is not None
    with torch.no_grad():
        expected = model.logits(x)
    torch.testing.assert_close(prepare_logits(model, "fp32")(x), expected, rtol=0, atol=1e-5)
