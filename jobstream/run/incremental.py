"""Incremental reading: which file is which (by content), where each was left, and reading
only what is new.

An incremental run (``--state``) reads each input from where the last run stopped.  For that
it must know which file is which, and names lie: log rotation renames ``jobs.ndjson`` to
``jobs.ndjson.1`` (and later compresses it to ``jobs.ndjson.1.gz``); ``copytruncate`` keeps the
name and replaces the content.  So, as log shippers do (Vector's checkpoints), a file is known
by its content:

* its **fingerprint**: a hash of its head, the content up to the end of its first non-blank
  line (at most :data:`HEAD_BYTES`; for a ``.gz`` file, of the decompressed content, so a
  rotated-and-compressed file is still the file it was);
* a **check** of the :data:`CHECK_BYTES` of content just before the saved position: a file is
  resumed there only if those bytes are unchanged;
* its inode and name are hints that break ties, never proof.

A :class:`FileMark` records one input: its fingerprint, how far it was read (the position
just after its last complete line, and that line's number), the check, and what its lines gave
(:class:`~jobstream.run.reader.ReadStats`, rejects).  :func:`plan` matches the files of a run to
the marks (and looks beside a vanished file for its rotated name: ``jobs.ndjson.1``,
``jobs.ndjson.1.gz``, ``jobs-20250601.ndjson.gz`` ...); :func:`read_tasks` reads what is new,
in worker processes when there is a lot of it, through the same framer and decode step as a
full read.  Only complete lines advance a position: what a plain file holds after its last
newline is read by :func:`read_tail` for this run's output, as a full run would, and read
whole again next time.  A compressed file is read to its end, once.

:func:`read_from` (:class:`OffsetReader`) is the public way to read one input from a byte
offset.
"""

from __future__ import annotations

import os
import stat
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..decode.decoder import Model, Reject, Snapshot, SnapshotDecoder
from ..decode.step import DecodeStep, ReadStats, SourceFailure, source_failure
from ..errors import SourceError
from ..io.framing import DEFAULT_BLOCK_SIZE, DEFAULT_MAX_LINE_BYTES, Framer
from ..io.sources import PathArg, Source, is_compressed_head, open_source, os_errors
from ..reduce.reducer import JobTable
from . import parallel
from .batch import PARALLEL_MIN_BYTES, RANGE_BYTES, read_unit
from .reader import read_blocks

__all__ = [
    "FileMark",
    "Opened",
    "Task",
    "TaskResult",
    "Plan",
    "OffsetReader",
    "read_from",
    "plan",
    "identify",
    "find_rotated",
    "open_input",
    "read_tasks",
    "read_tail",
    "check_at",
    "complete_end",
    "head_of",
    "HEAD_BYTES",
    "CHECK_BYTES",
]

#: The fingerprint covers a file's first line, up to this many bytes of content.
HEAD_BYTES = 4096
#: Bytes of content before a saved position that must be unchanged to resume there.
CHECK_BYTES = 1024
_SUFFIXES = (".ndjson.gz", ".jsonl.gz", ".ndjson", ".jsonl", ".gz")
#: ``Task.end`` of a compressed file known to hold nothing new (-1: read it to its end)
NOTHING = -2


try:  # hashlib's own import loads OpenSSL (2-3 ms of every run's start-up) for a hash it does not provide
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - not CPython
    from hashlib import blake2b


def digest(data: bytes) -> bytes:
    """The 128-bit BLAKE2b hash fingerprints and checks use."""
    return blake2b(data, digest_size=16).digest()


class FileMark(msgspec.Struct, kw_only=True):
    """One input an incremental state has read: who it is (by content) and how far it was read.

    ``position`` is a content offset (decompressed, for gzip) just after the last complete line
    read; ``line`` is the number of the line that starts there.  ``stats`` and ``rejects`` are
    what its lines gave, so a later run reports them without reading them again.
    """

    path: bytes  # absolute path where it was last seen (file-system bytes: any name works)
    label: str  # how rejects and messages name it (the path as the user gave it, printable)
    fingerprint: bytes
    compressed: bool = False
    position: int = 0
    line: int = 1
    check: bytes = b""
    #: a compressed file read to its end: it is not read again unless it changes
    done: bool = False
    # what stat said when it was last read: hints only (ties, and skipping known files quickly)
    dev: int = 0
    ino: int = 0
    size: int = 0
    mtime_ns: int = 0
    stats: ReadStats = msgspec.field(default_factory=ReadStats)
    rejects: list[Reject] = msgspec.field(default_factory=list)
    #: the order in which the state met its files (rejects of files not named now come in this order)
    seq: int = 0

    @property
    def where(self) -> str:
        return os.fsdecode(self.path)


