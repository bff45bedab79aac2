"""Follow growing logs (and pipes) and turn new snapshots into live status changes.

The pipeline is the batch one, run incrementally: bytes arrive in pieces, complete lines are
framed into :class:`~jobstream.framing.Chunk` objects (a partial line is held until its
newline arrives), decoded by one :class:`~jobstream.decoder.SnapshotDecoder` and folded into
one :class:`~jobstream.reducer.JobTable`.  Which changes are *new* is decided by
:class:`ChangeFeed`: per job it keeps the key ``(at, status rank, status)`` of the last change
emitted and emits only changes with a greater key, so a late, older snapshot never produces a
backwards change.

Files are followed like ``tail -F``: by path, surviving rename rotation (the old file is read
to its end, then the new one from its start), truncation in place (read again from the top)
and files that do not exist yet.  On Linux the directories of the followed files are watched
with inotify (through ``ctypes``: no dependency), so idle costs nothing and a write is seen at
once; elsewhere, or with ``watch="poll"``, files are polled with ``stat`` and a backoff.

    >>> for change in follow(["jobs.ndjson"]):          # doctest: +SKIP
    ...     print(change.job_id, change.from_status, "->", change.to_status)
"""

from __future__ import annotations

import os
import select
import stat
import struct
import sys
import time
from typing import IO, Any, Callable, Iterable, Iterator, Optional, Sequence, Union

import msgspec
import orjson

from .decoder import Reject, SnapshotDecoder
from .filters import Selection
from .framing import DEFAULT_MAX_LINE_BYTES, OVERSIZED_PREFIX, Chunk, OversizedLine, is_blank
from .models import TERMINAL_STATUSES, status_rank
from .reducer import JobTable, StatusChange
from .sinks import EVENT_FIELDS, FORMATS, event_row, iso
from .sources import STDIN, PathArg, Source, as_paths

__all__ = [
    "follow",
    "Follower",
    "ChangeFeed",
    "FollowStats",
    "EventWriter",
    "CommandHook",
    "change_key",
    "DEFAULT_POLL_INTERVAL",
]

#: Stat polling starts at the first value after data arrived and doubles up to the second.
DEFAULT_POLL_INTERVAL = (0.01, 0.25)
#: With inotify, a safety re-check this often (a missed notification costs at most this).
INOTIFY_RECHECK = 1.0
#: At most this much is read from one source per cycle, so several sources take turns.
DEFAULT_READ_SIZE = 4 << 20
_BOM = b"\xef\xbb\xbf"
_TAIL_CHECK = 32  # bytes before the read position re-read to notice a truncate-and-regrow
_HEAD_CHECK = 256  # and the file's first bytes: new content after a copytruncate changes them

ChangeKey = tuple[int, int, str]


def change_key(change: StatusChange) -> ChangeKey:
    """The order in which a job's changes happen: time, then lifecycle rank, then status."""
    return (change.at, status_rank(change.to_status), change.to_status)


# --------------------------------------------------------------------------- the stateful step


