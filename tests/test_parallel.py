"""Parallel reading: plans, forked workers, exact renumbering, consistency under rotation."""

from __future__ import annotations

import gzip
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import WAIT, job, log_bytes, log_with_bad_lines
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import jobstream
from jobstream.decode.decoder import Reject
from jobstream.errors import JobstreamError
from jobstream.generate import generate
from jobstream.run import batch as pipeline
from jobstream.run import parallel

pytestmark = pytest.mark.usefixtures("forks")  # real workers, or the test fails

#: Small files split into several ranges, so real workers run in the tests.
SMALL = {"min_parallel_bytes": 1, "range_bytes": 20_000}


def same_lines(a: jobstream.ReadStats, b: jobstream.ReadStats) -> bool:
    """Line accounting is the same; how many lines were skipped as repeats depends on the split."""
    for stats in (a, b):
        assert stats.snapshots == stats.accepted  # no list pages: one job object per accepted line, repeats too
    return (a.sources, a.bytes, a.lines, a.blank, a.accepted, a.rejected) == (
        b.sources,
        b.bytes,
        b.lines,
        b.blank,
        b.accepted,
        b.rejected,
    )


def run(paths: list[Path], workers: int) -> tuple[Any, list[Reject]]:
    rejects: list[Reject] = []
    result = jobstream.fold_paths(paths, workers=workers, on_reject=rejects.append, **SMALL)
    return result, rejects


def fold_in_two(units: list[parallel.Unit], fds: dict[Any, int]) -> parallel.Outcome:
    """*units* folded by two processes, as fold_paths does; the planned descriptors closed after."""
    try:
        return parallel.run(
            units,
            fds,
            pipeline._InProcess(pipeline.Fold("view"), 1 << 20, 1 << 16),
            workers=2,
            encode=jobstream.JobTable.to_bytes,
            decode=jobstream.JobTable.from_bytes,
        )
    finally:
        for fd in fds.values():
            os.close(fd)


def planned(paths: Any, workers: int = 2, **kwargs: Any) -> Any:
    sources = jobstream.read(paths).sources
    out = parallel.plan(
        sources,
        workers,
        min_bytes=kwargs.get("min_parallel_bytes", SMALL["min_parallel_bytes"]),
        min_range=kwargs.get("range_bytes", SMALL["range_bytes"]),
    )
    if out is None:
        return None
    units, fds = out
    for fd in fds.values():
        os.close(fd)
    return units


def test_parallel_fold_equals_single_process_and_keeps_true_line_numbers(tmp_path: Path) -> None:
    path, bad_at = log_with_bad_lines(tmp_path)
    units = planned(path)
    assert units is not None and len(units) >= 3  # really split
    single, rej1 = run([path], 1)
    multi, rej2 = run([path], 2)
    assert multi.table == single.table
    assert same_lines(multi.stats, single.stats)
    assert [r.line for r in rej2] == [r.line for r in rej1] == sorted(bad_at)
    assert [(r.offset, r.raw) for r in rej2] == [(r.offset, r.raw) for r in rej1]
    data = path.read_bytes()
    for r in rej2:
        assert data[r.offset : r.offset + len(r.raw)] == r.raw


