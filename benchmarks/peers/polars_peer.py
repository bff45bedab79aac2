"""polars peer: ``scan_ndjson`` with an explicit schema, lazy queries.

    python polars_peer.py summary FILE   -> {"by_status": {...}}
    python polars_peer.py events FILE    -> one NDJSON change row per line

Same semantics as jobstream and the DuckDB peer: observations are the distinct
``(modified_at, status)`` of snapshots plus ``(created_at, data.status)`` of ``status-updated``
events, ordered by (time, lifecycle rank, status); a change is a status differing from the
previous observation's.
"""

from __future__ import annotations

import argparse
import json
import sys

import polars as pl

RANK = {
    "QUEUED": 0, "STARTED": 1, "VALIDATING": 2, "VALIDATED": 3, "RUNNING": 4,
    "CANCELLATION_REQUESTED": 6, "FAILED_VALIDATION": 7, "FAILED": 7, "SUCCESS": 7, "CANCELLED": 7,
}  # fmt: skip
UNKNOWN_RANK = 5

SUMMARY_SCHEMA = {"id": pl.String, "status": pl.String, "modified_at": pl.Int64}
EVENTS_SCHEMA = {
    **SUMMARY_SCHEMA,
    "job_type": pl.String,
    "model": pl.String,
    "classifier_targets": pl.List(pl.Struct({"name": pl.String})),
    "events": pl.List(pl.Struct({"name": pl.String, "created_at": pl.Int64, "data": pl.Struct({"status": pl.String})})),
}


def _rank(col: str) -> pl.Expr:
    return pl.col(col).replace_strict(RANK, default=UNKNOWN_RANK, return_dtype=pl.Int64)


def summary(path: str) -> None:
    df = (
        pl.scan_ndjson(path, schema=SUMMARY_SCHEMA)
        .with_columns(key=pl.col("modified_at") * 16 + _rank("status"))
        .group_by("id")
        .agg(pl.col("status").get(pl.col("key").arg_max()))
        .group_by("status")
        .len()
        .sort("status")
        .collect()
    )
    print(json.dumps({"by_status": dict(zip(df["status"].to_list(), df["len"].to_list(), strict=True))}))


def events(path: str) -> None:
    snaps = pl.scan_ndjson(path, schema=EVENTS_SCHEMA).with_columns(rank=_rank("status")).collect()
    obs_snap = snaps.select("id", t=pl.col("modified_at"), s=pl.col("status"))
    obs_event = (
        snaps.select("id", "events")
        .explode("events")
        .unnest("events")
        .filter(
            (pl.col("name") == "status-updated")
            & pl.col("created_at").is_not_null()
            & pl.col("data").struct.field("status").is_not_null()
        )
        .select("id", t=pl.col("created_at"), s=pl.col("data").struct.field("status"))
    )
    walk = (
        pl.concat([obs_snap, obs_event])
        .unique()
        .with_columns(r=_rank("s"))
        .sort("id", "t", "r", "s")
        .with_columns(prev=pl.col("s").shift(1).over("id"), i=pl.int_range(pl.len()).over("id"))
        .filter(pl.col("prev").ne_missing(pl.col("s")))
    )
    jt = pl.when(pl.col("job_type") == "FT").then(pl.lit("completion")).otherwise(pl.col("job_type"))
    jobs = (
        snaps.with_columns(key=pl.col("modified_at") * 16 + pl.col("rank"), jt=jt)
        .group_by("id")
        .agg(
            model=pl.col("model").get(pl.col("key").arg_max()),
            stated=pl.col("jt").sort_by("modified_at", "rank", "status", "jt").drop_nulls().last(),
            targets=pl.col("classifier_targets").is_not_null().any(),
        )
        .select(
            "id",
            "model",
            job_type=pl.coalesce(
                "stated", pl.when(pl.col("targets")).then(pl.lit("classifier")).otherwise(pl.lit("completion"))
            ),
        )
    )
    out = (
        walk.join(jobs, on="id")
        .sort("t", "id", "i")
        .select(
            job_id=pl.col("id"),
            job_type=pl.col("job_type"),
            model=pl.col("model"),
            from_status=pl.col("prev"),
            to_status=pl.col("s"),
            at=pl.col("t"),
        )
    )
    out.write_ndjson(sys.stdout.buffer)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task", choices=["summary", "events"])
    ap.add_argument("path")
    args = ap.parse_args()
    summary(args.path) if args.task == "summary" else events(args.path)


if __name__ == "__main__":
    main()
