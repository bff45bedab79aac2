"""The DuckDB summary peer gives exactly the figures of ``jobstream summary -f json``.

    pytest benchmarks/test_peers.py

compare.py checks the peer against jobstream on its two big logs only; these cases reach what
those logs may not: tiny percentile sets (where nearest rank and other definitions part),
statuses seen only in events, unknown statuses, ties in one second, empty duration sets.
Not in the default test run (needs duckdb, from the ``bench`` extra).
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jobstream.cli import cli
from jobstream.generate import generate

duckdb = pytest.importorskip("duckdb")

_spec = importlib.util.spec_from_file_location("duckdb_peer", Path(__file__).parent / "peers" / "duckdb_peer.py")
assert _spec is not None and _spec.loader is not None
duckdb_peer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(duckdb_peer)

FIGURES = ("jobs", "by_status", "finished", "succeeded", "success_rate", "queue_wait", "run_time", "total")


def _jobstream(path: Path) -> dict[str, Any]:
    res = CliRunner().invoke(cli, ["summary", "-f", "json", str(path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out: dict[str, Any] = json.loads(res.stdout)
    return out


def _duckdb(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    duckdb_peer.summary(duckdb.connect(), str(path))
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def _assert_same(path: Path, lines: list[bytes], capsys: pytest.CaptureFixture[str]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    peer, ref = _duckdb(path, capsys), _jobstream(path)
    assert sorted(peer) == sorted(FIGURES)
    assert {k: peer[k] for k in FIGURES} == {k: ref[k] for k in FIGURES}


@pytest.mark.parametrize("jobs", [1, 2, 3, 5, 7, 11, 40])
def test_summary_equals_jobstream_on_shuffled_partial_logs(
    jobs: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(jobs)
    for seed in range(8):
        lines = list(generate(jobs, seed=seed * 31 + jobs))
        # dropping lines leaves statuses seen only in events, and late or missing snapshots
        lines = [ln for ln in lines if rng.random() < 0.5] or lines[:1]
        rng.shuffle(lines)
        _assert_same(tmp_path / f"s{seed}.ndjson", lines, capsys)


def _line(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def _updated(at: int, status: str | None = None) -> dict[str, Any]:
    return {"name": "status-updated", "created_at": at, **({"data": {"status": status}} if status else {})}


EDGE = [
    _line(id="a", status="QUEUED", created_at=100, modified_at=100),
    _line(
        id="a",
        status="RUNNING",
        created_at=100,
        modified_at=150,
        events=[_updated(120, "VALIDATED"), _updated(150, "RUNNING")],
    ),
    _line(id="a", status="SUCCESS", created_at=100, modified_at=300, events=[_updated(300)]),  # no data
    _line(id="b", status="QUEUED", created_at=10, modified_at=10),
    _line(id="b", status="RUNNING", created_at=10, modified_at=20),
    _line(id="b", status="PAUSED", created_at=10, modified_at=20),  # unknown status, same second
    _line(id="b", status="FAILED", created_at=10, modified_at=40, events=[_updated(50, "RUNNING")]),  # reopened
    _line(id="c", status="QUEUED", created_at=5, modified_at=5),
    _line(id="c", status="CANCELLATION_REQUESTED", created_at=5, modified_at=9),
    _line(id="c", status="CANCELLED", created_at=5, modified_at=9),
    _line(id="d", status="RUNNING", created_at=1, modified_at=3, events=[_updated(3, "SUCCESS")]),  # event ahead
    _line(
        id="e",
        status="QUEUED",
        created_at=0,
        modified_at=0,
        events=[{"name": "other", "created_at": 7, "data": {"status": "SUCCESS"}}],
    ),
]


def test_summary_equals_jobstream_on_edge_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_same(tmp_path / "edge.ndjson", EDGE, capsys)
    rng = random.Random(0)
    for i in range(20):
        lines = EDGE[:]
        rng.shuffle(lines)
        _assert_same(tmp_path / f"edge{i}.ndjson", lines[: rng.randint(1, len(lines))], capsys)


def test_summary_without_durations_gives_empty_percentiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_same(tmp_path / "queued.ndjson", [_line(id="q", status="QUEUED", created_at=1, modified_at=1)], capsys)
    assert _duckdb(tmp_path / "queued.ndjson", capsys)["run_time"] == {
        "count": 0,
        "p50": None,
        "p90": None,
        "max": None,
    }
