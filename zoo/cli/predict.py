"""``zoo-predict``: score FASTA records, BED intervals or VCF variants with a zoo model."""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from functools import partial
from typing import Any

import torch

from zoo.cli import _variant_effects
from zoo.cli._command import Command, at_most, parse_key_values
from zoo.cli._predict_files import input_files, refuse_input_as_output
from zoo.predict.errors import PredictError
from zoo.predict.inputs.bed import bed_job
from zoo.predict.inputs.contigs import ContigWarning
from zoo.predict.inputs.fasta import fasta_job
from zoo.predict.inputs.fastx import STDIN
from zoo.predict.inputs.target_names import read_target_names
from zoo.predict.inputs.variants import variant_job
from zoo.predict.outputs.vcf import VCFWriter
from zoo.predict.outputs.writers import HDF5_SUFFIXES, require_h5py, require_output_path, require_pyarrow
from zoo.predict.running.distributed import detect_launch, launch_device
from zoo.predict.running.genome_tracks import tracks_job, write_tracks
from zoo.predict.running.loading import load_predict_model, n_targets_of
from zoo.predict.running.run import run_job
from zoo.predict.running.scorer import Scorer

VCF_SUFFIXES = (".vcf", ".vcf.gz")

EPILOG = """examples:
  zoo-predict --weights model.safetensors --fasta seqs.fa --out preds.tsv
  zoo-predict --model deepsea --weights deepsea.pt --fasta long.fa --step 200 --out preds.parquet
  zoo-predict --weights model.safetensors --genome hg.fa --bed peaks.bed --out peaks.tsv
  zoo-predict --weights model.safetensors --genome hg.fa --vcf calls.vcf.gz --out effects.tsv
  zoo-predict --weights model.safetensors --genome hg.fa --vcf calls.vcf.gz --out scored.vcf.gz
  zoo-predict --weights model.safetensors --genome hg.fa --regions chr1:1-2000000 --step 200 --out tracks/
  zoo-predict --model deepsea.kipoi_predict --pretrained --fasta seqs.fa --targets '*K562*' --out k562.tsv
  zoo-predict --model sei.sei_framework --weights sei_model.tar.gz --genome hg.fa --vcf v.vcf --out sei.tsv
  zoo-predict --weights model.safetensors --fasta seqs.fa --shard 0/8 --out preds.tsv   (one job of 8)
  zoo-predict merge preds.tsv.parts --out preds.tsv
  torchrun --nproc-per-node 4 -m zoo.cli.predict --weights model.safetensors --fasta seqs.fa --out p.parquet
  zoo-predict --model sei.sei_framework --pretrained --genome hg.fa --vcf v.vcf --scores seqclass --out c.tsv
  zoo-predict --weights model.safetensors --genome hg.fa --random-snvs 100000 --make-background --out bg.npz
  zoo-predict --weights m.pt --genome g.fa --vcf v.vcf --background bg.npz --scores evalue --out e.tsv
  zoo-predict --weights model.safetensors --genome hg.fa --regions chr1:1000-2000 --saturate --out snvs.tsv.gz
"""


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog="zoo-predict",
        description="Score DNA with a zoo model: one row per FASTA record (or window), BED interval or "
        "VCF allele.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m = p.add_argument_group("model")
    m.add_argument(
        "--model",
        help="registry name (e.g. deepsea), or a published model (e.g. deepsea.kipoi_predict; see "
        "zoo-pretrained list); optional when --weights is a zoo checkpoint or a zoo-train .ckpt",
    )
    m.add_argument(
        "--weights",
        help="weights file: a zoo checkpoint, a zoo-train .ckpt, a file zoo.load_weights reads, or a local "
        "copy of a published model's file (md5 checked), or hf://OWNER/REPO[@REVISION], a zoo model on the "
        "Hugging Face Hub (read through its cache); required unless --pretrained",
    )
    m.add_argument(
        "--pretrained",
        action="store_true",
        help="download --model's published weights into the cache (once) and check their md5",
    )
    m.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="constructor argument for --model (VALUE is JSON, e.g. seq_len=500 or conv_channels=[32,32,64])",
    )
    i = p.add_argument_group("input (one of)")
    i.add_argument("--fasta", help="FASTA file: one row per record (or per window with --step)")
    i.add_argument(
        "--genome",
        help="genome FASTA for --bed, --vcf or --regions (their contig names are matched to the genome's "
        "across the chr1/1, chrM/MT conventions, with a warning)",
    )
    i.add_argument("--bed", help="BED intervals: the model-length window centred on each")
    i.add_argument("--vcf", help="VCF (plain, gzip or bgzip): one row per ALT allele with ref/alt scores")
    i.add_argument(
        "--regions",
        action="append",
        metavar="REGION",
        help="genome region to make tracks of: chr:start-end (1-based, inclusive) or a BED file; "
        "repeatable; needs --genome and --step",
    )
    i.add_argument(
        "--step",
        type=int,
        help="cut FASTA records into model-length windows this many bp apart; with --regions, the "
        "tracks' bin size (each bin valued by the window centred on it)",
    )
    o = p.add_argument_group("output")
    where = o.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--out-parts",
        metavar="DIR",
        help="write the rows as a Parquet data set (a part per share) in DIR instead of one --out file",
    )
    where.add_argument(
        "--out",
        help="output table: .tsv (.tsv.gz), .parquet (needs pyarrow) or .h5 (needs h5py); with --vcf "
        "also .vcf or .vcf.gz (the input with the scores as INFO fields, tabix-indexed); with "
        "--regions a folder for one track per target; a pipe or device such as /dev/stdout gets a "
        "TSV (or plain VCF) streamed into it",
    )
    o.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out even when it is a read-only file (a writable one is always replaced)",
    )
    o.add_argument(
        "--track-format",
        choices=["bigwig", "bedgraph"],
        default="bigwig",
        help="format of the --regions tracks (bigwig needs pyBigWig)",
    )
    o.add_argument(
        "--labels",
        help="target names, one per line (e.g. Kipoi's predictor_names.txt); default: the names the weights "
        "record (published models, zoo files, zoo-train checkpoints), else target_0, target_1, ...",
    )
    o.add_argument(
        "--targets",
        help="comma-separated targets to keep: names, indices, globs over the names ('*K562*') or "
        "regular expressions searched in them ('re:(?i)ctcf')",
    )
    o.add_argument(
        "--scores",
        default="diff,logfc",
        help="variant scores among ref,alt,diff,logfc,seqclass,evalue,zscore,funsig; for --fasta and "
        "--bed: seqclass (Sei's sequence classes) and prob (the targets' probabilities)",
    )
    o.add_argument(
        "--rc",
        choices=["none", "mean", "max"],
        default="none",
        help="combine with the reverse complement (mean of probabilities, or max)",
    )
    r = p.add_argument_group("running")
    r.add_argument("--batch-size", type=int, default=128, help="windows per model call (default 128)")
    r.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available, else cpu")
    r.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    r.add_argument(
        "--n-value",
        type=float,
        help="one-hot value of N in each channel (default: what the weights record: a published model's "
        "encoding, a zoo-train checkpoint's data; else 0.25, 0 for beluga)",
    )
    r.add_argument(
        "--reader-processes",
        type=int,
        metavar="N",
        help="read and check a --fasta file in N processes (0: a thread of this one; gzip and FASTQ "
        "take one, standard input and pipes a thread); default: a thread, but on CUDA for files of "
        "64 MiB or more, one per 4 CPU cores, up to 4",
    )
    r.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    d = p.add_argument_group(
        "many processes",
        "under torchrun (or srun) each process scores a share of the rows and rank 0 merges the parts",
    )
    d.add_argument(
        "--shard",
        metavar="I/N",
        help="score only share I (0 to N-1) of N, as one job of a job array, into a part in --parts; "
        "join the N parts with: zoo-predict merge PARTS --out OUT",
    )
    d.add_argument("--parts", metavar="DIR", help="folder of the parts (default: OUT.parts)")
    d.add_argument(
        "--group-batches",
        type=at_most(1 << 20),
        default=1,
        metavar="N",
        help="shares are made of groups of N batches of rows (default 1: shares differ by a batch at most)",
    )
    _variant_effects.add_arguments(p)
    return p


