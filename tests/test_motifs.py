"""zoo.motifs and zoo-motifs: JASPAR offline, TOMTOM and FIMO equal to memelite run directly, a
planted JASPAR motif recovered by name from a model trained on it, and a variant destroying it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("memelite")
pytest.importorskip("pyjaspar")
sys.path.insert(0, str(Path(__file__).parent))

from _motif_support import MOTIF_ID, SEQ_LEN, TARGETS, ctcf_matrix, synthetic_data, trained_model  # noqa: E402

import zoo  # noqa: E402
from zoo.motifs import (  # noqa: E402
    MotifError,
    allele_motifs,
    annotate_seqlets,
    jaspar_motifs,
    read_meme_motifs,
    scan,
    write_meme_motifs,
)

WIDTH = 15  # MA0139.2 in JASPAR 2024


@pytest.fixture(scope="module")
def database() -> dict[str, np.ndarray]:
    return jaspar_motifs("JASPAR2024")


def _fasta(path: Path, records: dict[str, str]) -> Path:
    path.write_text("".join(f">{k}\n{v}\n" for k, v in records.items()))
    return path


def _codes_to_text(x: torch.Tensor) -> str:
    return "".join("ACGT"[i] for i in x.argmax(0).tolist())


def test_jaspar_is_offline_counts_normalised_and_non_redundant(database: dict[str, np.ndarray]) -> None:
    import sqlite3

    assert database[MOTIF_ID].shape == (4, WIDTH)
    from pyjaspar import jaspardb

    db = jaspardb(release="JASPAR2024")
    record = db.fetch_motif_by_id("MA0139.2")
    counts = np.array([record.counts[b] for b in "ACGT"])
    np.testing.assert_allclose(database[MOTIF_ID], counts / counts.sum(0))
    # non-redundant: one (the latest) version of each base ID, checked against the SQLite file itself
    conn = sqlite3.connect(db.conn.execute("PRAGMA database_list").fetchone()[2])
    latest = dict(
        conn.execute(
            "SELECT m.BASE_ID, MAX(m.VERSION) FROM MATRIX m JOIN MATRIX_ANNOTATION a ON a.ID = m.ID "
            "WHERE m.COLLECTION = 'CORE' AND a.TAG = 'tax_group' AND a.VAL = 'vertebrates' GROUP BY m.BASE_ID"
        ).fetchall()
    )
    got = {name.split()[0].rsplit(".", 1)[0]: int(name.split()[0].rsplit(".", 1)[1]) for name in database}
    assert got == latest
    with pytest.raises(MotifError, match="JASPAR release 'JASPAR1999' is not shipped"):
        jaspar_motifs("JASPAR1999")


def test_meme_round_trip(tmp_path: Path, database: dict[str, np.ndarray]) -> None:
    some = dict(list(database.items())[:5])
    path = write_meme_motifs(tmp_path / "m.meme", some)
    back = read_meme_motifs(path)
    assert list(back) == list(some)
    for name in some:
        np.testing.assert_allclose(back[name], some[name], atol=1e-6)
    (tmp_path / "bad.meme").write_text("not a motif file\n")
    with pytest.raises(MotifError, match="holds no MOTIF"):
        read_meme_motifs(tmp_path / "bad.meme")


def test_fimo_scan_equals_memelite(database: dict[str, np.ndarray]) -> None:
    from memelite import fimo

    x, _, _ = synthetic_data(20, seed=5)
    hits = scan(database, x, threshold=1e-4)
    direct = [h for h in fimo(database, x.numpy(), threshold=1e-4) if len(h)]
    expected = sorted(
        (int(s), str(m), int(a), int(b), str(st), round(float(p), 12))
        for h in direct
        for s, m, a, b, st, p in h[
            ["sequence_name", "motif_name", "start", "end", "strand", "p-value"]
        ].itertuples(index=False)
    )
    got = sorted(
        (int(s), m, a, b, st, round(p, 12))
        for s, m, a, b, st, p in hits[["sequence", "motif", "start", "end", "strand", "p-value"]].itertuples(
            index=False
        )
    )
    assert got == expected and len(got) > 0


def test_tomtom_annotation_equals_memelite(database: dict[str, np.ndarray]) -> None:
    import pandas as pd
    from memelite import tomtom

    x, _, starts = synthetic_data(10, seed=2)
    rows = [(i, int(s), int(s) + WIDTH) for i, s in enumerate(starts) if s >= 0]
    seqlets = pd.DataFrame(rows, columns=["example_idx", "start", "end"])
    named = annotate_seqlets(x, seqlets, database, n_nearest=2)
    queries = [x[i, :, a:b].numpy().astype(np.float64) for i, a, b in rows]
    p, _, offsets, _, strands, idx = tomtom(queries, list(database.values()), n_nearest=2)
    names = list(database)
    idx = idx.astype(int)
    assert named["motif"].tolist() == [names[i] for i in idx[:, 0]]
    assert named["motif_2"].tolist() == [names[i] for i in idx[:, 1]]
    np.testing.assert_array_equal(named["motif_p-value"].to_numpy(), p[:, 0])
    np.testing.assert_array_equal(named["offset"].to_numpy(), offsets[:, 0])
    assert named["strand"].tolist() == ["+" if s == 0 else "-" for s in strands[:, 0]]
    assert "MA0139.2 CTCF" in named["motif"].tolist()  # planted sites are drawn from it


def test_variant_destroying_a_planted_motif(database: dict[str, np.ndarray]) -> None:
    site = "".join("ACGT"[i] for i in ctcf_matrix().argmax(0))
    rng = np.random.default_rng(4)
    flank = "".join(rng.choice(list("AT"), 60))
    ref = flank[:30] + site + flank[30:]
    # the strongest column of the motif (highest probability of its base) is the one to break
    column = int(ctcf_matrix().max(0).argmax())
    pos = 30 + column
    weakest = "ACGT"[int(ctcf_matrix()[:, column].argmin())]
    alt = ref[:pos] + weakest + ref[pos + 1 :]
    table = allele_motifs(database, [ref], [alt], pos, names=["snv"], threshold=1e-5)
    row = table[(table["motif"] == MOTIF_ID) & (table["start"] == 30)]
    assert len(row) == 1
    row = row.iloc[0]
    assert row["change"] == "destroyed" and row["p_ref"] <= 1e-5
    assert not row["p_alt"] <= 1e-5  # NaN (weaker than the report threshold) or above the threshold
    # the same p-values as scanning each allele whole
    whole = scan(database, [ref, alt], threshold=1e-2)
    ref_hit = whole[(whole["sequence"] == 0) & (whole["motif"] == MOTIF_ID) & (whole["start"] == 30)]
    assert ref_hit["p-value"].min() == pytest.approx(row["p_ref"])


def test_planted_motif_recovered_by_name_from_a_trained_model(database: dict[str, np.ndarray]) -> None:
    """Seqlets of the trained model's ISM on sequences with planted sites are named CTCF."""
    from zoo.interpret import ism
    from zoo.motifs import call_seqlets
    from zoo.motifs.seqlet_table import projected

    model = trained_model()
    x, _, starts = synthetic_data(40, seed=9)
    has = starts >= 0
    delta = ism(model, x[has], [0]).delta[..., 0].numpy()
    attr = projected(x[has].numpy(), None, delta)
    seqlets = call_seqlets(attr)
    named = annotate_seqlets(x[has], seqlets, database)
    planted = starts[has]
    on_site = named[
        [
            (s < planted[i] + WIDTH and e > planted[i])
            for i, s, e in named[["example_idx", "start", "end"]].itertuples(index=False)
        ]
    ]
    assert len(on_site) >= has.sum() // 2
    best = on_site.sort_values("motif_p-value").head(len(on_site) // 2)
    assert (best["motif"].str.contains("CTCF")).mean() >= 0.8


def _weights(tmp_path: Path) -> Path:
    path = tmp_path / "ctcf.safetensors"
    if not path.exists():
        zoo.save_weights(trained_model(), path)
        (tmp_path / "labels.txt").write_text("".join(f"{t}\n" for t in TARGETS))
    return path


def test_interpret_annotate_writes_seqlets_and_named_logos(tmp_path: Path) -> None:
    from zoo.cli.interpret import call

    x, _, starts = synthetic_data(6, seed=11)
    fa = _fasta(tmp_path / "s.fa", {f"r{i}": _codes_to_text(x[i]) for i in range(6)})
    weights = _weights(tmp_path)
    out = tmp_path / "run"
    code = call(
        [
            "--weights",
            str(weights),
            "--labels",
            str(tmp_path / "labels.txt"),
            "--fasta",
            str(fa),
            "--targets",
            "CTCF",
            "--annotate",
            "--plot",
            "2",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    lines = (out / "seqlets.tsv").read_text().splitlines()
    assert lines[0].split("\t") == [
        "record", "target", "start", "end", "strand", "attribution", "motif", "p-value", "seqlet_p-value",
    ]  # fmt: skip
    rows = [line.split("\t") for line in lines[1:]]
    with_site = {f"r{i}": s for i, s in enumerate(starts) if s >= 0}
    named = [
        r
        for r in rows
        if r[0] in with_site and int(r[2]) < with_site[r[0]] + WIDTH and int(r[3]) > with_site[r[0]]
    ]
    assert named and any("CTCF" in r[6] for r in named)
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["0_CTCF.png", "1_CTCF.png"]


def test_annotate_seqlets_of_a_windowed_ism_lie_in_the_window(tmp_path: Path) -> None:
    from zoo.cli.interpret import call

    x, _, _ = synthetic_data(4, seed=12)
    fa = _fasta(tmp_path / "s.fa", {f"r{i}": _codes_to_text(x[i]) for i in range(4)})
    weights = _weights(tmp_path)
    out = tmp_path / "run"
    argv = ["--weights", str(weights), "--labels", str(tmp_path / "labels.txt"), "--fasta", str(fa)]
    argv += ["--targets", "CTCF", "--method", "ism", "--ism-window", "40:160", "--annotate", "--plot", "1"]
    assert call([*argv, "--out", str(out), "--no-progress"]) == 0
    rows = [line.split("\t") for line in (out / "seqlets.tsv").read_text().splitlines()[1:]]
    assert rows and all(40 <= int(r[2]) < int(r[3]) <= 160 for r in rows)
    assert [p.name for p in (out / "plots").iterdir()] == ["0_CTCF.png"]


def test_motifs_scan_fasta_and_vcf_with_effects(tmp_path: Path, database: dict[str, np.ndarray]) -> None:
    import pysam

    from zoo.cli.motifs import call

    site = "".join("ACGT"[i] for i in ctcf_matrix().argmax(0))
    rng = np.random.default_rng(8)
    chrom = "".join(rng.choice(list("ACGT"), 600))
    chrom = chrom[:290] + site + chrom[290 + len(site) :]
    genome = _fasta(tmp_path / "g.fa", {"chr1": chrom})
    pysam.faidx(str(genome))
    column = int(ctcf_matrix().max(0).argmax())
    pos1 = 290 + column + 1  # VCF POS is 1-based
    alt = "ACGT"[int(ctcf_matrix()[:, column].argmin())]
    vcf = tmp_path / "v.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   f"chr1\t{pos1}\tbreak\t{chrom[pos1 - 1]}\t{alt}\t.\tPASS\t.\n")  # fmt: skip
    weights = _weights(tmp_path)
    out = tmp_path / "v.tsv"
    assert call(["scan", "--genome", str(genome), "--vcf", str(vcf), "--weights", str(weights),
                 "--labels", str(tmp_path / "labels.txt"), "--jaspar-release", "JASPAR2024",
                 "--threshold", "1e-5", "--out", str(out)]) == 0  # fmt: skip
    import pandas as pd

    table = pd.read_csv(out, sep="\t")
    row = table[table["motif"] == MOTIF_ID].iloc[0]
    assert row["id"] == "break" and row["change"] == "destroyed" and row["motif_start"] == 290
    model = trained_model()
    from zoo.dna import one_hot

    w = 290 + column - (SEQ_LEN // 2 - 1)
    ref_win = chrom[w : w + SEQ_LEN]
    alt_win = ref_win[: SEQ_LEN // 2 - 1] + alt + ref_win[SEQ_LEN // 2 :]
    with torch.no_grad():
        p = torch.sigmoid(model.logits(one_hot([ref_win, alt_win])))
    assert row["diff:CTCF"] == pytest.approx(float(p[1, 0] - p[0, 0]), abs=1e-5)
    assert row["diff:CTCF"] < 0  # breaking the motif lowers the CTCF output
    hits = tmp_path / "h.tsv"
    fa = _fasta(tmp_path / "q.fa", {"withsite": chrom[250:350], "short": chrom[:40]})
    assert call(["scan", "--fasta", str(fa), "--jaspar-release", "JASPAR2024", "--out", str(hits)]) == 0
    got = pd.read_csv(hits, sep="\t")
    assert ((got["sequence"] == "withsite") & (got["motif"] == MOTIF_ID) & (got["start"] == 40)).any()


def test_missing_library_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_pyjaspar(name, *args, **kwargs):  # noqa: ANN001, ANN202
        if name.startswith("pyjaspar") or name.startswith("ledidi"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyjaspar)
    with pytest.raises(
        ImportError, match=r'^JASPAR motifs need pyjaspar: pip install "sigmoid-zoo\[motifs\]"$'
    ):
        jaspar_motifs()
    from zoo.design import ledidi_design, make_objective

    with pytest.raises(
        ImportError, match=r'^ledidi design needs ledidi: pip install "sigmoid-zoo\[design\]"$'
    ):
        ledidi_design(trained_model(), "A" * SEQ_LEN, make_objective([0]))


def test_seqlets_equal_tangermeme_recursive_seqlets() -> None:
    import pandas as pd

    from zoo.motifs import call_seqlets

    tangermeme_seqlet = pytest.importorskip("tangermeme.seqlet")
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (12, 300)).astype(np.float32)
    for i in range(12):
        s = int(rng.integers(0, 280))
        x[i, s : s + int(rng.integers(5, 20))] += rng.uniform(1, 4)
    ours = call_seqlets(x, threshold=0.01, additional_flanks=2)
    theirs = tangermeme_seqlet.recursive_seqlets(torch.from_numpy(x), threshold=0.01, additional_flanks=2)
    key = ["example_idx", "start", "end"]
    ours, theirs = (t.sort_values(key).reset_index(drop=True) for t in (ours, theirs))
    assert len(ours) > 12
    pd.testing.assert_frame_equal(ours[key], theirs[key].astype(np.int64))
    np.testing.assert_allclose(ours["p-value"], theirs["p-value"], rtol=1e-9)
    np.testing.assert_allclose(ours["attribution"], theirs["attribution"], rtol=1e-6)


def test_modisco_patterns_named(tmp_path: Path, database: dict[str, np.ndarray]) -> None:
    """A pattern holding CTCF's matrix between uniform flanks is trimmed to it and named CTCF."""
    h5py = pytest.importorskip("h5py")
    from zoo.cli.motifs import call
    from zoo.motifs import annotate_patterns, nearest_motifs

    ctcf = ctcf_matrix()
    ppm = np.concatenate([np.full((4, 5), 0.25), ctcf, np.full((4, 5), 0.25)], axis=1)
    cwm = np.concatenate([np.full((4, 5), 0.001), ctcf, np.full((4, 5), 0.001)], axis=1)
    path = tmp_path / "modisco.h5"
    with h5py.File(path, "w") as f:
        for k, (p, c) in enumerate([(ppm, cwm), (ppm[:, ::-1][::-1], cwm[:, ::-1][::-1])]):
            g = f.create_group(f"pos_patterns/pattern_{k}")
            g.create_dataset("sequence", data=p.T)
            g.create_dataset("contrib_scores", data=c.T)
            g.create_dataset("seqlets/n_seqlets", data=np.array([10 + k]))
    table = annotate_patterns(path, database, n_nearest=2)
    assert table["pattern"].tolist() == ["pos_patterns.pattern_0"] * 2 + ["pos_patterns.pattern_1"] * 2
    assert table["n_seqlets"].tolist() == [10, 10, 11, 11]
    idx, p, offsets, strands = nearest_motifs([ctcf, ctcf[::-1, ::-1]], database, 2)
    names = list(database)
    assert table["motif"].tolist() == [names[i] for i in idx.ravel()]
    np.testing.assert_array_equal(table["p-value"].to_numpy(), p.ravel())
    first = table[table["rank"] == 1]
    assert first["motif"].tolist() == [MOTIF_ID, MOTIF_ID] and first["strand"].tolist() == ["+", "-"]
    out = tmp_path / "patterns.tsv"
    assert (
        call(["patterns", "--modisco", str(path), "--jaspar-release", "JASPAR2024", "--out", str(out)]) == 0
    )
    assert out.read_text().splitlines()[0].split("\t") == [
        "pattern", "n_seqlets", "rank", "motif", "p-value", "offset", "strand",
    ]  # fmt: skip


def test_bed_scan_in_genome_coordinates(tmp_path: Path, database: dict[str, np.ndarray]) -> None:
    import pandas as pd
    import pysam

    from zoo.cli.motifs import call

    site = "".join("ACGT"[i] for i in ctcf_matrix().argmax(0))
    rng = np.random.default_rng(12)
    chrom = "".join(rng.choice(list("AT"), 1000))
    chrom = chrom[:480] + site + chrom[480 + WIDTH :]
    genome = _fasta(tmp_path / "g.fa", {"chr1": chrom})
    pysam.faidx(str(genome))
    (tmp_path / "p.bed").write_text("chr1\t450\t550\tpeak1\n")
    out = tmp_path / "b.tsv"
    argv = ["scan", "--genome", str(genome), "--bed", str(tmp_path / "p.bed"), "--window", "200"]
    assert call([*argv, "--jaspar-release", "JASPAR2024", "--out", str(out)]) == 0
    table = pd.read_csv(out, sep="\t")
    row = table[table["motif"] == MOTIF_ID]
    assert row[["chrom", "start", "end", "name", "strand"]].values.tolist() == [
        ["chr1", 480, 495, "peak1", "+"]
    ]
    direct = scan(database, [chrom[400:600]], threshold=1e-4)
    assert sorted(table["p-value"]) == pytest.approx(sorted(direct["p-value"]), rel=1e-5)  # written as %.6g


def test_scan_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.cli.motifs import call

    assert call(["scan", "--out", str(tmp_path / "x.tsv"), "--jaspar-release", "JASPAR2024"]) == 1
    assert capsys.readouterr().err.strip() == (
        "zoo-motifs: error: give one input: --fasta, or --genome with --bed or --vcf"
    )
    assert call(["scan", "--fasta", "x.fa", "--motifs", str(tmp_path / "none.meme"), "--out", "x.tsv"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"zoo-motifs: error: motif file {str(tmp_path / 'none.meme')!r} does not exist"
    )
    assert not (tmp_path / "x.tsv").exists()
