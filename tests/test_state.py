"""The incremental state file (``--state FILE``): what it saves, how it commits, what it
refuses, and that a crash at any point leaves the next run equal to an uninterrupted one.

Crashes are real: a forked child (or a real ``python -m jobstream``) is killed with SIGKILL,
at a named point of the commit (``jobstream.run.state.FAULT``, set only in the child) or at a
random moment."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import msgspec
import orjson
import pytest
from helpers import ROOT, T0, append, log_bytes, poll, run_jobstream
from statehelp import crash_at, out_of

from jobstream.errors import StateError, StateLockedError
from jobstream.run.state import FORMAT, MAGIC, State, _Doc, _Options, encode_state


@pytest.fixture(scope="module")
def content() -> bytes:
    """A generated log (40 jobs, ~2.5 MB) to grow files with."""
    return log_bytes(40, seed=7)


def grow(path: Path, content: bytes, upto: int) -> None:
    """Make *path* hold the first *upto* bytes of *content* (appending what is missing)."""
    have = path.stat().st_size if path.exists() else 0
    append(path, content[have:upto])


class TestIncrementalRuns:
    def test_a_rerun_reads_only_appended_bytes_and_prints_what_a_full_run_prints(
        self, tmp_path: Path, content: bytes
    ) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        cuts = [len(content) // 2 + 11, len(content) * 3 // 4 + 5, len(content)]
        done = 0
        for cut in cuts:  # cuts fall inside lines: only complete lines advance the state
            grow(log, content, cut)
            for what in ("summary", "events"):
                got, res = out_of(what, [log], state=st, out=tmp_path / "o")
                want, _ = out_of(what, [log], out=tmp_path / "o")
                assert got == want
            complete = content.rfind(b"\n", 0, cut) + 1
            assert res.read.bytes == 0  # the events run came after summary: nothing new for it
            done = complete
        _, res = out_of("summary", [log], state=st, out=tmp_path / "o")
        assert res.read.bytes == 0 and done == len(content)

    def test_the_first_run_reads_everything_and_each_rerun_only_the_new_bytes(
        self, tmp_path: Path, content: bytes
    ) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        grow(log, content, 1_000_000)
        first = content.rfind(b"\n", 0, 1_000_000) + 1
        _, res = out_of("summary", [log], state=st, out=tmp_path / "o")
        assert res.read.bytes == first
        grow(log, content, 1_500_000)
        second = content.rfind(b"\n", 0, 1_500_000) + 1
        _, res = out_of("summary", [log], state=st, out=tmp_path / "o")
        assert res.read.bytes == second - first

    def test_a_rerun_with_nothing_new_reads_only_heads_and_checks(self, tmp_path: Path, content: bytes) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(content)
        out_of("summary", [log], state=st, out=tmp_path / "o")
        size = st.stat().st_size

        def rchar() -> int:
            for text in Path("/proc/self/io").read_text().splitlines():
                if text.startswith("rchar:"):
                    return int(text.split()[1])
            raise AssertionError("no rchar in /proc/self/io")

        before = rchar()
        with State.load(st) as state:
            update = state.update([log])
        read = rchar() - before
        assert update.read.bytes == 0 and update.changed == []
        # the state file, a 4 KiB head and a 1 KiB check: nothing of the 2.5 MB log
        assert read < size + 64 * 1024, read

    def test_state_size_grows_with_jobs_not_lines(self, tmp_path: Path, content: bytes) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(content)
        out_of("summary", [log], state=st, out=tmp_path / "o")
        once = st.stat().st_size
        for _ in range(3):  # the same polls re-exported: 4x the lines, the same jobs
            append(log, content)
        out_of("summary", [log], state=st, out=tmp_path / "o")
        assert st.stat().st_size < once * 1.05
        assert st.stat().st_size < log.stat().st_size / 50

    def test_filters_are_not_part_of_the_state(self, tmp_path: Path, content: bytes) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(content)
        assert run_jobstream("summary", log, "--state", st, "--status", "FAILED").returncode == 0
        proc = run_jobstream("events", log, "--state", st, "--model", "open-mistral-7b", "--since", "2025-01-01")
        assert proc.returncode == 0
        assert proc.stdout == run_jobstream("events", log, "--model", "open-mistral-7b", "--since", "2025-01-01").stdout


class TestValidate:
    def test_validate_with_a_state_reports_every_reject_of_every_run_and_checks_only_new_lines(
        self, tmp_path: Path
    ) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "v.state"
        log.write_bytes(poll("a", "RUNNING", T0 + 5) + b"oops\n")
        first = run_jobstream("validate", log, "--state", st)
        assert first.returncode == 1
        append(log, poll("b", "QUEUED", T0 + 6) + b'{"id": 1}\n' + poll("a", "SUCCESS", T0 + 7))
        got, full = run_jobstream("validate", log, "--state", st), run_jobstream("validate", log)
        assert (got.returncode, got.stderr) == (full.returncode, full.stderr) == (1, full.stderr)
        assert full.stderr.decode().splitlines()[-1] == "5 line(s) checked in 1 source(s): 3 accepted, 2 rejected"
        _, res = out_of("validate", [log], state=st, out=tmp_path / "errors.ndjson")
        assert res.read.lines == 0 and res.stats.rejected == 2


class TestStateFile:
    def test_one_file_with_magic_format_length_and_checksum(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(poll("a", "RUNNING", T0 + 5))
        out_of("summary", [log], state=st, out=tmp_path / "o")
        data = st.read_bytes()
        assert data.startswith(MAGIC)
        fmt, flags, length = (
            int.from_bytes(data[20:22], "big"),
            int.from_bytes(data[22:24], "big"),
            int.from_bytes(data[24:32], "big"),
        )
        crc = int.from_bytes(data[32:36], "big")
        payload = data[36:]
        assert (fmt, flags, length) == (FORMAT, 0, len(payload))
        assert zlib.crc32(payload, zlib.crc32(data[20:32])) == crc
        doc = msgspec.msgpack.decode(payload)
        assert doc["generation"] == 1 and len(doc["files"]) == 1 and len(doc["jobs"]) == 1
        # positions and the fold in the one file: nothing else beside it but the lock and .prev
        assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs.ndjson", "o", "s.state", "s.state.lock"]

    def test_a_run_that_changes_nothing_writes_nothing(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(poll("a", "RUNNING", T0 + 5))
        out_of("summary", [log], state=st, out=tmp_path / "o")
        before = st.stat()
        out_of("summary", [log], state=st, out=tmp_path / "o")
        after = st.stat()
        assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
        assert not (tmp_path / "s.state.prev").exists()

    def test_each_save_keeps_the_previous_generation(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(poll("a", "RUNNING", T0 + 5))
        out_of("summary", [log], state=st, out=tmp_path / "o")
        first = st.read_bytes()
        append(log, poll("a", "SUCCESS", T0 + 9))
        out_of("summary", [log], state=st, out=tmp_path / "o")
        assert (tmp_path / "s.state.prev").read_bytes() == first
        assert st.read_bytes() != first

    @pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
    def test_a_damaged_newest_generation_is_replaced_by_the_previous_one_and_fails_the_run(
        self, tmp_path: Path, damage: str
    ) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(poll("a", "RUNNING", T0 + 5))
        assert run_jobstream("summary", log, "--state", st).returncode == 0
        append(log, poll("b", "QUEUED", T0 + 6))
        assert run_jobstream("summary", log, "--state", st).returncode == 0
        append(log, poll("a", "SUCCESS", T0 + 9))
        data = bytearray(st.read_bytes())
        if damage == "flip":
            data[len(data) // 2] ^= 0x40
        elif damage == "truncate":
            del data[len(data) - 7 :]
        else:
            data.clear()
        st.write_bytes(bytes(data))
        proc = run_jobstream("summary", log, "--state", st, "-f", "json")
        err = proc.stderr.decode()
        assert proc.returncode == 1, err
        assert "is damaged" in err and "previous generation" in err and "Traceback" not in err
        assert orjson.loads(proc.stdout) == orjson.loads(run_jobstream("summary", log, "-f", "json").stdout)
        again = run_jobstream("summary", log, "--state", st, "-f", "json")  # repaired: quiet again
        assert again.returncode == 0 and again.stderr == b""

    def test_a_damaged_state_without_a_usable_generation_is_an_error_until_reset(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(poll("a", "RUNNING", T0 + 5))
        assert run_jobstream("summary", log, "--state", st).returncode == 0
        data = bytearray(st.read_bytes())
        data[-3] ^= 1
        st.write_bytes(bytes(data))
        proc = run_jobstream("summary", log, "--state", st)
        assert proc.returncode == 1 and proc.stdout == b""
        assert (
            proc.stderr.decode().strip()
            == f"Error: state {st} is damaged (checksum mismatch); --reset-state to start over"
        )
        assert st.read_bytes() == bytes(data)  # never silently replaced
        proc = run_jobstream("summary", log, "--state", st, "--reset-state", "-f", "json")
        assert proc.returncode == 0 and orjson.loads(proc.stdout)["jobs"] == 1

    def test_a_state_from_a_newer_jobstream_is_refused(self, tmp_path: Path) -> None:
        st = tmp_path / "s.state"
        data = bytearray(b"".join(encode_state(_Doc(options=_Options("fold", "lean", 1 << 24)))))
        data[20:22] = (FORMAT + 1).to_bytes(2, "big")
        st.write_bytes(bytes(data))
        with pytest.raises(StateError, match="newer jobstream"):
            State.load(st)

    def test_an_older_document_loads_with_defaults_for_fields_added_since(self, tmp_path: Path) -> None:
        """The upgrade path: fields added to the format decode with defaults (msgspec), so an
        older file needs no converter; a breaking change bumps FORMAT and adds a loader."""
        st = tmp_path / "s.state"
        old = {"options": {"kind": "fold", "model": "lean", "max_line_bytes": 1 << 24}, "generation": 3}
        payload = msgspec.msgpack.encode(old)
        head = FORMAT.to_bytes(2, "big") + b"\0\0" + len(payload).to_bytes(8, "big")
        st.write_bytes(MAGIC + head + zlib.crc32(payload, zlib.crc32(head)).to_bytes(4, "big") + payload)
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(poll("a", "RUNNING", T0 + 5))
        with State.load(st) as state:
            assert state.generation == 3 and state.files == [] and not state.is_new
            state.update([log])
            state.save()
        with State.load(st) as state:  # written back in the current format
            assert state.generation == 4 and len(state.files) == 1 and state.stats.lines == 1

    def test_a_file_that_is_not_a_state_is_never_replaced(self, tmp_path: Path) -> None:
        other = tmp_path / "notes.txt"
        other.write_bytes(b"my notes\n")
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(poll("a", "RUNNING", T0 + 5))
        for extra in ([], ["--reset-state"]):
            proc = run_jobstream("summary", log, "--state", other, *extra)
            assert proc.returncode == 1 and b"is not a jobstream state file" in proc.stderr
        assert other.read_bytes() == b"my notes\n"

    def test_the_state_cannot_be_an_input_or_an_output(self, tmp_path: Path) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(poll("a", "RUNNING", T0 + 5))
        proc = run_jobstream("summary", log, "--state", log)
        assert proc.returncode == 1 and b"refusing to overwrite input file" in proc.stderr
        proc = run_jobstream("summary", log, "--state", tmp_path / "s", "-o", tmp_path / "s")
        assert proc.returncode == 1 and b"-o and --state name the same file" in proc.stderr
        assert log.read_bytes() == poll("a", "RUNNING", T0 + 5)


class TestOptions:
    def test_a_different_max_line_bytes_is_refused_clearly(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(poll("a", "RUNNING", T0 + 5))
        assert run_jobstream("summary", log, "--state", st, "--max-line-bytes", "100000").returncode == 0
        proc = run_jobstream("summary", log, "--state", st)
        assert proc.returncode == 1
        err = proc.stderr.decode().strip()
        assert err.startswith(f"Error: state {st} folds the lean projection")
        assert "--max-line-bytes 100000; this run asks for" in err and "--reset-state" in err

    def test_a_command_folding_another_projection_is_refused(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(poll("a", "RUNNING", T0 + 5))
        assert run_jobstream("summary", log, "--state", st).returncode == 0
        assert run_jobstream("events", log, "--state", st).returncode == 0  # summary and events fold alike
        proc = run_jobstream("jobs", log, "--state", st)
        assert proc.returncode == 1 and b"this run asks for the view projection" in proc.stderr
        proc = run_jobstream("validate", log, "--state", st)
        assert proc.returncode == 1 and b"the full projection" in proc.stderr

    def test_state_needs_files_and_new_needs_a_state(self, tmp_path: Path) -> None:
        proc = run_jobstream("summary", "-", "--state", tmp_path / "s")
        assert proc.returncode == 2 and b"stdin cannot be resumed" in proc.stderr
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        proc = run_jobstream("summary", fifo, "--state", tmp_path / "s")
        assert proc.returncode == 2 and b"cannot be resumed (a pipe)" in proc.stderr
        proc = run_jobstream("summary", "s3://bucket/jobs.ndjson", "--state", tmp_path / "s")
        assert proc.returncode == 2 and b"--state resumes local files" in proc.stderr
        proc = run_jobstream("events", tmp_path, "--new")
        assert proc.returncode == 2 and b"--new" in proc.stderr
        proc = run_jobstream("summary", tmp_path, "--reset-state")
        assert proc.returncode == 2 and b"goes with --state" in proc.stderr


class TestLock:
    def test_an_overlapping_run_exits_75_at_once_and_changes_nothing(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(poll("a", "RUNNING", T0 + 5))
        assert run_jobstream("summary", log, "--state", st).returncode == 0
        before = st.read_bytes()
        append(log, poll("a", "SUCCESS", T0 + 9))
        with State.load(st):  # another run holds it
            t0 = time.monotonic()
            proc = run_jobstream("summary", log, "--state", st)
            assert time.monotonic() - t0 < 20
            with pytest.raises(StateLockedError):
                State.load(st)
        assert proc.returncode == 75 and proc.stdout == b""
        err = proc.stderr.decode().strip()
        assert err == (
            f"Error: state {st} is in use by another jobstream run (pid {os.getpid()}); this run did "
            "nothing: the next run reads what it would have read"
        )
        assert st.read_bytes() == before
        proc = run_jobstream("summary", log, "--state", st, "-f", "json")  # the lock died with its holder
        assert proc.returncode == 0 and orjson.loads(proc.stdout)["by_status"] == {"SUCCESS": 1}

    def test_two_real_runs_never_interleave(self, tmp_path: Path, content: bytes) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        for _ in range(8):
            append(log, content)  # ~20 MB: a run long enough to overlap
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "jobstream", "summary", str(log), "--state", str(st), "-f", "json"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=ROOT,
            )
            for _ in range(2)
        ]
        codes = sorted(p.wait(120) for p in procs)
        for p in procs:
            p.stdout.close()  # type: ignore[union-attr]
            p.stderr.close()  # type: ignore[union-attr]
        assert codes in ([0, 0], [0, 75])
        with State.load(st) as state:
            assert state.generation == codes.count(0)
            assert state.stats.lines == content.count(b"\n") * 8


class TestCrashSafety:
    """Killed at any point, the next run gives what an uninterrupted one gives."""

    POINTS = ["read", "save", "written", "previous", "renamed", "synced"]

    @pytest.mark.parametrize("point", POINTS)
    def test_killed_at_each_point_of_a_run_the_next_run_is_exact(
        self, tmp_path: Path, content: bytes, point: str
    ) -> None:
        log, st, out = tmp_path / "jobs.ndjson", tmp_path / "s.state", tmp_path / "new.ndjson"
        grow(log, content, len(content) // 2)
        printed, _ = out_of("events", [log], state=st, new=True, out=out)
        with State.load(st) as state:
            generation = state.generation
        grow(log, content, len(content))

        status = crash_at(point, lambda: out_of("events", [log], state=st, new=True, out=out))
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        with State.load(st) as state:
            committed = state.generation > generation
        assert committed == (point in ("renamed", "synced"))
        # no temp file survives the next run; it gives exactly what the full run gives
        lost = out.read_bytes() if committed else b""
        again, _ = out_of("events", [log], state=st, new=True, out=out)
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        everything, _ = out_of("events", [log], out=tmp_path / "all")
        assert sorted((printed + lost + again).splitlines()) == sorted(everything.splitlines())
        summary, _ = out_of("summary", [log], state=st, out=tmp_path / "o")
        assert summary == out_of("summary", [log], out=tmp_path / "o")[0]

    def test_a_real_process_killed_at_random_moments_leaves_an_exact_state(self, tmp_path: Path) -> None:
        log, st, out = tmp_path / "jobs.ndjson", tmp_path / "s.state", tmp_path / "new.ndjson"
        data = log_bytes(150, seed=12)  # ~14 MB of distinct lines: each run has real work to be killed in
        rng = random.Random(11)
        cuts = sorted(rng.randrange(len(data)) for _ in range(7)) + [len(data)]
        grow(log, data, cuts[0])
        printed, _ = out_of("events", [log], state=st, new=True, out=out)
        killed = 0
        for cut in cuts[1:]:
            grow(log, data, cut)
            with State.load(st) as state:
                generation = state.generation
            proc = subprocess.Popen(
                [sys.executable, "-m", "jobstream", "events", str(log), "--state", str(st), "--new", "-o", str(out)],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.02, 0.4))
            proc.send_signal(signal.SIGKILL)
            killed += proc.wait(WAIT_KILL) == -signal.SIGKILL
            with State.load(st) as state:
                if state.generation > generation:  # it got as far as the commit: its output counts
                    printed += out.read_bytes()
        assert killed >= 3  # most runs really were killed, at different moments
        again, _ = out_of("events", [log], state=st, new=True, out=out)
        everything, _ = out_of("events", [log], out=tmp_path / "all")
        assert sorted((printed + again).splitlines()) == sorted(everything.splitlines())
        got, _ = out_of("summary", [log], state=st, out=tmp_path / "o")
        assert got == out_of("summary", [log], out=tmp_path / "o")[0]


WAIT_KILL = 60
