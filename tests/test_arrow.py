"""Columnar output: Arrow tables, Parquet and Arrow IPC files, read back by pyarrow, DuckDB,
pandas and polars, and compared row by row with the fold's own values."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from helpers import EXAMPLE_LOG, no_traceback, run_jobstream

import jobstream
from jobstream.errors import OutputError
from jobstream.reduce.reducer import JobTable

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
duckdb = pytest.importorskip("duckdb")

from jobstream.out import arrow  # noqa: E402

TS = pa.timestamp("s", tz="UTC")
CAT = pa.dictionary(pa.int32(), pa.string())

JOB_TIMES = ("created_at", "modified_at", "first_seen", "last_seen", "checkpoint_at")


def _epoch(v: Any) -> Any:
    """A datetime (from any reader) as unix seconds; anything else as is."""
    if isinstance(v, datetime):
        offset = v.utcoffset()
        assert offset is not None and offset.total_seconds() == 0, f"{v!r} is not UTC"
        return int(v.timestamp())
    return v


def _rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _epoch(v) for k, v in r.items()} for r in records]


def _duck(path: Path) -> list[dict[str, Any]]:
    rel = duckdb.sql(f"select * from read_parquet('{path}')")
    return _rows([dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()])


def _expected_jobs(table: JobTable) -> list[dict[str, Any]]:
    return [{name: getattr(j, name) for name in arrow.JOB_COLUMNS} for j in table.jobs()]


def _expected_events(table: JobTable) -> list[dict[str, Any]]:
    return [{f: getattr(c, f) for f in c.__struct_fields__} for c in table.events()]


def _expected_checkpoints(table: JobTable) -> list[dict[str, Any]]:
    return [
        {
            "job_id": r.job_id,
            "step": r.step,
            "created_at": r.created_at,
            "train_loss": r.train_loss,
            "valid_loss": r.valid_loss,
            "valid_mean_token_accuracy": r.valid_mean_token_accuracy,
        }
        for r in table.checkpoints()
    ]


def _expected_durations(table: JobTable) -> list[dict[str, Any]]:
    rows = []
    for j in table.jobs():
        for status, seconds, entered, visits in arrow.duration_rows(j):
            rows.append(
                {
                    "job_id": j.id,
                    "job_type": j.job_type,
                    "model": j.model,
                    "status": status,
                    "seconds": seconds,
                    "entered_at": entered,
                    "visits": visits,
                }
            )
    return rows


EXPECTED = {
    "jobs": _expected_jobs,
    "events": _expected_events,
    "checkpoints": _expected_checkpoints,
    "durations": _expected_durations,
}


class TestSchema:
    def test_jobs_columns_are_every_scalar_field_of_jobstate_in_order(self, table: JobTable) -> None:
        t = table.to_arrow("jobs")
        scalar = [f for f in jobstream.JobState.__struct_fields__ if f not in ("history", "changes", "durations")]
        assert t.column_names == scalar
        assert t.num_rows == len(table)

    def test_jobs_column_types_are_real(self, table: JobTable) -> None:
        s = table.to_arrow("jobs").schema
        for name in JOB_TIMES:
            assert s.field(name).type == TS, name
        for name in ("job_type", "model", "status", "cost_currency"):
            assert s.field(name).type == CAT, name
        for name in ("queue_wait", "run_time", "total", "trained_tokens", "observations", "checkpoint_step"):
            assert s.field(name).type == pa.int64(), name
        for name in ("cost", "train_loss", "valid_loss", "valid_mean_token_accuracy"):
            assert s.field(name).type == pa.float64(), name
        assert s.field("integrations").type == pa.list_(pa.string())
        assert s.field("id").type == pa.string()

    def test_events_and_durations_types(self, table: JobTable) -> None:
        ev = table.to_arrow("events").schema
        assert ev.names == ["job_id", "job_type", "model", "from_status", "to_status", "at"]
        assert ev.field("at").type == TS and ev.field("to_status").type == CAT and ev.field("from_status").type == CAT
        du = table.to_arrow("durations").schema
        assert du.names == ["job_id", "job_type", "model", "status", "seconds", "entered_at", "visits"]
        assert du.field("seconds").type == pa.int64() and du.field("entered_at").type == TS

    def test_unknown_table_is_a_value_error(self, table: JobTable) -> None:
        with pytest.raises(ValueError, match="choose one of jobs, events"):
            table.to_arrow("jobz")
        with pytest.raises(ValueError, match="groups only the summary"):
            table.to_arrow("jobs", by="model")


class TestValues:
    @pytest.mark.parametrize("what", sorted(EXPECTED))
    def test_arrow_rows_equal_the_fold(self, table: JobTable, what: str) -> None:
        got = _rows(table.to_arrow(what).to_pylist())
        assert got == EXPECTED[what](table)
        assert len(got) > 0

    def test_jobs_selection_is_kept_in_order(self, table: JobTable) -> None:
        failed = [j for j in table.jobs() if j.status == "FAILED"]
        t = table.to_arrow("jobs", failed)
        assert t.column("id").to_pylist() == [j.id for j in failed]
        ev = table.to_arrow("events", failed)
        assert set(ev.column("job_id").to_pylist()) == {j.id for j in failed}

    def test_durations_add_up_to_jobstate_durations(self, table: JobTable) -> None:
        t = table.to_arrow("durations").to_pylist()
        per_job: dict[str, dict[str, int]] = {}
        for r in t:
            per_job.setdefault(r["job_id"], {})[str(r["status"])] = r["seconds"]
        for j in table.jobs():
            assert per_job.get(j.id, {}) == j.durations
            for r in (r for r in t if r["job_id"] == j.id):
                first = next(c.at for c in j.changes if c.to_status == r["status"])
                assert _epoch(r["entered_at"]) == first

    def test_revisited_status_counts_visits_and_adds_seconds(self) -> None:
        snaps = [
            snap
            for s, t in (("QUEUED", 100), ("VALIDATED", 110), ("QUEUED", 130), ("RUNNING", 160), ("SUCCESS", 200))
            for snap in jobstream.decode_line(
                b'{"id":"j","status":"%s","created_at":100,"modified_at":%d,"model":"m","job_type":"completion"}'
                % (s.encode(), t)
            )
        ]
        t = jobstream.fold(snaps).to_arrow("durations").to_pylist()
        got = [(r["status"], r["seconds"], _epoch(r["entered_at"]), r["visits"]) for r in t]
        assert got == [("QUEUED", 10 + 30, 100, 2), ("VALIDATED", 20, 110, 1), ("RUNNING", 40, 160, 1)]

    def test_summary_has_a_row_per_group_and_a_null_total_row(self, table: JobTable) -> None:
        s = table.summary(by="model")
        rows = table.to_arrow("summary", by="model").to_pylist()
        assert [r["group"] for r in rows] == [*s.groups, None]
        assert all(r["group_by"] == "model" for r in rows)
        for r in rows:
            g = s if r["group"] is None else s.groups[r["group"]]
            assert r["jobs"] == g.jobs and r["succeeded"] == g.succeeded
            assert r["success_rate"] == g.success_rate
            assert r["run_time_p90"] == g.run_time.p90 and r["queue_wait_max"] == g.queue_wait.max
            assert dict(r["cost"]) == g.cost
            assert dict(r["by_status"]) == g.by_status
            assert _epoch(r["newest"]) == g.newest

    def test_ungrouped_summary_is_one_total_row(self, table: JobTable) -> None:
        rows = table.to_arrow("summary").to_pylist()
        assert len(rows) == 1 and rows[0]["group"] is None and rows[0]["group_by"] is None
        assert rows[0]["jobs"] == len(table)


class TestFiles:
    @pytest.mark.parametrize("what", sorted(EXPECTED))
    def test_parquet_reads_back_in_pyarrow_and_duckdb(self, table: JobTable, tmp_path: Path, what: str) -> None:
        path = tmp_path / f"{what}.parquet"
        arrow.write_parquet(table.to_arrow(what), path)
        expected = EXPECTED[what](table)
        back = pq.read_table(path)
        assert _rows(back.to_pylist()) == expected
        # Parquet has no seconds unit: times come back as milliseconds, still UTC
        for f in back.schema:
            if pa.types.is_timestamp(f.type):
                assert f.type == pa.timestamp("ms", tz="UTC")
        assert _duck(path) == expected

    def test_duckdb_sees_real_column_types(self, table: JobTable, tmp_path: Path) -> None:
        path = tmp_path / "jobs.parquet"
        arrow.write_parquet(table.to_arrow("jobs"), path)
        rel = duckdb.sql(f"select * from read_parquet('{path}')")
        types = dict(zip(rel.columns, map(str, rel.types), strict=True))
        assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"
        assert types["status"] == "VARCHAR"
        assert types["queue_wait"] == "BIGINT"
        assert types["cost"] == "DOUBLE"
        assert types["integrations"] == "VARCHAR[]"
        # and it answers questions with them
        n = duckdb.sql(
            f"select count(*) from read_parquet('{path}') where status = 'SUCCESS' "
            f"and created_at >= TIMESTAMPTZ '2024-01-01 00:00:00+00'"
        ).fetchall()
        assert n[0][0] == sum(1 for j in table.jobs() if j.status == "SUCCESS")

    @pytest.mark.parametrize("what", sorted(EXPECTED))
    def test_feather_keeps_the_exact_schema(self, table: JobTable, tmp_path: Path, what: str) -> None:
        path = tmp_path / f"{what}.arrow"
        data = table.to_arrow(what)
        arrow.write_feather(data, path)
        back = pa.ipc.open_file(str(path)).read_all()
        assert back.schema == data.schema
        assert _rows(back.to_pylist()) == EXPECTED[what](table)

    def test_write_to_a_binary_file_object(self, table: JobTable, tmp_path: Path) -> None:
        path = tmp_path / "events.parquet"
        with path.open("wb") as fh:
            arrow.write_arrow_file(table.to_arrow("events"), "parquet", fh)
        assert pq.read_table(path).num_rows == len(table.events())

    def test_summary_map_columns_read_in_duckdb(self, table: JobTable, tmp_path: Path) -> None:
        path = tmp_path / "summary.parquet"
        arrow.write_parquet(table.to_arrow("summary", by="job_type"), path)
        rows = duckdb.sql(f"select \"group\", jobs, cost from read_parquet('{path}')").fetchall()
        s = table.summary(by="job_type")
        assert [(g, n) for g, n, _ in rows] == [*((k, v.jobs) for k, v in s.groups.items()), (None, s.jobs)]
        assert dict(rows[-1][2]) == s.cost

    def test_path_write_is_atomic_and_refuses_an_input(self, table: JobTable, tmp_path: Path, small_log: Path) -> None:
        data = table.to_arrow("jobs")
        with pytest.raises(OutputError, match="refusing to overwrite input"):
            arrow.write_parquet(data, small_log, protect=[str(small_log)])
        target = tmp_path / "out" / "jobs.parquet"
        target.parent.mkdir()
        arrow.write_parquet(data, target)
        assert os.listdir(target.parent) == ["jobs.parquet"]  # no temp file left behind

    def test_unknown_file_format(self, table: JobTable, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="parquet, arrow"):
            arrow.write_arrow_file(table.to_arrow("jobs"), "orc", tmp_path / "x")


class TestDataFrames:
    def test_pandas_gets_categories_and_utc_times(self, table: JobTable) -> None:
        pytest.importorskip("pandas")
        df = table.to_pandas("jobs")
        assert str(df["status"].dtype) == "category"
        assert str(df["created_at"].dtype).startswith("datetime64") and "UTC" in str(df["created_at"].dtype)
        assert list(df["id"]) == [j.id for j in table.jobs()]
        assert [int(t.timestamp()) for t in df["created_at"]] == [j.created_at for j in table.jobs()]

    def test_polars_gets_categoricals_and_utc_times(self, table: JobTable) -> None:
        pl = pytest.importorskip("polars")
        df = table.to_polars("events")
        assert df.schema["to_status"] == pl.Categorical
        assert isinstance(df.schema["at"], pl.Datetime) and df.schema["at"].time_zone == "UTC"
        assert df["to_status"].cast(pl.String).to_list() == [c.to_status for c in table.events()]
        assert [int(t.timestamp()) for t in df["at"].to_list()] == [c.at for c in table.events()]


class TestImport:
    def test_importing_jobstream_does_not_import_pyarrow(self) -> None:
        code = "import jobstream, jobstream.out.arrow, sys; assert 'pyarrow' not in sys.modules, 'pyarrow imported'"
        subprocess.run([sys.executable, "-c", code], check=True)

    def test_missing_pyarrow_names_the_extra(self, small_log: Path) -> None:
        code = (
            "import sys; sys.modules['pyarrow'] = None\n"
            "import jobstream\n"
            f"t = jobstream.fold_paths([{str(small_log)!r}]).table\n"
            "try:\n    t.to_arrow('jobs')\n"
            "except ImportError as e:\n    print(e)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
        assert "pip install 'jobstream[parquet]'" in out


def test_datetime_helper_rejects_naive_times() -> None:
    # the comparisons above rely on every reader giving UTC-aware datetimes
    with pytest.raises(AssertionError):
        _epoch(datetime(2024, 1, 1))
    assert _epoch(datetime(2024, 1, 1, tzinfo=timezone.utc)) == 1704067200


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_jobs_fields_apply_to_columnar_outputs(tmp_path: Path, fmt: str) -> None:
    """`jobs --fields id,status -f parquet` writes all 22 columns: exports._write_arrow never sees
    `fields`, so the option is accepted and silently ignored."""
    pq = pytest.importorskip("pyarrow.parquet")
    feather = pytest.importorskip("pyarrow.feather")
    out = tmp_path / f"jobs.{fmt}"
    proc = run_jobstream("jobs", EXAMPLE_LOG, "--fields", "id,status", "-f", fmt, "-o", out)
    no_traceback(proc)
    assert proc.returncode == 0
    table = pq.read_table(out) if fmt == "parquet" else feather.read_table(out)
    assert table.column_names == ["id", "status"]
