"""Plain helpers shared by the test modules (the fixtures are in conftest.py).

Snapshot lines and decoded snapshots, generated logs, the real ``jobstream`` program (run
to its end, on a pseudo-terminal, or followed line by line as ``tail`` prints), and the
command line's output read back and compared with the library's answer.

Single-purpose helpers stay beside their tests: statehelp.py (incremental state runs),
servers.py (HTTP and S3 servers), chromium.py (the headless browser).
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec
import orjson
from click.testing import CliRunner, Result

import jobstream
from jobstream.cli import cli
from jobstream.generate import generate

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
#: The sample log the README describes.
EXAMPLE_LOG = ROOT / "examples" / "jobs.ndjson"
#: The epoch of the snapshot lines :func:`line` builds.
T0 = 1_750_000_000
#: The epoch of the job objects :func:`job` builds.
JOB_T0 = 1_717_000_000
#: Upper bound of any wait for a followed program's output; a passing test waits far less.
WAIT = 10.0


def realworld_path() -> Path:
    """The real job objects: vendored in ``tests/fixtures/realworld``, else ``../shared/realworld``."""
    vendored = TESTS / "fixtures" / "realworld"
    if vendored.is_dir():
        return vendored
    return ROOT.parent / "shared" / "realworld"


REALWORLD = realworld_path()


# --------------------------------------------------------------------------- snapshots


def job(i: int, status: str = "RUNNING", **extra: Any) -> bytes:
    """Job object *i* (``job-i``, a completion job) as one JSON line without its newline."""
    obj = {
        "id": f"job-{i}",
        "status": status,
        "created_at": JOB_T0 + i,
        "modified_at": JOB_T0 + 100 + i,
        "job_type": "completion",
        "model": "open-mistral-7b",
    }
    obj.update(extra)
    return orjson.dumps(obj)


def poll(
    job_id: str,
    status: str,
    t: int,
    *,
    created: int = T0,
    model: str = "open-mistral-7b",
    job_type: str | None = "completion",
    events: Sequence[tuple[str, int]] | None = None,
    **extra: Any,
) -> bytes:
    """One snapshot line, as a poller appends it: *job_id* in *status*, modified at *t*;
    *events* as ``(status, created_at)``; *extra* fields last."""
    obj: dict[str, Any] = {
        "id": job_id,
        "object": "job",
        "model": model,
        "status": status,
        "created_at": created,
        "modified_at": t,
    }
    if job_type is not None:
        obj["job_type"] = job_type
    if events is not None:
        obj["events"] = [{"name": "status-updated", "data": {"status": s}, "created_at": at} for s, at in events]
    obj.update(extra)
    return orjson.dumps(obj) + b"\n"


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


_DECODERS: dict[str, jobstream.SnapshotDecoder] = {}


def decoder_for(model: str) -> jobstream.SnapshotDecoder:
    """One shared decoder per model (``full``, ``view``, ``lean``)."""
    if model not in _DECODERS:
        _DECODERS[model] = jobstream.SnapshotDecoder(model)  # type: ignore[arg-type]
    return _DECODERS[model]


def snapshot(
    job_id: str = "j",
    status: str = "QUEUED",
    modified_at: int = 100,
    *,
    created_at: int = 100,
    events: Sequence[tuple[int, str | None]] | None = None,
    decoder: jobstream.SnapshotDecoder | str = "view",
    **extra: Any,
) -> Any:
    """A decoded snapshot; events as (created_at, status or None for an event without data), newest first."""
    obj: dict[str, Any] = {"id": job_id, "status": status, "created_at": created_at, "modified_at": modified_at}
    if events is not None:
        obj["events"] = [
            {"name": "status-updated", "created_at": t, **({"data": {"status": s}} if s is not None else {})}
            for t, s in sorted(events, reverse=True)
        ]
    obj.update(extra)
    dec = decoder_for(decoder) if isinstance(decoder, str) else decoder
    (out,) = dec.decode_line(orjson.dumps(obj))
    return out


def completion(job_id: str, status: str, t: int, model: str, *, created: int = 1000, **extra: Any) -> Any:
    """A completion job's snapshot decoded with the full schema: *job_id* in *status* at *t*."""
    return snapshot(job_id, status, t, created_at=created, model=model, job_type="completion", decoder="full", **extra)


# --------------------------------------------------------------------------- generated logs


