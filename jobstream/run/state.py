"""Incremental state: what a run keeps so the next one reads only what is new (``--state FILE``).

A :class:`State` is one file holding, together, every input's position (:class:`FileMark`)
and the folded jobs, so a run reads only the bytes appended since the last one, merges them
into the saved fold (the fold is a semilattice: merging equals folding everything), prints
exactly what a full run over all the input would print, and saves.  It also remembers which
status changes were already handed out (``events --new``, ``tail --state``).

The file (format 1)::

    magic       20 bytes   \\x89 "jobstream-state" \\r \\n \\x1a \\n
    header      16 bytes   big-endian: format u16, flags u16, payload length u64, CRC-32 u32
                           (the CRC covers format, flags, length and the payload)
    payload                msgpack: options, generation, files (FileMark...), jobs, cursor

Each job is kept as its own parts: the reducer's wire form of that one job, its
:class:`~jobstream.reduce.reducer.JobState` (without history) and its status changes, as msgpack
bytes.  A run decodes only the jobs it touches and re-encodes only those; the outputs read
the others' saved states, so a run's cost follows the new bytes, not the total.

Saving is one atomic commit: a temp file in the same directory, fsync'd, renamed over the
file, the directory fsync'd; the generation it replaces is kept as ``FILE.prev`` (a hard
link, so no copy) and used when the newest cannot be read.  A lock file ``FILE.lock`` (an
``flock``) keeps two runs off one state: the second exits at once with
:class:`StateLockedError` (the CLI's exit 75, "try again later") rather than wait, because
the next run reads whatever the skipped one would have.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec

from ..decode.decoder import Model, Reject, SnapshotDecoder
from ..decode.step import ReadStats, SourceFailure
from ..errors import InvalidLineError, StateError, StateLockedError
from ..io.framing import DEFAULT_MAX_LINE_BYTES
from ..io.sources import PathArg, display_name, expand_sources
from ..reduce.filters import Selection
from ..reduce.reducer import JobBrief, JobState, JobTable, StatusChange
from .batch import PARALLEL_MIN_BYTES, RANGE_BYTES
from .incremental import NOTHING, FileMark, plan, read_tail, read_tasks

__all__ = ["State", "StateTable", "Update", "StateError", "StateLockedError", "FileMark", "FORMAT", "MAGIC"]

#: The first bytes of every state file.
MAGIC = b"\x89jobstream-state\r\n\x1a\n"
#: The format this version writes.  Older formats are read through :data:`_LOADERS` (and
#: written back in this one); a newer one is refused with a message saying so.
FORMAT = 1
_HEADER = struct.Struct(">HHQI")
_PREV = ".prev"
_LOCK = ".lock"


#: Crash-test hook: called with the name of each point of a run where a crash matters
#: (``"read"``: input read, nothing written yet; ``"save"``: outputs written, state not yet;
#: ``"written"``: new state in its temp file, fsync'd; ``"previous"``: previous generation
#: kept; ``"renamed"``: new state in place; ``"synced"``: directory fsync'd).  Nothing in
#: jobstream sets it and no environment variable does: the tests set it in a forked child to
#: kill that child with SIGKILL at exactly that point, which a timer cannot hit reliably.
FAULT: Callable[[str], None] | None = None


def _fault(point: str) -> None:
    if FAULT is not None:
        FAULT(point)


# --------------------------------------------------------------------------- the document


class _Options(msgspec.Struct, frozen=True):
    """What changes the fold: a state is only ever used with the same options."""

    kind: str  # "fold" (summary, jobs, events, checkpoints), "follow" (tail) or "validate" (rejects only)
    model: str  # the projection decoded: lean, view or full
    max_line_bytes: int

    def describe(self) -> str:
        if self.kind == "follow":
            return f"for tail (following), --max-line-bytes {self.max_line_bytes}"
        users = {"lean": "summary/events", "view": "jobs/checkpoints", "full": "validate"}
        return f"the {self.model} projection ({users.get(self.model, '?')}), --max-line-bytes {self.max_line_bytes}"


class _Job(msgspec.Struct, array_like=True, gc=False):
    """One job's parts, each msgpack kept as bytes (decoded only when needed)."""

    id: str
    acc: bytes  # JobTable.to_bytes([id]): the reducer's state of this job
    #: what the outputs read of it: its JobBrief (lean states: summary, events), or its
    #: JobState without history and changes (the others: jobs, checkpoints)
    state: bytes
    changes: bytes  # its status changes, as [from_status, to_status, at] rows (the job's id, type, model are in state)
    reported: bytes = b""  # the (at, status) of changes handed out by --new / tail (msgpack), or empty


