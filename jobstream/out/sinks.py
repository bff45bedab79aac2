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
import re
import sys
import tempfile
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any, BinaryIO

import msgspec
import orjson

from ..decode.decoder import Reject
from ..decode.step import ReadStats
from ..errors import OutputError
from ..io.sources import display_name
from ..reduce.reducer import CheckpointRow, JobState, StatusChange
from ..reduce.summary import Summary

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
    "atomic_file",
    "open_output",
    "Output",
    "RejectWriter",
    "format_for",
    "csv_safe_row",
    "printable",
    "fmt_secs",
    "EventWriter",
    "KEEP_COLUMNS",
    "STATUS_FIELDS",
    "CHECKPOINT_FIELDS",
    "checkpoint_row",
]

from ..columns import (  # noqa: E402  (re-exported: sinks is where users look for them)
    CHECKPOINT_FIELDS,
    DEFAULT_JOB_FIELDS,
    DURATION_FIELDS,
    EVENT_FIELDS,
    FORMATS,
    JOB_FIELDS,
    TIME_FIELDS,
    format_for,
)


def iso(ts: int | None) -> str | None:
    """Unix seconds as ISO-8601 UTC (``2024-07-19T16:12:29Z``).

    The decoder accepts only times from 1970 to the end of year 9999, which all render;
    anything else handed in by library code comes back as its number, never an error.
    """
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(ts)


# C0 and C1 controls, and the invisible characters that reorder or hide text (bidi overrides,
# zero-width characters): a job id or model name holding them must not drive the terminal.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


def printable(text: str) -> str:
    """*text* safe to show on a terminal: control and invisible characters as ``\\xNN``/``\\uNNNN``."""
    if text.isprintable():
        return text
    return _UNSAFE.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )


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


