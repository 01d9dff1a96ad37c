"""In-silico mutagenesis: every method against an independent one-mutant-at-a-time computation."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import zoo
from zoo.interpret import ism, ism_batches, ism_span, mutant_index, prepare_ism
from zoo.interpret._band import supports_band_ism
from zoo.models._dna import DNAModel
from zoo.predict.inputs.genome import Genome
from zoo.predict.inputs.variants import allele_windows, variant_position, variant_values

SMALL = {
    "deepsea": dict(seq_len=200, n_targets=5, hidden=16, conv_channels=(8, 12, 16)),
    "deepsea_relu_rc": dict(
        seq_len=200, n_targets=5, hidden=16, conv_channels=(8, 12, 16), activation="relu", rc_average=True
    ),
    "beluga": dict(seq_len=310, n_targets=5, hidden=16),
    "basset": dict(seq_len=170, n_targets=5),
    "danq": dict(seq_len=100, n_targets=5, hidden=16),
}


def randomized(model: nn.Module, seed: int = 0) -> nn.Module:
    """``model`` in eval mode with weights and batch-norm statistics drawn so that logits and
    their changes are of order one (the default initialisation leaves them near zero, and
    fresh batch norms are the identity)."""
    gen = torch.Generator().manual_seed(seed)

    def normal(t: torch.Tensor, std: float) -> None:
        t.copy_(torch.randn(t.shape, generator=gen) * std)

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                normal(m.weight, 1.4 / math.sqrt(m.weight[0].numel()))
                if m.bias is not None:
                    normal(m.bias, 0.1)
            elif isinstance(m, nn.BatchNorm1d):
                normal(m.running_mean, 0.3)
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
                normal(m.weight, 0.3)
                m.weight.add_(1.0)
                normal(m.bias, 0.1)
            elif isinstance(m, nn.LSTM):
                for p in m.parameters():
                    normal(p, 0.3)
    return model.eval()


def small_model(key: str, seed: int = 0) -> nn.Module:
    """A small zoo model of the family ``key`` names (see SMALL), randomized."""
    return randomized(zoo.create_model(key.split("_")[0], **SMALL[key]), seed)


def random_one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return F.one_hot(torch.randint(0, 4, (n, length), generator=gen), 4).float().transpose(1, 2).contiguous()


def naive_ism(model: nn.Module, x: torch.Tensor, targets: list[int], positions: list[int]) -> torch.Tensor:
    """(N, len(positions), 4, T): set one column to each base, run model.logits, subtract."""
    model.eval()
    rows = torch.arange(4 * len(positions))
    columns = torch.tensor(positions).repeat_interleave(4)
    out = []
    with torch.no_grad():
        ref = model.logits(x)[:, targets]
        for n in range(len(x)):
            mutants = x[n].repeat(len(rows), 1, 1)
            mutants[rows, :, columns] = torch.eye(4).repeat(len(positions), 1)
            logits = torch.cat([model.logits(part) for part in mutants.split(256)])
            out.append((logits[:, targets] - ref[n]).view(len(positions), 4, len(targets)))
    return torch.stack(out)


def reference_mask(x: torch.Tensor) -> torch.Tensor:
    """(N, L, 4) True where the base is the reference of a clean one-hot column."""
    return ((x == 1) & (x.sum(1, keepdim=True) == 1)).transpose(1, 2)


@pytest.mark.parametrize("key", list(SMALL))
def test_ism_equals_one_mutant_at_a_time(key: str) -> None:
    model = small_model(key)
    length = model.seq_len
    wide = key in ("beluga", "basset", "danq")  # hundreds of channels: one sequence
    x = random_one_hot(1 if wide else 2, length)
    # Beluga's six convolutions are wide and slow: a span in the middle, its ends tested apart
    start, end = (140, 156) if key == "beluga" else (0, length)
    x[-1, :, start + 7] = 0.25  # an N: all four bases are real substitutions there
    result = ism(model, x, [0, 2, 4], start=start, end=end)
    assert result.method == ("naive" if key == "danq" else "band")
    assert result.delta.shape == (len(x), end - start, 4, 3)
    expected = naive_ism(model, x, [0, 2, 4], list(range(start, end)))
    assert expected.abs().max() > 0.05  # the mutants do move the logits
    torch.testing.assert_close(result.delta, expected, atol=1e-5, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(result.reference, model.logits(x)[:, [0, 2, 4]], atol=1e-5, rtol=0)
    is_ref = reference_mask(x)[:, start:end]
    assert (result.delta[is_ref] == 0).all()  # exactly 0 at the reference base
    assert (result.delta[-1, 7] != 0).all()  # the N column: four real substitutions


@pytest.mark.parametrize("start", [0, SMALL["beluga"]["seq_len"] - 12])
def test_band_ism_covers_both_sequence_ends_of_beluga(start: int) -> None:
    model = small_model("beluga")
    x = random_one_hot(1, model.seq_len, seed=3)
    result = ism(model, x, [1], start=start, end=start + 12)
    expected = naive_ism(model, x, [1], list(range(start, start + 12)))
    torch.testing.assert_close(result.delta, expected, atol=1e-5, rtol=0)


class _OddConvNet(DNAModel):
    """Layers the zoo's families do not use: overlapping pools, GELU/ELU, batch norm after an
    activation, an inplace ReLU, a pool that drops the last inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.seq_len, self.rc_average, self.n_targets = 101, False, 3
        self.conv = nn.Sequential(
            nn.Conv1d(4, 6, 5), nn.GELU(), nn.MaxPool1d(3, 2), nn.BatchNorm1d(6),
            nn.Conv1d(6, 7, 3), nn.BatchNorm1d(7), nn.ReLU(inplace=True), nn.MaxPool1d(2, 3),
            nn.Conv1d(7, 5, 4), nn.ELU(), nn.Dropout(0.3),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(5 * 12, 9), nn.BatchNorm1d(9), nn.Tanh(), nn.Linear(9, 3)
        )
        self.head = nn.Sigmoid()