def _check_inputs(ns: argparse.Namespace) -> None:
    """Refuse option combinations that name no input or two, before anything is loaded."""
    if (ns.out is None) == (ns.out_parts is None):
        raise PredictError(
            "give --out (a file, or a folder of tracks), or --out-parts DIR (a Parquet data set)"
        )
    if ns.regions and ns.out_parts:
        raise PredictError("--out-parts writes tables; --regions tracks go into the --out folder")
    if ns.out_parts is not None:
        ns.parts, ns.out = ns.out_parts, None
    if ns.regions:
        if ns.fasta or ns.bed or ns.vcf:
            raise PredictError("give --regions (with --genome and --step) without --fasta, --bed or --vcf")
        if not ns.genome or ns.step is None:
            raise PredictError("--regions needs --genome and --step (the bin size of the tracks)")
        if os.path.exists(ns.out) and not os.path.isdir(ns.out):  # an input, maybe
            raise PredictError(f"--out {ns.out!r} is a file; tracks go into a folder")
        return  # each track is checked when the tracks are opened
    if ns.fasta and (ns.genome or ns.bed or ns.vcf):
        raise PredictError("give either --fasta, or --genome with --bed or --vcf, not both")
    if not ns.fasta and not (ns.genome and (ns.bed or ns.vcf)):
        raise PredictError("nothing to score: give --fasta, or --genome with --bed or --vcf")
    if ns.bed and ns.vcf:
        raise PredictError("give --bed or --vcf, not both")
    if ns.step is not None and not ns.fasta:
        raise PredictError("--step applies to --fasta input only")
    if ns.n_value is not None and not math.isfinite(ns.n_value):
        raise PredictError(f"--n-value {ns.n_value} is not a finite number")
    if ns.out is None:
        require_pyarrow()
        return
    # before the model loads and the scoring starts
    refuse_input_as_output(ns.out, ns)
    if ns.out.endswith(".vcf.gz"):  # and its index
        refuse_input_as_output(f"{ns.out}.tbi", ns, "the index of --out")
    if ns.shard is None:  # a share writes a part; its merge writes --out, maybe elsewhere
        require_output_path(ns.out, ns.overwrite)
    if ns.out.endswith(".parquet"):
        require_pyarrow()
    elif ns.out.endswith(HDF5_SUFFIXES):
        require_h5py()
    elif ns.out.endswith(VCF_SUFFIXES) and not ns.vcf:
        raise PredictError(f"--out {ns.out!r}: a VCF output needs --vcf input (it annotates that VCF)")


