"""The one decode-and-account step: frames in, snapshots out, every line counted.

Every non-blank line ends up either *accepted* (its snapshot, or a list page's jobs, is
returned) or *rejected* (a :class:`~jobstream.decode.decoder.Reject` appended in line order);
:class:`ReadStats` keeps ``accepted + rejected == lines``.  The reader, the parallel and Dask
workers, incremental runs and the follower all decode through :class:`DecodeStep`; an input
that cannot be read to its end is one :class:`SourceFailure` record, so nothing is lost silently.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from ..errors import SourceError
from ..io.framing import Chunk, Frame
from .decoder import Reject, SnapshotDecoder

__all__ = ["ReadStats", "DecodeStep", "SourceFailure", "source_failure"]


class _Limits(Protocol):
    """What :meth:`ReadStats.verdict` reads of a ``ReadOptions`` (which lives with the runs)."""

    @property
    def max_rejects(self) -> int | None: ...


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
    #: inputs that could not be read to their end (unreadable, vanished, corrupt gzip): each
    #: was reported to ``on_reject`` as a record naming where reading stopped and why
    failed: int = 0

    def verdict(self, max_rejects: int | _Limits | None = None) -> str | None:
        """Why this read should fail a run (unreadable inputs, more rejects than *max_rejects*), or None.

        *max_rejects* may also be the run's :class:`~jobstream.run.reader.ReadOptions`."""
        if self.failed:
            return f"{self.failed} input(s) could not be read to the end"
        limit = max_rejects if max_rejects is None or isinstance(max_rejects, int) else max_rejects.max_rejects
        if limit is not None and self.rejected > limit:
            return f"{self.rejected} line(s) rejected, more than --max-rejects {limit}"
        return None

    def merge(self, other: ReadStats) -> ReadStats:
        return ReadStats(**{f: getattr(self, f) + getattr(other, f) for f in self.__struct_fields__})


class DecodeStep:
    """The one decode-and-account step: frames of one input in, snapshots out.

    It numbers lines (from *line*), counts every line in *stats* as accepted, rejected or
    blank, and appends each reject to *rejects*, in line order.  The reader, the parallel
    workers and the follower all decode through it; there is no second copy.
    """

    __slots__ = ("decoder", "stats", "rejects", "line")

    def __init__(self, decoder: SnapshotDecoder, stats: ReadStats, rejects: list[Reject], line: int = 1) -> None:
        self.decoder = decoder
        self.stats = stats
        self.rejects = rejects
        self.line = line  # the number of the next line

    def __call__(self, frame: Frame) -> list[Any]:
        stats = self.stats
        if isinstance(frame, Chunk):
            snaps, lines, accepted, blank = self.decoder.decode_chunk(frame, self.line, self.rejects)
            stats.bytes += len(frame)
            stats.accepted += accepted
            stats.blank += blank
            stats.rejected += lines - accepted - blank
            stats.lines += lines - blank
            stats.snapshots += len(snaps)
            self.line += lines
            return snaps
        self.rejects.append(self.decoder.reject_oversized(frame, self.line))
        stats.bytes += frame.length + frame.newline
        stats.rejected += 1
        stats.lines += 1
        self.line += 1
        return []

    def fail(self, source: str, offset: int, exc: BaseException) -> None:
        """*source* could not be read from the next line (at byte *offset*) on: one
        :class:`SourceFailure` among the rejects, counted in ``stats.failed``."""
        self.rejects.append(source_failure(source, self.line, offset, exc))
        self.stats.failed += 1


class SourceFailure(Reject, tag="input"):
    """A reject-like record for an input that could not be read from ``line`` on.

    Its lines were neither accepted nor rejected one by one: this record stands for them,
    so that nothing is lost silently.  ``raw`` is empty.
    """


def source_failure(label: str, line: int, offset: int, exc: BaseException) -> SourceFailure:
    """The record of an input that could not be read from *line* (at byte *offset*) on."""
    reason = exc.message if isinstance(exc, SourceError) else (getattr(exc, "strerror", None) or str(exc))
    where = "input could not be read" if line == 1 and offset == 0 else "input not read from this line on"
    return SourceFailure(source=label, line=line, offset=offset, error=f"{where}: {reason}", raw=b"")
