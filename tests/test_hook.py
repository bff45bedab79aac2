"""The ``--exec`` hook (``jobstream.out.hook``): a command run for each status change, with the
change as JSON on stdin and ``JOBSTREAM_*`` variables, never through a shell, bounded by
``--exec-timeout``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import T0, WAIT, append, job, no_traceback, poll, run_jobstream

from jobstream.out.hook import ENV_VALUE_LIMIT, CommandHook
from jobstream.reduce.reducer import StatusChange


class TestExec:
    """`tail --exec CMD`: a command run per change, the change as JSON on stdin and in the environment."""

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
        append(log, poll(evil, "QUEUED", T0) + poll(evil, "RUNNING", T0 + 1))
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
        r = run_jobstream("tail", tmp_path / "x", "--exec", "no-such-cmd-xyz", timeout=WAIT)
        assert r.returncode == 2 and b"command not found" in r.stderr

    def test_iso_reaches_execs_environment(self, tmp_path: Path) -> None:
        out = tmp_path / "env.txt"
        hook = f"{sys.executable} -c \"import os; open({str(out)!r}, 'a').write(os.environ['JOBSTREAM_AT'] + '\\n')\""
        proc = run_jobstream("tail", "-", "--iso", "--exec", hook, stdin=None, input=job(1, "QUEUED") + b"\n")
        assert proc.returncode == 0
        assert out.read_text().splitlines() == ["2024-05-29T16:28:21Z"]

    # regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
    def test_exec_timeout_applies_when_the_hook_does_not_read_a_large_event(self, tmp_path: Path) -> None:
        """An event whose JSON is over the pipe buffer (a >64 KiB job id: exactly what the hook
        sends on stdin instead of the environment) and a hook that does not read stdin: main blocks
        in `proc.stdin.write(data)` before the timeout loop starts, so --exec-timeout never fires
        and following stalls for the hook's whole run (SIGTERM cannot stop it either: the signal
        handler only sets a flag)."""
        data = poll("x" * 200_000, "QUEUED", T0) + poll("a", "QUEUED", T0)
        start = time.monotonic()
        try:
            proc = run_jobstream(
                "tail",
                "-",
                "-f",
                "ndjson",
                "--exec",
                "sleep 20",
                "--exec-timeout",
                "1",
                input=data,
                stdin=None,
                timeout=15,
            )
        except subprocess.TimeoutExpired:
            pytest.fail("--exec-timeout 1 did not stop a hook that ignores its stdin (still running after 15 s)")
        no_traceback(proc)
        assert time.monotonic() - start < 15


def test_exec_survives_a_nul_in_a_job_id() -> None:
    """Found by an adversarial review: a NUL in a job id (it cannot go in the environment) must not
    break the hook."""
    failures: list[str] = []
    hook = CommandHook(f"{sys.executable} -c pass", on_failure=failures.append)
    assert hook(StatusChange("a\x00b", "completion", "m", None, "QUEUED", T0)) == 0
    assert failures == []


def test_a_field_too_large_for_the_environment_is_on_stdin_only(tmp_path: Path) -> None:
    """Linux refuses an environment variable over 128 KiB (E2BIG): such a field is left out of
    the environment, said so once, and the event still reaches the command whole on stdin."""
    job_id = "j" * (ENV_VALUE_LIMIT + 1)
    notes: list[str] = []
    script = f"cat > {tmp_path / 'event.json'}; env > {tmp_path / 'env.txt'}"
    hook = CommandHook(f"sh -c {script!r}", on_failure=notes.append, timeout=30)
    assert hook(StatusChange(job_id, "classifier", "m", "QUEUED", "RUNNING", 1700000000)) == 0
    event = orjson.loads((tmp_path / "event.json").read_bytes())
    assert event["job_id"] == job_id and event["to_status"] == "RUNNING"
    env = (tmp_path / "env.txt").read_text()
    assert "JOBSTREAM_JOB_ID=" not in env and "JOBSTREAM_TO_STATUS=RUNNING" in env
    assert len(notes) == 1 and "JOBSTREAM_JOB_ID" in notes[0] and "too large" in notes[0]