def test_band_ism_handles_any_layers_of_the_supported_kinds() -> None:
    model = randomized(_OddConvNet())
    assert supports_band_ism(model)
    x = random_one_hot(2, 101, seed=1)
    result = ism(model, x)
    assert result.method == "band"
    expected = naive_ism(model, x, [0, 1, 2], list(range(101)))
    torch.testing.assert_close(result.delta, expected, atol=1e-5, rtol=0)


def test_models_of_other_shapes_go_the_naive_way() -> None:
    assert not supports_band_ism(small_model("danq"))  # its own strand_logits (an LSTM)
    odd = _OddConvNet()
    odd.conv.append(nn.AdaptiveMaxPool1d(12))  # not a layer the band method knows
    assert not supports_band_ism(odd)
    with pytest.raises(ValueError, match="method='band' needs a DNA model with a plan .* DanQ has none"):
        prepare_ism(small_model("danq"), method="band")


def test_bf16_band_ism_is_close_to_fp32() -> None:
    model = small_model("basset")
    x = random_one_hot(1, model.seq_len, seed=2)
    fp32 = ism(model, x)
    bf16 = ism(model, x, precision="bf16")
    # only the changes are rounded: within 2% of the largest change
    error = (bf16.delta - fp32.delta).abs().max() / fp32.delta.abs().max()
    assert error < 2e-2
    torch.testing.assert_close(bf16.reference, fp32.reference)  # reference logits stay float32


def test_probabilities_targets_by_name_and_strings() -> None:
    model = small_model("deepsea")
    names = [f"cell_{i}" for i in range(5)]
    gen = torch.Generator().manual_seed(4)
    seqs = ["".join("ACGTN"[i] for i in torch.randint(0, 5, (200,), generator=gen)) for _ in range(2)]
    result = ism(model, seqs, ["cell_3", 1], target_names=names, probabilities=True, n_value=0.0)
    assert result.targets == [3, 1] and result.target_names == ["cell_3", "cell_1"]
    by_index = ism(model, zoo.one_hot(seqs, n_value=0.0), [3, 1])
    torch.testing.assert_close(result.delta, by_index.delta, atol=0, rtol=0)
    ref = result.reference[:, None, None, :]
    expected = torch.sigmoid(ref + result.delta) - torch.sigmoid(ref)
    torch.testing.assert_close(result.prob_delta, expected, atol=1e-6, rtol=0)


def test_batches_stream_and_spans_slice() -> None:
    model = small_model("deepsea_relu_rc")
    x = random_one_hot(5, model.seq_len, seed=5)
    whole = ism(model, x, batch_size=97)
    parts = list(ism_batches(model, [x[:2], x[2:]], batch_size=50))
    torch.testing.assert_close(torch.cat([p.delta for p in parts]), whole.delta, atol=1e-6, rtol=0)
    span = ism(model, x, start=30, end=60)
    assert span.start == 30
    torch.testing.assert_close(span.delta, whole.delta[:, 30:60], atol=1e-6, rtol=0)


