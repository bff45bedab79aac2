"""The synthetic polling-log generator (``jobstream.generate``) and `jobstream generate`."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import re
import stat
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import invoke, one_line_error, summary_of

import jobstream
from jobstream.generate import LOG_END, LOG_START, generate, write_log

TERMINAL = {"SUCCESS", "FAILED", "FAILED_VALIDATION", "CANCELLED"}


def _no_nan(token: str) -> Any:
    raise AssertionError(f"non-finite number {token} in output")


def _parse(line: bytes) -> dict[str, Any]:
    return json.loads(line, parse_constant=_no_nan)


@pytest.fixture(scope="module")
def raw() -> list[bytes]:
    return list(generate(200, seed=7))


@pytest.fixture(scope="module")
def log(raw: list[bytes]) -> list[dict[str, Any]]:
    return [_parse(line) for line in raw]


@pytest.fixture(scope="module")
def by_job(log: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    jobs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in log:
        jobs[d["id"]].append(d)
    return jobs


@functools.cache
def _snake(key: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), key)


def _unkey(obj: Any, in_data: bool = False) -> Any:
    """camel -> snake on every key, except inside an event's ``data``."""
    if isinstance(obj, dict):
        if in_data:
            return obj
        return {_snake(k): _unkey(v, in_data=(k == "data")) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unkey(v) for v in obj]
    return obj


def test_deterministic_per_seed() -> None:
    a = list(generate(25, seed=3))
    b = list(generate(25, seed=3))
    assert a == b
    assert a != list(generate(25, seed=4))
    assert list(generate(25, seed=3, camel=True)) == list(generate(25, seed=3, camel=True))


def test_empty() -> None:
    assert list(generate(0)) == []
    buf = io.BytesIO()
    assert write_log(buf, 0) == 0
    assert buf.getvalue() == b""


def test_write_log_matches_generate() -> None:
    buf = io.BytesIO()
    n = write_log(buf, 15, seed=2)
    lines = list(generate(15, seed=2))
    assert n == len(lines) > 15
    assert buf.getvalue() == b"".join(line + b"\n" for line in lines)


def test_lines_are_single_line_json_objects(raw: list[bytes], log: list[dict[str, Any]]) -> None:
    assert len(raw) > 2000
    for line, d in zip(raw, log, strict=True):
        assert isinstance(line, bytes)
        assert b"\n" not in line and b"\r" not in line
        assert isinstance(d, dict)
        assert isinstance(d["id"], str) and len(d["id"]) == 36
        assert isinstance(d["status"], str)
        assert isinstance(d["created_at"], int) and isinstance(d["modified_at"], int)
        assert LOG_START <= d["created_at"] <= d["modified_at"] <= LOG_END


def test_job_types_and_final_statuses(by_job: dict[str, list[dict[str, Any]]]) -> None:
    types = {d["job_type"] for lines in by_job.values() for d in lines if "job_type" in d}
    assert types == {"completion", "FT", "classifier"}
    finals = {lines[-1]["status"] for lines in by_job.values()}
    assert {"SUCCESS", "FAILED", "FAILED_VALIDATION", "CANCELLED"} <= finals
    assert finals - TERMINAL, "some job must still be active when the log ends"
    seen = {d["status"] for lines in by_job.values() for d in lines}
    assert {"QUEUED", "VALIDATING", "VALIDATED", "RUNNING", "CANCELLATION_REQUESTED"} <= seen
    successes = [lines[-1] for lines in by_job.values() if lines[-1]["status"] == "SUCCESS"]
    assert len(successes) > len(by_job) / 2


