"""Whole runs: read paths and fold them, the calls behind ``jobstream summary|jobs|events``.

Large inputs are folded in parallel: plain files are cut into newline-aligned byte ranges
(a ``.gz`` file is one unit: it cannot be split), each range is folded in a worker process,
and the partial tables are merged, which the reducer guarantees equals a single pass.
Workers number their lines from 1; the parent renumbers rejects from the line counts of
the ranges before them, so every reject still names its true line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Union

import msgspec

from .decoder import Model, Reject, SnapshotDecoder
from .framing import DEFAULT_BLOCK_SIZE, DEFAULT_MAX_LINE_BYTES, iter_chunks
from .errors import SourceError
from .reader import Reader, ReadStats, decode_frames, resolve_sources, source_failure
from .reducer import JobTable
from .summary import Summary
from .sources import PathArg, Source, _is_gzip, open_source

__all__ = ["FoldResult", "fold_paths", "validate_paths", "summarize", "default_workers", "PARALLEL_MIN_BYTES"]


#: Inputs smaller than this are folded in one process: workers would cost more than they save.
PARALLEL_MIN_BYTES = 32 << 20
#: Ranges are at least this big, so per-range overhead stays small.
MIN_RANGE_BYTES = 16 << 20


class FoldResult(msgspec.Struct):
    """A folded table and what reading saw."""

    table: JobTable
    stats: ReadStats


def default_workers() -> int:
    """The number of cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class _Unit:
    index: int
    source: str
    start: int
    end: int  # -1: to the end (a whole, possibly compressed, file)


