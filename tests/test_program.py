"""The real ``jobstream`` program: hostile inputs, file names, terminals, pipes, signals, disks.

Every test runs jobstream as a separate process (``python -m jobstream``), the way users and
cron run it, and checks exit codes and what reaches stdout/stderr: never a traceback.
"""

from __future__ import annotations

import gzip
import json
import os
import pty
import re
import resource
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    EXAMPLE_LOG,
    JOB_T0,
    ROOT,
    T0,
    job,
    no_traceback,
    on_pty,
    one_line_error,
    poll,
    run_jobstream,
    signal_on_import,
    to_iso,
    write_generated,
)


def permissions_apply() -> None:
    """In the child: make file permissions bind even for root (drop CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH from the bounding set, so the exec'd program lacks them)."""
    if os.geteuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_generated(tmp_path_factory.mktemp("log") / "jobs.ndjson", 30, seed=4)


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 30 MB: a second or so in one process, long enough for the progress line."""
    return write_generated(tmp_path_factory.mktemp("big") / "big.ndjson", 400, seed=5)


COMMANDS = [["summary"], ["summary", "--by", "day"], ["jobs", "--fields", "all"], ["events"], ["validate"]]


# --------------------------------------------------------------------------- 1, 2: hostile lines

DEEP = b'{"id":"deep","status":"QUEUED","created_at":1,"modified_at":1,"x":' + b"[" * 1000 + b"]" * 1000 + b"}"
DEEP_FLOAT = b'{"id":"deepf","status":"QUEUED","created_at":1.0,"modified_at":1,"x":' + b"[" * 500 + b"]" * 500 + b"}"
FAR_FUTURE = job(7, created_at=100000000000000)
MAX_INT_TIME = job(8, modified_at=2**63 - 1)


class TestHostileLines:
    @pytest.mark.parametrize("cmd", COMMANDS + [["summary", "-f", "table"], ["jobs", "-f", "table", "--iso"]])
    def test_deep_nesting_and_far_future_times_are_rejects_and_the_run_goes_on(
        self, tmp_path: Path, cmd: list[str]
    ) -> None:
        path = tmp_path / "hostile.ndjson"
        path.write_bytes(b"\n".join([job(1), DEEP, DEEP_FLOAT, FAR_FUTURE, MAX_INT_TIME, job(2)]) + b"\n")
        errors = tmp_path / "rejects.ndjson"
        proc = run_jobstream(*cmd, path, "--errors", errors)
        err = no_traceback(proc)
        assert proc.returncode == (1 if cmd[0] == "validate" else 0), err
        records = [json.loads(x) for x in errors.read_text().splitlines()]
        # 500 levels with an integral float broke the Python retry; now it is a valid line
        assert [r["line"] for r in records] == [2, 4, 5]
        assert "nested too deeply" in records[0]["error"]
        assert "$.created_at" in records[1]["error"] and "$.modified_at" in records[2]["error"]
        if cmd[0] == "summary":
            assert b'"jobs": 3' in proc.stdout or b"jobs            3" in proc.stdout or b"(total)" in proc.stdout
        elif cmd[0] != "validate":
            assert b"job-1" in proc.stdout and b"job-2" in proc.stdout

    def test_tail_survives_deep_nesting_and_goes_on(self, tmp_path: Path) -> None:
        data = b"\n".join([job(1, "QUEUED"), DEEP, DEEP_FLOAT, FAR_FUTURE, job(1, "RUNNING", modified_at=JOB_T0 + 500)])
        proc = run_jobstream("tail", "-", "-f", "table", stdin=None, input=data + b"\n")
        err = no_traceback(proc)
        assert proc.returncode == 0
        assert proc.stdout.count(b"job-1") == 2 and b"deepf" in proc.stdout
        assert "nested too deeply" in err and "$.created_at" in err


# --------------------------------------------------------------------------- 3: file names that are not UTF-8


class TestByteFileNames:
    NAME = b"log-\xff\xfe.ndjson"

    def _log(self, directory: Path) -> bytes:
        path = os.path.join(os.fsencode(directory), self.NAME)
        with open(path, "wb") as fh:
            fh.write(job(1) + b"\nnot json\n" + job(2) + b"\n")
        return path

    @pytest.mark.parametrize("cmd", [["summary"], ["events"], ["validate"], ["jobs", "-f", "table"]])
    def test_rejects_and_messages_name_the_file_safely(self, tmp_path: Path, cmd: list[str]) -> None:
        path = self._log(tmp_path)
        errors = tmp_path / "rejects.ndjson"
        proc = run_jobstream(*cmd, path, "--errors", errors)
        err = no_traceback(proc)
        (record,) = [json.loads(x) for x in errors.read_text().splitlines()]
        assert record["source"].endswith("log-\\xff\\xfe.ndjson") and record["line"] == 2
        assert "log-\\xff\\xfe.ndjson" in err

    def test_tail_errors_file_names_the_file_safely(self, tmp_path: Path) -> None:
        path = self._log(tmp_path)
        errors = tmp_path / "rejects.ndjson"
        proc = run_jobstream(
            "tail",
            path,
            "--from-start",
            "--errors",
            errors,
            "--exit-on-terminal",
            timeout=10,
            preexec=lambda: signal.alarm(3),
        )
        no_traceback(proc)
        (record,) = [json.loads(x) for x in errors.read_text().splitlines()]
        assert record["source"].endswith("log-\\xff\\xfe.ndjson")

    def test_missing_byte_name_is_a_one_line_error(self, tmp_path: Path) -> None:
        proc = run_jobstream("summary", os.path.join(os.fsencode(tmp_path), b"nope-\xff.ndjson"))
        assert proc.returncode == 1 and "nope-\\xff.ndjson" in one_line_error(proc)


# regression: listed as left alone in the stop-16 note (raw ESC and newline reached the terminal)
class TestNamesWithControlCharacters:
    """A file name (or an option) holding an escape sequence or a newline, shown on a terminal:
    escaped as ``\\x1b``/``\\x0a``, so it cannot recolour or rewrite the screen, and every
    message stays one line."""

    NAME = "jobs-\x1b[2J\x1b[31mred\nsecond-line.ndjson"

    def _on_terminal(self, tmp_path: Path, *args: Any) -> tuple[int, str]:
        code, err, _ = on_pty([*args], "stderr")
        assert b"\x1b" not in err, err  # no raw escape byte reached the terminal
        return code, no_traceback(err.replace(b"\r\n", b"\n"))

    def test_a_missing_file_is_one_escaped_line(self, tmp_path: Path) -> None:
        code, err = self._on_terminal(tmp_path, "summary", tmp_path / self.NAME)
        assert code == 1
        line = one_line_error(err)
        assert "jobs-\\x1b[2J\\x1b[31mred\\x0asecond-line.ndjson" in line

    def test_rejects_of_such_a_file_are_escaped(self, tmp_path: Path) -> None:
        path = tmp_path / self.NAME
        path.write_bytes(job(1) + b"\nnot json\n")
        code, err = self._on_terminal(tmp_path, "validate", path)
        assert code == 1
        (reject,) = [x for x in err.splitlines() if ":2: " in x]
        assert "jobs-\\x1b[2J\\x1b[31mred\\x0asecond-line.ndjson:2: " in reject

    def test_a_usage_error_naming_it_is_escaped_and_keeps_clicks_layout(self, tmp_path: Path) -> None:
        directory = tmp_path / self.NAME
        directory.mkdir()
        code, err = self._on_terminal(tmp_path, "tail", directory)
        assert code == 2
        usage, hint, blank, error = err.splitlines()
        assert usage.startswith("Usage: jobstream tail") and hint.startswith("Try ") and blank == ""
        assert error.startswith("Error: Invalid value for PATHS: ")
        assert "red\\x0asecond-line.ndjson is a directory" in error


# --------------------------------------------------------------------------- 4, 5: terminals and closed streams


class TestTerminals:
    @pytest.mark.parametrize("kind", ["plain", "gzip", "stdin", "gzip-stdin"])
    def test_progress_line_on_a_terminal_for_every_kind_of_input(
        self, big_log: Path, tmp_path: Path, kind: str
    ) -> None:
        data = big_log.read_bytes()
        if "gzip" in kind:  # stored blocks: as big compressed as plain, so the bar shows from its size
            data = gzip.compress(data, compresslevel=0 if kind == "gzip" else 6)
        path = tmp_path / ("big.ndjson.gz" if "gzip" in kind else "big.ndjson")
        path.write_bytes(data)
        if "stdin" in kind:  # a pipe whose size is unknown, fed slowly: the bar shows bytes read
            reader, writer = os.pipe()

            def feed() -> None:
                with os.fdopen(writer, "wb") as fh:
                    fh.write(data[: len(data) // 2])
                    fh.flush()
                    time.sleep(0.6)
                    fh.write(data[len(data) // 2 :])

            import threading

            feeder = threading.Thread(target=feed)
            feeder.start()
            code, terminal, out = on_pty(["summary", "-f", "json", "-j", "1"], "stderr", stdin=reader)
            os.close(reader)
            feeder.join()
        else:
            code, terminal, out = on_pty(["summary", path, "-f", "json", "-j", "1"], "stderr")
        assert code == 0, terminal
        assert b"Traceback" not in terminal and b"reading" in terminal
        if "stdin" in kind:
            assert b" MB" in terminal and b"%" not in terminal  # no total to make a percentage of
        else:
            assert b"100%" in terminal  # the size is known, compressed or not
        assert terminal.endswith(b"\r\x1b[K")  # the line is cleared at the end
        assert json.loads(out)["jobs"] == 400

    def test_table_on_a_terminal_escapes_control_characters(self, tmp_path: Path) -> None:
        path = tmp_path / "evil.ndjson"
        path.write_bytes(job(1, model="m\x1b]0;pwned\x07\x1b[31mred") + b"\n" + job(2, status="RUN\x1b[2J") + b"\n")
        for cmd in (["jobs"], ["events"], ["summary"], ["summary", "--by", "model"]):
            code, terminal, _ = on_pty([*cmd, path], "stdout")
            assert code == 0
            data = re.sub(rb"\x1b\[(3[0-7]|0)m", b"", terminal)  # jobstream's own status colours
            assert b"\x1b" not in data and b"\x07" not in data, (cmd, terminal)
            assert b"\\x1b" in terminal

    def test_binary_formats_are_not_written_to_a_terminal(self, log: Path) -> None:
        code, terminal, err = on_pty(["events", log, "-f", "parquet"], "stdout")
        assert code == 2 and b"-o FILE" in err and b"PAR1" not in terminal

    def test_closed_stdout_is_a_one_line_error(self, log: Path, tmp_path: Path) -> None:
        for cmd in (["events"], ["summary"], ["jobs"]):
            proc = _closed_stdout(cmd, log)
            assert proc.returncode == 1
            assert "stdout is closed" in one_line_error(proc)
        out = tmp_path / "events.csv"
        proc = _closed_stdout(["events", "-o", str(out)], log)
        assert proc.returncode == 0 and out.read_text().startswith("job_id,")

    def test_closed_stderr_and_stdin_never_crash(self, log: Path) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "jobstream", "summary", "-f", "json", str(log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: os.close(2),
            cwd=ROOT,
            timeout=60,
        )
        assert proc.returncode == 0 and json.loads(proc.stdout)["jobs"] == 30
        proc = subprocess.run(
            [sys.executable, "-m", "jobstream", "summary"],
            capture_output=True,
            preexec_fn=lambda: os.close(0),
            cwd=ROOT,
            timeout=60,
        )
        assert proc.returncode == 2 and b"no input" in proc.stderr and b"Traceback" not in proc.stderr

    def test_ascii_terminal_encoding_escapes_instead_of_failing(self, tmp_path: Path) -> None:
        path = tmp_path / "utf8.ndjson"
        path.write_bytes(job(1, model="modèle-é") + b"\n")
        env = dict(os.environ, PYTHONIOENCODING="ascii")
        proc = run_jobstream("jobs", path, "-f", "table", env=env)
        assert proc.returncode == 0 and b"mod\\xe8le" in proc.stdout
        proc = run_jobstream("jobs", path, "-f", "ndjson", env=env)  # machine formats stay UTF-8
        assert json.loads(proc.stdout)["model"] == "modèle-é"

    def test_with_stdout_closed_a_usage_error_is_still_the_answer(self, log: Path, tmp_path: Path) -> None:
        """Found by review: the commands took stdout before their usage checks, so with stdout
        closed every mistake read "stdout is closed" (exit 1) instead of naming itself (exit 2)."""
        state = tmp_path / "s.state"
        with log.open("rb") as stdin:
            proc = subprocess.run(
                [sys.executable, "-m", "jobstream", "summary", "--state", str(state), "-"],
                stdin=stdin,
                stderr=subprocess.PIPE,
                preexec_fn=lambda: os.close(1),
                cwd=ROOT,
                timeout=60,
            )
        assert proc.returncode == 2 and b"stdin cannot be resumed" in proc.stderr
        assert b"stdout is closed" not in proc.stderr and b"Traceback" not in proc.stderr
        proc = _closed_stdout(["tail", "--errors", str(log)], log)
        assert proc.returncode == 1 and "refusing to write rejects to a followed file" in one_line_error(proc)


def _closed_stdout(cmd: list[str], log: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "jobstream", *cmd, str(log)],
        stdin=subprocess.DEVNULL,
        stdout=None,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
        cwd=ROOT,
        timeout=60,
    )


def _with_closed_stdout_pipe(args: list[str]) -> tuple[int, bytes]:
    """Run jobstream with stdout a pipe whose reader has already gone (``| head`` that quit)."""
    r, w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobstream", *args], stdin=subprocess.DEVNULL, stdout=w, stderr=subprocess.PIPE, cwd=ROOT
    )
    os.close(w)
    os.close(r)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


# ------------------------------------------------------------------- tables a person reads, at 60/100/200 columns

SGR = re.compile(rb"\x1b\[[0-9;]*m")
ISO_AT_END = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def on_sized_pty(
    args: Sequence[Any], columns: int, stdin: Any = subprocess.DEVNULL, env: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """Run jobstream with stdout on a pseudo-terminal *columns* wide (its window size, as a
    terminal emulator sets it; COLUMNS and LINES are removed from the environment)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    base["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobstream", *map(str, args)],
        stdin=stdin,
        stdout=slave,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**base, **(env or {})},
    )
    os.close(slave)
    got = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        got += data
    os.close(master)
    assert proc.stderr is not None
    err = proc.stderr.read()
    code = proc.wait(60)
    assert b"Traceback" not in err, err
    return code, bytes(got).replace(b"\r\n", b"\n")


