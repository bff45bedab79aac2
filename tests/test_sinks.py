"""The writers (``jobstream.out.sinks``): the summary as a table, live events as they arrive, and
the machine formats' details.  Table width and colour are in test_layout.py."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import T0, job, plain, poll, run_jobstream

import jobstream
from jobstream.exports import export
from jobstream.out.layout import display_width
from jobstream.out.sinks import BAR_WIDTH, EVENT_FIELDS, EventWriter, Output, write_summary
from jobstream.reduce.reducer import StatusChange
from jobstream.reduce.summary import Summary


def _summary_text(summary: Summary, **kw: Any) -> str:
    out = io.StringIO()
    write_summary(summary, "table", out, **kw)
    return out.getvalue()


BAR_LINE = re.compile(r"^  (?P<name>.+?)\s+(?P<n>\d+)(  (?P<bar>[█▏▎▍▌▋▊▉]+))?$")


class TestSummaryTable:
    def test_bars_scale_to_the_largest_count_of_each_section(self, folded: Any) -> None:
        s = folded.table.summary()
        lines = _summary_text(s).splitlines()
        for title, counts in (("by status", s.by_status), ("by job type", s.by_job_type), ("by model", s.by_model)):
            start = lines.index(title) + 1
            top = max(counts.values())
            for line in lines[start : start + len(counts)]:
                m = BAR_LINE.match(line)
                assert m and m.group("bar"), line
                n = int(m.group("n"))
                assert counts[m.group("name")] == n
                drawn = m.group("bar")
                cells = drawn.count("█") + " ▏▎▍▌▋▊▉".index(drawn[-1]) / 8 if drawn[-1] != "█" else len(drawn)
                exact = n / top * BAR_WIDTH
                assert exact - 1 / 8 < cells <= exact or cells == 1 / 8 > exact, (line, exact)  # eighths, rounded down
                if n == top:
                    assert m.group("bar") == "█" * BAR_WIDTH

    @pytest.mark.parametrize("width", [40, 60, 80, 100, 200])
    def test_fits_the_width_and_keeps_every_count(self, width: int) -> None:
        long = "ft:open-mistral-7b:a-very-long-organisation-name:20250101:abcdef"
        s = Summary(
            jobs=13,
            observations=40,
            by_status={"SUCCESS": 10, "FAILED": 3},
            by_job_type={"completion": 13},
            by_model={long: 12, "open-mistral-7b": 1},
            trained_tokens=123456789,
            cost={c: 1234.5 for c in ("USD", "EUR", "GBP", "JPY", "CHF")},
        )
        lines = _summary_text(s, width=width).splitlines()
        assert max(display_width(line) for line in lines) <= width, "\n".join(lines)
        models = [BAR_LINE.match(line) for line in lines[lines.index("by model") + 1 :][:2]]
        assert [int(m.group("n")) for m in models if m] == [12, 1]
        name = models[0].group("name") if models[0] else ""
        assert name == long or (name.endswith("…") and long.startswith(name[:-1]))
        cost = "\n".join(lines[lines.index(next(x for x in lines if x.startswith("cost"))) :])
        assert cost.count("1,234.50") == 5  # currencies wrap between items, never inside one

    def test_durations_header_sits_over_its_values(self, folded: Any) -> None:
        lines = _summary_text(folded.table.summary()).splitlines()
        head = next(line for line in lines if line.startswith("durations"))
        row = next(line for line in lines if line.startswith("  queue wait"))
        assert head.index("p50") + 3 == re.search(r"\S+", row[12:]).end() + 12  # type: ignore[union-attr]
        assert len(head) == len(row) or head.endswith("jobs")

    def test_statuses_are_coloured_with_their_bars(self, folded: Any) -> None:
        text = _summary_text(folded.table.summary(), color="always")
        assert re.search(r"\x1b\[32mSUCCESS\x1b\[0m +\d+  \x1b\[32m█+", text)
        assert plain(text) == _summary_text(folded.table.summary(), color="never")

    def test_by_table_fits_and_right_aligns_its_figures(self, folded: Any) -> None:
        s = folded.table.summary(by="model")
        full = _summary_text(s).splitlines()
        assert full[0].split()[:2] == ["MODEL", "JOBS"]
        jobs_end = full[0].index("JOBS") + 4
        assert all(line[jobs_end - 1] != " " for line in full[1 : len(s.groups) + 2])  # right-aligned under JOBS
        for width in (60, 100):
            lines = _summary_text(s, width=width).splitlines()
            assert max(display_width(line) for line in lines) <= width
            assert lines[0].endswith("…") == (width < len(full[0]))
            assert [line.split()[-4:] for line in lines[1 : len(s.groups) + 2]] != []
            total = next(line for line in lines if line.startswith("(total)"))
            assert total.split()[1] == str(s.jobs)

    def test_by_status_colours_the_groups_but_not_the_total(self, folded: Any) -> None:
        text = _summary_text(folded.table.summary(by="status"), color="always")
        assert "\x1b[32mSUCCESS\x1b[0m" in text
        assert "\x1b" not in next(line for line in text.splitlines() if line.startswith("(total)"))


class TestEventWriter:
    CHANGES = [
        StatusChange("6b2da88a-d322-4f52-b7d2-e210a27d3c5b", "completion", "open-mistral-7b", None, "QUEUED", T0),
        StatusChange(
            "6b2da88a-d322-4f52-b7d2-e210a27d3c5b", "completion", "open-mistral-7b", "RUNNING", "SUCCESS", T0 + 60
        ),
        StatusChange("b", "classifier", None, "RUNNING", "CANCELLATION_REQUESTED", T0 + 61),
    ]

    def lines(self, **kw: Any) -> list[str]:
        out = io.StringIO()
        w = EventWriter(out, "table", **kw)
        w.start()
        for c in self.CHANGES:
            w.write(c)
        w.close()
        return out.getvalue().splitlines()

    def test_a_pipe_keeps_the_fixed_full_columns(self) -> None:
        lines = self.lines()
        assert lines[0].split() == [f.upper() for f in EVENT_FIELDS]
        assert lines[2].index("SUCCESS") == 38 + 12 + 22 + 19
        assert "CANCELLATION_REQUESTED" in lines[3]  # never cut without a width

    @pytest.mark.parametrize("width", [60, 80, 100, 200])
    def test_lines_fit_the_terminal_and_times_stay_whole(self, width: int) -> None:
        lines = self.lines(width=width)
        assert max(len(line) for line in lines) <= width
        assert lines[0].endswith("…") == (width < 130)
        for line, c in zip(lines[1:], self.CHANGES, strict=True):
            assert line.endswith(jobstream.out.sinks.iso(c.at))
            assert line.startswith(c.job_id[:15])

    def test_statuses_are_coloured(self) -> None:
        lines = self.lines(width=100, color="always")
        assert "\x1b[34mRUNNING\x1b[0m" in lines[2] and "\x1b[32mSUCCESS\x1b[0m" in lines[2]
        assert [plain(line) for line in lines] == self.lines(width=100, color="never")


def test_event_writer_flushes_every_format() -> None:
    import io

    change = StatusChange("a", "completion", None, None, "QUEUED", T0)
    for fmt, expected in [
        (
            "ndjson",
            '{"job_id":"a","job_type":"completion","model":null,"from_status":null,"to_status":"QUEUED","at":1750000000}\n',
        ),
        ("csv", "job_id,job_type,model,from_status,to_status,at\na,completion,,,QUEUED,1750000000\n"),
        (
            "json",
            '[\n{"job_id":"a","job_type":"completion","model":null,"from_status":null,"to_status":"QUEUED","at":1750000000}\n]\n',
        ),
    ]:
        buf = io.StringIO()
        w = EventWriter(buf, fmt)
        w.start()
        w.write(change)
        w.close()
        assert buf.getvalue() == expected, fmt


def test_csv_safe_quotes_formula_cells(tmp_path: Path) -> None:
    path = tmp_path / "f.ndjson"
    path.write_bytes(job(1, model='=HYPERLINK("http://x")') + b"\n")
    plain = run_jobstream("jobs", path, "-f", "csv").stdout.decode()
    safe = run_jobstream("jobs", path, "-f", "csv", "--csv-safe").stdout.decode()
    assert ',"=HYPERLINK' in plain and ",\"'=HYPERLINK" in safe


def test_an_output_and_the_rejects_file_are_fsynced_with_their_directory(tmp_path: Path, monkeypatch: Any) -> None:
    """-o and --errors promise durability: the data is fsynced before the rename that publishes
    it, and the directory after it (so the rename itself survives a power cut)."""
    log = tmp_path / "in.ndjson"
    log.write_bytes(poll("a", "QUEUED", 1700000001) + b"\n{bad\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    synced: list[tuple[str, bool]] = []  # (what was fsynced, whether its final name existed then)
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        synced.append((target, os.path.exists(out_dir / "jobs.csv") and os.path.exists(out_dir / "rejects.ndjson")))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    export(
        "jobs",
        [str(log)],
        output=Output(path=str(out_dir / "jobs.csv"), format="csv"),
        errors_path=str(out_dir / "rejects.ndjson"),
    )
    files = [t for t, _ in synced if os.path.dirname(t) == str(out_dir)]
    assert len(files) >= 2, synced  # both temp files
    assert all(not published for t, published in synced if t in files)  # fsynced before the rename
    assert str(out_dir) in [t for t, _ in synced], synced  # and the directory
    assert (out_dir / "jobs.csv").read_text().startswith("id,")
    assert b"{bad" in (out_dir / "rejects.ndjson").read_bytes()
