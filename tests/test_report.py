"""The HTML report and the chart files; the report opened in a real headless Chromium."""

from __future__ import annotations

import html.parser
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import TESTS, completion

import jobstream
from jobstream.errors import OutputError
from jobstream.reduce.reducer import JobTable

IN_CI = bool(os.environ.get("CI"))
ARTIFACTS = TESTS / "artifacts"

try:
    import matplotlib  # noqa: F401
except ImportError:  # pragma: no cover - the test extra installs it
    if IN_CI:
        raise
    pytest.skip("matplotlib (jobstream[report]) is not installed", allow_module_level=True)

from jobstream.out import report  # noqa: E402

HOSTILE_ID = '<script>alert("id")</script>'
HOSTILE_MODEL = '"><img src=x onerror=alert(1)> $\\undefinedmacro{x}$ \x1b[31m'
ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "main",
    "h1",
    "h2",
    "p",
    "div",
    "b",
    "span",
    "details",
    "summary",
    "figure",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "br",
    # matplotlib's SVG
    "svg",
    "defs",
    "g",
    "path",
    "use",
    "text",
    "clippath",
    "rect",
}


def _jobs(n: int, gap: int, start: int = 1_700_000_000) -> Iterator[Any]:
    """*n* jobs created *gap* seconds apart, each queued 30 s and running 10 min, every 7th failing."""
    for i in range(n):
        created = start + i * gap
        end = "FAILED" if i % 7 == 3 else "SUCCESS"
        for status, dt in (("QUEUED", 0), ("RUNNING", 30), (end, 630)):
            yield completion(f"job-{i:05d}", status, created + dt, f"model-{i % 3}", created=created)


def _hostile() -> list[Any]:
    return [
        completion(HOSTILE_ID, "QUEUED", 1_800_000_000, HOSTILE_MODEL, created=1_800_000_000),
        completion(
            HOSTILE_ID,
            "RUNNING",
            1_800_000_100,
            HOSTILE_MODEL,
            created=1_800_000_000,
            checkpoints=[
                {"step_number": s, "created_at": 1_800_000_100 + s, "metrics": {"train_loss": 2.0 / s}}
                for s in (1, 2, 3)
            ],
        ),
        completion(
            HOSTILE_ID,
            "SUCCESS",
            1_800_000_900,
            HOSTILE_MODEL,
            created=1_800_000_000,
            trained_tokens=1000,
            metadata={"cost": 1.0, "cost_currency": "<b>EUR</b>"},
        ),
    ]


@pytest.fixture(scope="module")
def page(folded: jobstream.FoldResult) -> str:
    return report.render_report(folded.table, folded.stats, title="Nightly <jobs>")


@pytest.fixture(scope="module")
def hostile_page(folded: jobstream.FoldResult) -> str:
    table = folded.table.copy().update(_hostile())
    return report.render_report(table, folded.stats)


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, Any]]]] = []
        self.text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Any]]) -> None:
        self.tags.append((tag, attrs))
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(text: str) -> _Tags:
    p = _Tags()
    p.feed(text)
    return p


def _table_rows(text: str) -> list[list[str]]:
    body = text[text.index("<tbody>") : text.index("</tbody>")]
    return [
        [re.sub("<[^>]+>", " ", c).strip() for c in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body)
    ]


