"""Sinks: write job tables, status changes and summaries as table, JSON, NDJSON or CSV.

Kept in the library (not the CLI) so Python users get the same writers.  Timestamps are
unix seconds in machine formats (``iso=True`` gives ISO-8601 UTC) and ISO-8601 UTC in the
human ``table`` format.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from datetime import datetime, timezone
from typing import IO, Any, Iterable, Iterator, Optional, Sequence

import msgspec
import orjson

from .reducer import JobState, StatusChange, Summary

__all__ = [
    "FORMATS",
    "JOB_FIELDS",
    "DEFAULT_JOB_FIELDS",
    "EVENT_FIELDS",
    "TIME_FIELDS",
    "iso",
    "job_row",
    "event_row",
    "write_rows",
    "write_table",
    "write_csv",
    "write_json",
    "write_ndjson",
    "write_summary",
    "atomic_output",
]

FORMATS = ("table", "json", "ndjson", "csv")

#: Every column ``jobs --fields`` can pick, in display order.
JOB_FIELDS = (
    "id",
    "job_type",
    "model",
    "status",
    "created_at",
    "modified_at",
    "first_seen",
    "last_seen",
    "snapshots",
    "fine_tuned_model",
    "trained_tokens",
    "cost",
    "cost_currency",
    "checkpoint_step",
    "checkpoint_at",
    "train_loss",
    "valid_loss",
    "valid_mean_token_accuracy",
    "integrations",
    "queue_wait",
    "run_time",
    "total",
)
DEFAULT_JOB_FIELDS = (
    "id",
    "job_type",
    "model",
    "status",
    "created_at",
    "modified_at",
    "fine_tuned_model",
    "trained_tokens",
    "cost",
    "cost_currency",
    "checkpoint_step",
    "train_loss",
    "valid_loss",
    "valid_mean_token_accuracy",
)
EVENT_FIELDS = ("job_id", "job_type", "model", "from_status", "to_status", "at")
TIME_FIELDS = frozenset({"created_at", "modified_at", "first_seen", "last_seen", "checkpoint_at", "at"})


def iso(ts: Optional[int]) -> Optional[str]:
    """Unix seconds as ISO-8601 UTC (``2024-07-19T16:12:29Z``)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _row(obj: Any, fields: Sequence[str], iso_times: bool) -> dict[str, Any]:
    row = {}
    for f in fields:
        v = getattr(obj, f)
        if iso_times and f in TIME_FIELDS:
            v = iso(v)
        row[f] = v
    return row


def job_row(job: JobState, fields: Sequence[str] = DEFAULT_JOB_FIELDS, *, iso_times: bool = False) -> dict[str, Any]:
    """One job as a flat dict of the chosen fields."""
    return _row(job, fields, iso_times)


def event_row(change: StatusChange, fields: Sequence[str] = EVENT_FIELDS, *, iso_times: bool = False) -> dict[str, Any]:
    """One status change as a flat dict."""
    return _row(change, fields, iso_times)


# --------------------------------------------------------------------------- writers


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        return ";".join(str(x) for x in v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def write_ndjson(rows: Iterable[dict[str, Any]], out: IO[str], *, flush: bool = False) -> int:
    """One JSON object per line; *flush* after each (for followers)."""
    n = 0
    for row in rows:
        out.write(orjson.dumps(row).decode())
        out.write("\n")
        if flush:
            out.flush()
        n += 1
    return n


def write_json(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """A JSON array, one object per line inside it (streams: never builds the whole text)."""
    n = 0
    out.write("[")
    for row in rows:
        out.write(",\n" if n else "\n")
        out.write(orjson.dumps(row).decode())
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def write_csv(rows: Iterable[dict[str, Any]], fields: Sequence[str], out: IO[str], *, headers: bool = True) -> int:
    """RFC 4180 CSV; lists joined with ``;``; None as the empty cell."""
    w = csv.writer(out, lineterminator="\n")
    if headers:
        w.writerow(fields)
    n = 0
    for row in rows:
        w.writerow([_cell(row[f]) for f in fields])
        n += 1
    return n


_NUMERIC = (int, float)


def _table_cell(field: str, v: Any) -> str:
    if field in TIME_FIELDS and isinstance(v, int):
        return iso(v) or ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return _cell(v)


def write_table(
    rows: Iterable[dict[str, Any]], fields: Sequence[str], out: IO[str], *, headers: bool = True
) -> int:
    """Aligned columns for people: numbers right-aligned, times as ISO-8601 UTC."""
    cells: list[list[str]] = []
    numeric = [True] * len(fields)
    for row in rows:
        line = []
        for i, f in enumerate(fields):
            v = row[f]
            if v is not None and (not isinstance(v, _NUMERIC) or isinstance(v, bool) or f in TIME_FIELDS):
                numeric[i] = False
            line.append(_table_cell(f, v))
        cells.append(line)
    head = [f.upper() for f in fields]
    widths = [len(h) if headers else 0 for h in head]
    for line in cells:
        for i, c in enumerate(line):
            if len(c) > widths[i]:
                widths[i] = len(c)

    def fmt(line: list[str]) -> str:
        parts = [c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i]) for i, c in enumerate(line)]
        return "  ".join(parts).rstrip()

    if headers:
        out.write(fmt(head) + "\n")
    for line in cells:
        out.write(fmt(line) + "\n")
    return len(cells)


def write_rows(
    rows: Iterable[dict[str, Any]],
    fields: Sequence[str],
    fmt: str,
    out: IO[str],
    *,
    headers: bool = True,
) -> int:
    """Write *rows* in format *fmt* (one of :data:`FORMATS`); returns the row count."""
    if fmt == "table":
        return write_table(rows, fields, out, headers=headers)
    if fmt == "csv":
        return write_csv(rows, fields, out, headers=headers)
    if fmt == "ndjson":
        return write_ndjson(rows, out)
    if fmt == "json":
        return write_json(rows, out)
    raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")


