"""Sources: turn what the user named (paths, directories, globs, ``-``) into byte streams.

Sources parse nothing: they expand names, open files (``.gz`` detected by its magic bytes,
so a compressed stdin works too) and hand out binary readers.
"""

from __future__ import annotations

import glob
import io
import os
import stat
import sys
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Optional, Union

from .errors import SourceError

__all__ = ["Decompressor", "decompressor_for", "is_compressed_head", "Source", "PathArg", "as_paths", "expand_sources", "open_source", "consumed", "display_name", "STDIN"]

STDIN = "-"
_SUFFIXES = (".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz")
_GZIP_MAGIC = b"\x1f\x8b"

PathLike = Union[str, "os.PathLike[str]"]
#: What the library accepts wherever it reads: a name, a path, a :class:`Source`.
PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]", "Source"]


def display_name(name: str) -> str:
    """*name* as text that can be printed and written to JSON.

    File names are bytes on Linux; one that is not valid UTF-8 reaches Python with lone
    surrogates (``os.fsdecode``), which no encoder accepts.  Those bytes show as ``\\xNN``.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    return name


def as_paths(paths: Union[PathArg, Iterable[PathArg]]) -> list[PathArg]:
    """One path (str, bytes, PathLike, :class:`Source`) or an iterable of them, as a list.

    Every library entry point that reads takes its inputs through this, so ``read("x.ndjson")``,
    ``summarize(Path("x.ndjson"))`` and ``follow(["a", "b"])`` all mean what they say (a
    single string is one path, never its characters).
    """
    if isinstance(paths, (str, bytes, os.PathLike, Source)):
        return [paths]
    try:
        return list(paths)
    except TypeError:
        raise TypeError(f"expected a path or an iterable of paths, not {type(paths).__name__}") from None


@dataclass(frozen=True)
class Source:
    """One input: a file path, or ``-`` for standard input."""

    name: str

    @property
    def is_stdin(self) -> bool:
        return self.name == STDIN

    def same_file(self, path: str) -> bool:
        """True when *path* names this input (for stdin: the file redirected into it, if any)."""
        try:
            target = os.stat(path)
            if self.is_stdin:
                st = os.fstat(sys.stdin.fileno())
                return stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino)
            return os.path.samefile(path, self.name)
        except (OSError, ValueError, AttributeError):
            return False

    @property
    def label(self) -> str:
        """How messages and rejects name this source: its path (printable), or ``<stdin>``."""
        return "<stdin>" if self.is_stdin else display_name(self.name)

    def size(self) -> Optional[int]:
        """Size in bytes on disk (compressed size for .gz), or None for stdin/pipes."""
        if self.is_stdin:
            return None
        try:
            st = os.stat(self.name)
        except OSError:
            return None
        return st.st_size if os.path.isfile(self.name) else None


def decompressor_for(head: bytes, label: str) -> Optional["Decompressor"]:
    """The decompressor for an input that starts with *head*, or None for plain input."""
    return Decompressor(label) if _is_gzip(head) else None


def is_compressed_head(head: bytes) -> bool:
    """Whether a file that starts with *head* is compressed (read as a stream, never split)."""
    return _is_gzip(head)


def _is_gzip(head: bytes) -> bool:
    """A gzip member header: magic, deflate (CM=8), reserved flag bits clear (RFC 1952).

    Checking more than the two magic bytes keeps a plain file that merely starts with them
    (garbage before the first line) from being mistaken for gzip and losing every line.
    """
    return len(head) >= 4 and head[:2] == _GZIP_MAGIC and head[2] == 8 and not head[3] & 0xE0


def _has_magic(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def _directory(name: str) -> list[Source]:
    """The log files of a directory, sorted; an error naming what it holds when there are none."""
    try:
        entries = sorted(os.listdir(name))
    except OSError as exc:
        raise SourceError(f"cannot list directory: {exc.strerror}", path=display_name(name)) from None
    found = [os.path.join(name, e) for e in entries if e.endswith(_SUFFIXES) and os.path.isfile(os.path.join(name, e))]
    if found:
        return [Source(p) for p in found]
    wanted = "no log files (" + ", ".join("*" + x for x in _SUFFIXES) + ")"
    if not entries:
        raise SourceError(f"{wanted}: the directory is empty", path=display_name(name))
    shown = ", ".join(display_name(e) for e in entries[:5]) + (", ..." if len(entries) > 5 else "")
    raise SourceError(f"{wanted} among its {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}: {shown}",
                      path=display_name(name))


def expand_sources(paths: Union[PathArg, Iterable[PathArg]]) -> list[Source]:
    """Expand *paths* into Sources, in the order given.

    A directory stands for its ``*.ndjson``, ``*.jsonl`` files and their ``.gz`` (sorted);
    a glob pattern for its sorted matches; ``-`` for stdin; a :class:`Source` for itself.
    A name that matches nothing, and a directory without log files, raise
    :class:`SourceError` (a run pointed at the wrong place must not pass as empty).
    """
    out: list[Source] = []
    for raw in as_paths(paths):
        if isinstance(raw, Source):
            out.append(raw)
            continue
        name = os.fsdecode(raw)
        if name == STDIN:
            out.append(Source(STDIN))
        elif os.path.isdir(name):
            out.extend(_directory(name))
        elif os.path.exists(name):
            out.append(Source(name))
        elif _has_magic(name):
            matches = sorted(p for p in glob.glob(name, recursive=True) if os.path.isfile(p))
            if not matches:
                raise SourceError("no file matches this pattern", path=display_name(name))
            out.extend(Source(p) for p in matches)
        else:
            raise SourceError("no such file or directory", path=display_name(name))
    return out


class Decompressor:
    """Incremental gzip decompression (any number of members): raw bytes in, data out.

    Everything that decompresses before damage comes out first; the damage (a corrupt
    stream, or one cut short, seen at :meth:`finish`) then raises :class:`SourceError`.
    Used for files, stdin and followed pipes alike.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._started = False
        self._error: Optional[SourceError] = None

    def fail(self, why: str) -> SourceError:
        return SourceError(f"unreadable gzip data: {why}", path=self.label)

    def feed(self, data: bytes) -> bytes:
        """Decompress *data*; raises the damage only once nothing before it is left to hand out."""
        if self._error is not None:
            raise self._error
        out = bytearray()
        while data:
            if self._d.eof:  # a member ended: another follows (concatenated gzip), or zero padding
                if not data.strip(b"\x00"):
                    break
                self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._started = False
            try:
                self._started = True
                out += self._d.decompress(data)
            except zlib.error as exc:
                self._error = self.fail(str(exc))
                if out:
                    return bytes(out)
                raise self._error from None
            data = self._d.unused_data if self._d.eof else b""
        return bytes(out)

    def finish(self) -> bytes:
        """The end of the raw input: what is left, or the error if the stream was cut short."""
        if self._error is not None:
            raise self._error
        if self._started and not self._d.eof:
            tail = self._d.flush()
            self._error = self.fail("the file ends inside a gzip stream (truncated?)")
            if tail:
                return tail
            raise self._error
        return b""


