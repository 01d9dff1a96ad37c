"""Shipped target lists, splitting names into fields, and picking targets by pattern."""

import re

import pytest

from zoo.targets import (
    TargetInfo,
    available_target_lists,
    load_target_names,
    load_target_table,
    match_targets,
    target_table,
)


@pytest.mark.parametrize(
    "list_name", ["deepsea_919", "beluga_2002", "basset_164", "sei_21907", "sei_seqclass_40"]
)
def test_every_list_ships_with_as_many_names_as_it_says(list_name):
    names = load_target_names(list_name)
    assert len(names) == int(list_name.rsplit("_", 1)[1])
    assert all(name and name == name.rstrip("\r\n") for name in names)
    assert load_target_names(list_name + ".txt") == names
    assert list_name in available_target_lists()


def test_unknown_list_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown target list 'deepsea_91'.*Did you mean 'deepsea_919'"):
        load_target_names("deepsea_91")


def test_known_names_of_each_list():
    assert load_target_names("deepsea_919")[0] == "8988T_DNase_None"
    assert load_target_names("deepsea_919").count("NA_NA_NA") == 1
    assert load_target_names("sei_seqclass_40")[0] == "PC1 Polycomb / Heterochromatin"
    assert load_target_names("sei_21907")[0] == "HeLa_Epithelium_Cervix | BTAF1 | ID:1"


@pytest.mark.parametrize(
    ("name", "cell", "assay", "treatment"),
    [
        ("K562_CTCF_None", "K562", "CTCF", None),
        ("SK-N-SH_RA_CTCF_None", "SK-N-SH_RA", "CTCF", None),
        ("A549_CTCF_EtOH_0.02pct", "A549", "CTCF", "EtOH_0.02pct"),
        ("MCF10A-Er-Src_STAT3_EtOH_0.01pct_4hr", "MCF10A-Er-Src", "STAT3", "EtOH_0.01pct_4hr"),
        ("H1_BMP4_Derived_Mesendoderm_Cultured_Cells_DNase.fdr0.01.hot_None",
         "H1_BMP4_Derived_Mesendoderm_Cultured_Cells", "DNase.fdr0.01.hot", None),
        ("Monocytes-CD14+RO01746\xa0_H2AZ_None", "Monocytes-CD14+RO01746", "H2AZ", None),
    ],
)  # fmt: skip
def test_deepsea_names_split_into_cell_assay_treatment(name, cell, assay, treatment):
    (row,) = target_table([name], "deepsea")
    assert row == TargetInfo(0, name, cell, assay, treatment)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("HeLa_Epithelium_Cervix | BTAF1 | ID:1", ("HeLa_Epithelium_Cervix", "BTAF1", None, "ID:1")),
        ("A549 (EtOH_0.02pct) | USF-1 | ENCODE | 1", ("A549", "USF-1", "EtOH_0.02pct", "ENCODE | 1")),
        ("SK-N-BE(2) | DNase | ID:5", ("SK-N-BE(2)", "DNase", None, "ID:5")),
    ],
)
def test_sei_names_split_on_bars(name, expected):
    (row,) = target_table([name])
    assert (row.cell, row.assay, row.treatment, row.source) == expected


def _sei_triples():
    return {(t.cell, t.assay, t.treatment) for t in load_target_table("sei_21907")}


def test_the_underscore_rule_agrees_with_sei_which_spells_the_fields_out():
    """Sei's list names the same ENCODE and Roadmap profiles with `|` between the fields, so
    it checks the rule that splits the `_`-joined names independently."""
    sei = _sei_triples()
    beluga = load_target_table("beluga_2002")
    assert [t.name for t in beluga if (t.cell, t.assay, t.treatment) not in sei] == []
    assert sum("_" in t.cell for t in beluga) > 1000  # the rule is exercised, not bypassed
    deepsea = load_target_table("deepsea_919")
    hard = [t for t in deepsea if t.treatment or "_" in t.cell]  # treated, or a cell with `_`
    assert len(hard) > 100
    assert [t.name for t in hard if (t.cell, t.assay, t.treatment) not in sei] == ["NA_NA_NA"]


