"""``zoo-interpret``: ISM and attributions of FASTA records, BED intervals or VCF variants, as arrays
(TF-MoDISco inputs, ISM deltas) and pictures in one output folder."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo._io.folders import FolderOutputError, earlier_output
from zoo._io.space import is_disk_full
from zoo._io.text import tsv_field_problem
from zoo._io.writing import publish_folder, staging_folder
from zoo.cli._command import Command, at_most, parse_key_values
from zoo.dna import one_hot
from zoo.interpret import attribute, plot_attribution, prepare_ism
from zoo.interpret.attribution import ATTRIBUTION_METHODS, MAX_SHUFFLES, MAX_STEPS
from zoo.interpret.run_folder import InterpretOutputs, record_label
from zoo.motifs.seqlet_table import write_seqlet_tsv
from zoo.predict.errors import PredictError
from zoo.predict.inputs.bed import bed_job
from zoo.predict.inputs.fasta import fasta_job
from zoo.predict.inputs.job import Item, Job
from zoo.predict.inputs.target_names import read_target_names
from zoo.predict.inputs.variants import variant_job, variant_position
from zoo.predict.outputs.columns import pick_targets
from zoo.predict.running.loading import default_n_value, load_predict_model, n_targets_of

METHODS: tuple[str, ...] = ("ism", *ATTRIBUTION_METHODS)
PROG = "zoo-interpret"
MAX_ISM_WIDTH = 1_000_000  # more than any model's window; the model's length is checked after loading

EPILOG = """examples:
  zoo-interpret --weights model.safetensors --fasta seqs.fa --targets 0 --method ism,deeplift_shap --out io/
  zoo-interpret --weights model.safetensors --genome hg.fa --bed peaks.bed --targets '*CTCF*' --out ctcf/
  zoo-interpret --weights model.safetensors --genome hg.fa --vcf calls.vcf --method ism --plot 5 --out var/
  zoo-interpret --weights model.safetensors --fasta seqs.fa --annotate --plot 3 --out named/
  zoo-interpret --model sei --weights sei.safetensors --genome hg.fa --vcf v.vcf --ism-width 100 --out var/
  modisco motifs -s io/ohe.npz -a io/deeplift_shap.npz -n 2000 -o modisco.h5