def checkpoint_row(
    row: CheckpointRow, fields: Sequence[str] = CHECKPOINT_FIELDS, *, iso_times: bool = False
) -> dict[str, Any]:
    """One checkpoint of one job as a flat dict."""
    return _row(row, fields, iso_times)


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
    if v is None:
        return ""
    if field in TIME_FIELDS and isinstance(v, int):
        return iso(v) or ""
    if field in DURATION_FIELDS and isinstance(v, int):
        return fmt_secs(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    return printable(_cell(v))


#: Columns a table keeps longest when the terminal is too narrow for all (the most important
#: first); the others are hidden right to left.  A file or a pipe always gets every column.
KEEP_COLUMNS = ("id", "job_id", "group", "status", "to_status", "at", "from_status", "model", "created_at", "step")
#: Columns holding a status: coloured on a terminal.
STATUS_FIELDS = frozenset({"status", "from_status", "to_status"})
_STATUS_WIDTH = len("FAILED_VALIDATION")  # the longest status but CANCELLATION_REQUESTED


def write_table(
    rows: Iterable[dict[str, Any]],
    fields: Sequence[str],
    out: IO[str],
    *,
    headers: bool = True,
    titles: dict[str, str] | None = None,
    color: str = "auto",
    width: int | None = None,
    numbers: Collection[str] = (),
    status_fields: Collection[str] = STATUS_FIELDS,
) -> int:
    """Aligned columns for people: numbers right-aligned, times as ISO-8601 UTC, durations as
    ``26.6m``, control characters escaped.  *titles* renames header cells.

    On a terminal (or with *width*) a line never exceeds the width: long text (ids, model
    names) is cut with ``…`` (statuses only past 17 characters); numbers, times and
    durations never are: when even the narrowest columns do not fit, the least important
    are hidden (``…`` at the end of
    the header, and a last line naming them).  *width* None means the terminal's when *out* is one, 0 no
    limit.  Statuses are coloured per *color* (``auto``: on a terminal unless ``NO_COLOR``
    is set; ``always``; ``never``).  *numbers* names fields holding numbers already
    formatted as text (``75.0%``), which are treated as numbers.
    """
    from .layout import Column, fit, render, screen_for

    screen = screen_for(out, color, width)
    cells: list[list[str]] = [[] for _ in fields]
    numeric = [True] * len(fields)
    count = 0
    for row in rows:
        for i, f in enumerate(fields):
            v = row[f]
            if v is not None and (
                not isinstance(v, _NUMERIC) or isinstance(v, bool) or f in TIME_FIELDS or f in DURATION_FIELDS
            ):
                numeric[i] = False
            cells[i].append(screen.text(_table_cell(f, v)))
        count += 1
    columns = []
    for i, f in enumerate(fields):
        title = screen.text(printable((titles or {}).get(f, f.upper()))) if headers else ""
        number = numeric[i] or f in numbers or f in DURATION_FIELDS
        status = f in status_fields  # cut only under pressure, and only past FAILED_VALIDATION's 17 characters
        columns.append(
            Column(
                title,
                cells[i],
                fixed=number or f in TIME_FIELDS,
                right=number,
                status=status,
                floor=_STATUS_WIDTH if status else 16,
            )
        )
    keep = [fields.index(f) for f in KEEP_COLUMNS if f in fields]
    widths, hidden = fit(columns, screen.width, keep=keep, marker=len(screen.ellipsis))
    marker = bool(hidden) and headers
    if headers:
        out.write(render(columns, widths, screen, None, marker=marker) + "\n")
    for r in range(count):
        out.write(render(columns, widths, screen, [c.cells[r] for c in columns]) + "\n")
    if marker:  # one line, cut to the width like any other
        from .layout import truncate

        names = ", ".join(printable(fields[i]) for i in hidden)
        note = f"{len(hidden)} more column(s) not shown (-f csv shows all): {names}"
        out.write(truncate(screen.text(note), screen.width or len(note), screen.ellipsis) + "\n")
    return count


def _write_wrapped(out: IO[str], text: str, width: int | None) -> None:
    """*text* as lines of at most *width* columns (one line when there is no limit)."""
    if width is None:
        out.write(text + "\n")
        return
    import textwrap

    for line in textwrap.wrap(text, max(width, 20), break_on_hyphens=False):
        out.write(line + "\n")


def write_rows(
    rows: Iterable[dict[str, Any]],
    fields: Sequence[str],
    fmt: str,
    out: IO[str],
    *,
    headers: bool = True,
    csv_safe: bool = False,
    color: str = "auto",
) -> int:
    """Write *rows* in format *fmt* (one of :data:`FORMATS`); returns the row count.

    *csv_safe* quotes CSV cells that a spreadsheet would run as a formula (see :func:`csv_safe_row`).
    *color* (``auto``, ``always``, ``never``) is for tables only: machine formats are never coloured.
    """
    if fmt == "table":
        return write_table(rows, fields, out, headers=headers, color=color)
    if fmt == "csv":
        return write_csv(map(csv_safe_row, rows) if csv_safe else rows, fields, out, headers=headers)
    if fmt == "ndjson":
        return write_ndjson(rows, out)
    if fmt == "json":
        return write_json(rows, out)
    raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")


# --------------------------------------------------------------------------- summary


def summary_dict(summary: Summary, stats: ReadStats | None = None) -> dict[str, Any]:
    """The summary as plain JSON-ready data (the documented ``summary --format json`` keys).

    With *stats*, what reading saw comes after ``jobs``: ``snapshots`` (job objects read),
    ``lines`` (non-blank lines) and ``rejected``.  Groups never carry read counts: lines are
    read per input, not per group.
    """
    data = summary.to_dict()
    if stats is None:
        return data
    out: dict[str, Any] = {"jobs": data.pop("jobs")}
    out.update(snapshots=stats.snapshots, lines=stats.lines, rejected=stats.rejected)
    out.update(data)
    return out


def fmt_secs(v: int | None) -> str:
    """A duration for people: ``45s``, ``26.6m``, ``3.8h`` (``-`` for none)."""
    if v is None:
        return "-"
    if v < 120:
        return f"{v}s"
    if v < 7200:
        return f"{v / 60:.1f}m"
    return f"{v / 3600:.1f}h"


def _rate(s: Summary) -> str:
    return f"{s.success_rate * 100:.1f}%" if s.success_rate is not None else "-"


def _cost(s: Summary) -> str:
    return ", ".join(f"{v:,.2f} {printable(k)}" for k, v in s.cost.items()) or "-"


#: The widest a summary bar gets (a terminal narrower than the table gets shorter bars).
BAR_WIDTH = 30


def _summary_lines(s: Summary, stats: ReadStats | None, headers: bool, screen: Any) -> Iterator[str]:
    """The summary as lines for people; the counts by status, job type and model with bars
    scaled to the largest count of each, all fitting ``screen.width``."""
    from .layout import bar, display_width, truncate

    width = screen.width
    yield from _field("jobs", str(s.jobs), width)
    if stats is not None:
        yield from _field(
            "snapshots", f"{stats.snapshots} read in {stats.lines} line(s) ({stats.rejected} rejected)", width
        )
    yield from _field("observations", str(s.observations), width)
    sections = (("by status", s.by_status), ("by job type", s.by_job_type), ("by model", s.by_model))
    names = {k: screen.text(printable(k)) for _, counts in sections for k in counts}
    label = max((display_width(n) for n in names.values()), default=0)
    digits = max((len(str(v)) for _, counts in sections for v in counts.values()), default=1)
    bars = BAR_WIDTH
    if width is not None:  # the bar gives way first, then long names are cut, then the bar goes
        fixed = 2 + 2 + digits + 2
        bars = min(BAR_WIDTH, width - fixed - label)
        if bars < 10:
            label = max(min(label, 12), width - fixed - 10)
            bars = min(BAR_WIDTH, width - fixed - label)
            if bars < 4:
                bars = 0
    for title, counts in sections:
        yield title
        top = max(counts.values(), default=0)
        for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            status = k if counts is s.by_status else None
            name = truncate(names[k], label, screen.ellipsis)
            fill = " " * (label - display_width(name))
            drawn = bar(v, top, bars, screen) if bars else ""
            line = f"  {screen.paint(name, status)}{fill}  {v:>{digits}}"
            yield f"{line}  {screen.paint(drawn, status)}" if drawn else line
    yield from _field("success rate", f"{_rate(s)} ({s.succeeded} of {s.finished} finished)", width)
    # the durations block: 55 columns, or 39 on a narrower screen (its numbers are never cut)
    name_w, num_w = (22, 8) if width is None or width >= 55 else (10, 7)
    head = f"{'p50':>{num_w}}{'p90':>{num_w}}{'max':>{num_w}}{'jobs':>{num_w - 1}}"
    yield f"{'durations':<{name_w + 2}}{head}" if headers else "durations"
    for name, p in (("queue wait", s.queue_wait), ("run time", s.run_time), ("total", s.total)):
        yield (
            f"  {name:<{name_w}}{fmt_secs(p.p50):>{num_w}}{fmt_secs(p.p90):>{num_w}}{fmt_secs(p.max):>{num_w}}"
            f"{p.count:>{num_w - 1}}"
        )
    yield from _field("trained tokens", f"{s.trained_tokens:,}", width)
    yield from _listed(f"{'cost':<16}", [f"{v:,.2f} {screen.text(printable(k))}" for k, v in s.cost.items()], width)
    yield from _field("newest", iso(s.newest) or "-", width)


def _field(key: str, value: str, width: int | None) -> Iterator[str]:
    """``key`` then *value* at column 17, the value wrapped between words to fit *width*."""
    head = f"{key:<16}"
    if width is None or len(head) + len(value) <= width:
        yield head + value
        return
    import textwrap

    lines = textwrap.wrap(value, max(width - len(head), 10), break_long_words=False, break_on_hyphens=False)
    for k, line in enumerate(lines or [""]):
        yield (head if k == 0 else " " * len(head)) + line


def _listed(head: str, items: list[str], width: int | None) -> Iterator[str]:
    """``head`` then *items* joined by ``, ``, wrapped between items to fit *width* (an item
    such as ``130.11 USD`` is never split)."""
    if not items:
        yield head + "-"
        return
    line = head
    for k, item in enumerate(items):
        text = item + ("," if k < len(items) - 1 else "")
        if width is not None and line != head and len(line) + len(text) > width:
            yield line.rstrip()
            line = " " * len(head)
        line += text + " "
    yield line.rstrip()


#: The columns of ``summary --by KEY -f table``: one row per group (the detail is in json/csv).
GROUP_TABLE_FIELDS = (
    "jobs",
    "finished",
    "success",
    "queue_p50",
    "queue_p90",
    "run_p50",
    "run_p90",
    "total_p90",
    "tokens",
    "cost",
)


def _group_row(key: str, s: Summary) -> dict[str, Any]:
    return {
        "group": key,
        "jobs": s.jobs,
        "finished": s.finished,
        "success": _rate(s),
        "queue_p50": fmt_secs(s.queue_wait.p50),
        "queue_p90": fmt_secs(s.queue_wait.p90),
        "run_p50": fmt_secs(s.run_time.p50),
        "run_p90": fmt_secs(s.run_time.p90),
        "total_p90": fmt_secs(s.total.p90),
        "tokens": f"{s.trained_tokens:,}",
        "cost": _cost(s),
    }


def write_summary(
    summary: Summary,
    fmt: str,
    out: IO[str],
    *,
    headers: bool = True,
    stats: ReadStats | None = None,
    color: str = "auto",
    width: int | None = None,
) -> None:
    """Write a summary as ``table`` (for people), ``json``/``ndjson`` or ``csv`` (a tidy long table).

    With ``--by`` the table is one row per group plus a total row; *headers* controls the
    header rows of tables and csv.  *stats* adds what reading saw.  The table fits the
    terminal and colours statuses as :func:`write_table` does (*color*, *width*), and draws
    bars of the jobs per status, job type and model.
    """
    if fmt in ("json", "ndjson"):
        data = summary_dict(summary, stats)
        opt = orjson.OPT_INDENT_2 if fmt == "json" else 0
        try:
            text = orjson.dumps(data, option=opt).decode()
        except TypeError:  # a total beyond 64 bits (trained tokens): msgspec writes any integer
            text = msgspec.json.encode(data).decode()
            text = msgspec.json.format(text, indent=2) if fmt == "json" else text
        out.write(text + "\n")
        return
    if fmt == "csv":
        write_csv(summary_rows(summary, stats), SUMMARY_CSV_FIELDS, out, headers=headers)
        return
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}: choose one of table, json, ndjson, csv")
    from .layout import screen_for

    screen = screen_for(out, color, width)
    if summary.group_by is None:
        for line in _summary_lines(summary, stats, headers, screen):
            out.write(line + "\n")
        return
    rows = [_group_row(k, g) for k, g in summary.groups.items()]
    rows.append(_group_row("(total)", summary))
    fields = ("group", *GROUP_TABLE_FIELDS)
    write_table(
        rows,
        fields,
        out,
        headers=headers,
        titles={"group": summary.group_by.upper()},
        color="always" if screen.color else "never",
        width=screen.width or 0,
        numbers=GROUP_TABLE_FIELDS,
        status_fields={"group"} if summary.group_by == "status" else (),
    )
    if stats is not None:
        _write_wrapped(
            out, f"{stats.snapshots} snapshot(s) read in {stats.lines} line(s), {stats.rejected} rejected", screen.width
        )


