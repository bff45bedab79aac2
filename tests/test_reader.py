"""Framing and reading: positions, hazards, the no-line-lost invariant, gzip, stdin, properties."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import jobstream
from jobstream.decode.decoder import Reject, SnapshotDecoder, encode
from jobstream.errors import InvalidLineError, SourceError
from jobstream.generate import generate
from jobstream.io.framing import Chunk
from jobstream.io.sources import HEAD_BYTES, is_compressed_head

FIXTURES = Path(__file__).parent / "fixtures" / "realworld"


def job(i: int, status: str = "RUNNING", **extra: Any) -> bytes:
    obj = {
        "id": f"job-{i}",
        "status": status,
        "created_at": 1717000000 + i,
        "modified_at": 1717000100 + i,
        "job_type": "completion",
        "model": "open-mistral-7b",
    }
    obj.update(extra)
    return orjson.dumps(obj)


def read_all(path: Any, **kwargs: Any) -> tuple[list[Any], list[Reject], jobstream.ReadStats]:
    rejects: list[Reject] = []
    reader = jobstream.read(path, on_reject=rejects.append, **kwargs)
    snaps = list(reader)
    return snaps, rejects, reader.stats


class TestReaderHazards:
    def write(self, tmp_path: Path, data: bytes, name: str = "log.ndjson") -> Path:
        p = tmp_path / name
        p.write_bytes(data)
        return p

    def test_crlf_bom_blank_lines_and_missing_final_newline(self, tmp_path: Path) -> None:
        data = b"\xef\xbb\xbf" + job(1) + b"\r\n\r\n   \n\t\n" + job(2) + b"\r\n" + job(3)
        snaps, rejects, stats = read_all(self.write(tmp_path, data))
        assert [s.id for s in snaps] == ["job-1", "job-2", "job-3"]
        assert rejects == [] and stats.blank == 3 and stats.lines == 3

    def test_every_bad_line_is_a_reject_with_position_and_raw_bytes(self, tmp_path: Path) -> None:
        bad = [
            b'{"id": "x", "status": "QUEUED", "created_at": NaN, "modified_at": 1}',
            b"[1, 2]",
            b"{not json",
            job(50) + b" garbage",
            b'{"id":"\xff","status":"QUEUED","created_at":1,"modified_at":1}',
            b'{"id":"x","status":"QUEUED","created_at":1.5,"modified_at":1}',
        ]
        lines = [job(0)]
        for b in bad:
            lines += [b, job(len(lines))]
        data = b"\n".join(lines) + b"\n"
        snaps, rejects, stats = read_all(self.write(tmp_path, data))
        assert len(snaps) == len(bad) + 1
        assert [r.line for r in rejects] == [2, 4, 6, 8, 10, 12]
        assert [r.raw for r in rejects] == bad
        for r in rejects:
            assert data[r.offset : r.offset + len(r.raw)] == r.raw
        assert "$.created_at" in rejects[-1].error
        assert "invalid UTF-8" in rejects[4].error
        assert stats.accepted + stats.rejected == stats.lines == len(lines)

    def test_oversized_line_rejected_and_reading_goes_on(self, tmp_path: Path) -> None:
        huge = b'{"id":"' + b"a" * 5000 + b'"}'
        path = self.write(tmp_path, job(1) + b"\n" + huge + b"\n" + job(2) + b"\n")
        snaps, rejects, stats = read_all(path, max_line_bytes=1000)
        assert [s.id for s in snaps] == ["job-1", "job-2"]
        assert len(rejects) == 1 and rejects[0].line == 2 and "over the 1000-byte limit" in rejects[0].error
        assert stats.lines == 3

    def test_long_line_within_one_block_is_also_rejected(self, tmp_path: Path) -> None:
        long_ok_json = job(7, model="m" * 3000)
        snaps, rejects, _ = read_all(self.write(tmp_path, job(1) + b"\n" + long_ok_json + b"\n"), max_line_bytes=2000)
        assert [s.id for s in snaps] == ["job-1"] and rejects[0].line == 2

    def test_strict_mode_stops_at_the_first_reject(self, tmp_path: Path) -> None:
        path = self.write(tmp_path, job(1) + b"\n{oops\n" + job(2) + b"\n")
        with pytest.raises(InvalidLineError) as err:
            list(jobstream.read(path, strict=True))
        assert err.value.lineno == 2 and err.value.path == str(path)
        assert str(err.value).startswith(f"{path}:2: ")

    def test_list_page_line_yields_its_jobs(self, tmp_path: Path) -> None:
        page = orjson.dumps({"object": "list", "total": 2, "data": [orjson.loads(job(1)), orjson.loads(job(2))]})
        snaps, rejects, stats = read_all(self.write(tmp_path, page + b"\n" + job(3) + b"\n"))
        assert [s.id for s in snaps] == ["job-1", "job-2", "job-3"]
        assert stats.lines == stats.accepted == 2 and stats.snapshots == 3

    def test_camel_file_switches_the_fast_path(self, tmp_path: Path) -> None:
        camel = b"".join(line + b"\n" for line in generate(20, seed=2, camel=True))
        snake = b"".join(line + b"\n" for line in generate(20, seed=2))
        a, ra, _ = read_all(self.write(tmp_path, camel, "c.ndjson"), model="view")
        b, rb, _ = read_all(self.write(tmp_path, snake, "s.ndjson"), model="view")
        assert ra == rb == [] and len(a) == len(b)
        assert jobstream.fold(a) == jobstream.fold(b)

    def test_mixed_key_styles_in_one_file(self, tmp_path: Path) -> None:
        camel = (FIXTURES / "camel" / "ts_sdk_legacy_ft_poll.ndjson").read_bytes()
        snake = (FIXTURES / "cookbook_ft_api_poll.ndjson").read_bytes()
        mixed = b"".join(a + b"\n" + b + b"\n" for a, b in zip(camel.splitlines(), snake.splitlines()))
        snaps, rejects, _ = read_all(self.write(tmp_path, mixed), model="full")
        assert rejects == [] and len(snaps) == 20
        assert sum(type(s).__name__.endswith("Camel") for s in snaps) == 10


class TestSources:
    def test_real_gzip_is_read_transparently(self, tmp_path: Path) -> None:
        data = b"".join(line + b"\n" for line in generate(10, seed=1))
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
        data = b"".join(line + b"\n" for line in generate(5, seed=4)) + b"{bad\n"
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
        data = gzip.compress(b"".join(line + b"\n" for line in generate(5, seed=4)))
        code = "import jobstream; print(len(list(jobstream.read('-'))))"
        out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, timeout=60, check=True)
        assert int(out.stdout) == len(list(generate(5, seed=4)))


class TestFastPathEqualsSlowPath:
    def test_chunk_decoded_fast_equals_line_by_line(self) -> None:
        data = b"".join(line + b"\n" for line in generate(30, seed=9))
        for model in ("full", "view", "lean"):
            dec = SnapshotDecoder(model)  # type: ignore[arg-type]
            rejects: list[Reject] = []
            fast, n, acc, _ = dec.decode_chunk(Chunk("s", 0, data), 1, rejects)
            slow, n2, acc2, _ = dec._by_line(Chunk("s", 0, data), 1, rejects)
            assert rejects == [] and n == n2 == acc == acc2 and [encode(x) for x in fast] == [encode(x) for x in slow]
        assert dec.fast_chunks >= 1


# --------------------------------------------------------------------------- properties

SNAPSHOT_LINES = [line for line in generate(40, seed=11)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SNAPSHOT_LINES), st.booleans())
def test_every_generated_snapshot_round_trips_in_both_key_styles(line: bytes, camel: bool) -> None:
    dec = SnapshotDecoder("full")
    if camel:
        from jobstream.generate import _camelize

        line = orjson.dumps(_camelize(orjson.loads(line)))
    (snap,) = dec.decode_line(line)
    (again,) = dec.decode_line(encode(snap))
    assert type(again) is type(snap)
    assert msgspec.structs.asdict(again) == msgspec.structs.asdict(snap)
    # nothing the schema knows is lost: every known key of the input survives
    original = orjson.loads(line)
    encoded = orjson.loads(encode(snap))
    for key, value in original.items():
        if key in encoded and value is not None and not isinstance(value, (list, dict)):
            assert encoded[key] == value


garbage = st.binary(min_size=1, max_size=40).filter(lambda b: b.strip(b" \t\r\n") != b"")


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.sampled_from(SNAPSHOT_LINES[:50]), st.lists(garbage, max_size=3)), min_size=1, max_size=12),
    st.sampled_from([7, 64, 4096]),
)
def test_garbage_between_valid_lines_never_loses_a_valid_line(
    tmp_path_factory: Any, items: list[tuple[bytes, list[bytes]]], block: int
) -> None:
    lines: list[bytes] = []
    valid_at: list[int] = []
    for good, junk in items:
        for j in junk:
            lines.extend(j.split(b"\n"))
        lines.append(good)
        valid_at.append(len(lines))
    data = b"\n".join(lines) + b"\n"
    # a file that starts with a compression format's magic bytes is read as that format (and
    # fails loudly when it is not: test_a_plain_log_starting_with_magic_bytes_fails_loudly)
    assume(not is_compressed_head(data[:HEAD_BYTES]))
    path = tmp_path_factory.mktemp("g") / "log.ndjson"
    path.write_bytes(data)
    rejects: list[Reject] = []
    reader = jobstream.read(path, on_reject=rejects.append, block_size=block)
    snaps = list(reader)
    accepted_ids = [s.id for s in snaps]
    # every valid line is accepted (garbage may happen to be valid JSON jobs only if it parses: it cannot)
    expected = [orjson.loads(good)["id"] for good, _ in items]
    for ident in expected:
        assert ident in accepted_ids
    counted = data[3:] if data.startswith(b"\xef\xbb\xbf") else data  # a leading BOM is skipped
    nonblank = sum(1 for line in counted.split(b"\n") if line.strip(b" \t\r\n"))
    assert reader.stats.accepted + reader.stats.rejected == reader.stats.lines == nonblank
    assert {r.line for r in rejects}.isdisjoint(valid_at)
    os.unlink(path)


@pytest.mark.parametrize(
    "magic", [b"\x1f\x8b\x08\x00", b"\x28\xb5\x2f\xfd", b"\xfd7zXZ\x00", b"BZh91AY&SY"], ids=["gz", "zst", "xz", "bz2"]
)
def test_a_plain_log_starting_with_magic_bytes_fails_loudly(tmp_path: Path, magic: bytes) -> None:
    """Found by Hypothesis: garbage that starts with xz's magic makes the file an xz stream
    (formats are detected by their magic bytes); what cannot be decompressed is a failure
    record and a failed run, never lines silently gone."""
    path = tmp_path / "log.ndjson"
    path.write_bytes(magic + b"\n" + SNAPSHOT_LINES[0] + b"\n")
    assert is_compressed_head(path.read_bytes()[:HEAD_BYTES])
    rejects: list[Reject] = []
    reader = jobstream.read(path, on_reject=rejects.append)
    list(reader)
    assert reader.stats.failed == 1
    assert len(rejects) == 1 and "log.ndjson" in rejects[0].source and rejects[0].error


_FAST_LINES = SNAPSHOT_LINES[:6] + [
    b"",
    b"  ",
    b"\r",
    b"{oops",
    b'{"id":"x","status":1}',
    b"[1]",
    b"null",
    SNAPSHOT_LINES[0] + SNAPSHOT_LINES[1],  # two objects on one line
    SNAPSHOT_LINES[2] + b"\r",  # CRLF
    b" " + SNAPSHOT_LINES[3],  # leading blank
    SNAPSHOT_LINES[4].replace(b",", b",\n", 1),  # one object over two lines
    SNAPSHOT_LINES[5].replace(b'"id"', b'"i\\u0064"', 1),  # an escaped key
    b'{"id":"\xff","status":"Q","created_at":1,"modified_at":1}',  # bad UTF-8
    b'{"id":"a","status":"Q","created_at":1,"modified_at":1,"x":"' + b"\xc3\xa9" + b'"}',  # good UTF-8
]


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.sampled_from(_FAST_LINES), min_size=1, max_size=40),
    st.booleans(),
    st.sampled_from(["full", "view", "lean"]),
)
def test_the_whole_chunk_fast_path_equals_decoding_line_by_line(
    lines: list[bytes], final_newline: bool, model: str
) -> None:
    """decode_lines is taken only where it provably gives what line-by-line decoding gives."""
    data = b"\n".join(lines) + (b"\n" if final_newline else b"")
    results = []
    for how in ("decode_chunk", "_by_line"):
        dec = SnapshotDecoder(model, max_line_bytes=4096)  # type: ignore[arg-type]
        rejects: list[Reject] = []
        snaps, n, acc, blank = getattr(dec, how)(Chunk("s", 5, data), 3, rejects)
        results.append(
            ([encode(x) for x in snaps], n, acc, blank, [(r.line, r.offset, r.error, r.raw) for r in rejects])
        )
    assert results[0] == results[1]
    expected_lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    assert results[0][1] == expected_lines