class _Doc(msgspec.Struct, kw_only=True):
    options: _Options
    generation: int = 0
    written_by: str = ""
    saved_at: float = 0.0
    files: list[FileMark] = msgspec.field(default_factory=list)
    jobs: list[_Job] = msgspec.field(default_factory=list)
    #: whether changes have been handed out (then ``pending`` lists the jobs touched since)
    cursor: bool = False
    pending: list[str] = msgspec.field(default_factory=list)
    next_seq: int = 0


_ENC = msgspec.msgpack.Encoder()
_DOC_V1 = msgspec.msgpack.Decoder(_Doc)
_STATE = msgspec.msgpack.Decoder(JobState)
_BRIEF = msgspec.msgpack.Decoder(JobBrief)
_ROWS = msgspec.msgpack.Decoder(list[tuple[str | None, str, int]])


def _rows(changes: list[StatusChange]) -> bytes:
    return _ENC.encode([(c.from_status, c.to_status, c.at) for c in changes])


_REPORTED = msgspec.msgpack.Decoder(list[tuple[int, str]])


def _decode_v1(payload: bytes) -> _Doc:
    return _DOC_V1.decode(payload)


#: How each format is read into the current document.  A format change adds a loader here
#: that converts the old layout (fields added with defaults need none: msgspec fills them).
_LOADERS: dict[int, Callable[[bytes], _Doc]] = {1: _decode_v1}


class _Damaged(Exception):
    pass


def encode_state(doc: _Doc) -> list[bytes]:
    """The file's bytes, in pieces (header, payload: no copy of a big payload to join them)."""
    payload = _ENC.encode(doc)
    head = _HEADER.pack(FORMAT, 0, len(payload), 0)[:12]
    crc = zlib.crc32(payload, zlib.crc32(head))
    return [MAGIC + head + crc.to_bytes(4, "big"), payload]


