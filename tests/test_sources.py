"""Inputs (``jobstream.io.sources``): files, directories, globs and stdin named as sources, and
compressed content (gzip, zstd, bzip2, xz) told by its magic bytes and decompressed in bounded
pieces, damage reported after the good data."""

from __future__ import annotations

import bz2
import gzip
import itertools
import lzma
import os
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from helpers import ROOT, T0, job, log_bytes, poll, read_all, run_jobstream
from hypothesis import given, settings
from hypothesis import strategies as st

import jobstream
from jobstream.decode.decoder import encode
from jobstream.decode.step import SourceFailure
from jobstream.errors import InvalidLineError, SourceError
from jobstream.generate import generate
from jobstream.io.sources import Decompressor, compression_of, decompressor_for, is_compressed_head
from jobstream.run import parallel
from jobstream.run.follow import follow
from jobstream.run.reader import read

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


def bad_log_bytes(jobs: int = 12, seed: int = 5) -> tuple[bytes, list[int]]:
    lines = list(generate(jobs, seed=seed))
    lines.insert(4, b'{"id": "broken", "status": 1}')
    lines.insert(9, b"")
    bad = [n for n, line in enumerate(lines, 1) if line.startswith(b'{"id": "broken"')]
    return b"".join(line + b"\n" for line in lines), bad


def fold_all(paths: Any) -> tuple[Any, list[Any]]:
    rejects: list[Any] = []
    result = jobstream.fold_paths(paths, workers=1, on_reject=rejects.append)
    return result, rejects


