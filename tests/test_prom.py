"""Prometheus text exposition: parsed back with prometheus_client's own parser."""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import completion

import jobstream
from jobstream.decode.step import ReadStats
from jobstream.errors import OutputError
from jobstream.out.prom import escape_label_value, write_prometheus, write_prometheus_file
from jobstream.reduce.summary import Summary

parser = pytest.importorskip("prometheus_client.parser")

HOSTILE_MODEL = 'ft "quoted" \\back\\slash\nnew line'
HOSTILE_STATUS = 'WEIRD"\\\n'


def _parse(text: str) -> dict[str, Any]:
    """``{family name: family}`` from the real parser."""
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def _samples(fam: Any, name: str | None = None) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for s in fam.samples if name is None or s.name == name}


def _render(summary: Summary, stats: ReadStats | None = None, **kw: Any) -> str:
    out = io.StringIO()
    write_prometheus(summary, stats, out, **kw)
    return out.getvalue()


class TestValues:
    def test_every_figure_parses_back_to_the_summary(self, folded: jobstream.FoldResult) -> None:
        s = folded.table.summary()
        fams = _parse(_render(s, folded.stats))

        def one(name: str) -> float:
            return _samples(fams[name])[()]

        assert one("jobstream_jobs") == s.jobs
        assert one("jobstream_jobs_finished") == s.finished
        assert one("jobstream_jobs_succeeded") == s.succeeded
        assert one("jobstream_success_rate") == pytest.approx(s.success_rate)
        assert one("jobstream_observations") == s.observations
        assert one("jobstream_trained_tokens") == s.trained_tokens
        assert one("jobstream_newest_modified_timestamp_seconds") == s.newest
        assert one("jobstream_lines_read") == folded.stats.lines
        assert one("jobstream_snapshots_read") == folded.stats.snapshots
        assert one("jobstream_lines_rejected") == folded.stats.rejected
        assert {k[0][1]: v for k, v in _samples(fams["jobstream_jobs_by_status"]).items()} == s.by_status
        assert {k[0][1]: v for k, v in _samples(fams["jobstream_jobs_by_job_type"]).items()} == s.by_job_type
        assert {k[0][1]: v for k, v in _samples(fams["jobstream_jobs_by_model"]).items()} == s.by_model
        assert {k[0][1]: v for k, v in _samples(fams["jobstream_cost"]).items()} == pytest.approx(s.cost)
        assert len(s.cost) >= 2  # the fixture has two currencies: the label really varies

    def test_durations_are_summaries_with_quantiles_and_count(self, folded: jobstream.FoldResult) -> None:
        s = folded.table.summary()
        fams = _parse(_render(s))
        for name, pct in (("queue_wait", s.queue_wait), ("run_time", s.run_time), ("total", s.total)):
            fam = fams[f"jobstream_{name}_seconds"]
            assert fam.type == "summary"
            q = {dict(k)["quantile"]: v for k, v in _samples(fam, f"jobstream_{name}_seconds").items()}
            assert q == {"0.5": pct.p50, "0.9": pct.p90, "1": pct.max}
            assert _samples(fam, f"jobstream_{name}_seconds_count")[()] == pct.count
            assert pct.count > 0

    def test_every_family_has_help_and_type_and_valid_names(self, folded: jobstream.FoldResult) -> None:
        text = _render(folded.table.summary(by="model"), folded.stats)
        helped = set(re.findall(r"^# HELP (\S+) ", text, re.M))
        typed = set(re.findall(r"^# TYPE (\S+) (gauge|summary)$", text, re.M))
        assert helped == {name for name, _ in typed}
        for line in text.splitlines():
            if not line.startswith("#"):
                name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
                assert name is not None and name.group().startswith("jobstream_"), line
        assert text.endswith("\n")

    def test_without_stats_no_read_counts(self, folded: jobstream.FoldResult) -> None:
        fams = _parse(_render(folded.table.summary()))
        assert "jobstream_lines_read" not in fams and "jobstream_jobs" in fams

    def test_prefix_is_used_and_checked(self, folded: jobstream.FoldResult) -> None:
        fams = _parse(_render(folded.table.summary(), prefix="ft_team"))
        assert "ft_team_jobs" in fams and not any(n.startswith("jobstream") for n in fams)
        with pytest.raises(ValueError, match="invalid metric prefix"):
            _render(folded.table.summary(), prefix="9bad-name")

    def test_no_finished_job_gives_nan_rate_and_quantiles(self) -> None:
        s = jobstream.fold([completion("a", "QUEUED", 1000, "m")]).summary()
        fams = _parse(_render(s))
        assert math.isnan(_samples(fams["jobstream_success_rate"])[()])
        q = _samples(fams["jobstream_run_time_seconds"], "jobstream_run_time_seconds")
        assert all(math.isnan(v) for v in q.values()) and len(q) == 3
        assert _samples(fams["jobstream_run_time_seconds"], "jobstream_run_time_seconds_count")[()] == 0


