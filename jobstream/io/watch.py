"""Watching followed files: names and patterns, rotation, truncation, new files, waiting.

A :class:`Watcher` finds the bytes ``tail`` must read.  It follows *names* like ``tail -F``:
each time a new file appears at a followed name (created, or renamed into place by a
rotation) it is opened at once and queued, as an :class:`Incarnation`, behind the one being
read.  Holding each incarnation open keeps its bytes readable after it is renamed away or
deleted, so the reader drains the old file before it moves to the new one, however far
behind a slow consumer (a blocked pipe, a slow ``--exec``) has made it.  To open new files
while the reader is blocked, the watcher looks in a thread of its own.

Glob patterns are followed too: a file that starts matching later is picked up and read
from its start, as log shippers' include patterns do.  On Linux the watcher sleeps on
inotify (libc through ``ctypes``, no dependency), so idle costs nothing; elsewhere, or
with ``mode="poll"``, it polls with ``stat`` and a backoff.
"""

from __future__ import annotations

import collections
import glob
import os
import select
import stat
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .sources import HEAD_BYTES, display_name, is_compressed_head

__all__ = ["Watcher", "Incarnation", "has_magic", "DEFAULT_POLL_INTERVAL", "INOTIFY_RECHECK"]

#: Stat polling starts at the first value after a change and doubles up to the second.
DEFAULT_POLL_INTERVAL = (0.01, 0.25)
#: With inotify, a safety look this often anyway (a missed notification costs at most this).
INOTIFY_RECHECK = 1.0


def has_magic(name: str) -> bool:
    return any(ch in name for ch in "*?[")


class Incarnation:
    """One file found at a followed name, held open so its bytes stay readable."""

    __slots__ = ("name", "fd", "dev", "ino", "compressed", "size_seen", "size_now")

    def __init__(self, name: str, fd: int, st: os.stat_result, compressed: bool) -> None:
        self.name = name
        self.fd = fd
        self.dev, self.ino = st.st_dev, st.st_ino
        self.compressed = compressed
        #: the largest size the watcher saw: what a truncation can have destroyed unread
        self.size_seen = st.st_size
        self.size_now = st.st_size

    def close(self) -> None:
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1


# --------------------------------------------------------------------------- inotify (Linux)

_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF, _IN_IGNORED = 0x400, 0x800, 0x8000
_IN_ONLYDIR = 0x01000000
_DIR_MASK = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
    | _IN_ONLYDIR
)
_EVENT_HEAD = struct.Struct("iIII")


class _Inotify:
    """Watches the directories of the followed names: writes, creations, renames, truncations."""

    def __init__(self) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self.fd: int = fd
        self._dirs: dict[str, int | None] = {}  # directory -> watch descriptor (None: not watched)

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
            except (BlockingIOError, InterruptedError, OSError):
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


def _make_inotify() -> _Inotify | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return _Inotify()
    except (OSError, AttributeError):
        return None


# --------------------------------------------------------------------------- the watcher