class TestSources:
    def test_real_gzip_is_read_transparently(self, tmp_path: Path) -> None:
        data = log_bytes(10, 1)
        plain = tmp_path / "a.ndjson"
        plain.write_bytes(data)
        gz = tmp_path / "a.ndjson.gz"
        with gzip.open(gz, "wb") as fh:
            fh.write(data)
        disguised = tmp_path / "b.ndjson"  # gzip detected by magic bytes, not by name
        disguised.write_bytes(gz.read_bytes())
        a, _, _ = read_all(plain)
        b, _, _ = read_all(gz)
        c, _, _ = read_all(disguised)
        assert len(a) == len(b) == len(c) > 0
        assert [encode(x) for x in a] == [encode(x) for x in b] == [encode(x) for x in c]

    def test_plain_file_starting_with_gzip_magic_is_not_gzip(self, tmp_path: Path) -> None:
        # found by hypothesis: garbage "\x1f\x8b" before the first line lost the whole file
        p = tmp_path / "log.ndjson"
        p.write_bytes(b"\x1f\x8b\n" + job(1) + b"\n")
        snaps, rejects, stats = read_all(p)
        assert [s.id for s in snaps] == ["job-1"] and [r.line for r in rejects] == [1]

    def test_truncated_gzip_is_reported_where_reading_stopped_and_reading_goes_on(self, tmp_path: Path) -> None:
        lines = list(generate(10, seed=1))
        data = gzip.compress(b"".join(line + b"\n" for line in lines))
        bad = tmp_path / "cut.ndjson.gz"
        bad.write_bytes(data[: len(data) // 2])
        good = tmp_path / "good.ndjson"
        good.write_bytes(lines[0] + b"\n")
        snaps, rejects, stats = read_all([bad, good])
        (failure,) = rejects
        assert isinstance(failure, jobstream.decode.step.SourceFailure) and stats.failed == 1
        assert failure.source == str(bad) and "gzip" in failure.error and failure.raw == b""
        # the lines before the damage were read; the record says where reading stopped
        assert failure.line == stats.lines - 1 + 1  # every line but good.ndjson's came from cut.ndjson.gz
        assert snaps[-1].id == orjson.loads(lines[0])["id"] and 0 < stats.lines - 1 < len(lines)

    def test_strict_stops_at_an_unreadable_input(self, tmp_path: Path) -> None:
        bad = tmp_path / "cut.ndjson.gz"
        bad.write_bytes(gzip.compress(b"x" * 1000)[:20])
        with pytest.raises(InvalidLineError, match="gzip"):
            list(jobstream.read(bad, strict=True))

    def test_directories_and_globs_expand_sorted(self, tmp_path: Path) -> None:
        for name in ("b.ndjson", "a.jsonl", "c.ndjson.gz", "ignored.txt"):
            data = job(ord(name[0])) + b"\n"
            (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        reader = jobstream.read(tmp_path)
        assert [Path(s.name).name for s in reader.sources] == ["a.jsonl", "b.ndjson", "c.ndjson.gz"]
        assert len(list(reader)) == 3
        globbed = jobstream.read(str(tmp_path / "*.ndjson"))
        assert [Path(s.name).name for s in globbed.sources] == ["b.ndjson"]

    def test_missing_file_and_empty_glob_fail_before_reading(self, tmp_path: Path) -> None:
        with pytest.raises(SourceError, match="no such file"):
            jobstream.read(tmp_path / "nope.ndjson")
        with pytest.raises(SourceError, match="no file matches"):
            jobstream.read(str(tmp_path / "*.jsonl"))

    def test_stdin_through_a_real_subprocess(self) -> None:
        data = log_bytes(5, 4) + b"{bad\n"
        code = (
            "import jobstream, sys\n"
            "r = jobstream.read('-', on_reject=lambda j: print('REJECT', j.source, j.line, file=sys.stderr))\n"
            "print(sum(1 for _ in r), r.stats.lines, r.stats.rejected)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, timeout=60, check=True)
        n = data.count(b"\n")
        assert out.stdout.split() == [str(n - 1).encode(), str(n).encode(), b"1"]
        assert f"REJECT <stdin> {n}".encode() in out.stderr

    def test_gzip_on_stdin(self) -> None:
        data = gzip.compress(log_bytes(5, 4))
        code = "import jobstream; print(len(list(jobstream.read('-'))))"
        out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, timeout=60, check=True)
        assert int(out.stdout) == len(list(generate(5, seed=4)))


@pytest.mark.parametrize("fmt", FORMATS)
class TestEachFormat:
    def test_reads_like_the_plain_file_with_the_same_rejects(self, tmp_path: Path, fmt: str) -> None:
        data, bad = bad_log_bytes()
        plain = tmp_path / "a.ndjson"
        plain.write_bytes(data)
        packed = tmp_path / ("a.ndjson" + SUFFIX[fmt])
        packed.write_bytes(FORMATS[fmt](data))
        want, want_rej = fold_all(plain)
        got, got_rej = fold_all(packed)
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
        data, _ = bad_log_bytes(4)
        disguised = tmp_path / "log.ndjson"
        disguised.write_bytes(FORMATS[fmt](data))
        assert compression_of(disguised.read_bytes()[:10]) == fmt
        got, _ = fold_all(disguised)
        assert got.stats.lines == len([x for x in data.splitlines() if x.strip()])

    def test_concatenated_members_are_all_read(self, tmp_path: Path, fmt: str) -> None:
        data, _ = bad_log_bytes(8)
        half = data.index(b"\n", len(data) // 2) + 1
        joined = tmp_path / ("joined.ndjson" + SUFFIX[fmt])
        joined.write_bytes(FORMATS[fmt](data[:half]) + FORMATS[fmt](data[half:]))
        plain = tmp_path / "plain.ndjson"
        plain.write_bytes(data)
        assert fold_all(joined)[0].table == fold_all(plain)[0].table
        assert fold_all(joined)[0].stats.lines == fold_all(plain)[0].stats.lines

    def test_truncated_stream_keeps_the_lines_before_and_reports_one_record(self, tmp_path: Path, fmt: str) -> None:
        data, _ = bad_log_bytes(60, seed=2)  # several hundred kB: bzip2 finishes blocks before the cut
        packed = FORMATS[fmt](data)
        cut = tmp_path / ("cut.ndjson" + SUFFIX[fmt])
        cut.write_bytes(packed[: len(packed) * 3 // 4])
        after = tmp_path / "after.ndjson"
        after.write_bytes(next(iter(generate(1, seed=9))) + b"\n")
        got, rejects = fold_all([cut, after])
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
        data, _ = bad_log_bytes(6)
        packed = bytearray(FORMATS[fmt](data))
        mid = len(packed) // 2
        packed[mid : mid + 16] = b"\x00\xff" * 8
        bad = tmp_path / ("bad.ndjson" + SUFFIX[fmt])
        bad.write_bytes(bytes(packed))
        good = tmp_path / "good.ndjson"
        good.write_bytes(data)
        got, rejects = fold_all([bad, good])
        failures = [r for r in rejects if isinstance(r, SourceFailure)]
        assert [f.source for f in failures] == [str(bad)] and f"unreadable {fmt} data" in failures[0].error
        whole = fold_all(good)[0]
        assert got.table == whole.table  # good.ndjson read whole (bad's good part holds the same jobs)
        assert whole.stats.lines <= got.stats.lines < 2 * whole.stats.lines

    def test_fed_in_any_pieces_decompresses_as_whole(self, fmt: str) -> None:
        data, _ = bad_log_bytes(3)
        packed = FORMATS[fmt](data) + FORMATS[fmt](b"tail\n")

        @settings(max_examples=30, deadline=None)
        @given(st.lists(st.integers(min_value=1, max_value=max(1, len(packed))), max_size=12))
        def check(cuts: list[int]) -> None:
            d = Decompressor("x", fmt)
            bounds = sorted({0, len(packed), *(c % len(packed) for c in cuts)})
            out = b"".join(d.feed(packed[a:b]) for a, b in itertools.pairwise(bounds)) + d.finish()
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
        data, _ = bad_log_bytes(3)
        (tmp_path / ("x.jsonl" + SUFFIX[fmt])).write_bytes(FORMATS[fmt](data))
        (tmp_path / ("notes.txt" + SUFFIX[fmt])).write_bytes(FORMATS[fmt](b"not a log\n"))
        assert [Path(s.name).name for s in jobstream.read(tmp_path).sources] == ["x.jsonl" + SUFFIX[fmt]]

    def test_on_stdin_through_the_cli(self, tmp_path: Path, fmt: str) -> None:
        data, _ = bad_log_bytes(5)
        plain = tmp_path / "a.ndjson"
        plain.write_bytes(data)
        packed = tmp_path / "a.packed"
        packed.write_bytes(FORMATS[fmt](data))
        with packed.open("rb") as fh:
            piped = run_jobstream("events", stdin=fh)
        direct = run_jobstream("events", plain)
        assert piped.returncode == direct.returncode == 0
        assert piped.stdout == direct.stdout and piped.stdout.count(b"\n") > 5
        assert b"<stdin>:5:" in piped.stderr and b"1 line(s) rejected" in piped.stderr  # the broken line

    def test_tail_reads_a_compressed_file_once_whole(self, tmp_path: Path, fmt: str) -> None:
        data, _ = bad_log_bytes(5)
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
        got, rejects = fold_all(p)
        assert [r.line for r in rejects] == [1] and got.stats.accepted == 1

    def test_a_streamed_zstd_frame_reads_like_a_sized_one(self, tmp_path: Path) -> None:
        data, _ = bad_log_bytes(4)
        a, b = tmp_path / "a.ndjson.zst", tmp_path / "b.ndjson.zst"
        a.write_bytes(FORMATS["zstd"](data))
        b.write_bytes(zstd_streamed(data))
        assert fold_all(a)[0].table == fold_all(b)[0].table

    def test_a_compressed_file_is_one_unit_of_a_parallel_read(self, tmp_path: Path, forks: None) -> None:
        data, _ = bad_log_bytes(20)
        paths = []
        for fmt in FORMATS:
            p = tmp_path / ("a.ndjson" + SUFFIX[fmt])
            p.write_bytes(FORMATS[fmt](data * 3))
            paths.append(p)
        planned = parallel.plan(jobstream.read(paths).sources, 2, min_bytes=1, min_range=1)
        assert planned is not None
        units, fds = planned
        assert fds == {} and [u.end for u in units] == [-1] * len(FORMATS)
        single, rej1 = fold_all(paths)
        rej2: list[Any] = []
        multi = jobstream.fold_paths(paths, workers=2, on_reject=rej2.append, min_parallel_bytes=1, range_bytes=1)
        assert multi.table == single.table and [(r.source, r.line) for r in rej2] == [(r.source, r.line) for r in rej1]

    def test_without_zstandard_a_zstd_input_is_one_record_naming_the_extra(self, tmp_path: Path) -> None:
        data, _ = bad_log_bytes(3)
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
        proc = run_jobstream("tail", "-", "--from-start", "-f", "ndjson", stdin=None, input=line)
        assert proc.returncode == 0 and orjson.loads(proc.stdout)["to_status"] == "QUEUED"
        empty = run_jobstream("tail", "-", "--from-start", stdin=None, input=b"{}")
        assert empty.stdout == b"" and b"Traceback" not in empty.stderr

    def test_an_unknown_format_name_is_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown compression"):
            Decompressor("x", "lz4")


def test_source_error_is_raised_for_damage_only_after_the_good_data() -> None:
    data, _ = bad_log_bytes(3)
    packed = FORMATS["gzip"](data)
    d = Decompressor("x.gz", "gzip")
    out = d.feed(packed[:-10])
    with pytest.raises(SourceError, match="truncated"):
        out += d.finish()
    assert out and data.startswith(out)
    assert os.path.basename("x.gz") in str(d.fail("why"))


# --------------------------------------------------------------------------- regressions found by review


def _gzip_with_bad_crc(raw: bytes) -> bytes:
    data = bytearray(gzip.compress(raw))
    data[-8:-4] = (zlib.crc32(raw) ^ 0xFFFFFFFF).to_bytes(4, "little")
    return bytes(data)


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
def test_gzip_damage_keeps_the_lines_decompressed_before_it(tmp_path: Path) -> None:
    """A .gz whose only fault is its CRC trailer: zlib hands out every byte, then fails on the
    check.  Decompressor.feed loses everything decompressed in the same call (zlib raises and
    the call's output is gone), and the file is read 256 KiB of compressed input at a time, so
    main reads 0 of 300 lines and reports "input could not be read" at line 1 (zcat prints all
    300 lines).  The docstring promises: "Everything that decompresses before damage comes out
    first"; the README: the failure is reported "with the line where reading stopped"."""
    raw = b"".join(poll(f"j{i % 7}", "RUNNING", T0 + i) for i in range(300))
    path = tmp_path / "crc.ndjson.gz"
    path.write_bytes(_gzip_with_bad_crc(raw))
    failures: list[Any] = []
    reader = read(str(path), on_reject=failures.append)
    list(reader)
    assert reader.stats.accepted == 300
    assert [f.line for f in failures if isinstance(f, SourceFailure)] == [301]


_PEAK = r"""
import resource, subprocess, sys
subprocess.run([sys.executable, "-m", "jobstream", *sys.argv[1:]], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_kb(*args: Any) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
def test_gzip_input_is_decoded_in_bounded_pieces(tmp_path: Path) -> None:
    """_GzipReader feeds 256 KiB of *compressed* input to zlib with no bound on the output, so a
    piece of a repetitive poll log becomes one chunk of tens or hundreds of MB (framed, decoded and
    held as one list).  A 342 KB .gz of 96 MB of repeated polls peaks at 425 MB, the same bytes
    uncompressed at 115 MB; a 1.8 MB .gz at 544 MB.  Bound the decompressed piece (zlib's
    max_length) as plain files are bounded by their 16 MiB block."""
    one = poll("a", "RUNNING", T0 + 1)
    block = one * ((1 << 20) // len(one))
    plain = tmp_path / "same.ndjson"
    plain.write_bytes(block * 64)
    packed = tmp_path / "same.ndjson.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes(), 9))
    gz, raw = _peak_kb("summary", packed, "-f", "json"), _peak_kb("summary", plain, "-j", "1", "-f", "json")
    assert gz < 1.5 * raw + 20_000, f"peak RSS {gz} KB for the .gz vs {raw} KB for the same bytes plain"