#: ``summary -f csv``: one row per group and figure (tidy), so no figure is left out.
SUMMARY_CSV_FIELDS = ("group", "figure", "key", "value")


def summary_rows(summary: Summary, stats: ReadStats | None = None) -> Iterator[dict[str, Any]]:
    """The summary as tidy rows ``{group, figure, key, value}``: ``group`` is ``(all)`` or a
    group's key; ``key`` names the status, job type, model, percentile or currency."""

    def figures(group: str, s: Summary, read: ReadStats | None) -> Iterator[dict[str, Any]]:
        def row(figure: str, value: Any, key: str = "") -> dict[str, Any]:
            return {"group": group, "figure": figure, "key": key, "value": value}

        yield row("jobs", s.jobs)
        if read is not None:
            yield row("snapshots", read.snapshots)
            yield row("lines", read.lines)
            yield row("rejected", read.rejected)
        yield row("observations", s.observations)
        for figure, counts in (("by_status", s.by_status), ("by_job_type", s.by_job_type), ("by_model", s.by_model)):
            for k, v in counts.items():
                yield row(figure, v, k)
        yield row("finished", s.finished)
        yield row("succeeded", s.succeeded)
        yield row("success_rate", s.success_rate)
        for figure, p in (("queue_wait", s.queue_wait), ("run_time", s.run_time), ("total", s.total)):
            for k in ("count", "p50", "p90", "max"):
                yield row(figure, getattr(p, k), k)
        yield row("trained_tokens", s.trained_tokens)
        for currency, amount in s.cost.items():
            yield row("cost", amount, currency)
        yield row("newest", s.newest)

    yield from figures("(all)", summary, stats)
    for key, group in summary.groups.items():
        yield from figures(key, group, None)