# --------------------------------------------------------------------------- summary


def summary_dict(summary: Summary) -> dict[str, Any]:
    """The summary as plain JSON-ready data (the documented ``summary --format json`` keys)."""
    out: dict[str, Any] = msgspec.to_builtins(summary)
    if summary.group_by is None:
        out.pop("groups", None)
        out.pop("group_by", None)
    for group in out.get("groups", {}).values():
        # lines are read per input, not per group: a group's would always say 0
        for key in ("groups", "group_by", "lines", "rejected"):
            group.pop(key, None)
    return out


def _fmt_secs(v: Optional[int]) -> str:
    if v is None:
        return "-"
    if v < 120:
        return f"{v}s"
    if v < 7200:
        return f"{v / 60:.1f}m"
    return f"{v / 3600:.1f}h"


def _summary_lines(s: Summary, indent: str = "") -> Iterator[str]:
    rate = f"{s.success_rate * 100:.1f}%" if s.success_rate is not None else "-"
    yield f"{indent}jobs            {s.jobs}"
    yield f"{indent}snapshots       {s.snapshots}"
    for title, counts in (("by status", s.by_status), ("by job type", s.by_job_type), ("by model", s.by_model)):
        yield f"{indent}{title}"
        width = max((len(k) for k in counts), default=0)
        for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            yield f"{indent}  {k.ljust(width)}  {v:>7}"
    yield f"{indent}success rate    {rate} ({s.succeeded} of {s.finished} finished)"
    yield f"{indent}durations       {'':9}{'p50':>8}{'p90':>8}{'max':>8}{'jobs':>7}"
    for name, p in (("queue wait", s.queue_wait), ("run time", s.run_time), ("total", s.total)):
        yield f"{indent}  {name:<22}{_fmt_secs(p.p50):>8}{_fmt_secs(p.p90):>8}{_fmt_secs(p.max):>8}{p.count:>7}"
    yield f"{indent}trained tokens  {s.trained_tokens:,}"
    cost = ", ".join(f"{v:,.2f} {k}" for k, v in s.cost.items()) or "-"
    yield f"{indent}cost            {cost}"


def write_summary(summary: Summary, fmt: str, out: IO[str], *, headers: bool = True) -> None:
    """Write a summary as ``table`` (a report for people), ``json``/``ndjson`` or ``csv`` (*headers*: its header row)."""
    if fmt in ("json", "ndjson"):
        data = summary_dict(summary)
        opt = orjson.OPT_INDENT_2 if fmt == "json" else 0
        out.write(orjson.dumps(data, option=opt).decode() + "\n")
        return
    if fmt == "csv":
        _write_summary_csv(summary, out, headers)
        return
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}")
    lines = list(_summary_lines(summary))
    lines.insert(2, f"lines read      {summary.lines} ({summary.rejected} rejected)")
    for line in lines:
        out.write(line + "\n")
    for key, group in summary.groups.items():
        out.write(f"\n{summary.group_by} = {key}\n")
        for line in _summary_lines(group, "  "):
            out.write(line + "\n")


SUMMARY_CSV_FIELDS = (
    "group",
    "jobs",
    "snapshots",
    "finished",
    "succeeded",
    "success_rate",
    "queue_wait_p50",
    "queue_wait_p90",
    "run_time_p50",
    "run_time_p90",
    "total_p50",
    "total_p90",
    "trained_tokens",
)


def _write_summary_csv(summary: Summary, out: IO[str], headers: bool = True) -> None:
    def flat(key: str, s: Summary) -> dict[str, Any]:
        return {
            "group": key,
            "jobs": s.jobs,
            "snapshots": s.snapshots,
            "finished": s.finished,
            "succeeded": s.succeeded,
            "success_rate": s.success_rate,
            "queue_wait_p50": s.queue_wait.p50,
            "queue_wait_p90": s.queue_wait.p90,
            "run_time_p50": s.run_time.p50,
            "run_time_p90": s.run_time.p90,
            "total_p50": s.total.p50,
            "total_p90": s.total.p90,
            "trained_tokens": s.trained_tokens,
        }

    rows = [flat("(all)", summary)] + [flat(k, g) for k, g in summary.groups.items()]
    write_csv(rows, SUMMARY_CSV_FIELDS, out, headers=headers)


# --------------------------------------------------------------------------- output files


def new_file_mode(path: str) -> int:
    """Permission bits for replacing *path*: its own if it exists, else 0666 less the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


@contextlib.contextmanager
def atomic_output(path: str, *, protect: Iterable[str] = ()) -> Iterator[IO[str]]:
    """Write text to *path* atomically: a temp file beside it, renamed into place on success.

    Refuses to replace any file in *protect* (the inputs).
    """
    target = os.path.abspath(path)
    for p in protect:
        try:
            if os.path.exists(target) and os.path.samefile(target, p):
                raise ValueError(f"refusing to overwrite input file {path}")
        except OSError:
            continue
    if os.path.exists(target) and not os.path.isfile(target):
        # a FIFO, a device, /dev/stdout: write into it; renaming over it would replace it
        with open(target, "w", encoding="utf-8", newline="") as direct:
            yield direct
        return
    directory = os.path.dirname(target) or "."
    if not os.path.isdir(directory):
        raise ValueError(f"cannot write {path}: no such directory {directory}")
    fd, tmp = tempfile.mkstemp(prefix=".jobstream-", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, new_file_mode(target))  # mkstemp makes 0600; the result should look like any new file
        with io.open(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