class TestHtml:
    def test_is_one_self_contained_document(self, page: str) -> None:
        tags = _parse(page).tags
        names = {t for t, _ in tags}
        assert "script" not in names and "link" not in names and "img" not in names and "iframe" not in names
        for _, attrs in tags:
            for key, value in attrs:
                if key in ("src", "href", "xlink:href", "action"):
                    assert value.startswith(("#", "data:")), (key, value)
        assert not re.search(r"url\((?!#)", page), "a url() to anything but an in-page id"
        assert "@import" not in page
        # a Content-Security-Policy forbids any fetch or script, should anything slip in later
        assert "default-src 'none'" in page

    def test_has_every_section_with_its_chart(self, page: str, folded: jobstream.FoldResult) -> None:
        labels = re.findall(r'<svg role="img" aria-label="([^"]+)" class="chart"', page)
        assert labels == ["timeline-01", "finished", "durations", "cost tokens", "training curves"]
        for section in ("timeline", "finished", "durations", "cost", "curves", "summary"):
            assert f'<h2 id="{section}">' in page
        assert "<title>Nightly &lt;jobs&gt;</title>" in page

    def test_timeline_has_a_label_per_job(self, page: str, folded: jobstream.FoldResult) -> None:
        svg = page[page.index('aria-label="timeline-01"') :]
        svg = svg[: svg.index("</svg>")]
        for job in folded.table.jobs():
            assert job.id[:11] in svg

    def test_summary_table_matches_the_summary(self, page: str, folded: jobstream.FoldResult) -> None:
        s = folded.table.summary(by="model")
        rows = _table_rows(page)
        assert [r[0] for r in rows] == [*s.groups, "all models"]
        for r, g in zip(rows, [*s.groups.values(), s], strict=True):
            assert int(r[1].replace(",", "")) == g.jobs
            assert int(r[2].replace(",", "")) == g.finished
            assert int(r[9].replace(",", "")) == g.trained_tokens
            for currency, v in g.cost.items():
                assert f"{v:,.2f} {currency}" in r[10]

    def test_untrusted_names_are_escaped_everywhere(self, hostile_page: str) -> None:
        parsed = _parse(hostile_page)
        assert {t for t, _ in parsed.tags} <= ALLOWED_TAGS
        assert HOSTILE_ID not in hostile_page and "<img" not in hostile_page and "<b>EUR" not in hostile_page
        text = "".join(parsed.text)
        assert '"><img src=x onerror=alert(1)>' in text  # shown as text, in the summary table
        assert "<b>EUR</b>" in text
        assert "\x1b" not in hostile_page and "\\x1b" in text  # control characters made visible
        assert "&lt;script&gt;" in hostile_page  # the id on the timeline, as SVG text

    def test_many_jobs_are_paged_newest_first(self) -> None:
        table = jobstream.fold(_jobs(250, gap=120))
        text = report.render_report(table, max_jobs=220)
        pages = re.findall(r'<details id="(timeline-\d+)"( open)?>', text)
        assert [p[0] for p in pages] == ["timeline-01", "timeline-02", "timeline-03"]
        assert [bool(p[1]) for p in pages] == [True, False, False]  # only the newest page is open
        assert "The newest 220 of 250 jobs" in text
        first = text[text.index('aria-label="timeline-01"') :]
        first = first[: first.index("</svg>")]
        assert "job-00249" in first and "job-00150" in first and "job-00149" not in first
        last = text[text.index('aria-label="timeline-03"') :]
        last = last[: last.index("</svg>")]
        assert "job-00030" in last and "job-00029" not in last  # the 20 oldest are beyond max_jobs
        assert int(_table_rows(text)[-1][1]) == 250  # the aggregates still count every job

    def test_timeline_uses_calendar_time_when_jobs_overlap(self) -> None:
        dense = report.render_report(jobstream.fold(_jobs(30, gap=60)))
        sparse = report.render_report(jobstream.fold(_jobs(30, gap=86400)))
        assert "newest first (UTC)" in dense and "each from its creation" not in dense
        assert "each from its creation; UTC" in sparse

    def test_a_selection_limits_every_section(self, folded: jobstream.FoldResult) -> None:
        failed = [j for j in folded.table.jobs() if j.status in ("FAILED", "CANCELLED")]
        text = report.render_report(folded.table, jobs=failed)
        rows = _table_rows(text)
        assert int(rows[-1][1]) == len(failed) and len(failed) >= 2
        timeline = text[text.index('aria-label="timeline-01"') :]
        timeline = timeline[: timeline.index("</svg>")]
        for j in folded.table.jobs():
            assert (j.id[:11] in timeline) == (j in failed)

    def test_empty_table_still_renders(self) -> None:
        text = report.render_report(JobTable())
        assert "No jobs." in text and "no job has finished" in text

    def test_bad_limits_are_value_errors(self, folded: jobstream.FoldResult) -> None:
        with pytest.raises(ValueError, match="max_jobs"):
            report.render_report(folded.table, max_jobs=0)