# --------------------------------------------------------------------------- output files


def new_file_mode(path: str) -> int:
    """Permission bits for replacing *path*: its own if it exists, else 0666 less the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str, *, protect: Iterable[str] = (), what: str = "output") -> Iterator[BinaryIO]:
    """Write *path* atomically and durably: a temp file beside it, fsync'd, renamed into place,
    and the directory fsync'd, so a crash or power cut leaves the old file or the new one.

    The temp file is removed if the block fails (an exception, Ctrl-C, or SIGTERM where the
    CLI turns it into an exception).  A FIFO or device at *path* is written in place.  Refuses
    to replace a file in *protect* (the inputs).  Errors name *path*, never the temp file.
    """
    shown = display_name(path)
    target = os.path.abspath(path)
    direct = target.startswith(("/dev/", "/proc/"))  # /dev/stdout, /dev/fd/N: write into what they name
    if not direct and os.path.islink(target):
        target = os.path.realpath(target)  # replace the file the link names, and keep the link
    for p in protect:
        try:
            if os.path.exists(target) and os.path.samefile(target, p):
                raise OutputError(f"refusing to overwrite input file {shown} ({what})")
        except OSError:
            continue
    if direct or (os.path.exists(target) and not os.path.isfile(target)):
        # a FIFO, a device, /dev/stdout: write into it; renaming over it would replace it
        try:
            into = open(target, "wb")  # noqa: SIM115 - closed by the with below; only open()'s errors are ours
        except OSError as exc:
            raise OutputError(f"cannot write {shown}: {exc.strerror}") from None
        with into:
            yield into
        return
    directory = os.path.dirname(target) or "."
    if not os.path.isdir(directory):
        raise OutputError(f"cannot write {shown}: no such directory {display_name(directory)}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".jobstream-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot write {shown}: {exc.strerror}") from None
    try:
        os.fchmod(fd, new_file_mode(target))  # mkstemp makes 0600; the result should look like any new file
        with os.fdopen(fd, "wb", buffering=1 << 16) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from None
        raise
    _fsync_dir(directory)


@contextlib.contextmanager
def atomic_output(path: str, *, protect: Iterable[str] = ()) -> Iterator[IO[str]]:
    """:func:`atomic_file` as UTF-8 text."""
    with atomic_file(path, protect=protect) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=False)
        try:
            yield text
            text.flush()
        finally:
            text.detach()


class RejectWriter:
    """Collects rejects: counts them, keeps the first, and writes them as NDJSON to *path*.

    The file is written atomically like ``-o`` (complete or absent, never half-written, even
    on a full disk); *append* (for ``tail``, which never ends by itself) appends and flushes
    each record instead, and says how many records got written if a write fails.
    """

    def __init__(self, path: str | None, *, append: bool = False, protect: Iterable[str] = ()) -> None:
        self.path = path
        self.count = 0
        self.written = 0
        self.first: Reject | None = None
        self._stack = contextlib.ExitStack()
        self._fh: BinaryIO | None = None
        if path is not None:
            if append:
                try:
                    self._fh = self._stack.enter_context(open(path, "ab"))  # noqa: SIM115 - self._stack closes it
                except OSError as exc:
                    raise OutputError(f"cannot write {display_name(path)}: {exc.strerror}") from None
            else:
                self._fh = self._stack.enter_context(atomic_file(path, protect=protect, what="--errors"))
        self._append = append

    def __call__(self, rej: Reject) -> None:
        self.count += 1
        if self.first is None:
            self.first = rej
        if self._fh is not None:
            try:
                self._fh.write(rej.to_json() + b"\n")
                if self._append:
                    self._fh.flush()
            except OSError as exc:
                raise OutputError(
                    f"cannot write {display_name(self.path or '')}: {exc.strerror} "
                    f"({self.written} reject record(s) written)"
                ) from None
            self.written += 1

    def __enter__(self) -> RejectWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.__exit__(*exc)


# --------------------------------------------------------------------------- output choice


@dataclass(frozen=True)
class Output:
    """Where and how to write: the output options every export shares, as one value.

    ``format`` None means the command's own default; ``path`` None (or ``-``) means stdout.
    """

    format: str | None = None
    path: str | None = None
    headers: bool = True
    iso: bool = False
    csv_safe: bool = False
    color: str = "auto"  # tables only: auto (a terminal, unless NO_COLOR), always, never


@contextlib.contextmanager
def open_output(
    output: Output, fmt: str, *, protect: Iterable[str] = (), stdout: IO[str] | None = None
) -> Iterator[IO[str]]:
    """The text stream to write *output* to: its file, written atomically, or *stdout*."""
    if output.path is None or output.path == "-":
        out = stdout if stdout is not None else sys.stdout
        yield out
        out.flush()
        return
    with atomic_output(output.path, protect=protect) as fh:
        yield fh


# Cells a spreadsheet would run as a formula (CSV injection): quoted with a leading ' by csv_safe.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_safe_row(row: dict[str, Any]) -> dict[str, Any]:
    """*row* with every text cell that starts like a formula prefixed by ``'``."""
    return {k: ("'" + v if isinstance(v, str) and v.startswith(_FORMULA) else v) for k, v in row.items()}