class _GzipReader(io.RawIOBase):
    """A readable stream of a gzip file's content, through :class:`Decompressor`."""

    _PIECE = 1 << 18

    def __init__(self, name: str, fileobj: BinaryIO) -> None:
        self._raw = fileobj
        self._z = Decompressor(display_name(name))
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        """The next decompressed piece (any length; ``size`` is ignored), b"" at the end."""
        while not self._done:
            piece = self._raw.read(self._PIECE)
            if not piece:
                self._done = True
                return self._z.finish()
            data = self._z.feed(piece)
            if data:
                return data
        return b""

    read1 = read

    def close(self) -> None:
        try:
            if self._raw is not sys.stdin.buffer:
                self._raw.close()
        finally:
            super().close()


def open_source(source: Source, *, fd: Optional[int] = None) -> BinaryIO:
    """Open *source* for binary reading, decompressing gzip transparently.

    With *fd* (a descriptor already open on it), read from a duplicate of that descriptor
    from its start: the same file, even if the name now points elsewhere."""
    if source.is_stdin:
        stream: BinaryIO = sys.stdin.buffer
        peek = getattr(stream, "peek", None)
        head = peek(4)[:4] if peek is not None else b""
        if _is_gzip(head):
            return _GzipReader("<stdin>", stream)  # type: ignore[return-value]
        return stream
    try:
        if fd is not None:
            fh = os.fdopen(os.dup(fd), "rb")
            fh.seek(0)
        else:
            fh = open(source.name, "rb")
        head = fh.peek(4)[:4]
    except FileNotFoundError as exc:
        raise SourceError("no such file (it vanished?)", path=source.label) from exc
    except IsADirectoryError as exc:
        raise SourceError("is a directory", path=source.label) from exc
    except OSError as exc:
        raise SourceError(f"{exc.strerror or exc}", path=source.label) from exc
    if _is_gzip(head):
        return _GzipReader(source.name, fh)  # type: ignore[return-value]
    return fh


def consumed(stream: BinaryIO) -> Optional[int]:
    """Bytes of the underlying file consumed so far (compressed bytes for gzip), for progress:
    the descriptor's position, which reading straight into a buffer moves too."""
    raw = getattr(stream, "_raw", stream)
    try:
        return os.lseek(raw.fileno(), 0, os.SEEK_CUR)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None
