"""Dinucleotide shuffles and captum attributions: counts kept, captum's own results, completeness."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from test_interpret_ism import random_one_hot, randomized, small_model
from torch import nn

import zoo
from zoo.interpret.attribution import attribute, combine_multipliers
from zoo.interpret.shuffle import dinucleotide_shuffle
from zoo.models._dna import DNAModel

captum_attr = pytest.importorskip("captum.attr")


def _pairs(seq: str) -> Counter:
    return Counter(seq[i : i + 2] for i in range(len(seq) - 1))


def test_dinucleotide_shuffle_keeps_every_dinucleotide_count_and_the_ends() -> None:
    rng = np.random.default_rng(0)
    for length in (3, 10, 200):
        seq = "".join(rng.choice(list("ACGTN"), length))
        shuffles = dinucleotide_shuffle(seq, 30, seed=1)
        assert all(_pairs(s) == _pairs(seq) for s in shuffles)
        assert all(s[0] == seq[0] and s[-1] == seq[-1] for s in shuffles)
        if length == 200:
            assert len(set(shuffles)) == 30  # random: no two alike
    assert dinucleotide_shuffle("AC", 2) == ["AC", "AC"]  # nothing to shuffle


def test_dinucleotide_shuffle_of_one_hot_moves_whole_columns() -> None:
    x = zoo.one_hot(["ACGTNACGGTTACNNAGT" * 5, "TTTTGGGGCCCCAAAANNNN" * 4 + "AC" * 5])
    refs = dinucleotide_shuffle(x, 5, seed=2)
    assert refs.shape == (2, 5, 4, 90) and refs.dtype == torch.float32
    letters = np.array(list("ACGT"))
    for seq, shuffled in zip(x, refs):
        text = "".join("N" if c.sum() != 1 else letters[c.argmax()] for c in seq.T)
        for ref in shuffled:
            assert sorted(ref.T.tolist()) == sorted(seq.T.tolist())  # the same columns, moved
            back = "".join("N" if c.sum() != 1 else letters[c.argmax()] for c in ref.T)
            assert _pairs(back) == _pairs(text)
    again = dinucleotide_shuffle(x, 5, seed=2)
    assert torch.equal(refs, again)  # the seed decides
    with pytest.raises(ValueError, match="one-hot DNA"):
        dinucleotide_shuffle(torch.zeros(3, 10))


def test_dinucleotide_shuffle_is_uniform_over_eulerian_paths() -> None:
    # "AACAB"-like small case: ACAAC has pairs AC, CA, AA, AC; its shuffles with the same
    # first/last base and pairs are ACAAC and AACAC, equally likely
    counts = Counter(dinucleotide_shuffle("ACAAC", 4000, seed=3))
    assert set(counts) == {"ACAAC", "AACAC"}
    assert abs(counts["ACAAC"] - 2000) < 200


def test_hypothetical_formula_projects_the_multipliers() -> None:
    gen = torch.Generator().manual_seed(0)
    x = random_one_hot(3, 12)
    refs = dinucleotide_shuffle(x, 4, seed=0)
    mult = torch.randn(3, 4, 4, 12, generator=gen)
    attributions, hypothetical = combine_multipliers(x, refs, mult)
    for b in range(4):  # hypothetical base b = the attribution of the one-hot column e_b
        e_b = torch.zeros(4, 1)
        e_b[b] = 1
        expected = ((e_b - refs) * mult).sum(2).mean(1)
        torch.testing.assert_close(hypothetical[:, b], expected)
    # at the observed base it is what the attributions sum to over the four channels
    torch.testing.assert_close((hypothetical * x).sum(1), attributions.sum(1))


@pytest.mark.parametrize("key", ["deepsea", "basset"])
def test_deeplift_shap_is_captums_and_complete(key: str) -> None:
    """DeepLIFT-SHAP equals captum's DeepLiftShap with the same references, and its attributions
    sum to logit(x) - mean logit(references); DeepSEA's Threshold gets the rescale rule."""
    model = small_model(key)
    x = random_one_hot(2, model.seq_len, seed=1)
    result = attribute(model, x, 3, method="deeplift_shap", n_shuffles=6, seed=4, batch_size=5)
    assert result.attributions.shape == result.hypothetical.shape == (2, 4, model.seq_len)
    refs = dinucleotide_shuffle(x, 6, seed=4)
    with torch.no_grad():
        f_x = model.logits(x)[:, 3]
        f_refs = model.logits(refs.flatten(0, 1))[:, 3].view(2, 6)
    gap = f_x - f_refs.mean(1)
    assert gap.abs().max() > 0.05  # something to attribute
    total = result.attributions.sum((1, 2))
    torch.testing.assert_close(total, gap, atol=2e-3 * gap.abs().max().item() + 1e-5, rtol=0)
    torch.testing.assert_close(result.convergence, total - gap, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        (result.hypothetical * x).sum(1), result.attributions.sum(1), atol=1e-5, rtol=0
    )

    from zoo.interpret.attribution import _deeplift_rules, _TargetLogit

    explainer = captum_attr.DeepLiftShap(_TargetLogit(model, 3))
    with _deeplift_rules(model):
        theirs = torch.cat([explainer.attribute(x[i : i + 1], baselines=refs[i]) for i in range(2)])
    torch.testing.assert_close(result.attributions, theirs.detach(), atol=1e-5, rtol=1e-4)


