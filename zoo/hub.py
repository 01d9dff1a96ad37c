"""Zoo models on the Hugging Face Hub: ``hf://OWNER/REPO[@REVISION]`` names a repository that
holds a zoo weights file and its record, read through ``huggingface_hub`` and its cache.

A repository holds three files, which :func:`write_hub_folder` writes for upload:

- ``model.safetensors``: the weights in the zoo format (``zoo.save_weights``: the model's name,
  arguments, target names, N value and source in its metadata);
- ``zoo.json``: the record: the model, its arguments, the weights file with its sha256 and
  size, the paper, the license, the conventions and the target list;
- ``README.md``: the model card (YAML front matter, then the paper, license, conventions,
  targets and how to load it).

:func:`hub_weights` downloads the record and then the weights at the commit the record came
from, so both are of one revision; ``REVISION`` (a branch, tag or commit; default ``main``)
pins it. Downloads go to the Hugging Face cache (``HF_HUB_CACHE``); with ``HF_HUB_OFFLINE=1``
only the cache is read, and a revision it does not hold is a clear error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from torch import nn

from zoo._extras import install_hint
from zoo._io.writing import publish_folder, staging_folder
from zoo.errors import ZooError
from zoo.heads import head_name
from zoo.models import get_spec, model_args, spec_for_class

HUB_PREFIX = "hf://"
RECORD_FILE = "zoo.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
RECORD_FORMAT = "sigmoid-zoo weights record"
DEFAULT_REVISION = "main"
# Hub repository names: letters, digits, '-', '_' and '.', at most 96 characters each part
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}"
_REF = re.compile(rf"hf://(?P<owner>{_NAME})/(?P<repo>{_NAME})(?:@(?P<revision>[A-Za-z0-9._/-]{{1,255}}))?")
# the Hub's license identifiers for the licenses of the zoo's published files
_HUB_LICENSES = {"mit": "mit", "cc-by-3.0": "cc-by-3.0", "cc-by-4.0": "cc-by-4.0", "apache-2.0": "apache-2.0"}


class HubError(ZooError):
    """An ``hf://`` reference that cannot be read: malformed, not cached offline, or not a zoo
    repository."""


@dataclasses.dataclass(frozen=True)
class HubRef:
    """A parsed ``hf://OWNER/REPO[@REVISION]``.

    Attributes:
        repo_id: ``OWNER/REPO``.
        revision: a branch, tag or commit (``main`` when none was given).
    """

    repo_id: str
    revision: str = DEFAULT_REVISION

    def __str__(self) -> str:
        return f"{HUB_PREFIX}{self.repo_id}@{self.revision}"


@dataclasses.dataclass(frozen=True)
class HubWeights:
    """A zoo repository's files in the local Hugging Face cache.

    Attributes:
        ref: the reference they were read for.
        commit: the commit both files are of.
        path: the weights file.
        record: the repository's ``zoo.json``.
    """

    ref: HubRef
    commit: str
    path: Path
    record: dict[str, Any]


def is_hub_ref(text: object) -> bool:
    """Whether ``text`` is a string starting with ``hf://``.

    Args:
        text: a model name or weights path as the user gave it.
    """
    return isinstance(text, str) and text.startswith(HUB_PREFIX)


def parse_hub_ref(text: str) -> HubRef:
    """``hf://OWNER/REPO[@REVISION]`` as a :class:`HubRef`.

    Args:
        text: the reference.

    Raises:
        HubError: for anything else, naming the expected form.
    """
    found = _REF.fullmatch(text) if isinstance(text, str) and len(text) <= 512 else None
    if found is None or ".." in (found["revision"] or ""):
        shown = text if len(str(text)) <= 80 else f"{str(text)[:80]}..."
        raise HubError(
            f"{shown!r} is not a Hugging Face reference; expected hf://OWNER/REPO or "
            "hf://OWNER/REPO@REVISION "
            "(a branch, tag or commit)"
        )
    return HubRef(f"{found['owner']}/{found['repo']}", found["revision"] or DEFAULT_REVISION)


def _hub() -> Any:
    """``huggingface_hub``, or an ImportError naming the pip command of the ``hub`` extra."""
    try:
        return importlib.import_module("huggingface_hub")
    except ImportError:
        raise ImportError(f"hf:// models need huggingface_hub: {install_hint('hub')}") from None


def _download(ref: HubRef, filename: str, revision: str) -> Path:
    """``filename`` of ``ref``'s repository at ``revision``, from the cache or the Hub."""
    hub = _hub()
    from huggingface_hub import constants, errors

    try:
        return Path(hub.hf_hub_download(ref.repo_id, filename, revision=revision))
    except errors.LocalEntryNotFoundError:
        offline = constants.HF_HUB_OFFLINE
        why = "HF_HUB_OFFLINE is set" if offline else "the Hub cannot be reached"
        raise HubError(
            f"{ref}: {filename} at revision {revision!r} is not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}) and {why}; download it once where the Hub is reachable, "
            "or name a revision the cache holds"
        ) from None
    except errors.RevisionNotFoundError:
        raise HubError(f"{ref}: the repository has no revision {revision!r}") from None
    except errors.RepositoryNotFoundError:
        raise HubError(f"{ref}: no such repository on the Hub (or it is private or gated)") from None
    except errors.EntryNotFoundError:
        raise HubError(f"{ref}: the repository has no {filename}; it is not a zoo model repository") from None


