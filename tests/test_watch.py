"""Following files by name (``jobstream.io.watch``, as the follower drives it): rename and
copytruncate rotation, truncation, files and glob matches that appear later, a consumer that
falls behind; through `jobstream tail` and through the library's Follower.

Each wait is bounded; see helpers.Tail and helpers.Pipe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import ROOT, T0, WAIT, Pipe, append, brief, poll

from jobstream.run.follow import Follower

# --------------------------------------------------------------------------- the tail command


class TestTailFiles:
    """`jobstream tail` follows names like ``tail -F``: through rotation, truncation and files that appear."""

    @pytest.mark.parametrize("mode", ["inotify", "poll"])
    def test_rename_rotation_reads_the_old_file_to_its_end_then_the_new_one(
        self, tmp_path: Path, tails: Any, mode: str
    ) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log), *(["--poll"] if mode == "poll" else []))
        with open(log, "ab", buffering=0) as old:
            old.write(poll("a", "QUEUED", T0))
            assert brief(t.events(1)[0]) == ("a", None, "QUEUED")
            os.rename(log, tmp_path / "jobs.ndjson.1")
            old.write(poll("a", "RUNNING", T0 + 1))  # the writer has not reopened yet
        log.write_bytes(poll("b", "QUEUED", T0 + 2))
        assert [brief(e) for e in t.events(2)] == [("a", "QUEUED", "RUNNING"), ("b", None, "QUEUED")]
        append(log, poll("b", "RUNNING", T0 + 3))
        assert brief(t.events(1)[0]) == ("b", "QUEUED", "RUNNING")
        t.err.wait_for("replaced")

    @pytest.mark.parametrize("mode", ["inotify", "poll"])
    def test_copytruncate_starts_again_from_the_top(self, tmp_path: Path, tails: Any, mode: str) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(poll("a", "QUEUED", T0) + poll("a", "RUNNING", T0 + 1))
        t = tails(str(log), *(["--poll"] if mode == "poll" else []))
        append(log, poll("a", "SUCCESS", T0 + 9))
        assert brief(t.events(1)[0]) == ("a", "RUNNING", "SUCCESS")
        (tmp_path / "jobs.ndjson.1").write_bytes(log.read_bytes())  # copy, then truncate in place
        with open(log, "r+b") as fh:
            fh.truncate(0)
        append(log, poll("b", "QUEUED", T0 + 10))
        assert brief(t.events(1)[0]) == ("b", None, "QUEUED")
        t.err.wait_for("truncated")
        # a truncate-and-regrow past the old position, seen only afterwards, is noticed too
        with open(log, "r+b") as fh:
            fh.truncate(0)
            fh.write(poll("c", "QUEUED", T0 + 11) * 3 + poll("c", "RUNNING", T0 + 12))
        assert [brief(e) for e in t.events(2)] == [("c", None, "QUEUED"), ("c", "QUEUED", "RUNNING")]
        assert t.out.quiet(0.1) == []  # nothing re-reported for a or b

    def test_a_file_created_after_tail_started_is_followed_from_its_start(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "later.ndjson"
        nested = tmp_path / "not" / "yet" / "jobs.ndjson"  # its directory does not exist either
        t = tails(str(log), str(nested))
        assert sum("does not exist (yet); waiting" in line for line in t.err.history) == 2
        log.write_bytes(poll("a", "QUEUED", T0) + poll("a", "RUNNING", T0 + 1))
        assert [brief(e) for e in t.events(2)] == [("a", None, "QUEUED"), ("a", "QUEUED", "RUNNING")]
        nested.parent.mkdir(parents=True)
        nested.write_bytes(poll("b", "QUEUED", T0))
        assert brief(t.events(1)[0]) == ("b", None, "QUEUED")


def test_a_glob_picks_up_files_that_appear_later(tmp_path: Path, tails: Any) -> None:
    (tmp_path / "a.ndjson").write_bytes(poll("a", "QUEUED", T0))
    t = tails(str(tmp_path / "*.ndjson"), "-f", "ndjson")
    (tmp_path / "b.ndjson").write_bytes(poll("b", "QUEUED", T0 + 1))
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
    out: Pipe | None = None
    try:
        err.wait_for("jobstream: following")
        big_model = "m" * 3000  # fat lines: the pipe (64 KiB) fills after a few dozen changes
        expected = []
        for generation in range(6):
            for i in range(60):
                job = f"g{generation}-{i}"
                append(log, poll(job, "QUEUED", T0 + i, model=big_model))
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
        for pipe in (err, out):
            if pipe is not None:
                pipe.join()
        for s in (proc.stdout, proc.stderr):
            assert s is not None
            s.close()


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
def test_tail_errors_file_matching_a_followed_glob_is_not_read_back(tmp_path: Path) -> None:
    """`tail 'logs/*.ndjson' --errors logs/rejects.ndjson`: the refusal only compares the errors
    file with the literal names given, not with what a glob matches, so the watcher picks the
    rejects file up as a new log, rejects every record it reads there (no `id`), appends those
    rejects to the same file, and so on: on main one bad line grew the file to 382 MB in four
    seconds (each record escapes the one before it).  Refuse it, or never follow the errors file."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.ndjson").write_bytes(b'{"id":1}\n')
    errors = logs / "rejects.ndjson"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobstream",
            "tail",
            str(logs / "*.ndjson"),
            "--from-start",
            "--errors",
            str(errors),
            "-f",
            "ndjson",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        proc.wait(timeout=1.5)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    size = errors.stat().st_size if errors.exists() else 0
    errors.unlink(missing_ok=True)  # on main it is hundreds of MB: do not leave it in the basetemp
    assert b"Traceback" not in err
    assert size < 4096, f"the rejects file grew to {size} bytes: it is being followed as an input"