@pytest.mark.parametrize("list_name", ["deepsea_919", "beluga_2002"])
def test_fields_join_back_into_the_name(list_name):
    for t in load_target_table(list_name):
        assert "_".join([t.cell, t.assay, t.treatment or "None"]) == re.sub(r"\s+_", "_", t.name), t


def test_filtering_the_table_from_python():
    table = load_target_table("deepsea_919")
    ctcf = [t for t in table if t.assay == "CTCF"]
    assert len(ctcf) > 10 and all("_CTCF_" in load_target_names("deepsea_919")[t.index] for t in ctcf)
    assert {t.cell for t in ctcf} >= {"K562", "GM12878", "A549"}
    basset = load_target_table("basset_164")
    assert {t.assay for t in basset} == {"DNase"} and basset[0].cell == "8988T"
    assert table.indices == list(range(919))


def test_to_dataframe_has_one_column_per_field():
    pd = pytest.importorskip("pandas")
    frame = load_target_table("sei_21907").to_dataframe()
    assert isinstance(frame, pd.DataFrame) and frame.shape == (21907, 6)
    assert list(frame.columns) == ["index", "name", "cell", "assay", "treatment", "source"]
    assert frame.loc[frame.assay == "CTCF", "name"].str.contains(r"\| CTCF \|").all()


def test_unknown_style_is_refused():
    with pytest.raises(ValueError, match="style='kipoi' is not one of"):
        target_table(["a_b_c"], "kipoi")
    with pytest.raises(ValueError, match=r"target 1 'K562': expected a DeepSEA-style name"):
        target_table(["A_B_None", "K562"], "deepsea")


NAMES = ["K562_CTCF_None", "GM12878_CTCF_None", "K562_DNase_None", "K562_CTCF_None", "HeLa-S3_Pol2_None"]


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        ([2], [2]),
        ([-1], [4]),
        (["1"], [1]),
        (["K562_CTCF_None"], [0, 3]),  # a repeated name selects every copy
        (["*K562*"], [0, 2, 3]),
        (["*_CTCF_*", "K562_DNase_None"], [0, 1, 3, 2]),
        (["re:^K562_(CTCF|DNase)"], [0, 2, 3]),
        (["re:(?i)pol2"], [4]),
        ([4, "HeLa*", "*Pol2*"], [4]),  # no repeats
        ("GM*", [1]),
    ],
)
def test_match_targets(patterns, expected):
    assert match_targets(NAMES, patterns) == expected


def test_a_name_wins_over_its_reading_as_a_glob():
    names = ["UCSF-4*_Embryonic | H3K36me3 | ID:1", "UCSF-42_Embryonic | H3K36me3 | ID:2"]
    assert match_targets(names, ["UCSF-4*_Embryonic | H3K36me3 | ID:1"]) == [0]
    assert match_targets(names, ["UCSF-4*"]) == [0, 1]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("K562_CTFC_None", r"pattern 'K562_CTFC_None' matches none of the 5 .*did you mean 'K562_CTCF_None'"),
        ("*MCF-7*", r"target pattern '\*MCF-7\*' matches none of the 5 targets"),
        ("re:^CTCF", r"target pattern 're:\^CTCF' matches none"),
        ("re:(", r"target pattern 're:\(' is not a valid regular expression"),
        (5, r"target index 5 is out of range: there are 5 targets \(0..4\)"),
        ("-6", r"target index -6 is out of range"),
    ],
)
def test_a_pattern_that_selects_nothing_is_named(pattern, message):
    with pytest.raises(ValueError, match=message):
        match_targets(NAMES, [pattern])


def test_a_pattern_of_another_type_is_refused():
    with pytest.raises(TypeError, match="target pattern True"):
        match_targets(NAMES, [True])
