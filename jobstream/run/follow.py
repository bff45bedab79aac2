"""Follow growing logs (and pipes) and turn new snapshots into live status changes.

This is the batch pipeline run incrementally: the :class:`~jobstream.io.watch.Watcher` finds the
bytes to read (rotation, truncation, new files matching a pattern), the same
:class:`~jobstream.io.framing.Framer` and :class:`~jobstream.run.reader.DecodeStep` as a batch read
frame and decode them (a partial line waits for its newline), and a
:class:`~jobstream.reduce.changes.ChangeFeed` tells which status changes are new.  What is left here
is the follower's own: when to read what, and where new snapshots go.

    >>> for change in follow(["jobs.ndjson"]):          # doctest: +SKIP
    ...     print(change.job_id, change.from_status, "->", change.to_status)
"""

from __future__ import annotations

import os
import select
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import msgspec

from ..decode.decoder import Reject, SnapshotDecoder
from ..decode.step import DecodeStep, ReadStats, source_failure
from ..errors import SourceError
from ..io.framing import DEFAULT_MAX_LINE_BYTES, Framer
from ..io.sources import (
    HEAD_BYTES,
    STDIN,
    Decompressor,
    PathArg,
    Source,
    as_paths,
    decompressor_for,
    display_name,
    open_source,
)
from ..io.watch import DEFAULT_POLL_INTERVAL, INOTIFY_RECHECK, Incarnation, Watcher, has_magic
from ..reduce.changes import ChangeFeed, ChangeKey, change_key
from ..reduce.filters import Selection
from ..reduce.reducer import JobTable, StatusChange

if TYPE_CHECKING:
    from .incremental import FileMark
    from .state import State

__all__ = ["follow", "Follower", "FollowStats", "DEFAULT_POLL_INTERVAL"]

#: At most this much is read from one input per cycle, so several inputs take turns.
DEFAULT_READ_SIZE = 4 << 20
_TAIL_CHECK = 32  # bytes before the read position re-read to notice a truncate-and-regrow
_HEAD_CHECK = 256  # and the file's first bytes: new content after a copytruncate changes them
#: With a state, it is saved at most this often (seconds) while following, and when following ends.
SAVE_EVERY = 1.0


class FollowStats(msgspec.Struct, kw_only=True):
    """What following saw beyond what reading counts (:class:`~jobstream.run.reader.ReadStats`)."""

    changes: int = 0
    #: lines of the content that existed when following began, rejected while it was read silently
    history_rejected: int = 0
    rotations: int = 0
    truncations: int = 0
    #: bytes a truncation destroyed before they were read (a consumer that fell behind)
    lost_bytes: int = 0


class _Input:
    """Where reading one followed name (or stdin) has got to."""

    __slots__ = (
        "name",
        "label",
        "inc",
        "pos",
        "framer",
        "step",
        "head",
        "tail",
        "fresh",
        "z",
        "eof",
        "sealed",
        "fd",
        "mark",
    )

    def __init__(
        self, name: str, decoder: SnapshotDecoder, stats: ReadStats, rejects: list[Reject], fresh: bool
    ) -> None:
        self.name = name
        self.label = Source(name).label
        self.inc: Incarnation | None = None
        self.pos = 0
        self.framer = Framer(self.label, max_line_bytes=decoder.max_line_bytes)
        self.step = DecodeStep(decoder, stats, rejects)
        self.head = self.tail = b""
        self.fresh = fresh  # found after following began: all of its content is new
        self.z: Decompressor | None = None  # a pipe: decompressing it
        self.eof = False  # a pipe ended
        self.sealed = False  # a compressed file, read once: not read again
        self.mark: FileMark | None = None  # with a state: the current file's mark
        self.fd: int | None = None  # a pipe's descriptor (stdin's, or a FIFO opened here)

    def restart(self) -> None:
        self.pos = 0
        self.framer.reset()
        self.step.line = 1
        self.head = self.tail = b""
        self.sealed = False


