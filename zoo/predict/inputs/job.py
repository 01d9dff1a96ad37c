"""What a prediction scores: :class:`Item` (one output row and the windows to score for it),
:class:`Job` (a stream of items and the names of the row's columns) and :class:`InputReader`
(how other processes make the same items again).

Nothing here imports torch, so that a reader process starts in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from zoo.predict.inputs.contigs import ContigMatcher


@dataclass
class Item:
    """One output row: its leading column values and the windows to score (none: not scored).

    Attributes:
        meta: its leading column values.
        windows: the windows to score (none: not scored).
        status: ``ok``, or why the row was not scored.
    """

    meta: tuple[Any, ...]
    windows: tuple[str, ...] = ()
    status: str = "ok"


@dataclass(frozen=True)
class InputReader:
    """How other processes make a job's items again, reading its file themselves.

    ``make_groups(*args, shard)`` is a module-level function with picklable arguments that
    yields the ``(group, item)`` pairs of one :class:`zoo.predict.inputs.fastx.Shard` of the
    records; ``input_bytes`` is the size of the file it reads; ``shardable``: several
    processes may share the reading (one shard each), not just one.
    """

    make_groups: Callable[..., Iterable[tuple[int, Item]]]
    args: tuple[Any, ...]
    input_bytes: int
    shardable: bool


@dataclass
class Job:
    """What to score and how its rows look.

    Attributes:
        meta_columns: the names of the rows' leading values.
        items: the rows, each with its leading values and its ``windows_per_item`` windows.
        windows_per_item: the windows of each row.
        value_columns: names the values from the scorer's target names.
        values: maps strand-combined logits (n, windows_per_item, T) to the row values
            (n, len(value_columns)), a new tensor (the writer may keep it); None gives each
            row's probabilities (one window per item).
        with_status: add a status column (``ok``, or why a row was not scored).
        empty_message: the error when there are no rows.
        contigs: the matcher that read a BED's or VCF's contig names as the genome's (its
            ``match.warning`` is for the user once the run is done).
        reader: where set, lets other processes read the input instead of a thread.
    """

    meta_columns: list[str]
    items: Iterable[Item]
    windows_per_item: int = 1
    value_columns: Callable[[list[str]], list[str]] = list
    values: Callable[[torch.Tensor], torch.Tensor] | None = None
    with_status: bool = False
    empty_message: str = "the input has no records"
    contigs: ContigMatcher | None = None
    reader: InputReader | None = None
