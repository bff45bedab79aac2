"""Parallel reading: plan the work, fork workers, merge their results, renumber rejects.

The work itself is not this module's: :func:`run` takes a *work* function (fold a unit, or
only validate it) and runs it over byte ranges of the inputs in several processes.

* **Plan.**  A plain file is cut into newline-aligned byte ranges; a compressed file is one
  unit (it cannot be split); small files are batched, so 100k tiny files are not 100k work
  units.  Units go to processes by size (greedy), the parent taking its share.
* **Consistent under rotation.**  Every input is opened once, in the parent, *before* the
  workers are forked: they read their ranges from those open descriptors (``pread``), so a
  file renamed, replaced or truncated by a rotation mid-run is still read as one file.
* **Forked, or spawned when threads run.**  Workers are forked: they start with the
  parent's imports and decoders.  A process with other threads (a Jupyter kernel, an
  application, a Dask client) is not forked, since a lock another thread held at the fork
  would stay held in the child: its workers are started as new interpreters, given the
  same open descriptors and their share of the work (pickled).  Either way results come
  back through a pipe in the fold's compact wire form.
* **Workers die with the parent.**  A parent killed outright (``kill -9``, a cron timeout,
  the OOM killer) takes its workers with it (Linux's parent-death signal), instead of
  leaving them to read the rest of their share.
* **Exact renumbering.**  A worker numbers the lines of each range from 1 and reports how
  many lines the range had; the parent adds the line counts of the ranges before it, so a
  reject names its true line, as a single-process read would.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from ..decode.decoder import Reject
from ..decode.step import ReadStats, SourceFailure
from ..errors import JobstreamError
from ..io.sources import HEAD_BYTES, Source, is_compressed_head

if TYPE_CHECKING:
    import subprocess

__all__ = ["Unit", "UnitResult", "plan", "run", "default_workers", "split_ranges", "line_start", "renumber"]


def default_workers() -> int:
    """The number of cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass
class Unit:
    """One piece of work: ``[start, end)`` of an input (``end`` -1: all of it, as a stream)."""

    index: int
    source: Source
    start: int = 0
    end: int = -1
    size: int = 0  # bytes on disk, for balancing


class UnitResult(msgspec.Struct, array_like=True):
    """What a worker sends back for one unit (the table travels once per worker, not per unit)."""

    index: int
    #: every line of the unit, blank ones too: the base for renumbering the units after it
    lines: int
    stats: ReadStats
    rejects: list[Reject | SourceFailure] = msgspec.field(default_factory=list)


def line_start(pread: Callable[[int, int], bytes], pos: int, size: int) -> int:
    """Where the first line that starts at or after *pos* starts, in a file of *size* bytes:
    just after the first newline at or after ``pos - 1`` (*size* if there is none).

    Cutting a file at ``line_start`` of any positions gives newline-aligned ranges: a line is
    never split, a CRLF stays whole, and a cut never falls inside a leading BOM.  Every
    reader of ranges cuts with this rule (*pread(length, offset)* reads the file), so ranges
    computed apart (a Dask worker aligning its own block) meet exactly."""
    if pos <= 0:
        return 0
    scan = pos - 1
    while scan < size:
        block = pread(min(1 << 16, size - scan), scan)
        if not block:
            break
        nl = block.find(b"\n")
        if nl >= 0:
            return scan + nl + 1
        scan += len(block)
    return size


def split_ranges(fd: int, size: int, parts: int, *, min_bytes: int = 1, start: int = 0) -> list[tuple[int, int]]:
    """Newline-aligned ``[start, end)`` ranges covering bytes *start* .. *size* of a file (see
    :func:`line_start`; *start* is a line start: an incremental run resumes there)."""
    bounds = [start]
    for k in range(1, parts):
        pos = start + (size - start) * k // parts
        if pos <= bounds[-1] + min_bytes:
            continue
        cut = line_start(lambda n, at: os.pread(fd, n, at), pos, size)
        if bounds[-1] < cut < size:
            bounds.append(cut)
    bounds.append(size)
    return list(zip(bounds, bounds[1:], strict=False))  # each bound with the next