@pytest.fixture(scope="module")
def log_table(log: Path) -> Any:
    """The job table of ``log``."""
    import jobstream

    return jobstream.fold_paths([log]).table


def _same_status(shown: str, status: str) -> bool:
    """*shown* is *status*, or *status* cut with … past its first 16 characters."""
    return shown == status or (shown.endswith("…") and len(shown) >= 17 and status.startswith(shown[:-1]))


def _visible(terminal: bytes) -> list[str]:
    from jobstream.out.layout import display_width

    lines = SGR.sub(b"", terminal).decode().splitlines()
    assert b"\x1b" not in SGR.sub(b"", terminal)
    return [line for line in lines if display_width(line) >= 0]


class TestTablesOnATerminal:
    """What a person sees: each kind of table on terminals of 60, 100 and 200 columns."""

    def _check_width(self, terminal: bytes, columns: int) -> list[str]:
        from jobstream.out.layout import display_width

        lines = _visible(terminal)
        assert lines, terminal
        too_wide = [line for line in lines if display_width(line) > columns]
        assert not too_wide, too_wide
        return lines

    @pytest.mark.parametrize("columns", [60, 100, 200])
    def test_jobs(self, log: Path, log_table: Any, columns: int) -> None:
        code, terminal = on_sized_pty(["jobs", log], columns)
        assert code == 0
        lines = self._check_width(terminal, columns)
        jobs = log_table.jobs()
        head = lines[0].split()
        assert head[:2] == ["ID", "MODEL"] or head[:3] == ["ID", "JOB_TYPE", "MODEL"]
        assert ("CREATED_AT" in head) == (columns >= 80) and (len(head) >= 10) == (columns >= 200), head
        status_col = head.index("STATUS")
        for line, state in zip(lines[1 : len(jobs) + 1], jobs, strict=True):
            cells = line.split()
            assert state.id.startswith(cells[0].rstrip("…")) and len(cells[0]) >= 16
            assert any(_same_status(c, state.status) for c in cells), line  # never cut short of 17 characters
        hidden = lines[0].endswith("…")
        assert len(lines) == len(jobs) + 1 + hidden  # hidden columns are named on a last line
        assert not hidden or lines[-1].endswith("…") or "valid_mean_token_accuracy" in lines[-1]
        assert status_col > 0
        assert b"\x1b[32mSUCCESS\x1b[0m" in terminal  # coloured on a terminal

    @pytest.mark.parametrize("columns", [60, 100, 200])
    def test_events(self, log: Path, log_table: Any, columns: int) -> None:
        code, terminal = on_sized_pty(["events", log], columns)
        assert code == 0
        lines = self._check_width(terminal, columns)
        changes = log_table.events()
        rows = lines[1 : len(changes) + 1]
        assert len(rows) == len(changes)
        for line, change in zip(rows, changes, strict=True):
            assert ISO_AT_END.search(line) and line.endswith(to_iso(change.at)), line  # times are never cut
            assert _same_status(line.split()[-2], change.to_status), line
        assert ("FROM_STATUS" in lines[0]) == (columns >= 80)
        assert re.search(rb"\x1b\[3[0-7]m(SUCCESS|RUNNING|QUEUED)\x1b\[0m", terminal)

    @pytest.mark.parametrize("columns", [60, 100, 200])
    def test_summary(self, log: Path, log_table: Any, columns: int) -> None:
        code, terminal = on_sized_pty(["summary", log], columns)
        assert code == 0
        lines = self._check_width(terminal, columns)
        s = log_table.summary()
        assert f"jobs            {s.jobs}" in lines
        start = lines.index("by model") + 1
        for line in lines[start : start + len(s.by_model)]:
            m = re.match(r"^  (\S+)\s+(\d+)  ([█▏▎▍▌▋▊▉]+)$", line)
            assert m and s.by_model[m.group(1)] == int(m.group(2)), line
        longest = max(len(line) for line in lines[start : start + len(s.by_model)])
        assert longest <= min(columns, 2 + max(map(len, s.by_model)) + 2 + 3 + 2 + 30)
        assert re.search(rb"\x1b\[32mSUCCESS\x1b\[0m +\d+  \x1b\[32m\xe2\x96\x88", terminal)  # and its bar

    @pytest.mark.parametrize("columns", [60, 100, 200])
    def test_summary_by(self, log: Path, log_table: Any, columns: int) -> None:
        code, terminal = on_sized_pty(["summary", log, "--by", "status"], columns)
        assert code == 0
        lines = self._check_width(terminal, columns)
        s = log_table.summary(by="status")
        assert lines[0].split()[:3] == ["STATUS", "JOBS", "FINISHED"]
        body = lines[1 : len(s.groups) + 2]
        assert [line.split()[0] for line in body] == [*s.groups, "(total)"]
        assert [int(line.split()[1]) for line in body] == [g.jobs for g in s.groups.values()] + [s.jobs]
        assert lines[0].endswith("…") == (columns < 110)
        assert b"\x1b[32mSUCCESS\x1b[0m" in terminal

    @pytest.mark.parametrize("columns", [60, 100, 200])
    def test_tail(self, log: Path, log_table: Any, columns: int) -> None:
        with log.open("rb") as stdin:
            code, terminal = on_sized_pty(["tail", "-", "--from-start"], columns, stdin=stdin)
        assert code == 0
        lines = self._check_width(terminal, columns)
        changes = log_table.events()
        assert lines[0].split()[0] == "JOB_ID" and lines[0].endswith("…") == (columns < 130)
        assert len(lines) == len(changes) + 1
        # tail prints changes as their lines arrive: the same changes as events, in file order
        shown = sorted((line.split()[-1], line.split()[0].rstrip("…"), line.split()[-2]) for line in lines[1:])
        want = sorted((to_iso(c.at), c.job_id, c.to_status) for c in changes)
        for (at, job_id, status), (w_at, w_id, w_status) in zip(shown, want, strict=True):
            assert at == w_at and w_id.startswith(job_id) and len(job_id) >= 15 and _same_status(status, w_status)
        assert re.search(rb"\x1b\[3[0-7]m[A-Z_]+\x1b\[0m", terminal)

    def test_no_color_and_color_never_give_plain_text(self, log: Path) -> None:
        for env, flags in (({"NO_COLOR": "1"}, []), (None, ["--color", "never"]), ({"TERM": "dumb"}, [])):
            code, terminal = on_sized_pty(["jobs", log, *flags], 100, env=env)
            assert code == 0 and b"SUCCESS" in terminal and b"\x1b" not in terminal, (env, flags)
        code, terminal = on_sized_pty(["summary", log, "--color", "always"], 100, env={"NO_COLOR": "1"})
        assert b"\x1b[32m" in terminal  # the flag wins over the environment

    def test_a_pipe_or_a_file_gets_every_column_uncoloured(self, log: Path, tmp_path: Path) -> None:
        env = dict(os.environ, COLUMNS="60")
        env.pop("NO_COLOR", None)
        proc = run_jobstream("jobs", log, "-f", "table", env=env)
        lines = proc.stdout.decode().splitlines()
        assert proc.returncode == 0 and b"\x1b" not in proc.stdout and "…" not in proc.stdout.decode()
        assert lines[0].split()[-1] == "VALID_MEAN_TOKEN_ACCURACY" and max(map(len, lines)) > 200
        out = tmp_path / "jobs.txt"
        code, terminal = on_sized_pty(["jobs", log, "-o", out], 60)
        assert code == 0 and terminal == b""
        assert out.read_text().splitlines() == lines  # -o gets the whole table, even from a terminal
        proc = run_jobstream("jobs", log, "-f", "table", "--color", "always", env=env)
        assert b"\x1b[32mSUCCESS\x1b[0m" in proc.stdout