def log_lines(jobs: int, seed: int = 0, **kwargs: Any) -> list[bytes]:
    """A generated log's lines, each with its newline."""
    return [x + b"\n" for x in generate(jobs, seed, **kwargs)]


def log_bytes(jobs: int, seed: int = 0, **kwargs: Any) -> bytes:
    """A generated log, as ``jobstream generate`` writes it."""
    return b"".join(log_lines(jobs, seed, **kwargs))


def read_all(paths: Any, **kwargs: Any) -> tuple[list[Any], list[Any], jobstream.ReadStats]:
    """Everything ``jobstream.read`` gives for *paths*: the snapshots, the rejects and the counts."""
    rejects: list[Any] = []
    reader = jobstream.read(paths, on_reject=rejects.append, **kwargs)
    snaps = list(reader)
    return snaps, rejects, reader.stats


def log_with_bad_lines(tmp_path: Path, name: str = "log.ndjson") -> tuple[Path, list[int]]:
    """A generated log (30 jobs, a BOM, a blank line) with four bad lines; its path and their line numbers."""
    lines = list(generate(30, seed=8))
    bad_at = [3, len(lines) // 3, len(lines) // 2, len(lines) - 1]
    for i in sorted(bad_at, reverse=True):
        lines.insert(i - 1, b'{"id": "broken", "status": 1}')
    lines.insert(10, b"")  # a blank line counts for numbering, not as a record
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    expected = [n for n, x in enumerate(lines, 1) if x.startswith(b'{"id": "broken"')]
    assert len(expected) == len(bad_at)
    return path, expected


def events_of(paths: list[Path]) -> list[jobstream.StatusChange]:
    """What ``jobstream events`` gives for *paths*."""
    return jobstream.fold_paths(paths, model="lean", workers=1).table.events()


# --------------------------------------------------------------------------- the real program


def run_jobstream(
    *args: Any,
    stdin: Any = subprocess.DEVNULL,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    preexec: Any = None,
    **kwargs: Any,
) -> subprocess.CompletedProcess[bytes]:
    """``python -m jobstream ARGS`` run to its end as cron runs it (bytes arguments pass as they are)."""
    return subprocess.run(
        [sys.executable, "-m", "jobstream", *(a if isinstance(a, bytes) else str(a) for a in args)],
        stdin=stdin,
        capture_output=True,
        timeout=timeout,
        env=env,
        preexec_fn=preexec,
        cwd=ROOT,
        **kwargs,
    )


def signal_on_import(directory: Path, module: str, signum: int) -> dict[str, str]:
    """An environment in which a program sends itself *signum* when it first imports *module*:
    a key pressed at an exact moment, through a ``sitecustomize`` written to *directory*."""
    (directory / "sitecustomize.py").write_text(
        "import os, sys\n"
        "class _Signal:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {module!r}:\n"
        "            sys.meta_path.remove(self)\n"
        f"            os.kill(os.getpid(), {int(signum)})\n"
        "        return None\n"
        "sys.meta_path.insert(0, _Signal())\n"
    )
    path = os.pathsep.join(p for p in (str(directory), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def _stderr(what: subprocess.CompletedProcess[bytes] | str | bytes) -> str:
    err = what.stderr if isinstance(what, subprocess.CompletedProcess) else what
    return err.decode("utf-8", "replace") if isinstance(err, bytes) else err


def no_traceback(what: subprocess.CompletedProcess[bytes] | str | bytes) -> str:
    """A run's stderr (or that text), asserting it holds no traceback and no doubled ``Error:``."""
    err = _stderr(what)
    assert "Traceback" not in err and "Error: Error" not in err, err
    return err


def one_line_error(what: subprocess.CompletedProcess[bytes] | str | bytes) -> str:
    """The single ``Error: ...`` line a failed run's stderr (or that text) must be."""
    lines = no_traceback(what).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


def on_pty(
    args: Sequence[Any], tty: str, stdin: Any = subprocess.DEVNULL, timeout: float = 60
) -> tuple[int, bytes, bytes]:
    """Run jobstream with *tty* (``stdout``/``stderr``/``both``) on a pseudo-terminal: (code, terminal, other)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobstream", *map(str, args)],
        stdin=stdin,
        stdout=slave if tty in ("stdout", "both") else subprocess.PIPE,
        stderr=slave if tty in ("stderr", "both") else subprocess.PIPE,
        cwd=ROOT,
    )
    os.close(slave)
    got = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            got += data
        elif proc.poll() is not None:
            break
    os.close(master)
    other = b""
    if tty != "both":
        stream = proc.stderr if tty == "stdout" else proc.stdout
        assert stream is not None
        other = stream.read()
        stream.close()
    return proc.wait(timeout), bytes(got), other


class Pipe:
    """Lines from a child's stdout or stderr, read with bounded waits.

    A thread drains the pipe from the start, as a terminal or a consumer would: a child is
    never blocked on a full pipe while the test is not reading (waiting for its exit after a
    signal, say), which would hang it in ``write`` and time the test out.
    """

    def __init__(self, stream: Any) -> None:
        self.fd = stream.fileno()
        self.buf = b""
        self.lines: list[str] = []
        self.history: list[str] = []  # every line read, consumed or not
        self.eof = False
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:  # bounded: ends at EOF, which the child's exit (or kill) brings
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # closed under it by Tail.close()
                data = b""
            with self._ready:
                if not data:
                    self.eof = True
                    self._ready.notify_all()
                    return
                self.buf += data
                *complete, self.buf = self.buf.split(b"\n")
                text = [x.decode("utf-8", "backslashreplace") for x in complete]  # never kill the drain
                self.lines.extend(text)
                self.history.extend(text)
                self._ready.notify_all()

    def _wait(self, until: Any, timeout: float) -> None:
        with self._ready:
            self._ready.wait_for(lambda: until() or self.eof, timeout)

    def join(self) -> None:
        """Wait (bounded) for the drain to reach EOF, before the stream is closed: an fd closed
        under a running drain could be reused by another file and read from."""
        self._thread.join(WAIT)

    def take(self, n: int, timeout: float = WAIT) -> list[str]:
        """The next *n* lines; fails if they do not arrive within *timeout*."""
        self._wait(lambda: len(self.lines) >= n, timeout)
        with self._ready:
            got, self.lines = self.lines[:n], self.lines[n:]
            partial = self.buf
        assert len(got) == n, f"expected {n} line(s), got {got!r} (partial: {partial!r})"
        return got

    def wait_for(self, text: str, timeout: float = WAIT) -> str:
        """Consume lines up to and including the first one containing *text*."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            with self._ready:
                while self.lines:
                    got = self.lines.pop(0)
                    seen.append(got)
                    if text in got:
                        return got
                if self.eof or time.monotonic() >= deadline:
                    raise AssertionError(f"{text!r} not seen within {timeout}s; got {seen!r}")
                self._ready.wait(max(0.0, deadline - time.monotonic()))

    def quiet(self, for_seconds: float) -> list[str]:
        """Whatever arrives in *for_seconds* (to check that nothing does)."""
        self._wait(lambda: False, for_seconds)
        with self._ready:
            got, self.lines = self.lines, []
        return got

    def rest(self, timeout: float = WAIT) -> tuple[list[str], bytes]:
        """Everything up to EOF: complete lines and any unterminated tail."""
        self._wait(lambda: False, timeout)
        with self._ready:
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
            try:
                self.err.wait_for("jobstream: following")
            except BaseException:  # never left running: the fixture only knows the started ones
                self.close()
                raise

    def events(self, n: int) -> list[dict[str, Any]]:
        return [orjson.loads(x) for x in self.out.take(n)]

    def finish(self, timeout: float = WAIT) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)
        for pipe in (self.out, self.err):
            pipe.join()
        for stream in (self.proc.stdout, self.proc.stderr, self.proc.stdin):
            if stream is not None:
                stream.close()


def brief(ev: dict[str, Any]) -> tuple[str, str | None, str]:
    """An event printed by ``tail -f ndjson`` as (job, from, to)."""
    return ev["job_id"], ev["from_status"], ev["to_status"]


# --------------------------------------------------------------------------- the command line's output read back

FORMATS = ("table", "json", "ndjson", "csv")
TIME_FIELDS = {"created_at", "modified_at", "first_seen", "last_seen", "checkpoint_at", "at"}
EVENT_FIELDS = ["job_id", "job_type", "model", "from_status", "to_status", "at"]
DEFAULT_JOB_FIELDS = [
    "id",
    "job_type",
    "model",
    "status",
    "created_at",
    "modified_at",
    "fine_tuned_model",
    "trained_tokens",
    "cost",
    "cost_currency",
    "checkpoint_step",
    "train_loss",
    "valid_loss",
    "valid_mean_token_accuracy",
]
ALL_JOB_FIELDS = [
    "id",
    "job_type",
    "model",
    "status",
    "created_at",
    "modified_at",
    "first_seen",
    "last_seen",
    "observations",
    "fine_tuned_model",
    "trained_tokens",
    "cost",
    "cost_currency",
    "checkpoint_step",
    "checkpoint_at",
    "train_loss",
    "valid_loss",
    "valid_mean_token_accuracy",
    "integrations",
    "queue_wait",
    "run_time",
    "total",
]
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SGR = re.compile("\x1b\\[[0-9;]*m")


def plain(text: str) -> str:
    """*text* without its colour codes."""
    return SGR.sub("", text)


def invoke(*args: Any, input: bytes | str | None = None) -> Result:
    """The command line run in this process (click's CliRunner)."""
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def table_of(path: Path) -> jobstream.JobTable:
    return jobstream.fold_paths([path]).table


def to_iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_table(text: str) -> list[dict[str, str]]:
    """Rows of an aligned table: columns are the spans between all-blank character columns."""
    lines = [x for x in text.splitlines() if x.strip()]
    width = max(len(x) for x in lines)
    padded = [x.ljust(width) for x in lines]
    blank = [all(x[i] == " " for x in padded) for i in range(width)] + [True]
    spans, start = [], None
    for i, is_blank in enumerate(blank):
        if not is_blank and start is None:
            start = i
        elif is_blank and start is not None:
            spans.append((start, i))
            start = None
    cells = [[x[a:b].strip() for a, b in spans] for x in padded]
    head = [h.lower() for h in cells[0]]
    return [dict(zip(head, row, strict=True)) for row in cells[1:]]


def parse(fmt: str, text: str) -> list[dict[str, Any]]:
    """The rows of a *fmt* output."""
    if fmt == "json":
        data = json.loads(text)
        assert isinstance(data, list)
        return data
    if fmt == "ndjson":
        return [json.loads(x) for x in text.splitlines()]
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    return parse_table(text)


def fmt_secs(v: int) -> str:
    """Durations as the table shows them: 45s, 26.6m, 3.8h."""
    return f"{v}s" if v < 120 else f"{v / 60:.1f}m" if v < 7200 else f"{v / 3600:.1f}h"


def expected_cell(fmt: str, field: str, value: Any, iso: bool = False) -> Any:
    """What *value* of *field* looks like once a *fmt* output is parsed back."""
    if fmt == "table":
        if value is None:
            return ""
        if field in TIME_FIELDS:
            return to_iso(value)
        if field in ("queue_wait", "run_time", "total"):
            return fmt_secs(value)
        if isinstance(value, float):
            return f"{value:.6g}"
        if isinstance(value, list):
            return ";".join(value)
        return str(value)
    if iso and field in TIME_FIELDS and value is not None:
        value = to_iso(value)
    if fmt == "csv":
        if value is None:
            return ""
        if isinstance(value, list):
            return ";".join(value)
        return repr(value) if isinstance(value, float) else str(value)
    return value


def expected_rows(objs: Sequence[Any], fields: Sequence[str], fmt: str, iso: bool = False) -> list[dict[str, Any]]:
    """The rows a *fmt* output of *objs* parses back to."""
    return [{f: expected_cell(fmt, f, getattr(o, f), iso) for f in fields} for o in objs]


def summary_data(summary: jobstream.Summary, stats: jobstream.ReadStats | None = None) -> dict[str, Any]:
    """What ``summary -f json`` prints: the figures, with the read counts after ``jobs``."""
    data: dict[str, Any] = msgspec.to_builtins(summary)
    if summary.group_by is None:
        data.pop("groups")
        data.pop("group_by")
    for g in data.get("groups", {}).values():
        del g["groups"], g["group_by"]
    if stats is not None:
        data = {
            "jobs": data.pop("jobs"),
            "snapshots": stats.snapshots,
            "lines": stats.lines,
            "rejected": stats.rejected,
            **data,
        }
    return data


def summary_of(*paths: Any, by: str | None = None) -> dict[str, Any]:
    """What ``summary -f json PATHS`` prints, from the library."""
    result = jobstream.fold_paths(list(paths))
    return summary_data(result.table.summary(by=by), result.stats)


def write_generated(path: Path, jobs: int, seed: int = 0, **kwargs: Any) -> Path:
    """*path* made to hold a generated log (see :func:`log_bytes`); returns *path*."""
    path.write_bytes(log_bytes(jobs, seed, **kwargs))
    return path
