"""Sources: turn what the user named (paths, directories, globs, ``-``) into byte streams.

Sources parse nothing: they expand names, open files (``.gz`` detected by its magic bytes,
so a compressed stdin works too) and hand out binary readers.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
import stat
import sys
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Optional, Union

from .errors import SourceError

__all__ = ["Source", "expand_sources", "open_source", "STDIN"]

STDIN = "-"
_SUFFIXES = (".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz")
_GZIP_MAGIC = b"\x1f\x8b"

PathLike = Union[str, "os.PathLike[str]"]


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
        """How messages name this source: its path, or ``<stdin>``."""
        return "<stdin>" if self.is_stdin else self.name

    def size(self) -> Optional[int]:
        """Size in bytes on disk (compressed size for .gz), or None for stdin/pipes."""
        if self.is_stdin:
            return None
        try:
            st = os.stat(self.name)
        except OSError:
            return None
        return st.st_size if os.path.isfile(self.name) else None


def _is_gzip(head: bytes) -> bool:
    """A gzip member header: magic, deflate (CM=8), reserved flag bits clear (RFC 1952).

    Checking more than the two magic bytes keeps a plain file that merely starts with them
    (garbage before the first line) from being mistaken for gzip and losing every line.
    """
    return len(head) >= 4 and head[:2] == _GZIP_MAGIC and head[2] == 8 and not head[3] & 0xE0


def _has_magic(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def expand_sources(paths: Iterable[PathLike]) -> list[Source]:
    """Expand *paths* into Sources, in the order given.

    A directory stands for its ``*.ndjson``, ``*.jsonl`` files and their ``.gz`` (sorted);
    a glob pattern for its sorted matches; ``-`` for stdin.  A name that matches nothing
    raises :class:`SourceError`.
    """
    out: list[Source] = []
    for raw in paths:
        name = os.fspath(raw)
        if name == STDIN:
            out.append(Source(STDIN))
        elif os.path.isdir(name):
            found = sorted(
                os.path.join(name, entry)
                for entry in os.listdir(name)
                if entry.endswith(_SUFFIXES) and os.path.isfile(os.path.join(name, entry))
            )
            out.extend(Source(p) for p in found)
        elif os.path.exists(name):
            out.append(Source(name))
        elif _has_magic(name):
            matches = sorted(p for p in glob.glob(name, recursive=True) if os.path.isfile(p))
            if not matches:
                raise SourceError("no file matches this pattern", path=name)
            out.extend(Source(p) for p in matches)
        else:
            raise SourceError("no such file or directory", path=name)
    return out


class _GzipReader(io.RawIOBase):
    """Wraps GzipFile so that a corrupt or truncated stream raises SourceError naming the file."""

    def __init__(self, name: str, fileobj: BinaryIO) -> None:
        self._name = name
        self._gz = gzip.GzipFile(fileobj=fileobj, mode="rb")  # type: ignore[call-overload]
        self._raw = fileobj

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        try:
            return self._gz.read(size)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise SourceError(f"unreadable gzip data: {exc}", path=self._name) from exc

    read1 = read

    def close(self) -> None:
        try:
            self._gz.close()
        finally:
            if self._raw is not sys.stdin.buffer:
                self._raw.close()
        super().close()


def open_source(source: Source) -> BinaryIO:
    """Open *source* for binary reading, decompressing gzip transparently."""
    if source.is_stdin:
        stream: BinaryIO = sys.stdin.buffer
        peek = getattr(stream, "peek", None)
        head = peek(4)[:4] if peek is not None else b""
        if _is_gzip(head):
            return _GzipReader("<stdin>", stream)  # type: ignore[return-value]
        return stream
    try:
        fh = open(source.name, "rb")
    except FileNotFoundError as exc:
        raise SourceError("no such file", path=source.name) from exc
    except IsADirectoryError as exc:
        raise SourceError("is a directory", path=source.name) from exc
    except OSError as exc:
        raise SourceError(f"cannot open: {exc.strerror}", path=source.name) from exc
    if _is_gzip(fh.peek(4)[:4]):
        return _GzipReader(source.name, fh)  # type: ignore[return-value]
    return fh