def plan(
    sources: Sequence[Source], workers: int, *, min_bytes: int = 32 << 20, min_range: int = 16 << 20
) -> tuple[list[Unit], dict[Source, int]] | None:
    """Units for *workers* processes, and the descriptors opened for the files cut into
    ranges, or None when one process is the better choice (one worker, stdin, or under
    *min_bytes* in all).

    A file cut into ranges is opened here, once, so every range is read from the same file;
    any other input is one unit, opened by the process that reads it (so 100k small files
    are not 100k descriptors at once).  The caller closes the descriptors."""
    if workers <= 1 or any(s.is_stdin for s in sources):
        return None
    sizes = [s.size() for s in sources]
    known = [size for size in sizes if size is not None]
    if len(known) < len(sizes) or sum(known) < min_bytes:
        return None
    fds: dict[Source, int] = {}
    units: list[Unit] = []
    for src, size in zip(sources, known, strict=True):
        if size < 2 * min_range or src in fds or src.is_remote:
            units.append(Unit(len(units), src, 0, -1, size))  # read whole, as a stream, by one process
            continue
        try:
            fd = os.open(src.name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            units.append(Unit(len(units), src, 0, -1, size))  # its reader reports why it cannot be read
            continue
        try:
            size = os.fstat(fd).st_size  # the file as opened
            plain = not is_compressed_head(os.pread(fd, HEAD_BYTES, 0))
        except OSError:
            os.close(fd)
            units.append(Unit(len(units), src, 0, -1, size))
            continue
        if not plain:
            os.close(fd)
            units.append(Unit(len(units), src, 0, -1, size * 6))  # decompressing costs more: weigh it
            continue
        fds[src] = fd
        parts = max(2, min(workers * 2, size // min_range))
        for start, end in split_ranges(fd, size, parts):
            units.append(Unit(len(units), src, start, end, end - start))
    if len(units) < 2:
        for fd in fds.values():
            os.close(fd)
        return None
    return units, fds


def _assign(units: Sequence[Unit], procs: int, parent_share: float) -> list[list[Unit]]:
    """Units per process, balanced by size (greedy, biggest first).  Process 0 is the parent,
    which also merges and writes: it is given *parent_share* of a worker's load."""
    loads = [0.0] * procs
    weights = [parent_share] + [1.0] * (procs - 1)
    out: list[list[Unit]] = [[] for _ in range(procs)]
    for unit in sorted(units, key=lambda u: -u.size):
        p = min(range(procs), key=lambda i: (loads[i] + unit.size) / weights[i])
        out[p].append(unit)
        loads[p] += unit.size
    for group in out:
        group.sort(key=lambda u: u.index)
    return out


Work = Callable[[Sequence[Unit], dict[Source, int]], tuple[Any, list[UnitResult]]]


@dataclass
class Outcome:
    """What :func:`run` gathered: each process's payload, and every unit's result in input order."""

    payloads: list[Any] = field(default_factory=list)
    units: list[UnitResult] = field(default_factory=list)


_WIRE = msgspec.msgpack.Encoder()


#: How long a spawned worker may take to say it started (an interpreter that is not Python,
#: in an embedding host, never does): then its share is done by the parent.
SPAWN_TIMEOUT = 30.0


def run(
    units: Sequence[Unit],
    fds: dict[Source, int],
    work: Work,
    *,
    workers: int,
    encode: Callable[[Any], bytes],
    decode: Callable[[bytes], Any],
    parent_share: float = 0.8,
    spawn_timeout: float = SPAWN_TIMEOUT,
) -> Outcome:
    """Run *work* over *units* in *workers* processes (this one included), started now.

    *work(units, fds)* returns ``(payload, unit results)``: the payload (the process's folded
    table) travels back once per worker, through *encode* and *decode*.  Unit results come
    back in input order, their rejects still numbered from each unit's start (see
    :func:`renumber`).  In a process with other threads the workers are spawned, not forked,
    and *work* and *encode* travel pickled; a worker that cannot be started that way (the
    work does not pickle, or cannot be imported by a new interpreter) has its share done
    here instead, as is the share of one that has not started within *spawn_timeout* seconds.
    """
    procs = min(workers, len(units))
    groups = _assign(units, procs, parent_share)
    threaded = threading.active_count() > 1
    if procs <= 1:
        payload, results = work(units, fds)
        return Outcome([payload], sorted(results, key=lambda r: r.index))
    decoder = msgspec.msgpack.Decoder(tuple[bytes, list[UnitResult]])
    children: list[_Child] = []
    parent = os.getpid()
    die_with = _death_signal()
    mine = list(groups[0])
    if not threaded:
        gc.freeze()  # what exists now is shared with the workers, not copied on their first GC pass
    try:
        if threaded:
            deadline = time.monotonic() + spawn_timeout
            children = _spawn_all(groups[1:], fds, work, encode, parent)
            started = {u.index for child in children for u in child.group}
            mine += [u for group in groups[1:] for u in group if u.index not in started]
        else:
            children = [_fork(group, fds, work, encode, parent, die_with) for group in groups[1:]]
        payload, results = work(mine, fds)
        outcome = Outcome([payload], list(results))
        if threaded:
            for child in _not_started(children, deadline):  # their shares are done here
                child.kill()
                children.remove(child)
                payload, results = work(child.group, fds)
                outcome.payloads.append(payload)
                outcome.units.extend(results)
        for child in list(children):
            data, status = child.finish()
            children.remove(child)
            if data[:1] == b"F":  # it could not take its share: do it here
                payload, results = work(child.group, fds)
                outcome.payloads.append(payload)
                outcome.units.extend(results)
                continue
            if status != 0 or data[:1] == b"E" or not data:
                why = data[1:].decode("utf-8", "replace") if data[:1] == b"E" else f"exit status {status}"
                raise JobstreamError(f"a worker process failed: {why}")
            more_payload, more = decoder.decode(data)
            outcome.payloads.append(decode(more_payload))
            outcome.units.extend(more)
    finally:
        if not threaded:
            gc.unfreeze()
        for child in children:  # an error or an interrupt: stop the workers that are left
            child.kill()
    outcome.units.sort(key=lambda u: u.index)
    return outcome


class _Child:
    """A worker started by :func:`_fork` (a pid) or :func:`_spawn_all` (a Popen), its share,
    and the read end of the pipe its result comes back through.

    What it writes there: the result (msgpack, always a 2-item array: first byte 0x92), ``E``
    and why its work failed, or ``F`` and why it could not take its share; a spawned worker
    writes ``S`` first, once it holds its share and is about to work."""

    def __init__(
        self, fd: int, group: Sequence[Unit], pid: int = 0, proc: subprocess.Popen[bytes] | None = None
    ) -> None:
        self.fd, self.group, self.pid, self.proc = fd, list(group), pid, proc

    def finish(self) -> tuple[bytes, int]:
        """Its reply and exit status, once it has ended."""
        data = _read_all(self.fd)
        os.close(self.fd)
        self.fd = -1
        if self.proc is not None:
            return data, self.proc.wait()
        return data, os.waitpid(self.pid, 0)[1]

    def kill(self) -> None:
        try:
            if self.proc is not None:
                self.proc.kill()
                self.proc.wait()
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
            else:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except OSError:
            pass
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1


def _not_started(children: Sequence[_Child], deadline: float) -> list[_Child]:
    """The spawned *children* that have not said ``S`` (started, share in hand) by *deadline*
    (``time.monotonic()``): one wait for all of them, on any number of descriptors."""
    import select

    waiting = {child.fd: child for child in children}
    poller = select.poll()
    for fd in waiting:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    failed = []
    while waiting:
        left = max(0.0, deadline - time.monotonic())
        events = poller.poll(left * 1000)
        if not events and left <= 0:
            break
        for fd, _ in events:
            child = waiting.pop(fd)
            poller.unregister(fd)
            try:
                said = os.read(fd, 1)
            except OSError:
                said = b""
            if said != b"S":  # F and why, or nothing: it ended without taking its share
                failed.append(child)
    return failed + list(waiting.values())


def _fork(
    group: Sequence[Unit],
    fds: dict[Source, int],
    work: Work,
    encode: Callable[[Any], bytes],
    parent: int,
    die_with: Callable[[int], None],
) -> _Child:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: never returns into the caller's code

        def setup() -> tuple[Sequence[Unit], dict[Source, int], Work, Callable[[Any], bytes]]:
            os.close(r)
            die_with(parent)
            return group, fds, work, encode

        _work_and_reply(w, setup)
    os.close(w)
    return _Child(r, group, pid=pid)


#: What a spawned worker runs (its argument: the pipe to reply on).  It leaves the working
#: directory off its path (a ``pickle.py`` there must not be imported) and takes its share,
#: pickled, from stdin; even a failed import is a reply.
_SPAWNED = """
import os, sys
w = int(sys.argv[1])
if sys.path and sys.path[0] == "":
    del sys.path[0]
try:
    from jobstream.run.parallel import _spawned
except BaseException as exc:
    try:
        os.write(w, b"F" + repr(exc).encode("utf-8", "replace"))
    except OSError:
        pass
    os._exit(1)
_spawned(w)
"""


def _spawn_all(
    groups: Sequence[Sequence[Unit]],
    fds: dict[Source, int],
    work: Work,
    encode: Callable[[Any], bytes],
    parent: int,
) -> list[_Child]:
    """Start a worker per group as a new interpreter (``sys.executable``) that sees the
    modules this process sees (its ``sys.path``) and inherits the inputs' descriptors, in its
    own session (a Ctrl-C at the terminal is for the parent, which stops its workers).  The
    groups whose worker could not be started are left out: the caller does them."""
    import pickle
    import subprocess

    if not sys.executable:
        return []
    try:
        how = pickle.dumps((work, encode))
    except Exception:  # noqa: BLE001 - a closure, a lambda: not for another interpreter
        return []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    children: list[tuple[_Child, bytes]] = []
    low: list[int] = []
    try:
        # descriptors 0-2 are the child's stdin, stdout and stderr: an input opened under one
        # of them (this process started with it closed) is passed under another number
        theirs = {src: _above_stdio(fd, low) for src, fd in fds.items()}
        for group in groups:
            r, ours = os.pipe()
            w = _above_stdio(ours, low)
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-c", _SPAWNED, str(w)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,  # why it failed comes back as F or E
                    pass_fds=sorted({w, *theirs.values()}),
                    env=env,
                    start_new_session=True,
                )
            except BaseException as exc:
                os.close(r)
                if isinstance(exc, OSError):
                    continue  # no such interpreter: the parent does this share
                raise
            finally:
                os.close(ours)
            spec = pickle.dumps((parent, list(group), theirs)) + how
            children.append((_Child(r, group, proc=proc), spec))
    except BaseException:
        for child, _ in children:
            child.kill()
        raise
    finally:
        for fd in low:
            os.close(fd)
    for child, spec in children:  # written by threads: a worker that never reads cannot block this one
        assert child.proc is not None and child.proc.stdin is not None
        threading.Thread(target=_send, args=(child.proc.stdin, spec), daemon=True).start()
    return [child for child, _ in children]


def _send(stream: Any, data: bytes) -> None:
    """Write *data* to a worker's stdin and close it (a worker that ended: nothing to do)."""
    try:
        with stream:
            stream.write(data)
    except (OSError, ValueError):
        pass


def _above_stdio(fd: int, opened: list[int]) -> int:
    """*fd*, or a copy of it numbered 3 or more (recorded in *opened*, to be closed)."""
    if fd > 2:
        return fd
    import fcntl

    copy = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    opened.append(copy)
    return copy


def _spawned(w: int) -> None:
    """A spawned worker: take its share from stdin, do it, reply on *w*."""
    import pickle

    def setup() -> tuple[Sequence[Unit], dict[Source, int], Work, Callable[[Any], bytes]]:
        stream = sys.stdin.buffer
        parent, group, fds = pickle.load(stream)
        _death_signal()(parent)
        work, encode = pickle.load(stream)
        os.write(w, b"S")  # started, share in hand: from here a failure is the work's
        return group, fds, work, encode

    _work_and_reply(w, setup)


def _work_and_reply(
    w: int, setup: Callable[[], tuple[Sequence[Unit], dict[Source, int], Work, Callable[[Any], bytes]]]
) -> None:
    """In a worker: *setup* (which gives its units, descriptors, work and payload encoder),
    do the work and write the result to *w*, or ``F`` and why setup failed, or ``E`` and why
    the work failed; exit, whatever happens."""
    code = 0
    stage = b"F"
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        group, fds, work, encode = setup()
        stage = b"E"
        gc.disable()
        payload, results = work(group, fds)
        data = _WIRE.encode((encode(payload), results))
        _write_all(w, data)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        code = 1
        try:
            _write_all(w, stage + f"{type(exc).__name__}: {exc}".encode("utf-8", "replace"))
        except OSError:
            pass
    finally:
        os._exit(code)


def renumber(units: Sequence[Unit], results: Sequence[UnitResult]) -> list[Reject]:
    """Every reject in input order, numbered from the start of its file: each unit's lines
    are counted from 1 by its worker; the units of the same file before it add up."""
    base: dict[Source, int] = {}
    out: list[Reject] = []
    by_index = {r.index: r for r in results}
    for unit in units:
        res = by_index[unit.index]
        first = 0 if unit.start == 0 else base.get(unit.source, 0)
        for rej in res.rejects:
            rej.line += first
            out.append(rej)
        base[unit.source] = first + res.lines
    return out


def _death_signal() -> Callable[[int], None]:
    """In the parent, before forking: what a worker calls first, with the parent's pid, to be
    killed when the parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, Linux).  Elsewhere, or
    without a usable prctl, it does nothing: a worker of a killed parent there reads on to
    the end of its share."""
    if not sys.platform.startswith("linux"):
        return lambda parent: None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda parent: None
    pr_set_pdeathsig, sigkill, zero = ctypes.c_int(1), ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0)

    def die_with(parent: int) -> None:
        prctl(pr_set_pdeathsig, sigkill, zero, zero, zero)
        if os.getppid() != parent:  # the parent died before the signal was asked for
            os._exit(1)

    return die_with


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    os.close(fd)


def _read_all(fd: int) -> bytes:
    parts: list[bytes] = []
    while True:
        piece = os.read(fd, 1 << 20)
        if not piece:
            return b"".join(parts)
        parts.append(piece)


if sys.platform == "win32":  # pragma: no cover - no fork there

    def run(
        units: Sequence[Unit],
        fds: dict[Source, int],
        work: Work,
        *,
        workers: int,  # type: ignore[no-redef]
        encode: Callable[[Any], bytes],
        decode: Callable[[bytes], Any],
        parent_share: float = 0.8,
        spawn_timeout: float = SPAWN_TIMEOUT,
    ) -> Outcome:
        payload, results = work(units, fds)
        return Outcome([payload], sorted(results, key=lambda r: r.index))
