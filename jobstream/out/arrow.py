"""Columnar output: job tables, status changes, checkpoints, durations and summaries as
Apache Arrow tables, and Parquet and Arrow IPC (Feather) files of them.

Tables are built column by column from the fold's Structs with an explicit schema, never
through JSON, so every column has a real type:

* times (``created_at``, ``at``, ``entered_at``, ...) are ``timestamp[s, tz=UTC]``.  Parquet
  has no seconds unit, so a Parquet file stores them as milliseconds (still UTC instants);
  Arrow IPC keeps seconds.
* durations (``queue_wait``, ``run_time``, ``total``, ``seconds``) are ``int64`` seconds, as
  in the json and csv outputs.  Arrow's ``duration`` type was not used: Parquet cannot store
  it, so DuckDB and other Parquet readers would see a bare integer anyway, while pyarrow
  and polars would see a duration: one meaning for every reader is better.
* statuses, job types, models and currencies are dictionary-encoded strings (``category``
  in pandas, ``Categorical`` in polars, ``VARCHAR`` in DuckDB).

pyarrow is an optional extra and is imported only when a function here is called:
``import jobstream`` never loads it.  Without it, calls raise :class:`ImportError` naming
``pip install 'jobstream[parquet]'``.
"""

from __future__ import annotations

import decimal
import os
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any, Union

from ..reduce.reducer import CheckpointRow, JobState, JobTable, StatusChange
from ..reduce.summary import Summary

if TYPE_CHECKING:
    import pyarrow

__all__ = [
    "WHATS",
    "FILE_FORMATS",
    "to_arrow",
    "jobs_to_arrow",
    "events_to_arrow",
    "checkpoints_to_arrow",
    "durations_to_arrow",
    "summary_to_arrow",
    "write_parquet",
    "write_feather",
    "write_arrow_file",
    "duration_rows",
    "JOB_COLUMNS",
    "to_pandas",
    "to_polars",
]

#: What :func:`to_arrow` can build.
WHATS = ("jobs", "events", "checkpoints", "durations", "summary")
#: File formats of :func:`write_arrow_file` (``-f parquet|arrow``).
FILE_FORMATS = ("parquet", "arrow")

PARQUET_HINT = "pip install 'jobstream[parquet]'"

Where = Union[str, "os.PathLike[str]", IO[bytes]]


def _pa() -> Any:
    """pyarrow, or an ImportError that names the extra to install."""
    try:
        import pyarrow
    except ImportError as exc:
        raise ImportError(f"Parquet and Arrow output need pyarrow: {PARQUET_HINT}") from exc
    return pyarrow


# --------------------------------------------------------------------------- schemas


def _schema(pa: Any, what: str) -> Any:
    """The explicit schema of each table: the one place column names and types are set."""
    ts, cat = pa.timestamp("s", tz="UTC"), pa.dictionary(pa.int32(), pa.string())
    s, i64, f64 = pa.string(), pa.int64(), pa.float64()
    if what == "jobs":
        fields = [
            ("id", s),
            ("job_type", cat),
            ("model", cat),
            ("status", cat),
            ("created_at", ts),
            ("modified_at", ts),
            ("first_seen", ts),
            ("last_seen", ts),
            ("observations", i64),
            ("fine_tuned_model", s),
            ("trained_tokens", i64),
            ("cost", f64),
            ("cost_currency", cat),
            ("checkpoint_step", i64),
            ("checkpoint_at", ts),
            ("train_loss", f64),
            ("valid_loss", f64),
            ("valid_mean_token_accuracy", f64),
            ("integrations", pa.list_(s)),
            ("queue_wait", i64),
            ("run_time", i64),
            ("total", i64),
        ]
    elif what == "events":
        fields = [
            ("job_id", s),
            ("job_type", cat),
            ("model", cat),
            ("from_status", cat),
            ("to_status", cat),
            ("at", ts),
        ]
    elif what == "checkpoints":
        fields = [
            ("job_id", s),
            ("step", i64),
            ("created_at", ts),
            ("train_loss", f64),
            ("valid_loss", f64),
            ("valid_mean_token_accuracy", f64),
        ]
    elif what == "durations":
        fields = [
            ("job_id", s),
            ("job_type", cat),
            ("model", cat),
            ("status", cat),
            ("seconds", i64),
            ("entered_at", ts),
            ("visits", i64),
        ]
    elif what == "summary":
        pct = [
            (f"{name}_{k}", i64) for name in ("queue_wait", "run_time", "total") for k in ("count", "p50", "p90", "max")
        ]
        fields = [
            ("group_by", cat),
            ("group", s),
            ("jobs", i64),
            ("observations", i64),
            ("finished", i64),
            # a sum of int64 values: decimal, so no total overflows (DuckDB reads DECIMAL(38,0))
            ("succeeded", i64),
            ("success_rate", f64),
            *pct,
            ("trained_tokens", pa.decimal128(38, 0)),
            ("cost", pa.map_(s, f64)),
            ("by_status", pa.map_(s, i64)),
            ("newest", ts),
        ]
    else:
        raise ValueError(f"cannot build an Arrow table of {what!r}: choose one of {', '.join(WHATS)}")
    return pa.schema([pa.field(name, typ) for name, typ in fields])