def hub_weights(text: str) -> HubWeights:
    """The weights file and record of the zoo repository ``hf://OWNER/REPO[@REVISION]``.

    The record is read at ``REVISION``; the weights at the commit the record came from, and
    checked against the record's size and sha256.

    Args:
        text: the reference.

    Raises:
        HubError: a malformed reference, a revision the cache lacks offline, a repository
            without a zoo record, or weights that differ from their record.
        ImportError: without huggingface_hub.
    """
    ref = parse_hub_ref(text)
    record_path = _download(ref, RECORD_FILE, ref.revision)
    commit = record_path.parent.name  # .../snapshots/<commit>/zoo.json
    record = _read_record(ref, record_path)
    path = _download(ref, record["weights"], commit)
    _check_weights(ref, path, record)
    return HubWeights(ref, commit, path, record)


def _read_record(ref: HubRef, path: Path) -> dict[str, Any]:
    """The repository's zoo.json, checked for what loading needs."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, ValueError, RecursionError) as err:
        raise HubError(f"{ref}: its {RECORD_FILE} is not a JSON record ({err})") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise HubError(f"{ref}: its {RECORD_FILE} is not a zoo record (no format {RECORD_FORMAT!r})")
    weights = record.get("weights")
    if not isinstance(weights, str) or "/" in weights or not weights.endswith(".safetensors"):
        raise HubError(f"{ref}: its {RECORD_FILE} names no .safetensors weights file in the repository")
    if not isinstance(record.get("sha256"), str) or not isinstance(record.get("size"), int):
        raise HubError(f"{ref}: its {RECORD_FILE} gives no sha256 and size of {weights}")
    return record


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes, as 64 hex digits.

    Args:
        path: a regular file.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _check_weights(ref: HubRef, path: Path, record: dict[str, Any]) -> None:
    """Refuse weights whose size or sha256 is not the record's. The cache names a large file's
    blob by its sha256 (which the Hub checks on download): such a blob is not hashed again."""
    size = path.stat().st_size
    if size != record["size"]:
        raise HubError(f"{ref}: {path.name} holds {size:,} bytes, its record {record['size']:,}")
    expected = record["sha256"].lower()
    if Path(os.path.realpath(path)).name != expected and file_sha256(path) != expected:
        raise HubError(f"{ref}: the sha256 of {path.name} is not the one its record gives ({expected})")


def hub_record(model: nn.Module, weights: Path, license: str | None = None) -> dict[str, Any]:
    """The ``zoo.json`` of a repository holding ``model``'s weights file ``weights``.

    Args:
        model: the model the file holds.
        weights: its zoo-format weights file.
        license: the weights' license (default: the one of the published file they came from).
    """
    spec = spec_for_class(type(model))
    source = dict(getattr(model, "source", None) or {})
    n_value = getattr(model, "n_value", None)
    if n_value is None and hasattr(model, "seq_len"):
        n_value = spec.conventions.n_value
    names = getattr(model, "target_names", None)
    return {
        "format": RECORD_FORMAT,
        "model": spec.name,
        "args": model_args(model),
        "weights": weights.name,
        "sha256": file_sha256(weights),
        "size": weights.stat().st_size,
        "paper": spec.paper,
        "doi": spec.doi,
        "license": license or source.get("license"),
        "source": source or None,
        "conventions": _conventions(model, n_value),
        "targets": _shipped_list(spec.conventions.targets, names),
        "n_targets": getattr(model, "n_targets", None),
    }


def _shipped_list(listed: str | None, names: list[str] | None) -> str | None:
    """The name of the zoo's shipped target list when the model's output names are that list."""
    if listed is None or names is None:
        return None
    from zoo.targets import load_target_names

    return listed if list(names) == load_target_names(listed) else None


def _conventions(model: nn.Module, n_value: float | None) -> dict[str, Any]:
    """What the original did that the card and record state: input, N, strands, head, range."""
    spec = spec_for_class(type(model))
    out: dict[str, Any] = {"head": head_name(model.head) if hasattr(model, "head") else "identity"}
    if spec.inputs is not None:
        out["input"] = spec.input_shape(model_args(model))
        out["input_kind"] = spec.inputs.kind
    if hasattr(model, "seq_len"):
        out["alphabet"] = spec.conventions.alphabet
        out["n_value"] = n_value
        out["rc_average"] = bool(getattr(model, "rc_average", False))
    if spec.conventions.value_range is not None:
        out["value_range"] = list(spec.conventions.value_range)
    return out


def model_card(
    record: dict[str, Any], repo_id: str = "OWNER/REPO", target_names: list[str] | None = None
) -> str:
    """The README.md of a zoo repository: YAML front matter (library, license, tags), then the
    model, paper, license, conventions, targets and how to load it.

    Args:
        record: the repository's ``zoo.json`` (:func:`hub_record`).
        repo_id: the repository the card will be uploaded to, for the loading examples.
        target_names: the output names, listed in the card.
    """
    license = str(record.get("license") or "")
    hub_license = _HUB_LICENSES.get(license.lower(), "other")
    front = ["---", "library_name: sigmoid-zoo", f"license: {hub_license}"]
    if hub_license == "other":
        front.append(f"license_name: {json.dumps(license or 'not stated')}")
    kind = record["conventions"].get("input_kind", "")
    tags = ["sigmoid-zoo", record["model"], *(["genomics", "dna"] if kind == "dna" else [])]
    front += ["tags:", *(f"- {tag}" for tag in tags), "---", ""]
    spec = get_spec(record["model"])
    conventions = record["conventions"]
    args = ", ".join(f"{k}={v!r}" for k, v in record["args"].items())
    lines = [
        f"# {record['model']} ({spec.cls.__name__})",
        "",
        f"Weights of the zoo model `{record['model']}` in the format of "
        "[sigmoid-zoo](https://pypi.org/project/sigmoid-zoo/): a `.safetensors` file that records the "
        "model, its arguments and its conventions, and its record `zoo.json`.",
        "",
        "## Source",
        "",
        f"- Paper: {record.get('paper') or 'not stated'}"
        + (f", [doi:{record['doi']}](https://doi.org/{record['doi']})" if record.get("doi") else ""),
        f"- License of the weights: {license or 'not stated'}",
    ]
    source = record.get("source") or {}
    if source.get("url"):
        lines.append(f"- Weights from: {source.get('name', '')} <{source['url']}> (md5 {source.get('md5')})")
    lines += [f"- Model arguments: `{args}`", "", "## Conventions", ""]
    head = conventions.get("head", "identity")
    if "input" in conventions:
        shape = ", ".join(["N", *map(str, conventions["input"])])
        lines.append(
            f"- Input: ({shape}), "
            + (f"one-hot DNA, channels {conventions['alphabet']}" if kind == "dna" else kind)
        )
    if kind == "dna":
        lines.append(
            f"- Unknown bases (N): {conventions['n_value']:g} in each of the four channels, as the original "
            "encoded them"
        )
        strands = (
            "both strands, probabilities averaged" if conventions["rc_average"] else "forward strand only"
        )
        lines.append(f"- Strands: {strands}")
    if "value_range" in conventions:
        low, high = conventions["value_range"]
        lines.append(f"- Pixel values in [{low:g}, {high:g}]")
    lines.append(
        f"- Output: `{head}` of the logits (`model(x)`); `model.logits(x)` gives the values before it"
    )
    if target_names:
        listed = f" (the zoo's list `{record['targets']}`)" if record.get("targets") else ""
        lines += ["", "## Targets", "", f"{len(target_names):,} outputs{listed}, in output order:", ""]
        lines += ["```text", *target_names, "```"]
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "import zoo",
        f'model = zoo.create_model("hf://{repo_id}")  # pin a revision: hf://{repo_id}@COMMIT',
        "```",
        "",
        "```bash",
        f"zoo-export model.onnx --weights hf://{repo_id}",
        "```",
        "",
    ]
    if kind == "dna":
        lines[-3:-3] = [f"zoo-predict --weights hf://{repo_id} --fasta seqs.fa --out scores.tsv"]
    return "\n".join(front + lines)


def write_hub_folder(
    model: nn.Module,
    folder: str | os.PathLike[str],
    *,
    license: str | None = None,
    repo_id: str = "OWNER/REPO",
    overwrite: bool = False,
) -> Path:
    """Write the files of a zoo repository for ``model`` into ``folder``, ready to upload
    (``hf upload OWNER/REPO FOLDER --exclude .zoo-outputs``): ``model.safetensors``, ``zoo.json`` and
    the model card ``README.md``.

    The folder is written whole or not at all; an existing one is replaced only when it
    holds an earlier output of this function and ``overwrite``.

    Args:
        model: a zoo model with its weights.
        folder: the folder to write.
        license: the weights' license (required when the model's source names none).
        repo_id: the repository it will be uploaded to, for the card's examples.
        overwrite: replace an earlier hub folder.

    Raises:
        HubError: no license known, or ``folder`` exists and ``overwrite`` is not set.
    """
    from zoo.weights import save_weights

    target = Path(folder)
    if license is None and not (getattr(model, "source", None) or {}).get("license"):
        raise HubError("the weights' license is not known: pass --license (license=) naming it")
    if os.path.lexists(target) and not overwrite and any(Path(target).iterdir()):
        raise HubError(f"{os.fspath(target)!r} exists and is not empty; pass --overwrite (overwrite=True)")
    if not target.parent.is_dir():
        raise HubError(f"{os.fspath(target)!r}: its parent folder does not exist")
    tmp = staging_folder(target)
    try:
        weights = save_weights(model, tmp / WEIGHTS_FILE)
        record = hub_record(model, weights, license)
        (tmp / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        card = model_card(record, repo_id, getattr(model, "target_names", None))
        (tmp / CARD_FILE).write_text(card, encoding="utf-8")
        publish_folder(tmp, target, command=HUB_FOLDER_COMMAND)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


HUB_FOLDER_COMMAND = "zoo-export --format hub"