class TestFiles:
    def test_write_report_is_atomic_and_refuses_an_input(
        self, folded: jobstream.FoldResult, tmp_path: Path, small_log: Path
    ) -> None:
        out = tmp_path / "report.html"
        report.write_report(folded.table, folded.stats, str(out), title="t")
        assert out.read_text().startswith("<!DOCTYPE html>")
        assert os.listdir(tmp_path) == ["report.html"]
        before = small_log.read_bytes()[:100]
        with pytest.raises(OutputError, match="refusing to overwrite input"):
            report.write_report(folded.table, None, str(small_log), protect=[str(small_log)])
        assert small_log.read_bytes()[:100] == before

    @pytest.mark.parametrize("fmt", ["png", "svg"])
    def test_write_charts(self, folded: jobstream.FoldResult, tmp_path: Path, fmt: str) -> None:
        out = tmp_path / "charts"
        paths = report.write_charts(folded.table, folded.stats, str(out), fmt)
        names = sorted(os.listdir(out))
        assert names == sorted(
            f"{n}.{fmt}" for n in ("finished", "durations", "cost_tokens", "timeline-01", "training_curves")
        )
        assert sorted(os.path.basename(p) for p in paths) == names
        for p in paths:
            data = Path(p).read_bytes()
            assert len(data) > 5000
            if fmt == "png":
                assert data.startswith(b"\x89PNG\r\n\x1a\n")
            else:
                root = ET.fromstring(data)
                assert root.tag == "{http://www.w3.org/2000/svg}svg"
                assert root.findall(".//{http://www.w3.org/2000/svg}text")

    def test_write_charts_checks_its_arguments(self, folded: jobstream.FoldResult, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="png, svg"):
            report.write_charts(folded.table, None, str(tmp_path), "gif")
        afile = tmp_path / "file"
        afile.write_text("x")
        with pytest.raises(OutputError, match="not a directory"):
            report.write_charts(folded.table, None, str(afile))


class TestImport:
    def test_importing_jobstream_does_not_import_matplotlib(self) -> None:
        code = "import jobstream, jobstream.out.report, sys; assert 'matplotlib' not in sys.modules"
        subprocess.run([sys.executable, "-c", code], check=True)

    def test_missing_matplotlib_names_the_extra(self) -> None:
        code = (
            "import sys; sys.modules['matplotlib'] = None\n"
            "import jobstream.out.report as r\n"
            "try:\n    r.render_report(jobstream.JobTable())\n"
            "except ImportError as e:\n    print(e)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", "import jobstream\n" + code], check=True, capture_output=True, text=True
        ).stdout
        assert "pip install 'jobstream[report]'" in out


# --------------------------------------------------------------------------- real browser