class TestLabels:
    def test_escape_label_value(self) -> None:
        assert escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'

    def test_hostile_model_and_status_round_trip(self) -> None:
        snaps = [
            completion("a", "QUEUED", 1000, HOSTILE_MODEL),
            completion("a", "RUNNING", 1010, HOSTILE_MODEL),
            completion(
                "a",
                "SUCCESS",
                1100,
                HOSTILE_MODEL,
                trained_tokens=5,
                metadata={"cost": 1.5, "cost_currency": 'E"\\\nUR'},
            ),
            completion("b", HOSTILE_STATUS, 1200, "plain"),
        ]
        s = jobstream.fold(snaps).summary(by="model")
        text = _render(s)
        assert "\nnew line" not in text  # the newline inside the label is escaped, not raw
        fams = _parse(text)
        models = {dict(k)["model"]: v for k, v in _samples(fams["jobstream_jobs_by_model"]).items()}
        assert models == {HOSTILE_MODEL: 1, "plain": 1}
        statuses = {dict(k)["status"]: v for k, v in _samples(fams["jobstream_jobs_by_status"]).items()}
        assert statuses == {"SUCCESS": 1, HOSTILE_STATUS: 1}
        cost = {dict(k)["currency"]: v for k, v in _samples(fams["jobstream_cost"]).items()}
        assert cost == {'E"\\\nUR': 1.5}
        # the grouped families carry the hostile value as their group label too
        grouped = {dict(k)["model"]: v for k, v in _samples(fams["jobstream_group_jobs"]).items()}
        assert grouped == {HOSTILE_MODEL: 1, "plain": 1}


class TestGrouped:
    def test_groups_are_separate_families_labelled_by_key(self, folded: jobstream.FoldResult) -> None:
        s = folded.table.summary(by="model")
        fams = _parse(_render(s, folded.stats))
        # the totals are unlabelled and unchanged by grouping
        assert _samples(fams["jobstream_jobs"]) == {(): s.jobs}
        per = {dict(k)["model"]: v for k, v in _samples(fams["jobstream_group_jobs"]).items()}
        assert per == {k: g.jobs for k, g in s.groups.items()}
        rate = {dict(k)["model"]: v for k, v in _samples(fams["jobstream_group_success_rate"]).items()}
        for k, g in s.groups.items():
            if g.success_rate is None:
                assert math.isnan(rate[k])
            else:
                assert rate[k] == pytest.approx(g.success_rate)
        p90 = {
            dict(k)["model"]: v
            for k, v in _samples(fams["jobstream_group_run_time_seconds"], "jobstream_group_run_time_seconds").items()
            if dict(k)["quantile"] == "0.9"
        }
        assert {k: v for k, v in p90.items() if not math.isnan(v)} == {
            k: g.run_time.p90 for k, g in s.groups.items() if g.run_time.p90 is not None
        }
        by_status = _samples(fams["jobstream_group_jobs_by_status"])
        assert sum(by_status.values()) == s.jobs
        assert "jobstream_group_jobs_by_model" not in fams  # grouped on model: the label would repeat

    def test_grouping_by_status_drops_the_repeated_label(self, folded: jobstream.FoldResult) -> None:
        fams = _parse(_render(folded.table.summary(by="status")))
        assert "jobstream_group_jobs_by_status" not in fams
        assert {dict(k)["status"] for k in _samples(fams["jobstream_group_jobs"])} == set(
            folded.table.summary().by_status
        )


class TestFile:
    def test_file_is_written_atomically_with_the_same_text(self, folded: jobstream.FoldResult, tmp_path: Path) -> None:
        s = folded.table.summary()
        path = tmp_path / "jobs.prom"
        path.write_text("old\n")
        write_prometheus_file(s, folded.stats, str(path))
        assert path.read_text() == _render(s, folded.stats)
        assert os.listdir(tmp_path) == ["jobs.prom"]

    def test_file_refuses_to_replace_an_input(self, folded: jobstream.FoldResult, small_log: Path) -> None:
        before = small_log.stat().st_size
        with pytest.raises(OutputError, match="refusing to overwrite input"):
            write_prometheus_file(folded.table.summary(), None, str(small_log), protect=[str(small_log)])
        assert small_log.stat().st_size == before
