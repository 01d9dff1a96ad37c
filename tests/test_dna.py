"""zoo.one_hot against an independent per-base encoding, and its errors."""

import random

import numpy as np
import pytest
import torch

import zoo
from zoo.dna import base_codes, one_hot_codes, reverse_complement_str


def naive_one_hot(seq: str, n_value: float = 0.25) -> torch.Tensor:
    out = torch.zeros(4, len(seq))
    for i, base in enumerate(seq.upper()):
        if base == "N":
            out[:, i] = n_value
        else:
            out["ACGT".index(base), i] = 1.0
    return out


def random_seq(n: int, rng: random.Random) -> str:
    return "".join(rng.choice("ACGTNacgtn") for _ in range(n))


def test_channel_order_is_acgt():
    x = zoo.one_hot("ACGT")
    assert x.dtype == torch.float32 and x.shape == (4, 4)
    assert torch.equal(x, torch.eye(4))


def test_case_insensitive_and_n():
    assert torch.equal(zoo.one_hot("acgtn"), zoo.one_hot("ACGTN"))
    assert torch.equal(zoo.one_hot("N")[:, 0], torch.full((4,), 0.25))
    assert torch.equal(zoo.one_hot("N", n_value=0.0)[:, 0], torch.zeros(4))


def test_matches_naive_encoding_on_random_sequences():
    rng = random.Random(0)
    seqs = [random_seq(57, rng) for _ in range(9)]
    batch = zoo.one_hot(seqs)
    assert batch.shape == (9, 4, 57)
    for seq, encoded in zip(seqs, batch):
        assert torch.equal(encoded, naive_one_hot(seq))
        assert torch.equal(zoo.one_hot(seq), naive_one_hot(seq))


def test_reverse_complement_matches_string_reverse_complement():
    rng = random.Random(1)
    seqs = [random_seq(31, rng) for _ in range(4)]
    expected = zoo.one_hot([reverse_complement_str(s) for s in seqs])
    assert torch.equal(zoo.reverse_complement(zoo.one_hot(seqs)), expected)


@pytest.mark.parametrize(
    "seq,pattern",
    [
        ("ACGXT", r"invalid DNA symbol 'X' at position 3; expected A, C, G, T or N"),
        ("AC-T", r"'-' at position 2"),
        ("ACGTé", r"'é' at position 4"),
        (["ACGT", "ACRT"], r"'R' at position 2 of sequence 1"),
    ],
)
def test_invalid_symbol_names_symbol_and_position(seq, pattern):
    with pytest.raises(ValueError, match=pattern):
        zoo.one_hot(seq)


def test_unequal_lengths_and_empty_input():
    with pytest.raises(ValueError, match="sequence 0 has 4 bases, sequence 1 has 3"):
        zoo.one_hot(["ACGT", "ACG"])
    with pytest.raises(ValueError, match="empty list"):
        zoo.one_hot([])
    with pytest.raises(TypeError, match="sequence 1 is a int"):
        zoo.one_hot(["ACGT", 5])


@pytest.mark.parametrize(("seq", "pattern"), [(b"ACGT", r"got bytes \(decode it first"), (42, "got int$")])
def test_one_hot_refuses_what_is_not_str_by_type(seq, pattern):
    with pytest.raises(TypeError, match=r"one_hot takes a str or a list of str, " + pattern):
        zoo.one_hot(seq)


def test_one_hot_takes_any_iterable_of_str():
    expected = zoo.one_hot(["ACGT", "ACGN"])
    assert torch.equal(zoo.one_hot(np.array(["ACGT", "ACGN"])), expected)
    assert torch.equal(zoo.one_hot(s for s in ("ACGT", "ACGN")), expected)
    assert torch.equal(zoo.one_hot(("ACGT", "ACGN")), expected)


@pytest.mark.parametrize("n_value", [0.25, 0.0])
def test_base_codes_one_hot_encoded_equal_one_hot(n_value):
    rng = random.Random(2)
    seqs = [random_seq(83, rng) for _ in range(6)]
    codes = base_codes(seqs)
    assert codes.dtype == torch.uint8 and codes.shape == (6, 83)
    assert torch.equal(one_hot_codes(codes, n_value), zoo.one_hot(seqs, n_value=n_value))
    assert torch.equal(one_hot_codes(base_codes(seqs[0]), n_value), zoo.one_hot(seqs[0], n_value=n_value))
    codes[0, 0] = ord("A")  # writable: not a view of a read-only buffer
    assert one_hot_codes(codes)[0, :, 0].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_base_codes_check_as_one_hot_does():
    with pytest.raises(ValueError, match=r"'R' at position 2 of sequence 1"):
        base_codes(["ACGT", "ACRT"])
    with pytest.raises(TypeError, match=r"base_codes takes a str or a list of str, got bytes"):
        base_codes(b"ACGT")
    with pytest.raises(
        TypeError, match="one_hot_codes takes uint8 codes from base_codes, got dtype torch.int64"
    ):
        one_hot_codes(torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize(
    ("seq", "pattern"),
    [
        ({"ACGT": 1}, r"got dict \(its keys would be read as the sequences\)"),
        ({"ACGT", "ACGA"}, r"got set \(which has no order; pass a list\)"),
        (torch.zeros(4, 10), r"got Tensor \(already encoded\? one_hot takes DNA letters\)"),
        (np.zeros((2, 10)), r"got ndarray of float64 \(one_hot takes DNA letters\)"),
    ],
    ids=["dict", "set", "tensor", "float-array"],
)
def test_one_hot_refuses_containers_it_would_misread(seq, pattern):
    with pytest.raises(TypeError, match=r"one_hot takes a str or a list of str, " + pattern):
        zoo.one_hot(seq)
    with pytest.raises(TypeError, match=r"base_codes takes a str or a list of str, "):
        base_codes(seq)


@pytest.mark.parametrize(
    ("n_value", "pattern"),
    [
        (float("nan"), r"n_value=nan is not a finite number"),
        (float("inf"), r"n_value=inf is not a finite number"),
        (None, r"n_value=None is not a number"),
        ("0.25", r"n_value='0.25' is not a number"),
        (True, r"n_value=True is not a number"),
        (torch.tensor(0.25), r"n_value=tensor\(0.2500\) is not a number"),
    ],
)
def test_n_value_must_be_a_finite_number(n_value, pattern):
    with pytest.raises((TypeError, ValueError), match=pattern):
        zoo.one_hot("ACGN", n_value=n_value)
    with pytest.raises((TypeError, ValueError), match=pattern):
        one_hot_codes(base_codes("ACGN"), n_value)


def test_n_value_accepts_ints_and_numpy_floats():
    expected = naive_one_hot("ACGN", 0.0)
    assert torch.equal(zoo.one_hot("ACGN", n_value=0), expected)
    assert torch.equal(zoo.one_hot("ACGN", n_value=np.float32(0.0)), expected)
    assert torch.equal(one_hot_codes(base_codes("ACGN"), np.float64(0.0)), expected)


def test_tensor_functions_refuse_what_is_not_a_tensor():
    with pytest.raises(TypeError, match="one_hot_codes takes uint8 codes from base_codes, got str"):
        one_hot_codes("ACGT")
    with pytest.raises(TypeError, match=r"reverse_complement takes a one-hot tensor \(..., 4, L\), got str"):
        zoo.reverse_complement("ACGT")