def _chromium() -> str:
    from chromium import find_chromium

    path = find_chromium()
    if path is None:
        if IN_CI:
            pytest.fail("Chromium is not installed: .ci/run must install it (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sys.path.insert(0, str(TESTS))
    try:
        from chromium import Chromium

        with Chromium(_chromium(), width=1280, height=900) as b:
            yield b
    finally:
        sys.path.remove(str(TESTS))


_CHARTS_JS = """
(() => {
  const out = [];
  for (const svg of document.querySelectorAll('svg.chart')) {
    const r = svg.getBoundingClientRect();
    out.push({label: svg.getAttribute('aria-label'), width: r.width, height: r.height,
              texts: svg.querySelectorAll('text').length, paths: svg.querySelectorAll('path').length,
              visible: svg.checkVisibility()});
  }
  return out;
})()
"""


def _open_and_check(browser: Any, path: Path, labels: list[str]) -> list[dict[str, Any]]:
    """Open *path*; every chart present with its *labels*, drawn, sized, and nothing went wrong."""
    browser.open(path.as_uri())
    assert browser.evaluate("document.readyState") == "complete"
    charts: list[dict[str, Any]] = browser.evaluate(_CHARTS_JS)
    assert [c["label"] for c in charts] == labels
    for c in charts:
        assert c["texts"] > 5 and c["paths"] > 5, c
        if c["label"] in ("timeline-01", "finished", "durations", "cost tokens", "training curves"):
            assert c["visible"] and c["width"] > 600 and c["height"] > 150, c
    problems = browser.problems()
    assert problems == [], problems
    assert not any(ev["method"] == "Page.javascriptDialogOpening" for ev in browser.events)
    assert browser.requests() == [path.as_uri()]  # nothing fetched but the file itself
    return charts


def test_report_with_pages_and_hostile_names_renders_in_chromium(
    browser: Any, folded: jobstream.FoldResult, tmp_path: Path
) -> None:
    table = folded.table.copy().update(_hostile()).update(_jobs(159, gap=90))
    path = tmp_path / "report.html"
    report.write_report(table, folded.stats, str(path), title="jobstream report")
    charts = _open_and_check(
        browser, path, ["timeline-01", "timeline-02", "finished", "durations", "cost tokens", "training curves"]
    )
    assert not next(c for c in charts if c["label"] == "timeline-02")["visible"]  # a closed page

    # opening the second page shows its chart
    browser.evaluate("document.getElementById('timeline-02').open = true")
    page2 = next(c for c in browser.evaluate(_CHARTS_JS) if c["label"] == "timeline-02")
    assert page2["visible"] and page2["width"] > 600 and page2["height"] > 1000

    # untrusted names are text on the page, never markup
    body = browser.evaluate("document.body.innerText")
    assert '"><img src=x onerror=alert(1)>' in body and "<b>EUR</b>" in body
    assert browser.evaluate("document.querySelectorAll('img, script, iframe, object, embed, b b').length") == 0
    svg_text = browser.evaluate("[...document.querySelectorAll('svg text')].map(t => t.textContent).join('\\n')")
    assert "<script>ale" in svg_text  # the job id (cut to 12), drawn as text on the timeline
    assert browser.problems() == []


def test_report_screenshot(browser: Any, folded: jobstream.FoldResult, tmp_path: Path) -> None:
    """The report of the generated 40-job log, saved to tests/artifacts/report.png for people to look at."""
    path = tmp_path / "report.html"
    report.write_report(folded.table, folded.stats, str(path), title="Fine-tuning jobs")
    _open_and_check(browser, path, ["timeline-01", "finished", "durations", "cost tokens", "training curves"])
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    data = browser.screenshot(str(shot))
    assert data.startswith(b"\x89PNG") and shot.stat().st_size > 50_000


def test_chromium_is_found_where_ci_installs_it() -> None:
    # .ci/run installs Debian's chromium; this is where the report test looks for it
    if IN_CI:
        assert shutil.which("chromium"), "chromium is not on PATH in CI"
    ci = (TESTS.parent / ".ci" / "run").read_text()
    assert re.search(r"^[^#]*apt-get .*install .*\bchromium\b", ci, re.M)


def test_the_browser_check_sees_errors_and_requests(browser: Any, tmp_path: Path) -> None:
    # the checks above pass only because nothing went wrong: a page with a script error and a
    # blocked request must show up in problems() and requests()
    path = tmp_path / "bad.html"
    path.write_text(
        "<!DOCTYPE html><html><body><script>console.error('boom'); undefinedCall();</script>"
        "<img src='http://127.0.0.1:9/nothing.png'></body></html>"
    )
    browser.open(path.as_uri())
    problems = browser.problems()
    assert any("boom" in p for p in problems) and any("undefinedCall" in p for p in problems)
    assert "http://127.0.0.1:9/nothing.png" in browser.requests()
