"""Selecting jobs and changes (``jobstream.reduce.filters``): ``--status``, ``--job-type``,
``--model``, ``--job``, ``--since`` and ``--until``, through the commands that take them; each
selection is checked against the same selection made in plain Python."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import (
    DEFAULT_JOB_FIELDS,
    EVENT_FIELDS,
    expected_rows,
    invoke,
    parse,
    to_iso,
    write_generated,
)

import jobstream
import jobstream.cli as cli_module
from jobstream.reduce.reducer import JobState, JobTable, StatusChange


def _values(table: JobTable) -> dict[str, Any]:
    """Filter values that select some, not all, jobs of the log."""
    jobs = table.jobs()
    models = sorted({j.model for j in jobs if j.model})
    mid = sorted(j.created_at for j in jobs)[len(jobs) // 2]
    return {"models": models[:2], "mid": mid, "ids": [jobs[1].id, jobs[-2].id]}


JOB_FILTERS: list[tuple[str, Callable[[dict[str, Any]], list[str]], Callable[[dict[str, Any], JobState], bool]]] = [
    ("status", lambda v: ["--status", "SUCCESS"], lambda v, j: j.status == "SUCCESS"),
    (
        "status-lowercase-repeated",
        lambda v: ["--status", "running", "--status", "queued"],
        lambda v, j: j.status in ("RUNNING", "QUEUED"),
    ),
    ("job-type", lambda v: ["--job-type", "classifier"], lambda v, j: j.job_type == "classifier"),
    ("model-comma-list", lambda v: ["--model", ",".join(v["models"][:2])], lambda v, j: j.model in v["models"][:2]),
    ("status-comma-list", lambda v: ["--status", "FAILED,cancelled"], lambda v, j: j.status in ("FAILED", "CANCELLED")),
    (
        "model-repeated",
        lambda v: ["--model", v["models"][0], "--model", v["models"][1]],
        lambda v, j: j.model in v["models"],
    ),
    ("job-repeated", lambda v: ["--job", v["ids"][0], "--job", v["ids"][1]], lambda v, j: j.id in v["ids"]),
    ("since-unix", lambda v: ["--since", str(v["mid"])], lambda v, j: j.created_at >= v["mid"]),
    ("since-iso", lambda v: ["--since", to_iso(v["mid"])], lambda v, j: j.created_at >= v["mid"]),
    (
        "until-iso-offset",
        lambda v: ["--until", datetime.fromtimestamp(v["mid"], timezone(timedelta(hours=2))).isoformat()],
        lambda v, j: j.created_at < v["mid"],
    ),
    (
        "since-date",
        lambda v: ["--since", to_iso(v["mid"])[:10]],
        lambda v, j: (
            j.created_at >= int(datetime.fromisoformat(to_iso(v["mid"])[:10]).replace(tzinfo=timezone.utc).timestamp())
        ),
    ),
    (
        "combined",
        lambda v: ["--job-type", "completion", "--status", "SUCCESS", "--until", str(v["mid"])],
        lambda v, j: j.job_type == "completion" and j.status == "SUCCESS" and j.created_at < v["mid"],
    ),
]


EVENT_FILTERS: list[
    tuple[str, Callable[[dict[str, Any]], list[str]], Callable[[dict[str, Any], StatusChange], bool]]
] = [
    ("status-matches-to-status", lambda v: ["--status", "RUNNING"], lambda v, c: c.to_status == "RUNNING"),
    ("job-type", lambda v: ["--job-type", "classifier"], lambda v, c: c.job_type == "classifier"),
    ("model", lambda v: ["--model", v["models"][0]], lambda v, c: c.model == v["models"][0]),
    ("job", lambda v: ["--job", v["ids"][0]], lambda v, c: c.job_id == v["ids"][0]),
    (
        "since-until-match-change-time",
        lambda v: ["--since", str(v["mid"]), "--until", to_iso(v["mid"] + 3600)],
        lambda v, c: v["mid"] <= c.at < v["mid"] + 3600,
    ),
]


class TestFilters:
    @pytest.mark.parametrize("name,args,keep", JOB_FILTERS, ids=[f[0] for f in JOB_FILTERS])
    def test_jobs_filter_matches_plain_python(
        self, small_log: Path, table: JobTable, name: str, args: Callable[..., list[str]], keep: Callable[..., bool]
    ) -> None:
        v = _values(table)
        want = [j.id for j in table.jobs() if keep(v, j)]
        assert 0 < len(want) < len(table.jobs()), "filter value should select some jobs, not all"
        result = invoke("jobs", small_log, *args(v))
        assert result.exit_code == 0, result.stderr
        assert [r["id"] for r in parse("ndjson", result.stdout)] == want

    @pytest.mark.parametrize("name,args,keep", EVENT_FILTERS, ids=[f[0] for f in EVENT_FILTERS])
    def test_events_filter_matches_plain_python(
        self, small_log: Path, table: JobTable, name: str, args: Callable[..., list[str]], keep: Callable[..., bool]
    ) -> None:
        v = _values(table)
        want = expected_rows([c for c in table.events() if keep(v, c)], EVENT_FIELDS, "ndjson")
        assert 0 < len(want) < len(table.events())
        result = invoke("events", small_log, *args(v))
        assert result.exit_code == 0, result.stderr
        assert parse("ndjson", result.stdout) == want

    @pytest.mark.parametrize("fmt", ["csv", "table"])
    def test_filters_apply_to_every_format(self, small_log: Path, table: JobTable, fmt: str) -> None:
        want = [j for j in table.jobs() if j.job_type == "classifier"]
        rows = parse(fmt, invoke("jobs", small_log, "--job-type", "classifier", "-f", fmt).stdout)
        assert rows == expected_rows(want, DEFAULT_JOB_FIELDS, fmt)

    @pytest.mark.parametrize("option", ["--since", "--until"])
    def test_bad_time_is_a_usage_error(self, small_log: Path, option: str) -> None:
        result = invoke("events", small_log, option, "last tuesday")
        assert result.exit_code == 2
        assert result.stdout == ""
        assert option in result.stderr and "2025-06-01" in result.stderr and "@1717000000" in result.stderr

    def test_legacy_ft_job_type_is_refused_with_a_hint(self, small_log: Path) -> None:
        for value in ("FT", "ft"):
            result = invoke("jobs", small_log, "--job-type", value)
            assert result.exit_code == 2
            assert "--job-type" in result.stderr and "use --job-type completion" in result.stderr

    def test_a_filter_value_that_can_never_match_is_warned_about(self, small_log: Path) -> None:
        result = invoke("jobs", small_log, "--status", "RUNNNING", "--job-type", "embedding")
        assert result.exit_code == 0 and result.stdout == ""
        assert "--status RUNNNING is not a known status" in result.stderr
        assert "--job-type embedding is not a known job type" in result.stderr
        # a status this version does not know, but the input has: no warning
        ok = invoke("jobs", small_log, "--status", "success")
        assert ok.stderr == "" and ok.stdout

    def test_fractional_time_bounds_keep_since_inclusive_and_until_exclusive(self, tmp_path: Path) -> None:
        """Found by an adversarial review: a fractional bound (``--since T.5``) must keep --since
        inclusive and --until exclusive, as whole seconds do."""
        p = write_generated(tmp_path / "in.ndjson", 5, seed=2)
        first = jobstream.fold_paths([p]).table.events()[0].at

        def count(*opts: str) -> int:
            res = CliRunner().invoke(
                cli_module.cli,
                ["events", str(p), "-f", "ndjson", "--job", jobstream.fold_paths([p]).table.events()[0].job_id, *opts],
            )
            assert res.exit_code == 0, res.output
            return sum(1 for row in res.stdout.splitlines() if json.loads(row)["at"] == first)

        assert count("--since", f"{first}.5") == 0  # the change is before the bound
        assert count("--until", f"{first}.5") == 1  # ... and before this one too
        assert count("--since", str(first)) == 1