"""


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Interpret a zoo DNA model on FASTA records, BED intervals or the reference windows of "
        "VCF variants: ISM deltas, attributions (TF-MoDISco inputs) and pictures, in one folder.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m = p.add_argument_group("model (as zoo-predict)")
    m.add_argument("--model", help="registry name, or a published model (zoo-pretrained list)")
    m.add_argument("--weights", help="weights file, as zoo-predict reads it; required unless --pretrained")
    m.add_argument("--pretrained", action="store_true", help="download --model's published weights")
    m.add_argument(
        "--model-arg", action="append", default=[], metavar="KEY=VALUE", help="constructor argument (JSON)"
    )
    i = p.add_argument_group("input (one of)")
    i.add_argument("--fasta", help="FASTA file: each record must be the model's length")
    i.add_argument("--genome", help="genome FASTA for --bed or --vcf")
    i.add_argument("--bed", help="BED intervals: the model-length window centred on each")
    i.add_argument("--vcf", help="VCF: the reference window around each variant (as zoo-predict centres it)")
    o = p.add_argument_group("output")
    o.add_argument("--out", required=True, help="output folder (written whole, or not at all)")
    o.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier zoo-interpret output in --out (never other files)",
    )
    o.add_argument(
        "--method",
        default="ism",
        help=f"comma-separated, among {', '.join(METHODS)} (default ism)",
    )
    o.add_argument("--labels", help="target names, one per line (default: the names the weights record)")
    o.add_argument(
        "--targets",
        help="comma-separated targets: names, indices, globs ('*K562*') or 're:REGEX' (default: all)",
    )
    o.add_argument("--plot", type=int, default=0, metavar="N", help="PNGs of the first N records x targets")
    o.add_argument(
        "--ism-window",
        metavar="START:END",
        help="ISM of window positions [START, END) only (0-based, in the model's window; default all)",
    )
    o.add_argument(
        "--ism-width",
        type=at_most(MAX_ISM_WIDTH),
        metavar="N",
        help="ISM of the N positions around the variant (--vcf) or the window's centre only",
    )
    a = p.add_argument_group("motifs (--annotate)")
    a.add_argument(
        "--annotate",
        action="store_true",
        help="call seqlets of the first attribution (else ISM), name each by its nearest known motif "
        "(TOMTOM) into seqlets.tsv, and write the names on the logos",
    )
    a.add_argument("--motifs", default="jaspar", help="'jaspar' (offline, default) or a MEME file")
    a.add_argument("--jaspar-release", help="JASPAR release, e.g. JASPAR2024 (default: the newest shipped)")
    a.add_argument("--taxon", default="vertebrates", help="JASPAR taxonomic group (default vertebrates)")
    a.add_argument(
        "--seqlet-threshold", type=float, default=0.01, help="the seqlet caller's p-value (default 0.01)"
    )
    r = p.add_argument_group("running")
    r.add_argument("--batch-size", type=int, default=16, help="records per batch (default 16)")
    r.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available, else cpu")
    r.add_argument("--n-value", type=float, help="one-hot value of N (default: as zoo-predict)")
    r.add_argument(
        "--n-shuffles",
        type=at_most(MAX_SHUFFLES),
        default=20,
        help=f"deeplift_shap references per record (default 20, at most {MAX_SHUFFLES:,})",
    )
    r.add_argument(
        "--n-steps",
        type=at_most(MAX_STEPS),
        default=50,
        help=f"integrated_gradients steps (default 50, at most {MAX_STEPS:,})",
    )
    r.add_argument("--seed", type=int, default=0, help="seed of the dinucleotide shuffles")
    r.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def parse_methods(text: str) -> list[str]:
    """The ``--method`` list, each known and listed once."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise PredictError(f"--method {text!r}: each method must be one of {', '.join(METHODS)}")
    if len(set(names)) != len(names):
        raise PredictError(f"--method {text!r} lists a method twice")
    return names


def _job(ns: argparse.Namespace, seq_len: int) -> tuple[Job, list[str]]:
    """The zoo-predict job of the input and the columns index.tsv gives each record."""
    if ns.fasta and (ns.genome or ns.bed or ns.vcf):
        raise PredictError("give either --fasta, or --genome with --bed or --vcf, not both")
    if ns.bed and ns.vcf:
        raise PredictError("give --bed or --vcf, not both")
    if ns.fasta:
        job = fasta_job(ns.fasta, seq_len)
        return job, job.meta_columns
    if not (ns.genome and (ns.bed or ns.vcf)):
        raise PredictError("nothing to interpret: give --fasta, or --genome with --bed or --vcf")
    job = bed_job(ns.genome, ns.bed, seq_len) if ns.bed else variant_job(ns.genome, ns.vcf, seq_len)
    return job, [*job.meta_columns, "window_start"]


