"""Whole runs: read paths and fold (or validate) them, in one process or several.

:func:`fold_paths` is the call behind ``jobstream summary|jobs|events`` and
:func:`validate_paths` the one behind ``jobstream validate``.  Large inputs are read by
several processes through :mod:`jobstream.run.parallel`; every process reads through the same
framer and decode step as a single-process read, and the merged table equals a single pass.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import msgspec

from ..decode.decoder import Model, Reject, SnapshotDecoder
from ..decode.step import DecodeStep, ReadStats
from ..errors import SourceError
from ..io.framing import DEFAULT_BLOCK_SIZE, DEFAULT_MAX_LINE_BYTES, Framer
from ..io.sources import PathArg, Source, open_source, reader_of
from ..reduce.reducer import JobTable
from ..reduce.summary import Summary
from . import parallel
from .reader import Reader, read_blocks, resolve_sources

__all__ = [
    "FoldResult",
    "Fold",
    "Check",
    "run_paths",
    "fold_paths",
    "validate_paths",
    "summarize",
    "read_unit",
    "PARALLEL_MIN_BYTES",
    "RANGE_BYTES",
]

#: Inputs smaller than this are read in one process: workers would cost more than they save.
PARALLEL_MIN_BYTES = 32 << 20
#: Byte ranges of a plain file are at least this big.
RANGE_BYTES = 16 << 20


class FoldResult(msgspec.Struct):
    """A folded table and what reading saw (``table, stats = fold_paths(...)`` unpacks it)."""

    table: JobTable
    stats: ReadStats

    def __iter__(self) -> Iterator[Any]:
        return iter((self.table, self.stats))


def read_unit(
    unit: parallel.Unit,
    fds: dict[Source, int],
    decoder: SnapshotDecoder,
    stats: ReadStats,
    rejects: list[Reject],
    each: Callable[[list[Any]], Any],
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    buffer: bytearray | None = None,
) -> int:
    """Read one unit (a byte range of a plain file, or a whole input) through the one framer
    and decode step, handing each batch of snapshots to *each*.  Returns the unit's number of
    lines (blank ones too).  An input that fails mid-way is recorded in *rejects*."""
    src = unit.source
    label = src.label
    step = DecodeStep(decoder, stats, rejects)
    framer = Framer(label, max_line_bytes=decoder.max_line_bytes, offset=unit.start, strip_bom=unit.start == 0)
    fd = fds.get(src)
    stream: Any = None
    try:
        if unit.end >= 0 and fd is not None:  # a range of an open plain file
            pos = unit.start

            def read(view: memoryview) -> int:
                nonlocal pos
                n = os.preadv(fd, [view[: unit.end - pos]], pos) if pos < unit.end else 0
                if not n and pos < unit.end:
                    raise SourceError(_SHRANK)
                pos += n
                return n

            into = True
        elif unit.end >= 0:  # a range of a plain file not opened yet (a Dask worker's; a URL)
            stream = open_source(src, start=unit.start)
            read, into = _bounded(*reader_of(stream), unit.end - unit.start)
        else:  # a stream: compressed, or not opened yet
            stream = open_source(src, fd=fd)
            read, into = reader_of(stream)
        for snaps in read_blocks(read, framer, step, into=into, block_size=block_size, buffer=buffer):
            if snaps:
                each(snaps)
    except (SourceError, OSError) as exc:
        step.fail(label, framer.position, exc)
    finally:
        if stream is not None:
            stream.close()
    return step.line - 1


#: A planned range that ends early: its lines would be lost without a word.
_SHRANK = "the file is shorter than when the read was planned (truncated or replaced while read?)"


def _bounded(read: Any, into: bool, left: int) -> tuple[Any, bool]:
    """*read* (as :func:`~jobstream.io.sources.reader_of` gives it) stopped after *left* bytes;
    the input ending before them is a :class:`SourceError`."""
    if into:

        def read_into(view: memoryview) -> int:
            nonlocal left
            n: int = read(view[:left]) if left > 0 else 0
            if not n and left > 0:
                raise SourceError(_SHRANK)
            left -= n
            return n

        return read_into, True

    def read_bytes(n: int) -> bytes:
        nonlocal left
        data: bytes = read(min(n, left)) if left > 0 else b""
        if not data and left > 0:
            raise SourceError(_SHRANK)
        left -= len(data)
        return data

    return read_bytes, False


class Fold:
    """The work of :func:`fold_paths`: snapshots folded into a :class:`JobTable`; each process
    folds what it reads and the tables travel back in their compact wire form to be merged."""

    def __init__(self, model: Model = "view") -> None:
        self.model: Model = model

    def begin(self) -> JobTable:
        return JobTable()

    def each(self, table: JobTable) -> Callable[[list[Any]], Any]:
        return table.update

    def merge(self, tables: list[JobTable]) -> JobTable:
        table = tables[0]
        for other in tables[1:]:
            table.merge_in(other, consume=True)
        return table

    encode = staticmethod(JobTable.to_bytes)
    decode = staticmethod(JobTable.from_bytes)


class Check:
    """The work of :func:`validate_paths`: every line decoded with the full schema, nothing kept."""

    model: Model = "full"

    def begin(self) -> None:
        return None

    def each(self, _: None) -> Callable[[list[Any]], Any]:
        return _discard

    def merge(self, _: list[None]) -> None:
        return None

    @staticmethod
    def encode(_: None) -> bytes:
        return b""

    @staticmethod
    def decode(_: bytes) -> None:
        return None


#: What a run does with the snapshots it reads (:class:`Fold` or :class:`Check`).
Work = Fold | Check


def _discard(snaps: list[Any]) -> None:
    pass


class _InProcess:
    """The work of one worker process: read its units through the one framer and decode step.

    A class, not a closure: a spawned worker receives it pickled."""

    def __init__(self, work: Work, max_line_bytes: int, block_size: int) -> None:
        self.work, self.max_line_bytes, self.block_size = work, max_line_bytes, block_size

    def __call__(self, units: Sequence[parallel.Unit], fds: dict[Source, int]) -> tuple[Any, list[parallel.UnitResult]]:
        work, block_size = self.work, self.block_size
        decoder = SnapshotDecoder(work.model, max_line_bytes=self.max_line_bytes)
        acc: Any = work.begin()
        each = work.each(acc)
        results = []
        buffer = bytearray(block_size)  # one block for every unit this process reads
        for unit in units:
            stats = ReadStats(sources=1 if unit.start == 0 else 0)
            rejects: list[Reject] = []
            lines = read_unit(unit, fds, decoder, stats, rejects, each, block_size=block_size, buffer=buffer)
            results.append(parallel.UnitResult(unit.index, lines, stats, rejects))
        return acc, results


def run_paths(
    paths: PathArg | Iterable[PathArg],
    work: Work,
    *,
    strict: bool = False,
    on_reject: Callable[[Reject], Any] | None = None,
    on_progress: Callable[[int], Any] | None = None,
    workers: int | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    block_size: int = DEFAULT_BLOCK_SIZE,
    min_parallel_bytes: int = PARALLEL_MIN_BYTES,
    range_bytes: int = RANGE_BYTES,
) -> tuple[Any, ReadStats]:
    """Read every line of *paths* and do *work* with the snapshots: its result and the stats.

    Inputs of *min_parallel_bytes* or more are read by *workers* processes (default: one per
    core), in newline-aligned ranges of at least *range_bytes*; stdin and *strict* runs use
    one process.  Either way every line goes through the same framer and decode step, and
    rejects reach *on_reject* in input order, numbered as in their file."""
    sources = resolve_sources(paths)
    gc_was = gc.isenabled()
    gc.disable()  # the fold makes no reference cycles: collection passes would find nothing
    try:
        if not strict:
            n = parallel.default_workers() if workers is None else max(1, workers)
            planned = parallel.plan(sources, n, min_bytes=min_parallel_bytes, min_range=range_bytes)
            if planned is not None:
                return _parallel(planned, work, n, on_reject, on_progress, max_line_bytes, block_size)
        reader = Reader(
            sources,
            model=work.model,
            strict=strict,
            on_reject=on_reject,
            on_progress=on_progress,
            max_line_bytes=max_line_bytes,
            block_size=block_size,
        )
        acc: Any = work.begin()
        each = work.each(acc)
        for batch in reader.batches():
            each(batch)
        return acc, reader.stats
    finally:
        if gc_was:
            gc.enable()


def _parallel(
    planned: tuple[list[parallel.Unit], dict[Source, int]],
    work: Work,
    n: int,
    on_reject: Callable[[Reject], Any] | None,
    on_progress: Callable[[int], Any] | None,
    max_line_bytes: int,
    block_size: int,
) -> tuple[Any, ReadStats]:
    units, fds = planned
    try:
        outcome = parallel.run(
            units, fds, _InProcess(work, max_line_bytes, block_size), workers=n, encode=work.encode, decode=work.decode
        )
    finally:
        for fd in fds.values():
            os.close(fd)
    stats = ReadStats()
    for res in outcome.units:
        stats = stats.merge(res.stats)
    if on_progress is not None:
        on_progress(sum(u.size if u.end < 0 else u.end - u.start for u in units))
    if on_reject is not None:
        for rej in parallel.renumber(units, outcome.units):
            on_reject(rej)
    return work.merge(outcome.payloads), stats


def fold_paths(
    paths: PathArg | Iterable[PathArg],
    *,
    model: Model = "view",
    strict: bool = False,
    on_reject: Callable[[Reject], Any] | None = None,
    on_progress: Callable[[int], Any] | None = None,
    workers: int | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    block_size: int = DEFAULT_BLOCK_SIZE,
    min_parallel_bytes: int = PARALLEL_MIN_BYTES,
    range_bytes: int = RANGE_BYTES,
) -> FoldResult:
    """Read every snapshot in *paths* and fold them into one :class:`JobTable`.

    Decodes :class:`~jobstream.decode.models.JobView` by default: it holds every field a
    :class:`JobState` shows, so on lines the full schema accepts the table equals one
    folded with ``model="full"`` (a projection type-checks only the fields it reads:
    ``validate`` checks the rest); ``model="lean"`` skips checkpoints and integrations
    (enough for summaries and events).  The other arguments are :func:`run_paths`'.
    """
    table, stats = run_paths(
        paths,
        Fold(model),
        strict=strict,
        on_reject=on_reject,
        on_progress=on_progress,
        workers=workers,
        max_line_bytes=max_line_bytes,
        block_size=block_size,
        min_parallel_bytes=min_parallel_bytes,
        range_bytes=range_bytes,
    )
    return FoldResult(table, stats)


def validate_paths(
    paths: PathArg | Iterable[PathArg],
    *,
    strict: bool = False,
    on_reject: Callable[[Reject], Any] | None = None,
    on_progress: Callable[[int], Any] | None = None,
    workers: int | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    block_size: int = DEFAULT_BLOCK_SIZE,
    min_parallel_bytes: int = PARALLEL_MIN_BYTES,
    range_bytes: int = RANGE_BYTES,
) -> ReadStats:
    """Check every line of *paths* against the full schema; ``jobstream validate`` calls this.

    *strict* raises :class:`~jobstream.errors.InvalidLineError` at the first reject (after
    reporting it).  The other arguments are :func:`run_paths`'.
    """
    _, stats = run_paths(
        paths,
        Check(),
        strict=strict,
        on_reject=on_reject,
        on_progress=on_progress,
        workers=workers,
        max_line_bytes=max_line_bytes,
        block_size=block_size,
        min_parallel_bytes=min_parallel_bytes,
        range_bytes=range_bytes,
    )
    return stats


def summarize(paths: PathArg | Iterable[PathArg], *, by: str | None = None, **kwargs: Any) -> Summary:
    """Fold every snapshot in *paths* into one :class:`Summary`; ``jobstream summary`` prints it."""
    return fold_paths(paths, **kwargs).table.summary(by=by)