class _OverlappingPools(DNAModel):
    def __init__(self) -> None:
        super().__init__()
        self.seq_len, self.rc_average, self.n_targets = 100, False, 2
        self.conv = nn.Sequential(
            nn.Conv1d(4, 6, 5),
            nn.ReLU(),
            nn.MaxPool1d(4, 2),
            nn.Conv1d(6, 8, 3),
            nn.ReLU(),
            nn.MaxPool1d(3, 2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 22, 2))
        self.head = nn.Sigmoid()


def test_deeplift_shap_is_complete_with_overlapping_pools() -> None:
    model = randomized(_OverlappingPools())
    x = random_one_hot(2, 100, seed=1)
    result = attribute(model, x, 1, n_shuffles=6)
    with torch.no_grad():
        gap = model.logits(x)[:, 1] - model.logits(dinucleotide_shuffle(x, 6).flatten(0, 1))[:, 1].view(
            2, 6
        ).mean(1)
    assert gap.abs().min() > 0.05
    assert result.convergence.abs().max() < 1e-4


def test_captum_and_the_model_are_as_they_were_after_the_call() -> None:
    from captum.attr._core import deep_lift

    before = dict(deep_lift.SUPPORTED_NON_LINEAR)
    model = small_model("deepsea")
    attribute(model, random_one_hot(1, model.seq_len), 0, n_shuffles=2)
    assert deep_lift.SUPPORTED_NON_LINEAR == before
    assert torch.nn.Threshold not in before  # captum lists no rule for it: the zoo adds one
    assert not any(m._forward_pre_hooks or m._forward_hooks for m in model.modules())


def test_gradient_methods_are_captums() -> None:
    model = small_model("deepsea_relu_rc")  # gradients go through both strands
    x = random_one_hot(3, model.seq_len, seed=3)
    from zoo.interpret.attribution import _TargetLogit

    forward = _TargetLogit(model, 2)
    grad = captum_attr.Saliency(forward).attribute(x, abs=False)
    saliency = attribute(model, x, 2, method="saliency")
    torch.testing.assert_close(saliency.attributions, grad)
    torch.testing.assert_close(saliency.hypothetical, grad)  # zero reference: hyp = gradient
    ixg = attribute(model, x, 2, method="input_x_gradient", batch_size=2)
    torch.testing.assert_close(ixg.attributions, captum_attr.InputXGradient(forward).attribute(x))
    assert ixg.convergence is None


def test_integrated_gradients_from_the_uniform_reference() -> None:
    model = small_model("basset")
    x = random_one_hot(1, model.seq_len, seed=4)
    result = attribute(model, x, 1, method="integrated_gradients", n_steps=64)
    from zoo.interpret.attribution import _TargetLogit

    base = torch.full_like(x, 0.25)
    explainer = captum_attr.IntegratedGradients(_TargetLogit(model, 1))
    theirs, delta = explainer.attribute(x, baselines=base, n_steps=64, return_convergence_delta=True)
    torch.testing.assert_close(result.attributions, theirs, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(result.convergence, delta.float(), atol=1e-5, rtol=0)
    # uniform reference: the hypothetical contributions are mean-centred over the bases
    torch.testing.assert_close(result.hypothetical.sum(1), torch.zeros(1, model.seq_len), atol=1e-5, rtol=0)


def test_attribute_refuses_what_it_cannot_do() -> None:
    rc_model = small_model("deepsea_relu_rc")
    x = random_one_hot(1, rc_model.seq_len)
    with pytest.raises(ValueError, match="rc_average=True runs its layers on both strands"):
        attribute(rc_model, x)
    model = small_model("deepsea")
    with pytest.raises(ValueError, match="method='lime' is not one of"):
        attribute(model, x, method="lime")
    with pytest.raises(ValueError, match="attribute takes one target, got 2"):
        attribute(model, x, [0, 1])
    with pytest.raises(ValueError, match="takes no references"):
        attribute(model, x, method="saliency", references="uniform")
    with pytest.raises(ValueError, match=r"references must be \(4, L\)"):
        attribute(model, x, method="integrated_gradients", references=torch.zeros(4, 10))
    names = [f"t{i}" for i in range(5)]
    named = attribute(randomized(model), x, "t4", target_names=names, method="saliency")
    assert (named.target, named.target_name) == (4, "t4")
