"""Reading (``jobstream.run.reader``): positions, hazards, strict mode, list pages, key styles, and
the no-line-lost invariant.  Naming inputs and decompressing them is in test_sources.py; the
decoder's own rules in test_decoder.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import REALWORLD, job, log_bytes, poll, read_all
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import jobstream
from jobstream.decode.decoder import Reject
from jobstream.errors import InvalidLineError
from jobstream.generate import generate
from jobstream.io.sources import HEAD_BYTES, is_compressed_head


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
        camel = log_bytes(20, 2, camel=True)
        snake = log_bytes(20, 2)
        a, ra, _ = read_all(self.write(tmp_path, camel, "c.ndjson"), model="view")
        b, rb, _ = read_all(self.write(tmp_path, snake, "s.ndjson"), model="view")
        assert ra == rb == [] and len(a) == len(b)
        assert jobstream.fold(a) == jobstream.fold(b)

    def test_mixed_key_styles_in_one_file(self, tmp_path: Path) -> None:
        camel = (REALWORLD / "camel" / "ts_sdk_legacy_ft_poll.ndjson").read_bytes()
        snake = (REALWORLD / "cookbook_ft_api_poll.ndjson").read_bytes()
        mixed = b"".join(a + b"\n" + b + b"\n" for a, b in zip(camel.splitlines(), snake.splitlines(), strict=True))
        snaps, rejects, _ = read_all(self.write(tmp_path, mixed), model="full")
        assert rejects == [] and len(snaps) == 20
        assert sum(type(s).__name__.endswith("Camel") for s in snaps) == 10


# --------------------------------------------------------------------------- properties

SNAPSHOT_LINES = [line for line in generate(40, seed=11)]


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


def test_verdict_takes_the_limit_or_the_runs_read_options() -> None:
    """ReadStats.verdict took the ReadOptions before the decode step moved to decode/step.py;
    both spellings keep working (found by review: the move broke the old one)."""
    stats = jobstream.ReadStats(lines=3, accepted=1, rejected=2)
    assert stats.verdict() is None and stats.verdict(2) is None
    assert stats.verdict(1) == stats.verdict(jobstream.ReadOptions(max_rejects=1))
    assert "more than --max-rejects 1" in (stats.verdict(1) or "")
    assert jobstream.ReadStats(failed=1).verdict(jobstream.ReadOptions()) == "1 input(s) could not be read to the end"


def test_a_file_that_vanishes_after_its_name_was_expanded_is_a_failure_record(tmp_path: Path) -> None:
    """Names are expanded before reading starts; a file removed in between is reported (one
    record naming it, stats.failed) and the other inputs are still read."""
    a, b = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    a.write_bytes(poll("a", "QUEUED", 1700000001))
    b.write_bytes(poll("b", "QUEUED", 1700000002))
    rejects: list[Any] = []
    reader = jobstream.read([a, b], on_reject=rejects.append)
    a.unlink()
    ids = [s.id for s in reader]
    assert ids == ["b"]
    assert reader.stats.failed == 1 and len(rejects) == 1
    assert rejects[0].source.endswith("a.ndjson") and "could not be read" in rejects[0].error