def _is_plain_file(src: Source) -> bool:
    if src.is_stdin or not os.path.isfile(src.name):
        return False
    try:
        with open(src.name, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False  # one whole unit: its worker reports why it cannot be read
    return not _is_gzip(head)


def _split(src: Source, size: int, parts: int) -> list[tuple[int, int]]:
    """Newline-aligned ``[start, end)`` ranges covering the file."""
    bounds = [0]
    with open(src.name, "rb") as fh:
        for k in range(1, parts):
            pos = size * k // parts
            if pos <= bounds[-1]:
                continue
            fh.seek(pos - 1)
            while True:
                block = fh.read(1 << 16)
                if not block:
                    pos = size
                    break
                nl = block.find(b"\n")
                if nl >= 0:
                    pos = fh.tell() - len(block) + nl + 1
                    break
            if pos < size and pos > bounds[-1]:
                bounds.append(pos)
    bounds.append(size)
    return list(zip(bounds, bounds[1:]))


def _plan(sources: list[Source], workers: int) -> Optional[list[_Unit]]:
    """Work units for a parallel fold, or None when one process is the better choice."""
    if workers <= 1 or any(s.is_stdin for s in sources):
        return None
    sizes = [s.size() for s in sources]
    if any(size is None for size in sizes) or sum(sizes) < PARALLEL_MIN_BYTES:  # type: ignore[arg-type]
        return None
    units: list[_Unit] = []
    for src, size in zip(sources, sizes):
        assert size is not None
        if _is_plain_file(src) and size >= 2 * MIN_RANGE_BYTES:
            parts = min(workers * 2, size // MIN_RANGE_BYTES)
            for start, end in _split(src, size, max(1, parts)):
                units.append(_Unit(len(units), src.name, start, end))
        else:
            units.append(_Unit(len(units), src.name, 0, -1))
    return units if len(units) > 1 else None


class _UnitResult(msgspec.Struct, array_like=True):
    index: int
    table: bytes
    stats: ReadStats
    lines_total: int  # every line of the range, blank ones too
    rejects: list[Reject]


def _fold_unit(unit: _Unit, model: Model, max_line_bytes: int, block_size: int, fold: bool = True) -> bytes:
    """Worker: decode (and, with *fold*, fold) one unit; the result travels as msgpack."""
    decoder = SnapshotDecoder(model, max_line_bytes=max_line_bytes, dedupe=True)
    table = JobTable()
    stats = ReadStats(sources=1 if unit.start == 0 else 0)
    rejects: list[Reject] = []
    src = Source(unit.source)
    try:
        stream = open_source(src)
    except SourceError as exc:
        stream = None
        rejects.append(source_failure(src.label, 1, unit.start, exc))
        stats.failed += 1
    if stream is not None:
        try:
            if unit.end >= 0:
                stream.seek(unit.start)
            frames = iter_chunks(
                stream,
                src.label,
                block_size=block_size,
                max_line_bytes=max_line_bytes,
                offset=unit.start,
                limit=unit.end - unit.start if unit.end >= 0 else -1,
                strip_bom=unit.start == 0,
            )
            for snaps, _ in decode_frames(frames, decoder, stats, rejects):
                if fold and snaps:
                    table.update(snaps)
        except (SourceError, OSError) as exc:
            rejects.append(source_failure(src.label, stats.lines + stats.blank + 1, unit.start + stats.bytes, exc))
            stats.failed += 1
        finally:
            stream.close()
    result = _UnitResult(unit.index, table.to_bytes() if fold else b"", stats, stats.lines + stats.blank, rejects)
    return msgspec.msgpack.encode(result)


_unit_decoder = msgspec.msgpack.Decoder(_UnitResult)


def _context() -> Any:
    import multiprocessing  # imported here: most runs never start a worker

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _fold_parallel(
    units: list[_Unit],
    workers: int,
    model: Model,
    max_line_bytes: int,
    block_size: int,
    on_reject: Optional[Callable[[Reject], Any]],
    on_progress: Optional[Callable[[int], Any]],
    fold: bool = True,
) -> FoldResult:
    from concurrent.futures import ProcessPoolExecutor

    # This process is one of the workers: it takes every n-th range itself, and a pool of
    # n - 1 processes the rest (one process less to start, and nothing to wait for idly).
    results: list[Optional[_UnitResult]] = [None] * len(units)
    n = min(workers, len(units))
    mine = units[::n]
    others = [u for u in units if u.index % n]

    def collect(data: bytes) -> None:
        res = _unit_decoder.decode(data)
        results[res.index] = res
        if on_progress is not None:  # bytes of the file, compressed ones for a .gz: what the bar counts
            unit = units[res.index]
            on_progress(unit.end - unit.start if unit.end >= 0 else (Source(unit.source).size() or 0))

    with ProcessPoolExecutor(max_workers=n - 1, mp_context=_context()) as pool:
        futures = [pool.submit(_fold_unit, u, model, max_line_bytes, block_size, fold) for u in others]
        for unit in mine:
            collect(_fold_unit(unit, model, max_line_bytes, block_size, fold))
        for fut in futures:
            collect(fut.result())
    table = JobTable()
    stats = ReadStats()
    line_base: dict[str, int] = {}
    for unit, done in zip(units, results):
        assert done is not None
        if fold:
            table.merge_in(JobTable.from_bytes(done.table), consume=True)
        stats = stats.merge(done.stats)
        # a source's ranges come in order; one named twice starts again at line 1
        base = 0 if unit.start == 0 else line_base[unit.source]
        line_base[unit.source] = base + done.lines_total
        if on_reject is not None:
            for rej in done.rejects:
                rej.line += base
                on_reject(rej)
    return FoldResult(table, stats)


def fold_paths(
    paths: Union[PathArg, Iterable[PathArg]],
    *,
    model: Model = "view",
    strict: bool = False,
    on_reject: Optional[Callable[[Reject], Any]] = None,
    on_progress: Optional[Callable[[int], Any]] = None,
    workers: Optional[int] = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> FoldResult:
    """Read every snapshot in *paths* and fold them into one :class:`JobTable`.

    Decodes :class:`~jobstream.models.JobView` by default: it holds every field a
    :class:`JobState` shows, so on lines the full schema accepts the table equals one
    folded with ``model="full"`` (a projection type-checks only the fields it reads:
    ``validate`` checks the rest);
    ``model="lean"`` skips checkpoints and integrations (enough for summaries and events).
    Lines byte-identical to an accepted one are not decoded again: folding is idempotent.  *workers*
    (default: the number of cores) fold large inputs in parallel processes; stdin, small
    inputs and ``strict`` runs use one process.  Rejects reach *on_reject* in input order.
    """
    sources = resolve_sources(paths)
    n = default_workers() if workers is None else max(1, workers)
    units = None if strict else _plan(sources, n)
    if units is not None:
        return _fold_parallel(units, n, model, max_line_bytes, block_size, on_reject, on_progress)
    reader = Reader(
        sources,
        model=model,
        strict=strict,
        on_reject=on_reject,
        on_progress=on_progress,
        max_line_bytes=max_line_bytes,
        block_size=block_size,
        dedupe=True,
    )
    table = JobTable()
    for batch in reader.batches():
        table.update(batch)
    return FoldResult(table, reader.stats)


def validate_paths(
    paths: Union[PathArg, Iterable[PathArg]],
    *,
    on_reject: Optional[Callable[[Reject], Any]] = None,
    on_progress: Optional[Callable[[int], Any]] = None,
    workers: Optional[int] = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> ReadStats:
    """Check every line of *paths* against the full schema; ``jobstream validate`` calls this.

    Rejects reach *on_reject* in input order.  A line byte-identical to one already
    accepted is valid without being decoded again (validity depends only on the bytes);
    large inputs are checked by *workers* processes, as in :func:`fold_paths`.
    """
    sources = resolve_sources(paths)
    n = default_workers() if workers is None else max(1, workers)
    units = _plan(sources, n)
    if units is not None:
        return _fold_parallel(units, n, "full", max_line_bytes, block_size, on_reject, on_progress, fold=False).stats
    reader = Reader(sources, model="full", on_reject=on_reject, on_progress=on_progress,
                    max_line_bytes=max_line_bytes, block_size=block_size, dedupe=True)
    for _ in reader.batches():
        pass
    return reader.stats


def summarize(paths: Union[PathArg, Iterable[PathArg]], *, by: Optional[str] = None, **kwargs: Any) -> Summary:
    """Fold every snapshot in *paths* into one :class:`Summary`; ``jobstream summary`` prints it."""
    return fold_paths(paths, **kwargs).table.summary(by=by)
