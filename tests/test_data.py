"""Data modules read what the files hold, split as configured, and name bad files and lines."""

import os
import re

import numpy as np
import pyfaidx
import pytest
import torch

import zoo
from zoo.data import (
    DigitsDataModule,
    DnaBedDataModule,
    DnaFastaDataModule,
    FakeImageDataModule,
    count_targets,
    fasta_seq_len,
    make_synthetic_dna,
    read_labels,
)
from zoo.data.synthetic import MOTIFS, ensure_synthetic_dna
from zoo.dna import reverse_complement_str


def write_pair(tmp_path, seqs: dict[str, str], rows: list[str], header: str = "name\tt0\tt1"):
    fasta, labels = tmp_path / "s.fa", tmp_path / "l.tsv"
    wrapped = {n: "\n".join(s[i : i + 8] for i in range(0, len(s), 8)) for n, s in seqs.items()}
    fasta.write_text("".join(f">{n} description\n{s}\n" for n, s in wrapped.items()))
    labels.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return fasta, labels


def random_seqs(n: int, length: int, seed: int = 0) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    return {f"r{i}": "".join(rng.choice(list("ACGTN"), size=length)) for i in range(n)}


def test_fasta_module_yields_one_hot_of_each_record_and_its_labels(tmp_path):
    seqs = random_seqs(20, 30)
    rows = [f"r{i}\t{i % 2}\t{(i // 2) % 2}" for i in range(20)]
    fasta, labels = write_pair(tmp_path, seqs, rows)
    assert fasta_seq_len(fasta) == 30 and count_targets(labels) == 2
    dm = DnaFastaDataModule(str(fasta), str(labels), val_fraction=0.2, test_fraction=0.1, seed=1)
    dm.setup()
    sizes = {k: len(v) for k, v in dm.datasets.items()}
    assert sizes == {"train": 14, "val": 4, "test": 2}
    seen = set()
    for ds in dm.datasets.values():
        for i, name in enumerate(ds.names):
            x, y = ds[i]
            k = int(name[1:])
            assert torch.equal(x, zoo.one_hot(seqs[name]))
            assert y.tolist() == [k % 2, (k // 2) % 2]
            seen.add(name)
    assert seen == set(seqs)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (14, 4, 30) and y.shape == (14, 2) and y.dtype == torch.float32


def test_split_by_name_pattern_and_seeded_fraction_is_reproducible(tmp_path):
    seqs = {f"chr{c}_{i}": "ACGT" * 5 for c in (1, 2, 8, 9) for i in range(5)}
    fasta, labels = write_pair(tmp_path, seqs, [f"{n}\t1\t0" for n in seqs])
    dm = DnaFastaDataModule(str(fasta), str(labels), test_pattern=r"^chr(8|9)_", val_pattern=r"^chr2_")
    dm.setup()
    assert all(re.match(r"chr(8|9)_", n) for n in dm.datasets["test"].names)
    assert sorted(dm.datasets["val"].names) == [f"chr2_{i}" for i in range(5)]
    assert len(dm.datasets["train"]) == 5
    a = DnaFastaDataModule(str(fasta), str(labels), seed=3)
    b = DnaFastaDataModule(str(fasta), str(labels), seed=3)
    a.setup(), b.setup()
    assert a.datasets["val"].names == b.datasets["val"].names


def test_reverse_complement_augmentation_flips_some_items_only_in_training(tmp_path):
    seqs = random_seqs(10, 16)
    fasta, labels = write_pair(tmp_path, seqs, [f"{n}\t1\t0" for n in seqs])
    dm = DnaFastaDataModule(str(fasta), str(labels), rc_augment=True, val_fraction=0.3, test_fraction=0.0)
    dm.setup()
    train = dm.datasets["train"]
    name = train.names[0]
    outs = {train[0][0].numpy().tobytes() for _ in range(40)}
    expected = {zoo.one_hot(seqs[name]), zoo.one_hot(reverse_complement_str(seqs[name]))}
    assert outs == {t.numpy().tobytes() for t in expected}
    val = dm.datasets["val"]
    assert all(torch.equal(val[0][0], zoo.one_hot(seqs[val.names[0]])) for _ in range(10))


@pytest.mark.parametrize(
    ("seqs", "rows", "header", "pattern"),
    [
        ({"a": "ACGTACGTAC"}, ["a\t1\t2"], None, r"l\.tsv, line 2: label '2' for target 't1' is not 0 or 1"),
        (
            {"a": "ACGTACGTAC"},
            ["a\t1\t0", "zz\t0\t1"],
            None,
            r"l\.tsv, line 3: record 'zz' is not in the FASTA",
        ),
        (
            {"a": "ACGTACGTAC", "b": "ACGTACGT"},
            ["a\t1\t0", "b\t0\t1"],
            None,
            r"s\.fa, line 4: record 'b' has 8 bases",
        ),
        ({"a": "ACGTACGTAC"}, ["a\t1"], None, r"l\.tsv, line 2: expected 3 tab-separated fields, got 2"),
        ({"a": "ACGTACGTAC"}, [], None, r"l\.tsv: the labels file has a header but no rows"),
        ({"a": "ACGTACGTAC"}, ["a\t1"], "id\tt0", r"l\.tsv, line 1: expected a header 'name"),
    ],
)
def test_bad_data_names_file_and_line(tmp_path, seqs, rows, header, pattern):
    fasta, labels = write_pair(tmp_path, seqs, rows, **({"header": header} if header else {}))
    with pytest.raises(ValueError, match=pattern):
        DnaFastaDataModule(str(fasta), str(labels)).setup()


def test_bad_symbol_in_a_training_record_names_the_file_record_and_line(tmp_path):
    fasta, labels = write_pair(tmp_path, {"a": "ACGTACGTAC", "b": "ACGTRCGTAC"}, ["a\t1\t0", "b\t0\t1"])
    dm = DnaFastaDataModule(str(fasta), str(labels), val_fraction=0.0, test_fraction=0.0)
    dm.setup()
    ds = dm.datasets["train"]
    with pytest.raises(ValueError, match=r"s\.fa, line 4: record 'b': invalid DNA symbol 'R' at position 4"):
        ds[ds.names.index("b")]


def test_bed_windows_read_iupac_ambiguity_codes_as_n(tmp_path):
    (tmp_path / "g.fa").write_text(">chr1\nACGTRYKMACGTbdhv\n")
    (tmp_path / "t.bed").write_text("chr1\t0\t16\t1\n")
    dm = DnaBedDataModule(
        str(tmp_path / "g.fa"), str(tmp_path / "t.bed"), seq_len=16, val_chroms=[], test_chroms=[]
    )
    dm.setup()
    x, _ = dm.datasets["train"][0]
    assert torch.equal(x, zoo.one_hot("ACGTNNNNACGTNNNN"))


def test_a_batch_is_encoded_at_once_and_a_bad_record_in_it_is_named(tmp_path):
    seqs = {"a": "ACGTACGTAC", "b": "ACGTNCGTAC", "c": "TTGTACGTAC", "d": "ACGTXCGTAC"}
    fasta, labels = write_pair(tmp_path, seqs, [f"{n}\t{i % 2}\t1" for i, n in enumerate(seqs)])
    dm = DnaFastaDataModule(str(fasta), str(labels), val_fraction=0.0, test_fraction=0.0)
    dm.setup()
    ds = dm.datasets["train"]
    good = [ds.names.index(n) for n in "abc"]
    for (x, y), i in zip(ds.__getitems__(good), good):
        assert torch.equal(x, zoo.one_hot(seqs[ds.names[i]])) and torch.equal(y, ds[i][1])
    with pytest.raises(ValueError, match=r"record 'd': invalid DNA symbol 'X' at position 4"):
        ds.__getitems__([*good, ds.names.index("d")])


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"batch_size": 0}, r"data\.batch_size must be a positive integer, got 0"),
        ({"num_workers": -1}, r"data\.num_workers must be an integer >= 0, got -1"),
        ({"val_fraction": 1.5}, r"data\.val_fraction must be a number in \[0, 1\), got 1\.5"),
        ({"val_fraction": 0.6, "test_fraction": 0.4}, r"leaves nothing to train on"),
    ],
)
def test_loader_options_are_checked_when_the_module_is_built(tmp_path, kwargs, pattern):
    fasta, labels = write_pair(tmp_path, {"a": "ACGTACGTAC"}, ["a\t1\t0"])
    with pytest.raises(ValueError, match=pattern):
        DnaFastaDataModule(str(fasta), str(labels), **kwargs)
    if set(kwargs) <= {"batch_size", "val_fraction"}:  # the image modules' options
        with pytest.raises(ValueError, match=pattern):
            DigitsDataModule(**kwargs)


