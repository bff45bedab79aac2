"""Times on the command line (``jobstream.times``): what ``--since`` and ``--until`` accept
(dates, years, ISO-8601, ``@`` epoch seconds) and what is a usage error, through the real program."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import EXAMPLE_LOG, job, no_traceback, run_jobstream


class TestTimes:
    def test_years_and_basic_dates_are_dates_not_epoch_seconds(self, tmp_path: Path) -> None:
        path = tmp_path / "t.ndjson"
        # one job created in 2024, one in 2025 (1735689600 is 2025-01-01T00:00:00Z)
        path.write_bytes(
            job(1, created_at=1720000000, modified_at=1720000000)
            + b"\n"
            + job(2, created_at=1740000000, modified_at=1740000000)
            + b"\n"
        )
        for since in ("2025", "20250101", "2025-01", "2025-01-01", "@1735689600", "1735689600"):
            proc = run_jobstream("jobs", path, "--since", since, "--fields", "id")
            assert [json.loads(x)["id"] for x in proc.stdout.splitlines()] == ["job-2"], since

    @pytest.mark.parametrize("value", ["1717000", "202501", "20250", "last tuesday"])
    def test_ambiguous_numbers_and_nonsense_are_usage_errors_with_a_hint(self, small_log: Path, value: str) -> None:
        proc = run_jobstream("events", small_log, "--since", value)
        assert proc.returncode == 2 and b"@1717000000" in proc.stderr and b"Traceback" not in proc.stderr

    # regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
    @pytest.mark.parametrize("value", ["@inf", "@1e400", "9" * 400, "9" * 400 + "d"])
    def test_since_with_an_infinite_or_huge_number_is_a_usage_error(self, value: str) -> None:
        """parse_time catches ValueError only: math.ceil(float('inf')) raises OverflowError, which
        escapes as a traceback with exit 1."""
        proc = run_jobstream("events", EXAMPLE_LOG, "--since", value)
        no_traceback(proc)
        assert proc.returncode == 2
