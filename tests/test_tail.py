"""`jobstream tail` and jobstream.run.follow: live status changes from growing files and pipes.

CLI tests run the real command in a subprocess on files in a temp dir that this process
writes; every wait is bounded (select with a deadline), none sleeps longer than needed.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobstream.decode.models import JobView
from jobstream.out.sinks import EventWriter
from jobstream.reduce.changes import ChangeFeed
from jobstream.reduce.filters import Selection
from jobstream.reduce.reducer import StatusChange
from jobstream.run.follow import Follower

WAIT = 10.0  # upper bound of any wait for output; a passing test waits far less
T0 = 1_750_000_000


def snap(
    job_id: str,
    status: str,
    t: int,
    *,
    job_type: str = "completion",
    model: str = "open-mistral-7b",
    events: list[tuple[str, int]] | None = None,
) -> bytes:
    """One snapshot line, as a poller would append it."""
    obj: dict[str, Any] = {
        "id": job_id,
        "object": "job",
        "job_type": job_type,
        "model": model,
        "status": status,
        "created_at": T0,
        "modified_at": t,
    }
    if events is not None:
        obj["events"] = [{"name": "status-updated", "data": {"status": s}, "created_at": at} for s, at in events]
    return orjson.dumps(obj) + b"\n"


def view(job_id: str, status: str, t: int, **kw: Any) -> JobView:
    import msgspec

    return msgspec.json.decode(snap(job_id, status, t, **kw), type=JobView)


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


# --------------------------------------------------------------------------- subprocess helpers


class Pipe:
    """Lines from a child's stdout or stderr, read with bounded waits."""

    def __init__(self, stream: Any) -> None:
        self.fd = stream.fileno()
        self.buf = b""
        self.lines: list[str] = []
        self.history: list[str] = []  # every line read, consumed or not
        self.eof = False

    def _fill(self, deadline: float) -> bool:
        timeout = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        data = os.read(self.fd, 65536)
        if not data:
            self.eof = True
            return False
        self.buf += data
        *complete, self.buf = self.buf.split(b"\n")
        self.lines.extend(line.decode() for line in complete)
        self.history.extend(line.decode() for line in complete)
        return True

    def take(self, n: int, timeout: float = WAIT) -> list[str]:
        """The next *n* lines; fails if they do not arrive within *timeout*."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < n and not self.eof and time.monotonic() < deadline:
            self._fill(deadline)
        got, self.lines = self.lines[:n], self.lines[n:]
        assert len(got) == n, f"expected {n} line(s), got {got!r} (partial: {self.buf!r})"
        return got

    def wait_for(self, text: str, timeout: float = WAIT) -> str:
        """Consume lines up to and including the first one containing *text*."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            while self.lines:
                line = self.lines.pop(0)
                seen.append(line)
                if text in line:
                    return line
            if self.eof or time.monotonic() >= deadline:
                raise AssertionError(f"{text!r} not seen within {timeout}s; got {seen!r}")
            self._fill(deadline)

    def quiet(self, for_seconds: float) -> list[str]:
        """Whatever arrives in *for_seconds* (to check that nothing does)."""
        deadline = time.monotonic() + for_seconds
        while not self.eof and time.monotonic() < deadline:
            self._fill(deadline)
        got, self.lines = self.lines, []
        return got

    def rest(self, timeout: float = WAIT) -> tuple[list[str], bytes]:
        """Everything up to EOF: complete lines and any unterminated tail."""
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._fill(deadline)
        got, self.lines = self.lines, []
        return got, self.buf


class Tail:
    """`jobstream tail ...` running in a subprocess, ready (its existing content read) on return."""

    def __init__(self, *args: str, stdin: Any = subprocess.DEVNULL, ready: bool = True) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobstream", "tail", "-v", *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.out = Pipe(self.proc.stdout)
        self.err = Pipe(self.proc.stderr)
        if ready:
            self.err.wait_for("jobstream: following")

    def events(self, n: int) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.out.take(n)]

    def finish(self, timeout: float = WAIT) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)
        for stream in (self.proc.stdout, self.proc.stderr, self.proc.stdin):
            if stream is not None:
                stream.close()


@pytest.fixture
def tails() -> Any:
    started: list[Tail] = []

    def start(*args: str, **kw: Any) -> Tail:
        t = Tail(*args, **kw)
        started.append(t)
        return t

    yield start
    for t in started:
        t.close()


def brief(ev: dict[str, Any]) -> tuple[str, str | None, str]:
    return ev["job_id"], ev["from_status"], ev["to_status"]


# --------------------------------------------------------------------------- CLI: files


