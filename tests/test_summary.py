"""Summary statistics (``jobstream.reduce.summary``): counts, success rate, tokens, cost,
duration percentiles and grouping, on a hand-built fold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from helpers import poll, snapshot

import jobstream
from jobstream.reduce.reducer import JobTable, fold
from jobstream.reduce.summary import Percentiles


class TestSummary:
    def table(self) -> JobTable:
        return fold(
            [
                snapshot(
                    "a",
                    "SUCCESS",
                    1000,
                    created_at=0,
                    model="m1",
                    job_type="completion",
                    trained_tokens=10,
                    metadata={"cost": 1.5, "cost_currency": "USD"},
                    events=[(0, "QUEUED"), (100, "RUNNING"), (1000, "SUCCESS")],
                ),
                snapshot(
                    "b",
                    "FAILED",
                    500,
                    created_at=0,
                    model="m1",
                    job_type="classifier",
                    trained_tokens=None,
                    metadata={"cost": 2.0, "cost_currency": "EUR"},
                    events=[(0, "QUEUED"), (300, "RUNNING"), (500, "FAILED")],
                ),
                snapshot(
                    "c",
                    "RUNNING",
                    90000,
                    created_at=86400,
                    model="m2",
                    job_type="FT",
                    trained_tokens=5,
                    metadata={"cost": 0.25, "cost_currency": "USD"},
                    events=[(86400, "QUEUED"), (86410, "RUNNING")],
                ),
            ]
        )

    def test_counts_rate_tokens_and_cost(self) -> None:
        s = self.table().summary()
        assert (s.jobs, s.observations) == (3, 3)
        assert s.by_status == {"FAILED": 1, "RUNNING": 1, "SUCCESS": 1}
        assert s.by_job_type == {"classifier": 1, "completion": 2}
        assert s.by_model == {"m1": 2, "m2": 1}
        assert (s.finished, s.succeeded, s.success_rate) == (2, 1, 0.5)
        assert s.trained_tokens == 15 and s.cost == {"EUR": 2.0, "USD": 1.75}

    def test_duration_percentiles(self) -> None:
        s = self.table().summary()
        assert (s.queue_wait.count, s.queue_wait.p50, s.queue_wait.p90, s.queue_wait.max) == (3, 100, 300, 300)
        assert (s.run_time.count, s.run_time.p50, s.run_time.max) == (2, 200, 900)
        assert Percentiles.of([]) == Percentiles()
        assert Percentiles.of(range(1, 101)).p90 == 90

    @pytest.mark.parametrize(
        "by,keys",
        [
            ("model", ["m1", "m2"]),
            ("job_type", ["classifier", "completion"]),
            ("status", ["FAILED", "RUNNING", "SUCCESS"]),
            ("day", ["1970-01-01", "1970-01-02"]),
        ],
    )
    def test_grouping(self, by: str, keys: list[str]) -> None:
        s = self.table().summary(by=by)
        assert list(s.groups) == keys
        assert sum(g.jobs for g in s.groups.values()) == 3

    def test_unknown_group_key_is_refused(self) -> None:
        with pytest.raises(ValueError, match="cannot group by"):
            self.table().summary(by="colour")


def test_summary_to_dict_is_what_summary_json_prints(tmp_path: Path) -> None:
    """Summary.to_dict() is the library's form of `summary -f json`: groups only when grouped."""
    log = tmp_path / "log.ndjson"
    log.write_bytes(poll("a", "QUEUED", 1700000001) + poll("b", "SUCCESS", 1700000002))
    table = jobstream.fold_paths([log]).table
    plain, grouped = table.summary().to_dict(), table.summary(by="status").to_dict()
    assert "groups" not in plain and "group_by" not in plain and plain["jobs"] == 2
    assert grouped["group_by"] == "status" and set(grouped["groups"]) == {"QUEUED", "SUCCESS"}
    assert grouped["groups"]["SUCCESS"]["jobs"] == 1
    printed = orjson.loads(
        subprocess.run(
            [sys.executable, "-m", "jobstream", "summary", str(log), "-f", "json", "--by", "status"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    )
    for key, value in grouped.items():
        assert printed[key] == value, key