# --------------------------------------------------------------------------- the library's Follower


class TestFollower:
    """The Follower driven one cycle at a time with poll(): no subprocess, no waiting."""

    def test_rotation_truncation_and_late_files_in_process(self, tmp_path: Path) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(poll("a", "QUEUED", T0))
        notices: list[str] = []
        with Follower([str(log)], on_notice=notices.append, watch="poll") as f:
            f.start()
            assert f.poll() == [] and "a" in f.table
            append(log, poll("a", "RUNNING", T0 + 1))
            assert [c.to_status for c in f.poll()] == ["RUNNING"]
            os.rename(log, tmp_path / "old")
            assert f.poll() == [] and any("removed or renamed" in n for n in notices)
            log.write_bytes(poll("a", "SUCCESS", T0 + 2))
            assert [c.to_status for c in f.poll()] == ["SUCCESS"]
            log.write_bytes(b"")
            assert f.poll() == [] and any("truncated" in n for n in notices)
            assert f.stats.rotations == 1 and f.stats.truncations == 1

    def test_copytruncate_with_regrowth_past_the_old_position_is_noticed(self, tmp_path: Path) -> None:
        """Found by an adversarial review: a copytruncate after which the file grows past the old
        read position is a truncation, not new lines appended to the old content."""
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(poll("job-a", "QUEUED", T0))
        with Follower([str(log)], watch="poll") as f:
            f.start()
            append(log, poll("job-a", "RUNNING", T0 + 1))
            assert [(c.job_id, c.from_status, c.to_status) for c in f.poll()] == [("job-a", "QUEUED", "RUNNING")]
            with open(log, "r+b") as fh:
                fh.truncate(0)
            append(
                log,
                poll("job-b", "QUEUED", T0 + 2) + poll("job-b", "RUNNING", T0 + 3) + poll("job-b", "SUCCESS", T0 + 4),
            )
            got = [(c.job_id, c.from_status, c.to_status) for c in f.poll()]
            assert got == [("job-b", None, "QUEUED"), ("job-b", "QUEUED", "RUNNING"), ("job-b", "RUNNING", "SUCCESS")]
            assert f.stats.truncations == 1


def test_copytruncate_behind_a_blocked_consumer_says_what_was_lost(tmp_path: Path) -> None:
    log = tmp_path / "jobs.ndjson"
    log.touch()
    notices: list[str] = []
    with Follower([str(log)], on_notice=notices.append, watch="poll", read_size=1000) as f:
        f.start()
        append(log, b"".join(poll(f"j{i}", "QUEUED", T0 + i) for i in range(40)))
        f.poll()  # reads only read_size bytes: the reader is behind
        f.watcher.scan()  # the watcher saw the whole size
        size = log.stat().st_size
        with open(log, "r+b") as fh:
            fh.truncate(0)
        append(log, poll("after", "QUEUED", T0 + 100))
        changes = []
        for _ in range(5):
            changes += f.poll()
    assert f.stats.truncations == 1 and 0 < f.stats.lost_bytes < size
    assert any("never read" in n for n in notices)
    assert ("after", None, "QUEUED") in [(c.job_id, c.from_status, c.to_status) for c in changes]
