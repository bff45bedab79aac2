"""Framing: bytes into complete lines, each with its source, 1-based number and byte offset.

Framing reads in fixed-size blocks and hands out :class:`Chunk` objects holding many complete
lines at once, so the decoder can work a batch at a time; positions of single lines are
computed only when one is needed (a reject).  Memory stays bounded: at most one block plus
one partial line; a line longer than ``max_line_bytes`` is skipped as it streams past and
reported as an :class:`OversizedLine`, never held whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Iterator, Optional, Union

__all__ = [
    "Chunk",
    "OversizedLine",
    "iter_chunks",
    "iter_lines",
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_MAX_LINE_BYTES",
    "is_blank",
]

DEFAULT_BLOCK_SIZE = 1 << 20
DEFAULT_MAX_LINE_BYTES = 16 << 20
_BOM = b"\xef\xbb\xbf"
_WS = b" \t\r\n"
#: How much of an oversized line a reject keeps.
OVERSIZED_PREFIX = 256


def is_blank(line: bytes) -> bool:
    """True for an empty or whitespace-only line (skipped, never an error)."""
    return not line.strip(_WS)


@dataclass
class Chunk:
    """Complete lines from one source: ``data`` ends at a newline (or at end of input)."""

    source: str
    first_line: int
    offset: int
    data: bytes
    _lines: Optional[list[bytes]] = field(default=None, compare=False, repr=False)

    def lines(self) -> list[bytes]:
        """The lines without their ``\\n`` (a trailing ``\\r`` is left: JSON whitespace); split once."""
        lines = self._lines
        if lines is None:
            lines = self.data.split(b"\n")
            if lines[-1] == b"":
                lines.pop()
            self._lines = lines
        return lines

    def positions(self) -> Iterator[tuple[int, int, bytes]]:
        """``(line number, byte offset, line)`` for every line of the chunk, blank ones too."""
        lineno = self.first_line
        offset = self.offset
        for line in self.lines():
            yield lineno, offset, line
            lineno += 1
            offset += len(line) + 1


@dataclass
class OversizedLine:
    """A line longer than the limit: where it was, how long, and its first bytes."""

    source: str
    lineno: int
    offset: int
    length: int
    prefix: bytes
    newline: bool = True  # False for a last line that ends the input


Frame = Union[Chunk, OversizedLine]


def iter_chunks(
    stream: BinaryIO,
    source: str,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    first_line: int = 1,
    offset: int = 0,
    limit: int = -1,
    strip_bom: bool = True,
) -> Iterator[Frame]:
    """Frame *stream* into chunks of complete lines and oversized-line markers.

    *first_line*/*offset* say where the stream starts (for byte ranges of a larger file);
    *limit* stops after that many bytes (-1: read to the end).  A UTF-8 BOM at the very
    start of the stream is skipped.
    """
    read = getattr(stream, "read1", None) or stream.read
    pending = b""  # an incomplete line carried to the next block
    lineno = first_line
    pos = offset  # byte offset of `pending`'s first byte
    skipping = -1  # >= 0: length so far of an oversized line being skipped
    skip_prefix = b""
    skip_line = skip_offset = 0
    remaining = limit
    first = strip_bom

    while True:
        want = block_size if remaining < 0 else min(block_size, remaining)
        if want == 0:
            block = b""
        else:
            block = read(want)
            if remaining >= 0:
                remaining -= len(block)
        if first and block:
            first = False
            # a BOM may arrive split across reads: complete it before deciding
            while len(block) < len(_BOM) and _BOM.startswith(block) and remaining != 0:
                more = read(len(_BOM) - len(block) if remaining < 0 else min(len(_BOM) - len(block), remaining))
                if not more:
                    break
                if remaining >= 0:
                    remaining -= len(more)
                block += more
            if block.startswith(_BOM):
                block = block[len(_BOM):]
                pos += len(_BOM)
                if not block:
                    continue
        if not block:
            break
        if skipping >= 0:
            nl = block.find(b"\n")
            if len(skip_prefix) < OVERSIZED_PREFIX:  # keep the same prefix however reads fall
                skip_prefix += block[: min(OVERSIZED_PREFIX - len(skip_prefix), nl if nl >= 0 else len(block))]
            if nl < 0:
                skipping += len(block)
                continue
            skipping += nl
            yield OversizedLine(source, skip_line, skip_offset, skipping, skip_prefix)
            lineno = skip_line + 1
            pos = skip_offset + skipping + 1
            skipping = -1
            block = block[nl + 1:]
            if not block:
                continue
        data = pending + block if pending else block
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
        else:
            complete = data[: cut + 1]
            pending = data[cut + 1:]
            chunk = Chunk(source, lineno, pos, complete)
            yield chunk
            lineno += len(chunk.lines())  # the consumer splits it anyway: split once, count that
            pos += len(complete)
        if len(pending) > max_line_bytes:
            skipping = len(pending)
            skip_prefix = pending[:OVERSIZED_PREFIX]
            skip_line, skip_offset = lineno, pos
            pending = b""

    if skipping >= 0:
        yield OversizedLine(source, skip_line, skip_offset, skipping, skip_prefix, newline=False)
    elif pending:
        yield Chunk(source, lineno, pos, pending)


def iter_lines(stream: BinaryIO, source: str = "<stream>", **kwargs: int) -> Iterator[tuple[int, int, bytes]]:
    """``(line number, byte offset, line)`` for every non-blank line of *stream*.

    Oversized lines are yielded truncated to their first bytes; use :func:`iter_chunks`
    to tell them apart.  Convenience for code that wants plain lines.
    """
    for frame in iter_chunks(stream, source, **kwargs):  # type: ignore[arg-type]
        if isinstance(frame, OversizedLine):
            yield frame.lineno, frame.offset, frame.prefix
            continue
        for lineno, off, line in frame.positions():
            if not is_blank(line):
                yield lineno, off, line