def test_mutant_index_lists_three_changes_per_base_and_four_per_n() -> None:
    x = random_one_hot(2, 6)
    x[0, :, 2] = 0.25
    index = mutant_index(x)
    assert len(index) == 2 * 6 * 3 + 1
    assert index[:, 1].tolist() == sorted(index[:, 1].tolist())  # by position
    for seq, pos, base in index.tolist():
        assert x[seq, base, pos] != 1 or (seq, pos) == (0, 2)


def test_bad_arguments_are_named() -> None:
    model = small_model("deepsea")
    x = random_one_hot(1, 200)
    with pytest.raises(ValueError, match="target 'x' is a name: pass target_names"):
        ism(model, x, "x")
    with pytest.raises(ValueError, match="target 'x' is not among the 5 target_names"):
        ism(model, x, "x", target_names=list("abcde"))
    with pytest.raises(ValueError, match="target index 5 is out of range for 5 targets"):
        ism(model, x, [5])
    with pytest.raises(ValueError, match="target_names has 2 names; the model has 5 targets"):
        ism(model, x, target_names=["a", "b"])
    with pytest.raises(ValueError, match=r"built for sequences of 200 bp"):
        ism(model, random_one_hot(1, 150))
    with pytest.raises(ValueError, match="precision='fp16' is not one of"):
        ism(model, x, precision="fp16")
    with pytest.raises(ValueError, match="start=10, end=5: expected 0 <= start < end <= seq_len=200"):
        ism(model, x, start=10, end=5)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        ism(model, x, batch_size=0)


@pytest.mark.parametrize("rc_average", [False, True])
def test_ism_equals_variant_scores_of_the_same_snp(tmp_path: Path, rc_average: bool) -> None:
    """ISM at the variant's index of its reference window = zoo-predict's logfc (logits) and
    diff (probabilities) for that SNP, through the variant library's own functions."""
    length = 200
    model = randomized(
        zoo.create_model(
            "deepsea",
            seq_len=length,
            n_targets=4,
            hidden=16,
            conv_channels=(8, 12, 16),
            rc_average=rc_average,
        )
    )
    gen = torch.Generator().manual_seed(6)
    chrom = "".join("ACGT"[i] for i in torch.randint(0, 4, (1000,), generator=gen))
    (tmp_path / "genome.fa").write_text(
        ">chr1\n" + "\n".join(chrom[i : i + 60] for i in range(0, 1000, 60)) + "\n"
    )
    genome = Genome(tmp_path / "genome.fa")
    c = variant_position(length)
    snps = [(pos, alt) for pos in (150, 400, 401, 777) for alt in "ACGT" if alt != chrom[pos - 1]]
    windows = [allele_windows(genome, "chr1", pos, chrom[pos - 1], alt, length) for pos, alt in snps]
    genome.close()
    assert all(status == "ok" for status, _ in windows)
    with torch.no_grad():
        logits = torch.stack([model.logits(zoo.one_hot(list(w))) for _, w in windows])  # (n, 2, T)
    scores = variant_values(logits, ["diff", "logfc"]).view(len(snps), 4, 2)  # target-major
    result = ism(model, [w[0] for _, w in windows], probabilities=True)
    bases = torch.tensor(["ACGT".index(alt) for _, alt in snps])
    rows = torch.arange(len(snps))
    torch.testing.assert_close(result.delta[rows, c, bases], scores[:, :, 1], atol=1e-5, rtol=0)
    torch.testing.assert_close(result.prob_delta[rows, c, bases], scores[:, :, 0], atol=1e-6, rtol=0)
    assert scores[:, :, 1].abs().max() > 0.1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["deepsea", "basset"])
