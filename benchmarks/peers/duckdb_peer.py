"""DuckDB peer: ``read_ndjson`` with explicit columns and SQL (``arg_max``, ``lag()``).

    python duckdb_peer.py summary FILE               -> the figures of `jobstream summary -f json` below
    python duckdb_peer.py summary FILE --counts-only -> {"by_status": {...}}
    python duckdb_peer.py events FILE                -> one NDJSON change row per line
    python duckdb_peer.py events FILE --snapshots-only

Both tasks compute jobstream's semantics.  A job's current status is that of its snapshot
with the greatest ``(modified_at, lifecycle rank)``.  Its status history is the distinct
``(modified_at, status)`` of its snapshots plus the ``(created_at, data.status)`` of its
``status-updated`` events, ordered by (time, lifecycle rank, status); a change is an
observation whose status differs from the previous one (``lag()``).

``summary`` gives ``jobs``, ``by_status``, ``finished``, ``succeeded``, ``success_rate``
(rounded to 6 places) and ``queue_wait``/``run_time``/``total`` as ``{count, p50, p90,
max}``, nearest-rank percentiles: the value at 1-based rank ``ceil(p/100 * n)``, written
out rather than left to ``quantile_disc`` so that the definition is the one jobstream uses
whatever DuckDB's version (``quantile_disc`` gives the same ranks in DuckDB 2.0).
Durations come from the history: queue wait is created (current snapshot) -> first RUNNING,
run time first RUNNING -> the change into the last status when that status is terminal,
total created -> that change.  ``--counts-only`` is the cheap query: current status
counted, no history.  ``events --snapshots-only`` is the common approximation: ``lag()``
over snapshot statuses only.
"""

from __future__ import annotations

import argparse
import json
import sys

import duckdb

RANK_SQL = """CASE {col}
    WHEN 'QUEUED' THEN 0 WHEN 'STARTED' THEN 1 WHEN 'VALIDATING' THEN 2 WHEN 'VALIDATED' THEN 3
    WHEN 'RUNNING' THEN 4 WHEN 'CANCELLATION_REQUESTED' THEN 6
    WHEN 'FAILED_VALIDATION' THEN 7 WHEN 'FAILED' THEN 7 WHEN 'SUCCESS' THEN 7 WHEN 'CANCELLED' THEN 7
    ELSE 5 END"""

COUNTS_COLUMNS = "{'id': 'VARCHAR', 'status': 'VARCHAR', 'modified_at': 'BIGINT'}"
SUMMARY_COLUMNS = """{
    'id': 'VARCHAR', 'status': 'VARCHAR', 'modified_at': 'BIGINT', 'created_at': 'BIGINT',
    'events': 'STRUCT(name VARCHAR, created_at BIGINT, data STRUCT(status VARCHAR))[]'
}"""
TERMINAL_SQL = "('SUCCESS', 'FAILED', 'FAILED_VALIDATION', 'CANCELLED')"
EVENTS_COLUMNS = """{
    'id': 'VARCHAR', 'status': 'VARCHAR', 'modified_at': 'BIGINT', 'job_type': 'VARCHAR', 'model': 'VARCHAR',
    'classifier_targets': 'STRUCT(name VARCHAR)[]',
    'events': 'STRUCT(name VARCHAR, created_at BIGINT, data STRUCT(status VARCHAR))[]'
}"""