def test_events_newest_first_with_data(by_job: dict[str, list[dict[str, Any]]]) -> None:
    with_data = 0
    for lines in by_job.values():
        tagged = [d for d in lines if "events" in d and "job_type" in d]
        for d in tagged:
            times = [e["created_at"] for e in d["events"]]
            assert times == sorted(times, reverse=True)
            assert all(e["name"] == "status-updated" for e in d["events"])
        detailed = [d for d in lines if d.get("events")]
        if detailed and all("status" in e.get("data", {}) for e in detailed[-1]["events"]):
            with_data += 1
            last = detailed[-1]
            # the newest event is the job's latest announced status
            newest = max(last["events"], key=lambda e: e["created_at"])
            if "job_type" in last:
                assert newest is last["events"][0]
    assert with_data >= 0.8 * len(by_job)
    assert with_data < len(by_job), "some jobs must have events without data"


def test_checkpoints_newest_first_and_grow(by_job: dict[str, list[dict[str, Any]]]) -> None:
    long_jobs = 0
    for lines in by_job.values():
        prev = 0
        for d in lines:
            if "checkpoints" not in d:
                continue
            steps = [c["step_number"] for c in d["checkpoints"]]
            assert steps == sorted(steps, reverse=True)
            assert len(steps) >= prev
            prev = len(steps)
            for c in d["checkpoints"]:
                assert c["created_at"] <= d["modified_at"]
        long_jobs += prev >= 24
    assert long_jobs >= 3


def test_modified_at_never_decreases_per_job(by_job: dict[str, list[dict[str, Any]]]) -> None:
    for lines in by_job.values():
        mods = [d["modified_at"] for d in lines]
        assert mods == sorted(mods)
        assert len({d["created_at"] for d in lines}) == 1


def test_log_is_in_poll_time_order_and_interleaved(log: list[dict[str, Any]]) -> None:
    # a job's first poll is at its creation: nothing logged before it can be newer
    newest = 0
    first_seen: dict[str, int] = {}
    for i, d in enumerate(log):
        if d["id"] not in first_seen:
            first_seen[d["id"]] = i
            assert newest <= d["created_at"]
        newest = max(newest, d["modified_at"])
    # jobs overlap in time: some job's lines are not contiguous
    last_seen: dict[str, int] = {}
    interleaved = 0
    for i, d in enumerate(log):
        if d["id"] in last_seen and last_seen[d["id"]] != i - 1:
            interleaved += 1
        last_seen[d["id"]] = i
    assert interleaved > 100


def test_list_form_and_sdk_dump_lines(log: list[dict[str, Any]]) -> None:
    list_form = [d for d in log if "events" not in d]
    assert 0.03 * len(log) < len(list_form) < 0.2 * len(log)
    assert all("checkpoints" not in d for d in list_form)
    untagged = [d for d in log if "job_type" not in d]
    assert 0 < len(untagged) < 0.1 * len(log)
    for d in untagged:
        assert "object" not in d and "auto_start" not in d
        for integ in d.get("integrations") or []:
            assert "type" not in integ
    assert any(d.get("validation_files") is None and "validation_files" in d for d in log)
    assert any("validation_files" not in d for d in log)
    assert any(d.get("metadata") and all(v is None for v in d["metadata"].values()) for d in log)


def test_classifier_jobs(by_job: dict[str, list[dict[str, Any]]]) -> None:
    requeued = 0
    for lines in by_job.values():
        if not any(d.get("job_type") == "classifier" for d in lines):
            continue
        assert all(d["model"] in ("ministral-3b-latest", "ministral-8b-latest") for d in lines)
        for d in lines:
            for target in d.get("classifier_targets", []):
                assert target["loss_function"] in ("single_class", "multi_class")
                assert target["labels"] and isinstance(target["weight"], float)
            assert "repositories" not in d and "fim_ratio" not in d["hyperparameters"]
        statuses = [d["status"] for d in lines]
        if "VALIDATED" in statuses and "QUEUED" in statuses[statuses.index("VALIDATED") :]:
            requeued += 1
    assert requeued > 5


def test_success_fields(by_job: dict[str, list[dict[str, Any]]]) -> None:
    named = 0
    for lines in by_job.values():
        last = lines[-1]
        if last["status"] != "SUCCESS":
            assert last.get("fine_tuned_model") is None
            continue
        ftm = last.get("fine_tuned_model")
        if ftm is not None:
            named += 1
            assert re.fullmatch(r"ft:(classifier:)?[a-z0-9.-]+:[0-9a-f]{8}:\d{8}:[0-9a-f]{8}", ftm)
            assert ftm.endswith(":" + last["id"][:8])
        if "trained_tokens" in last:
            assert isinstance(last["trained_tokens"], int) and last["trained_tokens"] > 0
    assert named > 50


