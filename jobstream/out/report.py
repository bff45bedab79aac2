"""A one-file HTML report of a job log, and the same charts as PNG or SVG files.

The report is plain HTML with the charts inline as SVG: no script, no network, no fonts to
fetch, so it opens anywhere (a browser, a wiki attachment, a mail) years later.  The
charts are drawn with matplotlib (the optional extra ``jobstream[report]``), which is
imported only when a function here is called:

* **timeline**: one bar per job, newest first, a segment per status from
  ``JobState.changes``: waiting (queued, validating) in greys and blues, running coloured
  by how the job ended, a mark where it ended.  Pages of :data:`PAGE_SIZE` jobs, each a
  ``<details>`` block, so thousands of jobs stay readable; the newest page is open.
* **finished per day by outcome**: stacked bars (per week when the log spans over
  :data:`WEEKLY_AFTER_DAYS` days).
* **queue wait and run time per model**: box plots on a log scale.
* **trained tokens and cost per model**.
* **training curves**: train and validation loss per step (``JobTable.checkpoints()``) of the
  newest jobs shown that have at least two checkpoints.
* **summary**: the figures of ``JobTable.summary(by="model")`` as a table.

Job ids, models and statuses come from untrusted logs: every one is HTML-escaped in the
page, and in the charts drawn as plain text (matplotlib escapes SVG text; ``$`` is escaped
so a name is never read as math, control characters are shown as ``\\xNN``).
"""

from __future__ import annotations

import html
import io
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypedDict

from ..decode.models import TERMINAL_STATUSES
from ..decode.step import ReadStats
from ..errors import OutputError
from ..reduce.reducer import CheckpointRow, JobState, JobTable
from ..reduce.summary import Summary
from .sinks import atomic_file, atomic_output, fmt_secs, iso, printable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "write_report",
    "render_report",
    "write_charts",
    "chart_figures",
    "require_matplotlib",
    "CHART_FORMATS",
    "PAGE_SIZE",
]

REPORT_HINT = "pip install 'jobstream[report]'"
#: Formats of :func:`write_charts`.
CHART_FORMATS = ("png", "svg")
#: Jobs per timeline page.
PAGE_SIZE = 100
#: Finished jobs are counted per week, not per day, when the log spans more days than this.
WEEKLY_AFTER_DAYS = 180
#: A timeline page is drawn in calendar time unless it spans more than this many typical job
#: lengths (bars would be slivers); then each job is drawn from its creation.
ALIGN_AFTER = 25

# Colours (colour-blind-safe Tableau 10 subset): outcome first, then the waiting states.
OUTCOME_COLOURS = {
    "SUCCESS": "#59a14f",
    "FAILED": "#e15759",
    "FAILED_VALIDATION": "#f28e2b",
    "CANCELLED": "#9c755f",
    "open": "#4e79a7",
}
WAITING_COLOURS = {"QUEUED": "#c9c9c9", "STARTED": "#c9c9c9", "VALIDATING": "#a0cbe8", "VALIDATED": "#a0cbe8"}
OUTCOME_LABELS = {
    "SUCCESS": "succeeded",
    "FAILED": "failed",
    "FAILED_VALIDATION": "failed validation",
    "CANCELLED": "cancelled",
    "open": "still open",
}
_OTHER_TERMINAL = "#bab0ac"
_LEGEND = {
    "SUCCESS": "ran → succeeded",
    "FAILED": "ran → failed",
    "FAILED_VALIDATION": "failed validation",
    "CANCELLED": "ran → cancelled",
    "open": "running (open)",
}