def test_empty_files_are_refused_by_name(tmp_path):
    fasta, labels = write_pair(tmp_path, {"a": "ACGTACGTAC"}, ["a\t1\t0"])
    fasta.write_text("")
    with pytest.raises(ValueError, match=r"s\.fa: the FASTA file is empty"):
        DnaFastaDataModule(str(fasta), str(labels)).setup()
    labels.write_text("")
    with pytest.raises(ValueError, match=r"l\.tsv: the labels file is empty"):
        count_targets(labels)


def test_bed_windows_are_centred_padded_with_n_and_split_by_chromosome(tmp_path):
    rng = np.random.default_rng(0)
    genome = {c: "".join(rng.choice(list("ACGT"), size=100)) for c in ("chr1", "chr7", "chr8", "chr9")}
    (tmp_path / "g.fa").write_text("".join(f">{c}\n{s}\n" for c, s in genome.items()))
    table = tmp_path / "t.bed"
    table.write_text(
        "chrom\tstart\tend\tA\tB\nchr1\t40\t60\t1\t0\nchr1\t0\t4\t0\t1\nchr7\t10\t20\t1\t1\nchr8\t50\t52\t0\t0\n"
    )
    dm = DnaBedDataModule(str(tmp_path / "g.fa"), str(table), seq_len=10)
    dm.setup()
    assert dm.target_names == ["A", "B"]
    assert [len(dm.datasets[k]) for k in ("train", "val", "test")] == [2, 1, 1]
    x, y = dm.datasets["train"][0]
    assert torch.equal(x, zoo.one_hot(genome["chr1"][45:55])) and y.tolist() == [1, 0]
    x, _ = dm.datasets["train"][1]  # centre 2: window [-3, 7) runs off the start
    assert torch.equal(x, zoo.one_hot("NNN" + genome["chr1"][:7]))
    table.write_text("chrX\t1\t5\t1\n")
    with pytest.raises(ValueError, match=r"t\.bed, line 1: chromosome 'chrX' is not in the genome"):
        DnaBedDataModule(str(tmp_path / "g.fa"), str(table), seq_len=10).setup()


