"""Selections shared by the exports: which jobs and which status changes to keep.

Jobs are matched on their *current* state (status, type, model) and their ``created_at``;
status changes on their ``to_status`` and their time ``at``.  Times are parsed by
:func:`parse_time`, which reads what people type (dates, relative times) and refuses what
would be silently misread.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Optional

from .models import KNOWN_JOB_TYPES, MAX_TIMESTAMP, Status
from .reducer import JobState, StatusChange

__all__ = ["Selection", "parse_time", "split_list", "TIME_HELP"]

#: How ``--since``/``--until`` are read, for help texts.
TIME_HELP = (
    "a date or time (2025-06-01, 2025-06-01T12:00Z, 20250601, 2025-06, 2025; UTC unless a zone is given), "
    "a relative time (30m, 6h, 1d, 2w ago; today, yesterday, now) or unix seconds (@1717000000)"
)

_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w|wk|wks|week|weeks)(?:\s+ago)?")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: Bare numbers at least this large are unix seconds (2001-09-09 on); smaller ones are ambiguous.
_EPOCH_MIN = 10**9


def _bad(text: str, why: str) -> ValueError:
    return ValueError(f"{text!r} {why}; use {TIME_HELP}")


def parse_time(text: str, *, now: Optional[float] = None) -> int:
    """Unix seconds for a time bound as people write it.

    * ISO-8601 dates and times, extended or basic (``2025-06-01``, ``2025-06-01T12:00:00+02:00``,
      ``20250601``, ``20250601T120000Z``), a month (``2025-06``) or a year (``2025``): UTC
      unless a zone is given;
    * relative times: ``30m``, ``6h``, ``1d``, ``2w`` (optionally ``ago``), ``now``,
      ``today`` and ``yesterday`` (midnight UTC);
    * unix seconds: ``@1717000000``, or a bare number of ten digits or more.

    A bare number below 10^9 (``20250``, ``1717000``) is refused: it is neither a date nor
    a plausible time.  A fractional time rounds up to the next whole second (events are whole
    seconds), which keeps ``since`` inclusive and ``until`` exclusive exactly.
    Raises ValueError with a hint on anything else.
    """
    s = text.strip()
    low = s.lower()
    clock = time.time() if now is None else now
    midnight = math.floor(clock / 86400) * 86400
    if low == "now":
        return math.ceil(clock)
    if low == "today":
        return midnight
    if low == "yesterday":
        return midnight - 86400
    rel = _RELATIVE.fullmatch(low)
    if rel is not None:
        seconds = float(rel.group(1)) * _UNIT_SECONDS[rel.group(2)[0]]
        return math.ceil(clock - seconds)
    if s.startswith("@"):
        try:
            value = float(s[1:])
        except ValueError:
            raise _bad(text, "is not unix seconds") from None
        return _bounded(text, math.ceil(value))
    if re.fullmatch(r"\d+(\.\d+)?", s):
        digits = s.split(".")[0]
        if "." not in s and len(s) == 4:
            return _iso(text, f"{s}-01-01")
        if "." not in s and len(s) == 8:
            return _iso(text, f"{s[:4]}-{s[4:6]}-{s[6:]}")
        if float(s) >= _EPOCH_MIN:
            return _bounded(text, math.ceil(float(s)))
        raise _bad(text, f"is ambiguous (a {len(digits)}-digit number is neither a date nor plausible unix seconds)")
    if re.fullmatch(r"\d{4}-\d{2}", s):
        return _iso(text, f"{s}-01")
    return _iso(text, s)


def _bounded(text: str, value: int) -> int:
    if not 0 <= value <= MAX_TIMESTAMP + 1:
        raise _bad(text, "is outside 1970 to 9999")
    return value


def _iso(text: str, s: str) -> int:
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise _bad(text, "is not a time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return math.ceil((dt - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(seconds=1))


def split_list(values: Iterable[str]) -> list[str]:
    """``("a,b", "c")`` -> ``["a", "b", "c"]``: options take repeats and comma lists alike."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


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
