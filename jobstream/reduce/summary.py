"""Summary statistics over folded jobs: counts, success rate, duration percentiles, tokens, cost.

A :class:`Summary` is computed from :class:`~jobstream.reduce.reducer.JobState` values (the fold's
output), never from lines: what reading saw (lines, rejects, job objects read) belongs to
:class:`~jobstream.run.reader.ReadStats`, and the sinks print the two side by side.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import msgspec

from ..columns import GROUP_KEYS
from ..decode.models import TERMINAL_STATUSES
from .reducer import JobBrief, JobState

__all__ = ["Summary", "Percentiles", "summarize_jobs", "GROUP_KEYS"]


class Percentiles(msgspec.Struct, kw_only=True, gc=False):
    """Nearest-rank percentiles of a duration, in seconds (None when there is no value)."""

    count: int = 0
    p50: int | None = None
    p90: int | None = None
    max: int | None = None

    @classmethod
    def of(cls, values: Iterable[int]) -> Percentiles:
        vs = sorted(values)
        if not vs:
            return cls()

        def rank(p: float) -> int:
            return vs[max(0, math.ceil(p / 100 * len(vs)) - 1)]

        return cls(count=len(vs), p50=rank(50), p90=rank(90), max=vs[-1])


class Summary(msgspec.Struct, kw_only=True):
    """Figures over a set of jobs; ``groups`` holds the same figures per group key."""

    jobs: int = 0
    #: distinct ``(job, modified_at, status)`` observations in snapshots: re-reading adds none
    observations: int = 0
    by_status: dict[str, int] = msgspec.field(default_factory=dict)
    by_job_type: dict[str, int] = msgspec.field(default_factory=dict)
    by_model: dict[str, int] = msgspec.field(default_factory=dict)
    finished: int = 0
    succeeded: int = 0
    success_rate: float | None = None
    queue_wait: Percentiles = msgspec.field(default_factory=Percentiles)
    run_time: Percentiles = msgspec.field(default_factory=Percentiles)
    total: Percentiles = msgspec.field(default_factory=Percentiles)
    trained_tokens: int = 0
    cost: dict[str, float] = msgspec.field(default_factory=dict)
    #: the newest ``modified_at`` of any job: how fresh the log is
    newest: int | None = None
    group_by: str | None = None
    groups: dict[str, Summary] = msgspec.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: ``groups`` and ``group_by`` only when grouped."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        if self.group_by is None:
            del out["groups"], out["group_by"]
        for group in out.get("groups", {}).values():
            del group["groups"], group["group_by"]
        return out


def _group_key(job: JobState | JobBrief, by: str) -> str:
    if by == "day":
        return datetime.fromtimestamp(job.created_at, tz=timezone.utc).strftime("%Y-%m-%d")
    value = getattr(job, by)
    return "(none)" if value is None else str(value)


def summarize_jobs(states: Sequence[JobState | JobBrief], by: str | None = None) -> Summary:
    """The :class:`Summary` of job states (or their briefs), optionally with the same figures per *by*."""
    if by is not None and by not in GROUP_KEYS:
        raise ValueError(f"cannot group by {by!r}: choose one of {', '.join(GROUP_KEYS)}")
    finished = [j for j in states if j.status in TERMINAL_STATUSES]
    succeeded = sum(1 for j in finished if j.status == "SUCCESS")
    cost: dict[str, float] = defaultdict(float)
    for j in states:
        if j.cost is not None and (j.cost or j.cost_currency):  # a 0.0 with no currency says nothing
            cost[j.cost_currency or "(unknown)"] += j.cost
    out = Summary(
        jobs=len(states),
        observations=sum(j.observations for j in states),
        by_status=dict(sorted(Counter(j.status for j in states).items())),
        by_job_type=dict(sorted(Counter(j.job_type for j in states).items())),
        by_model=dict(sorted(Counter(j.model or "(none)" for j in states).items())),
        finished=len(finished),
        succeeded=succeeded,
        success_rate=round(succeeded / len(finished), 6) if finished else None,
        queue_wait=Percentiles.of(j.queue_wait for j in states if j.queue_wait is not None),
        run_time=Percentiles.of(j.run_time for j in states if j.run_time is not None),
        total=Percentiles.of(j.total for j in states if j.total is not None),
        trained_tokens=sum(j.trained_tokens or 0 for j in states),
        cost={k: round(v, 6) for k, v in sorted(cost.items())},
        newest=max((j.modified_at for j in states), default=None),
    )
    if by is not None:
        groups: dict[str, list[JobState | JobBrief]] = defaultdict(list)
        for j in states:
            groups[_group_key(j, by)].append(j)
        out.group_by = by
        out.groups = {k: summarize_jobs(v) for k, v in sorted(groups.items())}
    return out
