"""Regression tests for the adversarial review of the hardening (#13) and one-engine (#10) work.

Each test names the behaviour it wants and fails on main (dbff749) for the reason in its
docstring.  Real inputs and real processes throughout: no mocks.
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from jobstream.decode.decoder import SnapshotDecoder
from jobstream.decode.models import JobView
from jobstream.decode.step import ReadStats, SourceFailure
from jobstream.io.sources import Source
from jobstream.reduce.reducer import JobTable
from jobstream.run import parallel
from jobstream.run.batch import fold_paths, read_unit
from jobstream.run.reader import read

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_717_000_000


def js(
    *args: Any, stdin: Any = subprocess.DEVNULL, timeout: float = 60, **kw: Any
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "jobstream", *map(str, args)],
        stdin=stdin,
        capture_output=True,
        timeout=timeout,
        cwd=ROOT,
        **kw,
    )


def line(job_id: str, status: str, modified_at: int, **extra: Any) -> bytes:
    obj = {"id": job_id, "status": status, "created_at": T0, "modified_at": modified_at}
    obj.update(extra)
    return orjson.dumps(obj) + b"\n"


def no_traceback(proc: subprocess.CompletedProcess[bytes]) -> str:
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    return err


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


# --------------------------------------------------------------------------- tail --exit-status


class TestTailExitStatus:
    def test_exit_status_is_3_when_stdin_ends_before_a_named_job_was_seen(self) -> None:
        """`--job a --job b --exit-on-terminal --exit-status`: only job a (SUCCESS) arrives, then stdin
        ends.  Job b never ended, so CI must not read this as success.  main exits 0: `followed()`
        only lists jobs that were seen, and every one of those succeeded."""
        data = line("a", "QUEUED", T0) + line("a", "SUCCESS", T0 + 5)
        proc = js(
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
        log.write_bytes(line("a", "QUEUED", T0) + line("a", "SUCCESS", T0 + 5))
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


# --------------------------------------------------------------------------- -o and symlinks


def test_output_to_a_symlink_writes_through_it_and_keeps_the_link(tmp_path: Path) -> None:
    """`-o link.json` where link.json -> real.json: main replaces the *link* with a regular file
    (os.replace on the link's own path) and leaves real.json stale.  With `-o /dev/stdout` and
    stdout redirected to a file, the same code path replaced the system's /dev/stdout symlink
    with a regular file (run as root).  Only the harmless tmp_path variant is tested here."""
    real = tmp_path / "real.json"
    real.write_text("old\n")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    proc = js("summary", ROOT / "examples" / "jobs.ndjson", "-o", link)
    no_traceback(proc)
    assert proc.returncode == 0
    assert link.is_symlink(), "the symlink was replaced by a regular file"
    assert json.loads(real.read_text())["jobs"] == 10


# --------------------------------------------------------------------------- linear time


def _best_read_time(path: Path, block_size: int, runs: int = 2) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        list(read(str(path), model="lean", block_size=block_size, on_reject=lambda r: None))
        best = min(best, time.perf_counter() - t0)
    return best


class TestLinearTime:
    """The same bytes read in 16 MiB blocks and in 4 KiB blocks must cost about the same: the
    decode step is meant to be linear in a chunk's lines.  On main both cases below are
    quadratic in the lines of one chunk (20-30x slower whole at 20k lines; 222 s for an 18 MB
    log with a blank line after each record, 206 s for 80k bad lines)."""

    def test_blank_lines_between_records_decode_in_linear_time(self, tmp_path: Path) -> None:
        """decoder._by_line retries the whole rest of the chunk (`lines[pos:]`, a copy) after every
        blank line, and a blank line does not count as a failure, so the retries never stop."""
        path = tmp_path / "double-spaced.ndjson"
        path.write_bytes(b"\n".join(line(f"j{i}", "RUNNING", T0 + i) for i in range(20000)))  # "}\n\n{"
        whole, small = _best_read_time(path, 16 << 20), _best_read_time(path, 4096)
        assert whole < 5 * small, f"16 MiB blocks {whole:.2f}s vs 4 KiB blocks {small:.2f}s"

    def test_rejected_lines_in_one_chunk_are_checked_in_linear_time(self, tmp_path: Path) -> None:
        """decoder._one computes each reject's offset as sum(map(len, lines[:where])): O(line index)
        per reject.  `jobstream validate` of a 640 KB file of 80k wrong-shaped lines took 206 s."""
        path = tmp_path / "wrong-shape.ndjson"
        path.write_bytes(b'{"a":1}\n' * 20000)
        whole, small = _best_read_time(path, 16 << 20), _best_read_time(path, 4096)
        assert whole < 5 * small, f"16 MiB blocks {whole:.2f}s vs 4 KiB blocks {small:.2f}s"


# --------------------------------------------------------------------------- times after 2106


def test_times_after_2106_survive_the_wire_form_and_parallel_reads(tmp_path: Path) -> None:
    """The README accepts times up to the end of 9999, but observations are packed as
    `time << 32 | code`, which passes 2**64 for any time after 2106-02-07 (2**32 s): msgpack
    cannot encode it.  `to_bytes` raises OverflowError and every parallel run over such a line
    fails ("a worker process failed"), while -j 1 works."""
    t = 5_000_000_000  # 2128-06-11
    table = JobTable().update(
        [
            JobView(id="a", status="QUEUED", created_at=t, modified_at=t),
            JobView(id="a", status="SUCCESS", created_at=t, modified_at=t + 60),
        ]
    )
    assert JobTable.from_bytes(table.to_bytes()) == table

    path = tmp_path / "future.ndjson"
    path.write_bytes(
        b"".join(
            b'{"id":"j%d","status":"RUNNING","created_at":%d,"modified_at":%d}\n' % (i, t, t + i) for i in range(2000)
        )
    )
    one = fold_paths(path, workers=1)
    two = fold_paths(path, workers=2, min_parallel_bytes=1, range_bytes=1000)
    assert two.table == one.table and two.stats.accepted == 2000


# --------------------------------------------------------------------------- closed pipes and exit codes


def test_a_closed_pipe_keeps_the_max_rejects_verdict(tmp_path: Path) -> None:
    """`summary bad.ndjson --max-rejects 0 | head`: the data earned exit 1 (README: "--max-rejects N
    fails the run (exit 1) ... after writing the output"; "a closed pipe ... stops quietly with the
    exit code the data earned").  The --max-rejects check runs after the output is written, so
    the BrokenPipe handler exits with Verdict.code, still 0: main exits 0, silently."""
    path = tmp_path / "bad.ndjson"
    path.write_bytes(line("a", "QUEUED", T0) + b'{"id": 1}\n')
    code, err = _with_closed_stdout_pipe(["summary", str(path), "--max-rejects", "0"])
    assert b"Traceback" not in err
    assert code == 1


def test_a_usage_error_exits_2_even_when_stderr_is_a_closed_pipe(tmp_path: Path) -> None:
    """`jobstream jobs x --bogus 2>&1 | head -0`: a usage error is exit 2 (README).  Showing the
    usage message raises BrokenPipeError inside main's `except ClickException` block, which
    nothing catches: main exits 1 (and `jobstream --help | head -1` exits 1 too, via click's own
    EPIPE handler)."""
    r, w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobstream", "jobs", str(ROOT / "examples" / "jobs.ndjson"), "--bogus"],
        stdin=subprocess.DEVNULL,
        stdout=w,
        stderr=w,
        cwd=ROOT,
    )
    os.close(w)
    os.close(r)
    assert proc.wait(timeout=60) == 2


@pytest.mark.parametrize("value", ["@inf", "@1e400", "9" * 400, "9" * 400 + "d"])
def test_since_with_an_infinite_or_huge_number_is_a_usage_error(value: str) -> None:
    """parse_time catches ValueError only: math.ceil(float('inf')) raises OverflowError, which
    escapes as a traceback with exit 1."""
    proc = js("events", ROOT / "examples" / "jobs.ndjson", "--since", value)
    no_traceback(proc)
    assert proc.returncode == 2


# --------------------------------------------------------------------------- outputs survive accepted values


@pytest.mark.parametrize("fmt", ["json", "ndjson", "parquet"])
def test_summary_survives_trained_token_totals_beyond_64_bits(tmp_path: Path, fmt: str) -> None:
    """Each line's trained_tokens is within the documented 64-bit bound, but their total is not:
    orjson raises "Integer exceeds 64-bit range" (a traceback from the default `summary -f json`)
    and pyarrow OverflowError for parquet.  Every output must survive any accepted value."""
    path = tmp_path / "tokens.ndjson"
    path.write_bytes(b"".join(line(f"t{i}", "SUCCESS", T0 + 1, trained_tokens=2**63 - 1) for i in range(3)))
    args: list[Any] = ["summary", path, "-f", fmt]
    if fmt == "parquet":
        args += ["--by", "model", "-o", tmp_path / "out.parquet"]
    proc = js(*args)
    no_traceback(proc)
    assert proc.returncode == 0


# --------------------------------------------------------------------------- gzip


def _gzip_with_bad_crc(raw: bytes) -> bytes:
    data = bytearray(gzip.compress(raw))
    data[-8:-4] = (zlib.crc32(raw) ^ 0xFFFFFFFF).to_bytes(4, "little")
    return bytes(data)


def test_gzip_damage_keeps_the_lines_decompressed_before_it(tmp_path: Path) -> None:
    """A .gz whose only fault is its CRC trailer: zlib hands out every byte, then fails on the
    check.  Decompressor.feed loses everything decompressed in the same call (zlib raises and
    the call's output is gone), and the file is read 256 KiB of compressed input at a time, so
    main reads 0 of 300 lines and reports "input could not be read" at line 1 (zcat prints all
    300 lines).  The docstring promises: "Everything that decompresses before damage comes out
    first"; the README: the failure is reported "with the line where reading stopped"."""
    raw = b"".join(line(f"j{i % 7}", "RUNNING", T0 + i) for i in range(300))
    path = tmp_path / "crc.ndjson.gz"
    path.write_bytes(_gzip_with_bad_crc(raw))
    failures: list[Any] = []
    reader = read(str(path), on_reject=failures.append)
    list(reader)
    assert reader.stats.accepted == 300
    assert [f.line for f in failures if isinstance(f, SourceFailure)] == [301]


class TestTailReportsUnreadableGzip:
    """Follower._read_stdin/_read_compressed append a SourceFailure to the reject list and call
    `_process(inp, [], out)`; `_process` hands rejects out only inside its per-frame loop, so
    with no frames the record is never reported: no stderr line, no --errors record, exit 0."""

    def test_truncated_gzip_on_stdin_is_reported(self, tmp_path: Path) -> None:
        raw = b"".join(line(f"j{i}", "RUNNING", T0 + i) for i in range(2000))
        data = gzip.compress(raw)[:-600]
        errors = tmp_path / "rejects.ndjson"
        proc = js("tail", "-", "-f", "ndjson", "--errors", errors, input=data, stdin=None)
        err = no_traceback(proc)
        assert "gzip" in err
        records = [json.loads(x) for x in errors.read_bytes().splitlines()]
        assert any("gzip" in r["error"] and r["raw"] == "" for r in records), records

    def test_a_corrupt_gz_file_followed_from_the_start_is_reported(self, tmp_path: Path) -> None:
        raw = line("a", "QUEUED", T0) + line("a", "SUCCESS", T0 + 5)
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


# --------------------------------------------------------------------------- fold: order independence


def test_fold_order_does_not_change_unknown_integration_labels(tmp_path: Path) -> None:
    """Two polls equal as Python values ({"type": 1} == {"type": true} == {"type": 1.0}) but labelled
    differently ("1", "True", "1.0").  The fold skips the second as an exact repeat
    (`acc.last == snap`), so the label depends on which came first, while a merge of the two
    halves breaks the tie by encoding: A,B gives ['1'], B,A gives ['True'], merge gives ['True'].
    README: "The result is the same whatever the order or duplication of the input."."""
    a = line("j", "RUNNING", T0 + 5, integrations=[{"type": 1}])
    b = line("j", "RUNNING", T0 + 5, integrations=[{"type": True}])
    ab, ba, pa, pb = (tmp_path / n for n in ("ab.ndjson", "ba.ndjson", "a.ndjson", "b.ndjson"))
    ab.write_bytes(a + b)
    ba.write_bytes(b + a)
    pa.write_bytes(a)
    pb.write_bytes(b)
    t_ab, t_ba = fold_paths(ab).table, fold_paths(ba).table
    merged = fold_paths(pa).table.merge(fold_paths(pb).table)
    assert t_ab.jobs() == t_ba.jobs() == merged.jobs()


HISTORY_SCRIPT = r"""
from jobstream.reduce.reducer import JobTable
from jobstream.decode.models import JobView
t = JobTable()
t.update([JobView(id=f"x{i}", status=f"S{i:06d}", created_at=1, modified_at=1) for i in range(70000)])
t.update([JobView(id="j", status="ZZZ_UNKNOWN", created_at=1, modified_at=2),
          JobView(id="j", status="QUEUED", created_at=1, modified_at=2),
          JobView(id="j", status="RUNNING", created_at=1, modified_at=3)])
print([o.time for o in t.get("j").history])
"""


def test_history_stays_in_time_order_after_65536_distinct_statuses() -> None:
    """Ties within one second are sorted by `(time << 16) | order[code]`: once a process has seen
    more than 65,536 distinct status strings (any log can carry them: unknown statuses are kept),
    order values spill into the time bits and a job's history goes out of time order, giving a
    change RUNNING -> ZZZ_UNKNOWN dated before the change it follows.  (In a subprocess: the
    status table is process-wide.)"""
    out = subprocess.run([sys.executable, "-c", HISTORY_SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    times = json.loads(out.stdout)
    assert times == sorted(times)


# --------------------------------------------------------------------------- framing


def test_oversized_reject_raw_does_not_depend_on_block_size(tmp_path: Path) -> None:
    """An over-limit line shorter than the 256-byte prefix: read whole, the reject's raw is the line;
    when it spans two reads and is completed in the framer's pending path, the prefix is cut from
    the line *with its newline*.  README: "any split of the input into pieces gives the lines,
    offsets, line numbers and rejects of reading it whole"."""
    path = tmp_path / "long.ndjson"
    path.write_bytes(b'{"id":"aaaaaaaaaaaaaaaaaaaa"}\n{"id":"b"}\n')

    def rejects(block_size: int) -> list[tuple[int, int, bytes]]:
        out: list[Any] = []
        list(read(str(path), max_line_bytes=20, block_size=block_size, on_reject=out.append))
        return [(r.line, r.offset, r.raw) for r in out]

    assert rejects(16) == rejects(1 << 20)


def test_a_file_that_shrinks_during_a_parallel_read_is_reported(tmp_path: Path) -> None:
    """The ranges are planned from the size of the descriptor opened before the fork; a
    copytruncate after planning makes `preadv` return 0 before the range's end, and main treats
    that as the end of input: the planned bytes are silently not read (no failure record,
    stats.failed 0, exit 0).  A short read of a planned range is evidence the file changed and
    should be a source-failure record ("Every non-blank line is accepted, rejected or covered by
    such a record")."""
    path = tmp_path / "shrinks.ndjson"
    path.write_bytes(b"".join(line(f"j{i}", "RUNNING", T0 + i) for i in range(3000)))
    planned = parallel.plan([Source(str(path))], 2, min_bytes=1, min_range=4096)
    assert planned is not None
    units, fds = planned
    data = path.read_bytes()
    os.truncate(path, data.rfind(b"\n", 0, len(data) // 3) + 1)  # copytruncate-like, after planning
    decoder = SnapshotDecoder("view")
    rejects: list[Any] = []
    stats = ReadStats()
    try:
        for unit in units:
            read_unit(unit, fds, decoder, stats, rejects, lambda snaps: None, block_size=4096)
    finally:
        for fd in fds.values():
            os.close(fd)
    assert stats.failed >= 1 or any(isinstance(r, SourceFailure) for r in rejects)


# --------------------------------------------------------------------------- validate --strict


def test_validate_strict_stops_at_the_first_reject(tmp_path: Path) -> None:
    """`validate --strict` is offered ("Stop at the first rejected line, exit 1.") but
    exports.validate never passes read.strict on: every line is still checked and printed."""
    path = tmp_path / "bad.ndjson"
    path.write_bytes(b'{"id":1}\n{"id":2}\n{"id":3}\n')
    proc = js("validate", path, "--strict")
    err = no_traceback(proc)
    assert proc.returncode == 1
    assert ":1:" in err and ":2:" not in err and ":3:" not in err, err


# --------------------------------------------------------------------------- tail --exec


def test_exec_timeout_applies_when_the_hook_does_not_read_a_large_event(tmp_path: Path) -> None:
    """An event whose JSON is over the pipe buffer (a >64 KiB job id: exactly what the hook
    sends on stdin instead of the environment) and a hook that does not read stdin: main blocks
    in `proc.stdin.write(data)` before the timeout loop starts, so --exec-timeout never fires
    and following stalls for the hook's whole run (SIGTERM cannot stop it either: the signal
    handler only sets a flag)."""
    data = line("x" * 200_000, "QUEUED", T0) + line("a", "QUEUED", T0)
    start = time.monotonic()
    try:
        proc = js(
            "tail", "-", "-f", "ndjson", "--exec", "sleep 20", "--exec-timeout", "1", input=data, stdin=None, timeout=15
        )
    except subprocess.TimeoutExpired:
        pytest.fail("--exec-timeout 1 did not stop a hook that ignores its stdin (still running after 15 s)")
    no_traceback(proc)
    assert time.monotonic() - start < 15


# --------------------------------------------------------------------------- tail on a pipe path


def test_tail_of_a_named_pipe_does_not_wait_forever(tmp_path: Path) -> None:
    """`jobstream tail <(poller) --exit-on-terminal`: every other command reads a FIFO path, but the
    watcher refuses anything that is not a regular file and waits "for one" forever (the name
    /dev/fd/63 never becomes a regular file).  It should follow the pipe to its end, as it does
    stdin, or fail at once with a one-line error."""
    src = tmp_path / "jobs.ndjson"
    src.write_bytes(line("a", "QUEUED", T0) + line("a", "SUCCESS", T0 + 5))
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


# --------------------------------------------------------------------------- library resources


def test_a_follower_that_is_never_closed_releases_its_descriptors(tmp_path: Path) -> None:
    """Follower() opens two pipes and an inotify descriptor as bare fds with no finalizer: each
    Follower dropped without close() leaks 5 descriptors for the life of the process."""
    from jobstream.run.follow import Follower

    path = tmp_path / "jobs.ndjson"
    path.write_bytes(line("a", "QUEUED", T0))
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        follower = Follower([str(path)])
        del follower
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) - before < 10


# --------------------------------------------------------------------------- tail --errors inside a followed glob


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


# --------------------------------------------------------------------------- nothing to read


def test_no_path_and_stdin_from_dev_null_is_not_a_green_empty_run() -> None:
    """`jobstream validate $LOGDIR` from cron or CI with LOGDIR unset: no PATH, and stdin is
    /dev/null (not a pipe, not a terminal), so main reads it as an empty log: "0 line(s) checked",
    exit 0.  The sibling of #13 item 12 ("Nothing to read passes green"); README: "With no PATH it
    reads *piped* stdin".  It should be the same usage error as on a terminal."""
    proc = js("validate", stdin=subprocess.DEVNULL)
    no_traceback(proc)
    assert proc.returncode != 0, proc.stderr


# --------------------------------------------------------------------------- memory with gzip


_PEAK = r"""
import resource, subprocess, sys
subprocess.run([sys.executable, "-m", "jobstream", *sys.argv[1:]], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_kb(*args: Any) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


def test_gzip_input_is_decoded_in_bounded_pieces(tmp_path: Path) -> None:
    """_GzipReader feeds 256 KiB of *compressed* input to zlib with no bound on the output, so a
    piece of a repetitive poll log becomes one chunk of tens or hundreds of MB (framed, decoded and
    held as one list).  A 342 KB .gz of 96 MB of repeated polls peaks at 425 MB, the same bytes
    uncompressed at 115 MB; a 1.8 MB .gz at 544 MB.  Bound the decompressed piece (zlib's
    max_length) as plain files are bounded by their 16 MiB block."""
    one = line("a", "RUNNING", T0 + 1)
    block = one * ((1 << 20) // len(one))
    plain = tmp_path / "same.ndjson"
    plain.write_bytes(block * 64)
    packed = tmp_path / "same.ndjson.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes(), 9))
    gz, raw = _peak_kb("summary", packed, "-f", "json"), _peak_kb("summary", plain, "-j", "1", "-f", "json")
    assert gz < 1.5 * raw + 20_000, f"peak RSS {gz} KB for the .gz vs {raw} KB for the same bytes plain"


# --------------------------------------------------------------------------- --fields with columnar outputs


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_jobs_fields_apply_to_columnar_outputs(tmp_path: Path, fmt: str) -> None:
    """`jobs --fields id,status -f parquet` writes all 22 columns: exports._write_arrow never sees
    `fields`, so the option is accepted and silently ignored."""
    pq = pytest.importorskip("pyarrow.parquet")
    feather = pytest.importorskip("pyarrow.feather")
    out = tmp_path / f"jobs.{fmt}"
    proc = js("jobs", ROOT / "examples" / "jobs.ndjson", "--fields", "id,status", "-f", fmt, "-o", out)
    no_traceback(proc)
    assert proc.returncode == 0
    table = pq.read_table(out) if fmt == "parquet" else feather.read_table(out)
    assert table.column_names == ["id", "status"]
