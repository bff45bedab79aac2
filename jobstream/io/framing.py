"""Framing: bytes into complete lines, with byte offsets; one framer for every way of reading.

:class:`Framer` is push-style: :meth:`~Framer.feed` it bytes as they come (a 512 KiB block of
a file, a piece of a gzip stream, what a followed file grew by) and it hands back frames of
*complete* lines; :meth:`~Framer.finish` ends the input, making a last line without its
newline a line all the same.  Batch reading (:func:`iter_chunks` is a loop over it), the
parallel workers and ``tail`` all frame through it, so a file read whole and the same
bytes arriving in any pieces give exactly the same frames (a property test pins this).

* A :class:`Chunk` is a run of complete lines: a window ``data[start:end]`` of a buffer,
  never copied.  Line numbers are not the framer's business: the decode step counts the
  newlines of each chunk anyway, and numbers lines as it goes.
* A line longer than ``max_line_bytes`` that spans pieces is skipped as it streams past and
  reported as an :class:`OversizedLine` with its first bytes: it is never held whole.
* A UTF-8 BOM at the very start of the input is skipped (even if it arrives split).
* Cost is linear in line length: a partial line is kept as its pieces, joined once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

__all__ = [
    "Chunk",
    "OversizedLine",
    "Frame",
    "Framer",
    "iter_chunks",
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_MAX_LINE_BYTES",
    "OVERSIZED_PREFIX",
    "is_blank",
]

#: Bytes read per block.  Measured (full, view and lean models, high- and low-repeat logs):
#: 128 KiB to 1 MiB decode alike, 16 MiB is 20-60% slower (a block and the objects decoded
#: from it no longer fit the CPU's caches) and holds 40 MB more; 512 KiB is in the flat part.
DEFAULT_BLOCK_SIZE = 512 << 10
DEFAULT_MAX_LINE_BYTES = 16 << 20
#: How much of an oversized line a reject keeps.
OVERSIZED_PREFIX = 256
_BOM = b"\xef\xbb\xbf"
_WS = b" \t\r\n"


def is_blank(line: bytes) -> bool:
    """True for an empty or whitespace-only line (skipped, never an error)."""
    return not line.strip(_WS)


class Chunk:
    """Complete lines of one input: ``data[start:end]``, which starts at byte ``offset``.

    The window ends just after a newline, or at the end of the input (a last line without
    its newline).  ``data`` is the buffer it was cut from, shared, not copied.
    """

    __slots__ = ("source", "offset", "data", "start", "end")

    def __init__(self, source: str, offset: int, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.source = source
        self.offset = offset
        self.data = data
        self.start = start
        self.end = len(data) if end is None else end

    def __len__(self) -> int:
        return self.end - self.start

    def tobytes(self) -> bytes:
        """The chunk's bytes (a copy unless the chunk is its whole buffer, and immutable)."""
        data = self.data
        if type(data) is bytes and self.start == 0 and self.end == len(data):
            return data
        return bytes(memoryview(data)[self.start : self.end])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Chunk):
            return NotImplemented
        return (self.source, self.offset, self.tobytes()) == (other.source, other.offset, other.tobytes())

    def __repr__(self) -> str:
        return f"Chunk({self.source!r}, offset={self.offset}, {len(self)} bytes)"


class OversizedLine:
    """A line longer than the limit: where it starts, how long it is, its first bytes."""

    __slots__ = ("source", "offset", "length", "prefix", "newline")

    def __init__(self, source: str, offset: int, length: int, prefix: bytes, newline: bool = True) -> None:
        self.source = source
        self.offset = offset
        self.length = length
        self.prefix = prefix
        self.newline = newline  # False for a last line that ends the input

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OversizedLine):
            return NotImplemented
        return (self.source, self.offset, self.length, self.prefix, self.newline) == (
            other.source,
            other.offset,
            other.length,
            other.prefix,
            other.newline,
        )

    def __repr__(self) -> str:
        return f"OversizedLine({self.source!r}, offset={self.offset}, length={self.length})"


Frame = Chunk | OversizedLine


class _Skip:
    """An oversized line being skipped: where it starts, its length so far, its first bytes."""

    __slots__ = ("offset", "length", "prefix")

    def __init__(self, offset: int, length: int, prefix: bytes) -> None:
        self.offset = offset
        self.length = length
        self.prefix = prefix


