"""Whole runs: read paths and fold them, the calls behind ``jobstream summary|jobs|events``."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Optional, Union

import msgspec

from .decoder import Model, Reject
from .reader import Reader, ReadStats
from .reducer import JobTable, Summary
from .sources import Source

__all__ = ["FoldResult", "fold_paths", "summarize"]

PathArg = Union[str, "os.PathLike[str]", Source]


class FoldResult(msgspec.Struct):
    """A folded table and what reading saw."""

    table: JobTable
    stats: ReadStats


def fold_paths(
    paths: Iterable[PathArg],
    *,
    model: Model = "view",
    strict: bool = False,
    on_reject: Optional[Callable[[Reject], Any]] = None,
    on_progress: Optional[Callable[[int], Any]] = None,
    **reader_kwargs: Any,
) -> FoldResult:
    """Read every snapshot in *paths* and fold them into one :class:`JobTable`.

    Decodes the lean :class:`~jobstream.models.JobView` by default: it holds every field
    the reducer reads, so the table is the same as with ``model="full"``.
    """
    reader = Reader(paths, model=model, strict=strict, on_reject=on_reject, on_progress=on_progress, **reader_kwargs)
    table = JobTable()
    for batch in reader.batches():
        table.update(batch)
    return FoldResult(table, reader.stats)


def summarize(paths: Iterable[PathArg], *, by: Optional[str] = None, **kwargs: Any) -> Summary:
    """Fold every snapshot in *paths* into one :class:`Summary`; ``jobstream summary`` prints it."""
    result = fold_paths(paths, **kwargs)
    summary = result.table.summary(by=by)
    summary.lines = result.stats.lines
    summary.rejected = result.stats.rejected
    return summary
