"""Tables for people (``jobstream.out.layout``, as ``write_table`` drives it): fitting the width,
columns never cut (numbers, times, durations) or hidden and named, wide characters, colour, bars.

Fed plain lists and generated logs; streams are StringIO (a file or a pipe) or a real
pseudo-terminal, never a stand-in for jobstream's own code.
"""

from __future__ import annotations

import io
import os
import pty
import re
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import SGR, plain

import jobstream
from jobstream.columns import DURATION_FIELDS, JOB_FIELDS, TIME_FIELDS
from jobstream.out.layout import Screen, bar, display_width, screen_for, truncate, use_color
from jobstream.out.sinks import EVENT_FIELDS, event_row, fmt_secs, iso, job_row, write_summary, write_table


def table_text(rows: list[dict[str, Any]], fields: Any, **kw: Any) -> str:
    out = io.StringIO()
    write_table(rows, fields, out, **kw)
    return out.getvalue()


def spans(header: str) -> list[tuple[str, int]]:
    """(title, start column) of each header cell."""
    return [(m.group(), m.start()) for m in re.finditer(r"\S+", header)]


@pytest.fixture(scope="module")
def job_rows(folded: Any) -> list[dict[str, Any]]:
    return [job_row(j, JOB_FIELDS) for j in folded.table.jobs()]


@pytest.fixture
def terminal() -> Iterator[io.TextIOWrapper]:
    """A text stream on a real pseudo-terminal (isatty() is true)."""
    master, slave = pty.openpty()
    try:
        with open(slave, "w", encoding="utf-8", closefd=True) as stream:
            yield stream
    finally:
        os.close(master)