def require_matplotlib() -> Any:
    """matplotlib, or an ImportError naming the extra that brings it (checked before any reading)."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(f"the report and charts need matplotlib: {REPORT_HINT}") from exc
    return matplotlib


def _rc() -> dict[str, Any]:
    return {
        "svg.fonttype": "none",  # text as <text>: smaller files, selectable, searchable
        "svg.hashsalt": None,
        # short lists: matplotlib repeats them on every text element of an SVG
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"],
        "font.monospace": ["DejaVu Sans Mono", "Liberation Mono", "Courier New"],
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 10,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "legend.frameon": False,
        "figure.dpi": 100,
    }


# --------------------------------------------------------------------------- helpers


def _text(value: str | None, limit: int = 40) -> str:
    """Untrusted text made safe for a chart label: printable, no math, not too long."""
    s = printable("(none)" if value is None else value)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s.replace("$", r"\$")


def outcome(job: JobState) -> str:
    """``SUCCESS``, ``FAILED``, ``FAILED_VALIDATION``, ``CANCELLED``, another terminal status, or ``open``."""
    return job.status if job.status in TERMINAL_STATUSES else "open"


def _outcome_colour(key: str) -> str:
    return OUTCOME_COLOURS.get(key, _OTHER_TERMINAL)


def _end(job: JobState) -> int:
    return job.changes[-1].at if job.changes and job.status in TERMINAL_STATUSES else job.last_seen


def _segments(job: JobState) -> list[tuple[int, int, str]]:
    """``(start, end, status)`` per status the job was in (the terminal one has no length)."""
    ch = job.changes
    segs = [(a.at, b.at, a.to_status) for a, b in zip(ch, ch[1:], strict=False)]  # each change with the next
    if ch and ch[-1].to_status not in TERMINAL_STATUSES:
        segs.append((ch[-1].at, max(job.last_seen, ch[-1].at), ch[-1].to_status))
    return segs


def _num(ts: float) -> float:
    """Unix seconds as matplotlib's date number (days since 1970)."""
    return ts / 86400.0


_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
#: Ticks of the log-scaled duration axes: 1 s, 10 s, 1 min, 10 min, 1 h, 10 h, 1 day, 10 days.
_LOG_TICKS = (1, 10, 60, 600, 3600, 36000, 86400, 864000)