def _records(job: Job, bed: bool, seq_len: int, skipped: dict[str, int]) -> Iterator[tuple[tuple, str]]:
    """(index.tsv values, window) of each record that can be scored; the others are counted in
    ``skipped`` by reason. A VCF's ALT alleles of one record share their reference window: one row,
    their ALTs joined by commas."""
    last: Item | None = None
    for item in job.items:
        if item.status != "ok":
            skipped[item.status] = skipped.get(item.status, 0) + 1
            continue
        if job.windows_per_item == 1 and not bed:  # FASTA
            yield item.meta, item.windows[0]
            continue
        if bed:
            _, start, end, _ = item.meta
            yield (*item.meta, (start + end) // 2 - seq_len // 2), item.windows[0]
            continue
        if last is not None and last.meta[:4] == item.meta[:4]:
            last.meta = (*last.meta[:4], f"{last.meta[4]},{item.meta[4]}")
            continue
        if last is not None:
            yield (*last.meta, last.meta[1] - 1 - variant_position(seq_len)), last.windows[0]
        last = item
    if last is not None:
        yield (*last.meta, last.meta[1] - 1 - variant_position(seq_len)), last.windows[0]


def _batches(records: Iterator[tuple[tuple, str]], size: int) -> Iterator[list[tuple[tuple, str]]]:
    batch: list[tuple[tuple, str]] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _file_part(name: str) -> str:
    """``name`` made safe as part of a file name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "target"


def _interpret_batch(
    ns: argparse.Namespace,
    model: Any,
    ism_fn: Any,
    picked: list[int],
    x: torch.Tensor,
    out: InterpretOutputs,
) -> None:
    """ISM and attributions of one batch of one-hot windows, appended to ``out``."""
    out.ohe.append(x.numpy())
    if ism_fn is not None:
        out.ism.append(ism_fn(x).delta.numpy())
    for method, per_target in out.hyp.items():
        for k, target in enumerate(picked):
            result = attribute(
                model,
                x,
                target,
                method=method,  # type: ignore[arg-type]
                n_shuffles=ns.n_shuffles,
                n_steps=ns.n_steps,
                seed=ns.seed,
                device=ns.device,
            )
            per_target[k].append(result.hypothetical.numpy())


def _first_attribution(methods: list[str]) -> str | None:
    """The first attribution method asked for (its logos and seqlets are shown), None for ISM alone."""
    return next((m for m in methods if m != "ism"), None)


def _plots(
    folder: Path,
    arrays: dict[str, Any],
    methods: list[str],
    targets: list[str],
    records: list[str],
    start: int,
    end: int,
    seqlets: list[tuple] | None = None,
) -> None:
    """PNG per (record, target) of the first records, titled with ``records`` (their names): the
    first attribution's logo above the ISM, on window positions [start, end) (the ISM's); with
    ``seqlets`` (seqlets.tsv rows) each seqlet's motif named above it."""
    first = _first_attribution(methods)
    ohe, ism = arrays["ohe"], arrays.get("ism")
    (folder / "plots").mkdir()
    for row in range(min(len(records), len(ohe))):
        seq = ohe[row][:, start:end]
        for k, name in enumerate(targets):
            attr = None if first is None else arrays[first][k][row][:, start:end] * seq  # on its base
            if attr is None and seqlets:  # the logo of ISM importance, to carry the names
                from zoo.motifs.seqlet_table import projected

                attr = projected(seq[None], None, ism[row, :, :, k][None])[0] * seq
            labels = [
                (s[2] - start, s[3] - start, s[6].split(" ", 1)[-1])  # the factor's name, without the ID
                for s in seqlets or ()
                if s[0] == records[row] and s[1] == name
            ]
            plot_attribution(
                folder / "plots" / f"{row}_{_file_part(name)}.png",
                attr,
                None if ism is None else ism[row, :, :, k],
                one_hot=seq if attr is not None else None,
                target_name=f"{name} ({first or 'ism'})",
                record_name=records[row],
                labels=labels,
                first_position=start,
            )


def _annotate(
    ns: argparse.Namespace,
    arrays: dict[str, Any],
    methods: list[str],
    targets: list[str],
    records: list[str],
    start: int,
    end: int,
) -> list[tuple]:
    """The seqlets.tsv rows of every target: seqlets of the first attribution method (else of the
    ISM, which covers window positions [start, end) only), each named by its nearest motif of
    ``--motifs``; positions are the model window's."""
    from zoo.motifs import load_motifs
    from zoo.motifs.seqlet_table import projected, seqlet_rows

    motifs = load_motifs(ns.motifs, release=ns.jaspar_release, taxon=ns.taxon or None)
    first = _first_attribution(methods)
    ohe = np.asarray(arrays["ohe"])
    offset = 0
    if first is None:  # seqlets of the ISM: on the positions it covers
        ohe, offset = ohe[:, :, start:end], start
    rows: list[tuple] = []
    for k, name in enumerate(targets):
        hyp = None if first is None else arrays[first][k]
        ism = None if first is not None else arrays["ism"][:, :, :, k]
        rows += seqlet_rows(ohe, projected(ohe, hyp, ism), motifs, records, name, ns.seqlet_threshold)
    return [(r[0], r[1], r[2] + offset, r[3] + offset, *r[4:]) for r in rows]


