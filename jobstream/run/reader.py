"""The reader: sources -> framing -> decode, in one process, with positions, counts and rejects.

Every non-blank line ends up either *accepted* (its snapshot, or a list page's jobs, is
yielded) or *rejected* (handed to ``on_reject`` and counted): the accounting is
:class:`~jobstream.decode.step.DecodeStep`'s.  ``strict=True`` raises at the first reject instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

import msgspec

from ..decode.decoder import Model, Reject, SnapshotDecoder
from ..decode.step import DecodeStep, ReadStats
from ..errors import InvalidLineError, SourceError
from ..io.framing import DEFAULT_BLOCK_SIZE, DEFAULT_MAX_LINE_BYTES, Framer
from ..io.sources import PathArg, Source, as_paths, consumed, expand_sources, open_source, reader_of

__all__ = ["ReadOptions", "Reader", "read", "read_blocks", "resolve_sources"]


class ReadOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How to read: the options every reading command shares, as one value.

    * ``max_line_bytes``: longer lines are rejected (skipped as they stream past);
    * ``workers``: processes for large inputs (None: one per core);
    * ``strict``: stop at the first rejected line (:class:`~jobstream.errors.InvalidLineError`);
    * ``max_rejects``: a run that rejects more lines than this fails (None: any number);
    * ``dask``: read and fold on a Dask cluster: a scheduler address (``tcp://host:8786``),
      or ``local`` / ``local:N`` for a ``LocalCluster`` of N worker processes started for
      the run (the ``dask`` extra; see :mod:`jobstream.run.dask`).  ``workers`` is then unused.
    """

    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    workers: int | None = None
    strict: bool = False
    max_rejects: int | None = None
    dask: str | None = None


Read = Callable[[int], bytes]
ReadInto = Callable[[memoryview], int]


def read_blocks(
    read: Read | ReadInto,
    framer: Framer,
    step: DecodeStep,
    *,
    into: bool = False,
    block_size: int = DEFAULT_BLOCK_SIZE,
    on_block: Callable[[int], Any] | None = None,
    buffer: bytearray | None = None,
    finish: bool = True,
) -> Iterator[list[Any]]:
    """Read a block at a time through *framer* and *step*: snapshot batches.

    *read(n)* returns the next bytes; with *into*, *read(view)* fills a buffer instead and
    returns how many bytes it put there: one buffer, refilled, with no new memory per block
    (the decoded snapshots never hold on to the buffer); pass *buffer* to share one across
    inputs (many small files must not cost a new block each).  *on_block* is told the size
    of each block read.  The end of the input ends the framing (a last line without its
    newline is a line), unless *finish* is false: then such a line stays held in *framer*
    (``framer.position`` is where it starts), for a later read."""
    buf = (buffer if buffer is not None else bytearray(block_size)) if into else None
    view = memoryview(buf) if buf is not None else None
    fill = cast(ReadInto, read)
    take = cast(Read, read)
    if buf is not None:
        block_size = len(buf)
    while True:
        if buf is not None and view is not None:
            n = fill(view)
            block: Any = buf if n == block_size else buf[:n]
        else:
            block = take(block_size)
            n = len(block)
        if not n:
            break
        if on_block is not None:
            on_block(n)
        for frame in framer.feed(block):
            snaps = step(frame)
            if snaps or step.rejects:
                yield snaps
    if not finish:
        return
    for frame in framer.finish():
        snaps = step(frame)
        if snaps or step.rejects:
            yield snaps


class Reader:
    """Iterate over the snapshots in *paths* (files, directories, globs, ``-``, ``.gz``).

    ``model="view"`` decodes only what the reducer reads (faster); ``"lean"`` less (no
    checkpoints or integrations); ``"full"`` the whole schema.  Rejected lines go to
    *on_reject*; with *strict* the first one raises :class:`~jobstream.errors.InvalidLineError`.
    ``stats`` is filled as reading goes.
    """

    def __init__(
        self,
        paths: PathArg | Iterable[PathArg],
        *,
        model: Model = "full",
        strict: bool = False,
        on_reject: Callable[[Reject], Any] | None = None,
        on_progress: Callable[[int], Any] | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> None:
        # names are expanded now, so a missing file fails before anything is read
        self.sources = resolve_sources(paths)
        self.decoder = SnapshotDecoder(model, max_line_bytes=max_line_bytes)
        self.strict = strict
        self.on_reject = on_reject
        self.on_progress = on_progress
        self.block_size = block_size
        self.stats = ReadStats()
        self._buffer: bytearray | None = None  # one block, refilled for every plain file

    def _handle(self, rejects: list[Reject]) -> None:
        for rej in rejects:
            if self.on_reject is not None:
                self.on_reject(rej)
            if self.strict:
                raise InvalidLineError(rej.error, path=rej.source, lineno=rej.line, line=rej.raw)
        rejects.clear()

    def batches(self) -> Iterator[list[Any]]:
        """Snapshots a chunk at a time (lists), for consumers that work in batches.

        An input that cannot be read (to its end) is reported to ``on_reject`` as a record
        saying where reading stopped and why, counted in ``stats.failed``, and reading goes
        on with the next one (``strict`` stops there instead).
        """
        rejects: list[Reject] = []
        for src in self.sources:
            self.stats.sources += 1
            step = DecodeStep(self.decoder, self.stats, rejects)
            try:
                stream = open_source(src)
            except SourceError as exc:
                step.fail(src.label, 0, exc)  # nothing read yet: from line 1 on
                self._handle(rejects)
                continue
            framer = Framer(src.label, max_line_bytes=self.decoder.max_line_bytes)
            read, into = reader_of(stream)
            if into and self._buffer is None:
                self._buffer = bytearray(self.block_size)
            progress = _ProgressOf(stream, self.on_progress) if self.on_progress is not None else None
            try:
                for snaps in read_blocks(
                    read, framer, step, into=into, block_size=self.block_size, on_block=progress, buffer=self._buffer
                ):
                    if rejects:
                        self._handle(rejects)
                    if snaps:
                        yield snaps
            except (SourceError, OSError) as exc:
                step.fail(src.label, framer.position, exc)
                self._handle(rejects)
            finally:
                if not src.is_stdin:
                    stream.close()

    def __iter__(self) -> Iterator[Any]:
        for batch in self.batches():
            yield from batch


class _ProgressOf:
    """Turns blocks read into progress: bytes of the file consumed (compressed ones for gzip)."""

    __slots__ = ("stream", "report", "pos")

    def __init__(self, stream: Any, report: Callable[[int], Any]) -> None:
        self.stream, self.report, self.pos = stream, report, 0

    def __call__(self, n: int) -> None:
        now = consumed(self.stream)
        if now is None:
            self.report(n)
        else:
            self.report(now - self.pos)
            self.pos = now


def resolve_sources(paths: PathArg | Iterable[PathArg]) -> list[Source]:
    """Sources for *paths* (one or many), in order: :class:`Source` objects as given, names expanded."""
    return expand_sources(paths)


def read(paths: PathArg | Iterable[PathArg], **kwargs: Any) -> Reader:
    """Snapshots from *paths* (one path or many): ``for snap in read("jobs.ndjson"): ...``.

    Keyword arguments are :class:`Reader`'s (``model``, ``strict``, ``on_reject``, ...).
    """
    return Reader(as_paths(paths), **kwargs)