class ChangeFeed:
    """A :class:`JobTable` that tells which status changes are new since the last call.

    :meth:`push` folds snapshots and returns the changes not emitted before, in order, for
    the jobs they touched; :meth:`learn` folds silently (existing content when following
    starts at the end) and :meth:`settle` marks everything learnt as already emitted.
    """

    def __init__(self, selection: Optional[Selection] = None) -> None:
        self.table = JobTable()
        self.selection = selection if selection is not None else Selection()
        self._last: dict[str, ChangeKey] = {}
        self._dirty: dict[str, None] = {}
        self._seen: set[str] = set()  # jobs matching the job filters
        self._open: set[str] = set()  # ... whose current status is not terminal

    def push(self, snapshots: Sequence[Any]) -> list[StatusChange]:
        """Fold *snapshots*; return the new changes that pass the selection."""
        if not snapshots:
            return []
        self.table.update(snapshots)
        keep = self.selection.keep_change
        out: list[StatusChange] = []
        for job_id in dict.fromkeys(s.id for s in snapshots):
            for change in self._advance(job_id):
                if keep(change):
                    out.append(change)
        return out

    def learn(self, snapshots: Sequence[Any]) -> None:
        """Fold *snapshots* without emitting; call :meth:`settle` when done."""
        if snapshots:
            self.table.update(snapshots)
            self._dirty.update(dict.fromkeys(s.id for s in snapshots))

    def replay(self) -> list[StatusChange]:
        """Every change learnt so far that passes the selection, in export order (time, job,
        history), marked emitted: what ``jobstream events`` gives for the same content."""
        keep = self.selection.keep_change
        keyed = []
        for job_id in self._dirty:
            for i, change in enumerate(self._advance(job_id)):
                if keep(change):
                    keyed.append(((change.at, job_id, i), change))
        self._dirty.clear()
        keyed.sort(key=lambda kc: kc[0])
        return [change for _, change in keyed]

    def settle(self) -> None:
        """Mark every change learnt so far as emitted."""
        for job_id in self._dirty:
            self._advance(job_id)
        self._dirty.clear()

    def _advance(self, job_id: str) -> list[StatusChange]:
        changes = self.table.changes(job_id)
        if not changes:
            return []
        last = self._last.get(job_id)
        if last is None:
            new = changes
        else:
            i = len(changes)
            while i > 0 and change_key(changes[i - 1]) > last:
                i -= 1
            new = changes[i:]
        if new:
            self._last[job_id] = change_key(new[-1])
        self._track(job_id, changes[-1])
        return new

    def _track(self, job_id: str, latest: StatusChange) -> None:
        sel = self.selection
        if (
            (not sel.job_ids or job_id in sel.job_ids)
            and (not sel.job_types or latest.job_type in sel.job_types)
            and (not sel.models or latest.model in sel.models)
        ):
            self._seen.add(job_id)
            if self.table.current_status(job_id) in TERMINAL_STATUSES:
                self._open.discard(job_id)
            else:
                self._open.add(job_id)
        else:
            self._seen.discard(job_id)
            self._open.discard(job_id)

    def followed(self) -> dict[str, Optional[str]]:
        """The jobs matching the job filters, with their current status."""
        return {job_id: self.table.current_status(job_id) for job_id in sorted(self._seen)}

    def all_terminal(self) -> bool:
        """True once a job matching the job filters (``--job``, ``--job-type``, ``--model``) was
        seen and every such job is in a terminal status; every ``--job`` named must have been seen."""
        if not self._seen or self._open:
            return False
        return not self.selection.job_ids or self.selection.job_ids <= self._seen


# --------------------------------------------------------------------------- framing in pieces


class _Lines:
    """Frames bytes that arrive in pieces into chunks of complete lines, holding a partial one."""

    __slots__ = ("source", "max_line_bytes", "pending", "lineno", "offset", "skip")

    def __init__(self, source: str, max_line_bytes: int) -> None:
        self.source = source
        self.max_line_bytes = max_line_bytes
        self.reset()

    def reset(self) -> None:
        self.pending = b""
        self.lineno = 1
        self.offset = 0  # byte offset of pending's first byte
        self.skip: Optional[list[Any]] = None  # [lineno, offset, length, prefix] of an oversized line

    def feed(self, data: bytes) -> list[Any]:
        frames: list[Any] = []
        if self.skip is not None:
            nl = data.find(b"\n")
            if nl < 0:
                self.skip[2] += len(data)
                return frames
            line, off, length, prefix = self.skip
            length += nl
            frames.append(OversizedLine(self.source, line, off, length, prefix))
            self.skip = None
            self.lineno, self.offset = line + 1, off + length + 1
            data = data[nl + 1:]
        buf = self.pending + data if self.pending else data
        cut = buf.rfind(b"\n")
        if cut >= 0:
            frames.append(self._chunk(buf[: cut + 1]))
            buf = buf[cut + 1:]
        if len(buf) > self.max_line_bytes:
            self.skip = [self.lineno, self.offset, len(buf), buf[:OVERSIZED_PREFIX]]
            buf = b""
        self.pending = buf
        return frames

    def finish(self) -> list[Any]:
        """End of input: a last line without its newline is a line all the same."""
        frames: list[Any] = []
        if self.skip is not None:
            line, off, length, prefix = self.skip
            frames.append(OversizedLine(self.source, line, off, length, prefix))
        elif self.pending and not is_blank(self.pending):
            frames.append(self._chunk(self.pending))
        self.reset()
        return frames

    def _chunk(self, data: bytes) -> Chunk:
        offset = self.offset
        if offset == 0 and data.startswith(_BOM):
            data = data[len(_BOM):]
            offset = len(_BOM)
        chunk = Chunk(self.source, self.lineno, offset, data)
        self.lineno += data.count(b"\n")
        self.offset = offset + len(data)
        return chunk