# --------------------------------------------------------------------------- live output


#: ``tail -f table``: each column's width, fixed before the first event arrives.
_TABLE_WIDTHS = {
    "job_id": 36,
    "job_type": 10,
    "model": 20,
    "from_status": _STATUS_WIDTH,
    "to_status": _STATUS_WIDTH,
    "at": 20,
}


class EventWriter:
    """Writes status changes one at a time, each line flushed (a sink for followers).

    ``table`` gives fixed-width columns (no waiting for all rows to align them), fitted to
    the terminal as :func:`write_table` fits them (*width*: None the terminal's when *out*
    is one, 0 no limit), statuses coloured per *color*; ``csv`` and ``ndjson`` one record
    per line, ``json`` an array closed by :meth:`close`.
    """

    def __init__(
        self,
        out: IO[str],
        fmt: str = "ndjson",
        *,
        headers: bool = True,
        iso_times: bool = False,
        color: str = "auto",
        width: int | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
        self.out = out
        self.fmt = fmt
        self.headers = headers
        self.iso_times = iso_times
        self.count = 0
        self._csv: Any = None
        self._table: Any = None
        if fmt == "table":
            from .layout import Column, fit, screen_for

            screen = screen_for(out, color, width)
            natural = dict(_TABLE_WIDTHS)
            if screen.width is not None:  # room permitting, CANCELLATION_REQUESTED whole
                natural.update(from_status=22, to_status=22)
            columns = [
                Column(
                    f.upper(),
                    [],
                    fixed=f == "at",
                    status=f in STATUS_FIELDS,
                    natural=natural[f],
                    floor=_STATUS_WIDTH if f in STATUS_FIELDS else 16,
                )
                for f in EVENT_FIELDS
            ]
            keep = [EVENT_FIELDS.index(f) for f in KEEP_COLUMNS if f in EVENT_FIELDS]
            widths, hidden = fit(columns, screen.width, keep=keep, marker=len(screen.ellipsis))
            self._table = (screen, columns, widths, bool(hidden))

    def start(self) -> None:
        """The header (table, csv) or the opening bracket (json)."""
        if self.fmt == "table" and self.headers:
            self._line(self._table_line(None))
        elif self.fmt == "csv":
            self._csv = csv.writer(self.out, lineterminator="\n")
            if self.headers:
                self._csv.writerow(EVENT_FIELDS)
                self.out.flush()
        elif self.fmt == "json":
            self.out.write("[")
            self.out.flush()

    def write(self, change: StatusChange) -> None:
        fmt = self.fmt
        if fmt == "ndjson":
            self._line(orjson.dumps(event_row(change, iso_times=self.iso_times)).decode())
        elif fmt == "table":
            row = {f: getattr(change, f) for f in EVENT_FIELDS}
            row["at"] = iso(change.at)
            self._line(self._table_line(row))
        elif fmt == "csv":
            row = event_row(change, iso_times=self.iso_times)
            self._csv.writerow(["" if row[f] is None else row[f] for f in EVENT_FIELDS])
            self.out.flush()
        else:
            sep = ",\n" if self.count else "\n"
            self.out.write(sep + orjson.dumps(event_row(change, iso_times=self.iso_times)).decode())
            self.out.flush()
        self.count += 1

    def close(self) -> None:
        """Close the json array (other formats need nothing)."""
        if self.fmt == "json":
            self.out.write("\n]\n" if self.count else "]\n")
            self.out.flush()

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _table_line(self, row: dict[str, Any] | None) -> str:
        """The header (*row* None) or one change, cut to the terminal (a file or pipe: never cut)."""
        from .layout import render

        screen, columns, widths, hidden = self._table
        cells = (
            None
            if row is None
            else [screen.text("" if row[f] is None else printable(str(row[f]))) for f in EVENT_FIELDS]
        )
        return render(columns, widths, screen, cells, marker=hidden, cut=screen.width is not None)
