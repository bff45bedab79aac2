"""`jobstream tail`: live status changes from growing files and pipes, printed as they arrive.

Each test runs the real command in a subprocess on files in a temp dir that this process
writes; every wait is bounded (select with a deadline), none sleeps longer than needed.
Following through rotation and truncation is in test_watch.py, the library's Follower in
test_follow.py, ``--exec`` in test_hook.py.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import (
    ROOT,
    T0,
    WAIT,
    Pipe,
    Tail,
    append,
    brief,
    events_of,
    log_lines,
    no_traceback,
    poll,
    run_jobstream,
)

from jobstream.decode.models import status_rank

# --------------------------------------------------------------------------- files


class TestTailFiles:
    def test_appended_snapshots_print_each_status_change(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log), "-f", "ndjson")
        append(log, poll("a", "QUEUED", T0))
        assert brief(t.events(1)[0]) == ("a", None, "QUEUED")
        append(log, poll("a", "RUNNING", T0 + 5) + poll("a", "RUNNING", T0 + 10) + poll("a", "SUCCESS", T0 + 20))
        assert [brief(e) for e in t.events(2)] == [("a", "QUEUED", "RUNNING"), ("a", "RUNNING", "SUCCESS")]
        assert t.out.quiet(0.2) == []

    def test_partial_line_is_held_until_its_newline(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log))
        line = poll("a", "QUEUED", T0)
        append(log, line[:25])
        assert t.out.quiet(0.3) == []
        append(log, line[25:])
        assert brief(t.events(1)[0]) == ("a", None, "QUEUED")
        assert t.err.quiet(0.05) == []  # no reject for the half line

    def test_default_start_knows_existing_jobs_and_from_start_replays_them(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(poll("a", "QUEUED", T0) + poll("a", "RUNNING", T0 + 1))
        live = tails(str(log))
        replay = tails(str(log), "--from-start")
        assert [brief(e) for e in replay.events(2)] == [("a", None, "QUEUED"), ("a", "QUEUED", "RUNNING")]
        append(log, poll("a", "RUNNING", T0 + 30) + poll("a", "FAILED", T0 + 40))
        assert [brief(e) for e in live.events(1)] == [("a", "RUNNING", "FAILED")]
        assert [brief(e) for e in replay.events(1)] == [("a", "RUNNING", "FAILED")]
        assert live.out.quiet(0.1) == [] and replay.out.quiet(0.05) == []

    def test_late_older_snapshot_prints_nothing(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log))
        append(log, poll("a", "RUNNING", T0 + 10))
        assert brief(t.events(1)[0]) == ("a", None, "RUNNING")
        append(log, poll("a", "QUEUED", T0) + poll("a", "SUCCESS", T0 + 20))
        assert [brief(e) for e in t.events(1)] == [("a", "RUNNING", "SUCCESS")]

    def test_bad_line_is_reported_and_following_goes_on(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        errors = tmp_path / "rejects.ndjson"
        log.write_bytes(b'{"broken": \n')  # in the existing content: counted, not listed
        t = tails(str(log), "--errors", str(errors))
        assert any("1 line(s) of the existing content rejected" in line for line in t.err.history)
        append(log, b'{"id": "x", "status": 3}\n' + poll("a", "QUEUED", T0))
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
            poll("a", "QUEUED", T0) + poll("b", "FAILED", T0, model="codestral-latest") + poll("c", "FAILED", T0 + 1),
        )
        assert [brief(e) for e in t.events(1)] == [("c", None, "FAILED")]

    def test_table_format_prints_one_aligned_line_per_event(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log), "-f", "table")
        assert t.out.take(1)[0].split() == ["JOB_ID", "JOB_TYPE", "MODEL", "FROM_STATUS", "TO_STATUS", "AT"]
        append(log, poll("a", "QUEUED", T0))
        line = t.out.take(1)[0]
        assert line.split() == ["a", "completion", "open-mistral-7b", "QUEUED", "2025-06-15T15:06:40Z"]
        assert line.index("QUEUED") == line.index("a") + 38 + 12 + 22 + 19

    def test_tail_of_a_directory_is_a_usage_error(self, tmp_path: Path) -> None:
        r = run_jobstream("tail", tmp_path, timeout=WAIT)
        assert r.returncode == 2 and b"is a directory" in r.stderr


# --------------------------------------------------------------------------- stdin, ending


class TestTailEnding:
    def test_stdin_pipe_is_followed_until_eof(self, tails: Any) -> None:
        t = tails("-", stdin=subprocess.PIPE)
        assert t.proc.stdin is not None
        t.proc.stdin.write(poll("a", "QUEUED", T0)[:10])
        t.proc.stdin.flush()
        t.proc.stdin.write(poll("a", "QUEUED", T0)[10:])
        t.proc.stdin.flush()
        assert brief(t.events(1)[0]) == ("a", None, "QUEUED")  # live, before EOF
        t.proc.stdin.write(b"not json\n")
        t.proc.stdin.write(poll("a", "RUNNING", T0 + 1).rstrip(b"\n"))  # last line without newline
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
        append(log, poll("a", "QUEUED", T0))
        t.events(1)
        t.proc.send_signal(sig)
        assert t.proc.wait(WAIT) == code
        lines, partial = t.out.rest()
        assert lines == [] and partial == b""
        assert "Aborted" not in "\n".join(t.err.rest()[0])

    def test_sigint_during_a_flood_leaves_no_half_printed_line(self, tmp_path: Path, tails: Any) -> None:
        """The log keeps growing until tail has exited, so Ctrl-C lands mid-flood however slow
        the machine; the output is read all along (as a terminal does), so tail is never
        blocked on a full pipe it could not leave."""
        log = tmp_path / "jobs.ndjson"
        log.touch()
        t = tails(str(log))
        batch = 2000
        written = 0

        def flood() -> None:
            nonlocal written
            deadline = time.monotonic() + 3 * WAIT
            while t.proc.poll() is None and time.monotonic() < deadline:
                append(log, b"".join(poll(f"job-{written + i}", "QUEUED", T0 + i) for i in range(batch)))
                written += batch

        writer = threading.Thread(target=flood, daemon=True)
        writer.start()
        t.out.take(50)
        t.proc.send_signal(signal.SIGINT)
        assert t.proc.wait(WAIT) == 130
        writer.join(WAIT * 4)
        lines, partial = t.out.rest()
        assert partial == b""
        assert 50 + len(lines) < written  # it stopped mid-flood
        assert all(orjson.loads(line)["to_status"] == "QUEUED" for line in lines)

    # regression: found while writing this stop's note (the second signal blocked again in the flush)
    @pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
    def test_a_second_signal_ends_a_tail_blocked_on_a_reader_that_stopped_reading(
        self, tmp_path: Path, sig: int
    ) -> None:
        """stdout is a pipe nobody reads (a paused pager): the first signal cannot end tail
        after the current event, since that event cannot be written; the second ends it."""
        log = tmp_path / "jobs.ndjson"
        log.touch()
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobstream", "tail", "-v", str(log), "-f", "ndjson"],
            stdout=subprocess.PIPE,  # never read: it fills
            stderr=subprocess.PIPE,
        )
        err = Pipe(proc.stderr)
        try:
            err.wait_for("jobstream: following")
            append(log, b"".join(poll(f"job-{i}", "QUEUED", T0 + i) for i in range(20000)))  # 4 MB
            time.sleep(1)  # the 64 KiB pipe is full: tail is blocked in write
            proc.send_signal(sig)
            time.sleep(0.3)
            assert proc.poll() is None  # still blocked: the event it is writing cannot be written
            proc.send_signal(sig)
            assert proc.wait(WAIT) == 130
            assert "Traceback" not in "\n".join(err.rest()[0])
        finally:
            proc.kill()
            proc.wait(WAIT)
            err.join()
            for stream in (proc.stdout, proc.stderr):
                assert stream is not None
                stream.close()

    def test_exit_on_terminal_ends_when_every_followed_job_is_terminal(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(poll("done", "SUCCESS", T0))
        t = tails(str(log), "--exit-on-terminal", "--job", "a", "--job", "b")
        append(log, poll("a", "RUNNING", T0) + poll("a", "SUCCESS", T0 + 1))
        assert [brief(e) for e in t.events(2)] == [("a", None, "RUNNING"), ("a", "RUNNING", "SUCCESS")]
        assert t.proc.poll() is None  # b not seen yet
        append(log, poll("b", "RUNNING", T0) + poll("x", "RUNNING", T0))
        assert brief(t.events(1)[0]) == ("b", None, "RUNNING")
        assert t.proc.poll() is None
        append(log, poll("b", "CANCELLED", T0 + 2))
        assert brief(t.events(1)[0]) == ("b", "RUNNING", "CANCELLED")
        assert t.finish() == 0

    def test_exit_on_terminal_with_everything_finished_ends_at_once(self, tmp_path: Path, tails: Any) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(poll("a", "RUNNING", T0) + poll("a", "SUCCESS", T0 + 1))
        t = tails(str(log), "--exit-on-terminal", ready=False)
        assert t.finish() == 0

    @pytest.mark.parametrize("final,code", [("SUCCESS", 0), ("FAILED", 3), ("CANCELLED", 3)])
    def test_exit_status_tells_ci_how_the_jobs_ended(self, tmp_path: Path, tails: Any, final: str, code: int) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(poll("a", "SUCCESS", T0 + 1))
        t = tails(str(log), "--exit-on-terminal", "--exit-status", "--job", "a", "--job", "b")
        append(log, poll("b", "RUNNING", T0) + poll("b", final, T0 + 2))
        assert [brief(e) for e in t.events(2)] == [("b", None, "RUNNING"), ("b", "RUNNING", final)]
        assert t.finish() == code

    def test_exit_status_without_exit_on_terminal_is_a_usage_error(self, tmp_path: Path) -> None:
        log = tmp_path / "jobs.ndjson"
        log.touch()
        proc = run_jobstream("tail", log, "--exit-status", timeout=WAIT)
        assert proc.returncode == 2 and b"--exit-on-terminal" in proc.stderr

    def test_exit_status_after_a_signal_is_not_success(self, tmp_path: Path, tails: Any) -> None:
        """Found by an adversarial review: a signal that stops the wait for a terminal status is not success."""
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(poll("a", "RUNNING", T0))
        t = tails(str(log), "--exit-on-terminal", "--exit-status")
        t.proc.send_signal(signal.SIGTERM)
        assert t.proc.wait(WAIT) == 3


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
class TestTailExitStatus:
    def test_exit_status_is_3_when_stdin_ends_before_a_named_job_was_seen(self) -> None:
        """`--job a --job b --exit-on-terminal --exit-status`: only job a (SUCCESS) arrives, then stdin
        ends.  Job b never ended, so CI must not read this as success.  main exits 0: `followed()`
        only lists jobs that were seen, and every one of those succeeded."""
        data = poll("a", "QUEUED", T0) + poll("a", "SUCCESS", T0 + 5)
        proc = run_jobstream(
            "tail",
            "-",
            "--job",
            "a",
            "--job",
            "b",
            "--exit-on-terminal",
            "--exit-status",
            "-f",
            "ndjson",
            input=data,
            stdin=None,
        )
        no_traceback(proc)
        assert proc.returncode == 3, (proc.returncode, proc.stderr)

    def test_exit_status_is_3_when_sigterm_stops_the_wait_for_a_named_job(self, tmp_path: Path) -> None:
        """README: "With --exit-status, a wait stopped by a signal exits 3, so a CI timeout never reads
        as success."  A CI timeout (SIGTERM) while waiting for job b, job a having succeeded: main
        exits 0."""
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(poll("a", "QUEUED", T0) + poll("a", "SUCCESS", T0 + 5))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jobstream",
                "tail",
                str(log),
                "--from-start",
                "--job",
                "a,b",
                "--exit-on-terminal",
                "--exit-status",
                "-f",
                "ndjson",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        try:
            assert proc.stdout is not None
            for _ in range(2):  # both replayed changes of job a: following has begun
                assert proc.stdout.readline()
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 3


# --------------------------------------------------------------------------- the one engine


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
    data = b"".join(sorted(log_lines(8, seed), key=lambda line: orjson.loads(line)["modified_at"]))
    whole = events_of([_write(tmp_path, data)])
    known = {(c.job_id, c.to_status, c.at) for c in whole}
    final = {c.job_id: c.to_status for c in whole}
    rnd = random.Random(seed)
    cuts = sorted(rnd.sample(range(1, len(data)), 40))
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
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
    data = b"".join(log_lines(5, 4))
    proc = run_jobstream("tail", "-", "-f", "ndjson", stdin=None, input=gzip.compress(data), timeout=WAIT * 3)
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr
    got = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert len(got) > 0 and all("job_id" in g for g in got)
    assert b"rejected" not in proc.stderr  # the old tail rejected every compressed line


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
class TestTailReportsUnreadableGzip:
    """Follower._read_stdin/_read_compressed append a SourceFailure to the reject list and call
    `_process(inp, [], out)`; `_process` hands rejects out only inside its per-frame loop, so
    with no frames the record is never reported: no stderr line, no --errors record, exit 0."""

    def test_truncated_gzip_on_stdin_is_reported(self, tmp_path: Path) -> None:
        raw = b"".join(poll(f"j{i}", "RUNNING", T0 + i) for i in range(2000))
        data = gzip.compress(raw)[:-600]
        errors = tmp_path / "rejects.ndjson"
        proc = run_jobstream("tail", "-", "-f", "ndjson", "--errors", errors, input=data, stdin=None)
        err = no_traceback(proc)
        assert "gzip" in err
        records = [json.loads(x) for x in errors.read_bytes().splitlines()]
        assert any("gzip" in r["error"] and r["raw"] == "" for r in records), records

    def test_a_corrupt_gz_file_followed_from_the_start_is_reported(self, tmp_path: Path) -> None:
        raw = poll("a", "QUEUED", T0) + poll("a", "SUCCESS", T0 + 5)
        path = tmp_path / "jobs.ndjson.gz"
        path.write_bytes(gzip.compress(raw)[:-6])
        errors = tmp_path / "rejects.ndjson"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jobstream",
                "tail",
                str(path),
                "--from-start",
                "--errors",
                str(errors),
                "-f",
                "ndjson",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        time.sleep(3)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert b"Traceback" not in err
        assert b"gzip" in err, err
        assert errors.exists() and b"gzip" in errors.read_bytes()


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
def test_tail_of_a_named_pipe_does_not_wait_forever(tmp_path: Path) -> None:
    """`jobstream tail <(poller) --exit-on-terminal`: every other command reads a FIFO path, but the
    watcher refuses anything that is not a regular file and waits "for one" forever (the name
    /dev/fd/63 never becomes a regular file).  It should follow the pipe to its end, as it does
    stdin, or fail at once with a one-line error."""
    src = tmp_path / "jobs.ndjson"
    src.write_bytes(poll("a", "QUEUED", T0) + poll("a", "SUCCESS", T0 + 5))
    cmd = f"{sys.executable} -m jobstream tail <(cat {src}) --from-start --exit-on-terminal -f ndjson"
    proc = subprocess.Popen(
        ["bash", "-c", cmd],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("tail of a pipe path was still waiting after 15 s")
    assert b"Traceback" not in err


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
        append(log, poll("a", "QUEUED", T0 + 1))
        t = self.start(tails, log, st)
        append(log, poll("a", "RUNNING", T0 + 2))
        assert [brief(e) for e in t.events(1)] == [("a", "QUEUED", "RUNNING")]
        assert self.stop(t) == []
        append(log, poll("a", "SUCCESS", T0 + 3) + poll("b", "QUEUED", T0 + 4))  # while down
        t = self.start(tails, log, st, ready=False)  # (how fast: benchmarks/incremental.py; here only what)
        got = [brief(e) for e in t.events(2)]
        assert got == [("a", "RUNNING", "SUCCESS"), ("b", None, "QUEUED")]
        append(log, poll("b", "FAILED", T0 + 5))
        assert [brief(e) for e in t.events(1)] == [("b", "QUEUED", "FAILED")]
        assert self.stop(t) == []
        t = self.start(tails, log, st)  # nothing new: nothing printed
        assert t.out.quiet(0.5) == [] and self.stop(t) == []

    def test_a_file_rotated_while_down_is_finished_before_the_new_one(self, tmp_path: Path, tails: Any) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "t.state"
        append(log, poll("a", "QUEUED", T0 + 1))
        self.stop(self.start(tails, log, st))
        append(log, poll("a", "RUNNING", T0 + 2))  # written before the rotation, never read
        os.rename(log, tmp_path / "jobs.ndjson.1")
        append(log, poll("a", "SUCCESS", T0 + 3))
        t = self.start(tails, log, st)
        assert [brief(e) for e in t.events(2)] == [("a", "QUEUED", "RUNNING"), ("a", "RUNNING", "SUCCESS")]
        assert self.stop(t) == []

    def test_killed_and_restarted_it_loses_nothing_and_repeats_only_after_a_kill(
        self, tmp_path: Path, tails: Any
    ) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "t.state"
        append(log, poll("j0", "QUEUED", T0))
        self.stop(self.start(tails, log, st))
        printed: list[tuple[str, str | None, str]] = []
        want: list[tuple[str, str | None, str]] = []
        kills = 0
        for n in range(1, 7):
            append(log, poll(f"down{n}", "QUEUED", T0 + n))  # written while down
            want.append((f"down{n}", None, "QUEUED"))
            t = self.start(tails, log, st)
            append(log, poll(f"live{n}", "QUEUED", T0 + n))
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
        append(log, poll("a", "QUEUED", T0 + 1))

        proc = run_jobstream("tail", "-", "--state", st, timeout=WAIT)
        assert proc.returncode == 2 and b"stdin cannot be resumed" in proc.stderr
        with State.load(st, model="view", follow=True) as held:
            held.save()
            proc = run_jobstream("tail", log, "--state", st, timeout=WAIT)
        assert proc.returncode == 75 and b"in use by another jobstream run" in proc.stderr
        proc = run_jobstream("events", log, "--state", st, timeout=WAIT)
        assert proc.returncode == 1 and b"folds for tail (following)" in proc.stderr


def test_tail_rejects_a_line_over_max_line_bytes_and_goes_on(tmp_path: Path) -> None:
    """tail takes --max-line-bytes like every reading command: the long line is one reject
    (named by line and size), the changes before and after it are printed as events prints them."""
    lines = [
        poll("a", "QUEUED", 1700000001),
        b'{"id":"x","pad":"' + b"y" * 5000 + b'"}\n',
        poll("a", "RUNNING", 1700000005),
        poll("a", "SUCCESS", 1700000009),
    ]
    log = tmp_path / "log.ndjson"
    log.write_bytes(b"".join(lines))
    run = [sys.executable, "-m", "jobstream"]
    with log.open("rb") as stdin:
        tail = subprocess.run(
            [*run, "tail", "-", "--max-line-bytes", "1000", "-f", "ndjson"],
            stdin=stdin,
            capture_output=True,
            timeout=60,
        )
    events = subprocess.run([*run, "events", str(log), "--max-line-bytes", "1000"], capture_output=True, timeout=60)
    assert tail.returncode == 0, tail.stderr
    assert tail.stdout == events.stdout and tail.stdout.count(b"\n") == 3
    assert b"<stdin>:2: line is 5019 bytes, over the 1000-byte limit" in tail.stderr


def test_sigterm_stops_a_running_exec_command_and_tail(tmp_path: Path) -> None:
    """SIGTERM while an --exec command runs: the command is stopped at once (not after
    --exec-timeout) and tail ends cleanly with exit 0."""
    log = tmp_path / "log.ndjson"
    log.write_bytes(poll("a", "QUEUED", 1700000001))
    pidfile = tmp_path / "hook.pid"
    hook = f"sh -c 'echo $$ > {pidfile}; exec sleep 60'"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobstream", "tail", str(log), "--from-start", "--exec", hook, "--exec-timeout", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        hook_pid = int(pidfile.read_text())
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 20  # well before the 120 s timeout
    assert b'"to_status":"QUEUED"' in out
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{hook_pid}") and time.monotonic() < deadline:
        time.sleep(0.05)  # the stopped command is reaped by then; its pid gone
    assert not os.path.exists(f"/proc/{hook_pid}") or "Z" in Path(f"/proc/{hook_pid}/stat").read_text().split()[2]