class _Followed:
    """One followed path (or stdin) and where reading it has got to."""

    __slots__ = ("path", "lines", "fd", "dev", "ino", "pos", "tail", "head", "eof", "state")

    def __init__(self, path: str, max_line_bytes: int) -> None:
        self.path = path
        self.lines = _Lines(Source(path).label, max_line_bytes)  # rejects name stdin <stdin>
        self.fd: Optional[int] = None
        self.dev = self.ino = 0
        self.pos = 0
        self.tail = b""
        self.head = b""
        self.eof = False  # stdin only
        self.state = ""  # last notice given about this path: "missing", "gone", "bad", ""

    @property
    def is_stdin(self) -> bool:
        return self.path == STDIN


# --------------------------------------------------------------------------- inotify (Linux)

_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF, _IN_IGNORED = 0x400, 0x800, 0x8000
_IN_ONLYDIR = 0x01000000
_DIR_MASK = (
    _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
    | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR
)
_EVENT_HEAD = struct.Struct("iIII")


class _Inotify:
    """Watches the directories of the followed files (libc's inotify through ctypes).

    Any change in a watched directory wakes the follower, which then looks at its files:
    a directory watch sees writes, creations, renames and truncations alike.
    """

    def __init__(self) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self.fd: int = fd
        self._dirs: dict[str, Optional[int]] = {}  # directory -> watch descriptor (None: not watched)

    def want(self, directory: str) -> None:
        self._dirs.setdefault(directory, None)

    def ensure(self) -> bool:
        """Watch every wanted directory not watched yet; True when all are (else: poll)."""
        ok = True
        for directory, wd in self._dirs.items():
            if wd is None:
                wd = self._add(self.fd, os.fsencode(directory), _DIR_MASK)
                if wd < 0:
                    ok = False  # no such directory (yet)
                    continue
                self._dirs[directory] = wd
        return ok

    def read(self) -> None:
        """Drain pending notifications, forgetting watches of directories that went away."""
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except (BlockingIOError, InterruptedError):
                return
            if not buf:
                return
            pos = 0
            while pos + _EVENT_HEAD.size <= len(buf):
                wd, mask, _cookie, length = _EVENT_HEAD.unpack_from(buf, pos)
                pos += _EVENT_HEAD.size + length
                if mask & (_IN_IGNORED | _IN_MOVE_SELF):  # gone: watch the path again once it is back
                    for directory, w in self._dirs.items():
                        if w == wd:
                            self._dirs[directory] = None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _make_inotify() -> Optional[_Inotify]:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return _Inotify()
    except (OSError, AttributeError):
        return None


# --------------------------------------------------------------------------- the follower


class FollowStats(msgspec.Struct, kw_only=True):
    """What following saw.  ``history_*`` count the existing content read silently at start."""

    bytes: int = 0
    lines: int = 0
    accepted: int = 0
    rejected: int = 0
    snapshots: int = 0
    changes: int = 0
    history_lines: int = 0
    history_rejected: int = 0
    rotations: int = 0
    truncations: int = 0