class TestTailFiles:
    def test_appended_snapshots_print_each_status_change(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log), "-f", "ndjson")
        append(log, snap("a", "QUEUED", T0))
        assert brief(t.events(1)[0]) == ("a", None, "QUEUED")
        append(log, snap("a", "RUNNING", T0 + 5) + snap("a", "RUNNING", T0 + 10) + snap("a", "SUCCESS", T0 + 20))
        assert [brief(e) for e in t.events(2)] == [("a", "QUEUED", "RUNNING"), ("a", "RUNNING", "SUCCESS")]
        assert t.out.quiet(0.2) == []

    def test_partial_line_is_held_until_its_newline(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log))
        line = snap("a", "QUEUED", T0)
        append(log, line[:25])
        assert t.out.quiet(0.3) == []
        append(log, line[25:])
        assert brief(t.events(1)[0]) == ("a", None, "QUEUED")
        assert t.err.quiet(0.05) == []  # no reject for the half line

    @pytest.mark.parametrize("mode", ["inotify", "poll"])
    def test_rename_rotation_reads_the_old_file_to_its_end_then_the_new_one(
        self, tmp_path: Path, tails: Any, mode: str
    ) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log), *(["--poll"] if mode == "poll" else []))
        with open(log, "ab", buffering=0) as old:
            old.write(snap("a", "QUEUED", T0))
            assert brief(t.events(1)[0]) == ("a", None, "QUEUED")
            os.rename(log, tmp_path / "jobs.ndjson.1")
            old.write(snap("a", "RUNNING", T0 + 1))  # the writer has not reopened yet
        log.write_bytes(snap("b", "QUEUED", T0 + 2))
        assert [brief(e) for e in t.events(2)] == [("a", "QUEUED", "RUNNING"), ("b", None, "QUEUED")]
        append(log, snap("b", "RUNNING", T0 + 3))
        assert brief(t.events(1)[0]) == ("b", "QUEUED", "RUNNING")
        t.err.wait_for("replaced")

    @pytest.mark.parametrize("mode", ["inotify", "poll"])
    def test_copytruncate_starts_again_from_the_top(self, tmp_path: Path, tails: Any, mode: str) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(snap("a", "QUEUED", T0) + snap("a", "RUNNING", T0 + 1))
        t = tails(str(log), *(["--poll"] if mode == "poll" else []))
        append(log, snap("a", "SUCCESS", T0 + 9))
        assert brief(t.events(1)[0]) == ("a", "RUNNING", "SUCCESS")
        (tmp_path / "jobs.ndjson.1").write_bytes(log.read_bytes())  # copy, then truncate in place
        with open(log, "r+b") as fh:
            fh.truncate(0)
        append(log, snap("b", "QUEUED", T0 + 10))
        assert brief(t.events(1)[0]) == ("b", None, "QUEUED")
        t.err.wait_for("truncated")
        # a truncate-and-regrow past the old position, seen only afterwards, is noticed too
        with open(log, "r+b") as fh:
            fh.truncate(0)
            fh.write(snap("c", "QUEUED", T0 + 11) * 3 + snap("c", "RUNNING", T0 + 12))
        assert [brief(e) for e in t.events(2)] == [("c", None, "QUEUED"), ("c", "QUEUED", "RUNNING")]
        assert t.out.quiet(0.1) == []  # nothing re-reported for a or b

    def test_a_file_created_after_tail_started_is_followed_from_its_start(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "later.ndjson"
        nested = tmp_path / "not" / "yet" / "jobs.ndjson"  # its directory does not exist either
        t = tails(str(log), str(nested))
        assert sum("does not exist (yet); waiting" in line for line in t.err.history) == 2
        log.write_bytes(snap("a", "QUEUED", T0) + snap("a", "RUNNING", T0 + 1))
        assert [brief(e) for e in t.events(2)] == [("a", None, "QUEUED"), ("a", "QUEUED", "RUNNING")]
        nested.parent.mkdir(parents=True)
        nested.write_bytes(snap("b", "QUEUED", T0))
        assert brief(t.events(1)[0]) == ("b", None, "QUEUED")

    def test_default_start_knows_existing_jobs_and_from_start_replays_them(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(snap("a", "QUEUED", T0) + snap("a", "RUNNING", T0 + 1))
        live = tails(str(log))
        replay = tails(str(log), "--from-start")
        assert [brief(e) for e in replay.events(2)] == [("a", None, "QUEUED"), ("a", "QUEUED", "RUNNING")]
        append(log, snap("a", "RUNNING", T0 + 30) + snap("a", "FAILED", T0 + 40))
        assert [brief(e) for e in live.events(1)] == [("a", "RUNNING", "FAILED")]
        assert [brief(e) for e in replay.events(1)] == [("a", "RUNNING", "FAILED")]
        assert live.out.quiet(0.1) == [] and replay.out.quiet(0.05) == []

    def test_late_older_snapshot_prints_nothing(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log))
        append(log, snap("a", "RUNNING", T0 + 10))
        assert brief(t.events(1)[0]) == ("a", None, "RUNNING")
        append(log, snap("a", "QUEUED", T0) + snap("a", "SUCCESS", T0 + 20))
        assert [brief(e) for e in t.events(1)] == [("a", "RUNNING", "SUCCESS")]

    def test_bad_line_is_reported_and_following_goes_on(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        errors = tmp_path / "rejects.ndjson"
        log.write_bytes(b'{"broken": \n')  # in the existing content: counted, not listed
        t = tails(str(log), "--errors", str(errors))
        assert any("1 line(s) of the existing content rejected" in line for line in t.err.history)
        append(log, b'{"id": "x", "status": 3}\n' + snap("a", "QUEUED", T0))
        assert brief(t.events(1)[0]) == ("a", None, "QUEUED")
        assert f"{log}:2:" in t.err.wait_for("jobs.ndjson:2")
        rejects = [orjson.loads(line) for line in errors.read_bytes().splitlines()]
        assert [(r["line"], r["raw"]) for r in rejects] == [(2, '{"id": "x", "status": 3}')]

    def test_filters_select_the_printed_changes(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log), "--status", "FAILED", "--model", "open-mistral-7b")
        append(
            log,
            snap("a", "QUEUED", T0) + snap("b", "FAILED", T0, model="codestral-latest") + snap("c", "FAILED", T0 + 1),
        )
        assert [brief(e) for e in t.events(1)] == [("c", None, "FAILED")]

    def test_table_format_prints_one_aligned_line_per_event(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log), "-f", "table")
        assert t.out.take(1)[0].split() == ["JOB_ID", "JOB_TYPE", "MODEL", "FROM_STATUS", "TO_STATUS", "AT"]
        append(log, snap("a", "QUEUED", T0))
        line = t.out.take(1)[0]
        assert line.split() == ["a", "completion", "open-mistral-7b", "QUEUED", "2025-06-15T15:06:40Z"]
        assert line.index("QUEUED") == line.index("a") + 38 + 12 + 22 + 19

    def test_tail_of_a_directory_is_a_usage_error(self, tmp_path: Path) -> None:
        r = subprocess.run(
            [sys.executable, "-m", "jobstream", "tail", str(tmp_path)], capture_output=True, timeout=WAIT
        )
        assert r.returncode == 2 and b"is a directory" in r.stderr