def test_ranges_are_newline_aligned_and_cover_the_file(tmp_path: Path) -> None:
    path, _ = log_with_bad_lines(tmp_path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        ranges = parallel.split_ranges(fh.fileno(), size, 7)
    assert ranges[0][0] == 0 and ranges[-1][1] == size
    data = path.read_bytes()
    for (_, b), (c, _) in itertools.pairwise(ranges):
        assert b == c and data[b - 1 : b] == b"\n"


def test_gzip_files_are_whole_units_and_mix_with_plain_ones(tmp_path: Path) -> None:
    plain, _ = log_with_bad_lines(tmp_path, "a.ndjson")
    gz = tmp_path / "b.ndjson.gz"
    gz.write_bytes(gzip.compress(log_bytes(20, 9)))
    units = planned([plain, gz])
    assert units is not None and [u.end for u in units if u.source.name == str(gz)] == [-1]
    single, rej1 = run([plain, gz], 1)
    multi, rej2 = run([plain, gz], 2)
    assert multi.table == single.table and same_lines(multi.stats, single.stats)
    assert [(r.source, r.line) for r in rej2] == [(r.source, r.line) for r in rej1]


def test_small_inputs_stdin_and_strict_stay_in_one_process(tmp_path: Path) -> None:
    path, _ = log_with_bad_lines(tmp_path)
    assert planned(path, 4, min_parallel_bytes=pipeline.PARALLEL_MIN_BYTES) is None  # small
    assert planned(path, 1) is None  # one worker
    assert planned("-", 4) is None  # stdin


def test_read_counts_belong_to_the_read_not_the_summary(tmp_path: Path) -> None:
    path, bad_at = log_with_bad_lines(tmp_path)
    result = jobstream.fold_paths([path], workers=2, **SMALL)
    st = result.stats
    assert st.rejected == len(bad_at) and st.lines == st.rejected + sum(1 for _ in jobstream.read(path))
    assert st.snapshots == st.accepted  # every job object read counts, repeated ones too
    s = jobstream.summarize([path], workers=2, **SMALL)
    assert s == result.table.summary() and s.jobs == 30
    assert not hasattr(s, "lines") and not hasattr(s, "rejected")


def test_parallel_validation_reports_the_same_rejects_at_true_lines(tmp_path: Path) -> None:
    path, bad_at = log_with_bad_lines(tmp_path)
    results = []
    for workers in (1, 2):
        rejects: list[Reject] = []
        stats = pipeline.validate_paths([path], workers=workers, on_reject=rejects.append, **SMALL)
        results.append(
            ((stats.lines, stats.accepted, stats.rejected, stats.blank), [(r.line, r.offset, r.error) for r in rejects])
        )
    assert results[0] == results[1]
    assert [line for line, _, _ in results[0][1]] == bad_at


_POOL = [line for line in generate(6, seed=31)][:12] + [
    b"{oops",
    b"",
    b"   ",
    b'{"id":"x","status":1}',
    b"\xff\xfe",
    b'{"id":"' + b"z" * 400 + b'"}',
]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(st.lists(st.sampled_from(_POOL), min_size=4, max_size=60), st.booleans(), st.booleans())
def test_parallel_equals_single_on_messy_logs(
    tmp_path_factory: Any, lines: list[bytes], bom: bool, final_newline: bool
) -> None:
    tiny = {"min_parallel_bytes": 1, "range_bytes": 256}
    path = tmp_path_factory.mktemp("m") / "log.ndjson"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + (b"\n" if final_newline else b""))
    # only inputs that really split count: every example exercises the parallel path
    units = planned(path, **tiny)
    assume(units is not None and any(u.start > 0 for u in units))
    got = []
    for workers in (1, 2):
        rejects: list[Reject] = []
        res = jobstream.fold_paths([path], workers=workers, on_reject=rejects.append, max_line_bytes=300, **tiny)
        st_ = res.stats
        got.append(
            (
                res.table.jobs(),
                (st_.lines, st_.accepted, st_.rejected, st_.blank, st_.bytes),
                [(r.line, r.offset, r.raw, r.error) for r in rejects],
            )
        )
    assert got[0] == got[1]


def test_a_file_name_that_is_not_utf8_crosses_the_workers_and_names_its_rejects(tmp_path: Path) -> None:
    path, bad_at = log_with_bad_lines(tmp_path)
    odd = os.path.join(os.fsencode(tmp_path), b"log-\xff.ndjson")
    os.rename(path, odd)
    for workers in (1, 2):
        rejects: list[Reject] = []
        result = jobstream.fold_paths(odd, workers=workers, on_reject=rejects.append, **SMALL)
        assert [r.line for r in rejects] == bad_at
        assert all(r.source.endswith("log-\\xff.ndjson") for r in rejects)
        assert all(orjson.loads(r.to_json())["source"] == r.source for r in rejects)
        assert result.stats.rejected == len(bad_at)


def test_a_rotation_during_a_parallel_read_does_not_mix_files(tmp_path: Path) -> None:
    """Every range is read from the file as it was opened, even if the name points elsewhere."""
    path, bad_at = log_with_bad_lines(tmp_path)
    original = path.read_bytes()
    expected, rej_expected = run([path], 1)
    sources = jobstream.read(path).sources
    planned_run = parallel.plan(sources, 2, min_bytes=1, min_range=20_000)
    assert planned_run is not None
    units, fds = planned_run
    # rotate: the name now holds other content; the old file is gone from the directory
    os.rename(path, tmp_path / "rotated.ndjson")
    path.write_bytes(log_bytes(5, 99))
    os.unlink(tmp_path / "rotated.ndjson")
    outcome = fold_in_two(units, fds)
    table = outcome.payloads[0]
    for other in outcome.payloads[1:]:
        table.merge_in(other)
    assert table == expected.table
    assert [r.line for r in parallel.renumber(units, outcome.units)] == [r.line for r in rej_expected] == bad_at
    assert len(original) > 0