def _build(pa: Any, what: str, columns: dict[str, list[Any]]) -> pyarrow.Table:
    schema = _schema(pa, what)
    arrays = [pa.array(columns[f.name], type=f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


# --------------------------------------------------------------------------- tables

#: The columns of ``jobs``: every scalar field of JobState, and ``integrations``.
JOB_COLUMNS = tuple(_n for _n in JobState.__struct_fields__ if _n not in ("history", "changes", "durations"))


def jobs_to_arrow(jobs: Iterable[JobState]) -> pyarrow.Table:
    """One row per job: every scalar field of :class:`JobState`, and ``integrations`` as ``list<string>``."""
    pa = _pa()
    columns: dict[str, list[Any]] = {name: [] for name in JOB_COLUMNS}
    appends = [(columns[name].append, name) for name in JOB_COLUMNS]
    for job in jobs:
        for append, name in appends:
            append(getattr(job, name))
    return _build(pa, "jobs", columns)


def events_to_arrow(changes: Iterable[StatusChange]) -> pyarrow.Table:
    """One row per status change, in the order given (``JobTable.events()``: by time, then job)."""
    pa = _pa()
    names = StatusChange.__struct_fields__
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for ch in changes:
        for name in names:
            columns[name].append(getattr(ch, name))
    return _build(pa, "events", columns)


def checkpoints_to_arrow(rows: Iterable[CheckpointRow]) -> pyarrow.Table:
    """One row per job and checkpoint step (``JobTable.checkpoints()``): the training curves."""
    pa = _pa()
    columns: dict[str, list[Any]] = {
        "job_id": [],
        "step": [],
        "created_at": [],
        "train_loss": [],
        "valid_loss": [],
        "valid_mean_token_accuracy": [],
    }
    for r in rows:
        columns["job_id"].append(r.job_id)
        columns["step"].append(r.step)
        columns["created_at"].append(r.created_at)
        columns["train_loss"].append(r.train_loss)
        columns["valid_loss"].append(r.valid_loss)
        columns["valid_mean_token_accuracy"].append(r.valid_mean_token_accuracy)
    return _build(pa, "checkpoints", columns)


def duration_rows(job: JobState) -> list[tuple[str, int, int, int]]:
    """``(status, seconds, entered_at, visits)`` for each status the job spent time in.

    ``seconds`` is ``JobState.durations`` (every visit added up); ``entered_at`` is the first
    time the job entered the status and ``visits`` how often it did (from ``changes``).
    Statuses in the order first entered.  A terminal status has no duration and no row.
    """
    first: dict[str, int] = {}
    visits: dict[str, int] = {}
    for ch in job.changes:
        first.setdefault(ch.to_status, ch.at)
        visits[ch.to_status] = visits.get(ch.to_status, 0) + 1
    order = sorted(job.durations, key=lambda s: (first.get(s, job.created_at), s))
    return [(s, job.durations[s], first.get(s, job.created_at), visits.get(s, 0)) for s in order]


def durations_to_arrow(jobs: Iterable[JobState]) -> pyarrow.Table:
    """A long table: one row per job and status it spent time in (``JobState.durations``).

    Columns ``job_id, job_type, model, status, seconds, entered_at, visits``; see
    :func:`duration_rows`.  Jobs need their ``changes`` (not ``jobs(light=True)``) for
    ``entered_at`` and ``visits``.
    """
    pa = _pa()
    columns: dict[str, list[Any]] = {
        k: [] for k in ("job_id", "job_type", "model", "status", "seconds", "entered_at", "visits")
    }
    for job in jobs:
        for status, seconds, entered, n in duration_rows(job):
            columns["job_id"].append(job.id)
            columns["job_type"].append(job.job_type)
            columns["model"].append(job.model)
            columns["status"].append(status)
            columns["seconds"].append(seconds)
            columns["entered_at"].append(entered)
            columns["visits"].append(n)
    return _build(pa, "durations", columns)


def summary_to_arrow(summary: Summary) -> pyarrow.Table:
    """One row per group of a grouped summary, then the total row, whose ``group`` is null
    (as SQL's ``GROUP BY ROLLUP`` marks it); an ungrouped summary is the total row alone.

    Columns: ``group_by`` (the key grouped on, null when ungrouped), ``group``, ``jobs``,
    ``observations``, ``finished``, ``succeeded``, ``success_rate``, then
    ``{queue_wait,run_time,total}_{count,p50,p90,max}`` (int64 seconds), ``trained_tokens``
    (decimal(38, 0): a total of 64-bit counts),
    ``cost`` (map currency -> total), ``by_status`` (map status -> jobs) and ``newest``
    (timestamp of the newest ``modified_at``).
    """
    pa = _pa()
    schema = _schema(pa, "summary")
    columns: dict[str, list[Any]] = {f.name: [] for f in schema}
    rows: list[tuple[str | None, Summary]] = list(summary.groups.items())
    rows.append((None, summary))
    for key, s in rows:
        columns["group_by"].append(summary.group_by)
        columns["group"].append(key)
        columns["jobs"].append(s.jobs)
        columns["observations"].append(s.observations)
        columns["finished"].append(s.finished)
        columns["succeeded"].append(s.succeeded)
        columns["success_rate"].append(s.success_rate)
        for name in ("queue_wait", "run_time", "total"):
            p = getattr(s, name)
            for k in ("count", "p50", "p90", "max"):
                columns[f"{name}_{k}"].append(getattr(p, k))
        columns["trained_tokens"].append(decimal.Decimal(s.trained_tokens))
        columns["cost"].append(list(s.cost.items()))
        columns["by_status"].append(list(s.by_status.items()))
        columns["newest"].append(s.newest)
    return _build(pa, "summary", columns)


def to_arrow(
    table: JobTable, what: str = "jobs", jobs: Iterable[JobState] | None = None, *, by: str | None = None
) -> pyarrow.Table:
    """An Arrow table of *what* (one of :data:`WHATS`) over every job of *table*, or over *jobs*.

    *jobs* is a selection (``JobState`` values from ``table.jobs()``, filtered); *by* groups
    the ``summary`` (``model``, ``job_type``, ``status``, ``day``).
    """
    if what not in WHATS:
        raise ValueError(f"cannot build an Arrow table of {what!r}: choose one of {', '.join(WHATS)}")
    if by is not None and what != "summary":
        raise ValueError(f"'by' groups only the summary, not {what!r}")
    if what == "summary":
        return summary_to_arrow(table.summary(by=by, jobs=jobs))
    if what == "events":
        return events_to_arrow(table.events(jobs))
    if what == "checkpoints":
        return checkpoints_to_arrow(table.checkpoints(jobs))
    states = table.jobs(light=what == "jobs") if jobs is None else jobs
    if what == "jobs":
        return jobs_to_arrow(states)
    return durations_to_arrow(states)


# --------------------------------------------------------------------------- files


def _write(where: Where, write: Any, protect: Iterable[str]) -> None:
    if isinstance(where, (str, os.PathLike)):
        from .sinks import atomic_file

        with atomic_file(os.fspath(where), protect=protect) as fh:
            write(fh)
    else:
        write(where)


def write_parquet(data: pyarrow.Table, where: Where, *, compression: str = "zstd", protect: Iterable[str] = ()) -> None:
    """Write *data* as a Parquet file to a path (atomically, like ``-o``: ``sinks.atomic_file``,
    raising :class:`~jobstream.errors.OutputError` for a path in *protect* or an unwritable
    one) or to a binary file object."""
    _pa()
    import pyarrow.parquet as pq

    _write(where, lambda fh: pq.write_table(data, fh, compression=compression), protect)


def write_feather(
    data: pyarrow.Table, where: Where, *, compression: str | None = "zstd", protect: Iterable[str] = ()
) -> None:
    """Write *data* as an Arrow IPC file (Feather v2; ``-f arrow``) to a path (atomically) or a
    binary file object.  *compression* ``zstd``, ``lz4`` or None (readable without codecs)."""
    pa = _pa()

    def write(fh: IO[bytes]) -> None:
        options = pa.ipc.IpcWriteOptions(compression=compression)
        with pa.ipc.new_file(fh, data.schema, options=options) as writer:
            writer.write_table(data)

    _write(where, write, protect)


def write_arrow_file(data: pyarrow.Table, fmt: str, where: Where, *, protect: Iterable[str] = ()) -> None:
    """Write *data* in *fmt*, one of :data:`FILE_FORMATS` (``parquet`` or ``arrow``)."""
    if fmt == "parquet":
        write_parquet(data, where, protect=protect)
    elif fmt == "arrow":
        write_feather(data, where, protect=protect)
    else:
        raise ValueError(f"unknown file format {fmt!r}: choose one of {', '.join(FILE_FORMATS)}")


# --------------------------------------------------------------------------- dataframes


def to_pandas(data: pyarrow.Table) -> Any:
    """A pandas DataFrame of an Arrow table (through pyarrow; times as UTC datetimes)."""
    try:
        import pandas  # noqa: F401
    except ImportError as exc:
        raise ImportError("to_pandas needs pandas: pip install pandas") from exc
    return data.to_pandas()


def to_polars(data: pyarrow.Table) -> Any:
    """A polars DataFrame of an Arrow table (``polars.from_arrow``)."""
    try:
        import polars
    except ImportError as exc:
        raise ImportError("to_polars needs polars: pip install polars") from exc
    return polars.from_arrow(data)
