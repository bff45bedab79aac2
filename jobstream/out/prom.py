"""Prometheus text exposition of a summary, for node_exporter's textfile collector.

A cron job runs ``jobstream summary logs/ -f prom -o /var/lib/node_exporter/jobs.prom``;
the collector serves the file and alerts fire on the figures (a falling success rate, a
growing queue wait, a log that stopped growing).  Every family has ``# HELP`` and
``# TYPE``; label values are escaped as the format requires (backslash, double quote,
newline), and come from untrusted logs, so nothing else is assumed about them.

Families (``jobstream`` is the default *prefix*):

* ``jobstream_jobs``, ``_jobs_by_status{status}``, ``_jobs_by_job_type{job_type}``,
  ``_jobs_by_model{model}``, ``_jobs_finished``, ``_jobs_succeeded``, ``_observations``
* ``jobstream_success_rate``: succeeded / finished, 0..1 (NaN when no job has finished)
* ``jobstream_queue_wait_seconds``, ``_run_time_seconds``, ``_total_seconds``: summaries
  with ``quantile`` 0.5, 0.9 and 1 (the maximum; NaN without a value) and ``_count``
* ``jobstream_trained_tokens``, ``jobstream_cost{currency}``
* ``jobstream_newest_modified_timestamp_seconds``: the newest ``modified_at`` in the log,
  for ``time() - jobstream_newest_modified_timestamp_seconds > 3600``
* with read stats: ``jobstream_lines_read``, ``_snapshots_read``, ``_lines_rejected``
* a grouped summary (``--by KEY``) adds the same figures per group as ``jobstream_group_*``
  families labelled ``KEY="group"``, so a ``sum()`` over a total family never counts twice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from typing import IO

from ..decode.step import ReadStats
from ..reduce.summary import Summary

__all__ = ["write_prometheus", "write_prometheus_file", "escape_label_value", "CONTENT_TYPE"]

#: The media type of the text format (for a server that serves it).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")

Number = int | float | None
Labels = tuple[tuple[str, str], ...]


def escape_label_value(value: str) -> str:
    """A label value as the text format needs it: ``\\`` ``"`` and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\")


def _number(v: Number) -> str:
    if v is None:
        return "NaN"
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "+Inf" if v > 0 else "-Inf"
        return repr(v)
    return str(int(v))


def _sample(name: str, labels: Labels, value: Number) -> str:
    if labels:
        body = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels)
        return f"{name}{{{body}}} {_number(value)}\n"
    return f"{name} {_number(value)}\n"


class _Families:
    """Collects samples per family, so each family's HELP and TYPE come once, before its samples."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.order: list[str] = []
        self.meta: dict[str, tuple[str, str]] = {}
        self.lines: dict[str, list[str]] = {}

    def add(self, name: str, kind: str, help_text: str, samples: Iterable[str]) -> None:
        full = f"{self.prefix}_{name}"
        if full not in self.meta:
            self.order.append(full)
            self.meta[full] = (kind, help_text)
            self.lines[full] = []
        self.lines[full].extend(samples)

    def render(self) -> Iterator[str]:
        for name in self.order:
            kind, help_text = self.meta[name]
            yield f"# HELP {name} {_escape_help(help_text)}\n"
            yield f"# TYPE {name} {kind}\n"
            yield from self.lines[name]


def _summary_figures(fam: _Families, s: Summary, group: str, labels: Labels, skip: str | None) -> None:
    """Every figure of *s*; *group* prefixes the family names, *labels* go on every sample."""
    p = fam.prefix + "_" + group

    def gauge(name: str, help_text: str, value: Number, extra: Labels = ()) -> None:
        fam.add(group + name, "gauge", help_text, [_sample(p + name, labels + extra, value)])

    gauge("jobs", "Jobs in the log.", s.jobs)
    for key, name, counts in (
        ("status", "jobs_by_status", s.by_status),
        ("job_type", "jobs_by_job_type", s.by_job_type),
        ("model", "jobs_by_model", s.by_model),
    ):
        if key == skip:
            continue  # grouped on it already: the label would repeat
        help_text = f"Jobs by current {key.replace('_', ' ')}."
        fam.add(
            group + name, "gauge", help_text, [_sample(p + name, labels + ((key, k),), v) for k, v in counts.items()]
        )
    gauge("jobs_finished", "Jobs in a terminal status.", s.finished)
    gauge("jobs_succeeded", "Jobs that ended in SUCCESS.", s.succeeded)
    gauge("success_rate", "Succeeded / finished jobs, 0..1 (NaN when none finished).", s.success_rate)
    gauge("observations", "Distinct (job, modified_at, status) observations in snapshots.", s.observations)
    for name, pct, what in (
        ("queue_wait_seconds", s.queue_wait, "Queue wait, created to RUNNING"),
        ("run_time_seconds", s.run_time, "Run time, RUNNING to terminal"),
        ("total_seconds", s.total, "Total time, created to terminal"),
    ):
        samples = [
            _sample(p + name, labels + (("quantile", q),), v)
            for q, v in (("0.5", pct.p50), ("0.9", pct.p90), ("1", pct.max))
        ]
        samples.append(_sample(p + name + "_count", labels, pct.count))
        fam.add(group + name, "summary", f"{what}, in seconds (nearest-rank quantiles; 1 is the maximum).", samples)
    gauge("trained_tokens", "Tokens trained, over every job.", s.trained_tokens)
    fam.add(
        group + "cost",
        "gauge",
        "Cost of the jobs, per currency.",
        [_sample(p + "cost", labels + (("currency", c),), v) for c, v in s.cost.items()],
    )
    if s.newest is not None:
        gauge("newest_modified_timestamp_seconds", "The newest modified_at of any job, unix seconds.", s.newest)


def write_prometheus(summary: Summary, stats: ReadStats | None, out: IO[str], *, prefix: str = "jobstream") -> None:
    """Write *summary* (and what reading saw, *stats*) in the Prometheus text format."""
    if not _METRIC_NAME.match(prefix):
        raise ValueError(
            f"invalid metric prefix {prefix!r}: use letters, digits, '_' and ':', not starting with a digit"
        )
    fam = _Families(prefix)
    _summary_figures(fam, summary, "", (), None)
    if stats is not None:
        for name, help_text, value in (
            ("lines_read", "Non-blank lines read.", stats.lines),
            ("snapshots_read", "Job objects read from accepted lines.", stats.snapshots),
            ("lines_rejected", "Lines rejected as invalid.", stats.rejected),
        ):
            fam.add(name, "gauge", help_text, [_sample(f"{prefix}_{name}", (), value)])
    if summary.group_by is not None:
        by = summary.group_by
        for key, group in summary.groups.items():
            _summary_figures(fam, group, "group_", ((by, key),), by)
    for line in fam.render():
        out.write(line)


def write_prometheus_file(
    summary: Summary, stats: ReadStats | None, path: str, *, prefix: str = "jobstream", protect: Iterable[str] = ()
) -> None:
    """:func:`write_prometheus` into *path* atomically, so the collector never reads half a file."""
    from .sinks import atomic_output

    with atomic_output(path, protect=protect) as fh:
        write_prometheus(summary, stats, fh, prefix=prefix)