# --------------------------------------------------------------------------- CLI: stdin, ending


class TestTailEnding:
    def test_stdin_pipe_is_followed_until_eof(self, tails: Any) -> None:
        t = tails("-", stdin=subprocess.PIPE)
        assert t.proc.stdin is not None
        t.proc.stdin.write(snap("a", "QUEUED", T0)[:10])
        t.proc.stdin.flush()
        t.proc.stdin.write(snap("a", "QUEUED", T0)[10:])
        t.proc.stdin.flush()
        assert brief(t.events(1)[0]) == ("a", None, "QUEUED")  # live, before EOF
        t.proc.stdin.write(b"not json\n")
        t.proc.stdin.write(snap("a", "RUNNING", T0 + 1).rstrip(b"\n"))  # last line without newline
        t.proc.stdin.close()
        assert brief(t.events(1)[0]) == ("a", "QUEUED", "RUNNING")
        assert "<stdin>:2: " in t.err.wait_for("<stdin>")
        assert t.finish() == 0

    @pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
    def test_signal_ends_cleanly_sigterm_0_and_ctrl_c_130(
        self, tmp_path: Path, tails: Any, sig: int, code: int
    ) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log))
        append(log, snap("a", "QUEUED", T0))
        t.events(1)
        t.proc.send_signal(sig)
        assert t.proc.wait(WAIT) == code
        lines, partial = t.out.rest()
        assert lines == [] and partial == b""
        assert "Aborted" not in "\n".join(t.err.rest()[0])

    def test_sigint_during_a_flood_leaves_no_half_printed_line(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log))
        append(log, b"".join(snap(f"job-{i}", "QUEUED", T0 + i) for i in range(20000)))
        t.out.take(50)
        t.proc.send_signal(signal.SIGINT)
        assert t.proc.wait(WAIT) == 130
        lines, partial = t.out.rest()
        assert partial == b""
        assert 50 + len(lines) < 20000  # it stopped mid-flood
        assert all(orjson.loads(line)["to_status"] == "QUEUED" for line in lines)

    def test_exit_on_terminal_ends_when_every_followed_job_is_terminal(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(snap("done", "SUCCESS", T0))
        t = tails(str(log), "--exit-on-terminal", "--job", "a", "--job", "b")
        append(log, snap("a", "RUNNING", T0) + snap("a", "SUCCESS", T0 + 1))
        assert [brief(e) for e in t.events(2)] == [("a", None, "RUNNING"), ("a", "RUNNING", "SUCCESS")]
        assert t.proc.poll() is None  # b not seen yet
        append(log, snap("b", "RUNNING", T0) + snap("x", "RUNNING", T0))
        assert brief(t.events(1)[0]) == ("b", None, "RUNNING")
        assert t.proc.poll() is None
        append(log, snap("b", "CANCELLED", T0 + 2))
        assert brief(t.events(1)[0]) == ("b", "RUNNING", "CANCELLED")
        assert t.finish() == 0

    def test_exit_on_terminal_with_everything_finished_ends_at_once(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(snap("a", "RUNNING", T0) + snap("a", "SUCCESS", T0 + 1))
        t = tails(str(log), "--exit-on-terminal", ready=False)
        assert t.finish() == 0

    @pytest.mark.parametrize("final,code", [("SUCCESS", 0), ("FAILED", 3), ("CANCELLED", 3)])
    def test_exit_status_tells_ci_how_the_jobs_ended(self, tmp_path: Path, tails: Any, final: str, code: int) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(snap("a", "SUCCESS", T0 + 1))
        t = tails(str(log), "--exit-on-terminal", "--exit-status", "--job", "a", "--job", "b")
        append(log, snap("b", "RUNNING", T0) + snap("b", final, T0 + 2))
        assert [brief(e) for e in t.events(2)] == [("b", None, "RUNNING"), ("b", "RUNNING", final)]
        assert t.finish() == code

    def test_exit_status_without_exit_on_terminal_is_a_usage_error(self, tmp_path: Path) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        proc = subprocess.run(
            [sys.executable, "-m", "jobstream", "tail", str(log), "--exit-status"], capture_output=True, timeout=WAIT
        )
        assert proc.returncode == 2 and b"--exit-on-terminal" in proc.stderr

    def test_exec_runs_a_command_per_event_with_json_on_stdin(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        out = tmp_path / "seen.ndjson"
        script = tmp_path / "hook.py"
        script.write_text(
            "import os, sys\n"
            "data = sys.stdin.buffer.read()\n"
            "with open(sys.argv[1], 'ab') as fh:\n"
            "    fh.write(os.environ['JOBSTREAM_TO_STATUS'].encode() + b' ' + data)\n"
        )
        evil = "a; touch pwned $(touch pwned2)"
        t = tails(str(log), "--exec", f"{sys.executable} {script} '{out}'")
        append(log, snap(evil, "QUEUED", T0) + snap(evil, "RUNNING", T0 + 1))
        t.events(2)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 2):
            time.sleep(0.01)
        got = [line.split(b" ", 1) for line in out.read_bytes().splitlines()]
        assert [(s, orjson.loads(j)["to_status"], orjson.loads(j)["job_id"]) for s, j in got] == [
            (b"QUEUED", "QUEUED", evil),
            (b"RUNNING", "RUNNING", evil),
        ]
        assert not (tmp_path / "pwned").exists() and not Path("pwned2").exists()

    def test_exec_with_a_missing_command_is_a_usage_error(self, tmp_path: Path) -> None:
        r = subprocess.run(
            [sys.executable, "-m", "jobstream", "tail", str(tmp_path / "x"), "--exec", "no-such-cmd-xyz"],
            capture_output=True,
            timeout=WAIT,
        )
        assert r.returncode == 2 and b"command not found" in r.stderr


# --------------------------------------------------------------------------- library


class TestChangeFeed:
    def test_late_older_snapshot_produces_no_backwards_change(self) -> None:
        feed = ChangeFeed()
        assert [(c.from_status, c.to_status) for c in feed.push([view("a", "RUNNING", T0 + 10)])] == [(None, "RUNNING")]
        assert feed.push([view("a", "QUEUED", T0)]) == []
        assert feed.push([view("a", "VALIDATED", T0 + 5)]) == []
        assert [(c.from_status, c.to_status) for c in feed.push([view("a", "SUCCESS", T0 + 20)])] == [
            ("RUNNING", "SUCCESS")
        ]

    def test_each_change_is_emitted_once_in_order(self) -> None:
        feed = ChangeFeed()
        first = feed.push([view("a", "RUNNING", T0 + 2, events=[("QUEUED", T0), ("RUNNING", T0 + 2)])])
        assert [(c.from_status, c.to_status, c.at) for c in first] == [
            (None, "QUEUED", T0),
            ("QUEUED", "RUNNING", T0 + 2),
        ]
        assert feed.push([view("a", "RUNNING", T0 + 2)]) == []  # the same snapshot again
        assert feed.push([view("a", "RUNNING", T0 + 3)]) == []  # polled, unchanged

    def test_learnt_content_is_not_emitted_but_known(self) -> None:
        feed = ChangeFeed()
        feed.learn([view("a", "QUEUED", T0), view("a", "RUNNING", T0 + 1)])
        feed.settle()
        assert feed.push([view("a", "RUNNING", T0 + 5)]) == []
        assert [(c.from_status, c.to_status) for c in feed.push([view("a", "SUCCESS", T0 + 9)])] == [
            ("RUNNING", "SUCCESS")
        ]

    def test_selection_filters_output_not_state(self) -> None:
        feed = ChangeFeed(Selection.of(statuses=["SUCCESS"]))
        assert feed.push([view("a", "RUNNING", T0)]) == []
        assert [c.to_status for c in feed.push([view("a", "SUCCESS", T0 + 1)])] == ["SUCCESS"]

    def test_all_terminal_needs_a_seen_job_and_every_named_one(self) -> None:
        feed = ChangeFeed(Selection.of(job_ids=["a", "b"]))
        assert not feed.all_terminal()
        feed.push([view("a", "SUCCESS", T0), view("z", "RUNNING", T0)])
        assert not feed.all_terminal()  # b not seen; z is not followed
        feed.push([view("b", "FAILED", T0)])
        assert feed.all_terminal()


class TestFollower:
    """The Follower driven one cycle at a time with poll(): no subprocess, no waiting."""

    def test_rotation_truncation_and_late_files_in_process(self, tmp_path: Path) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(snap("a", "QUEUED", T0))
        notices: list[str] = []
        with Follower([str(log)], on_notice=notices.append, watch="poll") as f:
            f.start()
            assert f.poll() == [] and "a" in f.table
            append(log, snap("a", "RUNNING", T0 + 1))
            assert [c.to_status for c in f.poll()] == ["RUNNING"]
            os.rename(log, tmp_path / "old")
            assert f.poll() == [] and any("removed or renamed" in n for n in notices)
            log.write_bytes(snap("a", "SUCCESS", T0 + 2))
            assert [c.to_status for c in f.poll()] == ["SUCCESS"]
            log.write_bytes(b"")
            assert f.poll() == [] and any("truncated" in n for n in notices)
            assert f.stats.rotations == 1 and f.stats.truncations == 1

    def test_from_start_replays_and_a_half_line_waits(self, tmp_path: Path) -> None:
        log = tmp_path / "jobs.ndjson"
        line = snap("a", "RUNNING", T0 + 1)
        log.write_bytes(snap("a", "QUEUED", T0) + line[:20])
        with Follower([str(log)], from_start=True, watch="poll") as f:
            f.start()
            assert [c.to_status for c in f._initial] == ["QUEUED"]
            append(log, line[20:])
            assert [c.to_status for c in f.poll()] == ["RUNNING"]
            assert f.read_stats.lines == 2 and f.read_stats.rejected == 0

    def test_until_terminal_waits_until_caught_up(self, tmp_path: Path) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(snap("a", "QUEUED", T0) + snap("a", "SUCCESS", T0 + 1) + snap("b", "RUNNING", T0 + 2))
        deadline = time.monotonic() + 0.3
        with Follower(
            [str(log)],
            from_start=True,
            until_terminal=True,
            read_size=150,
            watch="poll",
            stop=lambda: time.monotonic() > deadline,
        ) as f:
            got = [(c.job_id, c.to_status) for c in f]
        assert got == [("a", "QUEUED"), ("a", "SUCCESS"), ("b", "RUNNING")]
        assert time.monotonic() >= deadline  # b is running: it ended by stop, not by until_terminal

    def test_stop_ends_iteration_promptly(self, tmp_path: Path) -> None:
        import threading

        log = tmp_path / "jobs.ndjson"
        log.touch()
        f = Follower([str(log)])
        threading.Timer(0.1, f.stop).start()
        started = time.monotonic()
        assert list(f) == []
        assert time.monotonic() - started < 2
        f.close()


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


class TestReviewFindings:
    """Each case once went wrong; found by an adversarial review."""

    def test_from_start_replays_exactly_what_events_gives_whatever_the_order(self, tmp_path: Path) -> None:
        import itertools

        import jobstream
        from jobstream.generate import generate

        log = tmp_path / "jobs.ndjson"
        log.write_bytes(b"".join(line + b"\n" for line in reversed(list(generate(30, seed=5)))))
        expected = jobstream.fold_paths([log]).table.events()
        with Follower([str(log)], from_start=True, watch="poll", read_size=4096) as f:
            got = list(itertools.islice(iter(f), len(expected)))
        assert got == expected

    def test_copytruncate_with_regrowth_past_the_old_position_is_noticed(self, tmp_path: Path) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(snap("job-a", "QUEUED", T0))
        with Follower([str(log)], watch="poll") as f:
            f.start()
            append(log, snap("job-a", "RUNNING", T0 + 1))
            assert [(c.job_id, c.from_status, c.to_status) for c in f.poll()] == [("job-a", "QUEUED", "RUNNING")]
            with open(log, "r+b") as fh:
                fh.truncate(0)
            append(
                log,
                snap("job-b", "QUEUED", T0 + 2) + snap("job-b", "RUNNING", T0 + 3) + snap("job-b", "SUCCESS", T0 + 4),
            )
            got = [(c.job_id, c.from_status, c.to_status) for c in f.poll()]
            assert got == [("job-b", None, "QUEUED"), ("job-b", "QUEUED", "RUNNING"), ("job-b", "RUNNING", "SUCCESS")]
            assert f.stats.truncations == 1

    def test_a_fifo_path_does_not_block(self, tmp_path: Path) -> None:
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        notices: list[str] = []
        with Follower([str(fifo)], watch="poll", on_notice=notices.append) as f:
            f.start()  # used to block in open() until a writer came
            assert f.poll() == []  # no writer: the pipe has ended, nothing was read
            assert [s.path for s in f.sources] == [str(fifo)]
        assert notices == []

    def test_a_fifo_path_is_read_like_stdin(self, tmp_path: Path) -> None:
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        fd = os.open(fifo, os.O_RDWR)  # a writer that stays: the follower's open finds one
        try:
            with Follower([str(fifo)], watch="poll", from_start=True) as f:
                f.start()
                os.write(fd, snap("a", "QUEUED", T0) + snap("a", "RUNNING", T0 + 5))
                changes: list[Any] = []
                for _ in range(100):  # bounded: 10 s
                    changes += f.poll()
                    if len(changes) == 2:
                        break
                    f.wait(0.1)
                assert [c.to_status for c in changes] == ["QUEUED", "RUNNING"]
        finally:
            os.close(fd)

    def test_exec_survives_a_nul_in_a_job_id(self, tmp_path: Path) -> None:
        from jobstream.out.hook import CommandHook

        failures: list[str] = []
        hook = CommandHook(f"{sys.executable} -c pass", on_failure=failures.append)
        assert hook(StatusChange("a\x00b", "completion", "m", None, "QUEUED", T0)) == 0
        assert failures == []

    def test_exit_status_after_a_signal_is_not_success(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(snap("a", "RUNNING", T0))
        t = tails(str(log), "--exit-on-terminal", "--exit-status")
        t.proc.send_signal(signal.SIGTERM)
        assert t.proc.wait(WAIT) == 3


# --------------------------------------------------------------------------- the one engine


def _generated(seed: int, jobs: int = 12) -> list[bytes]:
    from jobstream.generate import generate

    return [line + b"\n" for line in generate(jobs, seed=seed)]


def _events_of(paths: list[Path]) -> list[StatusChange]:
    import jobstream

    return jobstream.fold_paths(paths, model="lean", workers=1).table.events()


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 10_000), st.sampled_from(["plain", "gzip", "glob"]), st.randoms(use_true_random=False))
def test_from_start_replay_equals_events_for_every_kind_of_input(
    tmp_path_factory: Any, seed: int, kind: str, rnd: Any
) -> None:
    """tail --from-start replays exactly what `jobstream events` gives: plain, gzip, several files by glob,
    lines in any order, with bad and blank lines among them."""
    import gzip as gz

    d = tmp_path_factory.mktemp("replay")
    lines = _generated(seed)
    lines += [b"not json\n", b"\n", b'{"id":"x","status":1}\n']
    rnd.shuffle(lines)
    parts = [lines] if kind != "glob" else [lines[i::3] for i in range(3)]
    paths = []
    for i, part in enumerate(parts):
        data = b"".join(part)
        p = d / (f"log{i}.ndjson" + (".gz" if kind == "gzip" else ""))
        p.write_bytes(gz.compress(data) if kind == "gzip" else data)
        paths.append(p)
    expected = _events_of(paths)
    follow_paths = [str(d / "log*.ndjson")] if kind == "glob" else [str(p) for p in paths]
    with Follower(follow_paths, from_start=True, watch="poll") as f:
        f.start()
        got = list(f._initial)
    assert got == expected


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("how", ["file", "stdin"])
def test_live_lines_in_any_pieces_never_invent_never_go_back_and_reach_the_end(
    tmp_path: Path, seed: int, how: str
) -> None:
    """A log written while tail follows it, cut anywhere (mid-line), in pieces.  What tail
    emits live depends on what it has seen so far (a status revealed later, older than what
    was already printed, is not printed backwards), so it is checked against `events` over
    the whole: every change printed is one of its changes, a job's changes come in history
    order, and each job's last change is its final status."""
    import random

    from jobstream.decode.models import status_rank

    data = b"".join(sorted(_generated(seed, jobs=8), key=lambda line: orjson.loads(line)["modified_at"]))
    whole = _events_of([_write(tmp_path, data)])
    known = {(c.job_id, c.to_status, c.at) for c in whole}
    final = {c.job_id: c.to_status for c in whole}
    rnd = random.Random(seed)
    cuts = sorted(rnd.sample(range(1, len(data)), 40))
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
    log = tmp_path / "live.ndjson"
    log.touch()
    if how == "file":
        t = Tail(str(log), "-f", "ndjson")
        try:
            for piece in pieces:
                append(log, piece)
                time.sleep(0.005)
            lines = t.out.quiet(1.5)  # all there is, once the writer is done
        finally:
            t.close()
    else:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobstream", "tail", "-", "-f", "ndjson"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdin is not None
        for piece in pieces:
            proc.stdin.write(piece)
            proc.stdin.flush()
            time.sleep(0.005)
        out, err = proc.communicate(timeout=WAIT * 3)
        assert proc.returncode == 0, err
        lines = out.decode().splitlines()
    got = [orjson.loads(line) for line in lines]
    assert got, "nothing was printed"
    by_job: dict[str, list[tuple[int, int, str]]] = {}
    for g in got:
        assert (g["job_id"], g["to_status"], g["at"]) in known  # nothing invented
        by_job.setdefault(g["job_id"], []).append((g["at"], status_rank(g["to_status"]), g["to_status"]))
    for job, seq in by_job.items():
        assert seq == sorted(seq)  # never backwards
        assert seq[-1][2] == final[job]  # the end is reached
    assert set(by_job) == set(final)


def _write(tmp_path: Path, data: bytes) -> Path:
    p = tmp_path / "whole.ndjson"
    p.write_bytes(data)
    return p


def test_gzip_on_stdin_is_decompressed_as_it_streams() -> None:
    import gzip as gz

    data = b"".join(_generated(4, jobs=5))
    proc = subprocess.run(
        [sys.executable, "-m", "jobstream", "tail", "-", "-f", "ndjson"],
        input=gz.compress(data),
        capture_output=True,
        timeout=WAIT * 3,
    )
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr
    got = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert len(got) > 0 and all("job_id" in g for g in got)
    assert b"rejected" not in proc.stderr  # the old tail rejected every compressed line


def test_a_glob_picks_up_files_that_appear_later(tmp_path: Path, tails: Any) -> None:
    (tmp_path / "a.ndjson").write_bytes(snap("a", "QUEUED", T0))
    t = tails(str(tmp_path / "*.ndjson"), "-f", "ndjson")
    (tmp_path / "b.ndjson").write_bytes(snap("b", "QUEUED", T0 + 1))
    assert [brief(e) for e in t.events(1)] == [("b", None, "QUEUED")]
    t.err.wait_for("b.ndjson: new file")


def test_a_blocked_consumer_loses_nothing_across_rename_rotations(tmp_path: Path) -> None:
    """Output blocked (nobody reads stdout) while the log is rotated again and again: every
    rotated file is held open and drained, so every change arrives once the reader reads."""
    log = tmp_path / "jobs.ndjson"
    log.touch()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobstream", "tail", "-v", str(log), "-f", "ndjson"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    err = Pipe(proc.stderr)
    try:
        err.wait_for("jobstream: following")
        big_model = "m" * 3000  # fat lines: the pipe (64 KiB) fills after a few dozen changes
        expected = []
        for generation in range(6):
            for i in range(60):
                job = f"g{generation}-{i}"
                append(log, snap(job, "QUEUED", T0 + i, model=big_model))
                expected.append(job)
            time.sleep(0.15)  # the watcher opens the next file while the reader is blocked
            os.rename(log, tmp_path / f"jobs.ndjson.{generation}")
            log.touch()
            os.unlink(tmp_path / f"jobs.ndjson.{generation}")  # gone by name: only an open file keeps it
        time.sleep(0.3)
        out = Pipe(proc.stdout)
        got = [orjson.loads(line)["job_id"] for line in out.take(len(expected), timeout=WAIT * 3)]
        assert got == expected
    finally:
        proc.kill()
        proc.wait(WAIT)
        for s in (proc.stdout, proc.stderr):
            assert s is not None
            s.close()


def test_copytruncate_behind_a_blocked_consumer_says_what_was_lost(tmp_path: Path) -> None:
    log = tmp_path / "jobs.ndjson"
    log.touch()
    notices: list[str] = []
    with Follower([str(log)], on_notice=notices.append, watch="poll", read_size=1000) as f:
        f.start()
        append(log, b"".join(snap(f"j{i}", "QUEUED", T0 + i) for i in range(40)))
        f.poll()  # reads only read_size bytes: the reader is behind
        f.watcher.scan()  # the watcher saw the whole size
        size = log.stat().st_size
        with open(log, "r+b") as fh:
            fh.truncate(0)
        append(log, snap("after", "QUEUED", T0 + 100))
        changes = []
        for _ in range(5):
            changes += f.poll()
    assert f.stats.truncations == 1 and 0 < f.stats.lost_bytes < size
    assert any("never read" in n for n in notices)
    assert ("after", None, "QUEUED") in [(c.job_id, c.from_status, c.to_status) for c in changes]


# --------------------------------------------------------------------------- tail --state


class TestTailState:
    """``tail --state``: a restart first prints, once, what was written while tail was down."""

    def start(self, tails: Any, log: Path, st: Path, *extra: str, ready: bool = True) -> Any:
        return tails(str(log), "--state", str(st), "-f", "ndjson", *extra, ready=ready)

    def stop(self, t: Any) -> list[tuple[str, str | None, str]]:
        t.proc.send_signal(signal.SIGTERM)
        lines, rest = t.out.rest()
        assert t.finish() == 0 and rest == b""
        return [brief(orjson.loads(x)) for x in lines]

    def test_a_restart_prints_what_was_written_while_down_once_and_first(self, tmp_path: Path, tails: Any) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "t.state"
        append(log, snap("a", "QUEUED", T0 + 1))
        t = self.start(tails, log, st)
        append(log, snap("a", "RUNNING", T0 + 2))
        assert [brief(e) for e in t.events(1)] == [("a", "QUEUED", "RUNNING")]
        assert self.stop(t) == []
        append(log, snap("a", "SUCCESS", T0 + 3) + snap("b", "QUEUED", T0 + 4))  # while down
        t = self.start(tails, log, st, ready=False)  # (how fast: benchmarks/incremental.py; here only what)
        got = [brief(e) for e in t.events(2)]
        assert got == [("a", "RUNNING", "SUCCESS"), ("b", None, "QUEUED")]
        append(log, snap("b", "FAILED", T0 + 5))
        assert [brief(e) for e in t.events(1)] == [("b", "QUEUED", "FAILED")]
        assert self.stop(t) == []
        t = self.start(tails, log, st)  # nothing new: nothing printed
        assert t.out.quiet(0.5) == [] and self.stop(t) == []

    def test_a_file_rotated_while_down_is_finished_before_the_new_one(self, tmp_path: Path, tails: Any) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "t.state"
        append(log, snap("a", "QUEUED", T0 + 1))
        self.stop(self.start(tails, log, st))
        append(log, snap("a", "RUNNING", T0 + 2))  # written before the rotation, never read
        os.rename(log, tmp_path / "jobs.ndjson.1")
        append(log, snap("a", "SUCCESS", T0 + 3))
        t = self.start(tails, log, st)
        assert [brief(e) for e in t.events(2)] == [("a", "QUEUED", "RUNNING"), ("a", "RUNNING", "SUCCESS")]
        assert self.stop(t) == []

    def test_killed_and_restarted_it_loses_nothing_and_repeats_only_after_a_kill(
        self, tmp_path: Path, tails: Any
    ) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "t.state"
        append(log, snap("j0", "QUEUED", T0))
        self.stop(self.start(tails, log, st))
        printed: list[tuple[str, str | None, str]] = []
        want: list[tuple[str, str | None, str]] = []
        kills = 0
        for n in range(1, 7):
            append(log, snap(f"down{n}", "QUEUED", T0 + n))  # written while down
            want.append((f"down{n}", None, "QUEUED"))
            t = self.start(tails, log, st)
            append(log, snap(f"live{n}", "QUEUED", T0 + n))
            want.append((f"live{n}", None, "QUEUED"))
            seen: set[str] = set()
            while not {f"down{n}", f"live{n}"} <= seen:  # bounded: take() fails after WAIT
                printed += [brief(e) for e in t.events(1)]
                seen.add(printed[-1][0])
            if n % 2:  # killed before the next save: the restart repeats, never loses
                t.proc.kill()
                lines, _ = t.out.rest()  # what it printed before it died
                printed += [brief(orjson.loads(x)) for x in lines]
                t.finish()
                kills += 1
            else:
                printed += self.stop(t)
        printed += self.stop(self.start(tails, log, st))
        assert set(printed) == set(want), printed  # nothing lost
        assert len(printed) - len(set(printed)) <= 2 * kills  # repeats only what a kill -9 had not saved
        assert len(printed) > len(set(printed))  # (and the kills did land before a save)

    def test_state_needs_files_is_locked_and_is_its_own(self, tmp_path: Path) -> None:
        from jobstream.run.state import State

        log, st = tmp_path / "jobs.ndjson", tmp_path / "t.state"
        append(log, snap("a", "QUEUED", T0 + 1))

        def run(*args: str) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run(
                [sys.executable, "-m", "jobstream", *args], capture_output=True, stdin=subprocess.DEVNULL, timeout=WAIT
            )

        proc = run("tail", "-", "--state", str(st))
        assert proc.returncode == 2 and b"stdin cannot be resumed" in proc.stderr
        with State.load(st, model="view", follow=True) as held:
            held.save()
            proc = run("tail", str(log), "--state", str(st))
        assert proc.returncode == 75 and b"in use by another jobstream run" in proc.stderr
        proc = run("events", str(log), "--state", str(st))
        assert proc.returncode == 1 and b"folds for tail (following)" in proc.stderr