def _duration_ticks(top: float, most: int = 8) -> list[float]:
    """Round durations from 0 to *top*: the smallest step giving at most *most* ticks."""
    step = next((st for st in _STEPS if top / st <= most), _STEPS[-1] * math.ceil(top / _STEPS[-1] / most))
    return [float(i * step) for i in range(int(top // step) + 1)]


def _duration_label(v: float) -> str:
    """``0``, ``45s``, ``10m``, ``1h30m``, ``2d``: short, exact for round ticks."""
    v = int(round(v))
    if v == 0:
        return "0"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if v >= size:
            parts.append(f"{v // size}{unit}")
            v %= size
    return "".join(parts[:2])


def _rects_path(rects: Sequence[tuple[float, float, float, float]]) -> Any:
    """One compound path of many rectangles: a single SVG element per colour, not one per bar."""
    import numpy as np
    from matplotlib.path import Path

    n = len(rects)
    verts = np.zeros((n * 5, 2))
    codes = np.full(n * 5, Path.LINETO, dtype=np.uint8)
    for i, (x, y, w, h) in enumerate(rects):
        verts[i * 5 : i * 5 + 5] = ((x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y))
        codes[i * 5] = Path.MOVETO
        codes[i * 5 + 4] = Path.CLOSEPOLY
    return Path(verts, codes)


# --------------------------------------------------------------------------- charts


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _timeline_mode(jobs: Sequence[JobState]) -> bool:
    """True for calendar time: when the page's jobs overlap enough for bars to be seen.

    A page spanning more than :data:`ALIGN_AFTER` typical job lengths would show slivers, so
    its jobs are drawn from their creation instead (each bar starts at 0).
    """
    if not jobs:
        return True
    lengths = sorted(max(_end(j) - j.created_at, 60) for j in jobs)
    typical = lengths[len(lengths) // 2]
    span = max(_end(j) for j in jobs) - min(j.created_at for j in jobs)
    return span <= ALIGN_AFTER * typical


def _timeline(jobs: Sequence[JobState], first: int, total: int) -> Figure:
    """One page of the timeline: *jobs* newest first, numbered from *first* of *total*."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, PathPatch
    from matplotlib.ticker import FixedLocator, FuncFormatter

    n = len(jobs)
    calendar = _timeline_mode(jobs)
    if calendar:
        labels = [f"{_text(j.id, 12):<12}  {_text(j.model, 26)}" for j in jobs]
    else:
        labels = [
            f"{(iso(j.created_at) or '')[:16].replace('T', ' ')}  {_text(j.id, 12):<12}  {_text(j.model, 26)}"
            for j in jobs
        ]
    # a fixed layout: a layout engine would measure a hundred labels many times over
    chars = max((len(t) for t in labels), default=10)
    width, right, top, bottom, row = 11.0, 0.25, 0.85, 0.55, 0.2
    left = 0.25 + chars * 7 * 0.61 / 72  # monospace at 7 pt
    height = top + bottom + row * n
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((left / width, bottom / height, 1 - (left + right) / width, row * n / height))

    def x(job: JobState, t: int) -> float:
        return _num(t) if calendar else float(t - job.created_at)

    by_colour: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    ends: dict[str, list[tuple[float, float]]] = defaultdict(list)
    lo, hi = math.inf, -math.inf
    for row_no, job in enumerate(jobs):
        y = n - 1 - row_no
        key = outcome(job)
        for start, end, status in _segments(job):
            colour = WAITING_COLOURS.get(status) or _outcome_colour(key)
            by_colour[colour].append((x(job, start), y - 0.35, x(job, end) - x(job, start), 0.7))
        ends[key].append((x(job, _end(job)), y))
        lo = min(lo, x(job, job.created_at), *(x(job, c.at) for c in job.changes))
        hi = max(hi, x(job, _end(job)))
    for colour, rects in by_colour.items():
        # the edge in the same colour keeps a one-second segment visible at any zoom
        ax.add_patch(PathPatch(_rects_path(rects), facecolor=colour, edgecolor=colour, linewidth=0.6))
    for key, pts in ends.items():
        if key != "open":
            # taller than the bar, so it shows as a cap in the outcome's colour
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                linestyle="none",
                marker="|",
                markersize=12,
                markeredgewidth=2.5,
                color=_outcome_colour(key),
            )
    if lo > hi:
        lo, hi = 0.0, 1.0
    pad = (hi - lo) * 0.01 or (1 / 1440 if calendar else 60)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks(range(n), list(reversed(labels)), fontsize=7, family="monospace")
    # left-aligned at the figure's margin, so the columns of the labels line up
    ax.tick_params(axis="y", pad=(left - 0.2) * 72)
    for label in ax.get_yticklabels():
        label.set_horizontalalignment("left")
    if calendar:
        locator = mdates.AutoDateLocator(minticks=4, maxticks=10)  # type: ignore[no-untyped-call]  # matplotlib.dates: unannotated
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]  # matplotlib.dates: unannotated
        what = "UTC"
    else:
        ax.xaxis.set_major_locator(FixedLocator(_duration_ticks(max(hi, 1.0))))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _duration_label(v)))
        what = "each from its creation; UTC"
    ax.xaxis.tick_top()
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.spines[["left", "bottom"]].set_visible(False)
    ax.tick_params(axis="y", left=False)
    ax.set_title(f"Jobs {first:,}–{first + n - 1:,} of {total:,}, newest first ({what})", pad=22)
    handles: list[Any] = [
        Patch(color=WAITING_COLOURS["QUEUED"], label="queued"),
        Patch(color=WAITING_COLOURS["VALIDATING"], label="validating"),
    ]
    present = {outcome(j) for j in jobs}
    for key in OUTCOME_COLOURS:
        if key in present:
            handles.append(Patch(color=OUTCOME_COLOURS[key], label=_LEGEND[key]))
    if present - set(OUTCOME_COLOURS):
        handles.append(Patch(color=_OTHER_TERMINAL, label="other end"))
    handles.append(
        Line2D([], [], color="#555", marker="|", linestyle="none", markersize=9, markeredgewidth=2, label="ended")
    )
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=len(handles), fontsize=8)
    return fig


def _finished(jobs: Sequence[JobState]) -> Figure:
    """Jobs finished per day (or week) by outcome, stacked."""
    import matplotlib.dates as mdates
    from matplotlib.ticker import MaxNLocator

    ended = [
        (j.changes[-1].at if j.changes else j.modified_at, j.status) for j in jobs if j.status in TERMINAL_STATUSES
    ]
    fig = _new_figure(11, 3.2)
    ax = fig.add_subplot()
    if not ended:
        ax.text(0.5, 0.5, "no job has finished", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    span = (max(t for t, _ in ended) - min(t for t, _ in ended)) / 86400
    weekly = span > WEEKLY_AFTER_DAYS
    width = 7 if weekly else 1

    def bucket(t: int) -> float:
        day = t // 86400
        if weekly:
            day -= (day + 3) % 7  # Mondays (1970-01-01 was a Thursday)
        return float(day)

    counts: dict[str, Counter[float]] = defaultdict(Counter)
    for t, status in ended:
        counts[status][bucket(t)] += 1
    buckets = sorted({b for c in counts.values() for b in c})
    order = [k for k in OUTCOME_COLOURS if k in counts] + sorted(k for k in counts if k not in OUTCOME_COLOURS)
    bottom = [0] * len(buckets)
    for status in order:
        heights = [counts[status][b] for b in buckets]
        ax.bar(
            buckets,
            heights,
            width=width * 0.9,
            bottom=bottom,
            align="edge",
            color=_outcome_colour(status),
            label=_text(OUTCOME_LABELS.get(status, status)),
            linewidth=0,
        )
        bottom = [a + b for a, b in zip(bottom, heights, strict=True)]
    locator = mdates.AutoDateLocator(minticks=4, maxticks=12)  # type: ignore[no-untyped-call]  # matplotlib.dates: unannotated
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]  # matplotlib.dates: unannotated
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_ylabel("jobs")
    ax.set_title(f"Jobs finished per {'week' if weekly else 'day'} by outcome (UTC)")
    ax.legend(loc="upper left", ncols=len(order), fontsize=8)
    return fig


def _durations(jobs: Sequence[JobState]) -> Figure:
    """Queue wait and run time per model: box plots on a log scale."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    models = sorted({j.model for j in jobs}, key=lambda m: (m is None, m or ""))
    rows = len(models) or 1
    fig = _new_figure(11, 1.2 + 0.32 * rows)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, field, title in (
        (axes[0], "queue_wait", "Queue wait (created → running)"),
        (axes[1], "run_time", "Run time (running → end)"),
    ):
        data = [
            [max(getattr(j, field), 1) for j in jobs if j.model == m and getattr(j, field) is not None] for m in models
        ]
        positions = list(range(len(models), 0, -1))
        shown = [(d, p) for d, p in zip(data, positions, strict=True) if d]
        if shown:
            ax.boxplot(
                [d for d, _ in shown],
                positions=[p for _, p in shown],
                orientation="horizontal",
                widths=0.6,
                patch_artist=True,
                showfliers=True,
                boxprops={"facecolor": "#a0cbe8", "edgecolor": "#4e79a7"},
                medianprops={"color": "#1f3b5c", "linewidth": 1.5},
                flierprops={"marker": ".", "markersize": 3, "markeredgecolor": "#888"},
                whiskerprops={"color": "#4e79a7"},
                capprops={"color": "#4e79a7"},
            )
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(FixedLocator(_LOG_TICKS))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _duration_label(v)))
        ax.set_yticks(positions, [f"{_text(m, 30)} ({len(d)})" for m, d in zip(models, data, strict=True)])
        ax.set_ylim(0.4, len(models) + 0.6)
        ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_title(title)
        ax.set_xlabel("log scale; under 1 s shown at 1 s")
    return fig


def _cost_tokens(jobs: Sequence[JobState]) -> Figure:
    """Trained tokens and cost per model (per currency)."""
    from matplotlib.ticker import FuncFormatter

    models = sorted({j.model for j in jobs}, key=lambda m: (m is None, m or ""))
    tokens = {m: sum(j.trained_tokens or 0 for j in jobs if j.model == m) for m in models}
    cost: dict[str, dict[str | None, float]] = defaultdict(lambda: defaultdict(float))
    for j in jobs:
        if j.cost is not None:
            cost[j.cost_currency or "(unknown)"][j.model] += j.cost
    fig = _new_figure(11, 1.2 + 0.32 * max(len(models), 1))
    axes = fig.subplots(1, 2, sharey=True)
    positions = list(range(len(models), 0, -1))
    ax = axes[0]
    ax.barh(positions, [tokens[m] / 1e6 for m in models], color="#76b7b2", height=0.6)
    ax.set_yticks(positions, [_text(m, 30) for m in models])
    ax.set_title("Trained tokens per model")
    ax.set_xlabel("million tokens")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax = axes[1]
    currencies = sorted(cost)
    palette = ["#edc948", "#b07aa1", "#ff9da7", "#76b7b2", "#9c755f"]
    h = 0.7 / max(len(currencies), 1)
    for i, cur in enumerate(currencies):
        offs = [p + 0.35 - h * (i + 0.5) for p in positions]
        ax.barh(
            offs,
            [cost[cur].get(m, 0.0) for m in models],
            height=h,
            color=palette[i % len(palette)],
            label=_text(cur, 12),
        )
    if currencies:
        ax.legend(loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no cost in the log", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("Cost per model")
    ax.set_xlabel("cost, in each currency")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    for ax in axes:
        ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_ylim(0.4, len(models) + 0.6)
    return fig


class _LineStyle(TypedDict, total=False):
    """The line properties the curves chart sets (typed, so they check against ``Line2D``'s)."""

    color: str
    linewidth: float
    marker: str
    markersize: float


def _curves(jobs: Sequence[JobState], rows: Sequence[CheckpointRow]) -> Figure:
    """Small multiples: train and validation loss per step, one panel per job."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    per_job: dict[str, list[CheckpointRow]] = defaultdict(list)
    for r in rows:
        if r.step is not None:
            per_job[r.job_id].append(r)
    cols = 4
    nrows = max(1, math.ceil(len(jobs) / cols))
    height = 0.75 + 2.0 * nrows
    fig = Figure(figsize=(11, height))
    if not jobs:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no job with two or more checkpoints", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    # a fixed grid: a layout engine would measure every panel's labels many times over
    axes = fig.subplots(
        nrows,
        cols,
        squeeze=False,
        gridspec_kw={
            "left": 0.055,
            "right": 0.99,
            "bottom": 0.45 / height,
            "top": 1 - 0.55 / height,
            "wspace": 0.22,
            "hspace": 0.55,
        },
    )
    train_style: _LineStyle = {"color": "#4e79a7", "linewidth": 1.3}
    valid_style: _LineStyle = {"color": "#f28e2b", "linewidth": 1.3, "marker": "o", "markersize": 3}
    for i, ax in enumerate(axes.flat):
        if i >= len(jobs):
            ax.set_axis_off()
            continue
        job = jobs[i]
        cps = per_job[job.id]
        train = [(r.step, r.train_loss) for r in cps if r.train_loss is not None]
        valid = [(r.step, r.valid_loss) for r in cps if r.valid_loss is not None]
        if train:
            ax.plot([s for s, _ in train], [v for _, v in train], **train_style)
        if valid:
            ax.plot([s for s, _ in valid], [v for _, v in valid], **valid_style)
        ax.set_title(
            f"{_text(job.id, 9)} · {_text(job.model, 20)} · {_text(OUTCOME_LABELS.get(outcome(job), job.status), 18)}",
            fontsize=7,
            fontweight="normal",
            color="#333",
            loc="left",
        )
        ax.spines["left"].set_color(_outcome_colour(outcome(job)))
        ax.spines["left"].set_linewidth(2.5)
        ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.tick_params(labelsize=7)
        ax.grid(color="#eeeeee", linewidth=0.5)
        if i % cols == 0:
            ax.set_ylabel("loss", fontsize=8)
        if i >= len(jobs) - cols:
            ax.set_xlabel("step", fontsize=8)
    handles = [
        Line2D([], [], label="train loss", **train_style),
        Line2D([], [], label="validation loss", **valid_style),
    ]
    fig.legend(handles=handles, loc="upper right", ncols=2, fontsize=8)
    fig.suptitle(
        "Loss per step; the left edge is coloured by how the job ended",
        x=0.01,
        y=1 - 0.08 / height,
        ha="left",
        va="top",
        fontsize=10,
        fontweight="bold",
    )
    return fig


# --------------------------------------------------------------------------- assembling


class _Selection:
    """What the report shows: every job for the aggregates, the newest *max_jobs* on the timeline."""

    def __init__(self, table: JobTable, max_jobs: int, max_curves: int, jobs: Iterable[JobState] | None = None) -> None:
        if max_jobs < 1 or max_curves < 0:
            raise ValueError("max_jobs must be at least 1 and max_curves at least 0")
        # a selection needs its changes (not jobs(light=True)): the timeline draws them
        self.all = table.jobs() if jobs is None else sorted(jobs, key=lambda j: (j.created_at, j.id))
        self.shown = list(reversed(self.all))[:max_jobs]  # newest first
        checkpoint_rows = table.checkpoints(self.shown)
        steps = Counter(
            r.job_id
            for r in checkpoint_rows
            if r.step is not None and (r.train_loss is not None or r.valid_loss is not None)
        )
        self.curve_jobs = [j for j in self.shown if steps[j.id] >= 2][:max_curves]
        wanted = {j.id for j in self.curve_jobs}
        self.checkpoints = [r for r in checkpoint_rows if r.job_id in wanted]
        self.summary = table.summary(by="model", jobs=self.all)


def chart_figures(
    table: JobTable, jobs: Iterable[JobState] | None = None, *, max_jobs: int = 500, max_curves: int = 12
) -> Iterator[tuple[str, Figure]]:
    """``(name, matplotlib Figure)`` for every chart of the report, in report order.

    Names: ``finished``, ``durations``, ``cost_tokens``, ``timeline-01`` (the newest page) ...,
    ``training_curves``.  Each figure is made only when asked for.
    """
    require_matplotlib()
    sel = _Selection(table, max_jobs, max_curves, jobs)
    yield from _figures(sel)


def _figures(sel: _Selection) -> Iterator[tuple[str, Figure]]:
    yield "finished", _finished(sel.all)
    yield "durations", _durations(sel.all)
    yield "cost_tokens", _cost_tokens(sel.all)
    pages = max(1, math.ceil(len(sel.shown) / PAGE_SIZE))
    for p in range(pages):
        chunk = sel.shown[p * PAGE_SIZE : (p + 1) * PAGE_SIZE]
        if chunk:
            yield f"timeline-{p + 1:02d}", _timeline(chunk, p * PAGE_SIZE + 1, len(sel.shown))
    yield "training_curves", _curves(sel.curve_jobs, sel.checkpoints)


_SVG_HEAD = re.compile(r"\A.*?(?=<svg)", re.S)
_GEOMETRY = re.compile(r'(\s(?:d|x|y|transform)=")([^"]*)"')
_INDENT = re.compile(r"\n[ ]+")
_METADATA = re.compile(r"<metadata>.*?</metadata>\n?", re.S)
_DECIMALS = re.compile(r"(\d)\.(\d)\d+")


def _round(m: re.Match[str]) -> str:
    return m.group(1) + _DECIMALS.sub(r"\1.\2", m.group(2)).replace("\n", "") + '"'


def _svg_text(fig: Figure) -> str:
    """The figure as SVG with coordinates to 0.1 pt (matplotlib writes 6 decimals): a third the size."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return _METADATA.sub("", _INDENT.sub("\n", _GEOMETRY.sub(_round, buf.getvalue())), count=1)


def _svg(fig: Figure, label: str) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog), labelled for screen readers."""
    svg = _SVG_HEAD.sub("", _svg_text(fig), count=1)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label)}" class="chart" ', 1)


_CSS = """
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;\
margin:0;color:#222;background:#fff}
main{max-width:1120px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e3e3e3;padding-bottom:4px}
.meta{color:#666;margin:0 0 12px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{border:1px solid #e3e3e3;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:20px;white-space:nowrap}.card span{color:#666;font-size:12px}
svg.chart{display:block;width:100%;height:auto;max-width:100%}
figure{margin:0 0 12px}
details{border:1px solid #e3e3e3;border-radius:6px;margin:6px 0;padding:0 10px}
details>summary{cursor:pointer;padding:6px 0;font-weight:600}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left;white-space:normal;overflow-wrap:anywhere;min-width:14em}
td:last-child{white-space:normal}
thead th{background:#f6f6f6;position:sticky;top:0}
tr.total td{font-weight:700;border-top:2px solid #ccc}
.note{color:#666;font-size:12px}
"""


def _rate(s: Summary) -> str:
    return f"{s.success_rate * 100:.1f}%" if s.success_rate is not None else "–"


def _cost(s: Summary) -> str:
    """Cost per currency as HTML, one currency a line (escaped: currencies come from the log)."""
    return "<br>".join(html.escape(printable(f"{v:,.2f} {c}")) for c, v in s.cost.items()) or "–"


def _summary_table(summary: Summary) -> str:
    head = (
        "model",
        "jobs",
        "finished",
        "success",
        "queue p50",
        "queue p90",
        "run p50",
        "run p90",
        "total p90",
        "trained tokens",
        "cost",
    )
    e = html.escape

    def row(name: str, s: Summary, cls: str = "") -> str:
        cells = (
            name,
            f"{s.jobs:,}",
            f"{s.finished:,}",
            _rate(s),
            fmt_secs(s.queue_wait.p50),
            fmt_secs(s.queue_wait.p90),
            fmt_secs(s.run_time.p50),
            fmt_secs(s.run_time.p90),
            fmt_secs(s.total.p90),
            f"{s.trained_tokens:,}",
        )
        attr = f' class="{cls}"' if cls else ""
        return f"<tr{attr}>" + "".join(f"<td>{e(printable(c))}</td>" for c in cells) + f"<td>{_cost(s)}</td></tr>"

    body = [row(k, g) for k, g in summary.groups.items()]
    body.append(row("all models", summary, "total"))
    return (
        "<table><thead><tr>"
        + "".join(f"<th>{e(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


def render_report(
    table: JobTable,
    stats: ReadStats | None = None,
    *,
    title: str | None = None,
    jobs: Iterable[JobState] | None = None,
    max_jobs: int = 500,
    max_curves: int = 12,
    now: int | None = None,
) -> str:
    """The report as one self-contained HTML document (see the module docstring).

    *jobs* restricts it to a selection (``JobState`` values from ``table.jobs()``, filtered);
    *now* (unix seconds) is the "generated" time shown, the current time by default.
    """
    mpl = require_matplotlib()
    sel = _Selection(table, max_jobs, max_curves, jobs)
    s = sel.summary
    e = html.escape
    title = title or "Fine-tuning jobs"
    made = iso(now if now is not None else int(datetime.now(timezone.utc).timestamp()))
    figs: dict[str, str] = {}
    timeline: list[tuple[str, str]] = []
    with mpl.rc_context(_rc()):
        for name, fig in _figures(sel):
            svg = _svg(fig, name.replace("_", " "))
            fig.clear()
            if name.startswith("timeline-"):
                timeline.append((name, svg))
            else:
                figs[name] = svg
    cards = [
        (f"{s.jobs:,}", "jobs"),
        (_rate(s), f"success ({s.succeeded:,} of {s.finished:,} finished)"),
        (fmt_secs(s.queue_wait.p50), "queue wait p50"),
        (fmt_secs(s.run_time.p50), "run time p50"),
        (f"{s.trained_tokens / 1e6:,.1f}M", "trained tokens"),
    ]
    status_line = ", ".join(f"{e(printable(k))} {v:,}" for k, v in sorted(s.by_status.items(), key=lambda kv: -kv[1]))
    read = ""
    if stats is not None:
        read = (
            f" Read {stats.snapshots:,} snapshots in {stats.lines:,} lines"
            f" ({stats.rejected:,} rejected) from {stats.sources:,} source(s)."
        )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # no script, no network: a strict policy makes that a promise the browser keeps
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{e(printable(title))}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{e(printable(title))}</h1>",
        f'<p class="meta">Generated {e(made or "")} by jobstream. '
        f"Newest job update {e(iso(s.newest) or '–')}.{e(read)}</p>",
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{e(printable(v))}</b><span>{e(k)}</span></div>' for v, k in cards)
        + f'<div class="card"><b>{_cost(s)}</b><span>cost</span></div></div>',
        f'<p class="meta">By status: {status_line or "–"}</p>',
        '<h2 id="timeline">Job timeline</h2>',
    ]
    shown = len(sel.shown)
    if shown < len(sel.all):
        out.append(f'<p class="note">The newest {shown:,} of {len(sel.all):,} jobs; the charts below count all.</p>')
    for i, (name, svg) in enumerate(timeline):
        chunk = sel.shown[i * PAGE_SIZE : (i + 1) * PAGE_SIZE]
        first, last = i * PAGE_SIZE + 1, i * PAGE_SIZE + len(chunk)
        span = f"created {iso(chunk[-1].created_at)} to {iso(chunk[0].created_at)}"
        opened = " open" if i == 0 else ""
        out.append(
            f'<details id="{name}"{opened}><summary>Jobs {first:,}–{last:,} · {e(span)}</summary>'
            f"<figure>{svg}</figure></details>"
        )
    if not timeline:
        out.append('<p class="note">No jobs.</p>')
    out += [
        '<h2 id="finished">Jobs finished</h2>',
        f"<figure>{figs['finished']}</figure>",
        '<h2 id="durations">Queue wait and run time per model</h2>',
        f"<figure>{figs['durations']}</figure>",
        '<h2 id="cost">Trained tokens and cost per model</h2>',
        f"<figure>{figs['cost_tokens']}</figure>",
        '<h2 id="curves">Training curves</h2>',
        f'<p class="note">The newest {len(sel.curve_jobs)} jobs on the timeline with two or more checkpoints.</p>',
        f"<figure>{figs['training_curves']}</figure>",
        '<h2 id="summary">Summary by model</h2>',
        _summary_table(s),
        '<p class="note">Durations are nearest-rank percentiles over the jobs that have them; times are UTC.</p>',
        "</main></body></html>",
    ]
    return "\n".join(out) + "\n"


def write_report(
    table: JobTable,
    stats: ReadStats | None,
    out_path: str,
    *,
    title: str | None = None,
    jobs: Iterable[JobState] | None = None,
    max_jobs: int = 500,
    max_curves: int = 12,
    protect: Iterable[str] = (),
) -> None:
    """Write the HTML report to *out_path* atomically (refusing any path in *protect*: the inputs)."""
    text = render_report(table, stats, title=title, jobs=jobs, max_jobs=max_jobs, max_curves=max_curves)
    with atomic_output(out_path, protect=protect) as fh:
        fh.write(text)


def write_charts(
    table: JobTable,
    stats: ReadStats | None,
    out_dir: str,
    fmt: str = "png",
    *,
    jobs: Iterable[JobState] | None = None,
    max_jobs: int = 500,
    max_curves: int = 12,
    dpi: int = 110,
) -> list[str]:
    """The report's charts as files in *out_dir* (made if missing): ``finished.png``,
    ``durations.png``, ``cost_tokens.png``, ``timeline-01.png`` (newest page) ...,
    ``training_curves.png``.  Each is written atomically; returns the paths written.

    *stats* is accepted for symmetry with :func:`write_report` (the charts do not use it).
    """
    if fmt not in CHART_FORMATS:
        raise ValueError(f"unknown chart format {fmt!r}: choose one of {', '.join(CHART_FORMATS)}")
    mpl = require_matplotlib()
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise OutputError(f"cannot write charts into {out_dir}: not a directory")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write charts into {out_dir}: {exc.strerror}") from None
    written = []
    with mpl.rc_context(_rc()):
        for name, fig in chart_figures(table, jobs, max_jobs=max_jobs, max_curves=max_curves):
            path = os.path.join(out_dir, f"{name}.{fmt}")
            with atomic_file(path) as fh:
                if fmt == "svg":
                    fh.write(_svg_text(fig).encode())
                else:
                    fig.savefig(fh, format="png", dpi=dpi, metadata={"Software": None})
            fig.clear()
            written.append(path)
    return written
