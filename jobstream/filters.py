"""Selections shared by the exports: which jobs and which status changes to keep.

Jobs are matched on their *current* state (status, type, model) and their ``created_at``;
status changes on their ``to_status`` and their time ``at``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Optional

from .reducer import JobState, StatusChange

__all__ = ["Selection", "parse_time"]


def parse_time(text: str) -> int:
    """Unix seconds from ``1717000000``, ``2024-05-30`` or ``2024-05-30T12:00[:00][Z|+02:00]``.

    Times without a zone are UTC.  Raises ValueError with a hint on anything else.
    """
    s = text.strip()
    try:
        # events are whole seconds: a fractional bound moves up to the next one, which keeps
        # "since" inclusive and "until" exclusive exactly
        return math.ceil(float(s)) if s.replace(".", "", 1).isdigit() else _parse_iso(s)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use unix seconds (1717000000) or ISO-8601 (2024-05-30, 2024-05-30T12:00:00Z)"
        ) from None


def _parse_iso(s: str) -> int:
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return math.ceil(dt.timestamp())


def _norm_type(t: str) -> str:
    return "completion" if t == "FT" else t


@dataclass(frozen=True)
class Selection:
    """Filters; an empty field matches everything.  ``since`` is inclusive, ``until`` exclusive."""

    statuses: frozenset[str] = frozenset()
    job_types: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()
    job_ids: frozenset[str] = frozenset()
    since: Optional[int] = None
    until: Optional[int] = None

    @classmethod
    def of(
        cls,
        statuses: Iterable[str] = (),
        job_types: Iterable[str] = (),
        models: Iterable[str] = (),
        job_ids: Iterable[str] = (),
        since: Optional[int] = None,
        until: Optional[int] = None,
    ) -> "Selection":
        return cls(
            frozenset(s.upper() for s in statuses),
            frozenset(_norm_type(t) for t in job_types),
            frozenset(models),
            frozenset(job_ids),
            since,
            until,
        )

    @property
    def empty(self) -> bool:
        return self == Selection()

    def _in_time(self, t: int) -> bool:
        return (self.since is None or t >= self.since) and (self.until is None or t < self.until)

    def _common(self, job_id: str, job_type: str, model: Optional[str]) -> bool:
        return (
            (not self.job_ids or job_id in self.job_ids)
            and (not self.job_types or job_type in self.job_types)
            and (not self.models or model in self.models)
        )

    def keep_job(self, job: JobState) -> bool:
        return (
            self._common(job.id, job.job_type, job.model)
            and (not self.statuses or job.status in self.statuses)
            and self._in_time(job.created_at)
        )

    def keep_change(self, change: StatusChange) -> bool:
        return (
            self._common(change.job_id, change.job_type, change.model)
            and (not self.statuses or change.to_status in self.statuses)
            and self._in_time(change.at)
        )

    def jobs(self, jobs: Iterable[JobState]) -> list[JobState]:
        return [j for j in jobs if self.keep_job(j)]

    def changes(self, changes: Iterable[StatusChange]) -> list[StatusChange]:
        return [c for c in changes if self.keep_change(c)]
