"""The reader: sources -> framing -> decode, with positions, counts and rejects.

Every non-blank line ends up either *accepted* (its snapshot, or a list page's jobs, is
yielded) or *rejected* (handed to ``on_reject`` and counted); ``ReadStats`` keeps
``accepted + rejected == lines``.  ``strict=True`` raises at the first reject instead.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Iterator, Optional, Union

import msgspec

from .decoder import Model, Reject, SnapshotDecoder
from .errors import InvalidLineError
from .framing import DEFAULT_BLOCK_SIZE, DEFAULT_MAX_LINE_BYTES, Chunk, Frame, iter_chunks
from .sources import Source, expand_sources, open_source

__all__ = ["ReadStats", "Reader", "read", "decode_frames", "resolve_sources"]

PathArg = Union[str, "os.PathLike[str]", Source]


class ReadStats(msgspec.Struct, kw_only=True):
    """What reading saw.  ``lines`` counts non-blank lines: ``accepted + rejected``."""

    sources: int = 0
    bytes: int = 0
    lines: int = 0
    blank: int = 0
    accepted: int = 0
    rejected: int = 0
    #: job objects read from accepted lines, repeats included (a list page gives several)
    snapshots: int = 0
    #: accepted lines not decoded again: byte-identical to one already accepted (``dedupe``)
    duplicates: int = 0

    def merge(self, other: "ReadStats") -> "ReadStats":
        return ReadStats(**{f: getattr(self, f) + getattr(other, f) for f in self.__struct_fields__})


def decode_frames(
    frames: Iterable[Frame], decoder: SnapshotDecoder, stats: ReadStats, rejects: list[Reject]
) -> Iterator[tuple[list[Any], int]]:
    """Decode framed input: yields ``(snapshots, bytes consumed)`` per frame.

    Keeps *stats* (every non-blank line counted as accepted or rejected) and appends each
    rejected line to *rejects*.  The one loop behind :class:`Reader` and the parallel workers.
    """
    for frame in frames:
        before = len(rejects)
        if isinstance(frame, Chunk):
            snaps, accepted, blank, read = decoder.decode_chunk(frame, rejects)
            size = len(frame.data)
            stats.accepted += accepted
            stats.blank += blank
            stats.snapshots += read
        else:
            snaps, accepted, size = [], 0, frame.length + frame.newline
            rejects.append(decoder.reject_oversized(frame))
        new = len(rejects) - before
        stats.bytes += size
        stats.rejected += new
        stats.lines += accepted + new
        stats.duplicates = decoder.duplicates
        yield snaps, size


class Reader:
    """Iterate over the snapshots in *paths* (files, directories, globs, ``-``, ``.gz``).

    ``model="view"`` decodes only what the reducer reads (faster); ``"full"`` the whole
    schema.  ``dedupe=True`` skips lines byte-identical to one already accepted (they are
    still counted as accepted): right for folding, which is idempotent, and much faster on
    polling logs, where most lines repeat.  Rejected lines go to *on_reject*; with *strict* the first one raises
    :class:`~jobstream.errors.InvalidLineError`.  ``stats`` is filled as reading goes.
    """

    def __init__(
        self,
        paths: Iterable[PathArg],
        *,
        model: Model = "full",
        strict: bool = False,
        on_reject: Optional[Callable[[Reject], Any]] = None,
        on_progress: Optional[Callable[[int], Any]] = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        block_size: int = DEFAULT_BLOCK_SIZE,
        dedupe: bool = False,
    ) -> None:
        # names are expanded now, so a missing file fails before anything is read
        self.sources = resolve_sources(paths)
        self.decoder = SnapshotDecoder(model, max_line_bytes=max_line_bytes, dedupe=dedupe)
        self.strict = strict
        self.on_reject = on_reject
        self.on_progress = on_progress
        self.block_size = block_size
        self.stats = ReadStats()

    def _handle(self, rejects: list[Reject]) -> None:
        for rej in rejects:
            if self.on_reject is not None:
                self.on_reject(rej)
            if self.strict:
                raise InvalidLineError(rej.error, path=rej.source, lineno=rej.line, line=rej.raw)
        rejects.clear()

    def batches(self) -> Iterator[list[Any]]:
        """Snapshots a chunk at a time (lists), for consumers that work in batches."""
        rejects: list[Reject] = []
        for src in self.sources:
            self.stats.sources += 1
            stream = open_source(src)
            try:
                frames = iter_chunks(
                    stream, src.label, block_size=self.block_size, max_line_bytes=self.decoder.max_line_bytes
                )
                for snaps, nbytes in decode_frames(frames, self.decoder, self.stats, rejects):
                    if self.on_progress is not None:
                        self.on_progress(nbytes)
                    if rejects:
                        self._handle(rejects)
                    if snaps:
                        yield snaps
            finally:
                if not src.is_stdin:
                    stream.close()

    def __iter__(self) -> Iterator[Any]:
        for batch in self.batches():
            yield from batch


def resolve_sources(paths: Iterable[PathArg]) -> list[Source]:
    """Sources for *paths*, in order: :class:`Source` objects as given, names expanded."""
    out: list[Source] = []
    for p in paths:
        out.extend([p] if isinstance(p, Source) else expand_sources([p]))
    return out


def read(paths: Union[PathArg, Iterable[PathArg]], **kwargs: Any) -> Reader:
    """Snapshots from *paths*: ``for snap in read("jobs.ndjson"): ...``.

    Keyword arguments are :class:`Reader`'s (``model``, ``strict``, ``on_reject``, ...).
    """
    if isinstance(paths, (str, os.PathLike, Source)):
        paths = [paths]
    return Reader(paths, **kwargs)
