"""Sources: turn what the user named (paths, directories, globs, URLs, ``-``) into byte streams.

Sources parse nothing: they expand names, open files (gzip, zstd, bzip2 and xz detected by
their magic bytes, so a compressed stdin works too) and hand out binary readers.  A name
with a protocol (``s3://``, ``https://`` ...) is read through fsspec (:mod:`jobstream.io.remote`).
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import stat
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Union

from ..errors import SourceError

__all__ = [
    "Decompressor",
    "decompressor_for",
    "is_compressed_head",
    "compression_of",
    "HEAD_BYTES",
    "COMPRESSED_SUFFIXES",
    "Source",
    "PathArg",
    "as_paths",
    "expand_sources",
    "open_source",
    "os_errors",
    "reader_of",
    "consumed",
    "display_name",
    "STDIN",
    "is_url",
    "read_at",
]

STDIN = "-"
#: Compressed versions of a log file a directory stands for (detected by content, not name).
COMPRESSED_SUFFIXES = (".gz", ".zst", ".bz2", ".xz")
_SUFFIXES = tuple(base + z for base in (".ndjson", ".jsonl") for z in ("",) + COMPRESSED_SUFFIXES)
#: Bytes of an input's start that tell its compression (bzip2 needs ten).
HEAD_BYTES = 10
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_XZ_MAGIC = b"\xfd7zXZ\x00"

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


def as_paths(paths: PathArg | Iterable[PathArg]) -> list[PathArg]:
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
    """One input: a file path, a URL (``s3://bucket/key``), or ``-`` for standard input.

    *size_hint* is the size a listing gave (remote files); *shown* the name to show when
    the input is opened under another one (a Dask worker opens the absolute path of a
    relative name, and reports it as the user wrote it).  Neither is part of its identity.
    """

    name: str
    size_hint: int | None = field(default=None, compare=False, repr=False)
    shown: str | None = field(default=None, compare=False, repr=False)

    @property
    def is_stdin(self) -> bool:
        return self.name == STDIN

    @property
    def is_remote(self) -> bool:
        """Read through fsspec (its name has a protocol)."""
        return is_url(self.name)

    def same_file(self, path: str) -> bool:
        """True when *path* names this input (for stdin: the file redirected into it, if any)."""
        if self.is_remote:
            return False
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
        if self.shown is not None:
            return self.shown
        return "<stdin>" if self.is_stdin else display_name(self.name)

    def size(self) -> int | None:
        """Size in bytes on disk (compressed size for .gz), or None for stdin/pipes (and a
        remote file whose server does not say)."""
        if self.is_stdin:
            return None
        if self.size_hint is not None:
            return self.size_hint
        if self.is_remote:
            from .remote import size_of

            try:
                return size_of(self.name)
            except SourceError:
                return None
        try:
            st = os.stat(self.name)
        except OSError:
            return None
        return st.st_size if os.path.isfile(self.name) else None


def decompressor_for(head: bytes, label: str) -> Decompressor | None:
    """The decompressor for an input that starts with *head*, or None for plain input.

    Raises :class:`SourceError` for zstd input when no zstd library is installed."""
    fmt = compression_of(head)
    return Decompressor(label, fmt) if fmt is not None else None


def is_compressed_head(head: bytes) -> bool:
    """Whether a file that starts with *head* (its first :data:`HEAD_BYTES`) is compressed
    (read as a stream, never split)."""
    return compression_of(head) is not None


def _is_gzip(head: bytes) -> bool:
    """A gzip member header: magic, deflate (CM=8), reserved flag bits clear (RFC 1952).

    Checking more than the two magic bytes keeps a plain file that merely starts with them
    (garbage before the first line) from being mistaken for gzip and losing every line.
    """
    return len(head) >= 4 and head[:2] == _GZIP_MAGIC and head[2] == 8 and not head[3] & 0xE0


def _has_magic(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def is_url(name: str) -> bool:
    """Whether *name* has a protocol (``s3://...``): cheap, and imports nothing."""
    head, sep, _ = name.partition("://")
    return bool(sep) and head[:1].isalpha() and all(c.isalnum() or c in "+.-" for c in head)


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
    raise SourceError(
        f"{wanted} among its {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}: {shown}", path=display_name(name)
    )


def expand_sources(paths: PathArg | Iterable[PathArg]) -> list[Source]:
    """Expand *paths* into Sources, in the order given.

    A directory stands for its ``*.ndjson``, ``*.jsonl`` files and their ``.gz``, ``.zst``,
    ``.bz2`` and ``.xz`` (sorted); a glob pattern for its sorted matches; ``-`` for stdin; a
    :class:`Source` for itself.  A URL (``s3://bucket/logs/``, ``https://host/x.ndjson``,
    ``gs://b/2025-*.ndjson.gz``) the same, through fsspec; a ``file://`` URL is the local path.
    A name that matches nothing, and a directory without log files, raise
    :class:`SourceError` (a run pointed at the wrong place must not pass as empty).
    """
    out: list[Source] = []
    for raw in as_paths(paths):
        if isinstance(raw, Source):
            out.append(raw)
            continue
        name = os.fsdecode(raw)
        if is_url(name):
            from . import remote

            if remote.protocol_of(name) != "file":
                magic = any(ch in name for ch in ("*[" if remote.protocol_of(name) in ("http", "https") else "*?["))
                out.extend(Source(url, size_hint=size) for url, size in remote.expand(name, _SUFFIXES, magic))
                continue
            name = remote.local_path(name)
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
    """Incremental decompression of one input (gzip, zstd, bzip2 or xz): raw bytes in, data out.

    :meth:`push` compressed bytes, then :meth:`pull` the content a bounded piece at a time
    (at most :attr:`PIECE` bytes: a repetitive poll log compresses a hundred to one and more,
    so a block of compressed input could otherwise become hundreds of MB at once) until it
    gives ``b""``; :meth:`feed` does both and joins the pieces.  Any number of concatenated
    members, frames or streams is read, as the command-line tools do (zero padding after one
    is ignored).  Everything that decompresses before damage comes out first (for gzip, to
    the byte: a bad checksum costs no line); the damage (a corrupt stream, or one cut short,
    seen at :meth:`finish`) then raises :class:`SourceError`.  Used for files, stdin,
    followed pipes and Dask partitions.
    """

    #: The most one :meth:`pull` hands out.
    PIECE = 1 << 20

    def __init__(self, label: str, fmt: str = "gzip") -> None:
        if fmt not in _FORMATS:
            raise ValueError(f"unknown compression {fmt!r}: choose one of {', '.join(_FORMATS)}")
        self.label = label
        self.format = fmt
        self._new = _FORMATS[fmt][1]
        self._codec: Any = self._new(label)  # the SourceError of a missing zstandard is raised here
        self._in = b""  # compressed bytes pushed, not yet given to the codec
        self._started = False
        self._error: SourceError | None = None

    def fail(self, why: str) -> SourceError:
        return SourceError(f"unreadable {self.format} data: {why}", path=self.label)

    def push(self, data: bytes) -> None:
        """Compressed bytes, to :meth:`pull` the content of."""
        self._in = self._in + data if self._in else data

    def pull(self) -> bytes:
        """The next piece of content (at most :attr:`PIECE` bytes), ``b""`` when it needs
        more input; raises the damage once nothing before it is left to hand out."""
        if self._error is not None:
            raise self._error
        codec = self._codec
        while True:
            if codec.eof:  # a member ended: another follows (concatenated), or zero padding
                rest = codec.leftover() + self._in
                self._in = b""
                if not rest.strip(b"\x00"):
                    return b""
                codec = self._codec = self._new(self.label)
                self._started = False
                self._in = rest
            if not self._in and not codec.pending:
                return b""
            data, self._in = self._in, b""
            self._started = True
            try:
                out = codec.step(data, self.PIECE)
            except Exception as exc:  # noqa: BLE001 - each library has its own error class: all are damage
                self._error = self.fail(" ".join(str(exc).split()) or type(exc).__name__)
                good: bytes = codec.salvage()
                if good:
                    return good
                raise self._error from None
            if out:
                return bytes(out)
            if not codec.eof and not codec.pending:
                return b""

    def feed(self, data: bytes) -> bytes:
        """Decompress *data*: all the content it completes (the pieces of :meth:`pull`, joined)."""
        self.push(data)
        out = bytearray()
        try:
            while True:
                piece = self.pull()
                if not piece:
                    return bytes(out)
                out += piece
        except SourceError:
            if out:
                return bytes(out)  # the damage comes at the next call
            raise

    def finish(self) -> bytes:
        """The end of the raw input: what is left, or the error if the stream was cut short."""
        out = bytearray()
        try:
            while True:
                piece = self.pull()
                if not piece:
                    break
                out += piece
        except SourceError:
            if out:
                return bytes(out)
            raise
        if self._started and not self._codec.eof:
            self._error = self.fail(
                f"the file ends inside {_ARTICLE.get(self.format, 'a')} {self.format} stream (truncated?)"
            )
            if out:
                return bytes(out)
            raise self._error
        return bytes(out)


_ARTICLE = {"xz": "an"}


class _Zlib:
    """gzip through zlib, with bounded output; after damage, the bytes before it are salvaged."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._tail = b""  # input zlib has not consumed yet (output was bounded)
        self._full = False  # the last step filled its bound: zlib may hold more output
        self._saved: Any = None  # the state before the last step, and its input: for salvage

    @property
    def eof(self) -> bool:
        return bool(self._d.eof)

    @property
    def pending(self) -> bool:
        return bool(self._tail) or (self._full and not self._d.eof)

    def leftover(self) -> bytes:
        return bytes(self._d.unused_data) + self._tail

    def step(self, data: bytes, max_out: int) -> bytes:
        data = self._tail + data if self._tail else data
        self._saved = (self._d.copy(), data)
        out = self._d.decompress(data, max_out)
        self._tail = bytes(self._d.unconsumed_tail)
        self._full = len(out) >= max_out
        return out

    def salvage(self) -> bytes:
        """The content of the failed step up to the damage.  zlib discards a failed call's
        output, and checks a member's trailer in the call that hands out its last bytes: so
        replay the step from the saved state one input byte at a time (the damage, a bad
        checksum included, is then met only after everything before it has come out)."""
        if self._saved is None:
            return b""
        d, buf = self._saved[0].copy(), memoryview(self._saved[1])
        out = bytearray()
        for i in range(len(buf)):
            try:
                out += d.decompress(buf[i : i + 1])
            except zlib.error:
                break
        return bytes(out)


class _Bounded:
    """bz2 and lzma decompressors: they bound their output themselves (``max_length``)."""

    def __init__(self, d: Any) -> None:
        self._d = d

    @property
    def eof(self) -> bool:
        return bool(self._d.eof)

    @property
    def pending(self) -> bool:
        return not self._d.eof and not self._d.needs_input  # output waiting, input held inside

    def leftover(self) -> bytes:
        return bytes(self._d.unused_data)

    def step(self, data: bytes, max_out: int) -> bytes:
        return bytes(self._d.decompress(data, max_out))

    def salvage(self) -> bytes:
        return b""


class _Sliced:
    """A decompressor without an output bound (zstandard's): fed small slices of input, so a
    piece is what 8 KiB of compressed input gives (a log that compresses thousands to one can
    still give a large piece: Python 3.14's own zstd is bounded like the others)."""

    SLICE = 1 << 13

    def __init__(self, d: Any) -> None:
        self._d = d
        self._buf = b""

    @property
    def eof(self) -> bool:
        return bool(self._d.eof)

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def leftover(self) -> bytes:
        return bytes(self._d.unused_data) + self._buf

    def step(self, data: bytes, max_out: int) -> bytes:
        buf = self._buf + data if self._buf else data
        out = bytearray()
        i = 0
        while i < len(buf) and len(out) < max_out and not self._d.eof:
            out += self._d.decompress(buf[i : i + self.SLICE])
            i += self.SLICE
        self._buf = buf[i:]
        return bytes(out)

    def salvage(self) -> bytes:
        return b""


def _gzip(label: str) -> Any:
    return _Zlib()


def _bz2(label: str) -> Any:
    import bz2

    return _Bounded(bz2.BZ2Decompressor())


def _xz(label: str) -> Any:
    import lzma

    return _Bounded(lzma.LZMADecompressor(format=lzma.FORMAT_XZ))


def _zstd(label: str) -> Any:
    try:  # Python 3.14's standard library: bounds its output itself
        from compression import zstd as std  # type: ignore[import-not-found]

        return _Bounded(std.ZstdDecompressor())
    except ImportError:
        pass
    try:
        import zstandard
    except ImportError:
        raise SourceError(
            "zstd-compressed, and the zstandard package is not installed: pip install 'jobstream[zstd]'", path=label
        ) from None
    return _Sliced(zstandard.ZstdDecompressor().decompressobj())


def _is_bz2(head: bytes) -> bool:
    """``BZh`` and a block size digit, then the magic of a first block or of the end (an empty file)."""
    return (
        len(head) >= 10
        and head[:3] == b"BZh"
        and 0x31 <= head[3] <= 0x39
        and head[4:10] in (b"\x31\x41\x59\x26\x53\x59", b"\x17\x72\x45\x38\x50\x90")
    )


#: Each format: how a file in it starts, and a new codec (``step``, ``eof``, ``pending``,
#: ``leftover``, ``salvage``) over the library's decompression object.
_FORMATS: dict[str, tuple[Callable[[bytes], bool], Callable[[str], Any]]] = {
    "gzip": (lambda head: _is_gzip(head), _gzip),
    "zstd": (lambda head: head[:4] == _ZSTD_MAGIC, _zstd),
    "bz2": (_is_bz2, _bz2),
    "xz": (lambda head: head[:6] == _XZ_MAGIC, _xz),
}


def compression_of(head: bytes) -> str | None:
    """The compression (``gzip``, ``zstd``, ``bz2``, ``xz``) of an input that starts with *head*
    (its first :data:`HEAD_BYTES` bytes), or None for plain input."""
    for fmt, (starts, _) in _FORMATS.items():
        if starts(head):
            return fmt
    return None


class _Decompressed(io.RawIOBase):
    """A readable stream of a compressed file's content, through :class:`Decompressor`:
    pieces of at most :attr:`Decompressor.PIECE` bytes, however well the data compressed."""

    _PIECE = 1 << 18

    def __init__(self, label: str, fileobj: BinaryIO, fmt: str) -> None:
        self._raw = fileobj
        try:
            self._z = Decompressor(label, fmt)
        except BaseException:
            self._close_raw()
            raise
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """The next decompressed piece (any length up to the bound; ``size`` is ignored), b"" at the end."""
        while not self._done:
            data = self._z.pull()
            if data:
                return data
            piece = self._raw.read(self._PIECE)
            if not piece:
                self._done = True
                return self._z.finish()
            self._z.push(piece)
        return b""

    read1 = read

    def _close_raw(self) -> None:
        if self._raw is not sys.stdin.buffer:
            self._raw.close()

    def close(self) -> None:
        try:
            self._close_raw()
        finally:
            super().close()


def open_source(source: Source, *, fd: int | None = None, start: int = 0) -> BinaryIO:
    """Open *source* for binary reading, decompressing gzip, zstd, bzip2 and xz transparently.

    With *fd* (a descriptor already open on it), read from a duplicate of that descriptor
    from its start: the same file, even if the name now points elsewhere.  With *start*,
    read the raw bytes from that offset on (a byte range of a plain file: never
    decompressed)."""
    if source.is_stdin:
        stream: BinaryIO = sys.stdin.buffer
        peek = getattr(stream, "peek", None)
        head = peek(HEAD_BYTES)[:HEAD_BYTES] if peek is not None else b""
        fmt = compression_of(head)
        if fmt is not None:
            return _Decompressed("<stdin>", stream, fmt)  # type: ignore[return-value]
        return stream
    if source.is_remote:
        from .remote import open_url

        fh, head = open_url(source.name, HEAD_BYTES, start)
    else:
        with os_errors(source):
            if fd is not None:
                fh = os.fdopen(os.dup(fd), "rb")
                fh.seek(start)
            else:
                fh = open(source.name, "rb")  # noqa: SIM115 - returned: the caller closes it
                if start:
                    fh.seek(start)
            head = fh.peek(HEAD_BYTES)[:HEAD_BYTES]
    fmt = compression_of(head) if start == 0 else None
    if fmt is not None:
        return _Decompressed(source.label, fh, fmt)  # type: ignore[return-value]
    return fh


def read_at(source: Source, start: int, length: int) -> bytes:
    """*length* raw bytes of *source* from *start* (fewer at its end): for the head that
    tells its compression, and to find where lines start near a cut."""
    if source.is_remote:
        from .remote import read_at as remote_read_at

        return remote_read_at(source.name, start, length)
    with os_errors(source), open(source.name, "rb") as fh:
        return os.pread(fh.fileno(), length, start)


@contextlib.contextmanager
def os_errors(source: Source) -> Iterator[None]:
    """An ``OSError`` opening or reading *source* as a :class:`SourceError` naming it and saying
    what went wrong, in the words every reader uses."""
    try:
        yield
    except FileNotFoundError as exc:
        raise SourceError("no such file (it vanished?)", path=source.label) from exc
    except IsADirectoryError as exc:
        raise SourceError("is a directory", path=source.label) from exc
    except OSError as exc:
        raise SourceError(f"{exc.strerror or exc}", path=source.label) from exc


def consumed(stream: BinaryIO) -> int | None:
    """Bytes of the underlying file consumed so far (compressed bytes when compressed), for
    progress: the descriptor's position, which reading straight into a buffer moves too (a
    remote file, which has none: what it handed out)."""
    raw = getattr(stream, "_raw", stream)
    try:
        return os.lseek(raw.fileno(), 0, os.SEEK_CUR)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass
    try:
        return int(raw.tell()) if getattr(raw, "remote", False) else None
    except (OSError, ValueError, AttributeError):
        return None


def reader_of(stream: Any) -> tuple[Any, bool]:
    """How to read *stream*: a regular file straight into one refilled buffer (its descriptor
    moved to where the buffered reader is), anything else a piece at a time."""
    if isinstance(getattr(stream, "raw", None), io.FileIO):
        try:
            fd = stream.fileno()
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.lseek(fd, stream.tell(), os.SEEK_SET)  # past what was peeked at, not read
                return (lambda view: os.readv(fd, [view])), True
        except (OSError, ValueError):
            pass
    return (getattr(stream, "read1", None) or stream.read), False