def _decode_file(data: bytes, shown: str) -> _Doc:
    if not data.startswith(MAGIC):
        if data and not MAGIC.startswith(data[: len(MAGIC)]):
            raise StateError(
                f"{shown} is not a jobstream state file; refusing to use or replace it: give --state a new file name"
            )
        raise _Damaged("empty" if not data else "truncated")
    head = data[len(MAGIC) : len(MAGIC) + _HEADER.size]
    if len(head) < _HEADER.size:
        raise _Damaged("truncated")
    fmt, _flags, length, crc = _HEADER.unpack(head)
    payload = data[len(MAGIC) + _HEADER.size :]
    if fmt > FORMAT:
        raise StateError(
            f"state {shown} was written by a newer jobstream (format {fmt}; this one reads up to "
            f"{FORMAT}): upgrade jobstream, or --reset-state to start over"
        )
    if len(payload) != length:
        raise _Damaged(f"truncated: {len(payload)} of {length} bytes" if len(payload) < length else "trailing bytes")
    if zlib.crc32(payload, zlib.crc32(head[:12])) != crc:
        raise _Damaged("checksum mismatch")
    loader = _LOADERS.get(fmt)
    if loader is None:
        raise StateError(
            f"state {shown} has format {fmt}, which this jobstream no longer reads: --reset-state to start over"
        )
    try:
        return loader(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _Damaged(f"unreadable content: {exc}") from None


def _read(path: str) -> _Doc:
    with open(path, "rb") as fh:
        data = fh.read()
    return _decode_file(data, display_name(path))


def _load(path: str) -> tuple[_Doc | None, str | None]:
    """The saved document (None: no state yet), and a message if the previous generation
    had to stand in for the newest."""
    shown = display_name(path)
    prev = path + _PREV
    try:
        return _read(path), None
    except FileNotFoundError:
        if not os.path.exists(prev):
            return None, None
        why = "missing"
    except IsADirectoryError:
        raise StateError(f"state {shown} is a directory: give --state a file name") from None
    except _Damaged as exc:
        why = str(exc)
    except OSError as exc:
        why = exc.strerror or str(exc)
    try:
        doc = _read(prev)
    except (OSError, _Damaged, StateError):
        raise StateError(f"state {shown} is damaged ({why}); --reset-state to start over") from None
    return doc, (
        f"state {shown} is damaged ({why}); resumed from its previous generation {display_name(prev)} "
        "(the last run's work is done again, and its new changes may be reported again)"
    )


def _fsync_dir(directory: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _commit(path: str, data: list[bytes]) -> None:
    """Replace *path* with *data* atomically and durably, keeping the old file as ``.prev``."""
    target = os.path.abspath(path)
    directory = os.path.dirname(target)
    base = os.path.basename(target)
    shown = display_name(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise StateError(f"cannot save state {shown}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb", buffering=0) as fh:
            for piece in data:
                view = memoryview(piece)
                while view:
                    view = view[fh.write(view) or 0 :]
            os.fsync(fh.fileno())
        _fault("written")
        if os.path.exists(target):
            _keep_previous(target, directory, base)
        _fault("previous")
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise StateError(f"cannot save state {shown}: {exc.strerror or exc}") from None
        raise
    _fault("renamed")
    _fsync_dir(directory)
    _fault("synced")


def _keep_previous(target: str, directory: str, base: str) -> None:
    """``target`` becomes ``target.prev`` too: a hard link (no copy), renamed into place so
    ``.prev`` is always one whole generation; a copy where links are not supported."""
    prev = target + _PREV
    with contextlib.suppress(OSError):
        if os.path.samefile(prev, target):  # kept already (a run killed just after keeping it)
            return
    tmp = os.path.join(directory, f".{base}.prev.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.link(target, tmp)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        with open(target, "rb") as src, open(tmp, "wb") as dst:
            dst.write(src.read())
            dst.flush()
            os.fsync(dst.fileno())
    os.replace(tmp, prev)


def _clean_temps(path: str) -> None:
    """Remove temp files a killed run left beside the state (the lock is held: none is live)."""
    target = os.path.abspath(path)
    directory, base = os.path.dirname(target), os.path.basename(target)
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            if name.startswith(f".{base}.") and name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, name))


def _lock(path: str) -> int:
    """Take the state's lock (``flock`` on ``FILE.lock``) or raise :class:`StateLockedError`."""
    shown = display_name(path)
    try:
        fd = os.open(path + _LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        where = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(where):
            raise StateError(f"cannot use state {shown}: no such directory {display_name(where)}") from None
        raise StateError(f"cannot use state {shown}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = ""
        with contextlib.suppress(OSError):
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            by = f" (pid {holder})" if holder else ""
            raise StateLockedError(
                f"state {shown} is in use by another jobstream run{by}; this run did nothing: "
                "the next run reads what it would have read"
            ) from None
        raise StateError(f"cannot lock state {shown}: {exc.strerror}") from None
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


# --------------------------------------------------------------------------- what a run gives


class Update(msgspec.Struct, kw_only=True):
    """What :meth:`State.update` did: what changed, what it read, and what a full run over all
    the input would report (``stats``, ``rejects``, and ``table`` for the outputs)."""

    #: jobs whose state changed (from complete lines; a last line still being written is not in it)
    changed: list[str]
    #: what this run read (new bytes only)
    read: ReadStats
    #: what a full run over all the input would count
    stats: ReadStats
    #: every reject a full run would report, in input order, and this run's unreadable inputs
    rejects: list[Reject | SourceFailure]
    failures: list[SourceFailure]
    notices: list[str]
    warnings: list[str]
    table: StateTable


class StateTable:
    """The folded jobs of a state as the outputs read them: the methods of
    :class:`~jobstream.reduce.reducer.JobTable` that read (``jobs``, ``events``, ``summary``,
    ``checkpoints`` ...), answered from each job's saved state without decoding the fold of
    jobs nothing touched.  *overlay* holds what the last lines still being written add, for
    this output only.  :meth:`to_table` builds the real :class:`JobTable`."""

    def __init__(self, state: State, overlay: JobTable | None = None) -> None:
        self._state = state
        self._own: dict[str, tuple[JobState, list[StatusChange]]] = {}
        self._overlay = overlay if overlay is not None and len(overlay) else None
        if self._overlay is not None:
            for job_id in self._overlay._accs:
                part = state._materialised([job_id])
                part.merge_in(_only(self._overlay, job_id), consume=True)
                self._own[job_id] = _parts(part, job_id, state._briefs)

    def _ids(self) -> Iterator[str]:
        seen = self._state._records.keys() | self._state._held | self._own.keys()
        return iter(seen)

    def _light(self, job_id: str) -> Any:
        own = self._own.get(job_id)
        return own[0] if own is not None else self._state._light(job_id)

    def _changes(self, job_id: str) -> list[StatusChange]:
        own = self._own.get(job_id)
        return own[1] if own is not None else self._state._changes(job_id)

    def __len__(self) -> int:
        return len(self._state._records.keys() | self._state._held | self._own.keys())

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._own or job_id in self._state._records or job_id in self._state._held

    def jobs(self, *, light: bool = False) -> list[Any]:
        """Every job's state by ``created_at`` then id; ``history`` is always empty here,
        ``changes`` too with *light*.  A lean state (summary, events) answers *light* with
        each job's :class:`~jobstream.reduce.reducer.JobBrief`, all a summary or a selection reads."""
        if light:
            states = self._all_light()
        elif self._state._briefs:
            states = [self.get(j) for j in self._ids()]
        else:
            states = [msgspec.structs.replace(self._light(j), changes=self._changes(j)) for j in self._ids()]
        states.sort(key=lambda j: (j.created_at, j.id))
        return states

    def _all_light(self) -> list[Any]:
        """Every job's light part (brief or state), unordered: one tight loop, as a summary of
        a big state reads them all."""
        state, own = self._state, self._own
        decode = (_BRIEF if state._briefs else _STATE).decode
        held = state._held
        out = [decode(rec.state) for job_id, rec in state._records.items() if job_id not in held and job_id not in own]
        out += [state._parts(j)[0] for j in held if j not in own]
        out += [parts[0] for parts in own.values()]
        return out

    def get(self, job_id: str) -> JobState | None:
        if job_id not in self:
            return None
        if self._state._briefs:  # a brief is not a state: fold the job (its changes are the saved ones)
            part = self._state._materialised([job_id])
            if self._overlay is not None and job_id in self._overlay:
                part.merge_in(_only(self._overlay, job_id), consume=True)
            full = part.get(job_id)
            return msgspec.structs.replace(full, history=[]) if full is not None else None
        light: JobState = self._light(job_id)
        return msgspec.structs.replace(light, changes=self._changes(job_id))

    def changes(self, job_id: str) -> list[StatusChange]:
        return self._changes(job_id) if job_id in self else []

    def events(self, jobs: Iterable[JobState] | None = None) -> list[StatusChange]:
        """Every status change (of every job, or of *jobs*), by time, job id, history order."""
        if jobs is None:
            jobs = [_Changes(j, self._changes(j)) for j in self._ids()]  # type: ignore[misc]
        return _NO_JOBS.events(jobs)

    def summary(self, by: str | None = None, jobs: Iterable[JobState] | None = None) -> Any:
        return _NO_JOBS.summary(by=by, jobs=self._all_light() if jobs is None else jobs)

    def statuses(self) -> set[str]:
        """Every status observed (each is some change's ``to_status``)."""
        return {c.to_status for j in self._ids() for c in self._changes(j)}

    def job_types(self) -> set[str]:
        return {j.job_type for j in self._all_light()}

    def checkpoints(self, jobs: Iterable[JobState] | None = None) -> Any:
        return self.to_table().checkpoints(self.jobs(light=True) if jobs is None else jobs)

    def to_table(self) -> JobTable:
        """The whole fold as a :class:`JobTable` (decodes every job: for what needs it all)."""
        table = self._state.table
        if self._overlay is not None:
            table.merge_in(self._overlay)
        return table


class _Changes:
    """What :meth:`JobTable.events` reads of a job: its id and changes."""

    __slots__ = ("id", "changes")

    def __init__(self, job_id: str, changes: list[StatusChange]) -> None:
        self.id = job_id
        self.changes = changes


_NO_JOBS = JobTable()


def _only(table: JobTable, job_id: str) -> JobTable:
    return JobTable.from_bytes(table.to_bytes([job_id]))


def _parts(table: JobTable, job_id: str, brief: bool = False) -> tuple[Any, list[StatusChange]]:
    """What a state keeps of a job for the outputs: its brief (*brief*) or its state without
    history and changes, and its changes."""
    full = table.get(job_id)
    assert full is not None
    if brief:
        return JobBrief(
            full.id,
            full.job_type,
            full.model,
            full.status,
            full.created_at,
            full.modified_at,
            full.observations,
            full.trained_tokens,
            full.cost,
            full.cost_currency,
            full.queue_wait,
            full.run_time,
            full.total,
        ), full.changes
    return msgspec.structs.replace(full, history=[], changes=[]), full.changes


# --------------------------------------------------------------------------- the state


class State:
    """The incremental state kept in one file; see the module docstring.

    ::

        with jobstream.State.load("jobs.state", model="lean") as state:   # locks the state
            update = state.update(["logs/"])       # reads only what is new
            print(update.table.summary().by_status, update.changed)
            for change in state.new_changes():     # not handed out before
                alert(change)
            state.save()                           # one atomic commit

    *model* (``lean``, ``view``) and *max_line_bytes* change what is folded, so they are part
    of the state: loading it with others raises :class:`StateError`.  *validate* makes a
    state that folds nothing and keeps rejects (``jobstream validate --state``).  *reset*
    ignores what is saved (and the save then replaces it).  Raises
    :class:`StateLockedError` at once if another run holds it.
    """

    def __init__(self, path: str, options: _Options, doc: _Doc, lock_fd: int, recovered: str | None) -> None:
        self._lock_fd = lock_fd
        self.path = path
        self.options = options
        self.recovered = recovered
        self.is_new = not doc.generation
        self._lock_fd = lock_fd
        self._doc = doc
        self._marks: list[FileMark] = doc.files
        self._records: dict[str, _Job] = {j.id: j for j in doc.jobs}
        self._work = JobTable()  # the fold of the jobs held (touched in this process, or all: live)
        self._held: set[str] = set()
        self._computed: dict[str, tuple[Any, list[StatusChange]]] = {}  # parts of held jobs, as computed
        self._briefs = options.model == "lean"  # keeps each job's brief, not its state
        self._live = False
        self._dirty: set[str] = set()  # jobs whose saved parts are stale
        self._reported: dict[str, set[tuple[int, str]]] = {}  # decoded (and maybe changed) cursors
        self._pending: set[str] = set(doc.pending)
        self._cursor = doc.cursor
        #: something to save (a new or recovered state is saved whatever happens)
        self._changed = self.is_new or recovered is not None
        doc.jobs = []
        doc.pending = []

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        model: Model = "lean",
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        validate: bool = False,
        follow: bool = False,
        reset: bool = False,
    ) -> State:
        """Lock and read the state at *path* (a new, empty one if there is none yet).

        *follow* makes a state for :class:`~jobstream.run.follow.Follower` (``tail --state``),
        kept apart from the exports' (it hands out changes as they happen, never backwards)."""
        path = os.fspath(path)
        if validate:
            model = "full"
        options = _Options("validate" if validate else "follow" if follow else "fold", model, max_line_bytes)
        fd = _lock(path)
        try:
            _clean_temps(path)
            doc: _Doc | None = None
            recovered = None
            if reset:
                if os.path.exists(path):
                    with open(path, "rb") as fh:
                        start = fh.read(len(MAGIC))
                    if start and not MAGIC.startswith(start[: len(MAGIC)]) and not start.startswith(MAGIC):
                        raise StateError(
                            f"{display_name(path)} is not a jobstream state file; refusing to replace "
                            "it: give --state a new file name"
                        )
            else:
                doc, recovered = _load(path)
            if doc is None:
                doc = _Doc(options=options)
            elif doc.options != options:
                raise StateError(
                    f"state {display_name(path)} folds {doc.options.describe()}; this run asks for "
                    f"{options.describe()}: use a state file per command and options, or --reset-state to rebuild it"
                )
            if doc.jobs:
                try:
                    JobTable.from_bytes(doc.jobs[0].acc)
                except (ValueError, msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise StateError(
                        f"state {display_name(path)} holds jobs in a format this jobstream does not read "
                        f"({exc}): --reset-state to rebuild it from the logs"
                    ) from None
            return cls(path, options, doc, fd, recovered)
        except BaseException:
            os.close(fd)
            raise

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the lock (unsaved work is dropped)."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- what it holds -------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """How many times this state was saved."""
        return self._doc.generation

    @property
    def files(self) -> list[FileMark]:
        """Every input this state has read, vanished ones included (the state's own list: add
        to it with :meth:`add_file`)."""
        return self._marks

    @property
    def table(self) -> JobTable:
        """The fold of every complete line read so far, as a new :class:`JobTable`."""
        table = JobTable()
        for job_id, rec in self._records.items():
            if job_id not in self._held:
                table.merge_in(JobTable.from_bytes(rec.acc), consume=True)
        table.merge_in(self._work)
        return table

    @property
    def stats(self) -> ReadStats:
        """What the complete lines read so far gave, over every input (a full run's count)."""
        total = ReadStats()
        for m in self._marks:
            total = total.merge(m.stats)
        return total

    def _materialised(self, job_ids: Iterable[str]) -> JobTable:
        """A new table holding the current fold of *job_ids* (copies: the state is unchanged)."""
        out = JobTable()
        for job_id in job_ids:
            if job_id in self._held:
                out.merge_in(_only(self._work, job_id), consume=True)
            elif job_id in self._records:
                out.merge_in(JobTable.from_bytes(self._records[job_id].acc), consume=True)
        return out

    def _parts(self, job_id: str) -> tuple[Any, list[StatusChange]]:
        got = self._computed.get(job_id)
        if got is None:
            got = self._computed[job_id] = _parts(self._work, job_id, self._briefs)
        return got

    def _light(self, job_id: str) -> Any:
        if job_id in self._held:
            return self._parts(job_id)[0]
        return (_BRIEF if self._briefs else _STATE).decode(self._records[job_id].state)

    def _changes(self, job_id: str) -> list[StatusChange]:
        if job_id in self._held:
            return self._parts(job_id)[1]
        job = self._light(job_id)
        return [
            StatusChange(job_id, job.job_type, job.model, f, t, at)
            for f, t, at in _ROWS.decode(self._records[job_id].changes)
        ]

    # -- reading -------------------------------------------------------------------------------

    def fold(self, delta: JobTable) -> list[str]:
        """Merge *delta* (a fold of new snapshots) into the state; returns the jobs it touched."""
        touched = list(delta._accs)
        work = self._work
        for job_id in touched:
            if job_id not in self._held and job_id in self._records:
                work.merge_in(JobTable.from_bytes(self._records[job_id].acc), consume=True)
        work.merge_in(delta, consume=True)
        self.touch(touched)
        return touched

    def touch(self, job_ids: Iterable[str]) -> None:
        """Say that these jobs changed in the fold the state holds (:meth:`live_table`)."""
        for job_id in job_ids:
            self._changed = True
            self._held.add(job_id)
            self._computed.pop(job_id, None)
            self._dirty.add(job_id)
            if self._cursor:
                self._pending.add(job_id)

    def live_table(self) -> JobTable:
        """The whole fold, decoded and held by the state from now on: a follower folds into it
        in place, tells :meth:`touch` which jobs changed, and calls :meth:`save`."""
        if not self._live:
            for job_id, rec in self._records.items():
                if job_id not in self._held:
                    self._work.merge_in(JobTable.from_bytes(rec.acc), consume=True)
                    self._held.add(job_id)
            self._live = True
        return self._work

    def add_file(self, mark: FileMark) -> FileMark:
        """Keep *mark* (a file met while following) with the others."""
        mark.seq = self._doc.next_seq
        self._doc.next_seq += 1
        self._marks.append(mark)
        self._changed = True
        return mark

    @property
    def pending(self) -> set[str]:
        """Jobs that may have changes not handed out yet (a live set, saved with the state)."""
        return self._pending

    def update(
        self,
        paths: PathArg | Iterable[PathArg],
        *,
        workers: int | None = None,
        strict: bool = False,
        min_parallel_bytes: int = PARALLEL_MIN_BYTES,
        range_bytes: int = RANGE_BYTES,
    ) -> Update:
        """Read what is new in *paths* (files, directories, globs; not stdin) and fold it in.

        Returns an :class:`Update`: the jobs that changed, what was read, and what a full run
        over all the input would report.  Nothing is saved until :meth:`save`.  With *strict*,
        raises :class:`~jobstream.errors.InvalidLineError` for the first rejected line (of any
        run) instead.
        """
        sources = expand_sources(paths)
        for src in sources:
            if not src.is_stdin and os.path.exists(self.path) and src.same_file(self.path):
                raise StateError(f"refusing to read the state file {display_name(self.path)} as an input")
        before = _signature(self._marks)
        pl = plan(self._marks, sources, next_seq=self._doc.next_seq)
        given = {src.label: i for i, src in enumerate(sources)}
        fold = self.options.kind == "fold"
        model: Model = self.options.model  # type: ignore[assignment]
        # what this run adds to the output only (never saved): a last line still being written,
        # a file without a complete first line, what was read of an input before it failed;
        # keyed by a mark's seq, or by -1 - (index of the input) for inputs without a mark
        extra: dict[int, _Extra] = {}
        order: dict[int, int] = {}  # those keys (and marks' seq) -> where the input comes in the output
        failures: list[SourceFailure] = []
        warnings = list(pl.warnings)
        read = ReadStats()
        overlay = JobTable()
        each = overlay.update if fold else _drop
        decoder = SnapshotDecoder(model, max_line_bytes=self.options.max_line_bytes)
        try:
            delta, results = read_tasks(
                pl.tasks,
                model=model,
                fold=fold,
                max_line_bytes=self.options.max_line_bytes,
                workers=1 if strict else workers,
                min_parallel_bytes=min_parallel_bytes,
                range_bytes=range_bytes,
            )
            changed = self.fold(delta) if fold else []
            seq = self._doc.next_seq
            for task, res in zip(pl.tasks, results, strict=True):  # one result per task
                o, m = task.opened, task.mark
                where = given.get(o.source.label, len(sources))
                if res is not None:
                    read = read.merge(res.stats)
                    if res.failure is not None:  # the mark stays where it was: read again next time
                        failures.append(res.failure)
                        bucket = extra[-1 - where] = _Extra(ReadStats(sources=int(task.new), failed=1))
                        bucket.add(res.stats, res.rejects + [res.failure])
                        order[-1 - where] = where
                        continue
                    if res.rewritten:
                        warnings.append(
                            f"{o.source.label}: its content before offset {m.position} changed: read "
                            "again from the start; what it held before stays counted (--reset-state "
                            "for an exact recount)"
                        )
                        m = FileMark(
                            path=o.path, label=o.source.label, fingerprint=m.fingerprint, stats=ReadStats(sources=1)
                        )
                        task.new = True
                if task.new:
                    m.seq = seq
                    seq += 1
                    self._marks.append(m)
                if res is not None:
                    m.position, m.line, m.check = res.position, res.line, res.check
                    m.stats = m.stats.merge(res.stats)
                    m.rejects.extend(res.rejects)
                if o.compressed and (res is not None or task.end == NOTHING):
                    m.compressed = m.done = True
                m.path, m.label = o.path, o.source.label
                m.dev, m.ino, m.size, m.mtime_ns = o.st.st_dev, o.st.st_ino, o.st.st_size, o.st.st_mtime_ns
                order[m.seq] = where
                if not o.compressed and o.size > m.position:  # a last line still being written
                    bucket = extra.setdefault(m.seq, _Extra(ReadStats()))
                    read_tail(o, m.position, m.line, decoder, bucket.stats, bucket.rejects, each)
            self._doc.next_seq = seq
            for o in pl.loose:  # no complete first line yet
                where = given.get(o.source.label, len(sources))
                bucket = extra[-1 - where] = _Extra(ReadStats(sources=1))
                read_tail(o, 0, 1, decoder, bucket.stats, bucket.rejects, each)
                order[-1 - where] = where
                failures.extend(r for r in bucket.rejects if isinstance(r, SourceFailure))
        finally:
            pl.close()
        for failure in pl.failures:  # inputs that could not be opened
            where = given.get(failure.source, len(sources))
            extra[-1 - where] = _Extra(ReadStats(sources=1, failed=1), [failure])
            order[-1 - where] = where
            failures.append(failure)
        if _signature(self._marks) != before:
            self._changed = True
        _fault("read")
        stats, rejects = self._report(extra, order, len(sources))
        if strict:
            first = next((r for r in rejects if not isinstance(r, SourceFailure)), None)
            if first is not None:
                raise InvalidLineError(first.error, path=first.source, lineno=first.line, line=first.raw)
        return Update(
            changed=changed,
            read=read,
            stats=stats,
            rejects=rejects,
            failures=failures,
            notices=pl.notices,
            warnings=warnings,
            table=StateTable(self, overlay if fold else None),
        )

    def _report(self, extra: dict[int, _Extra], order: dict[int, int], given: int) -> tuple[ReadStats, list[Any]]:
        """Totals and rejects over every input, in the order a full run reports them: the
        inputs of this run as given, then the others the state knows, oldest first."""
        keys = [(order.get(m.seq, given), m.seq) for m in self._marks]
        keys += [(where, k) for k, where in order.items() if k < 0]
        keys.sort()
        marks = {m.seq: m for m in self._marks}
        stats = ReadStats()
        rejects: list[Any] = []
        for _, k in keys:
            m = marks.get(k)
            if m is not None:
                stats = stats.merge(m.stats)
                rejects.extend(
                    r if r.source == m.label else msgspec.structs.replace(r, source=m.label) for r in m.rejects
                )
            more = extra.get(k)
            if more is not None:
                stats = stats.merge(more.stats)
                rejects.extend(more.rejects)
        return stats, rejects

    # -- handing out changes -------------------------------------------------------------------

    def _reported_of(self, job_id: str) -> set[tuple[int, str]]:
        got = self._reported.get(job_id)
        if got is None:
            rec = self._records.get(job_id)
            got = set(_REPORTED.decode(rec.reported)) if rec is not None and rec.reported else set()
            self._reported[job_id] = got
        return got

    def new_changes(self, selection: Selection | None = None) -> list[StatusChange]:
        """The status changes not handed out by an earlier call (saved with the state), that
        pass *selection*; every change is then handed out, selected or not.

        Keyed by ingestion: a change read late (dated before changes already handed out) is
        handed out once, with its own time.  Such a late change can make a change handed out
        earlier read differently in a full run (its ``from_status``), or not be a change at all
        any more (superseded); what was handed out is never handed out again.  Changes come
        from complete lines only.  Ordered by time, then job id.
        """
        keep = (selection or Selection()).keep_change
        if self._cursor:
            ids: Iterable[str] = self._pending
        else:
            ids = self._records.keys() | self._held
        keyed = []
        for job_id in ids:
            done = self._reported_of(job_id)
            for i, change in enumerate(self._changes(job_id)):
                key = (change.at, change.to_status)
                if key in done:
                    continue
                done.add(key)
                self._changed = True
                if keep(change):
                    keyed.append(((change.at, job_id, i), change))
        if not self._cursor or self._pending:
            self._changed = True
        self._cursor = True
        self._pending = set()
        keyed.sort(key=lambda kc: kc[0])
        return [change for _, change in keyed]

    def handed_out(self, job_id: str) -> set[tuple[int, str]]:
        """The ``(at, to_status)`` of the job's changes handed out so far (a live set: add to it
        to hand more out, as ``tail --state`` does)."""
        self._cursor = True
        self._changed = True
        return self._reported_of(job_id)

    # -- saving --------------------------------------------------------------------------------

    def save(self) -> None:
        """Commit the state: one atomic, durable write (see the module docstring).  Call it
        after the outputs are written, so a crash repeats work and never skips it."""
        _fault("save")
        if self._lock_fd < 0:
            raise StateError(f"state {display_name(self.path)} is closed")
        if not self._changed:
            return  # nothing new: the file says it all already (and .prev stays the generation before)
        records = self._records
        for job_id in self._dirty:
            light, changes = self._parts(job_id)
            old = records.get(job_id)
            records[job_id] = _Job(
                job_id,
                self._work.to_bytes([job_id]),
                _ENC.encode(light),
                _rows(changes),
                old.reported if old is not None else b"",
            )
        self._dirty.clear()
        for job_id, done in self._reported.items():
            rec = records.get(job_id)
            if rec is not None:
                rec.reported = _ENC.encode(sorted(done)) if done else b""
        doc = self._doc
        doc.jobs = list(records.values())
        doc.files = self._marks
        doc.cursor = self._cursor
        doc.pending = sorted(self._pending)
        doc.generation += 1
        doc.written_by = _version()
        doc.saved_at = time.time()
        try:
            data = encode_state(doc)
        finally:
            doc.jobs = []
            doc.pending = []
        try:
            _commit(self.path, data)
        except BaseException:
            doc.generation -= 1
            raise
        self.is_new = False
        self._changed = False


def _drop(snaps: list[Any]) -> None:
    pass


def _signature(marks: list[FileMark]) -> list[tuple[Any, ...]]:
    """What of the marks a save must record (to know whether a run changed anything)."""
    return [
        (
            m.path,
            m.label,
            m.position,
            m.line,
            m.check,
            m.done,
            m.compressed,
            m.dev,
            m.ino,
            m.size,
            m.mtime_ns,
            len(m.rejects),
            m.stats.lines,
        )
        for m in marks
    ]


class _Extra:
    """What a run adds to one input's report for its output only."""

    __slots__ = ("stats", "rejects")

    def __init__(self, stats: ReadStats, rejects: list[Any] | None = None) -> None:
        self.stats = stats
        self.rejects: list[Any] = rejects if rejects is not None else []

    def add(self, stats: ReadStats, rejects: list[Any]) -> None:
        self.stats = self.stats.merge(stats)
        self.rejects.extend(rejects)


def _version() -> str:
    from .. import __version__

    return f"jobstream {__version__}"
