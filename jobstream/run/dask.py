"""The same read and fold on a Dask cluster (the ``dask`` extra: dask + distributed).

jobstream's fold is a mergeable semilattice and its partial tables have a compact wire
form, so a cluster only has to run the single-machine stages on pieces of the input and
merge what comes back:

* **Partitions** (:func:`plan`).  A compressed file is one partition (it cannot be split);
  a plain file larger than *blocksize* is cut into blocks of about *blocksize* bytes; small
  files are batched, several to a partition.  The client only lists the inputs: each
  worker aligns its own block to lines with :func:`jobstream.run.parallel.line_start` (the rule
  the local parallel reader cuts with), so neighbouring blocks meet exactly: a line is
  never split, and a CRLF or a leading BOM never straddles two partitions.
* **One copy of each stage.**  A worker reads its pieces with
  :func:`jobstream.run.batch.read_unit`: the same framer and decode step as a local run.
  msgspec decoders do not pickle: each worker thread builds its own, on first use.
* **Tree merge.**  Partial tables are merged ``split_every`` at a time
  (``Bag.reduction``), never all on one worker; a :class:`~jobstream.reduce.reducer.JobTable`
  crosses processes in its msgpack wire form (:meth:`~jobstream.reduce.reducer.JobTable.to_bytes`).
* **Exact rejects.**  Each piece's rejects and line count come back to the client (msgpack),
  which renumbers them from the line counts of the pieces before (as the local parallel
  reader does) and hands them out in input order: the same records, at the same lines,
  as a single-process run.
* **Retries.**  Partitions are deterministic and the fold is idempotent, so a task that
  Dask runs again (its worker died) gives the same result.

Local paths are sent to the workers as absolute paths (rejects still name them as they
were given): the workers must be able to read them, on a shared filesystem or on this
machine.  URLs (``s3://...``) are opened by each worker through fsspec.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import dask
import msgspec
from dask.base import compute

from ..decode.decoder import Model, Reject, Snapshot, SnapshotDecoder
from ..decode.step import ReadStats, source_failure
from ..errors import InvalidLineError, JobstreamError, SourceError
from ..io.framing import DEFAULT_MAX_LINE_BYTES
from ..io.sources import COMPRESSED_SUFFIXES, HEAD_BYTES, PathArg, Source, is_compressed_head, read_at
from ..reduce.reducer import JobTable
from .batch import FoldResult, read_unit
from .parallel import Unit, UnitResult, line_start, renumber
from .reader import resolve_sources

if TYPE_CHECKING:
    import dask.bag
    from distributed import Client

__all__ = [
    "DEFAULT_BLOCKSIZE",
    "Piece",
    "plan",
    "partitions",
    "tables",
    "merge",
    "fold",
    "validate",
    "connect",
    "parse_address",
]

#: Bytes of plain input per partition: big enough that a task's overhead is small, small
#: enough that a 1 GB log keeps a few workers busy.
DEFAULT_BLOCKSIZE = 64 << 20
#: A compressed file's bytes count this many times when batching (decompressing costs more).
COMPRESSED_WEIGHT = 6
#: At most this many files in one partition.
MAX_FILES_PER_PARTITION = 1000

#: One piece of a partition: a unit (a whole input, or a block ``[start, end)`` not yet
#: aligned to lines) and the size of its file as planned (-1 for a whole input).
Piece = tuple[Unit, int]

_RESULTS = msgspec.msgpack.Decoder(list[UnitResult])
#: How ``connect("local")`` starts its workers: fork on Linux (see :func:`connect`).
_LOCAL_START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"
_local = threading.local()


# --------------------------------------------------------------------------- the plan (client)


def _for_workers(src: Source) -> Source:
    """*src* as a worker opens it: an absolute path (workers have their own working directory),
    still named as the user gave it."""
    if src.is_stdin:
        raise SourceError("standard input cannot be read on a Dask cluster: give files (or URLs) the workers can read")
    if src.is_remote:
        return src
    return Source(os.path.abspath(src.name), size_hint=src.size_hint, shown=src.label)


def plan(paths: PathArg | Iterable[PathArg], *, blocksize: int = DEFAULT_BLOCKSIZE) -> list[list[Piece]]:
    """The partitions a Dask run reads *paths* in: lists of pieces, in input order.

    Only the inputs are listed (and the first bytes of each file larger than *blocksize*
    read, to tell a compressed one, which is never split): no file is scanned here."""
    if blocksize < 1:
        raise ValueError("blocksize must be at least 1 byte")
    parts: list[list[Piece]] = []
    batch: list[Piece] = []
    weight = 0

    def flush() -> None:
        nonlocal batch, weight
        if batch:
            parts.append(batch)
        batch, weight = [], 0

    index = 0
    for src in resolve_sources(paths):
        shipped = _for_workers(src)
        size = src.size()
        compressed = src.name.endswith(COMPRESSED_SUFFIXES)
        if size is not None and size > blocksize and not compressed:
            try:
                compressed = is_compressed_head(read_at(src, 0, HEAD_BYTES))
            except SourceError:
                pass  # its worker reports why it cannot be read
        if size is None or size <= blocksize or compressed:
            cost = (size if size is not None else blocksize) * (COMPRESSED_WEIGHT if compressed else 1)
            if batch and (weight + cost > blocksize or len(batch) >= MAX_FILES_PER_PARTITION):
                flush()
            batch.append((Unit(index, shipped, 0, -1, size or 0), -1))
            weight += cost
            index += 1
            continue
        flush()
        n = math.ceil(size / blocksize)
        for k in range(n):
            start, end = size * k // n, size * (k + 1) // n
            parts.append([(Unit(index, shipped, start, end, end - start), size)])
            index += 1
    flush()
    return parts


# --------------------------------------------------------------------------- the work (workers)


def _decoder(model: Model, max_line_bytes: int) -> SnapshotDecoder:
    """This worker thread's decoder (msgspec decoders do not pickle: built here, once)."""
    cache: dict[tuple[str, int], SnapshotDecoder] = _local.__dict__.setdefault("decoders", {})
    dec = cache.get((model, max_line_bytes))
    if dec is None:
        dec = cache[(model, max_line_bytes)] = SnapshotDecoder(model, max_line_bytes=max_line_bytes)
    return dec


