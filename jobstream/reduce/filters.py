"""Selections shared by the exports: which jobs and which status changes to keep.

Jobs are matched on their *current* state (status, type, model) and their ``created_at``;
status changes on their ``to_status`` and their time ``at``.  Times are parsed by
:func:`parse_time`, which reads what people type (dates, relative times) and refuses what
would be silently misread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..decode.models import KNOWN_JOB_TYPES, Status
from ..times import TIME_HELP, parse_time, split_list
from .reducer import JobState, StatusChange

__all__ = ["Selection", "parse_time", "split_list", "TIME_HELP"]


def _norm_type(t: str) -> str:
    return "completion" if t == "FT" else t


KNOWN_STATUSES = frozenset(s.value for s in Status)


@dataclass(frozen=True)
class Selection:
    """Filters; an empty field matches everything.  ``since`` is inclusive, ``until`` exclusive."""

    statuses: frozenset[str] = frozenset()
    job_types: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()
    job_ids: frozenset[str] = frozenset()
    since: int | None = None
    until: int | None = None

    @classmethod
    def of(
        cls,
        statuses: Iterable[str] = (),
        job_types: Iterable[str] = (),
        models: Iterable[str] = (),
        job_ids: Iterable[str] = (),
        since: int | None = None,
        until: int | None = None,
    ) -> Selection:
        """A selection from option values: comma lists split, statuses upper-cased, ``FT`` as completion."""
        return cls(
            frozenset(s.upper() for s in split_list(statuses)),
            frozenset(_norm_type(t) for t in split_list(job_types)),
            frozenset(split_list(models)),
            frozenset(split_list(job_ids)),
            since,
            until,
        )

    @property
    def empty(self) -> bool:
        return self == Selection()

    def _in_time(self, t: int) -> bool:
        return (self.since is None or t >= self.since) and (self.until is None or t < self.until)

    def _common(self, job_id: str, job_type: str, model: str | None) -> bool:
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

    def unmatched(self, statuses: Iterable[str], job_types: Iterable[str]) -> list[str]:
        """Warnings for filter values that can never match: a status or job type neither known
        to this version nor among those seen (*statuses*, *job_types*) in the input, such as
        the typo ``RUNNNING``, which would silently select nothing."""
        seen_status, seen_type = set(statuses), set(job_types)
        out = [
            f"--status {s} is not a known status and the input has no such status"
            for s in sorted(self.statuses - KNOWN_STATUSES - seen_status)
        ]
        known_types = {_norm_type(t) for t in KNOWN_JOB_TYPES}
        out += [
            f"--job-type {t} is not a known job type and the input has no such job type"
            for t in sorted(self.job_types - known_types - seen_type)
        ]
        return out