class TestWidth:
    def test_a_file_or_pipe_gets_every_column_at_full_width(
        self, job_rows: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("COLUMNS", "60")  # a terminal's width says nothing about a file
        text = table_text(job_rows, JOB_FIELDS)
        head = text.splitlines()[0]
        assert [t for t, _ in spans(head)] == [f.upper() for f in JOB_FIELDS]
        assert "…" not in text
        ids = [line.split()[0] for line in text.splitlines()[1:]]
        assert ids == [r["id"] for r in job_rows]

    @pytest.mark.parametrize("width", [30, 40, 60, 80, 100, 200])
    def test_no_line_exceeds_the_width(self, job_rows: list[dict[str, Any]], width: int) -> None:
        for fields in (JOB_FIELDS, ("id", "model", "status", "fine_tuned_model")):
            text = table_text(job_rows, fields, width=width)
            assert max(display_width(line) for line in text.splitlines()) <= width, (fields, text)

    @pytest.mark.parametrize("width", [60, 100, 200])
    def test_numbers_times_and_durations_are_never_cut(self, job_rows: list[dict[str, Any]], width: int) -> None:
        lines = table_text(job_rows, JOB_FIELDS, width=width).splitlines()
        shown = [t.lower() for t, _ in spans(lines[0]) if t != "…"]
        fixed = [
            f
            for f in shown
            if f in TIME_FIELDS
            or f in DURATION_FIELDS
            or all(isinstance(r[f], (int, float)) or r[f] is None for r in job_rows)
        ]
        assert ("created_at" in fixed) == (width >= 80) and (len(fixed) > 4) == (width >= 200), shown
        for line, row in zip(lines[1 : len(job_rows) + 1], job_rows, strict=True):
            tokens = line.split()
            for f in fixed:
                if row[f] is not None:
                    assert _shown(f, row[f]) in tokens, (f, line)

    def test_no_cell_of_a_fixed_column_ends_in_an_ellipsis(self, job_rows: list[dict[str, Any]]) -> None:
        fields = ("job_type", "created_at", "trained_tokens", "cost", "train_loss", "run_time", "total")
        for width in range(20, 120, 3):  # no text column holds a digit: a digit before … would be a cut number
            lines = table_text(job_rows, fields, width=width).splitlines()
            assert not any(re.search(r"\d…", line) for line in lines[1 : len(job_rows) + 1]), width

    def test_long_text_is_cut_with_an_ellipsis_to_a_prefix(self, job_rows: list[dict[str, Any]]) -> None:
        text = table_text(job_rows, ("id", "status", "created_at"), width=50)
        lines = text.splitlines()
        assert spans(lines[0])[0][0] == "ID"
        for line, row in zip(lines[1 : len(job_rows) + 1], job_rows, strict=True):
            cell = line.split()[0]
            assert cell.endswith("…") and row["id"].startswith(cell[:-1]) and len(cell) >= 16, cell
            assert line.split()[1] == row["status"]

    def test_hidden_columns_are_marked_and_named(self, job_rows: list[dict[str, Any]]) -> None:
        lines = table_text(job_rows, JOB_FIELDS, width=80).splitlines()
        assert lines[0].endswith("…")
        shown = {t.lower() for t, _ in spans(lines[0])} - {"…"}
        hidden = [f for f in JOB_FIELDS if f not in shown]
        assert hidden and {"id", "status", "model"} <= shown
        assert lines[-1].startswith(f"{len(hidden)} more column(s) not shown")
        assert hidden[0] in lines[-1]
        assert len(lines) == len(job_rows) + 2

    def test_no_headers_gives_rows_only_even_when_columns_are_hidden(self, job_rows: list[dict[str, Any]]) -> None:
        lines = table_text(job_rows, JOB_FIELDS, width=80, headers=False).splitlines()
        assert len(lines) == len(job_rows)
        assert lines[0].split()[0].rstrip("…") == job_rows[0]["id"][: len(lines[0].split()[0]) - 1]

    def test_events_keep_job_status_change_and_time_when_narrow(self, folded: Any) -> None:
        rows = [event_row(c) for c in folded.table.events()]
        lines = table_text(rows, EVENT_FIELDS, width=60).splitlines()
        assert [t for t, _ in spans(lines[0])] == ["JOB_ID", "TO_STATUS", "AT", "…"]
        assert [line.split()[-1] for line in lines[1 : len(rows) + 1]] == [
            jobstream.out.sinks.iso(r["at"]) for r in rows
        ]
        lines = table_text(rows, EVENT_FIELDS, width=80).splitlines()
        assert [t for t, _ in spans(lines[0])] == ["JOB_ID", "FROM_STATUS", "TO_STATUS", "AT", "…"]

    def test_wide_characters_count_two_columns(self) -> None:
        rows = [
            {"id": "a", "model": "模型-中文-很长的名字-模型", "status": "SUCCESS"},
            {"id": "b", "model": "open-mistral-7b", "status": "FAILED"},
        ]
        text = table_text(rows, ("id", "model", "status"), width=30)
        lines = text.splitlines()
        assert all(display_width(line) <= 30 for line in lines)
        # the status column starts at the same terminal column on every line
        starts = {
            display_width(line[: line.index(s)]) for line, s in zip(lines[1:3], ("SUCCESS", "FAILED"), strict=True)
        }
        assert len(starts) == 1
        assert "…" in lines[1]

    def test_ascii_output_escapes_before_measuring_and_cuts_with_dots(self) -> None:
        rows = [
            {"id": "x" * 40, "model": "modèle-é", "status": "SUCCESS"},
            {"id": "y", "model": "m", "status": "RUNNING"},
        ]
        buf = io.BytesIO()
        out = io.TextIOWrapper(buf, encoding="ascii", errors="strict")  # strict: nothing unencodable may reach it
        write_table(rows, ("id", "model", "status"), out, width=45)
        out.flush()
        lines = buf.getvalue().decode("ascii").splitlines()
        assert "mod\\xe8le-\\xe9" in lines[1] and lines[1].split()[0].endswith("...")
        assert lines[1].index("SUCCESS") == lines[2].index("RUNNING")
        buf = io.BytesIO()
        out = io.TextIOWrapper(buf, encoding="ascii", errors="strict")
        write_table(rows, ("id", "model", "status"), out, width=32)  # too narrow for the model column
        out.flush()
        lines = buf.getvalue().decode("ascii").splitlines()
        assert lines[0].endswith("...") and max(map(len, lines)) <= 32, lines


def _shown(field: str, value: Any) -> str:
    """A value as a table shows it whole."""
    if field in TIME_FIELDS:
        return str(iso(value))
    if field in DURATION_FIELDS:
        return fmt_secs(value)
    return f"{value:.6g}" if isinstance(value, float) else str(value)


class TestColour:
    ROWS = [
        {"id": f"j{i}", "status": s}
        for i, s in enumerate(["SUCCESS", "FAILED", "FAILED_VALIDATION", "CANCELLED", "RUNNING", "QUEUED", "WEIRD"])
    ]

    def test_each_status_has_its_colour(self) -> None:
        text = table_text(self.ROWS, ("id", "status"), color="always")
        for status, code in [
            ("SUCCESS", "32"),
            ("FAILED", "31"),
            ("FAILED_VALIDATION", "31"),
            ("CANCELLED", "33"),
            ("RUNNING", "34"),
            ("QUEUED", "36"),
        ]:
            assert f"\x1b[{code}m{status}\x1b[0m" in text, status
        assert "WEIRD" in text and "\x1b[" not in text.splitlines()[-1]  # unknown statuses stay plain

    def test_colour_codes_do_not_move_columns(self) -> None:
        rows = [{**r, "n": i * 1000, "model": "m"} for i, r in enumerate(self.ROWS)]
        coloured = table_text(rows, ("id", "status", "n", "model"), color="always", width=40)
        assert coloured != table_text(rows, ("id", "status", "n", "model"), color="never", width=40)
        assert plain(coloured) == table_text(rows, ("id", "status", "n", "model"), color="never", width=40)

    def test_never_and_machine_formats_have_no_colour(self, folded: Any) -> None:
        assert "\x1b" not in table_text(self.ROWS, ("id", "status"), color="never")
        out = io.StringIO()
        jobstream.out.sinks.write_rows(self.ROWS, ("id", "status"), "csv", out, color="always")
        assert "\x1b" not in out.getvalue()
        out = io.StringIO()
        write_summary(folded.table.summary(), "json", out, color="always")
        assert "\x1b" not in out.getvalue()

    def test_control_characters_in_the_data_stay_escaped_when_coloured(self) -> None:
        rows = [{"id": "a\x1b]0;pwned\x07", "status": "RUN\x1b[2J"}, {"id": "b", "status": "SUCCESS"}]
        text = table_text(rows, ("id", "status"), color="always")
        assert "\\x1b]0;pwned\\x07" in text and "RUN\\x1b[2J" in text
        assert "\x07" not in text and SGR.sub("", text).count("\x1b") == 0

    def test_auto_colours_a_terminal_unless_no_color(self, terminal: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setenv("TERM", "xterm")
        assert use_color(terminal, "auto") and not use_color(io.StringIO(), "auto")
        monkeypatch.setenv("NO_COLOR", "")  # present but empty: no effect (no-color.org)
        assert use_color(terminal, "auto")
        monkeypatch.setenv("NO_COLOR", "1")
        assert not use_color(terminal, "auto")
        assert use_color(terminal, "always") and use_color(io.StringIO(), "always")  # an explicit flag wins
        monkeypatch.delenv("NO_COLOR")
        monkeypatch.setenv("TERM", "dumb")
        assert not use_color(terminal, "auto")
        assert not use_color(terminal, "never")
        with pytest.raises(ValueError):
            use_color(terminal, "sometimes")

    def test_the_width_is_the_terminals_only_on_a_terminal(
        self, terminal: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("COLUMNS", "71")
        assert screen_for(terminal).width == 71
        assert screen_for(io.StringIO()).width is None
        assert screen_for(io.StringIO(), width=50).width == 50
        assert screen_for(terminal, width=0).width is None


class TestBar:
    def test_eighths_of_a_column(self) -> None:
        assert bar(8, 8, 10) == "█" * 10
        assert bar(1, 8, 10) == "█▎"  # 1.25 columns
        assert bar(4, 8, 3) == "█▌"
        assert bar(0, 8, 10) == "" and bar(5, 0, 10) == ""

    def test_any_count_above_zero_is_visible(self) -> None:
        assert bar(1, 10_000, 30) == "▏"

    def test_ascii_bars_are_hashes(self) -> None:
        ascii_screen = Screen(encoding="ascii")
        assert bar(8, 8, 10, ascii_screen) == "#" * 10 and bar(1, 1000, 10, ascii_screen) == "#"

    def test_truncate_keeps_a_prefix(self) -> None:
        assert truncate("abcdefgh", 5) == "abcd…"
        assert truncate("abc", 5) == "abc"
        assert truncate("abcdefgh", 5, "...") == "ab..."