def test_synthetic_data_plants_each_positive_motif_and_regenerates_on_new_parameters(tmp_path):
    fasta, labels = make_synthetic_dna(tmp_path / "s.fa", tmp_path / "l.tsv", n_seqs=50, seq_len=200,
                                       n_targets=4, mutation_rate=0.0, seed=5)  # fmt: skip
    dm = DnaFastaDataModule(str(fasta), str(labels), val_fraction=0, test_fraction=0)
    dm.setup()
    ds = dm.datasets["train"]
    motifs = list(MOTIFS.values())[:4]
    assert dm.target_names == list(MOTIFS)[:4]
    fa = pyfaidx.Fasta(str(fasta))
    for i, name in enumerate(ds.names):
        seq = str(fa[name][:])
        for t, motif in enumerate(motifs):
            if ds.labels[i, t]:
                assert motif in seq or reverse_complement_str(motif) in seq
    assert 0.15 < ds.labels.mean() < 0.45
    first = fasta.read_bytes()
    ensure_synthetic_dna(str(fasta), str(labels), n_seqs=50, seq_len=200, n_targets=4, seed=5)
    again = fasta.read_bytes()
    ensure_synthetic_dna(str(fasta), str(labels), n_seqs=50, seq_len=200, n_targets=4, seed=5)
    assert fasta.read_bytes() == again  # same parameters: kept
    assert again != first  # mutation_rate differs from the first call's: regenerated