def _keys(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            if k != "data":
                yield from _keys(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _keys(v)


def test_camel_equals_snake_with_keys_converted() -> None:
    snake = [_parse(line) for line in generate(30, seed=11)]
    camel = [_parse(line) for line in generate(30, seed=11, camel=True)]
    assert len(snake) == len(camel)
    assert any("createdAt" in d and "modifiedAt" in d for d in camel)
    assert not any("created_at" in d for d in camel)
    assert any("validMeanTokenAccuracy" in c["metrics"] for d in camel for c in d.get("checkpoints", []))
    for s, c in zip(snake, camel, strict=True):
        assert not any("_" in k for k in _keys(c)), "every key must be camelCase"
        assert _unkey(c) == s


def test_size_per_line_is_realistic(raw: list[bytes]) -> None:
    avg = sum(map(len, raw)) / len(raw)
    assert 1000 < avg < 2600


# Pinned bytes: the benchmark datasets (and the figures published from them) rest on the
# default output staying byte-identical for existing arguments.  A deliberate change to the
# generator's output updates these digests in the same commit.
_PINNED = {
    (40, 5, False): "a4f40afcc7b8f55a19dfebf83101470f2f72b4ed6a6bfea0ba9136566c53addd",
    (40, 5, True): "dcf3924f85ee65d092a488c583ac150372ab5837283fbef02e7cc162e5f2e8f1",
}


@pytest.mark.parametrize("jobs,seed,camel", sorted(_PINNED))
def test_default_output_is_byte_identical_to_pinned(jobs: int, seed: int, camel: bool) -> None:
    data = b"".join(line + b"\n" for line in generate(jobs, seed, camel))
    assert hashlib.sha256(data).hexdigest() == _PINNED[(jobs, seed, camel)]
    assert list(generate(jobs, seed, camel, changes_only=False)) == list(generate(jobs, seed, camel))


def _exact_repeats(lines: list[bytes]) -> int:
    seen: set[bytes] = set()
    repeats = 0
    for line in lines:
        repeats += line in seen
        seen.add(line)
    return repeats


@pytest.fixture(scope="module")
def polls() -> list[bytes]:
    return list(generate(300, seed=9))


@pytest.fixture(scope="module")
def changes() -> list[bytes]:
    return list(generate(300, seed=9, changes_only=True))


class TestChangesOnly:
    """``changes_only=True``: the low-repeat log (a poller that logs changes, not polls)."""

    def test_has_under_20_percent_exact_repeats(self, polls: list[bytes], changes: list[bytes]) -> None:
        assert _exact_repeats(polls) > 0.6 * len(polls)  # the default: a high-repeat polling log
        assert len(changes) > 3000
        assert _exact_repeats(changes) < 0.2 * len(changes)

    def test_most_lines_carry_a_new_modified_at(self, changes: list[bytes]) -> None:
        last: dict[str, int] = {}
        fresh = 0
        for d in map(_parse, changes):
            fresh += last.get(d["id"]) != d["modified_at"]
            last[d["id"]] = d["modified_at"]
        assert fresh > 0.7 * len(changes)

    def test_deterministic_per_seed(self, changes: list[bytes]) -> None:
        assert list(generate(300, seed=9, changes_only=True)) == changes
        assert list(generate(30, seed=10, changes_only=True)) != list(generate(30, seed=11, changes_only=True))
        camel = list(generate(30, seed=3, camel=True, changes_only=True))
        assert camel == list(generate(30, seed=3, camel=True, changes_only=True))
        assert [_parse(line) for line in generate(30, seed=3, changes_only=True)] == [
            _unkey(_parse(line)) for line in camel
        ]

    def test_is_the_polling_log_without_unchanged_repolls(self, polls: list[bytes], changes: list[bytes]) -> None:
        # a subsequence of the default log, every dropped line a repeat of a kept line
        kept = set(changes)
        it = iter(polls)
        assert all(any(line == p for p in it) for line in changes)
        assert all(line in kept for line in polls)

    def test_folds_to_the_same_table(self) -> None:
        polls = list(generate(60, seed=4))
        changes = list(generate(60, seed=4, changes_only=True))
        assert len(changes) < len(polls) / 2

        def table(lines: list[bytes]) -> jobstream.JobTable:
            return jobstream.fold(snap for line in lines for snap in jobstream.decode_line(line))

        assert table(changes) == table(polls)

    def test_write_log_matches_generate(self) -> None:
        buf = io.BytesIO()
        n = write_log(buf, 20, seed=2, changes_only=True)
        lines = list(generate(20, seed=2, changes_only=True))
        assert n == len(lines) > 20
        assert buf.getvalue() == b"".join(line + b"\n" for line in lines)


# --------------------------------------------------------------------------- the command


class TestGenerateCommand:
    """`jobstream generate`: the library's log on stdout or in a file (gzip by its name)."""

    def test_same_seed_gives_the_same_bytes(self) -> None:
        a = invoke("generate", "--jobs", 5, "--seed", 9)
        b = invoke("generate", "--jobs", 5, "--seed", 9)
        c = invoke("generate", "--jobs", 5, "--seed", 10)
        assert a.exit_code == 0
        assert a.stdout_bytes == b.stdout_bytes
        assert a.stdout_bytes != c.stdout_bytes

    def test_stdout_is_the_library_log(self) -> None:
        buf = io.BytesIO()
        n = write_log(buf, 5, seed=9)
        result = invoke("generate", "--jobs", 5, "--seed", 9)
        assert result.stdout_bytes == buf.getvalue()
        assert len(result.stdout_bytes.splitlines()) == n

    def test_gz_output_is_deterministic_and_readable_by_summary(self, tmp_path: Path) -> None:
        a, b = tmp_path / "a.ndjson.gz", tmp_path / "b.ndjson.gz"
        result = invoke("generate", "--jobs", 7, "--seed", 2, "-o", a)
        assert result.exit_code == 0
        assert result.stdout == ""
        assert re.fullmatch(rf"wrote \d+ snapshots of 7 jobs to {re.escape(str(a))}\n", result.stderr)
        invoke("generate", "--jobs", 7, "--seed", 2, "-o", b)
        assert a.read_bytes()[:2] == b"\x1f\x8b"
        assert a.read_bytes() == b.read_bytes()
        assert gzip.decompress(a.read_bytes()) == invoke("generate", "--jobs", 7, "--seed", 2).stdout_bytes
        data = json.loads(invoke("summary", a, "-f", "json").stdout)
        assert data == summary_of(a)
        assert data["jobs"] == 7 and data["rejected"] == 0
        assert stat.S_IMODE(a.stat().st_mode) & 0o044  # not mkstemp's private 0600

    def test_camel_output_reads_like_snake_case(self, tmp_path: Path) -> None:
        snake, camel = tmp_path / "snake.ndjson", tmp_path / "camel.ndjson"
        invoke("generate", "--jobs", 6, "-o", snake)
        invoke("generate", "--jobs", 6, "--camel", "-o", camel)
        assert b'"jobType"' in camel.read_bytes()
        assert invoke("jobs", camel, "--fields", "all").stdout == invoke("jobs", snake, "--fields", "all").stdout

    def test_jobs_must_be_positive(self) -> None:
        result = invoke("generate", "--jobs", 0)
        assert result.exit_code == 2
        assert result.stdout == ""

    def test_missing_output_directory_is_a_one_line_error(self, tmp_path: Path) -> None:
        result = invoke("generate", "-o", tmp_path / "nope" / "x.ndjson")
        assert result.exit_code == 1
        assert ".tmp" not in one_line_error(result.stderr)