# options that do not change the rows: where they go and how the work runs
_RUN_ONLY = frozenset(
    {"out", "out_parts", "parts", "shard", "overwrite", "no_progress", "device", "reader_processes"}
)
_FILES = frozenset({"fasta", "genome", "bed", "vcf", "labels", "weights", "model_arg"})  # fingerprinted


def run_in_parts(
    ns: argparse.Namespace,
    job: Any,
    scorer: Scorer,
    launch: Any,
    args: dict[str, Any],
    chrom_sizes: dict[str, int] | None = None,
) -> str:
    """Score ``job`` in parts (--shard, --out-parts, or a process of a launch); returns the
    line that reports it. What the parts record is what their values depend on."""
    from zoo.predict.outputs.parts import fingerprint, parse_share
    from zoo.predict.running.distributed import run_parts

    if ns.fasta == STDIN:
        raise PredictError("scoring in parts needs a --fasta file that every process can read, not stdin")
    files = {
        "--fasta": ns.fasta,
        "--genome": ns.genome,
        "--bed": ns.bed,
        "--vcf": ns.vcf,
        "--labels": ns.labels,
    }
    inputs = {option: fingerprint(path) for option, path in files.items() if path}
    weights = fingerprint(ns.weights) if ns.weights else {"published": ns.model}
    # every option the values may depend on (an option added later too), the files by their
    # fingerprints; not those that only say where and how the work runs
    conventions = {k: v for k, v in sorted(vars(ns).items()) if k not in _RUN_ONLY and k not in _FILES}
    conventions["model_args"] = args
    conventions["regions"] = [r if not os.path.isfile(r) else fingerprint(r) for r in ns.regions or ()]
    sources: dict[str, Any] = {"--vcf": os.path.abspath(ns.vcf)} if ns.vcf else {}
    if chrom_sizes is not None:
        sources["chrom_sizes"] = list(chrom_sizes.items())
    return run_parts(
        job,
        scorer,
        out=ns.out,
        parts=ns.parts or f"{ns.out}.parts",
        group_batches=ns.group_batches,
        shard=parse_share(ns.shard) if ns.shard is not None else None,
        launch=launch,
        inputs=inputs,
        weights=weights,
        conventions=conventions,
        sources=sources,
        tracks=ns.track_format if ns.regions else None,
        progress=not ns.no_progress,
        overwrite=ns.overwrite,
    )


