"""Compressed inputs: gzip, zstd, bzip2 and xz, told by their magic bytes, read incrementally."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

import jobstream
from jobstream.decode.step import SourceFailure
from jobstream.errors import SourceError
from jobstream.generate import generate
from jobstream.io.sources import Decompressor, compression_of, decompressor_for, is_compressed_head
from jobstream.run import parallel
from jobstream.run.follow import follow

FORMATS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
    "bz2": lambda data: bz2.compress(data, compresslevel=1),  # 100 kB blocks: damage leaves whole blocks before it
    "xz": lambda data: lzma.compress(data, format=lzma.FORMAT_XZ),
}
SUFFIX = {"gzip": ".gz", "zstd": ".zst", "bz2": ".bz2", "xz": ".xz"}


def zstd_streamed(data: bytes) -> bytes:
    """A frame written by a stream (no content size in its header), as `zstd` in a pipe writes."""
    obj = zstandard.ZstdCompressor().compressobj()
    return obj.compress(data) + obj.flush()


def log_bytes(jobs: int = 12, seed: int = 5) -> tuple[bytes, list[int]]:
    lines = list(generate(jobs, seed=seed))
    lines.insert(4, b'{"id": "broken", "status": 1}')
    lines.insert(9, b"")
    bad = [n for n, line in enumerate(lines, 1) if line.startswith(b'{"id": "broken"')]
    return b"".join(line + b"\n" for line in lines), bad


def read_all(paths: Any) -> tuple[Any, list[Any]]:
    rejects: list[Any] = []
    result = jobstream.fold_paths(paths, workers=1, on_reject=rejects.append)
    return result, rejects


@pytest.mark.parametrize("fmt", FORMATS)
class TestEachFormat:
    def test_reads_like_the_plain_file_with_the_same_rejects(self, tmp_path: Path, fmt: str) -> None:
        data, bad = log_bytes()
        plain = tmp_path / "a.ndjson"
        plain.write_bytes(data)
        packed = tmp_path / ("a.ndjson" + SUFFIX[fmt])
        packed.write_bytes(FORMATS[fmt](data))
        want, want_rej = read_all(plain)
        got, got_rej = read_all(packed)
        assert got.table == want.table and got.table.jobs()
        assert (got.stats.lines, got.stats.accepted, got.stats.rejected, got.stats.blank, got.stats.bytes) == (
            want.stats.lines,
            want.stats.accepted,
            want.stats.rejected,
            want.stats.blank,
            want.stats.bytes,
        )
        assert [(r.line, r.offset, r.raw) for r in got_rej] == [(r.line, r.offset, r.raw) for r in want_rej]
        assert [r.line for r in got_rej] == bad

    def test_detected_by_content_not_by_name(self, tmp_path: Path, fmt: str) -> None:
        data, _ = log_bytes(4)
        disguised = tmp_path / "log.ndjson"
        disguised.write_bytes(FORMATS[fmt](data))
        assert compression_of(disguised.read_bytes()[:10]) == fmt
        got, _ = read_all(disguised)
        assert got.stats.lines == len([x for x in data.splitlines() if x.strip()])

    def test_concatenated_members_are_all_read(self, tmp_path: Path, fmt: str) -> None:
        data, _ = log_bytes(8)
        half = data.index(b"\n", len(data) // 2) + 1
        joined = tmp_path / ("joined.ndjson" + SUFFIX[fmt])
        joined.write_bytes(FORMATS[fmt](data[:half]) + FORMATS[fmt](data[half:]))
        plain = tmp_path / "plain.ndjson"
        plain.write_bytes(data)
        assert read_all(joined)[0].table == read_all(plain)[0].table
        assert read_all(joined)[0].stats.lines == read_all(plain)[0].stats.lines

    def test_truncated_stream_keeps_the_lines_before_and_reports_one_record(self, tmp_path: Path, fmt: str) -> None:
        data, _ = log_bytes(60, seed=2)  # several hundred kB: bzip2 finishes blocks before the cut
        packed = FORMATS[fmt](data)
        cut = tmp_path / ("cut.ndjson" + SUFFIX[fmt])
        cut.write_bytes(packed[: len(packed) * 3 // 4])
        after = tmp_path / "after.ndjson"
        after.write_bytes(next(iter(generate(1, seed=9))) + b"\n")
        got, rejects = read_all([cut, after])
        failures = [r for r in rejects if isinstance(r, SourceFailure)]
        assert len(failures) == 1 and got.stats.failed == 1
        (failure,) = failures
        assert failure.source == str(cut) and fmt in failure.error and "truncated" in failure.error
        assert failure.raw == b""
        lines_read = got.stats.lines - 1  # after.ndjson's line is the last
        assert 0 < lines_read < data.count(b"\n")
        assert failure.line == lines_read + 2  # the record names the line reading stopped at (one blank before)
        assert data[: failure.offset].count(b"\n") == failure.line - 1  # and its byte offset in the content

    def test_corrupt_stream_is_one_record_and_the_next_input_is_read(self, tmp_path: Path, fmt: str) -> None:
        data, _ = log_bytes(6)
        packed = bytearray(FORMATS[fmt](data))
        mid = len(packed) // 2
        packed[mid : mid + 16] = b"\x00\xff" * 8
        bad = tmp_path / ("bad.ndjson" + SUFFIX[fmt])
        bad.write_bytes(bytes(packed))
        good = tmp_path / "good.ndjson"
        good.write_bytes(data)
        got, rejects = read_all([bad, good])
        failures = [r for r in rejects if isinstance(r, SourceFailure)]
        assert [f.source for f in failures] == [str(bad)] and f"unreadable {fmt} data" in failures[0].error
        whole = read_all(good)[0]
        assert got.table == whole.table  # good.ndjson read whole (bad's good part holds the same jobs)
        assert whole.stats.lines <= got.stats.lines < 2 * whole.stats.lines

    def test_fed_in_any_pieces_decompresses_as_whole(self, fmt: str) -> None:
        data, _ = log_bytes(3)
        packed = FORMATS[fmt](data) + FORMATS[fmt](b"tail\n")

        @settings(max_examples=30, deadline=None)
        @given(st.lists(st.integers(min_value=1, max_value=max(1, len(packed))), max_size=12))
        def check(cuts: list[int]) -> None:
            d = Decompressor("x", fmt)
            bounds = sorted({0, len(packed), *(c % len(packed) for c in cuts)})
            out = b"".join(d.feed(packed[a:b]) for a, b in zip(bounds, bounds[1:])) + d.finish()
            assert out == data + b"tail\n"

        check()

    def test_content_comes_out_in_bounded_pieces(self, fmt: str) -> None:
        """A repetitive poll log compresses a hundred to one and more: a block of compressed
        input must not become one piece of hundreds of MB."""
        one = next(iter(generate(1, seed=3))) + b"\n"
        data = one * ((24 << 20) // len(one))
        packed = FORMATS[fmt](data)
        assert len(packed) * 50 < len(data)
        d = Decompressor("x", fmt)
        sizes: list[int] = []
        for i in range(0, len(packed), 1 << 18):  # as files are read: 256 KiB of compressed input
            d.push(packed[i : i + (1 << 18)])
            while piece := d.pull():
                sizes.append(len(piece))
        rest = d.finish()
        assert sum(sizes) + len(rest) == len(data)
        if type(d._codec).__name__ == "_Sliced":
            return  # zstandard has no output bound (it is fed 8 KiB slices); Python 3.14's zstd has one
        assert len(sizes) >= 24 and max(sizes) <= Decompressor.PIECE and len(rest) <= Decompressor.PIECE

    def test_a_directory_includes_its_compressed_logs(self, tmp_path: Path, fmt: str) -> None:
        data, _ = log_bytes(3)
        (tmp_path / ("x.jsonl" + SUFFIX[fmt])).write_bytes(FORMATS[fmt](data))
        (tmp_path / ("notes.txt" + SUFFIX[fmt])).write_bytes(FORMATS[fmt](b"not a log\n"))
        assert [Path(s.name).name for s in jobstream.read(tmp_path).sources] == ["x.jsonl" + SUFFIX[fmt]]

    def test_on_stdin_through_the_cli(self, tmp_path: Path, fmt: str) -> None:
        data, _ = log_bytes(5)
        plain = tmp_path / "a.ndjson"
        plain.write_bytes(data)
        packed = tmp_path / "a.packed"
        packed.write_bytes(FORMATS[fmt](data))
        with packed.open("rb") as fh:
            piped = subprocess.run(
                [sys.executable, "-m", "jobstream", "events"], stdin=fh, capture_output=True, timeout=60
            )
        direct = subprocess.run(
            [sys.executable, "-m", "jobstream", "events", str(plain)], capture_output=True, timeout=60
        )
        assert piped.returncode == direct.returncode == 0
        assert piped.stdout == direct.stdout and piped.stdout.count(b"\n") > 5
        assert b"<stdin>:5:" in piped.stderr and b"1 line(s) rejected" in piped.stderr  # the broken line

    def test_tail_reads_a_compressed_file_once_whole(self, tmp_path: Path, fmt: str) -> None:
        data, _ = log_bytes(5)
        plain = tmp_path / "a.ndjson"
        plain.write_bytes(data)
        packed = tmp_path / ("a.ndjson" + SUFFIX[fmt])
        packed.write_bytes(FORMATS[fmt](data))
        expected = jobstream.fold_paths(plain).table.events()
        notices: list[str] = []
        got: list[Any] = []
        for change in follow(packed, from_start=True, on_notice=notices.append, stop=lambda: len(got) >= len(expected)):
            got.append(change)
        assert got == expected
        assert any("read once, whole" in n for n in notices)


class TestDetection:
    def test_each_magic_is_told_apart_and_plain_text_is_plain(self) -> None:
        for fmt, pack in FORMATS.items():
            assert compression_of(pack(b"{}\n")[:10]) == fmt
        assert compression_of(zstd_streamed(b"{}\n")[:10]) == "zstd"
        for plain in (b'{"id": 1}', b"BZh9 is not bzip2", b"\xfd7zX", b"", b"\x28\xb5\x2f"):
            assert compression_of(plain) is None and not is_compressed_head(plain)
            assert decompressor_for(plain, "x") is None

    def test_a_plain_file_that_starts_like_bzip2_keeps_its_lines(self, tmp_path: Path) -> None:
        p = tmp_path / "log.ndjson"
        p.write_bytes(b"BZh91 garbage\n" + next(iter(generate(1, seed=1))) + b"\n")
        got, rejects = read_all(p)
        assert [r.line for r in rejects] == [1] and got.stats.accepted == 1

    def test_a_streamed_zstd_frame_reads_like_a_sized_one(self, tmp_path: Path) -> None:
        data, _ = log_bytes(4)
        a, b = tmp_path / "a.ndjson.zst", tmp_path / "b.ndjson.zst"
        a.write_bytes(FORMATS["zstd"](data))
        b.write_bytes(zstd_streamed(data))
        assert read_all(a)[0].table == read_all(b)[0].table

    def test_a_compressed_file_is_one_unit_of_a_parallel_read(self, tmp_path: Path) -> None:
        data, _ = log_bytes(20)
        paths = []
        for fmt in FORMATS:
            p = tmp_path / ("a.ndjson" + SUFFIX[fmt])
            p.write_bytes(FORMATS[fmt](data * 3))
            paths.append(p)
        planned = parallel.plan(jobstream.read(paths).sources, 2, min_bytes=1, min_range=1)
        assert planned is not None
        units, fds = planned
        assert fds == {} and [u.end for u in units] == [-1] * len(FORMATS)
        single, rej1 = read_all(paths)
        rej2: list[Any] = []
        multi = jobstream.fold_paths(paths, workers=2, on_reject=rej2.append, min_parallel_bytes=1, range_bytes=1)
        assert multi.table == single.table and [(r.source, r.line) for r in rej2] == [(r.source, r.line) for r in rej1]

    def test_without_zstandard_a_zstd_input_is_one_record_naming_the_extra(self, tmp_path: Path) -> None:
        data, _ = log_bytes(3)
        (tmp_path / "a.ndjson.zst").write_bytes(FORMATS["zstd"](data))
        (tmp_path / "b.ndjson").write_bytes(data)
        code = (
            "import sys; sys.modules['zstandard'] = None; sys.modules['compression'] = None\n"
            "from jobstream.cli import main; main()"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, "summary", str(tmp_path), "--errors", str(tmp_path / "e.ndjson")],
            capture_output=True,
            timeout=60,
        )
        assert proc.returncode == 1 and b"Traceback" not in proc.stderr
        assert orjson.loads(proc.stdout)["jobs"] == 3  # b.ndjson was read
        (line,) = proc.stderr.decode().strip().splitlines()[-1:]
        assert "a.ndjson.zst" in line and "pip install 'jobstream[zstd]'" in line
        records = [orjson.loads(x) for x in (tmp_path / "e.ndjson").read_bytes().splitlines()]
        assert [r["source"].endswith("a.ndjson.zst") for r in records if "zstandard" in r["error"]] == [True]

    def test_short_plain_stdin_is_not_held_back_by_the_magic_check(self, tmp_path: Path) -> None:
        """tail reads stdin as it comes: an input shorter than any magic is plain, read at EOF."""
        line = b'{"id":"j","status":"QUEUED","created_at":1,"modified_at":1}'
        proc = subprocess.run(
            [sys.executable, "-m", "jobstream", "tail", "-", "--from-start", "-f", "ndjson"],
            input=line,
            capture_output=True,
            timeout=60,
        )
        assert proc.returncode == 0 and orjson.loads(proc.stdout)["to_status"] == "QUEUED"
        empty = subprocess.run(
            [sys.executable, "-m", "jobstream", "tail", "-", "--from-start"],
            input=b"{}",
            capture_output=True,
            timeout=60,
        )
        assert empty.stdout == b"" and b"Traceback" not in empty.stderr

    def test_an_unknown_format_name_is_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown compression"):
            Decompressor("x", "lz4")


def test_source_error_is_raised_for_damage_only_after_the_good_data() -> None:
    data, _ = log_bytes(3)
    packed = FORMATS["gzip"](data)
    d = Decompressor("x.gz", "gzip")
    out = d.feed(packed[:-10])
    with pytest.raises(SourceError, match="truncated"):
        out += d.finish()
    assert out and data.startswith(out)
    assert os.path.basename("x.gz") in str(d.fail("why"))