class Follower:
    """Follows *paths* (``-`` for stdin) and yields new status changes as they happen.

    Holds per-source state (inode, position, pending partial line, line number) and one
    :class:`ChangeFeed`.  Iterate it once; :meth:`stop` (safe from a signal handler or another
    thread) ends the iteration promptly, between two changes.

    * ``from_start``: replay existing content first; otherwise it is folded silently so
      that the state of jobs already in the files is known.  Stdin is always read as new.
    * ``selection``: which changes to yield (the exports' filters).
    * ``on_reject``: called with each rejected line; ``on_notice`` with messages about the
      files (waiting, replaced, truncated), meant for stderr.
    * ``until_terminal``: end once every job seen is in a terminal status
      (see :meth:`ChangeFeed.all_terminal`).
    * ``watch``: ``"auto"`` (inotify where available), ``"inotify"`` or ``"poll"``;
      ``poll_interval`` is the (min, max) stat-polling interval in seconds.
    * ``stop``: optional callable checked every cycle; true ends the iteration.
    """

    def __init__(
        self,
        paths: Union[PathArg, Iterable[PathArg]],
        *,
        from_start: bool = False,
        selection: Optional[Selection] = None,
        on_reject: Optional[Callable[[Reject], Any]] = None,
        on_notice: Optional[Callable[[str], Any]] = None,
        until_terminal: bool = False,
        watch: str = "auto",
        poll_interval: tuple[float, float] = DEFAULT_POLL_INTERVAL,
        stop: Optional[Callable[[], bool]] = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        read_size: int = DEFAULT_READ_SIZE,
    ) -> None:
        if watch not in ("auto", "inotify", "poll"):
            raise ValueError(f"watch must be 'auto', 'inotify' or 'poll', not {watch!r}")
        names = list(dict.fromkeys(os.fsdecode(p.name if isinstance(p, Source) else p) for p in as_paths(paths)))
        if not names:
            raise ValueError("nothing to follow: give at least one path (or '-' for stdin)")
        self.sources = [_Followed(p, max_line_bytes) for p in names]
        self.feed = ChangeFeed(selection)
        self.decoder = SnapshotDecoder("view", max_line_bytes=max_line_bytes)
        self.stats = FollowStats()
        self.from_start = from_start
        self.on_reject = on_reject
        self.on_notice = on_notice
        self.until_terminal = until_terminal
        self.poll_interval = poll_interval
        self.read_size = read_size
        self._stop_check = stop
        self._stopped = False
        self._emit = True
        self._replaying = False  # reading existing content for --from-start: rejects are reported
        self._more = False  # a source has more to read right now
        self._got = False  # the last cycle read data
        self._started = False
        self._iterated = False
        self._initial: list[StatusChange] = []
        self._rejects: list[Reject] = []
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        self._inotify: Optional[_Inotify] = None
        if watch != "poll":
            self._inotify = _make_inotify()
            if self._inotify is None and watch == "inotify":
                raise OSError("inotify is not available here; use watch='poll'")
        if self._inotify is not None:
            for src in self.sources:
                if not src.is_stdin:  # the link's directory, and the target's for a symlink
                    self._inotify.want(os.path.dirname(os.path.abspath(src.path)))
                    self._inotify.want(os.path.dirname(os.path.realpath(src.path)))

    # -- control ------------------------------------------------------------------------

    @property
    def table(self) -> JobTable:
        return self.feed.table

    @property
    def stopping(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """End the iteration at the next change boundary (async-signal and thread safe)."""
        self._stopped = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def close(self) -> None:
        """Release file descriptors (open files, inotify, the wake-up pipe)."""
        for src in self.sources:
            if src.fd is not None and not src.is_stdin:
                os.close(src.fd)
            src.fd = None
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> "Follower":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _notice(self, message: str) -> None:
        if self.on_notice is not None:
            self.on_notice(message)

    def _should_stop(self) -> bool:
        return self._stopped or (self._stop_check is not None and self._stop_check())

    # -- the loop -----------------------------------------------------------------------

    def __iter__(self) -> Iterator[StatusChange]:
        if self._iterated:
            raise RuntimeError("a Follower can be iterated only once")
        self._iterated = True
        if not self._started:
            self.start()
        changes, self._initial = self._initial, []
        interval = self.poll_interval[0]
        while True:
            for change in changes:
                if self._should_stop():
                    return
                yield change
            if self._should_stop() or self.done:
                return
            if self.until_terminal and not self._more and self.feed.all_terminal():
                return  # (only once caught up: later content may hold jobs still running)
            if self._more:
                timeout = 0.0
            else:
                interval = self.poll_interval[0] if self._got else min(interval * 2, self.poll_interval[1])
                watched = self._inotify is not None and self._inotify.ensure()
                timeout = INOTIFY_RECHECK if watched else interval
                if self._stop_check is not None:
                    timeout = min(timeout, self.poll_interval[1])
            self.wait(timeout)
            if self._should_stop():
                return
            changes = self.poll()

    @property
    def done(self) -> bool:
        """True when there is nothing left to follow: only stdin was followed and it ended."""
        return all(src.is_stdin and src.eof for src in self.sources)

    def start(self) -> None:
        """Open what exists and fold existing content (silently unless ``from_start``).

        Iterating calls it; call it first to know when following has begun.
        """
        if self._started:
            raise RuntimeError("already started")
        self._started = True
        if self._inotify is not None:
            self._inotify.ensure()  # before the first read, so no write slips between
        # Existing content is folded whole before anything is emitted: emitting while reading
        # it would drop changes that an older snapshot, further down, reveals.
        self._emit = False
        self._replaying = self.from_start
        try:
            for src in self.sources:
                if src.is_stdin or not self._open(src):
                    continue
                try:
                    size = os.fstat(src.fd).st_size  # type: ignore[arg-type]
                except OSError:
                    continue
                # up to the size seen now: whatever is appended from here on is new
                while src.pos < size and not self._should_stop() and self._read_file(src, [], size - src.pos):
                    pass
        finally:
            self._emit = True
            self._replaying = False
        if self.from_start:
            self._initial = self.feed.replay()
            self.stats.changes += len(self._initial)
            self._initial += self.poll()
            return
        self.feed.settle()
        if self.stats.history_rejected:
            self._notice(
                f"{self.stats.history_rejected} line(s) of the existing content rejected "
                f"(use --from-start to see them)"
            )
        self._initial = self.poll()

    def wait(self, timeout: float) -> None:
        """Sleep until a followed source may have changed, :meth:`stop`, or *timeout* seconds."""
        rlist = [self._wake_r]
        if self._inotify is not None:
            rlist.append(self._inotify.fd)
        stdin = next((s for s in self.sources if s.is_stdin and not s.eof), None)
        if stdin is not None:
            rlist.append(self._stdin_fd())
        try:
            ready, _, _ = select.select(rlist, [], [], timeout)
        except (OSError, ValueError):  # e.g. stdin closed under us: the next poll sees its end
            time.sleep(min(timeout, self.poll_interval[1]))
            ready = []
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 512):
                    pass
            except OSError:
                pass
        if self._inotify is not None and self._inotify.fd in ready:
            self._inotify.read()

    def poll(self) -> list[StatusChange]:
        """One cycle without waiting: read what every source has; return the new changes."""
        out: list[StatusChange] = []
        self._more = self._got = False
        for src in self.sources:
            if src.is_stdin:
                self._read_stdin(src, out)
            else:
                self._poll_file(src, out)
        return out

    # -- decoding -----------------------------------------------------------------------

    def _process(self, frames: list[Any], out: list[StatusChange]) -> None:
        stats = self.stats
        rejects = self._rejects
        decoder = self.decoder
        for frame in frames:
            if isinstance(frame, Chunk):
                snaps, accepted, _blank, read = decoder.decode_chunk(frame, rejects)
                stats.accepted += accepted
                stats.lines += accepted
                stats.snapshots += read
                if not self._emit:
                    if not self._replaying:
                        stats.history_lines += accepted
                    self.feed.learn(snaps)
                elif snaps:
                    new = self.feed.push(snaps)
                    stats.changes += len(new)
                    out.extend(new)
            else:
                rejects.append(decoder.reject_oversized(frame))
            if rejects:
                for rej in rejects:
                    stats.rejected += 1
                    stats.lines += 1
                    if not self._emit and not self._replaying:
                        stats.history_lines += 1
                        stats.history_rejected += 1
                    elif self.on_reject is not None:
                        self.on_reject(rej)
                rejects.clear()

    # -- stdin ----------------------------------------------------------------------------

    def _stdin_fd(self) -> int:
        try:
            return sys.stdin.fileno()
        except (AttributeError, ValueError, OSError):
            return 0

    def _read_stdin(self, src: _Followed, out: list[StatusChange]) -> None:
        if src.eof:
            return
        fd = self._stdin_fd()
        total = 0
        while total < self.read_size:
            try:
                ready, _, _ = select.select([fd], [], [], 0)
                if not ready:
                    return
                data = os.read(fd, 1 << 20)
            except BlockingIOError:
                return
            except (OSError, ValueError):
                data = b""
            if not data:
                src.eof = True
                self._process(src.lines.finish(), out)
                return
            total += len(data)
            self.stats.bytes += len(data)
            self._got = True
            self._process(src.lines.feed(data), out)
        self._more = True

    # -- files ----------------------------------------------------------------------------

    def _open(self, src: _Followed) -> bool:
        try:
            # O_NONBLOCK: a FIFO at the path must not block the open (it is refused below)
            fd = os.open(src.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            if src.state not in ("missing", "gone"):
                src.state = "missing"
                self._notice(f"{src.path}: does not exist (yet); waiting for it")
            return False
        except OSError as exc:
            if src.state != "bad":
                src.state = "bad"
                self._notice(f"{src.path}: cannot open: {exc.strerror}; will retry")
            return False
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            if src.state != "bad":
                src.state = "bad"
                self._notice(f"{src.path}: not a regular file; waiting for one")
            return False
        if src.state in ("missing", "gone", "bad") and self._started:
            self._notice(f"{src.path}: appeared; following it from the start")
        src.state = ""
        src.fd, src.dev, src.ino = fd, st.st_dev, st.st_ino
        src.pos = 0
        src.tail = src.head = b""
        src.lines.reset()
        return True

    def _poll_file(self, src: _Followed, out: list[StatusChange]) -> None:
        if src.fd is None:
            if not self._open(src):
                return
        self._read_file(src, out)
        try:
            st = os.stat(src.path)
        except OSError:
            if src.state != "gone":
                src.state = "gone"
                self._notice(f"{src.path}: removed or renamed; reading on until a new file appears")
            return
        if (st.st_dev, st.st_ino) == (src.dev, src.ino):
            if src.state == "gone":
                src.state = ""
            return
        # rotated: finish the old file (anything written before the switch), then the new one
        while self._read_file(src, out):
            pass
        self._process(src.lines.finish(), out)
        os.close(src.fd)  # type: ignore[arg-type]
        src.fd = None
        self.stats.rotations += 1
        self._notice(f"{src.path}: replaced; following the new file from the start")
        src.state = ""
        if self._open(src):
            self._read_file(src, out)

    def _read_file(self, src: _Followed, out: list[StatusChange], limit: Optional[int] = None) -> int:
        """Read new bytes (at most *limit* and ``read_size``); returns how many were read."""
        fd = src.fd
        assert fd is not None
        size = os.fstat(fd).st_size
        pos = src.pos
        if size < pos or (
            src.tail
            and (
                os.pread(fd, len(src.tail), pos - len(src.tail)) != src.tail
                or os.pread(fd, len(src.head), 0) != src.head
            )
        ):
            self.stats.truncations += 1
            self._notice(f"{src.path}: truncated; reading it again from the top")
            src.lines.reset()
            src.pos = pos = 0
            src.tail = src.head = b""
        if size <= pos:
            return 0
        want = min(size - pos, self.read_size if limit is None else min(limit, self.read_size))
        data = os.pread(fd, want, pos)
        if not data:
            return 0
        src.pos = pos + len(data)
        src.tail = data[-_TAIL_CHECK:] if len(data) >= _TAIL_CHECK else (src.tail + data)[-_TAIL_CHECK:]
        if len(src.head) < _HEAD_CHECK and pos == len(src.head):
            src.head = (src.head + data)[:_HEAD_CHECK]
        self.stats.bytes += len(data)
        self._got = True
        self._process(src.lines.feed(data), out)
        if src.pos < size:
            self._more = True
        return len(data)


def follow(
    paths: Union[PathArg, Iterable[PathArg]],
    *,
    from_start: bool = False,
    selection: Optional[Selection] = None,
    on_reject: Optional[Callable[[Reject], Any]] = None,
    on_notice: Optional[Callable[[str], Any]] = None,
    until_terminal: bool = False,
    watch: str = "auto",
    poll_interval: tuple[float, float] = DEFAULT_POLL_INTERVAL,
    stop: Optional[Callable[[], bool]] = None,
) -> Iterator[StatusChange]:
    """Status changes from growing files (``-``: stdin) as they happen; ``jobstream tail`` prints them.

    A generator: it ends when *stop* returns true, when only stdin was followed and it
    ended, or (``until_terminal``) when every job seen is terminal.  See :class:`Follower`.
    """
    with Follower(
        paths,
        from_start=from_start,
        selection=selection,
        on_reject=on_reject,
        on_notice=on_notice,
        until_terminal=until_terminal,
        watch=watch,
        poll_interval=poll_interval,
        stop=stop,
    ) as follower:
        yield from follower


# --------------------------------------------------------------------------- live sinks

_TABLE_WIDTHS = {"job_id": 36, "job_type": 10, "model": 20, "from_status": 17, "to_status": 17, "at": 20}


class EventWriter:
    """Writes status changes one at a time, each line flushed (a sink for followers).

    ``table`` gives fixed-width columns (no waiting for all rows to align them), ``csv`` and
    ``ndjson`` one record per line, ``json`` an array closed by :meth:`close`.
    """

    def __init__(self, out: IO[str], fmt: str = "ndjson", *, headers: bool = True, iso_times: bool = False) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
        self.out = out
        self.fmt = fmt
        self.headers = headers
        self.iso_times = iso_times
        self.count = 0
        self._csv: Any = None

    def start(self) -> None:
        """The header (table, csv) or the opening bracket (json)."""
        if self.fmt == "table" and self.headers:
            self._line(self._table_line({f: f.upper() for f in EVENT_FIELDS}))
        elif self.fmt == "csv":
            import csv

            self._csv = csv.writer(self.out, lineterminator="\n")
            if self.headers:
                self._csv.writerow(EVENT_FIELDS)
                self.out.flush()
        elif self.fmt == "json":
            self.out.write("[")
            self.out.flush()

    def write(self, change: StatusChange) -> None:
        fmt = self.fmt
        if fmt == "ndjson":
            self._line(orjson.dumps(event_row(change, iso_times=self.iso_times)).decode())
        elif fmt == "table":
            row = {f: getattr(change, f) for f in EVENT_FIELDS}
            row["at"] = iso(change.at)
            self._line(self._table_line(row))
        elif fmt == "csv":
            row = event_row(change, iso_times=self.iso_times)
            self._csv.writerow(["" if row[f] is None else row[f] for f in EVENT_FIELDS])
            self.out.flush()
        else:
            sep = ",\n" if self.count else "\n"
            self.out.write(sep + orjson.dumps(event_row(change, iso_times=self.iso_times)).decode())
            self.out.flush()
        self.count += 1

    def close(self) -> None:
        """Close the json array (other formats need nothing)."""
        if self.fmt == "json":
            self.out.write("\n]\n" if self.count else "]\n")
            self.out.flush()

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    @staticmethod
    def _table_line(row: dict[str, Any]) -> str:
        return "  ".join(
            ("" if row[f] is None else str(row[f])).ljust(_TABLE_WIDTHS[f]) for f in EVENT_FIELDS
        ).rstrip()


class CommandHook:
    """Runs a command per change with the change as JSON on its stdin (never through a shell).

    *command* is split once with :func:`shlex.split`; event data only ever reaches the
    command as stdin and ``JOBSTREAM_*`` environment variables, never as command text.
    The command's stdout goes to *stdout* (stderr by default: stdout is data only).
    """

    def __init__(self, command: str, *, iso_times: bool = False, stdout: Optional[IO[Any]] = None,
                 on_failure: Optional[Callable[[str], Any]] = None) -> None:
        import shlex  # --exec only: not worth every run's start-up
        import shutil

        argv = shlex.split(command)
        if not argv:
            raise ValueError("empty command")
        exe = shutil.which(argv[0])
        if exe is None:
            raise ValueError(f"command not found: {argv[0]}")
        self.argv = argv
        self.iso_times = iso_times
        out = stdout if stdout is not None else sys.stderr
        try:
            self._stdout: Optional[int] = out.fileno()
        except (AttributeError, OSError, ValueError):
            self._stdout = None  # not a real file (e.g. under a test runner): inherit
        self.stdout = out
        self.on_failure = on_failure

    def __call__(self, change: StatusChange) -> int:
        env = dict(os.environ)
        env.update(
            JOBSTREAM_JOB_ID=change.job_id,
            JOBSTREAM_JOB_TYPE=change.job_type,
            JOBSTREAM_MODEL=change.model or "",
            JOBSTREAM_FROM_STATUS=change.from_status or "",
            JOBSTREAM_TO_STATUS=change.to_status,
            JOBSTREAM_AT=(iso(change.at) or "") if self.iso_times else str(change.at),
        )
        for key, value in env.items():  # an environment value cannot hold NUL (JSON on stdin keeps it)
            if "\x00" in value:
                env[key] = value.replace("\x00", "\ufffd")
        data = orjson.dumps(event_row(change, iso_times=self.iso_times)) + b"\n"
        try:
            self.stdout.flush()
        except (AttributeError, OSError, ValueError):
            pass
        try:
            import subprocess

            rc = subprocess.run(self.argv, input=data, stdout=self._stdout, env=env, check=False).returncode
        except (OSError, ValueError) as exc:
            rc = 127
            if self.on_failure is not None:
                self.on_failure(f"--exec {self.argv[0]}: {getattr(exc, 'strerror', None) or exc}")
            return rc
        if rc != 0 and self.on_failure is not None:
            self.on_failure(
                f"--exec {self.argv[0]} exited {rc} for {change.job_id} "
                f"{change.from_status or '-'} -> {change.to_status}"
            )
        return rc
