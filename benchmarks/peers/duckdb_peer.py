"""DuckDB peer: ``read_ndjson`` with explicit columns and SQL (``arg_max``, ``lag()``).

    python duckdb_peer.py summary FILE               -> {"by_status": {...}}
    python duckdb_peer.py events FILE                -> one NDJSON change row per line
    python duckdb_peer.py events FILE --snapshots-only

``events`` computes jobstream's semantics: a job's observations are the distinct
``(modified_at, status)`` of its snapshots plus the ``(created_at, data.status)`` of its
``status-updated`` events, ordered by (time, lifecycle rank, status); a change is an
observation whose status differs from the previous one (``lag()``).  ``--snapshots-only``
is the simpler, common approximation: ``lag()`` over snapshot statuses only.
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

SUMMARY_COLUMNS = "{'id': 'VARCHAR', 'status': 'VARCHAR', 'modified_at': 'BIGINT'}"
EVENTS_COLUMNS = """{
    'id': 'VARCHAR', 'status': 'VARCHAR', 'modified_at': 'BIGINT', 'job_type': 'VARCHAR', 'model': 'VARCHAR',
    'classifier_targets': 'STRUCT(name VARCHAR)[]',
    'events': 'STRUCT(name VARCHAR, created_at BIGINT, data STRUCT(status VARCHAR))[]'
}"""


def _lit(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def summary(con: duckdb.DuckDBPyConnection, path: str) -> None:
    rows = con.sql(
        f"""
        SELECT status, count(*) FROM (
            SELECT arg_max(status, modified_at * 16 + {RANK_SQL.format(col="status")}) AS status
            FROM read_ndjson({_lit(path)}, columns = {SUMMARY_COLUMNS})
            GROUP BY id
        ) GROUP BY status ORDER BY status
        """
    ).fetchall()
    print(json.dumps({"by_status": dict(rows)}))


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
            dumps({"job_id": job_id, "job_type": job_type, "model": model, "from_status": prev, "to_status": s, "at": t})
        )
        out.write("\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task", choices=["summary", "events"])
    ap.add_argument("path")
    ap.add_argument("--snapshots-only", action="store_true", help="events: lag() over snapshot statuses only")
    args = ap.parse_args()
    con = duckdb.connect()
    if args.task == "summary":
        summary(con, args.path)
    else:
        events(con, args.path, args.snapshots_only)


if __name__ == "__main__":
    main()