def test_image_modules_scale_pixels_to_the_heads_range():
    unit = DigitsDataModule(scale="unit")
    sym = DigitsDataModule(scale="symmetric")
    unit.setup(), sym.setup()
    x, _ = next(iter(unit.train_dataloader()))
    assert x.shape == (64, 1, 8, 8) and x.min() >= 0 and x.max() <= 1 and x.max() == 1
    xs = torch.stack([sym.datasets["train"][i][0] for i in range(64)])
    xu = torch.stack([unit.datasets["train"][i][0] for i in range(64)])
    assert torch.allclose(xs, xu * 2 - 1)
    assert len(unit.datasets["val"]) == round(0.2 * 1797)
    fake = FakeImageDataModule(n_images=8, image_size=16, n_channels=3, scale="symmetric", val_fraction=0.25)
    fake.setup()
    img, _ = fake.datasets["train"][0]
    assert img.shape == (3, 16, 16) and img.min() >= -1 and img.max() <= 1
    with pytest.raises(ValueError, match="scale='wide'"):
        DigitsDataModule(scale="wide")


@pytest.mark.parametrize("start", ["\uff13\uff10", "\u00b3", "3_0", "+30"])
def test_bed_table_coordinates_are_digits_0_to_9_only(tmp_path, start):
    (tmp_path / "g.fa").write_text(">chr1\n" + "ACGT" * 25 + "\n")
    table = tmp_path / "t.bed"
    for first in ("chr1\t10\t20\t1\n", ""):  # a first line is not taken for a header either
        table.write_text(f"{first}chr1\t{start}\t40\t0\n", encoding="utf-8")
        line = 2 if first else 1
        with pytest.raises(
            ValueError, match=rf"t\.bed, line {line}: start/end '{re.escape(start)}', '40' are not"
        ):
            DnaBedDataModule(str(tmp_path / "g.fa"), str(table), seq_len=10).setup()


def test_a_genome_index_that_no_longer_fits_its_fasta_is_rebuilt(tmp_path):
    genome = tmp_path / "g.fa"
    genome.write_text(">chr1\n" + "ACGT" * 25 + "\n")
    pyfaidx.Fasta(str(genome)).close()  # index the first version
    genome.write_text(">chr0\n" + "T" * 30 + "\n>chr1\n" + "GATTACA" * 15 + "\n")
    os.utime(genome.with_suffix(".fa.fai"), (genome.stat().st_mtime + 100,) * 2)  # the index looks newer
    (tmp_path / "t.bed").write_text("chr1\t0\t10\t1\n")
    dm = DnaBedDataModule(str(genome), str(tmp_path / "t.bed"), seq_len=10, val_chroms=[], test_chroms=[])
    dm.setup()
    x, _ = dm.datasets["train"][0]
    assert torch.equal(x, zoo.one_hot("GATTACAGAT"))


def test_a_genome_grown_by_a_contig_or_repeating_one_is_never_read_from_the_old_index(tmp_path):
    genome = tmp_path / "g.fa"
    genome.write_text(">chr1\n" + "ACGT" * 25 + "\n")
    pyfaidx.Fasta(str(genome)).close()  # index the first version
    with open(genome, "a") as f:
        f.write(">chr2\n" + "GATTACA" * 15 + "\n")
    os.utime(genome.with_suffix(".fa.fai"), (genome.stat().st_mtime + 100,) * 2)  # the index looks newer
    (tmp_path / "t.bed").write_text("chr2\t0\t10\t1\n")
    dm = DnaBedDataModule(str(genome), str(tmp_path / "t.bed"), seq_len=10, val_chroms=[], test_chroms=[])
    dm.setup()
    x, _ = dm.datasets["train"][0]
    assert torch.equal(x, zoo.one_hot("GATTACAGAT"))

    with open(genome, "a") as f:  # a second chr1: the index keeps the first only
        f.write(">chr1\n" + "T" * 30 + "\n")
    with open(genome.with_suffix(".fa.fai"), "a"):
        os.utime(genome.with_suffix(".fa.fai"), (genome.stat().st_mtime + 200,) * 2)
    dm = DnaBedDataModule(str(genome), str(tmp_path / "t.bed"), seq_len=10, val_chroms=[], test_chroms=[])
    with pytest.raises(ValueError, match=r"g\.fa.*'chr1'.*repeated"):
        dm.setup()


def test_a_bed_coordinate_of_absurd_length_names_the_limit(tmp_path):
    (tmp_path / "g.fa").write_text(">chr1\n" + "ACGT" * 25 + "\n")
    table = tmp_path / "t.bed"
    table.write_text(f"chr1\t{'9' * 5000}\t40\t1\n")
    with pytest.raises(ValueError, match=r"t\.bed, line 1: .*at most 18 digits") as err:
        DnaBedDataModule(str(tmp_path / "g.fa"), str(table), seq_len=10).setup()
    assert len(str(err.value)) < 300