def _read_piece(
    piece: Piece,
    decoder: SnapshotDecoder,
    stats: ReadStats,
    rejects: list[Reject],
    each: Callable[[list[Snapshot]], Any],
) -> int:
    """Read one piece through :func:`~jobstream.run.batch.read_unit`; returns its line count.

    A block is first aligned to lines (:func:`~jobstream.run.parallel.line_start` at both ends);
    a block of a file that turns out to be compressed is read whole by the block at 0."""
    unit, file_size = piece
    if unit.end < 0:
        return read_unit(unit, {}, decoder, stats, rejects, each)
    src = unit.source
    try:
        if is_compressed_head(read_at(src, 0, HEAD_BYTES)):
            if unit.start > 0:
                return 0
            return read_unit(Unit(unit.index, src, 0, -1), {}, decoder, stats, rejects, each)

        def pread(n: int, at: int) -> bytes:
            return read_at(src, at, n)

        start = line_start(pread, unit.start, file_size)
        end = file_size if unit.end >= file_size else line_start(pread, unit.end, file_size)
    except SourceError as exc:
        rejects.append(source_failure(src.label, 1, unit.start, exc))
        stats.failed += 1
        return 0
    if start >= end:
        return 0  # inside one long line that an earlier block reads
    return read_unit(Unit(unit.index, src, start, end), {}, decoder, stats, rejects, each)


def _read_partition(
    pieces: Sequence[Piece], model: Model, max_line_bytes: int, fold: bool
) -> tuple[JobTable | None, bytes]:
    """One partition: its partial table (None when only validating), and every piece's
    line count, stats and rejects (msgpack)."""
    decoder = _decoder(model, max_line_bytes)
    table = JobTable() if fold else None
    each: Callable[[list[Snapshot]], Any] = table.update if table is not None else _discard
    results = []
    gc_was = gc.isenabled()
    gc.disable()  # the fold makes no reference cycles (as in a local run): collections would find nothing
    try:
        for piece in pieces:
            unit = piece[0]
            stats = ReadStats(sources=1 if unit.start == 0 else 0)
            rejects: list[Reject] = []
            lines = _read_piece(piece, decoder, stats, rejects, each)
            results.append(UnitResult(unit.index, lines, stats, rejects))
    finally:
        if gc_was:
            gc.enable()
    return table, msgspec.msgpack.encode(results)


def _discard(snaps: list[Snapshot]) -> None:
    pass


def _merge_tables(tables: Iterable[JobTable | None]) -> JobTable:
    """Merge partial tables into a new one (inputs are left as they are: Dask may hold them)."""
    out = JobTable()
    for t in tables:
        if t is not None:
            out.merge_in(t)
    return out


# --------------------------------------------------------------------------- collections


def _bag(parts: Sequence[Sequence[Piece]], model: Model, max_line_bytes: int, fold: bool) -> dask.bag.Bag:
    import dask.bag  # (only for the bags a Dask user composes: fold and validate run without it)

    seq = [list(p) for p in parts]
    return dask.bag.from_sequence(seq, npartitions=max(1, len(seq))).map(
        _read_partition, model=model, max_line_bytes=max_line_bytes, fold=fold
    )