# --------------------------------------------------------------------------- 9, 19, 20: pipes and signals


def signalled_while_reading_stdin(argv: list[str], data: bytes, sig: int, cwd: Path = ROOT) -> tuple[int, bytes]:
    """Run *argv* with *data* on a stdin left open, send *sig* once it waits there for more,
    and return its exit code and stderr."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    assert proc.stdin is not None
    proc.stdin.write(data)
    proc.stdin.flush()
    time.sleep(0.8)  # it is now waiting on the open pipe
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err


class TestPipesAndSignals:
    def test_a_closed_pipe_keeps_validates_verdict(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.ndjson"
        path.write_bytes(b"\n".join(b"not json %d" % i for i in range(5000)) + b"\n")
        cmd = f"{sys.executable} -m jobstream validate {path} 2>&1 | head -1"
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, cwd=ROOT, timeout=60)
        assert proc.returncode == 1 and proc.stdout.count(b"\n") == 1 and b"Traceback" not in proc.stderr

    def test_a_closed_pipe_after_good_output_exits_0(self, log: Path) -> None:
        cmd = f"{sys.executable} -m jobstream events {log} | head -1"
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, cwd=ROOT, timeout=60)
        assert proc.returncode == 0 and proc.stderr == b""

    @pytest.mark.parametrize("command", ["summary", "events", "validate", "jobs"])
    def test_ctrl_c_exits_130_without_aborted(self, command: str) -> None:
        argv = [sys.executable, "-m", "jobstream", command, "-"]
        code, err = signalled_while_reading_stdin(argv, job(1) + b"\n", signal.SIGINT)
        assert code == 130
        assert b"Aborted" not in err and b"Traceback" not in err

    # regression: listed as left alone in the stop-16 note (a traceback, on the old code)
    @pytest.mark.parametrize("how", ["console script", "python -m"])
    def test_ctrl_c_while_the_command_line_is_imported_is_no_traceback(self, tmp_path: Path, how: str) -> None:
        """Ctrl-C in the first tens of milliseconds, while the command line is being imported
        (before its handlers exist), pressed at the exact moment: when ``click`` is imported."""
        env = signal_on_import(tmp_path, "click", signal.SIGINT)
        script = Path(sys.executable).with_name("jobstream")
        if how == "console script":
            assert script.exists(), "the jobstream command is installed beside this Python"
            argv = [str(script)]
        else:
            argv = [sys.executable, "-m", "jobstream"]
        proc = subprocess.run(
            [*argv, "summary", str(EXAMPLE_LOG)], capture_output=True, cwd=tmp_path, env=env, timeout=60
        )
        assert proc.returncode == 130, proc.stderr
        assert proc.stderr == b"jobstream: interrupted\n" and proc.stdout == b""

    # regression: adversarial review of this stop (a second signal while leaving gave a traceback)
    def test_a_second_signal_while_leaving_is_no_traceback(self, tmp_path: Path) -> None:
        """Ctrl-C, then a supervisor's SIGTERM just as jobstream writes "interrupted": the real
        program, with the second signal sent from inside its message (the exact moment)."""
        script = (
            "import os, signal, sys\n"
            "import jobstream.cli as cli\n"
            "say = cli.note\n"
            "def note(message):\n"
            "    os.kill(os.getpid(), signal.SIGTERM)\n"
            "    say(message)\n"
            "cli.note = note\n"
            "sys.argv = ['jobstream', 'validate', '-']\n"
            "cli.main()\n"
        )
        code, err = signalled_while_reading_stdin(
            [sys.executable, "-c", script], job(1) + b"\n", signal.SIGINT, tmp_path
        )
        assert (code, err.strip()) == (130, b"jobstream: interrupted")  # (click ends the ^C line)

    def test_jobstream_alone_shows_the_help_as_written(self) -> None:
        """Found by the review of the message escaping: click 8.2+ raises the help of a bare
        ``jobstream`` as an error, and its newlines must not be escaped."""
        proc = run_jobstream()
        lines = proc.stderr.decode().splitlines()
        assert proc.returncode in (0, 2) and lines[0].startswith("Usage: jobstream [OPTIONS] COMMAND")
        assert "Commands:" in lines and "\\x0a" not in proc.stderr.decode()

    def test_sigterm_during_an_output_file_leaves_no_temp_file(self, tmp_path: Path) -> None:
        target = tmp_path / "out.csv"
        target.write_text("old\n")
        argv = [
            sys.executable,
            "-m",
            "jobstream",
            "events",
            "-",
            "-o",
            str(target),
            "--errors",
            str(tmp_path / "rej.ndjson"),
        ]
        code, err = signalled_while_reading_stdin(argv, job(1) + b"\nbad line\n", signal.SIGTERM)
        assert code == 143 and b"Traceback" not in err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temp file, no half rejects file
        assert target.read_text() == "old\n"

    # regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
    def test_a_closed_pipe_keeps_the_max_rejects_verdict(self, tmp_path: Path) -> None:
        """`summary bad.ndjson --max-rejects 0 | head`: the data earned exit 1 (README: "--max-rejects N
        fails the run (exit 1) ... after writing the output"; "a closed pipe ... stops quietly with the
        exit code the data earned").  The --max-rejects check runs after the output is written, so
        the BrokenPipe handler exits with Verdict.code, still 0: main exits 0, silently."""
        path = tmp_path / "bad.ndjson"
        path.write_bytes(poll("a", "QUEUED", T0) + b'{"id": 1}\n')
        code, err = _with_closed_stdout_pipe(["summary", str(path), "--max-rejects", "0"])
        assert b"Traceback" not in err
        assert code == 1

    # regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
    def test_a_usage_error_exits_2_even_when_stderr_is_a_closed_pipe(self, tmp_path: Path) -> None:
        """`jobstream jobs x --bogus 2>&1 | head -0`: a usage error is exit 2 (README).  Showing the
        usage message raises BrokenPipeError inside main's `except ClickException` block, which
        nothing catches: main exits 1 (and `jobstream --help | head -1` exits 1 too, via click's own
        EPIPE handler)."""
        r, w = os.pipe()
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobstream", "jobs", str(EXAMPLE_LOG), "--bogus"],
            stdin=subprocess.DEVNULL,
            stdout=w,
            stderr=w,
            cwd=ROOT,
        )
        os.close(w)
        os.close(r)
        assert proc.wait(timeout=60) == 2


# --------------------------------------------------------------------------- 12, 16, 17, 18: inputs and outputs


class TestInputsAndOutputs:
    @pytest.mark.parametrize("files", [[], ["notes.json", "app.log", "old.ndjson.lz4"]])
    @pytest.mark.parametrize("cmd", [["summary"], ["validate"]])
    def test_a_directory_without_logs_fails_saying_what_it_holds(
        self, tmp_path: Path, files: list[str], cmd: list[str]
    ) -> None:
        for name in files:
            (tmp_path / name).write_text("x\n")
        proc = run_jobstream(*cmd, tmp_path)
        line = one_line_error(proc)
        assert proc.returncode == 1 and "no log files" in line
        assert ("empty" in line) if not files else all(name in line for name in files)

    def test_an_unreadable_input_exits_1_naming_it_and_the_os_reason(self, tmp_path: Path, log: Path) -> None:
        secret = tmp_path / "secret.ndjson"
        secret.write_bytes(log.read_bytes())
        secret.chmod(0)
        proc = run_jobstream("summary", secret, preexec=permissions_apply)
        assert proc.returncode == 1
        line = one_line_error(proc)
        assert "secret.ndjson" in line and "Permission denied" in line

    def test_an_unreadable_file_in_a_directory_is_reported_and_the_rest_read(self, tmp_path: Path, log: Path) -> None:
        (tmp_path / "a.ndjson").write_bytes(log.read_bytes())
        (tmp_path / "b.ndjson").write_bytes(log.read_bytes())
        (tmp_path / "b.ndjson").chmod(0)
        proc = run_jobstream("summary", tmp_path, "-f", "json", preexec=permissions_apply)
        assert proc.returncode == 1 and json.loads(proc.stdout)["jobs"] == 30
        line = one_line_error(proc)
        assert "b.ndjson" in line and "Permission denied" in line

    def test_output_into_an_unwritable_directory_names_the_target(self, tmp_path: Path, log: Path) -> None:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        target = locked / "out.csv"
        proc = run_jobstream("events", log, "-o", target, preexec=permissions_apply)
        line = one_line_error(proc)
        assert proc.returncode == 1 and str(target) in line and ".jobstream-" not in line

    @pytest.mark.parametrize(
        "name,check",
        [
            ("out.csv", lambda t: t.startswith("job_id,job_type,")),
            ("out.json", lambda t: isinstance(json.loads(t), list)),
            ("out.jsonl", lambda t: json.loads(t.splitlines()[0])["job_id"]),
            ("out.txt", lambda t: t.startswith("JOB_ID")),
        ],
    )
    def test_output_format_follows_the_extension(self, tmp_path: Path, log: Path, name: str, check: Any) -> None:
        proc = run_jobstream("events", log, "-o", tmp_path / name)
        assert proc.returncode == 0 and check((tmp_path / name).read_text())

    def test_a_known_extension_this_command_cannot_write_is_refused(self, tmp_path: Path, log: Path) -> None:
        proc = run_jobstream("events", log, "-o", tmp_path / "out.prom")
        assert proc.returncode == 2 and b"-o" in proc.stderr and not (tmp_path / "out.prom").exists()

    def test_errors_and_output_naming_the_same_file_is_refused(self, tmp_path: Path, log: Path) -> None:
        same = tmp_path / "x.ndjson"
        proc = run_jobstream("events", log, "--errors", same, "-o", same)
        assert proc.returncode == 1 and "same file" in one_line_error(proc) and not same.exists()

    def test_a_full_disk_leaves_the_rejects_file_absent_not_half_written(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.ndjson"
        path.write_bytes(b"".join(b"not json %d %s\n" % (i, b"x" * 200) for i in range(2000)))
        errors = tmp_path / "rejects.ndjson"

        def small_files() -> None:  # writes past 64 KiB fail, as on a full disk
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))

        proc = run_jobstream("summary", path, "--errors", errors, preexec=small_files)
        line = one_line_error(proc)
        assert proc.returncode == 1 and "rejects.ndjson" in line
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ndjson"]


# --------------------------------------------------------------------------- the corpus: never a traceback

NASTY = [
    DEEP,
    DEEP_FLOAT,
    FAR_FUTURE,
    MAX_INT_TIME,
    b"\xff\xfe\x00garbage",
    b"[1,2,3]",
    b"null",
    b'"str"',
    b'{"id":"a"}',
    job(3, job_type=None),
    job(4, job_type="reward"),
    job(5, created_at=1717000000.5),
    b'{"object":"list","data":[1]}',
    b"{" * 50,
    job(6, model="\x1b[31mred\x00nul"),
    b'{"id":"' + b"\xed\xa0\x80" + b'","status":"Q","created_at":1,"modified_at":1}',
    b"\r",
    b"\xef\xbb\xbf",
]


@pytest.mark.parametrize(
    "cmd",
    COMMANDS
    + [
        ["jobs", "-f", "table"],
        ["summary", "-f", "csv"],
        ["events", "--iso"],
        ["tail", "--from-start", "--exit-on-terminal"],
    ],
)
def test_no_traceback_for_any_nasty_input_on_a_terminal_or_with_stdout_closed(tmp_path: Path, cmd: list[str]) -> None:
    path = tmp_path / "nasty.ndjson"
    path.write_bytes(b"\n".join(NASTY + [job(9, "SUCCESS")]) + b"\n")
    args = [*cmd, str(path)] if cmd[0] != "tail" else ["tail", "-", *cmd[1:]]
    stdin = None if cmd[0] != "tail" else path.open("rb")
    try:
        code, terminal, err = on_pty(args, "stdout", stdin=stdin or subprocess.DEVNULL)
    finally:
        if stdin is not None:
            stdin.close()
    assert b"Traceback" not in terminal and b"Traceback" not in err, err
    assert code in (0, 1), err
    closed = subprocess.run(
        [sys.executable, "-m", "jobstream", *args],
        stdin=path.open("rb"),
        stdout=None,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
        cwd=ROOT,
        timeout=60,
    )
    assert b"Traceback" not in closed.stderr and closed.returncode in (0, 1), closed.stderr