class Watcher:
    """Finds and opens the files at the followed *names* and *patterns*; see the module docstring.

    :meth:`scan` looks once; :meth:`start` keeps looking in a thread; :meth:`take` hands out
    the next incarnation of a name; :meth:`wait` sleeps until something may have changed.
    """

    def __init__(
        self,
        names: Sequence[str],
        patterns: Sequence[str] = (),
        *,
        mode: str = "auto",
        poll_interval: tuple[float, float] = DEFAULT_POLL_INTERVAL,
        on_notice: Callable[[str], Any] | None = None,
        exclude: Iterable[str] = (),
    ) -> None:
        if mode not in ("auto", "inotify", "poll"):
            raise ValueError(f"watch must be 'auto', 'inotify' or 'poll', not {mode!r}")
        self.patterns = list(patterns)
        #: files never followed even when a pattern matches them (the --errors file)
        self.exclude = {os.path.realpath(p) for p in exclude}
        self.poll_interval = poll_interval
        self.on_notice = on_notice
        self._names: list[str] = []
        self._ident: dict[str, tuple[int, int]] = {}  # name -> the last file opened there
        self._queues: dict[str, collections.deque[Incarnation]] = {}
        self._open: dict[str, list[Incarnation]] = {}  # every incarnation handed out, for size checks
        self._state: dict[str, str] = {}  # the last notice given about a name
        self._lock = threading.Lock()  # the queues and open files
        self._scan_lock = threading.Lock()  # one look at a time (the thread's, or the reader's)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._wake_r, self._wake_w = os.pipe()
        self._stop_r, self._stop_w = os.pipe()
        for fd in (self._wake_r, self._wake_w, self._stop_r, self._stop_w):
            os.set_blocking(fd, False)
        self._inotify: _Inotify | None = None
        if mode != "poll":
            self._inotify = _make_inotify()
            if self._inotify is None and mode == "inotify":
                raise OSError("inotify is not available here; use watch='poll'")
        for name in names:
            self.add(name)
        for pattern in self.patterns:
            self._want_dir(pattern)

    # -- names ---------------------------------------------------------------------------

    def add(self, name: str) -> bool:
        """Follow *name* too (a file that started matching a pattern); False if it already is."""
        with self._lock:
            if name in self._queues:
                return False
            self._names.append(name)
            self._queues[name] = collections.deque()
            self._open[name] = []
        self._want_dir(name)
        return True

    def names(self) -> list[str]:
        with self._lock:
            return list(self._names)

    def _want_dir(self, name: str) -> None:
        if self._inotify is not None:  # the link's directory, and the target's for a symlink
            self._inotify.want(os.path.dirname(os.path.abspath(name)))
            self._inotify.want(os.path.dirname(os.path.realpath(name)))

    def _notice(self, name: str, state: str, message: str) -> None:
        if self._state.get(name) != state:
            self._state[name] = state
            if self.on_notice is not None and message:
                self.on_notice(message)

    # -- looking -------------------------------------------------------------------------

    def scan(self) -> bool:
        """Look once: expand the patterns, open each new file found at a name, note sizes.

        Returns True when something changed (a new file, or a size)."""
        with self._scan_lock:
            return self._scan()

    def _scan(self) -> bool:
        changed = False
        for pattern in self.patterns:
            for match in sorted(glob.glob(pattern, recursive=True)):
                if os.path.isfile(match) and os.path.realpath(match) not in self.exclude and self.add(match):
                    changed = True
        for name in self.names():
            changed |= self._look(name)
        with self._lock:
            for incs in self._open.values():
                for inc in incs:
                    if inc.fd < 0:
                        continue
                    try:
                        size = os.fstat(inc.fd).st_size
                    except OSError:
                        continue
                    if size != inc.size_now:
                        changed = True
                        inc.size_now = size
                        inc.size_seen = max(inc.size_seen, size)
        return changed

    def _look(self, name: str) -> bool:
        try:
            st = os.stat(name)
        except FileNotFoundError:
            state = "gone" if name in self._ident else "missing"
            self._notice(
                name,
                state,
                f"{display_name(name)}: does not exist (yet); waiting for it"
                if state == "missing"
                else f"{display_name(name)}: removed or renamed; reading on until a new file appears",
            )
            return False
        except OSError as exc:
            self._notice(name, "bad", f"{display_name(name)}: cannot open: {exc.strerror}; will retry")
            return False
        if self._ident.get(name) == (st.st_dev, st.st_ino):
            if self._state.get(name) == "gone":
                self._state[name] = ""
            return False
        try:
            # O_NONBLOCK: a FIFO at the path must not block the open (it is refused below)
            fd = os.open(name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            return False  # gone between the stat and the open: the next look sees what is there
        except OSError as exc:
            self._notice(name, "bad", f"{display_name(name)}: cannot open: {exc.strerror}; will retry")
            return False
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                self._notice(name, "bad", f"{display_name(name)}: not a regular file; waiting for one")
                return False
            compressed = is_compressed_head(os.pread(fd, HEAD_BYTES, 0))
        except OSError:
            os.close(fd)
            return False
        inc = Incarnation(name, fd, st, compressed)
        with self._lock:
            self._ident[name] = (st.st_dev, st.st_ino)
            self._queues[name].append(inc)
            self._open[name].append(inc)
        self._state[name] = ""
        return True

    def take(self, name: str) -> Incarnation | None:
        """The next file found at *name* (in the order they appeared), or None."""
        with self._lock:
            queue = self._queues.get(name)
            return queue.popleft() if queue else None

    def pending(self, name: str) -> bool:
        """Whether a newer file than the one being read has been found at *name*."""
        with self._lock:
            return bool(self._queues.get(name))

    def release(self, inc: Incarnation) -> None:
        """Done reading *inc*: close it."""
        with self._lock:
            incs = self._open.get(inc.name)
            if incs is not None and inc in incs:
                incs.remove(inc)
        inc.close()

    # -- the thread and waiting ----------------------------------------------------------------

    def start(self) -> None:
        """Keep looking in a thread, so new files are opened even while the reader is blocked."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="jobstream-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = self.poll_interval[0]
        while not self._stopping:
            try:
                changed = self.scan()
            except Exception:  # noqa: BLE001 - never let the thread die: the reader looks too
                changed = False
            if changed:
                interval = self.poll_interval[0]
                self.wake()
            else:
                interval = min(interval * 2, self.poll_interval[1])
            watched = self._inotify is not None and self._inotify.ensure()
            rlist = [self._stop_r] + ([self._inotify.fd] if watched and self._inotify is not None else [])
            try:
                ready, _, _ = select.select(rlist, [], [], INOTIFY_RECHECK if watched else interval)
            except (OSError, ValueError):
                return
            if self._inotify is not None and self._inotify.fd in ready:
                self._inotify.read()
                self.wake()  # a write in a watched directory: the reader looks now

    def wake(self) -> None:
        """Wake :meth:`wait` (from the thread, a signal handler or another thread)."""
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def wait(self, timeout: float, fds: Sequence[int] = ()) -> list[int]:
        """Sleep until the watcher saw a change, :meth:`wake` was called, one of *fds* is
        readable, or *timeout* seconds; returns the readable *fds*."""
        rlist = [self._wake_r, *fds]
        try:
            ready, _, _ = select.select(rlist, [], [], timeout)
        except (OSError, ValueError):
            return []
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 512):
                    pass
            except OSError:
                pass
        return [fd for fd in ready if fd != self._wake_r]

    def __del__(self) -> None:  # dropped without close(): release the descriptors anyway
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to do
            pass

    def close(self) -> None:
        """Stop the thread and close every file and descriptor held."""
        self._stopping = True
        try:
            os.write(self._stop_w, b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            for incs in self._open.values():
                for inc in incs:
                    inc.close()
            self._open = {name: [] for name in self._open}
            for queue in self._queues.values():
                queue.clear()
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
        for fd in (self._wake_r, self._wake_w, self._stop_r, self._stop_w):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._wake_r = self._wake_w = self._stop_r = self._stop_w = -1