class Opened:
    """A file of this run, open (so a rotation during the run cannot swap it), fingerprinted."""

    __slots__ = ("source", "fd", "st", "compressed", "fingerprint")

    def __init__(self, source: Source, fd: int, st: os.stat_result, compressed: bool, head: bytes | None) -> None:
        self.source = source
        self.fd = fd
        self.st = st
        self.compressed = compressed
        #: None while the file has no complete non-blank line (and fewer than HEAD_BYTES): such
        #: a file contributes nothing to a state yet (only complete lines do)
        self.fingerprint = digest(head) if head is not None else None

    @property
    def path(self) -> bytes:
        return os.fsencode(os.path.abspath(self.source.name))

    @property
    def size(self) -> int:
        return self.st.st_size

    def close(self) -> None:
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1

    def same_inode(self, mark: FileMark) -> bool:
        return (self.st.st_dev, self.st.st_ino) == (mark.dev, mark.ino)

    def unchanged_since(self, mark: FileMark) -> bool:
        """Stat says this is the file *mark* last saw, untouched (a hint, used to skip work)."""
        return self.same_inode(mark) and (self.st.st_size, self.st.st_mtime_ns) == (mark.size, mark.mtime_ns)

    def isize(self) -> int | None:
        """A gzip file's trailer: the length of its (last member's) content, modulo 2**32."""
        if self.st.st_size < 18:
            return None
        try:
            tail = os.pread(self.fd, 4, self.st.st_size - 4)
        except OSError:
            return None
        return int.from_bytes(tail, "little") if len(tail) == 4 else None