def test_paper_size_band_ism_is_exact(name: str) -> None:
    model = randomized(zoo.create_model(name))
    x = random_one_hot(1, model.seq_len, seed=7)
    result = ism(model, x)
    assert result.method == "band" and result.delta.shape == (1, model.seq_len, 4, model.n_targets)
    gen = torch.Generator().manual_seed(8)
    middle = torch.randperm(model.seq_len - 40, generator=gen)[:40] + 20
    positions = [*range(20), *sorted(middle.tolist()), *range(model.seq_len - 20, model.seq_len)]
    expected = naive_ism(model, x, list(range(model.n_targets)), positions)
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(result.delta[:, positions], expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("key", ["deepsea", "basset", "sei"])
def test_a_prepared_band_ism_keeps_the_weights_it_was_prepared_with(key):
    """Changing the model's weights afterwards changes neither the reference pass nor the
    mutant products of an ISM already prepared: both read one copy, made when prepared."""
    model = small_sei(128) if key == "sei" else small_model(key)
    x = random_one_hot(2, model.seq_len, seed=3)
    prepared = prepare_ism(model, [0, 2], method="band")
    before = prepared(x)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                m.weight.mul_(1.5)
    after = prepared(x)
    torch.testing.assert_close(after.delta, before.delta, rtol=0, atol=0)
    torch.testing.assert_close(after.reference, before.reference, rtol=0, atol=0)
    fresh = prepare_ism(model, [0, 2], method="band")(x)
    assert not torch.allclose(fresh.reference, before.reference)


# --- Sei: band ISM through residual blocks, dilated convolutions and the spline -----------------

SEI_SMALL = dict(n_targets=5, conv_channels=(8, 12, 16), spline_df=6)


def small_sei(seq_len: int, rc_average: bool = False, seed: int = 0) -> nn.Module:
    """A small Sei, randomized with its activations kept of order one: the convolutions after
    the first scaled down (the residual sums would otherwise grow layer by layer) and the first
    dense layer by the spline's positions per df, so that float32 rounding of the logits stays
    well below the 1e-5 the band method is held to."""
    model = randomized(zoo.create_model("sei", seq_len=seq_len, rc_average=rc_average, **SEI_SMALL), seed)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, nn.Conv1d) and name != "lconv1.0":
                module.weight.mul_(0.75)
        model.classifier[0].weight.mul_(SEI_SMALL["spline_df"] / (seq_len / 16))
    return model.eval()


