"""Contig names that differ by convention (chr1 / 1, chrM / MT): matched, named in one warning,
and refused when nothing matches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _predict_support import DATA, example_model

from zoo.predict import Scorer, run_job
from zoo.predict.contigs import ContigMatcher, contig_aliases, genome_contigs, match_contigs
from zoo.predict.errors import PredictError
from zoo.predict.results import score_variants
from zoo.predict.variants import variant_job

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
    assert list(out.parent.iterdir()) == []
