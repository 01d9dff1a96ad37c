"""Contig names that differ by convention (chr1 / 1, chrM / MT): matched, named in one warning,
and refused when nothing matches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _predict_support import DATA, WEIGHTS, example_model, read_tsv

from zoo.cli.predict import call as run
from zoo.predict import Scorer, run_job
from zoo.predict.errors import PredictError
from zoo.predict.inputs.contigs import ContigMatcher, contig_aliases, match_contigs
from zoo.predict.inputs.genome import genome_contigs
from zoo.predict.inputs.variants import variant_job
from zoo.predict.running.results import score_intervals, score_variants

UCSC = ["chr1", "chr2", "chrX", "chrY", "chrM"]
ENSEMBL = ["1", "2", "X", "Y", "MT"]


def test_aliases_cover_both_conventions() -> None:
    assert contig_aliases("chr1") == ["1"] and contig_aliases("1") == ["chr1"]
    assert contig_aliases("chrX") == ["X"] and contig_aliases("chr") == ["chrchr"]
    assert contig_aliases("chrM") == ["MT", "chrMT", "M"] and contig_aliases("MT")[0] == "chrM"


def test_ensembl_names_map_onto_a_ucsc_genome_and_back() -> None:
    match = match_contigs(["1", "X", "MT", "1"], UCSC, source="calls.vcf", genome="hg38.fa")
    assert match.mapping == {"1": "chr1", "X": "chrX", "MT": "chrM"} == match.renamed
    assert match.missing == []
    expected = (
        "contig names of 'calls.vcf' differ from genome 'hg38.fa': reading 1 as chr1, X as chrX, MT as chrM"
    )
    assert match.warning == expected
    back = match_contigs(["chr2", "chrM", "chrY"], ENSEMBL, source="a.bed", genome="GRCh38.fa")
    assert back.mapping == {"chr2": "2", "chrM": "MT", "chrY": "Y"}
    assert match_contigs(["chrMT"], ["MT"], source="a", genome="b").mapping == {"chrMT": "MT"}
    assert match_contigs(["chrMT"], ["chrM"], source="a", genome="b").mapping == {"chrMT": "chrM"}


def test_names_the_genome_has_stay_and_unknown_ones_are_listed() -> None:
    match = match_contigs(["chr1", "2", "chrUn_KI270302v1"], ["chr1", "chr2"], source="a", genome="b")
    assert match.mapping == {"chr1": "chr1", "2": "chr2"} and match.renamed == {"2": "chr2"}
    assert match.missing == ["chrUn_KI270302v1"]
    both = match_contigs(["1"], ["1", "chr1"], source="a", genome="b")  # an exact name wins
    assert both.mapping == {"1": "1"} and both.warning is None
    many = match_contigs(
        [str(i) for i in range(1, 9)], [f"chr{i}" for i in range(1, 9)], source="a", genome="b"
    )
    assert many.warning is not None and many.warning.endswith("5 as chr5 and 3 more")


def test_no_contig_in_common_is_an_error_naming_both_files() -> None:
    with pytest.raises(PredictError) as err:
        match_contigs(["scaffold_1", "scaffold_2"], UCSC, source="calls.vcf", genome="hg38.fa")
    message = str(err.value)
    assert "no contig of 'calls.vcf' is in genome 'hg38.fa'" in message
    assert "the input has scaffold_1, scaffold_2; the genome has chr1, chr2, chrM, chrX, chrY" in message
    assert match_contigs([], UCSC, source="a", genome="b").mapping == {}  # no records: nothing to refuse


def _renamed_vcf(folder: Path, rename: dict[str, str]) -> Path:
    text = (DATA / "variants.vcf").read_text()
    for old, new in rename.items():
        text = text.replace(f"{old}\t", f"{new}\t").replace(f"ID={old},", f"ID={new},")
    path = folder / "renamed.vcf"
    path.write_text(text)
    return path


def test_score_variants_reads_chr_less_names_with_a_warning(tmp_path: Path) -> None:
    assert genome_contigs(DATA / "genome.fa") == {"chr1": 2000, "chr2": 1000}
    vcf = _renamed_vcf(tmp_path, {"chr1": "1"})
    with pytest.warns(UserWarning, match="differ from genome .*genome.fa': reading 1 as chr1$"):
        renamed = score_variants(example_model(), DATA / "genome.fa", vcf)
    original = score_variants(example_model(), DATA / "genome.fa", DATA / "variants.vcf")
    assert set(renamed.meta["chrom"]) == {"1", "chr3"}  # the rows keep the VCF's names
    np.testing.assert_array_equal(renamed.scores, original.scores)
    assert list(renamed.meta["status"]) == list(original.meta["status"])


def test_a_vcf_on_no_genome_contig_fails_without_output(tmp_path: Path) -> None:
    vcf = _renamed_vcf(tmp_path, {"chr1": "scaffold_9"})
    vcf.write_text("\n".join(line for line in vcf.read_text().splitlines() if "chr3" not in line) + "\n")
    scorer = Scorer(example_model())
    genome = DATA / "genome.fa"
    contigs = ContigMatcher(genome_contigs(genome), source=vcf, genome=genome)
    out = tmp_path / "out" / "effects.tsv"
    with pytest.raises(PredictError, match=r"no contig of '.*renamed.vcf' is in genome '.*genome.fa'"):
        run_job(variant_job(genome, vcf, scorer.seq_len, contigs=contigs), scorer, out)
    assert not out.parent.exists()  # the folder it made for the output goes too


def _renamed(path: Path, folder: Path, rename: dict[str, str]) -> Path:
    """A copy of ``path`` with its first-column contig names (and FASTA headers) renamed."""
    lines = []
    for line in path.read_text().splitlines():
        head, sep, rest = line.partition("\t") if not line.startswith(">") else (line[1:], "", "")
        head = rename.get(head, head)
        lines.append(f">{head}" if line.startswith(">") else head + sep + rest)
    out = folder / path.name
    out.write_text("\n".join(lines) + "\n")
    return out


def test_score_intervals_reads_chr_less_names_with_a_warning(tmp_path: Path) -> None:
    bed = _renamed(DATA / "peaks.bed", tmp_path, {"chr1": "1", "chr2": "2"})
    with pytest.warns(UserWarning, match="differ from genome .*genome.fa': reading 1 as chr1, 2 as chr2$"):
        renamed = score_intervals(example_model(), DATA / "genome.fa", bed)
    original = score_intervals(example_model(), DATA / "genome.fa", DATA / "peaks.bed")
    assert list(renamed.meta["chrom"]) == ["1", "1", "2", "2"]
    assert list(renamed.meta["status"]) == list(original.meta["status"]) == ["ok"] * 3 + ["off_contig_end"]
    np.testing.assert_array_equal(renamed.scores, original.scores)


# Both directions: the input drops "chr" (Ensembl names on a UCSC genome), or the genome does.
CASES = [("vcf", "input"), ("vcf", "genome"), ("bed", "input"), ("bed", "genome")]


@pytest.mark.parametrize(("kind", "renamed"), CASES)
def test_cli_matches_contigs_with_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, renamed: str
) -> None:
    source = DATA / ("variants.vcf" if kind == "vcf" else "peaks.bed")
    rename = {"chr1": "1", "chr2": "2"}
    genome, given = DATA / "genome.fa", source
    if renamed == "input":
        given = _renamed(source, tmp_path, rename)
    else:
        genome = _renamed(DATA / "genome.fa", tmp_path, rename)
    argv = ["--weights", str(WEIGHTS), "--no-progress", f"--{kind}"]
    assert (
        run([*argv, str(source), "--genome", str(DATA / "genome.fa"), "--out", str(tmp_path / "a.tsv")]) == 0
    )
    capsys.readouterr()
    assert run([*argv, str(given), "--genome", str(genome), "--out", str(tmp_path / "b.tsv")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    pairs = "1 as chr1" if renamed == "input" else "chr1 as 1"
    if kind == "bed":
        pairs += ", 2 as chr2" if renamed == "input" else ", chr2 as 2"
    assert warnings == [
        f"zoo-predict: warning: contig names of {str(given)!r} differ from genome {str(genome)!r}: "
        f"reading {pairs}"
    ]
    (head_a, rows_a), (head_b, rows_b) = read_tsv(tmp_path / "a.tsv"), read_tsv(tmp_path / "b.tsv")
    assert head_a == head_b and len(rows_a) == len(rows_b)
    expected = [[rename.get(r[0], r[0]) if renamed == "input" else r[0], *r[1:]] for r in rows_a]
    assert rows_b == expected  # the same scores and statuses; the rows keep the input's names


@pytest.mark.parametrize(("kind", "out"), [("vcf", "none.tsv"), ("vcf", "none.vcf.gz"), ("bed", "none.tsv")])
def test_cli_input_on_no_genome_contig_is_an_error_without_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, out: str
) -> None:
    source = DATA / ("variants.vcf" if kind == "vcf" else "peaks.bed")
    given = tmp_path / source.name
    given.write_text(source.read_text().replace("chr", "scaffold_"))
    folder = tmp_path / "out"
    argv = ["--weights", str(WEIGHTS), "--no-progress", "--genome", str(DATA / "genome.fa")]
    assert run([*argv, f"--{kind}", str(given), "--out", str(folder / out)]) == 1
    err = capsys.readouterr().err
    assert f"zoo-predict: error: no contig of {str(given)!r} is in genome {str(DATA / 'genome.fa')!r}" in err
    assert "the genome has chr1, chr2" in err
    assert not folder.exists() or list(folder.iterdir()) == []