def _lit(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def summary_counts(con: duckdb.DuckDBPyConnection, path: str) -> None:
    rows = con.sql(
        f"""
        SELECT status, count(*) FROM (
            SELECT arg_max(status, modified_at * 16 + {RANK_SQL.format(col="status")}) AS status
            FROM read_ndjson({_lit(path)}, columns = {COUNTS_COLUMNS})
            GROUP BY id
        ) GROUP BY status ORDER BY status
        """
    ).fetchall()
    print(json.dumps({"by_status": dict(rows)}))


def _percentiles(col: str) -> str:
    """``{count, p50, p90, max}`` of the non-null *col* of ``durations``, nearest rank.

    ``0.9::DOUBLE * n`` is the same IEEE product as jobstream's ``90 / 100 * n``.
    """
    v = f"list_sort(coalesce(list({col}) FILTER (WHERE {col} IS NOT NULL), []))"
    return f"""(SELECT {{'count': len(v), 'p50': v[greatest(1, ceil(0.5::DOUBLE * len(v)))::BIGINT],
                       'p90': v[greatest(1, ceil(0.9::DOUBLE * len(v)))::BIGINT], 'max': v[-1]}}
               FROM (SELECT {v} AS v FROM durations))"""


def summary(con: duckdb.DuckDBPyConnection, path: str) -> None:
    con.sql(
        f"""
        CREATE TEMP TABLE snaps AS
        SELECT id, status, modified_at, created_at, events, {RANK_SQL.format(col="status")} AS rank
        FROM read_ndjson({_lit(path)}, columns = {SUMMARY_COLUMNS})
        """
    )
    con.sql(
        f"""
        CREATE TEMP TABLE durations AS
        WITH cur AS (
            SELECT id, arg_max(status, modified_at * 16 + rank) AS status,
                   arg_max(created_at, modified_at * 16 + rank) AS created_at
            FROM snaps GROUP BY id
        ),
        obs AS (
            SELECT id, modified_at AS t, status AS s FROM snaps
            UNION
            SELECT id, e.created_at, e.data.status FROM (SELECT id, unnest(events) AS e FROM snaps)
            WHERE e.name = 'status-updated' AND e.created_at IS NOT NULL AND e.data.status IS NOT NULL
        ),
        walk AS (
            SELECT id, t, s, lag(s) OVER w AS prev, row_number() OVER w AS i
            FROM (SELECT *, {RANK_SQL.format(col="s")} AS r FROM obs)
            WINDOW w AS (PARTITION BY id ORDER BY t, r, s)
        ),
        changes AS (
            SELECT id,
                   min(t) FILTER (WHERE s = 'RUNNING') AS running_at,
                   arg_max(s, i) AS last_status,
                   arg_max(t, i) AS last_change_at
            FROM walk WHERE prev IS DISTINCT FROM s GROUP BY id
        )
        SELECT cur.id, cur.status,
               running_at - cur.created_at AS queue_wait,
               CASE WHEN last_status IN {TERMINAL_SQL} THEN last_change_at - running_at END AS run_time,
               CASE WHEN last_status IN {TERMINAL_SQL} THEN last_change_at - cur.created_at END AS total
        FROM cur JOIN changes USING (id)
        """
    )
    by_status = dict(con.sql("SELECT status, count(*) FROM durations GROUP BY status ORDER BY status").fetchall())
    jobs, finished, succeeded, rate, queue_wait, run_time, total = con.sql(
        f"""
        SELECT count(*),
               count(*) FILTER (WHERE status IN {TERMINAL_SQL}),
               count(*) FILTER (WHERE status = 'SUCCESS'),
               round(count(*) FILTER (WHERE status = 'SUCCESS')
                     / nullif(count(*) FILTER (WHERE status IN {TERMINAL_SQL}), 0), 6),
               {_percentiles("queue_wait")}, {_percentiles("run_time")}, {_percentiles("total")}
        FROM durations
        """
    ).fetchall()[0]
    print(
        json.dumps(
            {
                "jobs": jobs,
                "by_status": by_status,
                "finished": finished,
                "succeeded": succeeded,
                "success_rate": rate,
                "queue_wait": queue_wait,
                "run_time": run_time,
                "total": total,
            }
        )
    )


def events(con: duckdb.DuckDBPyConnection, path: str, snapshots_only: bool) -> None:
    con.sql(
        f"""
        CREATE TEMP TABLE snaps AS
        SELECT id, status, modified_at, job_type, model, classifier_targets IS NOT NULL AS has_targets,
               {"NULL" if snapshots_only else "events"} AS events,
               {RANK_SQL.format(col="status")} AS rank
        FROM read_ndjson({_lit(path)}, columns = {EVENTS_COLUMNS})
        """
    )
    from_events = (
        ""
        if snapshots_only
        else """
            UNION
            SELECT id, e.created_at, e.data.status FROM (SELECT id, unnest(events) AS e FROM snaps)
            WHERE e.name = 'status-updated' AND e.created_at IS NOT NULL AND e.data.status IS NOT NULL"""
    )
    rows = con.sql(
        f"""
        WITH obs AS (
            SELECT id, modified_at AS t, status AS s FROM snaps{from_events}
        ),
        walk AS (
            SELECT id, t, s,
                   lag(s) OVER w AS prev,
                   row_number() OVER w AS i
            FROM (SELECT *, {RANK_SQL.format(col="s")} AS r FROM obs)
            WINDOW w AS (PARTITION BY id ORDER BY t, r, s)
        ),
        jobs AS (
            SELECT id,
                   arg_max(model, modified_at * 16 + rank) AS model,
                   coalesce(
                       arg_max(CASE job_type WHEN 'FT' THEN 'completion' ELSE job_type END,
                               (modified_at, rank, status, CASE job_type WHEN 'FT' THEN 'completion' ELSE job_type END))
                           FILTER (WHERE job_type IS NOT NULL),
                       CASE WHEN bool_or(has_targets) THEN 'classifier' ELSE 'completion' END
                   ) AS job_type
            FROM snaps GROUP BY id
        )
        SELECT walk.id, jobs.job_type, jobs.model, prev, s, t
        FROM walk JOIN jobs USING (id)
        WHERE prev IS DISTINCT FROM s
        ORDER BY t, walk.id, i
        """
    ).fetchall()
    out = sys.stdout
    dumps = json.dumps
    for job_id, job_type, model, prev, s, t in rows:
        out.write(
            dumps(
                {"job_id": job_id, "job_type": job_type, "model": model, "from_status": prev, "to_status": s, "at": t}
            )
        )
        out.write("\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task", choices=["summary", "events"])
    ap.add_argument("path")
    ap.add_argument("--snapshots-only", action="store_true", help="events: lag() over snapshot statuses only")
    ap.add_argument("--counts-only", action="store_true", help="summary: current status counted, no history")
    args = ap.parse_args()
    con = duckdb.connect()
    if args.task == "summary" and args.counts_only:
        summary_counts(con, args.path)
    elif args.task == "summary":
        summary(con, args.path)
    else:
        events(con, args.path, args.snapshots_only)


if __name__ == "__main__":
    main()