def test_text_that_is_not_utf8_names_file_and_line(tmp_path):
    fasta, labels = write_pair(tmp_path, {"a": "ACGTACGTAC", "b": "ACGTACGTAC"}, ["a\t1\t0", "b\t0\t1"])
    labels.write_bytes(b"name\tt0\tt1\na\t1\t0\nb\xe9\t0\t1\n")
    with pytest.raises(ValueError, match=r"l\.tsv, line 3: not UTF-8 text"):
        DnaFastaDataModule(str(fasta), str(labels)).setup()
    (tmp_path / "t.bed").write_bytes(b"chr1\t0\t10\t1\nchr\xe91\t0\t10\t0\n")
    with pytest.raises(ValueError, match=r"t\.bed, line 2: not UTF-8 text"):
        DnaBedDataModule(str(fasta), str(tmp_path / "t.bed"), seq_len=10).setup()


def test_a_fasta_with_cr_only_line_ends_is_named(tmp_path):
    fasta, labels = write_pair(tmp_path, {"a": "ACGTACGTAC", "b": "ACGTACGTAC"}, ["a\t1\t0", "b\t0\t1"])
    fasta.write_bytes(fasta.read_bytes().replace(b"\n", b"\r"))
    with pytest.raises(ValueError, match=r"s\.fa: its lines end in CR only \(classic Mac\)"):
        DnaFastaDataModule(str(fasta), str(labels)).setup()


def test_label_tables_are_read_whole_by_pyarrow_into_uint8(tmp_path, monkeypatch):
    from zoo.data import labels as label_module

    rng = np.random.default_rng(0)
    values = (rng.random((300, 40)) < 0.3).astype(np.uint8)
    names = [f"r{i}" for i in range(300)]
    path = tmp_path / "l.tsv"
    rows = "".join(n + "\t" + "\t".join(map(str, row)) + "\n" for n, row in zip(names, values))
    path.write_text("name\t" + "\t".join(f"t{j}" for j in range(40)) + "\n" + rows)
    line_read = label_module._read_labels_by_line(path, [f"t{j}" for j in range(40)])
    monkeypatch.setattr(label_module, "_read_labels_by_line", None)  # a clean table never needs it
    got_names, targets, labels, lines = read_labels(path)
    assert got_names == names == line_read[0] and targets == [f"t{j}" for j in range(40)]
    assert (
        labels.dtype == np.uint8 and np.array_equal(labels, values) and np.array_equal(line_read[2], values)
    )
    assert list(lines) == list(range(2, 302)) == line_read[3]
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))  # old Mac line ends: no \n to count
    again = read_labels(path)
    assert again[0] == names and np.array_equal(again[2], values) and list(again[3]) == list(range(2, 302))


def test_tables_with_blank_lines_are_read_line_by_line_as_before(tmp_path):
    path = tmp_path / "l.tsv"
    path.write_bytes(b'name\tt0\tt1\r\n"a b"\t1\t0\r\n\r\n  \r\nc\t0\t1\r\n')
    names, _, labels, lines = read_labels(path)
    assert names == ['"a b"', "c"] and labels.tolist() == [[1, 0], [0, 1]] and list(lines) == [2, 5]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("l.tsv", "name\tt0\tt1\na\t1\t0\nb\t01\t1\n", r"line 3: label '01' for target 't0' is not 0 or 1"),
        (
            "l.tsv",
            "name\tt0\tt1\na\t1\t0\nb\t1\ttrue\n",
            r"line 3: label 'true' for target 't1' is not 0 or 1",
        ),
        ("l.tsv", "name\tt0\tt1\na\t1\t0\nb\t1\t0\na\t0\t0\n", r"line 4: record 'a' repeats line 2"),
        ("l.tsv", "name\tt0\tt1\na\t1\t0\t\n", r"line 2: expected 3 tab-separated fields, got 4"),
        (
            "t.bed",
            "chr1\t1\t3\t0\t0\nchr1\t 5\t9\t1\t0\n",
            r"line 2: start/end ' 5', '9' are not integers \(digits 0-9\) with start < end",
        ),
        (
            "t.bed",
            "chr1\t1\t3\t0\t0\nchr1\t9\t9\t1\t0\n",
            r"line 2: start/end '9', '9' are not integers \(digits 0-9\) with start < end",
        ),
        ("t.bed", "chr1\t1\t3\t0\t0\nchr1\t5\t9\t1\t2\n", r"line 2: label '2' is not 0 or 1"),
    ],
)
def test_rows_the_table_parser_refuses_keep_their_line_reader_messages(tmp_path, name, text, message):
    from zoo.data.bed import read_bed

    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(name) + ", " + message):
        (read_bed if name.endswith(".bed") else read_labels)(path)