@pytest.mark.parametrize(
    ("seq_len", "rc_average", "targets"),
    [(128, False, [0, 2, 4]), (512, True, [3]), (1024, False, [1, 4])],
)
def test_sei_band_ism_equals_one_mutant_at_a_time(seq_len: int, rc_average: bool, targets: list[int]) -> None:
    """Both ends, the middle, an N; 128 bp: the change fills the spline's 8 positions before the
    dilated blocks, 1,024 bp: it reaches all 64 only in the second dilated block."""
    model = small_sei(seq_len, rc_average)
    x = random_one_hot(2, seq_len, seed=seq_len)
    x[1, :, seq_len // 2] = 0.25  # an N: all four bases are real substitutions there
    positions = [0, 1, 2, 9, seq_len // 2 - 1, seq_len // 2, seq_len - 10, seq_len - 2, seq_len - 1]
    result = ism(model, x, targets, method="band")
    assert result.method == "band" and result.delta.shape == (2, seq_len, 4, len(targets))
    expected = naive_ism(model, x, targets, positions)
    assert expected.abs().max() > 0.01  # the mutants do move the logits
    torch.testing.assert_close(result.delta[:, positions], expected, atol=1e-5, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(result.reference, model.logits(x)[:, targets], atol=1e-5, rtol=0)
    assert (result.delta[reference_mask(x)] == 0).all()
    assert (result.delta[1, seq_len // 2] != 0).all()


def test_sei_auto_picks_band_and_bf16_stays_close() -> None:
    model = small_sei(256)
    x = random_one_hot(1, 256, seed=11)
    fp32 = ism(model, x, window=slice(100, 140))
    assert supports_band_ism(model) and fp32.method == "band"
    bf16 = ism(model, x, window=slice(100, 140), precision="bf16")
    error = (bf16.delta - fp32.delta).abs().max() / fp32.delta.abs().max()
    assert error < 2e-2
    torch.testing.assert_close(bf16.reference, fp32.reference)


@pytest.mark.parametrize("case", ["nan-conv", "inf-dense", "nan-dilated-bias"])
def test_sei_band_ism_non_finite_as_naive(case: str) -> None:
    """Broken weights give NaN or infinite changes where naive ISM gives them, as the band
    method of the convolutional families does (nothing is hidden, nothing is invented)."""
    model = small_sei(128)
    with torch.no_grad():
        if case == "nan-conv":
            model.conv2[1].weight[0, 0, 0] = float("nan")
        elif case == "inf-dense":
            model.classifier[2].weight[1, 0] = float("inf")
        else:
            model.dconv3[1].bias[2] = float("nan")
    x = random_one_hot(1, 128, seed=2)
    positions = [0, 64, 127]
    band = ism(model, x, [0, 1], method="band").delta[:, positions]
    naive = ism(model, x, [0, 1], method="naive").delta[:, positions]
    for where in (torch.isnan, torch.isposinf, torch.isneginf):
        assert torch.equal(where(band), where(naive))
    assert not torch.isfinite(naive).all()  # the case does reach the changes
    finite = torch.isfinite(naive)
    torch.testing.assert_close(band[finite], naive[finite], atol=1e-5, rtol=0)


# --- ISM over a window of positions -------------------------------------------------------------

WINDOW_MODELS = ["deepsea_relu_rc", "beluga", "basset", "danq", "sei"]


def window_model(key: str) -> nn.Module:
    return small_sei(256, rc_average=True) if key == "sei" else small_model(key)


@pytest.mark.parametrize("key", WINDOW_MODELS)
def test_windowed_ism_equals_the_same_positions_of_full_ism(key: str) -> None:
    """A window at each end and one around the centre: the same values as the whole
    sequence's ISM there, with only the window's mutants run (naive: mutants of the window)."""
    model = window_model(key)
    length = model.seq_len
    x = random_one_hot(1, length, seed=21)
    full = ism(model, x, [0, 3])
    spans = [(0, 6), (length - 5, length)]
    for start, end in spans:
        part = ism(model, x, [0, 3], window=slice(start, end))
        assert part.start == start and part.delta.shape == (1, end - start, 4, 2)
        torch.testing.assert_close(part.delta, full.delta[:, start:end], atol=1e-6, rtol=0)
    around = ism(model, x, [0, 3], width=9)  # around the variant of a zoo-predict window
    centre = length // 2 - 1
    assert around.start == centre - 4
    torch.testing.assert_close(around.delta, full.delta[:, centre - 4 : centre + 5], atol=1e-6, rtol=0)
    assert around.method == full.method == ("naive" if key == "danq" else "band")


def test_windowed_naive_ism_runs_only_the_windows_mutants() -> None:
    model = small_model("danq")
    seen: list[int] = []
    original = model.logits

    def counting(x: torch.Tensor) -> torch.Tensor:
        seen.append(len(x))
        return original(x)

    model.logits = counting  # type: ignore[method-assign]
    x = random_one_hot(1, model.seq_len, seed=5)
    ism(model, x, [0], window=(40, 47), method="naive")
    assert sum(seen) <= 1 + 3 * 7 + 2  # the reference, the 21 mutants (and the inference path's check)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(window=slice(10, 5)), "start=10, end=5: expected 0 <= start < end <= seq_len=200"),
        (dict(window=slice(0, 201)), "start=0, end=201: expected 0 <= start < end <= seq_len=200"),
        (dict(window=slice(-5, None)), "start=-5, end=200: expected 0 <= start < end <= seq_len=200"),
        (
            dict(window=slice(0, 10, 2)),
            "window=slice(0, 10, 2): a slice of consecutive positions has no step",
        ),
        (
            dict(window=[1, 2, 3]),
            "window=[1, 2, 3]: expected a slice(start, end) or a (start, end) pair",
        ),
        (dict(width=0), "width=0: expected a positive number of positions"),
        (dict(around=5), "around=5 needs width: the number of positions around it"),
        (
            dict(around=195, width=20),
            "around=195, width=20: positions [185, 205) run off the 200 bp sequence",
        ),
        (dict(around=5, width=20), "around=5, width=20: positions [-5, 15) run off the 200 bp sequence"),
        (dict(start=3, end=9, width=4), "give the positions one way, not start/end and width"),
        (dict(window=(0, 4), width=4), "give the positions one way, not window and width"),
    ],
)
def test_bad_windows_are_named(options: dict, message: str) -> None:
    model = small_model("deepsea")
    with pytest.raises(ValueError, match=re.escape(message)):
        ism(model, random_one_hot(1, 200), **options)


def test_ism_span_reads_each_way() -> None:
    assert ism_span(200) == (0, 200)
    assert ism_span(200, 5, 9) == (5, 9)
    assert ism_span(200, window=slice(None, 7)) == (0, 7)
    assert ism_span(200, window=slice(190, None)) == (190, 200)
    assert ism_span(200, window=(3, 4)) == (3, 4)
    assert ism_span(200, width=100) == (49, 149)  # the variant's base 99 = 200 // 2 - 1 at index 50
    assert ism_span(200, around=10, width=5) == (8, 13)
    assert ism_span(200, around=10, width=4) == (8, 12)


@pytest.mark.slow
def test_paper_size_sei_band_ism_is_exact_on_a_window() -> None:
    """Paper-size Sei (its own initialisation: changes of order 1e-3) around the centre and at
    both ends, against one mutant at a time."""
    torch.manual_seed(0)
    model = zoo.create_model("sei").eval()
    x = random_one_hot(1, model.seq_len, seed=9)
    targets = [0, 5000, 21906]
    for start, end in ((0, 2), (2047, 2049), (4094, 4096)):
        result = ism(model, x, targets, window=slice(start, end), batch_size=64)
        assert result.method == "band"
        expected = naive_ism(model, x, targets, list(range(start, end)))
        assert expected.abs().max() > 1e-5
        torch.testing.assert_close(result.delta, expected, atol=1e-5, rtol=0)