def test_many_small_files_are_batched_not_opened_at_once(tmp_path: Path) -> None:
    lines = list(generate(20, seed=4))
    paths = []
    for i, line in enumerate(lines[:300]):
        p = tmp_path / f"{i:04}.ndjson"
        p.write_bytes(line + b"\n")
        paths.append(p)
    out = parallel.plan(jobstream.read(paths).sources, 2, min_bytes=1, min_range=1 << 20)
    assert out is not None
    units, fds = out
    assert fds == {}  # none kept open by the planner
    assert parallel._assign(units, 2, 0.8)[0] and parallel._assign(units, 2, 0.8)[1]  # both processes busy
    single, _ = run(paths, 1)
    multi, _ = run(paths, 2)
    assert multi.table == single.table and multi.stats.lines == single.stats.lines == len(paths)


# --------------------------------------------------------------------------- regressions found by review


def test_parallel_fold_survives_a_line_with_a_huge_int(tmp_path: Path) -> None:
    """Found by review: a line with an integer beyond 64 bits broke the parallel fold (the invariant:
    any split of the input gives the single-process answer)."""
    p = tmp_path / "log.ndjson"
    huge = job(0).replace(b'"modified_at":1717000100', b'"modified_at":1180591620717411303424')  # 2**70
    assert huge != job(0)
    p.write_bytes(b"\n".join([job(i) for i in range(20)] + [huge]) + b"\n")
    single = jobstream.fold_paths([p], workers=1)
    multi = jobstream.fold_paths([p], workers=2, min_parallel_bytes=1, range_bytes=64)
    assert multi.table == single.table and single.stats.rejected == multi.stats.rejected == 1


def test_same_file_named_twice_keeps_true_line_numbers(tmp_path: Path) -> None:
    """Found by review: a file named twice lost its true line numbers in a parallel read (the
    invariant: rejects are reported where they are, however the input is split)."""
    p = tmp_path / "log.ndjson"
    p.write_bytes(b"\n".join([job(1), b"BAD", job(2)] + [job(10 + i) for i in range(10)]) + b"\n")
    for workers in (1, 2):
        rejects: list[Reject] = []
        jobstream.fold_paths([p, p], workers=workers, on_reject=rejects.append, min_parallel_bytes=1, range_bytes=64)
        assert [r.line for r in rejects] == [2, 2]


# regression: a worker outlived its parent killed with SIGKILL (listed as left alone in the stop-16 note)
#: The work of the orphan test, in a module of its own: a spawned worker imports it by name.
_SLOW_WORK = """
import os, time

class Slow:
    def __init__(self, parent, pidfile):
        self.parent, self.pidfile = parent, pidfile

    def __call__(self, units, fds):
        if os.getpid() != self.parent:
            with open(self.pidfile, "w") as fh:
                fh.write(str(os.getpid()))
        time.sleep(60)  # a long read, in both processes
        return None, []
"""

_ORPHAN_SCRIPT = """
import os, sys, threading
sys.path.insert(0, sys.argv[3])
import jobstream
from jobstream.run import parallel
from slowwork import Slow

log, pidfile, _, how = sys.argv[1:]
if how == "spawned":  # a thread runs: the workers are started as new interpreters
    threading.Thread(target=threading.Event().wait, daemon=True).start()
units, fds = parallel.plan(jobstream.read(log).sources, 2, min_bytes=1, min_range=1)
parallel.run(units, fds, Slow(os.getpid(), pidfile), workers=2, encode=bytes, decode=bytes)
"""


def _alive(pid: int) -> bool:
    """Whether *pid* runs (a zombie left for init to reap counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
@pytest.mark.parametrize("how", ["forked", "spawned"])
def test_workers_end_when_the_parent_is_killed(tmp_path: Path, how: str) -> None:
    """A cron timeout's `kill -9` of a parallel run must not leave its workers reading on."""
    log, pidfile = tmp_path / "jobs.ndjson", tmp_path / "worker.pid"
    log.write_bytes(log_bytes(20, 3))
    (tmp_path / "slowwork.py").write_text(_SLOW_WORK)
    proc = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, str(log), str(pidfile), str(tmp_path), how])
    worker = 0
    try:
        deadline = time.monotonic() + WAIT
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            time.sleep(0.01)
        worker = int(pidfile.read_text())
        assert _alive(worker)
        proc.kill()
        proc.wait(WAIT)
        deadline = time.monotonic() + WAIT
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not _alive(worker), "the worker outlived its killed parent"
    finally:
        proc.kill()
        proc.wait(WAIT)
        if worker and _alive(worker):
            os.kill(worker, signal.SIGKILL)


# --------------------------------------------------------------------------- a process with threads