def test_bed_tables_read_by_pyarrow_or_line_by_line_agree(tmp_path):
    from zoo.data.bed import read_bed

    table = tmp_path / "t.bed"
    rows = [("chr1", 10 * i, 10 * i + 5, i % 2, (i // 2) % 2) for i in range(50)]
    body = "".join("\t".join(map(str, r)) + "\n" for r in rows)
    table.write_text("chrom\tstart\tend\tA\tB\n" + body)
    chroms, spans, labels, targets, lines = read_bed(table)
    assert targets == ["A", "B"] and chroms == [r[0] for r in rows] and list(lines) == list(range(2, 52))
    assert spans.tolist() == [[r[1], r[2]] for r in rows] and labels.tolist() == [[r[3], r[4]] for r in rows]
    table.write_text("#chr1\t1\t2\t0\t0\n" + body + "track name=peaks\n\n")  # lines to skip
    again = read_bed(table)
    assert again[0] == chroms and np.array_equal(again[1], spans) and np.array_equal(again[2], labels)
    assert again[3] == ["target_0", "target_1"] and list(again[4]) == list(range(2, 52))


@pytest.mark.parametrize(
    "body",
    [
        b"chr1\t+300\t400\t0\n",
        b"chr1\t3_00\t400\t0\n",
        "chr1\t\uff13\uff10\uff10\t400\t0\n".encode(),
        b"chr1\t300 \t400\t0\n",
        b"chr\xe91\t300\t400\t0\n",
        b"\xef\xbb\xbfchr1\t300\t400\t0\n",  # a BOM: both drop it
    ],
)
def test_the_table_parser_leaves_what_the_line_reader_refuses_or_reads_otherwise_to_it(tmp_path, body):
    from zoo.data.bed import _read_bed_by_line, read_bed
    from zoo.data.labels import read_label_columns

    table = tmp_path / "t.bed"
    table.write_bytes(body + b"chr1\t10\t20\t1\n")  # first: a BOM only counts at the start
    assert read_label_columns(table, 1, 2, 1) is None
    try:
        expected = _read_bed_by_line(table, 1, ["target_0"])
    except ValueError as err:
        with pytest.raises(ValueError, match=re.escape(str(err))):
            read_bed(table)
    else:
        got = read_bed(table)
        assert got[0] == expected[0] == ["chr1", "chr1"] and np.array_equal(got[1], expected[1])


@pytest.mark.parametrize("n_value", [float("nan"), float("inf"), "0.25"])
def test_dna_modules_refuse_an_n_value_that_is_not_a_finite_number(tmp_path, n_value):
    with pytest.raises((TypeError, ValueError), match=r"data\.n_value=.* is not a (finite )?number"):
        DnaFastaDataModule("s.fa", "l.tsv", n_value=n_value)
    with pytest.raises((TypeError, ValueError), match=r"data\.n_value=.* is not a (finite )?number"):
        DnaBedDataModule("g.fa", "t.bed", seq_len=10, n_value=n_value)


def test_loaders_restart_workers_each_epoch_only_where_items_are_random(tmp_path):
    seqs = random_seqs(20, 30)
    fasta, labels = write_pair(tmp_path, seqs, [f"r{i}\t{i % 2}\t0" for i in range(20)])
    for rc_augment in (False, True):
        dm = DnaFastaDataModule(
            str(fasta), str(labels), num_workers=2, rc_augment=rc_augment, val_fraction=0.2
        )
        dm.setup("fit")
        # rc_augment draws flips in the workers: fresh workers each epoch, seeded from the main
        # process's generator (which checkpoints keep), so a resumed run draws the same flips
        assert dm.train_dataloader().persistent_workers is not rc_augment
        assert dm.val_dataloader().persistent_workers
