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
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..decode.decoder import Reject
from ..decode.step import ReadStats, SourceFailure
from ..errors import JobstreamError
from ..io.sources import HEAD_BYTES, Source, is_compressed_head

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


def run(
    units: Sequence[Unit],
    fds: dict[Source, int],
    work: Work,
    *,
    workers: int,
    encode: Callable[[Any], bytes],
    decode: Callable[[bytes], Any],
    parent_share: float = 0.8,
) -> Outcome:
    """Run *work* over *units* in *workers* processes (this one included), started now.

    *work(units, fds)* returns ``(payload, unit results)``: the payload (the process's folded
    table) travels back once per worker, through *encode* and *decode*.  Unit results come
    back in input order, their rejects still numbered from each unit's start (see
    :func:`renumber`).  In a process with other threads the workers are spawned, not forked:
    *work* and *encode* must then pickle (module-level functions or classes).
    """
    procs = min(workers, len(units))
    groups = _assign(units, procs, parent_share)
    threaded = threading.active_count() > 1
    if procs <= 1 or (threaded and not sys.executable):  # (no interpreter to start: embedded)
        payload, results = work(units, fds)
        return Outcome([payload], sorted(results, key=lambda r: r.index))
    decoder = msgspec.msgpack.Decoder(tuple[bytes, list[UnitResult]])
    children: list[_Child] = []
    parent = os.getpid()
    die_with = _death_signal()
    if not threaded:
        gc.freeze()  # what exists now is shared with the workers, not copied on their first GC pass
    try:
        for group in groups[1:]:
            if threaded:
                children.append(_spawn(group, fds, work, encode, parent))
            else:
                children.append(_fork(group, fds, work, encode, parent, die_with))
        payload, results = work(groups[0], fds)
        outcome = Outcome([payload], list(results))
        for child in list(children):
            data, status = child.finish()
            children.remove(child)
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
    """A worker started by :func:`_fork` (a pid) or :func:`_spawn` (a Popen), and the read
    end of the pipe its result comes back through."""

    def __init__(self, fd: int, pid: int = 0, proc: subprocess.Popen[bytes] | None = None) -> None:
        self.fd, self.pid, self.proc = fd, pid, proc

    def finish(self) -> tuple[bytes, int]:
        """Its result and exit status, once it has ended."""
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

        def setup() -> None:
            os.close(r)
            die_with(parent)

        _work_and_reply(w, setup, lambda: (group, fds, work, encode))
    os.close(w)
    return _Child(r, pid=pid)


#: What a spawned worker runs (its argument: the pipe to reply on); its share and how to do
#: it arrive pickled on stdin.  Even a failed import is a reply, not a traceback.
_SPAWNED = """
import os, sys
try:
    from jobstream.run.parallel import _spawned
except BaseException as exc:
    os.write(int(sys.argv[1]), b"E" + repr(exc).encode("utf-8", "replace"))
    os._exit(1)
_spawned(int(sys.argv[1]))
"""


def _spawn(
    group: Sequence[Unit], fds: dict[Source, int], work: Work, encode: Callable[[Any], bytes], parent: int
) -> _Child:
    """Start a worker as a new interpreter (``sys.executable``), which sees the modules this
    process sees (its ``sys.path``) and inherits the inputs' descriptors under their numbers."""
    r, w = os.pipe()
    try:
        spec = pickle.dumps((parent, list(group), fds, work, encode))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        proc = subprocess.Popen(
            [sys.executable, "-c", _SPAWNED, str(w)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            pass_fds=sorted({w, *fds.values()}),
            env=env,
        )
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    child = _Child(r, proc=proc)
    try:
        assert proc.stdin is not None
        with proc.stdin:
            proc.stdin.write(spec)  # read whole by the worker before it writes anything
    except BaseException:
        child.kill()
        raise
    return child


def _spawned(w: int) -> None:
    """A spawned worker: take its share from stdin, do it, reply on *w*."""
    spec: list[Any] = []

    def setup() -> None:
        parent, *rest = pickle.loads(sys.stdin.buffer.read())
        _death_signal()(parent)
        spec.extend(rest)

    _work_and_reply(w, setup, lambda: tuple(spec))


def _work_and_reply(
    w: int,
    setup: Callable[[], None],
    task: Callable[[], tuple[Sequence[Unit], dict[Source, int], Work, Callable[[Any], bytes]]],
) -> None:
    """In a worker: *setup*, then do the *task* (its units, descriptors, work and payload
    encoder) and write the result (or ``E`` and why) to *w*; exit, whatever happens."""
    code = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        setup()
        gc.disable()
        group, fds, work, encode = task()
        payload, results = work(group, fds)
        data = _WIRE.encode((encode(payload), results))
        _write_all(w, data)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        code = 1
        try:
            _write_all(w, b"E" + f"{type(exc).__name__}: {exc}".encode("utf-8", "replace"))
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
    ) -> Outcome:
        payload, results = work(units, fds)
        return Outcome([payload], sorted(results, key=lambda r: r.index))