def partitions(
    paths: PathArg | Iterable[PathArg],
    *,
    blocksize: int = DEFAULT_BLOCKSIZE,
    model: Model = "view",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> dask.bag.Bag:
    """A bag with one element per partition of *paths*: ``(JobTable, rejects)``, where
    ``rejects`` is the msgpack of the partition's :class:`~jobstream.run.parallel.UnitResult`\\ s
    (see :func:`fold` for turning them into numbered rejects)."""
    return _bag(plan(paths, blocksize=blocksize), model, max_line_bytes, True)


def tables(
    paths: PathArg | Iterable[PathArg],
    *,
    blocksize: int = DEFAULT_BLOCKSIZE,
    model: Model = "view",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> dask.bag.Bag:
    """A bag of partial :class:`~jobstream.reduce.reducer.JobTable`\\ s, one per partition of *paths*,
    to compose with other Dask work; :func:`merge` (or any merge order) gives the whole table::

        bag = jobstream.run.dask.tables("s3://bucket/logs/")
        table = jobstream.run.dask.merge(bag).compute()
    """
    return partitions(paths, blocksize=blocksize, model=model, max_line_bytes=max_line_bytes).pluck(0)


def merge(tables: dask.bag.Bag, *, split_every: int = 8) -> Any:
    """The tree merge of a bag of partial tables (*split_every* at a time): a Dask item
    whose ``compute()`` is one :class:`~jobstream.reduce.reducer.JobTable`."""
    return tables.reduction(_merge_tables, _merge_tables, split_every=split_every)


# --------------------------------------------------------------------------- runs


def _graph(
    parts: Sequence[Sequence[Piece]], model: Model, max_line_bytes: int, fold: bool, split_every: int
) -> tuple[Any, list[Any]]:
    """The run as Dask tasks: one read per partition, the tree merge of their tables (None
    when only validating), and each partition's results (rejects, counts) picked out.

    Built from delayed calls rather than bag steps: two small tasks per partition instead
    of five, and the reads keep their keys, so the merge and the results share them."""
    from operator import getitem

    from dask.base import tokenize
    from dask.delayed import delayed

    token = tokenize(
        [[(u.index, u.source.name, u.start, u.end, size) for u, size in p] for p in parts], model, max_line_bytes, fold
    )
    reads = [
        delayed(_read_partition)(list(p), model, max_line_bytes, fold, dask_key_name=f"jobstream-read-{token}-{i}")
        for i, p in enumerate(parts)
    ]
    results = [delayed(getitem)(r, 1, dask_key_name=f"jobstream-rejects-{token}-{i}") for i, r in enumerate(reads)]
    if not fold:
        return None, results
    level: list[Any] = reads
    depth = 0
    while len(level) > 1 or depth == 0:
        level = [
            delayed(_merge_parts)(*level[i : i + split_every], dask_key_name=f"jobstream-merge-{token}-{depth}-{i}")
            for i in range(0, len(level), split_every)
        ]
        depth += 1
    return level[0], results


def _merge_parts(*parts: Any) -> JobTable:
    """Merge partition outputs ``(table, results)`` or merged tables into a new table."""
    return _merge_tables(p[0] if isinstance(p, tuple) else p for p in parts)


def _compute(
    client: Client | None,
    parts: Sequence[Sequence[Piece]],
    table: Any,
    results: list[Any],
    on_progress: Callable[[int], Any] | None,
) -> tuple[JobTable | None, list[bytes]]:
    """Compute the merged table (if any) and every partition's results, reporting progress
    (bytes of input) as partitions finish when a distributed client runs them."""
    try:
        if client is None:
            try:
                from distributed import default_client

                client = default_client()
            except (ImportError, ValueError):  # no distributed client: the configured scheduler, else processes
                merged, packed = compute(table, results, scheduler=dask.config.get("scheduler", None) or "processes")
                if on_progress is not None:
                    on_progress(sum(_bytes(p) for p in parts))
                return merged, list(packed)
        from distributed import as_completed

        futures = client.compute(([table] if table is not None else []) + results, optimize_graph=False)
        table_future = futures.pop(0) if table is not None else None
        where = {f.key: i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            if on_progress is not None:
                on_progress(_bytes(parts[where[fut.key]]))
        packed = client.gather(futures)
        merged = table_future.result() if table_future is not None else None
        return merged, packed
    except (JobstreamError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - a cluster that failed the run: one line
        raise JobstreamError(f"the Dask run failed: {type(exc).__name__}: {' '.join(str(exc).split())}") from None


def _bytes(pieces: Sequence[Piece]) -> int:
    return sum(u.size if u.end < 0 else u.end - u.start for u, _ in pieces)


def _gather(parts: Sequence[Sequence[Piece]], packed: Sequence[bytes]) -> tuple[ReadStats, list[Reject]]:
    """Every piece's stats summed, and every reject in input order at its true line."""
    units: list[Unit] = []
    results: list[UnitResult] = []
    for pieces, data in zip(parts, packed, strict=True):  # one packed result per part
        units.extend(u for u, _ in pieces)
        results.extend(_RESULTS.decode(data))
    units.sort(key=lambda u: u.index)
    stats = ReadStats()
    for res in results:
        stats = stats.merge(res.stats)
    return stats, renumber(units, results)


def _hand_out(rejects: Iterable[Reject], on_reject: Callable[[Reject], Any] | None, strict: bool) -> None:
    for rej in rejects:
        if on_reject is not None:
            on_reject(rej)
        if strict:
            raise InvalidLineError(rej.error, path=rej.source, lineno=rej.line, line=rej.raw)


def fold(
    paths: PathArg | Iterable[PathArg],
    client: Client | None = None,
    *,
    blocksize: int = DEFAULT_BLOCKSIZE,
    model: Model = "view",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    split_every: int = 8,
    strict: bool = False,
    on_reject: Callable[[Reject], Any] | None = None,
    on_progress: Callable[[int], Any] | None = None,
) -> FoldResult:
    """Read and fold *paths* on a Dask cluster: the table and read stats a single-process
    :func:`~jobstream.run.batch.fold_paths` gives (``table, stats = fold(...)``).

    *client*: a ``distributed.Client`` (None: the current one, else Dask's default
    scheduler).  Rejects are gathered to this process and reach *on_reject* in input order,
    numbered as in the file; *strict* raises :class:`~jobstream.errors.InvalidLineError` for
    the first (after the run).  *on_progress* is told the input bytes of each finished
    partition."""
    parts = plan(paths, blocksize=blocksize)
    table, packed = _compute(client, parts, *_graph(parts, model, max_line_bytes, True, split_every), on_progress)
    stats, rejects = _gather(parts, packed)
    _hand_out(rejects, on_reject, strict)
    assert table is not None
    return FoldResult(table, stats)


def validate(
    paths: PathArg | Iterable[PathArg],
    client: Client | None = None,
    *,
    blocksize: int = DEFAULT_BLOCKSIZE,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    strict: bool = False,
    on_reject: Callable[[Reject], Any] | None = None,
    on_progress: Callable[[int], Any] | None = None,
) -> ReadStats:
    """Check every line of *paths* against the full schema on a Dask cluster, as
    :func:`~jobstream.run.batch.validate_paths` does; rejects reach *on_reject* in input order
    (*strict*: raise :class:`~jobstream.errors.InvalidLineError` for the first)."""
    parts = plan(paths, blocksize=blocksize)
    _, packed = _compute(client, parts, *_graph(parts, "full", max_line_bytes, False, 8), on_progress)
    stats, rejects = _gather(parts, packed)
    _hand_out(rejects, on_reject, strict)
    return stats


# --------------------------------------------------------------------------- clusters


def parse_address(address: str) -> tuple[str, int | None]:
    """``local`` / ``local:N`` as ``("local", N or None)``; a scheduler address as ``(address, None)``.

    Raises ValueError for ``local:`` with anything but a positive number."""
    if address == "local":
        return "local", None
    if address.startswith("local:"):
        n = address[len("local:") :]
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"local:N needs a positive number of workers, not {n!r}")
        return "local", int(n)
    if not address.strip():
        raise ValueError("give a scheduler address (tcp://host:8786) or local / local:N")
    return address, None


@contextmanager
def connect(address: str, *, timeout: float = 10.0) -> Iterator[Client]:
    """A client for *address* for the time of a run: ``tcp://host:8786`` (a running
    scheduler), or ``local`` / ``local:N`` (a ``LocalCluster`` of N worker processes, one
    thread each; N defaults to one per core), closed at the end."""
    import logging

    from distributed import Client, LocalCluster

    where, n = parse_address(address)
    if where == "local":
        from .parallel import default_workers

        # Forked workers start in a tenth of the time and begin with jobstream and its
        # decoders imported (spawned ones import everything first: 0.5 s of a 3 s run).
        method = _LOCAL_START_METHOD if _LOCAL_START_METHOD in multiprocessing.get_all_start_methods() else "spawn"
        # nobody watches this cluster's dashboard: its statistical profiler only takes the GIL
        config = {"distributed.worker.multiprocessing-method": method, "distributed.worker.profile.enabled": False}
        with (
            dask.config.set(config),
            LocalCluster(
                n_workers=n or default_workers(),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(where, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        why = " ".join(str(exc).split()) or type(exc).__name__
        raise JobstreamError(
            f"cannot reach the Dask scheduler at {where}: {why} "
            "(is `dask scheduler` running there? --dask local runs one here)"
        ) from None
    try:
        yield client
    finally:
        client.close()
