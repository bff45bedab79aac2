"""The framer (``jobstream.io.framing``): bytes in any pieces give exactly the frames, lines,
offsets and rejects of the whole; a byte range ends where it must; an over-limit line is
reported the same however it was cut."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jobstream
from jobstream.decode.decoder import Reject, SnapshotDecoder
from jobstream.decode.step import DecodeStep, ReadStats
from jobstream.io.framing import Chunk, Framer, OversizedLine, iter_chunks
from jobstream.run.reader import read


def lines_of(frames: list[Any], max_line_bytes: int = 1 << 30) -> list[tuple[int, Any]]:
    """Every line the frames hold, as ``(offset, bytes)``, or ``(offset, ("oversized", ...))``.

    A line over the limit is framed as an :class:`OversizedLine` when it spans pieces (it is
    never held whole) and inside a chunk when it came in one piece; both read the same."""
    out: list[tuple[int, Any]] = []
    for f in frames:
        if isinstance(f, OversizedLine):
            out.append((f.offset, ("oversized", f.length, f.prefix, f.newline)))
            continue
        data = f.tobytes()
        off = f.offset
        parts = data.split(b"\n")
        if parts[-1] == b"":
            parts.pop()
        for i, part in enumerate(parts):
            if len(part) > max_line_bytes:
                newline = i < len(parts) - 1 or data.endswith(b"\n")
                out.append((off, ("oversized", len(part), part[:256], newline)))
            else:
                out.append((off, part))
            off += len(part) + 1
    return out


def feed(pieces: list[bytes], **kwargs: Any) -> list[Any]:
    framer = Framer("s", **kwargs)
    frames: list[Any] = []
    for piece in pieces:
        frames.extend(framer.feed(piece))
    frames.extend(framer.finish())
    return frames


def decoded(
    frames: list[Any], max_line_bytes: int = 1 << 20
) -> tuple[list[str], list[tuple[int, int, str, bytes]], Any]:
    """What the decode step makes of *frames*: accepted ids, rejects, counts."""
    decoder = SnapshotDecoder("view", max_line_bytes=max_line_bytes)
    stats = ReadStats()
    rejects: list[Reject] = []
    step = DecodeStep(decoder, stats, rejects)
    ids = [s.id for f in frames for s in step(f)]
    return (
        ids,
        [(r.line, r.offset, r.error, r.raw) for r in rejects],
        (stats.lines, stats.blank, stats.accepted, stats.rejected, stats.bytes, step.line),
    )


def job(i: int) -> bytes:
    """A short job line (about 60 bytes: under the small limits these tests set; helpers.job is longer)."""
    return orjson.dumps({"id": f"j{i}", "status": "RUNNING", "created_at": 100 + i, "modified_at": 200 + i})


class TestFramer:
    def test_lines_carry_their_byte_offsets(self) -> None:
        assert lines_of(feed([b"a\n\nbb\r\nccc"])) == [(0, b"a"), (2, b""), (3, b"bb\r"), (7, b"ccc")]

    @pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1 << 20])
    def test_pieces_do_not_change_lines(self, size: int) -> None:
        data = b"\xef\xbb\xbf" + b"first\nsecond line\n\n  \nthird\r\nlast"
        pieces = [data[i : i + size] for i in range(0, len(data), size)]
        assert lines_of(feed(pieces)) == [
            (3, b"first"),
            (9, b"second line"),
            (21, b""),
            (22, b"  "),
            (25, b"third\r"),
            (32, b"last"),
        ]

    def test_bom_only_skipped_at_the_start_of_the_input(self) -> None:
        assert [x for _, x in lines_of(feed([b"\xef\xbb\xbfa\n\xef\xbb\xbfb\n"]))] == [b"a", b"\xef\xbb\xbfb"]
        assert [x for _, x in lines_of(feed([b"\xef\xbb\xbfa\n"], strip_bom=False))] == [b"\xef\xbb\xbfa"]
        assert lines_of(feed([b"\xef", b"\xbb"])) == [(0, b"\xef\xbb")]  # a BOM prefix that never completes

    def test_chunks_are_windows_of_the_buffer_not_copies(self) -> None:
        block = b"".join(job(i) + b"\n" for i in range(100))
        (chunk,) = Framer("s").feed(block)
        assert isinstance(chunk, Chunk) and chunk.data is block and (chunk.start, chunk.end) == (0, len(block))

    def test_an_oversized_line_is_skipped_as_it_streams_and_reported(self) -> None:
        big = b"x" * 10_000
        data = b"ok\n" + big + b"\nafter\n"
        frames = feed([data[i : i + 256] for i in range(0, len(data), 256)], max_line_bytes=1000)
        over = [f for f in frames if isinstance(f, OversizedLine)]
        assert len(over) == 1 and (over[0].offset, over[0].length, over[0].newline) == (3, 10_000, True)
        assert over[0].prefix == b"x" * 256
        assert [x for _, x in lines_of(frames) if isinstance(x, bytes)] == [b"ok", b"after"]
        ids, rejects, _ = decoded(frames, max_line_bytes=1000)
        assert [r[:2] for r in rejects] == [(1, 0), (2, 3), (3, 10_004)]  # "ok" and "after" are not JSON

    def test_an_oversized_last_line_without_newline(self) -> None:
        frames = feed([b"ok\n" + b"y" * 5000], max_line_bytes=1000)
        assert isinstance(frames[-1], OversizedLine) and frames[-1].length == 5000 and not frames[-1].newline

    def test_position_is_the_start_of_the_held_partial_line(self) -> None:
        framer = Framer("s")
        framer.feed(b"abc\nde")
        assert framer.position == 4 and framer.holding == 2
        framer.feed(b"f\n")
        assert framer.position == 8 and framer.holding == 0

    def test_a_long_line_in_many_pieces_is_joined_once(self) -> None:
        # 64 MiB in 64 KiB pieces: quadratic joining would take minutes, not a blink
        framer = Framer("s", max_line_bytes=80 << 20)
        piece = b"a" * (64 << 10)
        for _ in range(1024):
            assert framer.feed(piece) == []
        (chunk,) = framer.feed(b"\n")
        assert len(chunk) == (64 << 20) + 1

    def test_iter_chunks_is_a_loop_over_the_framer(self) -> None:
        data = b"".join(job(i) + b"\n" for i in range(50)) + b"tail"
        for block in (7, 100, 1 << 20):
            assert lines_of(list(iter_chunks(io.BytesIO(data), "s", block_size=block))) == lines_of(feed([data]))
        # a byte range: offsets count from where it starts; its end ends its last line
        ranged = lines_of(list(iter_chunks(io.BytesIO(data[:100]), "s", offset=10)))
        assert ranged == [(10 + off, line) for off, line in lines_of(feed([data[:100]]))]

    def test_a_range_never_reads_past_its_limit_even_mid_bom(self) -> None:
        """Found by review: a byte range read past its limit when the limit fell inside a BOM."""
        frames = list(iter_chunks(io.BytesIO(b"\xef\nA\nB\nC\n"), "s", block_size=1, limit=2))
        assert [f.tobytes() for f in frames] == [b"\xef\n"]  # type: ignore[union-attr]


_LINES = st.one_of(
    st.integers(0, 50).map(job),
    st.sampled_from(
        [
            b"",
            b"  ",
            b"\r",
            b"not json",
            b'{"id": 1}',
            b"\xff\xfe",
            b"[1]",
            b"{}{}",
            b'{"id":"x","status":"Q","created_at":1,"modified_at":1}\r',
        ]
    ),
    st.binary(max_size=40).filter(lambda b: b"\n" not in b),
    st.integers(300, 700).map(lambda n: b'{"id":"' + b"z" * n + b'"}'),  # over the limit below
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_LINES, max_size=30), st.booleans(), st.booleans(), st.data())
def test_any_split_gives_the_frames_lines_and_rejects_of_the_whole(
    lines: list[bytes], bom: bool, final_newline: bool, data: Any
) -> None:
    whole = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(whole)), max_size=12)))
    pieces = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]
    kwargs = {"max_line_bytes": 256}
    one = feed([whole], **kwargs)
    many = feed(pieces, **kwargs)
    assert lines_of(many, 256) == lines_of(one, 256)
    assert decoded(many, 256) == decoded(one, 256)


# --------------------------------------------------------------------------- regressions found by review


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_oversized_reject_keeps_the_same_prefix_however_it_was_caught(tmp_path: Path, block: int) -> None:
    """Found by review: an over-limit line's reject kept a different prefix depending on how it was
    caught (in one block, or across blocks): chunking must not change a reject."""
    p = tmp_path / "log.ndjson"
    big = b'{"id":"' + b"a" * 300 + b'"}'
    p.write_bytes(job(1) + b"\n" + big + b"\n" + job(2))
    rejects: list[Reject] = []
    reader = jobstream.read(p, on_reject=rejects.append, max_line_bytes=100, block_size=block)
    list(reader)
    assert [r.raw for r in rejects] == [big[:256]]
    assert reader.stats.bytes == p.stat().st_size


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
def test_oversized_reject_raw_does_not_depend_on_block_size(tmp_path: Path) -> None:
    """An over-limit line shorter than the 256-byte prefix: read whole, the reject's raw is the line;
    when it spans two reads and is completed in the framer's pending path, the prefix is cut from
    the line *with its newline*.  README: "any split of the input into pieces gives the lines,
    offsets, line numbers and rejects of reading it whole"."""
    path = tmp_path / "long.ndjson"
    path.write_bytes(b'{"id":"aaaaaaaaaaaaaaaaaaaa"}\n{"id":"b"}\n')

    def rejects(block_size: int) -> list[tuple[int, int, bytes]]:
        out: list[Any] = []
        list(read(str(path), max_line_bytes=20, block_size=block_size, on_reject=out.append))
        return [(r.line, r.offset, r.raw) for r in out]

    assert rejects(16) == rejects(1 << 20)
