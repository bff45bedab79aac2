"""Times as people write them, for ``--since``/``--until`` (cheap to import: no msgspec)."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

__all__ = ["parse_time", "split_list", "TIME_HELP", "MAX_TIMESTAMP"]

#: The latest time jobstream accepts: 9999-12-31T23:59:59Z (the schema's bound too).
MAX_TIMESTAMP = 253402300799

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


def parse_time(text: str, *, now: float | None = None) -> int:
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
    Raises ValueError with a hint on anything else (infinite or astronomic numbers too).
    """
    try:
        return _parse(text, now)
    except (OverflowError, ValueError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(repr(text)):
            raise
        raise _bad(text, "is not a time between 1970 and 9999") from None


def _parse(text: str, now: float | None) -> int:
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
        return _bounded(text, math.ceil(clock - seconds))
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