@pytest.fixture
def a_thread_runs() -> Iterator[None]:
    """Another thread runs in this process, as in a Jupyter kernel or an application."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(WAIT)


class Pid:
    """Work whose payload is the pid of the process that did it (importable by a spawned worker)."""

    def __call__(self, units: Any, fds: Any) -> tuple[int, list[Any]]:
        return os.getpid(), [parallel.UnitResult(u.index, 0, jobstream.ReadStats()) for u in units]


def pid_bytes(pid: int) -> bytes:
    return str(pid).encode()


def pids(units: list[parallel.Unit], fds: dict[Any, int], work: Any = None) -> list[int]:
    """The pids that did the work of a 2-process run (the parent's first)."""
    outcome = parallel.run(units, fds, work or Pid(), workers=2, encode=pid_bytes, decode=int)
    return [int(p) for p in outcome.payloads]


class Boom:
    """Work that fails in the worker (imported by name by a spawned worker, so module-level)."""

    def __init__(self, parent: int) -> None:
        self.parent = parent

    def __call__(self, units: Any, fds: Any) -> tuple[Any, list[Any]]:
        if os.getpid() != self.parent:
            raise ValueError("boom in the worker")
        return None, []


# regression: a process with threads (a Jupyter kernel) read every input in one process
def test_a_process_with_threads_spawns_its_workers_and_folds_the_same(tmp_path: Path, a_thread_runs: None) -> None:
    path, bad_at = log_with_bad_lines(tmp_path)
    units, fds = parallel.plan(jobstream.read(path).sources, 2, min_bytes=1, min_range=20_000) or ([], {})
    assert len(units) >= 2
    outcome = fold_in_two(units, fds)
    assert len(outcome.payloads) == 2  # a worker really ran beside this process
    expected, rej_expected = run([path], 1)
    table = outcome.payloads[0].merge(outcome.payloads[1])
    assert table == expected.table
    assert [r.line for r in parallel.renumber(units, outcome.units)] == [r.line for r in rej_expected] == bad_at
    # and through the library's entry points, rejects and counts included
    multi_rejects: list[Reject] = []
    multi = jobstream.fold_paths([path], workers=2, on_reject=multi_rejects.append, **SMALL)
    assert multi.table == expected.table and same_lines(multi.stats, expected.stats)
    assert [(r.line, r.error) for r in multi_rejects] == [(r.line, r.error) for r in rej_expected]
    checked: list[Reject] = []
    stats = pipeline.validate_paths([path], workers=2, on_reject=checked.append, **SMALL)
    assert stats.rejected == len(checked) >= len(bad_at)


def test_a_spawned_worker_that_fails_is_one_error_naming_why(tmp_path: Path, a_thread_runs: None) -> None:
    path, _ = log_with_bad_lines(tmp_path)
    units, fds = parallel.plan(jobstream.read(path).sources, 2, min_bytes=1, min_range=20_000) or ([], {})
    try:
        with pytest.raises(JobstreamError, match="a worker process failed: ValueError: boom in the worker"):
            parallel.run(units, fds, Boom(os.getpid()), workers=2, encode=bytes, decode=bytes)
    finally:
        for fd in fds.values():
            os.close(fd)


def test_an_incremental_run_in_a_process_with_threads_reads_in_spawned_workers_alike(
    tmp_path: Path, a_thread_runs: None
) -> None:
    """``State.update`` (``--state``) with workers, called where a thread runs: its per-range
    work is pickled to the spawned workers, and folds as one process."""
    from jobstream.run.state import State

    log = tmp_path / "jobs.ndjson"
    log.write_bytes(log_bytes(30, 5) + b"not json\n" + log_bytes(10, 6))
    seen = {}
    for workers in (1, 2):
        with State.load(tmp_path / f"{workers}.state") as state:
            update = state.update([log], workers=workers, min_parallel_bytes=1, range_bytes=20_000)
            table = update.table.to_table()
            seen[workers] = (table, update.stats.lines, [(r.line, r.error) for r in update.rejects])
    assert seen[2] == seen[1] and seen[1][2] and seen[1][0].events()


# regressions: adversarial review of the spawned workers
@pytest.fixture
def planned_log(tmp_path: Path) -> Iterator[tuple[list[parallel.Unit], dict[Any, int]]]:
    path, _ = log_with_bad_lines(tmp_path)
    units, fds = parallel.plan(jobstream.read(path).sources, 2, min_bytes=1, min_range=20_000) or ([], {})
    assert len(units) >= 2
    yield units, fds
    for fd in fds.values():
        os.close(fd)


def test_a_spawned_worker_really_runs_elsewhere(planned_log: Any, a_thread_runs: None) -> None:
    mine, theirs = pids(*planned_log)
    assert mine == os.getpid() and theirs != mine


def test_a_spawned_worker_does_not_import_from_the_working_directory(
    planned_log: Any, a_thread_runs: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``pickle.py`` beside the user's notebook must not replace the standard library's."""
    here = tmp_path / "cwd"
    here.mkdir()
    (here / "pickle.py").write_text(f"open({str(here / 'imported')!r}, 'w').close()\nraise SystemExit('shadow')\n")
    monkeypatch.chdir(here)
    mine, theirs = pids(*planned_log)
    assert theirs != mine and not (here / "imported").exists()


def test_work_that_cannot_travel_is_done_here(planned_log: Any, a_thread_runs: None) -> None:
    """A closure does not pickle: its share is done by this process, not an error."""
    assert set(pids(*planned_log, work=lambda units, fds: (os.getpid(), []))) == {os.getpid()}


_MAIN_WORK = """
import os, sys, threading
import jobstream
from jobstream.run import parallel

class Local:  # defined in __main__: a new interpreter cannot import it
    def __call__(self, units, fds):
        return os.getpid(), []

if sys.argv[2] == "close stdin":  # the input is then opened as fd 0, a new process's stdin
    os.close(0)
threading.Thread(target=threading.Event().wait, daemon=True).start()
if sys.argv[3] == "local":
    units, fds = parallel.plan(jobstream.read(sys.argv[1]).sources, 2, min_bytes=1, min_range=20_000)
    assert min(fds.values()) == 0 or sys.argv[2] == "keep stdin"
    out = parallel.run(units, fds, Local(), workers=2, encode=lambda p: str(p).encode(), decode=int)
    print(sorted(set(out.payloads)) == [os.getpid()])
else:  # the run opens the input as the lowest free descriptor: 0
    single = jobstream.fold_paths(sys.argv[1], workers=1)
    assert os.open(os.devnull, os.O_RDONLY) == 0 and os.close(0) is None  # 0 is free again
    multi = jobstream.fold_paths(sys.argv[1], workers=2, min_parallel_bytes=1, range_bytes=20_000)
    print(multi.table == single.table and multi.stats.lines == single.stats.lines and not multi.stats.failed)
"""


@pytest.mark.parametrize("stdin,work", [("keep stdin", "local"), ("close stdin", "local"), ("close stdin", "fold")])
def test_a_worker_that_cannot_start_or_an_input_on_fd_0_changes_nothing(tmp_path: Path, stdin: str, work: str) -> None:
    """Work defined in ``__main__`` (a script, a notebook) is done by the parent; an input that
    was opened as fd 0 (the process started with stdin closed) is read whole by a spawned
    worker, not replaced by the worker's stdin."""
    path, _ = log_with_bad_lines(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", _MAIN_WORK, str(path), stdin, work], capture_output=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0 and proc.stdout == b"True\n", proc.stderr
    assert b"Traceback" not in proc.stderr


# regressions: second adversarial review of the spawned workers
def _fake_python(directory: Path, body: str) -> str:
    path = directory / "fake-python"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def test_workers_that_never_start_cost_one_wait_not_one_each(
    tmp_path: Path, a_thread_runs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sys.executable`` that is not Python (an embedding host): it never reads its share nor
    says it started.  One deadline for all workers, then the parent does their shares; big
    shares (many units) cannot block it either, since they are written by threads."""
    paths = []
    for i in range(300):  # many small units: a share that does not fit a pipe
        p = tmp_path / f"{i:03}.ndjson"
        p.write_bytes(job(i) + b"\n")
        paths.append(p)
    units, fds = parallel.plan(jobstream.read(paths).sources, 4, min_bytes=1, min_range=1 << 20) or ([], {})
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "exec sleep 60"))
    started = time.monotonic()
    outcome = parallel.run(units, fds, Pid(), workers=4, encode=pid_bytes, decode=int, spawn_timeout=2)
    took = time.monotonic() - started
    assert {int(p) for p in outcome.payloads} == {os.getpid()}
    assert sorted(r.index for r in outcome.units) == [u.index for u in units] == list(range(len(units)))
    assert took < 2 * 2, f"{took:.1f} s: the 2 s wait was paid once per worker"  # 3 workers: 6 s if serial


def test_a_process_with_many_descriptors_still_spawns(planned_log: Any, a_thread_runs: None) -> None:
    """select() cannot watch descriptors above 1023: the wait for the workers must not use it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        mine, theirs = pids(*planned_log)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert theirs != mine