def open_input(source: Source, fd: int | None = None) -> Opened:
    """Open and fingerprint *source* (through a duplicate of *fd*, a descriptor open on it, if
    given); :class:`SourceError` says why it cannot be read."""
    with os_errors(source):
        if fd is not None:
            fd = os.dup(fd)
        else:
            fd = os.open(source.name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SourceError("not a regular file: --state reads files, which it can resume", path=source.label)
        os.set_blocking(fd, True)
        compressed = is_compressed_head(os.pread(fd, 8, 0))
        head = _compressed_head(fd) if compressed else head_of(os.pread(fd, HEAD_BYTES, 0))
    except OSError as exc:
        os.close(fd)
        raise SourceError(exc.strerror or str(exc), path=source.label) from None
    except BaseException:
        os.close(fd)
        raise
    return Opened(source, fd, st, compressed, head)


def head_of(data: bytes) -> bytes | None:
    """The head a fingerprint covers, from a file's first bytes: up to the end of its first
    non-blank line (leading blank lines would make every such file look alike), at most
    HEAD_BYTES; None when *data* is shorter than that and holds no complete non-blank line."""
    pos = 0
    while True:
        nl = data.find(b"\n", pos, HEAD_BYTES)
        if nl < 0:
            return data[:HEAD_BYTES] if len(data) >= HEAD_BYTES else None
        if data[pos:nl].strip(b" \t\r"):
            return data[: nl + 1]
        pos = nl + 1


def _compressed_head(fd: int) -> bytes | None:
    """The head of a gzip file's content: only as much is decompressed as it takes."""
    z = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = b""
    pos = 0
    while len(out) < HEAD_BYTES and head_of(out) is None:
        piece = os.pread(fd, 1 << 14, pos)
        if not piece:
            break
        pos += len(piece)
        try:
            out += z.decompress(piece, HEAD_BYTES - len(out))
            while z.unconsumed_tail and len(out) < HEAD_BYTES and head_of(out) is None:
                out += z.decompress(z.unconsumed_tail, HEAD_BYTES - len(out))
        except zlib.error:
            break  # damage: reading the file will say where
        if z.eof:
            break  # one member's worth is enough for a head; more members are rare
    return head_of(out)


def check_at(fd: int, position: int) -> bytes:
    """The check of a plain file at *position*: the hash of the bytes just before it."""
    lo = max(0, position - CHECK_BYTES)
    data = os.pread(fd, position - lo, lo)
    return digest(data) if len(data) == position - lo else b""


def complete_end(fd: int, start: int, size: int) -> int:
    """Just after the last newline in ``[start, size)`` of a plain file, or *start* if none."""
    hi = size
    step = 1 << 16
    while hi > start:
        lo = max(start, hi - step)
        block = os.pread(fd, hi - lo, lo)
        nl = block.rfind(b"\n")
        if nl >= 0:
            return lo + nl + 1
        hi = lo
        step = min(step * 4, 16 << 20)
    return start


# --------------------------------------------------------------------------- matching files to marks


@dataclass
class Task:
    """What a run reads of one file: from ``start`` (a content offset) to ``end`` (just after
    the last newline of a plain file; -1 for a compressed file, read to its end)."""

    opened: Opened
    mark: FileMark  # the file's mark (a new one for a file the state did not know)
    new: bool
    start: int
    line: int
    check: bytes  # the check expected at ``start`` (a compressed file is checked as it is read)
    end: int

    @property
    def to_read(self) -> int:
        if self.end == NOTHING:
            return 0
        return self.opened.size if self.end < 0 else self.end - self.start


@dataclass
class Plan:
    """What :func:`plan` found: what to read, and what to tell the user."""

    tasks: list[Task] = field(default_factory=list)
    #: files without a complete first line yet: read for the output only, as a full run would
    loose: list[Opened] = field(default_factory=list)
    #: files of this run the state is not told about again (a copy of a file it read)
    skipped: list[Opened] = field(default_factory=list)
    failures: list[SourceFailure] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def close(self) -> None:
        for o in [t.opened for t in self.tasks] + self.loose + self.skipped:
            o.close()


def _valid(o: Opened, mark: FileMark) -> bool:
    """Can *o* be *mark*'s file, resumed at its position?  (A compressed file is checked as
    it is read: its bytes before the position cost a decompression.)"""
    if o.compressed:
        return True
    if o.size < mark.position:
        return False
    try:
        return check_at(o.fd, mark.position) == mark.check
    except OSError:
        return False


def _rank(o: Opened, mark: FileMark) -> tuple[bool, bool, bool, int]:
    return (o.same_inode(mark), o.path == mark.path, o.compressed == mark.compressed, mark.position)


def _whole(o: Opened, m: FileMark) -> bool:
    """A compressed *o* holds exactly what *m* read: its stat is unchanged since, or its
    length (gzip's ISIZE, modulo 2**32) is the mark's position."""
    if not o.compressed:
        return False
    if o.unchanged_since(m):
        return True
    isize = o.isize()
    return isize is not None and isize == m.position % (1 << 32)


#: How sure a claim is, strongest first: files are matched to marks a tier at a time, so a
#: file the inode (or a compressed copy's length) ties to a mark gets it before a look-alike.
_TIERS: tuple[Callable[[Opened, FileMark], bool], ...] = (
    lambda o, m: o.same_inode(m),  # untouched, or renamed by a rotation
    _whole,  # compressed by a rotation
    lambda o, m: o.path == m.path,  # the same name (a copy put in place: rsync, cp)
    lambda o, m: True,  # another name and inode: copytruncate's copy, a move across file systems
)


def _claim(
    o: Opened, marks: Sequence[FileMark], taken: set[int], tier: Callable[[Opened, FileMark], bool] = _TIERS[-1]
) -> FileMark | None:
    """The mark *o* continues: same fingerprint, resumable, the best by inode, name, kind.

    A compressed file is checked as it is read when one mark can be its; when several can
    (their files began alike), its content is decompressed once now to check them all."""
    cands = [
        m
        for m in marks
        if id(m) not in taken
        and m.fingerprint == o.fingerprint
        and tier(o, m)
        and _valid(o, m)
        and not _still_elsewhere(o, m)
    ]
    if o.compressed and len(cands) > 1:
        same = [m for m in cands if o.unchanged_since(m)]
        cands = same or _checked_compressed(o, cands)
    best: FileMark | None = None
    for m in cands:
        if best is None or _rank(o, m) > _rank(o, best):
            best = m
    return best


def _still_elsewhere(o: Opened, mark: FileMark) -> bool:
    """Whether *mark*'s own file is still where it was last seen, with the content the mark
    read: then *o*, another inode whose content is the same so far, is a copy of it (a copy
    counts as a file of its own, as in a full run), not the file itself moved.  The inode
    only tells the two apart when content cannot."""
    if o.same_inode(mark) or not mark.ino or mark.path == o.path:
        return False
    try:
        st = os.stat(mark.path)
    except OSError:
        return False
    if (st.st_dev, st.st_ino) != (mark.dev, mark.ino):
        return False
    try:
        other = open_input(Source(os.fsdecode(mark.path)))
    except SourceError:
        return False
    try:
        return other.fingerprint == mark.fingerprint and _valid(other, mark)
    finally:
        other.close()


def _checked_compressed(o: Opened, marks: list[FileMark]) -> list[FileMark]:
    """The *marks* whose check holds in the compressed file *o* (one decompression pass)."""
    want = sorted(marks, key=lambda m: m.position)
    ok = [m for m in want if m.position == 0 and m.check in (b"", digest(b""))]
    want = [m for m in want if m.position > 0]
    stream: Any = None
    try:
        stream = open_source(o.source, fd=o.fd)
        seen = 0
        prev = b""  # the last CHECK_BYTES of content before offset `seen`
        i = 0
        while i < len(want):
            data = stream.read(1 << 18)
            if not data:
                break
            window = prev + data
            base = seen - len(prev)  # content offset of window[0]
            seen += len(data)
            while i < len(want) and want[i].position <= seen:
                p = want[i].position
                if digest(window[max(0, p - CHECK_BYTES) - base : p - base]) == want[i].check:
                    ok.append(want[i])
                i += 1
            prev = window[-CHECK_BYTES:]
    except (SourceError, OSError):
        pass
    finally:
        if stream is not None:
            stream.close()
    return ok


def identify(o: Opened, marks: Sequence[FileMark], taken: set[int]) -> FileMark | None:
    """The mark the open file *o* continues (not one in *taken*, ids of marks claimed by other
    files), or None: a file the state has not read."""
    if o.fingerprint is None:
        return None
    for tier in _TIERS:
        m = _claim(o, marks, taken, tier)
        if m is not None:
            return m
    return None


def _stems(name: str) -> tuple[str, ...]:
    """Prefixes the rotated names of *name* start with: ``jobs.ndjson.1``, ``jobs.ndjson-2025..``,
    ``jobs-20250601.ndjson.gz``, ``jobs.1.ndjson`` ..."""
    out = [name]
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            out += [stem + ".", stem + "-", stem + "_"]
            break
    return tuple(out)


def plan(marks: list[FileMark], sources: Sequence[Source], *, next_seq: int) -> Plan:
    """Match the files of this run to *marks* and say what to read of each.

    A file continues a mark when its fingerprint is the mark's and the bytes before the
    mark's position are unchanged (preferring the mark of the same inode, then of the same
    name).  A mark no file continues is looked for beside its last name (rotated names), to
    finish what it still holds; otherwise it keeps its contribution (a vanished file).  Any
    other file is new and read from its start; a file whose first line is not complete yet is
    read for this run's output only.
    """
    out = Plan()
    opened: list[Opened] = []
    seen_inodes: set[tuple[int, int]] = set()
    for src in sources:
        if src.is_stdin:
            raise SourceError("--state reads files, which it can resume; stdin cannot be resumed", path="-")
        if src.is_remote:
            raise SourceError(
                "--state resumes local files; a remote input is read whole by a run without --state", path=src.label
            )
        try:
            o = open_input(src)
        except SourceError as exc:
            out.failures.append(source_failure(src.label, 1, 0, exc))
            continue
        ident = (o.st.st_dev, o.st.st_ino)
        if ident in seen_inodes:  # the same file named twice (a name and a glob): read once
            o.close()
            continue
        seen_inodes.add(ident)
        opened.append(o)
    taken: set[int] = set()
    found: dict[int, FileMark | None] = {id(o): None for o in opened}
    for tier in _TIERS:
        # plain files first: their claim is verified now (a compressed file's only as it is read)
        for o in sorted(opened, key=lambda o: o.compressed):
            if o.fingerprint is None or found[id(o)] is not None:
                continue
            m = _claim(o, marks, taken, tier)
            if m is not None:
                taken.add(id(m))
                found[id(o)] = m
    claims = [(o, found[id(o)]) for o in opened]
    claims += find_rotated(marks, taken, {o.path for o in opened}, seen_inodes, out)
    seq = next_seq
    for o, m in claims:
        if o.fingerprint is None:
            out.loose.append(o)
            continue
        if m is None:
            dup = _duplicate_of(o, marks, taken, claims)
            if dup is not None:
                out.notices.append(f"{o.source.label}: the same content as {dup}, which is read instead; skipped")
                out.skipped.append(o)
                continue
            for old in marks:
                if (
                    id(old) not in taken
                    and old.fingerprint == o.fingerprint
                    and (old.path == o.path or o.same_inode(old))
                ):
                    out.warnings.append(
                        f"{o.source.label}: rewritten (its first line is unchanged but the bytes before offset "
                        f"{old.position} are not): read again from the start; what it held before stays counted "
                        f"(--reset-state for an exact recount)"
                    )
                    break
            m = FileMark(
                path=o.path,
                label=o.source.label,
                fingerprint=o.fingerprint,
                compressed=o.compressed,
                stats=ReadStats(sources=1),
                seq=seq,
            )
            seq += 1
            out.tasks.append(Task(o, m, True, 0, 1, b"", -1 if o.compressed else complete_end(o.fd, 0, o.size)))
            continue
        if o.compressed:
            if m.done and m.compressed and o.unchanged_since(m):
                out.tasks.append(Task(o, m, False, m.position, m.line, m.check, NOTHING))
                continue
            isize = o.isize()
            if not m.compressed and isize is not None and isize == m.position % (1 << 32):
                # the plain file this mark read, compressed whole: nothing new in it
                out.tasks.append(Task(o, m, False, m.position, m.line, m.check, NOTHING))
                continue
            out.tasks.append(Task(o, m, False, m.position, m.line, m.check, -1))
        else:
            out.tasks.append(Task(o, m, False, m.position, m.line, m.check, complete_end(o.fd, m.position, o.size)))
    return out


def find_rotated(
    marks: list[FileMark], taken: set[int], given: set[bytes], inodes: set[tuple[int, int]], out: Plan
) -> list[tuple[Opened, FileMark | None]]:
    """Files beside the last names of the marks no given file continues: their rotated names
    (``jobs.ndjson.1``, ``.1.gz``, ``jobs-20250601.ndjson.gz`` ...).

    A mark still waiting for lines (all but a compressed file read to its end) is finished from
    the file found that continues it.  A compressed file read to its end whose stat is
    unchanged (renamed by the next rotation: ``.1.gz`` to ``.2.gz``) takes its new name without
    being opened.  A file here that continues no mark is not read: it is not an input."""
    rest = [m for m in marks if id(m) not in taken]
    if not rest:
        return []
    by_dir: dict[bytes, list[FileMark]] = {}
    for m in rest:
        by_dir.setdefault(os.path.dirname(m.path), []).append(m)
    by_stat = {(m.dev, m.ino, m.size, m.mtime_ns): m for m in rest if m.done}
    busy = {(m.dev, m.ino, m.size, m.mtime_ns) for m in marks if id(m) in taken}
    found: list[tuple[Opened, FileMark | None]] = []
    for directory, group in by_dir.items():
        waiting = [m for m in group if not m.done]
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        stems = tuple(os.fsencode(s) for m in group for s in _stems(os.fsdecode(os.path.basename(m.path))))
        for name in sorted(names):
            if not name.startswith(stems):
                continue
            path = os.path.join(directory, name)
            if path in given:
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in inodes or key in busy:
                continue
            done = by_stat.get(key)
            if done is not None:
                done.path, done.label = path, Source(os.fsdecode(path)).label
                continue
            if not waiting:
                continue
            try:
                o = open_input(Source(os.fsdecode(path)))
            except SourceError:
                continue
            claimed = _claim(o, waiting, taken) if o.fingerprint is not None else None
            if claimed is None:
                o.close()
                continue
            m = claimed
            taken.add(id(m))
            inodes.add((o.st.st_dev, o.st.st_ino))
            out.notices.append(f"{m.label}: found as {o.source.label} (rotated); finishing it from offset {m.position}")
            found.append((o, m))
    return found


def _duplicate_of(
    o: Opened, marks: list[FileMark], taken: set[int], claims: list[tuple[Opened, FileMark | None]]
) -> str | None:
    """The plain file a compressed *o* was made of, read in this run under its own name (the
    ``jobs.ndjson.1.gz`` that logrotate is making of ``jobs.ndjson.1``), or None.  Once the
    plain file is gone, the compressed one continues its mark: its content counts once.  (Two
    plain files with the same content are two files, as in a full run.)"""
    if not o.compressed:
        return None
    isize = o.isize()
    for other, m in claims:
        if m is None or other is o or m.fingerprint != o.fingerprint or other.compressed:
            continue
        if isize is not None and isize == other.size % (1 << 32):
            return other.source.label
    return None


# --------------------------------------------------------------------------- reading what is new


class _Rewritten(Exception):
    """The bytes before a saved position changed (or the content ends before it)."""


class _Content:
    """The content of a compressed file as a ``read(n)`` function, after skipping its first
    *skip* bytes (checking that they end as *check* says, if given); keeps the last bytes read, for
    the check at the position where reading ends."""

    def __init__(self, read: Callable[[int], bytes], skip: int = 0, check: bytes | None = None) -> None:
        self._read = read
        self.skip = skip
        self._check = check
        self._held = b""
        self.tail = b""

    def skip_to_position(self) -> None:
        left = self.skip
        tail = b""
        while left > 0:
            data = self._read(1 << 18)
            if not data:
                raise _Rewritten()
            if len(data) <= left:
                tail = (tail + data)[-CHECK_BYTES:]
                left -= len(data)
                continue
            tail = (tail + data[:left])[-CHECK_BYTES:]
            self._held = data[left:]
            left = 0
        if self._check is not None and digest(tail) != self._check:
            raise _Rewritten()
        self.tail = tail

    def __call__(self, n: int) -> bytes:
        data, self._held = (self._held, b"") if self._held else (self._read(n), b"")
        if data:
            self.tail = (self.tail + data)[-CHECK_BYTES:] if len(data) < CHECK_BYTES else data[-CHECK_BYTES:]
        return data


class CompressedEnd(msgspec.Struct, array_like=True):
    """How reading a compressed unit ended: where (content offset), the check there, and
    whether its content had changed before the saved position (then it was read from 0)."""

    index: int
    position: int
    check: bytes
    rewritten: bool = False
    failed: bool = False


class _Spec(msgspec.Struct, array_like=True):
    skip: int
    check: bytes


def _read_compressed(
    unit: parallel.Unit,
    fd: int,
    spec: _Spec,
    decoder: SnapshotDecoder,
    stats: ReadStats,
    rejects: list[Reject],
    each: Callable[[list[Snapshot]], Any],
    block_size: int,
) -> tuple[int, CompressedEnd]:
    """Read a compressed file from content offset ``spec.skip`` to its end (from 0 when the
    content before that offset changed).  Returns the unit's line count and how it ended."""
    label = unit.source.label
    rewritten = False
    step = DecodeStep(decoder, stats, rejects)
    framer = Framer(label, max_line_bytes=decoder.max_line_bytes)
    stream: Any = None
    try:
        stream = open_source(unit.source, fd=fd)
        content = _Content(stream.read, spec.skip, spec.check if spec.skip else None)
        try:
            content.skip_to_position()
        except _Rewritten:
            stream.close()
            rewritten = True
            stream = open_source(unit.source, fd=fd)
            content = _Content(stream.read)
        framer.reset(offset=content.skip, strip_bom=content.skip == 0)
        for snaps in read_blocks(content, framer, step, block_size=block_size):
            if snaps:
                each(snaps)
        end = CompressedEnd(unit.index, framer.position, digest(content.tail), rewritten)
    except (SourceError, OSError) as exc:
        step.fail(label, framer.position, exc)
        end = CompressedEnd(unit.index, framer.position, b"", rewritten, failed=True)
    finally:
        if stream is not None:
            stream.close()
    return step.line - 1, end


@dataclass
class TaskResult:
    """What reading one task gave: the new position, line and check, and what was read."""

    position: int
    line: int
    check: bytes
    stats: ReadStats
    rejects: list[Reject]
    failure: SourceFailure | None = None
    #: a compressed file whose content had changed before the saved position: read from 0
    rewritten: bool = False


class _Work:
    """What each process of an incremental read does with its units (a class, not a closure:
    a spawned worker receives it pickled)."""

    def __init__(self, model: Model, fold: bool, max_line_bytes: int, block_size: int, specs: dict[int, _Spec]) -> None:
        self.model, self.fold, self.max_line_bytes, self.block_size, self.specs = (
            model,
            fold,
            max_line_bytes,
            block_size,
            specs,
        )

    def __call__(self, units: Sequence[parallel.Unit], fds: dict[Source, int]) -> tuple[Any, list[parallel.UnitResult]]:
        block_size = self.block_size
        decoder = SnapshotDecoder(self.model, max_line_bytes=self.max_line_bytes)
        table = JobTable()
        each: Callable[[list[Snapshot]], Any] = table.update if self.fold else _discard
        results = []
        ends = []
        for unit in units:
            stats = ReadStats()
            rejects: list[Reject] = []
            spec = self.specs.get(unit.index)
            if spec is None:
                lines = read_unit(unit, fds, decoder, stats, rejects, each, block_size=block_size)
            else:
                lines, end = _read_compressed(unit, fds[unit.source], spec, decoder, stats, rejects, each, block_size)
                ends.append(end)
            results.append(parallel.UnitResult(unit.index, lines, stats, rejects))
        return (table, ends), results


def _discard(snaps: list[Snapshot]) -> None:
    pass


_ENDS = msgspec.msgpack.Decoder(tuple[bytes, list[CompressedEnd]])


def _encode_payload(payload: Any) -> bytes:
    table, ends = payload
    return msgspec.msgpack.encode((table.to_bytes(), ends))


def _decode_payload(data: bytes) -> Any:
    blob, ends = _ENDS.decode(data)
    return JobTable.from_bytes(blob), ends


def read_tasks(
    tasks: Sequence[Task],
    *,
    model: Model,
    fold: bool = True,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    workers: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    min_parallel_bytes: int = PARALLEL_MIN_BYTES,
    range_bytes: int = RANGE_BYTES,
) -> tuple[JobTable, list[TaskResult | None]]:
    """Read what is new in each task (None for a task with nothing to read) and fold it.

    Complete lines only: a plain file is read up to ``task.end``.  When there is a lot to read
    (*min_parallel_bytes*) it is read by *workers* processes, in newline-aligned ranges of at
    least *range_bytes* (a compressed file is one unit), as a full run reads; rejects come back
    numbered from the start of their file."""
    n = parallel.default_workers() if workers is None else max(1, workers)
    todo = [t for t in tasks if t.end == -1 or t.end > t.start]
    many = n > 1 and sum(t.to_read for t in todo) >= min_parallel_bytes
    units: list[parallel.Unit] = []
    owner: dict[int, int] = {}
    specs: dict[int, _Spec] = {}
    fds: dict[Source, int] = {}
    index = {id(t): i for i, t in enumerate(tasks)}
    for t in todo:
        src = t.opened.source
        fds[src] = t.opened.fd
        if t.end < 0:
            specs[len(units)] = _Spec(t.start, t.check)
            owner[len(units)] = index[id(t)]
            units.append(parallel.Unit(len(units), src, 0, -1, t.opened.size * 6))
            continue
        ranges = [(t.start, t.end)]
        if many and t.end - t.start >= 2 * range_bytes:
            parts = max(2, min(n * 2, (t.end - t.start) // range_bytes))
            ranges = parallel.split_ranges(t.opened.fd, t.end, parts, start=t.start)
        for a, b in ranges:
            owner[len(units)] = index[id(t)]
            units.append(parallel.Unit(len(units), src, a, b, b - a))
    results: list[TaskResult | None] = [None] * len(tasks)
    if not units:
        return JobTable(), results
    work = _Work(model, fold, max_line_bytes, block_size, specs)
    if many and len(units) > 1:
        outcome = parallel.run(units, fds, work, workers=n, encode=_encode_payload, decode=_decode_payload)
        payloads, unit_results = outcome.payloads, outcome.units
    else:
        payload, unit_results = work(units, fds)
        payloads = [payload]
    table = payloads[0][0]
    ends: dict[int, CompressedEnd] = {}
    for p in payloads:
        ends.update((e.index, e) for e in p[1])
    for p in payloads[1:]:
        table.merge_in(p[0], consume=True)
    by_task: dict[int, list[parallel.UnitResult]] = {}
    for res in sorted(unit_results, key=lambda r: r.index):
        by_task.setdefault(owner[res.index], []).append(res)
    for ti, pieces in by_task.items():
        t = tasks[ti]
        end = ends.get(pieces[0].index)
        rewritten = end is not None and end.rewritten
        base = 0 if rewritten else t.line - 1
        stats = ReadStats()
        rejects: list[Reject] = []
        failure: SourceFailure | None = None
        for res in pieces:
            for rej in res.rejects:
                rej.line += base
                if isinstance(rej, SourceFailure):
                    failure = failure or rej
                else:
                    rejects.append(rej)
            base += res.lines
            stats = stats.merge(res.stats)
        stats.failed = 0
        line = base + 1
        if end is not None:
            results[ti] = TaskResult(end.position, line, end.check, stats, rejects, failure, rewritten)
        else:
            position = t.end
            check = t.check
            if failure is None:
                try:
                    check = check_at(t.opened.fd, position)
                except OSError as exc:
                    failure = source_failure(t.opened.source.label, line, position, exc)
            results[ti] = TaskResult(position, line, check, stats, rejects, failure)
    return table, results


def read_tail(
    o: Opened,
    start: int,
    line: int,
    decoder: SnapshotDecoder,
    stats: ReadStats,
    rejects: list[Reject],
    each: Callable[[list[Snapshot]], Any],
) -> None:
    """Read a plain file from *start* to its end, a last line without its newline included (as
    a full run reads it): for this run's output only, never saved.  A compressed file (or
    one not fingerprinted yet) is read whole."""
    label = o.source.label
    step = DecodeStep(decoder, stats, rejects, line=line)
    framer = Framer(label, max_line_bytes=decoder.max_line_bytes, offset=start, strip_bom=start == 0)
    stream: Any = None
    try:
        if o.compressed:
            stream = open_source(o.source, fd=o.fd)
            read = stream.read
        else:
            pos = start
            size = o.size

            def read(n: int) -> bytes:
                nonlocal pos
                data = os.pread(o.fd, min(n, size - pos), pos) if pos < size else b""
                pos += len(data)
                return data

        for snaps in read_blocks(read, framer, step):
            if snaps:
                each(snaps)
    except (SourceError, OSError) as exc:
        step.fail(label, framer.position, exc)
    finally:
        if stream is not None:
            stream.close()


# --------------------------------------------------------------------------- the public offset reader


class OffsetReader:
    """Snapshots of one input read from a byte offset; see :func:`read_from`.

    After iterating, :attr:`position` is where the next read should start (just after the last
    complete line read, with *complete*), :attr:`line` the number of the line there and
    :attr:`stats` what was read.
    """

    def __init__(
        self,
        path: PathArg,
        offset: int = 0,
        *,
        line: int = 1,
        model: Model = "view",
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        complete: bool = True,
        on_reject: Callable[[Reject], Any] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> None:
        if offset < 0 or line < 1:
            raise ValueError("offset must be >= 0 and line >= 1")
        self.source = path if isinstance(path, Source) else Source(os.fsdecode(path))
        if self.source.is_stdin:
            raise ValueError("read_from reads a file: stdin has no offsets to come back to")
        self.offset = offset
        self.position = offset
        self.line = line
        self.complete = complete
        self.decoder = SnapshotDecoder(model, max_line_bytes=max_line_bytes)
        self.on_reject = on_reject
        self.block_size = block_size
        self.stats = ReadStats(sources=1)
        self.rejects: list[Reject] = []

    def batches(self) -> Iterator[list[Snapshot]]:
        """Snapshots a chunk at a time.  Raises :class:`SourceError` if the file cannot be read."""
        o = open_input(self.source)
        rejects: list[Reject] = []
        step = DecodeStep(self.decoder, self.stats, rejects, line=self.line)
        framer = Framer(
            self.source.label,
            max_line_bytes=self.decoder.max_line_bytes,
            offset=self.offset,
            strip_bom=self.offset == 0,
        )
        stream: Any = None
        try:
            if o.compressed:
                stream = open_source(o.source, fd=o.fd)
                content = _Content(stream.read, self.offset)
                try:
                    content.skip_to_position()
                except _Rewritten:
                    raise SourceError(
                        f"its content is shorter than offset {self.offset}", path=self.source.label
                    ) from None
                read: Callable[[int], bytes] = content
            else:
                end = complete_end(o.fd, self.offset, o.size) if self.complete else o.size
                if end < self.offset:
                    raise SourceError(f"it is shorter than offset {self.offset}", path=self.source.label)
                pos = self.offset

                def read(n: int) -> bytes:
                    nonlocal pos
                    data = os.pread(o.fd, min(n, end - pos), pos) if pos < end else b""
                    pos += len(data)
                    return data

            for snaps in read_blocks(read, framer, step, block_size=self.block_size, finish=not self.complete):
                for rej in rejects:
                    self.rejects.append(rej)
                    if self.on_reject is not None:
                        self.on_reject(rej)
                rejects.clear()
                self.position, self.line = framer.position, step.line
                if snaps:
                    yield snaps
            self.position, self.line = framer.position, step.line
        except OSError as exc:
            raise SourceError(exc.strerror or str(exc), path=self.source.label) from None
        finally:
            if stream is not None:
                stream.close()
            o.close()

    def __iter__(self) -> Iterator[Snapshot]:
        for batch in self.batches():
            yield from batch


def read_from(path: PathArg | Source, offset: int = 0, **kwargs: Any) -> OffsetReader:
    """Snapshots of one file from byte *offset* on (a content offset for ``.gz``), and where
    to resume next time::

        reader = jobstream.read_from("jobs.ndjson", saved_offset, line=saved_line)
        table.update(reader)                  # or: for snap in reader: ...
        saved_offset, saved_line = reader.position, reader.line

    *offset* must be the start of a line (0, or a ``position`` an earlier read gave).  With
    ``complete=True`` (the default) reading stops after the last complete line: a line still
    being written is left for the next read, whole.  Keyword arguments: ``line`` (the number
    of the line at *offset*, for rejects), ``model``, ``max_line_bytes``, ``on_reject``.
    """
    return OffsetReader(path, offset, **kwargs)