def _prepare_folder(ns: argparse.Namespace) -> Path:
    """A new empty folder to write into (inside or beside ``--out``); refuses an ``--out`` that
    holds anything but an earlier zoo-interpret output (the run's inputs, the user's files), and
    an earlier output without ``--overwrite``."""
    out, target = ns.out, Path(ns.out)
    if target.exists() and not target.is_dir():
        raise PredictError(f"--out {out!r} is a file; zoo-interpret writes a folder")
    if target.is_dir():
        inputs = {
            f"--{key}": getattr(ns, key) for key in ("weights", "fasta", "genome", "bed", "vcf", "labels")
        }
        try:
            earlier = earlier_output(target, PROG, inputs)
        except FolderOutputError as err:
            raise PredictError(f"--out {err}") from None
        if earlier and not ns.overwrite:
            raise PredictError(
                f"--out {out!r} exists and is not empty (an earlier {PROG} output); "
                "pass --overwrite to replace it"
            )
    parent = target.resolve().parent
    if not parent.is_dir():
        raise PredictError(f"--out {out!r}: its parent folder {os.fspath(parent)!r} does not exist")
    return staging_folder(target)


def ism_positions(ns: argparse.Namespace, seq_len: int) -> tuple[int, int] | None:
    """(start, end) of the window positions ``--ism-window`` or ``--ism-width`` names, checked
    against the model's window; None when neither is given (every position).

    Args:
        ns: the parsed command line.
        seq_len: the model's window length.
    """
    if ns.ism_window is not None and ns.ism_width is not None:
        raise PredictError("give --ism-window or --ism-width, not both")
    if ns.ism_window is not None:
        expected = f"expected START:END with 0 <= START < END <= {seq_len} (the model's window)"
        parts = ns.ism_window.split(":")
        try:
            if len(parts) != 2:
                raise ValueError
            start, end = (int(p) if len(p) <= 20 else None for p in parts)
        except (TypeError, ValueError):
            raise PredictError(f"--ism-window {ns.ism_window[:40]!r}: {expected}") from None
        if start is None or end is None or not 0 <= start < end <= seq_len:
            raise PredictError(f"--ism-window {ns.ism_window!r}: {expected}")
        return start, end
    if ns.ism_width is not None:
        width = ns.ism_width
        if not 1 <= width <= seq_len:
            raise PredictError(f"--ism-width {width}: expected 1 to {seq_len} (the model's window)")
        centre = variant_position(seq_len) if ns.vcf else seq_len // 2
        start = min(max(centre - width // 2, 0), seq_len - width)
        return start, start + width
    return None


def _target_names(ns: argparse.Namespace, model: Any) -> tuple[list[int], list[str]]:
    """(model outputs, their unique names) of the chosen targets."""
    n = n_targets_of(model)
    labels = read_target_names(ns.labels, n) if ns.labels else None
    wanted = [t.strip() for t in ns.targets.split(",") if t.strip()] if ns.targets else None
    return pick_targets(labels or getattr(model, "target_names", None), n, wanted)


def run(ns: argparse.Namespace) -> int:
    """Interpret what the parsed command line names and write the folder; returns the exit
    status. A PredictError propagates (the command skeleton prints it); a failure removes the
    partly written folder."""
    from tqdm import tqdm

    from zoo.predict.running.distributed import detect_launch

    launch = detect_launch()
    if launch is not None:  # each process would write the same folder
        raise PredictError(
            f"zoo-interpret runs in one process, but {launch.launcher} started {launch.world_size}; "
            "split the records into files and run one zoo-interpret per file (a job array) instead"
        )
    tmp: Path | None = None
    try:
        methods = parse_methods(ns.method)
        for option in ("batch_size", "n_shuffles", "n_steps"):
            if getattr(ns, option) < 1:
                raise PredictError(f"--{option.replace('_', '-')} must be >= 1, got {getattr(ns, option)}")
        if ns.plot < 0:
            raise PredictError(f"--plot must be >= 0, got {ns.plot}")
        if not 0 < ns.seqlet_threshold <= 1:
            raise PredictError(f"--seqlet-threshold must be in (0, 1], got {ns.seqlet_threshold}")
        ns.device = ns.device or ("cuda" if torch.cuda.is_available() else "cpu")
        progress = not ns.no_progress
        model, _ = load_predict_model(
            ns.model,
            ns.weights,
            parse_key_values(ns.model_arg, "--model-arg"),
            pretrained=ns.pretrained,
            progress=progress,
        )
        picked, targets = _target_names(ns, model)
        bad = next((t for t in targets if tsv_field_problem(t) is not None), None)
        if bad is not None:
            raise PredictError(f"target name {bad!r} {tsv_field_problem(bad)}")
        n_value = default_n_value(model) if ns.n_value is None else ns.n_value
        job, meta_columns = _job(ns, model.seq_len)
        span = ism_positions(ns, model.seq_len)
        start, end = span or (0, model.seq_len)
        tmp = _prepare_folder(ns)
        ism_fn = (
            prepare_ism(model, picked, device=ns.device, n_value=n_value, start=start, end=end)
            if "ism" in methods
            else None
        )
        out = InterpretOutputs(tmp, methods, len(picked), model.seq_len, ism_span=span)
        skipped: dict[str, int] = {}
        records = _records(job, bool(ns.bed), model.seq_len, skipped)
        with tqdm(unit=" records", file=sys.stderr, disable=not progress, desc=PROG) as bar:
            for batch in _batches(records, ns.batch_size):
                x = one_hot([w for _, w in batch], n_value=n_value)
                _interpret_batch(ns, model, ism_fn, picked, x, out)
                out.meta.extend(meta for meta, _ in batch)
                bar.update(len(batch))
        if not out.meta:
            raise PredictError(job.empty_message + (" that can be scored" if skipped else ""))
        arrays = out.finish(meta_columns, targets)
        seqlets = None
        if ns.annotate:
            names = [record_label(meta_columns, meta) for meta in out.meta]
            seqlets = _annotate(ns, arrays, methods, targets, names, start, end)
            write_seqlet_tsv(tmp / "seqlets.tsv", seqlets)
        if ns.plot:
            shown = [record_label(meta_columns, meta) for meta in out.meta[: ns.plot]]
            _plots(tmp, arrays, methods, targets, shown, start, end, seqlets)
        del arrays  # the memory maps, before their files go
        out.remove_staging()
        try:
            publish_folder(tmp, ns.out, command=PROG)
        except FolderOutputError as err:  # a file appeared in --out while the run went on
            raise PredictError(f"--out {err}") from None
        tmp = None
    except OSError as err:
        if tmp is None or not is_disk_full(err):
            raise
        # a write into the folder failed (a full disk): name the output, not a staged file
        raise OSError(f"cannot write --out {ns.out}: {os.strerror(err.errno)}") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if job.contigs is not None and job.contigs.match.warning:
        print(f"{PROG}: warning: {job.contigs.match.warning}", file=sys.stderr)
    text = f"wrote {len(out.meta)} records x {len(targets)} targets ({', '.join(methods)}) to {ns.out}"
    if skipped:
        text += "; not scored: " + ", ".join(f"{k}={v}" for k, v in sorted(skipped.items()))
    print(f"{PROG}: {text}", file=sys.stderr)
    return 0


COMMAND = Command(
    PROG,
    build_parser,
    run,
    # the interpretation functions' checks, a missing optional library
    reported=(PredictError, ValueError, ImportError),
    reported_at_exit=(OSError,),  # writing failed (a full disk)
    fast_exit=True,
    reuse_freed_memory=True,
)
main = COMMAND.main
call = COMMAND.call


if __name__ == "__main__":
    main()