class Framer:
    """Frames one input fed in pieces; see the module docstring.

    A piece may be ``bytes`` or a ``bytearray`` the caller refills once the frames of the
    piece have been used: everything the framer keeps across pieces is copied.

    *offset* is where the first byte fed sits in the input (for a byte range of a file);
    *strip_bom* skips a BOM at the very start (only at offset 0 of a file).
    """

    __slots__ = ("source", "max_line_bytes", "_offset", "_pending", "_pending_len", "_skip", "_head", "_strip_bom")

    def __init__(
        self, source: str, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, offset: int = 0, strip_bom: bool = True
    ) -> None:
        self.source = source
        self.max_line_bytes = max_line_bytes
        self.reset(offset=offset, strip_bom=strip_bom)

    def reset(self, *, offset: int = 0, strip_bom: bool = True) -> None:
        """Start a new input (a truncated or rotated file read again from *offset*)."""
        self._offset = offset  # input offset of the first byte not framed yet
        self._pending: list[bytes] = []  # pieces of a partial line
        self._pending_len = 0
        self._skip: _Skip | None = None  # the oversized line being skipped
        self._head = b""  # the first bytes, held until a BOM can be told apart
        self._strip_bom = strip_bom

    @property
    def position(self) -> int:
        """Input offset of the first byte not yet handed out in a frame (a partial line's start)."""
        return self._offset

    @property
    def holding(self) -> int:
        """Bytes of a partial line held (or skipped, for an oversized one) since :attr:`position`."""
        if self._skip is not None:
            return self._skip.length
        return self._pending_len + len(self._head)

    def feed(self, data: bytes) -> list[Frame]:
        """Frames of the complete lines *data* ends (with what was held before it)."""
        frames: list[Frame] = []
        if not data:
            return frames
        if self._strip_bom:
            data = self._head + data
            if len(data) < len(_BOM) and _BOM.startswith(data):
                self._head = data  # not enough yet to tell
                return frames
            self._head = b""
            self._strip_bom = False
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
                self._offset += len(_BOM)
                if not data:
                    return frames
        i = 0
        n = len(data)
        skip = self._skip
        if skip is not None:  # inside an oversized line: find its end
            nl = data.find(b"\n")
            prefix = skip.prefix
            if len(prefix) < OVERSIZED_PREFIX:  # the same prefix however the pieces fall
                skip.prefix = prefix + data[: min(OVERSIZED_PREFIX - len(prefix), nl if nl >= 0 else n)]
            if nl < 0:
                skip.length += n
                return frames
            length = skip.length + nl
            frames.append(OversizedLine(self.source, skip.offset, length, skip.prefix))
            self._skip = None
            self._offset = skip.offset + length + 1
            i = nl + 1
        if self._pending:
            nl = data.find(b"\n", i)
            if nl < 0:
                self._hold(data, i, n)
                return frames
            self._pending.append(bytes(memoryview(data)[i : nl + 1]))
            line = b"".join(self._pending)
            self._pending = []
            self._pending_len = 0
            if len(line) - 1 > self.max_line_bytes:  # its first bytes, never its newline
                frames.append(
                    OversizedLine(
                        self.source, self._offset, len(line) - 1, line[: min(OVERSIZED_PREFIX, len(line) - 1)]
                    )
                )
            else:
                frames.append(Chunk(self.source, self._offset, line))
            self._offset += len(line)
            i = nl + 1
        last = data.rfind(b"\n", i)
        if last >= 0:
            frames.append(Chunk(self.source, self._offset, data, i, last + 1))
            self._offset += last + 1 - i
            i = last + 1
        if i < n:
            self._hold(data, i, n)
        return frames

    def _hold(self, data: bytes, i: int, n: int) -> None:
        """Keep ``data[i:n]``, part of a line whose newline has not come yet (a copy: the
        buffer it came from may be refilled)."""
        piece = data if type(data) is bytes and (i, n) == (0, len(data)) else bytes(memoryview(data)[i:n])
        if self._pending_len + len(piece) > self.max_line_bytes:
            held = b"".join(self._pending) if self._pending else b""
            prefix = (held + piece[:OVERSIZED_PREFIX])[:OVERSIZED_PREFIX]
            self._skip = _Skip(self._offset, self._pending_len + len(piece), prefix)
            self._pending = []
            self._pending_len = 0
            return
        self._pending.append(piece)
        self._pending_len += len(piece)

    def finish(self) -> list[Frame]:
        """End of input: a last line without its newline is a line all the same."""
        frames: list[Frame] = []
        if self._skip is not None:
            skip = self._skip
            frames.append(OversizedLine(self.source, skip.offset, skip.length, skip.prefix, newline=False))
            self._offset = skip.offset + skip.length
        elif self._pending or self._head:
            line = self._head + b"".join(self._pending)
            frames.append(Chunk(self.source, self._offset, line))
            self._offset += len(line)
        self._pending = []
        self._pending_len = 0
        self._skip = None
        self._head = b""
        self._strip_bom = False
        return frames


def iter_chunks(
    stream: BinaryIO,
    source: str,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    offset: int = 0,
    limit: int = -1,
    strip_bom: bool = True,
) -> Iterator[Frame]:
    """Frame *stream* (read a block at a time) into chunks and oversized-line markers.

    *offset* says where the stream starts in its input (for byte ranges of a larger file);
    *limit* stops after that many bytes (-1: read to the end).
    """
    framer = Framer(source, max_line_bytes=max_line_bytes, offset=offset, strip_bom=strip_bom)
    read = getattr(stream, "read1", None) or stream.read
    remaining = limit
    while remaining != 0:
        block = read(block_size if remaining < 0 else min(block_size, remaining))
        if not block:
            break
        if remaining > 0:
            remaining -= len(block)
        yield from framer.feed(block)
    yield from framer.finish()