def run(ns: argparse.Namespace) -> int:
    """Score what the parsed command line names and write the table (or tracks); returns the
    exit status. A PredictError propagates (the command skeleton prints it)."""
    if _variant_effects.requested(ns):  # sequence classes, significance, saturation
        if ns.shard is not None or ns.out_parts or detect_launch() is not None:
            raise PredictError(
                "sequence-class, significance and saturation scores (--scores seqclass/evalue/zscore/"
                "funsig, --make-background, --saturate, --sort, --plot) run in one process: "
                "drop --shard/--out-parts and run without torchrun or srun"
            )
        return _variant_effects.run(ns)
    _check_inputs(ns)
    args = parse_key_values(ns.model_arg, "--model-arg")
    progress = not ns.no_progress
    model, _ = load_predict_model(ns.model, ns.weights, args, pretrained=ns.pretrained, progress=progress)
    labels = read_target_names(ns.labels, n_targets_of(model)) if ns.labels else None
    targets = [t.strip() for t in ns.targets.split(",") if t.strip()] if ns.targets else None
    launch = detect_launch()
    device = launch_device(launch, ns.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device == "cuda":  # every batch but the last has one shape: let cuDNN time its kernels once
        torch.backends.cudnn.benchmark = True
    scorer = Scorer(
        model,
        labels=labels,
        targets=targets,
        rc=ns.rc,
        precision=ns.precision,
        device=device,
        # None: the value the weights record, else the model's convention (0.0 for Beluga)
        n_value=ns.n_value,
        batch_size=ns.batch_size,
    )
    parted = ns.shard is not None or ns.out is None or launch is not None
    if ns.regions:
        return _tracks(ns, scorer, launch, args) if parted else _tracks(ns, scorer)
    out: Any = ns.out
    if ns.fasta:
        job = fasta_job(ns.fasta, scorer.seq_len, ns.step)
    elif ns.bed:
        job = bed_job(ns.genome, ns.bed, scorer.seq_len)
    else:
        job = variant_job(ns.genome, ns.vcf, scorer.seq_len, ns.scores.split(","))
        if ns.out is not None and ns.out.endswith(VCF_SUFFIXES):
            out = partial(VCFWriter, ns.vcf, ns.out, overwrite=ns.overwrite)
    if parted:
        line = run_in_parts(ns, job, scorer, launch, args)
        if line:  # (in a launch, rank 0 reports the output)
            print(f"zoo-predict: {line}", file=sys.stderr)
        return 0
    summary = run_job(
        job,
        scorer,
        out,
        progress=not ns.no_progress,
        overwrite=ns.overwrite,
        reader_processes=ns.reader_processes,
    )
    if job.contigs is not None and job.contigs.match.warning:
        print(f"zoo-predict: warning: {job.contigs.match.warning}", file=sys.stderr)
    print(f"zoo-predict: {summary.describe(ns.out)}", file=sys.stderr)
    return 0


def _tracks(ns: argparse.Namespace, scorer: Any, launch: Any = None, args: Any = None) -> int:
    """Write the --regions tracks (in parts: ``args`` given); return the exit code (a
    PredictError propagates)."""
    files = [r for r in ns.regions if os.path.isfile(r)]
    if len(files) > 1:
        raise PredictError(f"--regions takes one BED file, got {len(files)}: {', '.join(files)}")
    strings = [r for r in ns.regions if r not in files]
    if args is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ContigWarning)
            job, sizes = tracks_job(
                scorer, ns.genome, regions=strings, bed=files[0] if files else None, step=ns.step
            )
        _contig_warnings(caught)
        line = run_in_parts(ns, job, scorer, launch, args, chrom_sizes=sizes)
        if line:
            print(f"zoo-predict: {line}", file=sys.stderr)
        return 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ContigWarning)
        paths, summary = write_tracks(
            scorer,
            ns.genome,
            ns.out,
            regions=strings,
            bed=files[0] if files else None,
            step=ns.step,
            fmt=ns.track_format,
            progress=not ns.no_progress,
            overwrite=ns.overwrite,
            inputs=input_files(ns),
        )
    _contig_warnings(caught)
    gaps = sum(summary.skipped.values())
    print(
        f"zoo-predict: wrote {len(paths)} {ns.track_format} tracks of {summary.rows} bins to {ns.out}"
        + (f" ({gaps} bins without a value: their window runs off the contig)" if gaps else ""),
        file=sys.stderr,
    )
    return 0


def _contig_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Contig renamings as zoo-predict's own lines; any other warning as usual."""
    for w in caught:
        if issubclass(w.category, ContigWarning):
            print(f"zoo-predict: warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _merge_command() -> Command:
    """``zoo-predict merge``, imported only when it runs."""
    from zoo.cli._predict_merge import COMMAND as MERGE

    return MERGE


COMMAND = Command(
    "zoo-predict",
    build_parser,
    run,
    reported=(PredictError,),
    reported_at_exit=(OSError,),  # writing failed (a full disk, a closed pipe); the writer named --out
    fast_exit=True,
    reuse_freed_memory=True,
    subcommands={"merge": _merge_command},
)


main = COMMAND.main
call = COMMAND.call


if __name__ == "__main__":
    main()
