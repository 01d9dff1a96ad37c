"""``zoo-motifs``: known motifs (JASPAR offline, MEME files) in sequences, BED windows and variants,
and the names of TF-MoDISco patterns.

``zoo-motifs scan`` writes one table of FIMO hits (FASTA records, or BED windows in genome
coordinates); with ``--vcf``, the motifs each ALT allele creates or destroys (the p-value on each
allele) and, with a model, the change of the chosen targets beside them.
``zoo-motifs patterns`` names the patterns of a ``modisco motifs`` result file by TOMTOM.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from zoo._io.writing import atomic_path
from zoo.cli._command import Command, at_most, parse_key_values
from zoo.dna import one_hot
from zoo.motifs import MotifError, allele_motifs, annotate_patterns, load_motifs, scan
from zoo.predict.errors import PredictError

PROG = "zoo-motifs"
MAX_WINDOW = 1_000_000
MAX_RECORDS = 10_000_000
EPILOG = """examples:
  zoo-motifs scan --fasta seqs.fa --out hits.tsv
  zoo-motifs scan --genome hg38.fa --bed peaks.bed --window 500 --motifs my.meme --out hits.tsv
  zoo-motifs scan --genome hg38.fa --vcf calls.vcf --weights model.safetensors --targets '*CTCF*' --out v.tsv
  zoo-motifs patterns --modisco modisco.h5 --out patterns.tsv