class Follower:
    """Follows *paths* (``-`` for stdin, glob patterns too) and yields new status changes.

    Iterate it once; :meth:`stop` (safe from a signal handler or another thread) ends the
    iteration promptly, between two changes.

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
    * ``max_line_bytes``: longer lines are rejected; ``read_size``: bytes per input per cycle.
    * ``state``: a loaded :class:`~jobstream.run.state.State` (``tail --state``): following
      resumes each file where the state left it (files known by content, rotated ones found
      beside their names), first yields, once, the changes written since (in export order),
      then follows; the state is saved at most every :data:`SAVE_EVERY` seconds, after the
      changes are yielded, and by :meth:`save` when following ends.  A change is never
      yielded again once saved as yielded: reading is at least once, yielding exactly once
      (a kill -9 repeats what was yielded since the last save).  A new state starts as
      following does without one.

    A compressed (gzip, zstd, bzip2, xz) file is read once, whole: a compressed file cannot
    be followed as it grows.  Compressed stdin is decompressed as it streams.
    """

    def __init__(
        self,
        paths: PathArg | Iterable[PathArg],
        *,
        from_start: bool = False,
        selection: Selection | None = None,
        on_reject: Callable[[Reject], Any] | None = None,
        on_notice: Callable[[str], Any] | None = None,
        until_terminal: bool = False,
        watch: str = "auto",
        poll_interval: tuple[float, float] = DEFAULT_POLL_INTERVAL,
        stop: Callable[[], bool] | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        read_size: int = DEFAULT_READ_SIZE,
        state: State | None = None,
        exclude: Iterable[str] = (),
    ) -> None:
        names = list(dict.fromkeys(os.fsdecode(p.name if isinstance(p, Source) else p) for p in as_paths(paths)))
        if not names:
            raise ValueError("nothing to follow: give at least one path (or '-' for stdin)")
        if state is not None and any(n == STDIN or _is_pipe(n) for n in names):
            raise ValueError("a state resumes files by offset: stdin and pipes cannot be resumed")
        self.decoder = SnapshotDecoder("view", max_line_bytes=max_line_bytes)
        self.read_stats = ReadStats()
        self.stats = FollowStats()
        self._rejects: list[Reject] = []
        pipes = [n for n in names if n == STDIN or _is_pipe(n)]  # read to their end, like stdin
        files = [n for n in names if n not in pipes and not (has_magic(n) and not os.path.exists(n))]
        patterns = [n for n in names if n not in pipes and has_magic(n) and not os.path.exists(n)]
        self.watcher = Watcher(
            files, patterns, mode=watch, poll_interval=poll_interval, on_notice=on_notice, exclude=exclude
        )
        self._pipes = [_Input(n, self.decoder, self.read_stats, self._rejects, fresh=True) for n in pipes]
        self._inputs: dict[str, _Input] = {}
        self.feed = ChangeFeed(selection)
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
        self._more = False  # an input has more to read right now
        self._got = False  # the last cycle read data
        self._started = False
        self._iterated = False
        self._initial: list[StatusChange] = []
        self.state = state
        self._handed: dict[str, ChangeKey] = {}  # per job, the key of the last change yielded (or settled)
        self._handed_changed: set[str] = set()
        self._touched: set[str] = set()  # jobs folded since the last save
        self._saved_at = time.monotonic()
        self._unsaved = False

    # -- control ---------------------------------------------------------------------------

    @property
    def table(self) -> JobTable:
        return self.feed.table

    @property
    def stopping(self) -> bool:
        return self._stopped

    @property
    def sources(self) -> list[Any]:
        """The inputs followed so far (each has ``.path``)."""
        return [_Named(n) for n in self.watcher.names()] + [_Named(p.name) for p in self._pipes]

    def stop(self) -> None:
        """End the iteration at the next change boundary (async-signal and thread safe)."""
        self._stopped = True
        self.watcher.wake()

    def close(self) -> None:
        """Release file descriptors (open files, pipes, inotify, the watcher's thread)."""
        self.watcher.close()
        for inp in self._pipes:
            if inp.fd is not None and inp.name != STDIN:
                try:
                    os.close(inp.fd)
                except OSError:
                    pass
            inp.fd = None

    def __del__(self) -> None:  # a Follower dropped without close() must not leak descriptors
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to do
            pass

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _notice(self, message: str) -> None:
        if self.on_notice is not None:
            self.on_notice(message)

    def _should_stop(self) -> bool:
        return self._stopped or (self._stop_check is not None and self._stop_check())

    # -- the loop --------------------------------------------------------------------------

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
                if self.state is not None:  # yielded, and the consumer has taken it
                    self._handed[change.job_id] = change_key(change)
                    self._handed_changed.add(change.job_id)
            if self.state is not None:
                self._maybe_save()
            if self._should_stop() or self.done:
                return
            if self.until_terminal and not self._more and self.feed.all_terminal():
                return  # (only once caught up: later content may hold jobs still running)
            if self._more:
                timeout = 0.0
            else:
                interval = self.poll_interval[0] if self._got else min(interval * 2, self.poll_interval[1])
                timeout = INOTIFY_RECHECK if self.watcher._inotify is not None else interval
                if self._stop_check is not None:
                    timeout = min(timeout, self.poll_interval[1])
            self.wait(timeout)
            if self._should_stop():
                return
            changes = self.poll()

    @property
    def done(self) -> bool:
        """True when there is nothing left to follow: only stdin was followed and it ended."""
        return (
            bool(self._pipes)
            and all(p.eof for p in self._pipes)
            and not self.watcher.names()
            and not self.watcher.patterns
        )

    def start(self) -> None:
        """Open what exists and fold existing content (silently unless ``from_start``).

        Iterating calls it; call it first to know when following has begun.
        """
        if self._started:
            raise RuntimeError("already started")
        self._started = True
        self.watcher.scan()  # open what exists now, before the first read: no write slips between
        resume = self.state is not None and not self.state.is_new
        taken: set[int] = set()
        if self.state is not None:
            self._load_state(resume)
        # Existing content is folded whole before anything is emitted: emitting while reading
        # it would drop changes that an older snapshot, further down, reveals.
        self._emit = False
        self._replaying = self.from_start or resume
        try:
            for name in self.watcher.names():
                inp = self._input(name, fresh=False)
                inc = self.watcher.take(name)
                if inc is None:
                    continue
                self._switch(inp, inc, announce=False)
                if self.state is not None:
                    self._resume_input(inp, taken)
                try:
                    size = os.fstat(inc.fd).st_size
                except OSError:
                    continue
                # up to the size seen now: whatever is appended from here on is new
                while (
                    not inp.sealed
                    and inp.pos < size
                    and not self._should_stop()
                    and self._read_file(inp, [], size - inp.pos)
                ):
                    pass
            if resume:
                self._finish_rotated(taken)
        finally:
            self._emit = True
            self._replaying = False
        self.watcher.start()
        if resume:  # what was written while following was down, once, in export order
            self._initial = self.feed.replay()
            self.stats.changes += len(self._initial)
            self._initial += self.poll()
            return
        if self.from_start:
            self._initial = self.feed.replay()
            self.stats.changes += len(self._initial)
            self._initial += self.poll()
            return
        self.feed.settle()
        if self.state is not None:  # existing content, learnt silently: counts as yielded
            settled = self.feed.settled()
            self._handed.update(settled)
            self._handed_changed.update(settled)
        if self.stats.history_rejected:
            self._notice(
                f"{self.stats.history_rejected} line(s) of the existing content rejected (use --from-start to see them)"
            )
        self._initial = self.poll()

    def wait(self, timeout: float) -> None:
        """Sleep until a followed input may have changed, :meth:`stop`, or *timeout* seconds."""
        fds = [fd for fd in (self._pipe_fd(p) for p in self._pipes if not p.eof) if fd is not None]
        self.watcher.wait(timeout, fds)

    def poll(self) -> list[StatusChange]:
        """One cycle without waiting: read what every input has; return the new changes."""
        out: list[StatusChange] = []
        self._more = self._got = False
        self.watcher.scan()  # the thread looks too, but a cycle must see what is there now
        for name in self.watcher.names():
            self._poll_name(self._input(name, fresh=self._started), out)
        for pipe in self._pipes:
            self._read_pipe(pipe, out)
        return out

    def _input(self, name: str, fresh: bool) -> _Input:
        inp = self._inputs.get(name)
        if inp is None:
            inp = self._inputs[name] = _Input(name, self.decoder, self.read_stats, self._rejects, fresh)
            if fresh and self._started:
                self._notice(f"{display_name(name)}: new file; following it from the start")
        return inp

    # -- decoding --------------------------------------------------------------------------

    def _process(self, inp: _Input, frames: list[Any], out: list[StatusChange]) -> None:
        for frame in frames:
            snaps = inp.step(frame)
            if snaps and self.state is not None:
                self._touched.update(s.id for s in snaps)
                self._unsaved = True
            if snaps:
                if not self._emit:
                    self.feed.learn(snaps)
                else:
                    new = self.feed.push(snaps)
                    self.stats.changes += len(new)
                    out.extend(new)
            self._report()
        self._report()  # a failure record comes with no frame behind it

    def _report(self) -> None:
        rejects = self._rejects
        if rejects:
            for rej in rejects:
                if not self._emit and not self._replaying and type(rej).__struct_config__.tag != "input":
                    self.stats.history_rejected += 1  # an unreadable input is always told
                elif self.on_reject is not None:
                    self.on_reject(rej)
            rejects.clear()

    # -- stdin -------------------------------------------------------------------------------

    def _pipe_fd(self, inp: _Input) -> int | None:
        """The pipe's descriptor: stdin's, or a FIFO (``<(poller)``) opened without blocking."""
        if inp.fd is None:
            if inp.name == STDIN:
                try:
                    inp.fd = sys.stdin.fileno()
                except (AttributeError, ValueError, OSError):
                    inp.fd = 0
            else:
                try:
                    inp.fd = os.open(inp.name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
                except OSError as exc:
                    inp.eof = True
                    self._rejects.append(source_failure(inp.label, 1, 0, exc))
                    self.read_stats.failed += 1
                    self._report()
                    return None
        return inp.fd

    def _read_pipe(self, inp: _Input, out: list[StatusChange]) -> None:
        if inp.eof:
            return
        fd = self._pipe_fd(inp)
        if fd is None:
            return
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
            try:
                if not data:
                    inp.eof = True
                    rest = b""
                    if inp.pos == 0:  # fewer bytes than it takes to tell: decide on those there are
                        inp.pos = 1
                        inp.z = decompressor_for(inp.head, inp.label)
                        data, inp.head = inp.head, b""
                        rest = inp.z.feed(data) if inp.z is not None else data
                    if inp.z is not None:
                        rest += inp.z.finish()
                    frames = inp.framer.feed(rest) if rest else []
                    self._process(inp, frames + inp.framer.finish(), out)
                    return
                total += len(data)
                self._got = True
                self._process(inp, inp.framer.feed(self._stdin_bytes(inp, data)), out)
            except SourceError as exc:  # corrupt compressed stdin: report, and stop reading it
                inp.eof = True
                inp.step.fail(inp.label, inp.framer.position, exc)
                self._process(inp, [], out)
                return
        self._more = True

    def _stdin_bytes(self, inp: _Input, data: bytes) -> bytes:
        """Raw stdin bytes as content: the first bytes tell compressed from plain."""
        if inp.pos == 0:  # still deciding: hold the first bytes until there are enough
            inp.head += data
            if len(inp.head) < HEAD_BYTES:
                return b""
            inp.pos = 1
            inp.z = decompressor_for(inp.head[:HEAD_BYTES], inp.label)
            data, inp.head = inp.head, b""
        return inp.z.feed(data) if inp.z is not None else data

    # -- files -------------------------------------------------------------------------------

    def _switch(self, inp: _Input, inc: Incarnation, *, announce: bool) -> None:
        """Start reading *inc*, the file now at *inp*'s name."""
        inp.inc = inc
        inp.restart()
        if announce:
            self._notice(f"{inp.label}: replaced; following the new file from the start")

    def _poll_name(self, inp: _Input, out: list[StatusChange]) -> None:
        if inp.inc is None:
            inc = self.watcher.take(inp.name)
            if inc is None:
                return
            self._switch(inp, inc, announce=False)
        self._read_file(inp, out)
        while self.watcher.pending(inp.name):
            # rotated: finish the old file (all written before the switch), then the new one
            while self._read_file(inp, out):
                pass
            self._process(inp, inp.framer.finish(), out)
            assert inp.inc is not None
            self._sync_mark(inp)  # the old file's mark: read to its end
            inp.mark = None
            self.watcher.release(inp.inc)
            self.stats.rotations += 1
            inc = self.watcher.take(inp.name)
            assert inc is not None
            self._switch(inp, inc, announce=True)
            self._read_file(inp, out)

    def _read_file(self, inp: _Input, out: list[StatusChange], limit: int | None = None) -> int:
        """Read new bytes (at most *limit* and ``read_size``); returns how many were read."""
        inc = inp.inc
        if inc is None or inc.fd < 0 or inp.sealed:
            return 0
        if inc.compressed:
            return self._read_compressed(inp, out)
        fd = inc.fd
        try:
            size = os.fstat(fd).st_size
            pos = inp.pos
            if size < pos or (
                inp.tail
                and (
                    os.pread(fd, len(inp.tail), pos - len(inp.tail)) != inp.tail
                    or os.pread(fd, len(inp.head), 0) != inp.head
                )
            ):
                self._truncated(inp, inc, size)
                pos = 0
            if size <= pos:
                return 0
            want = min(size - pos, self.read_size if limit is None else min(limit, self.read_size))
            data = os.pread(fd, want, pos)
        except OSError as exc:
            self._notice(f"{inp.label}: cannot read: {exc.strerror}; will retry")
            return 0
        if not data:
            return 0
        inp.pos = pos + len(data)
        inp.tail = data[-_TAIL_CHECK:] if len(data) >= _TAIL_CHECK else (inp.tail + data)[-_TAIL_CHECK:]
        if len(inp.head) < _HEAD_CHECK and pos == len(inp.head):
            inp.head = (inp.head + data)[:_HEAD_CHECK]
        self._got = True
        self._process(inp, inp.framer.feed(data), out)
        if inp.pos < size:
            self._more = True
        return len(data)

    def _truncated(self, inp: _Input, inc: Incarnation, size: int) -> None:
        self.stats.truncations += 1
        inp.mark = None  # the old content's mark keeps where it was read to; the new content is a new file
        lost = max(0, inc.size_seen - inp.pos)
        if lost:
            self.stats.lost_bytes += lost
            self._notice(
                f"{inp.label}: truncated; {lost} byte(s) written before the truncation were never read "
                f"(the reader had fallen behind); reading it again from the top"
            )
        else:
            self._notice(f"{inp.label}: truncated; reading it again from the top")
        inc.size_seen = size
        inp.restart()

    def _read_compressed(self, inp: _Input, out: list[StatusChange]) -> int:
        """A compressed file: read it once, whole (it cannot be followed as it grows)."""
        assert inp.inc is not None
        inp.sealed = True
        n = 0
        try:
            stream = open_source(Source(inp.name), fd=inp.inc.fd)
        except SourceError as exc:
            self._rejects.append(source_failure(inp.label, 1, 0, exc))
            self.read_stats.failed += 1
            self._process(inp, [], out)
            return 0
        try:
            while True:
                block = stream.read(1 << 20)
                if not block:
                    break
                n += len(block)
                self._process(inp, inp.framer.feed(block), out)
            self._process(inp, inp.framer.finish(), out)
        except (SourceError, OSError) as exc:
            inp.step.fail(inp.label, inp.framer.position, exc)
            self._process(inp, [], out)
        finally:
            stream.close()
        self._got = True
        self._notice(f"{inp.label}: compressed: read once, whole; a compressed file is not followed as it grows")
        return 0

    # -- the state (tail --state) -------------------------------------------------------------

    def _load_state(self, resume: bool) -> None:
        """Fold into the state's own table; resuming, start from its cursor (the last change
        yielded per job) and the jobs that may have changes not yielded yet."""
        assert self.state is not None
        table = self.state.live_table()
        if not resume:
            self.feed.table = table
            return
        from ..decode.models import status_rank

        last: dict[str, ChangeKey] = {}
        for job_id in table._accs:
            done = self.state.handed_out(job_id)
            if done:
                last[job_id] = max((at, status_rank(s), s) for at, s in done)
        self.feed.resume(table, last, self.state.pending)
        self._handed = dict(last)

    def _resume_input(self, inp: _Input, taken: set[int]) -> None:
        """Start reading *inp*'s file where the state left it, if the state knows it (by
        content); a file it does not know is new: all of it is read."""
        from .incremental import identify, open_input

        assert self.state is not None and inp.inc is not None
        inc = inp.inc
        try:
            o = open_input(Source(inp.name), fd=inc.fd)
        except SourceError:
            return
        try:
            m = identify(o, self.state.files, taken)
            if m is None:
                return
            taken.add(id(m))
            inp.mark = m
            if inc.compressed:
                if m.done and (o.unchanged_since(m) or o.isize() == m.position % (1 << 32)):
                    inp.sealed = True  # read to its end before: nothing new in it
                return  # else read whole (it cannot be entered at an offset): what folds again adds nothing
            pos = m.position
            inp.pos = pos
            inp.framer.reset(offset=pos, strip_bom=pos == 0)
            inp.step.line = m.line
            inp.tail = os.pread(inc.fd, min(_TAIL_CHECK, pos), pos - min(_TAIL_CHECK, pos))
            inp.head = os.pread(inc.fd, min(_HEAD_CHECK, pos), 0)
        except OSError:
            return
        finally:
            o.close()

    def _finish_rotated(self, taken: set[int]) -> None:
        """The rest of files the state was reading that were rotated away while following was
        down (``jobs.ndjson.1``, ``.1.gz`` beside the followed name): read, silently, before
        the changes written while down are yielded."""
        from .incremental import NOTHING, Plan, Task, complete_end, find_rotated, read_tasks

        assert self.state is not None
        given = {os.fsencode(os.path.abspath(n)) for n in self.watcher.names()}
        inodes = {(inp.inc.dev, inp.inc.ino) for inp in self._inputs.values() if inp.inc is not None}
        plan = Plan()
        found = find_rotated(self.state.files, taken, given, inodes, plan)
        try:
            tasks = []
            for o, m in found:
                assert m is not None
                end = (
                    NOTHING
                    if o.compressed and o.isize() == m.position % (1 << 32)
                    else -1
                    if o.compressed
                    else complete_end(o.fd, m.position, o.size)
                )
                tasks.append(Task(o, m, False, m.position, m.line, m.check, end))
            delta, results = read_tasks(
                tasks, model=self.decoder.model, max_line_bytes=self.decoder.max_line_bytes, workers=1
            )
            for task, res in zip(tasks, results, strict=True):  # one result per task
                o, m = task.opened, task.mark
                if res is not None and (res.failure is not None or res.rewritten):
                    continue
                if res is not None:
                    m.position, m.line, m.check = res.position, res.line, res.check
                    for rej in res.rejects:
                        if self.on_reject is not None:
                            self.on_reject(rej)
                m.compressed = m.done = o.compressed
                m.dev, m.ino, m.size, m.mtime_ns = o.st.st_dev, o.st.st_ino, o.st.st_size, o.st.st_mtime_ns
                m.path, m.label = o.path, o.source.label
            for message in plan.notices:
                self._notice(message)
            self._touched.update(delta._accs)
            self.feed.learn_table(delta)
        finally:
            plan.tasks = []
            for o, _ in found:
                o.close()

    def _sync_mark(self, inp: _Input) -> None:
        """Record in the state how far *inp*'s current file was read (complete lines only)."""
        from .incremental import FileMark, check_at, open_input

        inc = inp.inc
        if self.state is None or inc is None or inc.fd < 0:
            return
        m = inp.mark
        try:
            if m is None:
                try:
                    o = open_input(Source(inp.name), fd=inc.fd)
                except SourceError:
                    return
                o.close()
                if o.fingerprint is None:
                    return  # no complete line yet: nothing to resume
                m = inp.mark = self.state.add_file(
                    FileMark(
                        path=os.fsencode(os.path.abspath(inp.name)),
                        label=inp.label,
                        fingerprint=o.fingerprint,
                        stats=ReadStats(sources=1),
                    )
                )
            pos = inp.framer.position
            m.position, m.line = pos, inp.step.line
            m.compressed = inc.compressed
            m.done = inc.compressed and inp.sealed
            m.check = b"" if inc.compressed else check_at(inc.fd, pos)
            st = os.fstat(inc.fd)
            m.dev, m.ino, m.size, m.mtime_ns = st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns
        except OSError:
            return

    def _maybe_save(self) -> None:
        if (self._unsaved or self._handed_changed) and time.monotonic() - self._saved_at >= SAVE_EVERY:
            self.save()

    def save(self) -> None:
        """Save the state now: where each file was read to, the fold, and the changes yielded
        so far (call it once the last change yielded has been handled).  No-op without a state."""
        state = self.state
        if state is None:
            return
        for inp in self._inputs.values():
            self._sync_mark(inp)
        touched = self._touched
        state.touch(touched)
        table = self.feed.table
        for job_id in touched | self._handed_changed:
            hw = self._handed.get(job_id)
            changes = table.changes(job_id)
            if hw is not None:
                state.handed_out(job_id).update((c.at, c.to_status) for c in changes if change_key(c) <= hw)
            if any(hw is None or change_key(c) > hw for c in changes):
                state.pending.add(job_id)
            else:
                state.pending.discard(job_id)
        state.save()
        self._touched = set()
        self._handed_changed = set()
        self._unsaved = False
        self._saved_at = time.monotonic()


def _is_pipe(name: str) -> bool:
    """A FIFO or character device named as a path (``<(poller)``, ``/dev/stdin``): read to its end."""
    try:
        mode = os.stat(name).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


class _Named:
    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    @property
    def is_stdin(self) -> bool:
        return self.path == STDIN


def follow(
    paths: PathArg | Iterable[PathArg],
    *,
    from_start: bool = False,
    selection: Selection | None = None,
    on_reject: Callable[[Reject], Any] | None = None,
    on_notice: Callable[[str], Any] | None = None,
    until_terminal: bool = False,
    watch: str = "auto",
    poll_interval: tuple[float, float] = DEFAULT_POLL_INTERVAL,
    stop: Callable[[], bool] | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    read_size: int = DEFAULT_READ_SIZE,
    exclude: Iterable[str] = (),
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
        max_line_bytes=max_line_bytes,
        read_size=read_size,
        exclude=exclude,
    ) as follower:
        yield from follower