"""


def _motif_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--motifs", default="jaspar", help="'jaspar' (offline, default) or a MEME file")
    p.add_argument("--jaspar-release", help="JASPAR release, e.g. JASPAR2024 (default: the newest shipped)")
    p.add_argument(
        "--taxon", default="vertebrates", help="JASPAR taxonomic group; '' for all (default vertebrates)"
    )
    p.add_argument("--all-versions", action="store_true", help="every version of each JASPAR matrix")
    p.add_argument("--out", required=True, help="the table (TSV), written whole or not at all")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    sub = p.add_subparsers(dest="action", required=True)
    s = sub.add_parser("scan", help="FIMO hits in FASTA records, BED windows or variants' alleles")
    s.add_argument("--fasta", help="FASTA records, scanned whole")
    s.add_argument("--genome", help="genome FASTA for --bed or --vcf")
    s.add_argument("--bed", help="BED intervals: the --window bp centred on each")
    s.add_argument("--vcf", help="VCF: motifs over each variant on its REF and ALT")
    s.add_argument("--window", type=at_most(MAX_WINDOW), help="BED window in bp (default 1000)")
    s.add_argument("--threshold", type=float, default=1e-4, help="FIMO p-value threshold (default 1e-4)")
    s.add_argument("--model", help="model for --vcf effects (as zoo-predict)")
    s.add_argument("--weights", help="weights file for --vcf effects")
    s.add_argument("--pretrained", action="store_true", help="download --model's published weights")
    s.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE")
    s.add_argument("--labels", help="target names, one per line")
    s.add_argument("--targets", help="targets whose change is reported beside the motifs (default: all)")
    _motif_options(s)
    m = sub.add_parser("patterns", help="name TF-MoDISco patterns by their nearest motifs (TOMTOM)")
    m.add_argument("--modisco", required=True, help="a `modisco motifs` result file (.h5)")
    m.add_argument("--n-nearest", type=at_most(100), default=3, help="matches per pattern (default 3)")
    _motif_options(m)
    return p


def _motifs(ns: argparse.Namespace) -> dict[str, np.ndarray]:
    return load_motifs(
        ns.motifs, release=ns.jaspar_release, taxon=ns.taxon or None, non_redundant=not ns.all_versions
    )


def _write(path: str, table) -> None:  # noqa: ANN001 (a DataFrame)
    with atomic_path(Path(path), suffix=".tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")


def _read_fasta(path: str) -> tuple[list[str], list[str]]:
    from zoo.predict.inputs.fastx import read_records

    names, seqs = [], []
    for name, seq, _, _ in read_records(path):
        names.append(name)
        seqs.append(seq)
        if len(names) > MAX_RECORDS:
            raise PredictError(f"--fasta holds more than {MAX_RECORDS:,} records")
    if not seqs:
        raise PredictError(f"--fasta {path!r} holds no record")
    return names, seqs


def _scan_padded(motifs: dict[str, np.ndarray], names: list[str], seqs: list[str], threshold: float):  # noqa: ANN202
    """Hits in sequences of any lengths: padded with N (scored as nothing) to the longest, hits
    reaching into the padding dropped."""
    import pandas as pd

    longest = max(len(s) for s in seqs)
    x = one_hot([s.upper() + "N" * (longest - len(s)) for s in seqs], n_value=0.0)
    hits = scan(motifs, x, threshold=threshold)
    lengths = pd.Series([len(s) for s in seqs])
    hits = hits[hits["end"].to_numpy() <= lengths[hits["sequence"].astype(int)].to_numpy()]
    return hits.assign(sequence=[names[int(i)] for i in hits["sequence"]]).reset_index(drop=True)


def _scan_bed(ns: argparse.Namespace, motifs: dict[str, np.ndarray]):  # noqa: ANN202
    from zoo.predict.inputs.bed import bed_job

    window = ns.window or 1000
    job = bed_job(ns.genome, ns.bed, window)
    names, seqs = [], []
    for item in job.items:
        if item.status != "ok":
            continue
        chrom, start, end, name = item.meta
        names.append(f"{chrom}\t{(start + end) // 2 - window // 2}\t{name}")
        seqs.append(item.windows[0])
    if not seqs:
        raise PredictError(job.empty_message + " that can be scanned")
    hits = _scan_padded(motifs, list(range(len(seqs))), seqs, ns.threshold)
    parts = [names[int(i)].split("\t") for i in hits["sequence"]]
    offset = np.array([int(p[1]) for p in parts], dtype=np.int64)
    return hits.drop(columns="sequence").assign(
        chrom=[p[0] for p in parts], name=[p[2] for p in parts],
        start=hits["start"].to_numpy() + offset, end=hits["end"].to_numpy() + offset,
    )[["chrom", "start", "end", "name", "motif", "strand", "score", "p-value"]]  # fmt: skip


def _scan_vcf(ns: argparse.Namespace, motifs: dict[str, np.ndarray]):  # noqa: ANN202
    import pandas as pd

    from zoo.predict.inputs.variants import variant_job, variant_position

    model = None
    if ns.weights or ns.model:
        from zoo.predict.running.loading import load_predict_model

        model, _ = load_predict_model(
            ns.model, ns.weights, parse_key_values(ns.model_arg, "--model-arg"), pretrained=ns.pretrained
        )
    width = max(m.shape[1] for m in motifs.values())
    seq_len = model.seq_len if model is not None else 2 * width + 2
    job = variant_job(ns.genome, ns.vcf, seq_len)
    labels, refs, alts = [], [], []
    for item in job.items:
        if item.status != "ok":
            continue
        chrom, pos, vid, ref, alt = item.meta[:5]
        labels.append((chrom, pos, vid, ref, alt))
        refs.append(item.windows[0])
        alts.append(item.windows[1])
    if not refs:
        raise PredictError(job.empty_message + " that can be scanned")
    center = variant_position(seq_len)
    table = allele_motifs(motifs, one_hot(refs, 0.0), one_hot(alts, 0.0), center, threshold=ns.threshold)
    rows = [labels[int(v)] for v in table["variant"]]
    out = pd.DataFrame(rows, columns=["chrom", "pos", "id", "ref", "alt"])
    window_start = np.array([r[1] - 1 - center for r in rows], dtype=np.int64)
    out["motif"] = table["motif"].to_numpy()
    out["motif_start"] = table["start"].to_numpy() + window_start
    out["motif_end"] = table["end"].to_numpy() + window_start
    for column in ("strand", "p_ref", "p_alt", "change"):
        out[column] = table[column].to_numpy()
    if model is not None:
        out = _with_effects(ns, model, out, table["variant"].to_numpy(), refs, alts)
    return out


def _with_effects(ns, model, out, variants, refs, alts):  # noqa: ANN001, ANN202
    """``out`` with the change of probability (ALT - REF) of each chosen target per variant."""
    from zoo.inference import prepare_logits
    from zoo.predict.inputs.target_names import read_target_names
    from zoo.predict.outputs.columns import pick_targets
    from zoo.predict.running.loading import n_targets_of

    n = n_targets_of(model)
    labels = read_target_names(ns.labels, n) if ns.labels else getattr(model, "target_names", None)
    wanted = [t.strip() for t in ns.targets.split(",") if t.strip()] if ns.targets else None
    picked, names = pick_targets(labels, n, wanted)
    logits_fn = prepare_logits(model, "fp32", "cpu")
    used = sorted(set(int(v) for v in variants))
    with torch.no_grad():
        ref = torch.sigmoid(logits_fn(one_hot([refs[v] for v in used]))[:, picked])
        alt = torch.sigmoid(logits_fn(one_hot([alts[v] for v in used]))[:, picked])
    diff = (alt - ref).numpy()
    row = {v: k for k, v in enumerate(used)}
    for j, name in enumerate(names):
        out[f"diff:{name}"] = [float(diff[row[int(v)], j]) for v in variants]
    return out


def run(ns: argparse.Namespace) -> int:
    """Run the sub-command; returns the exit status."""
    motifs = _motifs(ns)
    if ns.action == "patterns":
        table = annotate_patterns(ns.modisco, motifs, ns.n_nearest)
        _write(ns.out, table)
        print(f"{PROG}: named {table['pattern'].nunique()} patterns; wrote {ns.out}", file=sys.stderr)
        return 0
    if not 0 < ns.threshold <= 1:
        raise PredictError(f"--threshold must be in (0, 1], got {ns.threshold}")
    inputs = [bool(ns.fasta), bool(ns.bed), bool(ns.vcf)]
    if sum(inputs) != 1 or ((ns.bed or ns.vcf) and not ns.genome) or (ns.fasta and ns.genome):
        raise PredictError("give one input: --fasta, or --genome with --bed or --vcf")
    if ns.fasta:
        names, seqs = _read_fasta(ns.fasta)
        table = _scan_padded(motifs, names, seqs, ns.threshold)
    elif ns.bed:
        table = _scan_bed(ns, motifs)
    else:
        table = _scan_vcf(ns, motifs)
    _write(ns.out, table)
    print(f"{PROG}: {len(table)} rows ({len(motifs)} motifs); wrote {ns.out}", file=sys.stderr)
    return 0


COMMAND = Command(
    PROG, build_parser, run, reported=(PredictError, MotifError, ValueError, ImportError, OSError)
)
main = COMMAND.main
call = COMMAND.call


if __name__ == "__main__":
    main()
