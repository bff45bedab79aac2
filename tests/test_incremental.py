"""Incremental reading: files known by content through rotation, compression, copytruncate
and rewrites; only complete lines advance; ``read_from``; and the property that a chain of
incremental runs (with rotations and crashes between and inside them) equals one full run."""

from __future__ import annotations

import gzip
import os
import signal
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import T0, append, log_bytes, poll, run_jobstream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statehelp import crash_at, out_of, rotate

import jobstream
from jobstream.run.batch import fold_paths
from jobstream.run.incremental import read_from
from jobstream.run.state import State


def lines_of(*specs: tuple[str, str, int]) -> bytes:
    return b"".join(poll(j, s, t) for j, s, t in specs)


@pytest.fixture(scope="module")
def content() -> bytes:
    return log_bytes(30, seed=21)


def same_as_full(tmp_path: Path, paths: list[Any], state: Path, union: list[Any], what: str = "summary") -> Any:
    """Run *what* with *state* over *paths*; assert it prints what a full run over *union*
    prints; return the run's result."""
    got, res = out_of(what, paths, state=state, out=tmp_path / "o", errors=tmp_path / "e")
    rejects = (tmp_path / "e").read_bytes()
    want, _ = out_of(what, union, out=tmp_path / "o", errors=tmp_path / "e")
    assert got == want
    assert sorted(rejects.splitlines()) == sorted((tmp_path / "e").read_bytes().splitlines())
    return res


class TestRotation:
    def test_rename_rotation_is_found_beside_the_name_and_finished_from_its_position(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(lines_of(("a", "QUEUED", T0 + 1), ("b", "QUEUED", T0 + 2)))
        same_as_full(tmp_path, [log], st, [log])
        unread = lines_of(("a", "RUNNING", T0 + 3))
        append(log, unread)  # written after the run, before the rotation
        rotate(tmp_path, "rename")
        fresh = lines_of(("b", "FAILED", T0 + 9))
        append(log, fresh)
        res = same_as_full(tmp_path, [log], st, [log, tmp_path / "jobs.ndjson.1"])
        assert res.read.bytes == len(unread) + len(fresh)  # the rest of .1, and the new file: nothing twice
        res = same_as_full(tmp_path, [log], st, [log, tmp_path / "jobs.ndjson.1"])
        assert res.read.bytes == 0

    def test_a_rotated_and_compressed_file_is_known_by_its_decompressed_head_and_not_read_again(
        self, tmp_path: Path, content: bytes
    ) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(content)
        same_as_full(tmp_path, [str(tmp_path / "jobs.ndjson*")], st, [log])
        rotate(tmp_path, "gzip")
        fresh = lines_of(("zz", "QUEUED", T0 + 1))
        append(log, fresh)
        union = [log, tmp_path / "jobs.ndjson.1.gz"]
        res = same_as_full(tmp_path, [str(tmp_path / "jobs.ndjson*")], st, union)
        assert res.read.bytes == len(fresh)  # the .gz: its head and length (gzip's ISIZE) say it was read
        res = same_as_full(tmp_path, [log], st, union)
        assert res.read.bytes == 0
        with State.load(st) as state:
            gz = [m for m in state.files if m.label.endswith(".gz")]
            assert len(gz) == 1 and gz[0].done and gz[0].position == len(content)
            assert gz[0].stats.lines == content.count(b"\n")

    def test_a_file_compressed_after_more_lines_were_written_is_finished_from_its_position(
        self, tmp_path: Path
    ) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(lines_of(("a", "QUEUED", T0 + 1)))
        same_as_full(tmp_path, [log], st, [log])
        more = lines_of(("a", "RUNNING", T0 + 5), ("a", "SUCCESS", T0 + 8))
        append(log, more)
        rotate(tmp_path, "gzip")
        res = same_as_full(tmp_path, [str(tmp_path / "jobs.ndjson*")], st, [log, tmp_path / "jobs.ndjson.1.gz"])
        assert res.read.bytes == len(more)
        assert res.read.lines == 2

    def test_copytruncate_finishes_the_copy_and_reads_the_new_content_from_0(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(lines_of(("a", "QUEUED", T0 + 1)))
        same_as_full(tmp_path, [log], st, [log])
        unread = lines_of(("a", "RUNNING", T0 + 4))
        append(log, unread)
        ino = log.stat().st_ino
        rotate(tmp_path, "copytruncate")
        fresh = lines_of(("b", "QUEUED", T0 + 6), ("a", "SUCCESS", T0 + 7))
        append(log, fresh)
        assert log.stat().st_ino == ino  # same name, same inode, new content
        res = same_as_full(tmp_path, [log], st, [log, tmp_path / "jobs.ndjson.1"])
        assert res.read.bytes == len(unread) + len(fresh)

    def test_copytruncate_whose_new_content_starts_alike_is_told_apart_by_the_bytes_before_the_offset(
        self, tmp_path: Path
    ) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        first = lines_of(("a", "QUEUED", T0 + 1))
        log.write_bytes(first + lines_of(("a", "RUNNING", T0 + 2)))
        same_as_full(tmp_path, [log], st, [log])
        rotate(tmp_path, "copytruncate")
        append(log, first + lines_of(("a", "FAILED", T0 + 3), ("b", "QUEUED", T0 + 4)))  # the same first line
        res = same_as_full(tmp_path, [str(tmp_path / "jobs.ndjson*")], st, [log, tmp_path / "jobs.ndjson.1"])
        assert res.read.bytes == log.stat().st_size and res.warnings == []

    def test_a_rewritten_file_is_read_again_from_0_with_a_warning(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        first = lines_of(("a", "QUEUED", T0 + 1))
        log.write_bytes(first + lines_of(("a", "RUNNING", T0 + 2)))
        out_of("summary", [log], state=st, out=tmp_path / "o")
        with open(log, "r+b") as fh:  # rewritten in place: same first line, other bytes after it
            fh.write(first + lines_of(("a", "FAILED", T0 + 3), ("b", "QUEUED", T0 + 4)))
        got, res = out_of("summary", [log], state=st, out=tmp_path / "o")
        assert len(res.warnings) == 1 and "jobs.ndjson: rewritten" in res.warnings[0]
        assert res.read.bytes == log.stat().st_size
        # what it held before stays folded (a fold cannot forget): the job is FAILED either way
        assert orjson.loads(got)["by_status"] == {"FAILED": 1, "QUEUED": 1}

    def test_a_vanished_file_keeps_its_contribution(self, tmp_path: Path) -> None:
        a, b, st = tmp_path / "a.ndjson", tmp_path / "b.ndjson", tmp_path / "s.state"
        a.write_bytes(lines_of(("a", "RUNNING", T0 + 1)))
        b.write_bytes(lines_of(("b", "FAILED", T0 + 2)) + b"not json\n")
        out_of("summary", [tmp_path], state=st, out=tmp_path / "o")
        b.unlink()
        append(a, lines_of(("a", "SUCCESS", T0 + 3)))
        got, res = out_of("summary", [tmp_path], state=st, out=tmp_path / "o")
        summary = orjson.loads(got)
        assert summary["by_status"] == {"FAILED": 1, "SUCCESS": 1} and summary["lines"] == 4
        assert summary["rejected"] == 1 and res.read.bytes == len(lines_of(("a", "SUCCESS", T0 + 3)))

    def test_files_with_the_same_content_fold_exactly(self, tmp_path: Path) -> None:
        """Byte-identical files cannot be told apart by content (nor, with inodes reused, by
        inode): which is which may be mistaken, but the same lines fold to the same state, so
        jobs and events stay exact; only the counts of lines read can differ."""
        logs, st = tmp_path / "logs", tmp_path / "s.state"
        logs.mkdir()
        live = logs / "jobs.ndjson"
        same = poll("a", "QUEUED", T0 + 1)
        everything = str(logs / "jobs.ndjson*")
        for _ in range(3):
            append(live, same)
            rotate(logs, "rename")
            for what in ("events", "summary"):
                got, _ = out_of(what, [everything], state=st, out=tmp_path / "o")
                want, _ = out_of(what, [everything], out=tmp_path / "o")
                if what == "events":
                    assert got == want
                else:
                    a, b = orjson.loads(got), orjson.loads(want)
                    for k in ("snapshots", "lines", "observations"):
                        a.pop(k), b.pop(k)
                    assert a == b


class TestCompleteLines:
    def test_a_partial_last_line_is_in_the_output_but_read_whole_next_time(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        done = lines_of(("a", "QUEUED", T0 + 1))
        last = poll("a", "RUNNING", T0 + 5)
        log.write_bytes(done + last[:-1])  # a complete JSON object, its newline not written yet
        res = same_as_full(tmp_path, [log], st, [log])
        assert res.stats.lines == 2  # as a full run counts it
        with State.load(st) as state:
            assert state.files[0].position == len(done) and state.stats.lines == 1
        append(log, b"\n" + poll("a", "SUCCESS", T0 + 9)[:30])  # and a new half line
        res = same_as_full(tmp_path, [log], st, [log])
        assert res.read.bytes == len(last)  # the held line, whole, once
        append(log, poll("a", "SUCCESS", T0 + 9)[30:])
        res = same_as_full(tmp_path, [log], st, [log])
        assert res.stats.rejected == 0 and res.read.lines == 1

    def test_a_file_without_a_complete_line_is_read_for_the_output_only(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(b'{"id": "a", "status"')
        res = same_as_full(tmp_path, [log], st, [log])
        assert res.stats.rejected == 1
        with State.load(st) as state:
            assert state.files == []
        append(log, b': "QUEUED", "created_at": 1, "modified_at": 2}\n')
        res = same_as_full(tmp_path, [log], st, [log])
        assert res.stats.rejected == 0


class TestReadFrom:
    def test_reading_resumes_where_the_last_read_stopped(self, tmp_path: Path) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(lines_of(("a", "QUEUED", T0 + 1), ("b", "QUEUED", T0 + 2)) + b'{"id": "a"')
        reader = read_from(log)
        assert [s.id for s in reader] == ["a", "b"]
        assert reader.position == log.stat().st_size - len(b'{"id": "a"') and reader.line == 3
        append(log, b', "status": "RUNNING", "created_at": 1, "modified_at": 9}\n' + b"oops\n")
        rejects: list[Any] = []
        again = read_from(log, reader.position, line=reader.line, on_reject=rejects.append)
        assert [(s.id, s.status) for s in again] == [("a", "RUNNING")]
        assert again.position == log.stat().st_size and again.line == 5
        assert [(r.line, r.offset) for r in rejects] == [(4, log.stat().st_size - 5)]

    def test_a_compressed_file_is_read_from_a_content_offset(self, tmp_path: Path) -> None:
        plain = lines_of(("a", "QUEUED", T0 + 1), ("b", "QUEUED", T0 + 2), ("c", "QUEUED", T0 + 3))
        gz = tmp_path / "jobs.ndjson.gz"
        gz.write_bytes(gzip.compress(plain))
        cut = plain.index(b"\n") + 1
        reader = jobstream.read_from(gz, cut, line=2)
        assert [s.id for s in reader] == ["b", "c"] and reader.position == len(plain)
        table = jobstream.fold(jobstream.read_from(gz))
        assert len(table) == 3


class TestNew:
    """``events --new``: each change handed out once, keyed by ingestion."""

    def rows(self, data: bytes) -> list[tuple[str, str | None, str, int]]:
        return [(r["job_id"], r["from_status"], r["to_status"], r["at"]) for r in map(orjson.loads, data.splitlines())]

    def test_a_late_change_is_handed_out_once_and_an_earlier_one_never_again(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(lines_of(("a", "QUEUED", T0 + 1), ("a", "RUNNING", T0 + 5)))
        first, _ = out_of("events", [log], state=st, new=True, out=tmp_path / "o")
        assert self.rows(first) == [("a", None, "QUEUED", T0 + 1), ("a", "QUEUED", "RUNNING", T0 + 5)]
        # a poll logged late: its event says the job was VALIDATING at T0 + 3
        append(log, poll("a", "RUNNING", T0 + 6, events=[("VALIDATING", T0 + 3)]))
        late, _ = out_of("events", [log], state=st, new=True, out=tmp_path / "o")
        assert self.rows(late) == [("a", "QUEUED", "VALIDATING", T0 + 3)]
        full, _ = out_of("events", [log], out=tmp_path / "o")
        # the documented difference: RUNNING was handed out as from QUEUED; the full run now
        # says from VALIDATING.  Every (job, to_status, at) once, none repeated.
        assert self.rows(full) == [
            ("a", None, "QUEUED", T0 + 1),
            ("a", "QUEUED", "VALIDATING", T0 + 3),
            ("a", "VALIDATING", "RUNNING", T0 + 5),
        ]
        again, _ = out_of("events", [log], state=st, new=True, out=tmp_path / "o")
        assert again == b""

    def test_a_late_change_can_supersede_one_handed_out(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(lines_of(("a", "QUEUED", T0 + 1), ("a", "RUNNING", T0 + 5)))
        out_of("events", [log], state=st, new=True, out=tmp_path / "o")
        append(log, poll("a", "RUNNING", T0 + 6, events=[("RUNNING", T0 + 3)]))  # it was RUNNING already at +3
        late, _ = out_of("events", [log], state=st, new=True, out=tmp_path / "o")
        assert self.rows(late) == [("a", "QUEUED", "RUNNING", T0 + 3)]
        full, _ = out_of("events", [log], out=tmp_path / "o")
        assert ("a", "QUEUED", "RUNNING", T0 + 5) not in self.rows(full)  # handed out, since superseded

    def test_filters_choose_what_is_printed_of_what_arrived_since_the_last_run(self, tmp_path: Path) -> None:
        log, st = tmp_path / "jobs.ndjson", tmp_path / "s.state"
        log.write_bytes(lines_of(("a", "QUEUED", T0 + 1), ("b", "QUEUED", T0 + 2), ("a", "FAILED", T0 + 3)))
        proc = run_jobstream("events", log, "--state", st, "--new", "--status", "FAILED")
        assert proc.returncode == 0 and [r[0] for r in self.rows(proc.stdout)] == ["a"]
        append(log, lines_of(("b", "FAILED", T0 + 4), ("c", "QUEUED", T0 + 5)))
        proc = run_jobstream("events", log, "--state", st, "--new", "--status", "FAILED")
        assert self.rows(proc.stdout) == [("b", "QUEUED", "FAILED", T0 + 4)]
        proc = run_jobstream("events", log, "--state", st, "--new")
        assert proc.stdout == b""  # keyed by ingestion: nothing arrived since (c was read by the last run)


# --------------------------------------------------------------------------- the property


FAR = 253402300799  # the last second of 9999
STATUSES = ["QUEUED", "VALIDATING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED", "ODD_STATUS"]
POINTS = ["read", "save", "written", "previous", "renamed", "synced"]
COMMANDS = [("summary", False, "lean"), ("events", False, "lean"), ("events", True, "lean"), ("jobs", False, "view")]


@st.composite
def ordered_logs(draw: Any) -> list[bytes]:
    """Polls of jobs in time order, each poll carrying every status event up to it: no change
    is ever learned late, so handed-out changes must equal the full run's exactly."""
    polls: list[tuple[int, bytes]] = []
    for j in range(draw(st.integers(1, 4))):
        job = f"job-{j}"
        model = draw(st.sampled_from(["open-mistral-7b", "ministral-3b-latest"]))
        path = draw(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=5))
        changes, t = [], T0 + 1
        for s in path:
            t += 2 * draw(st.integers(1, 20))
            changes.append((s, t))  # odd times
        p = T0
        for _ in range(draw(st.integers(1, 8))):
            p += 2 * draw(st.integers(1, 25))  # even times
            seen = [(s, c) for s, c in changes if c <= p]
            if seen:
                polls.append((p, poll(job, seen[-1][0], p, model=model, events=seen)))
    polls.sort(key=lambda pl: pl[0])
    return [text for _, text in polls]


@st.composite
def shuffled_logs(draw: Any) -> list[bytes]:
    """Snapshots and events in any order, with rejects and blank lines: changes learned late.

    Every line is different (a poller's lines differ at least in time; here a serial number
    makes sure): files are told apart by content, and two files with the same bytes up to a
    saved position cannot be (see test_files_with_the_same_content_fold_exactly)."""
    out = []
    for n in range(draw(st.integers(1, 30))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            bad = draw(st.sampled_from([b"not json %d\n", b"\n", b"  \r\n", b'{"id": %d}\n', b'{"id": "x%d"\n']))
            out.append(bad % n if b"%d" in bad else bad)
            continue
        times = st.one_of(st.integers(T0, T0 + 60), st.just(FAR))  # FAR: past 2106, as the decoder allows
        events = draw(st.one_of(st.none(), st.lists(st.tuples(st.sampled_from(STATUSES), times), max_size=3)))
        text = poll(
            f"job-{draw(st.integers(0, 3))}",
            draw(st.sampled_from(STATUSES)),
            draw(times),
            model=draw(st.sampled_from(["m1", "m2"])),
            job_type=draw(st.sampled_from(["completion", "classifier", "FT", None])),
            events=events,
        )
        out.append(b'{"n":%d,' % n + text[1:])
    return out


@st.composite
def chains(draw: Any, logs: Any) -> tuple[bytes, list[dict[str, Any]]]:
    data = b"".join(draw(logs))
    n = draw(st.integers(1, 5))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), min_size=n - 1, max_size=n - 1))) + [len(data)]
    steps = []
    for cut in cuts:
        rot = draw(st.sampled_from([None, None, "rename", "gzip", "copytruncate"]))
        crash = draw(
            st.one_of(st.none(), st.none(), st.tuples(st.integers(0, len(COMMANDS) - 1), st.sampled_from(POINTS)))
        )
        steps.append({"cut": cut, "rotate": rot, "glob": draw(st.booleans()), "crash": crash})
    return data, steps


def run_chain(data: bytes, steps: list[dict[str, Any]], exact_new: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        logs = d / "logs"
        logs.mkdir()
        live = logs / "jobs.ndjson"
        live.touch()
        everything = str(logs / "jobs.ndjson*")
        states = {"lean": d / "lean.state", "view": d / "view.state"}
        handed: list[bytes] = []
        written = 0
        # per state: rotations since it last saved, and whether the live file then held a complete
        # line (so the state knows it): only then is naming the live file alone enough
        rotations = {"lean": 0, "view": 0}
        known = {"lean": False, "view": False}
        for step in steps:
            if step["rotate"] is not None:
                end = data.find(b"\n", written)  # rotate between lines, as a writer's whole lines fall
                if end >= 0:
                    append(live, data[written : end + 1])
                    written = end + 1
                rotate(logs, step["rotate"])
                rotations = {k: v + 1 for k, v in rotations.items()}
            cut = max(step["cut"], written)
            append(live, data[written:cut])
            written = cut
            for i, (what, new, model) in enumerate(COMMANDS):
                out = d / f"out-{i}"
                crash = step["crash"]
                # only the live name: the rotated files of what the state has read are found
                # beside it; a file rotated away before the state read it must be named (a glob)
                lone = rotations[model] == 0 or (rotations[model] == 1 and known[model])
                paths = [everything] if step["glob"] or not lone else [str(live)]
                saw = any(x.strip() for x in live.read_bytes().split(b"\n")[:-1])

                def body(
                    what: str = what, new: bool = new, model: str = model, out: Path = out, paths: list[Any] = paths
                ) -> Any:
                    return out_of(what, paths, state=states[model], new=new, out=out, errors=d / "errors")

                if crash is not None and crash[0] == i:
                    with State.load(states[model], model=model) as s:  # type: ignore[arg-type]
                        before = s.generation
                    status = crash_at(crash[1], body)
                    if status == 0:  # a run with nothing to save never reaches the commit's points
                        assert crash[1] in ("written", "previous", "renamed", "synced")
                        with State.load(states[model], model=model) as s:  # type: ignore[arg-type]
                            assert s.generation == before
                        if new:
                            handed.append(out.read_bytes())
                        continue
                    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
                    with State.load(states[model], model=model) as s:  # type: ignore[arg-type]
                        committed = s.generation > before
                    if committed:
                        rotations[model], known[model] = 0, saw
                        if new:
                            handed.append(out.read_bytes())
                    continue
                got, _ = body()
                rotations[model], known[model] = 0, saw
                rejects = (d / "errors").read_bytes()
                if new:
                    handed.append(got)
                    continue
                want, _ = out_of(what, [everything], out=d / "full", errors=d / "full-errors")
                assert got == want, (what, step)
                full_rejects = (d / "full-errors").read_bytes()
                assert sorted(rejects.splitlines()) == sorted(full_rejects.splitlines())
                if paths == [everything]:
                    assert rejects == full_rejects
        final, _ = out_of("events", [everything], state=states["lean"], new=True, out=d / "last")
        handed.append(final)
        full, _ = out_of("events", [everything], out=d / "full")
        check_handed_out(b"".join(handed), full, everything, exact_new)


def check_handed_out(handed: bytes, full: bytes, paths: str, exact: bool) -> None:
    """Every change of the full run handed out exactly once (by job, to_status, at); with
    changes learned late, a change handed out earlier may since read differently (its
    from_status) or have been superseded (no longer a change, still an observation)."""
    got = [orjson.loads(x) for x in handed.splitlines()]
    want = [orjson.loads(x) for x in full.splitlines()]
    if exact:
        assert Counter(map(orjson.dumps, got)) == Counter(map(orjson.dumps, want))
        return
    key = lambda r: (r["job_id"], r["to_status"], r["at"])  # noqa: E731
    counts = Counter(map(key, got))
    assert max(counts.values(), default=1) == 1  # never handed out twice
    assert set(map(key, want)) <= set(counts)  # every change of the full run handed out
    table = fold_paths(paths, model="lean").table
    for job, status, at in set(counts) - set(map(key, want)):  # superseded: still an observation
        state = table.get(job)
        assert state is not None and any(o.time == at and o.status == status for o in state.history)


PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


class TestResumeEqualsFullRun:
    @PROPERTY
    @given(chains(ordered_logs()))
    def test_ordered_logs_hand_out_exactly_the_full_runs_changes(self, chain: Any) -> None:
        run_chain(*chain, exact_new=True)

    @PROPERTY
    @given(chains(shuffled_logs()))
    def test_any_logs_hand_out_each_change_once_modulo_late_revisions(self, chain: Any) -> None:
        run_chain(*chain, exact_new=False)

    def test_a_realistic_log_cut_rotated_and_crashed_equals_one_full_run(self, content: bytes) -> None:
        cuts = [len(content) * k // 7 + 13 for k in range(1, 7)] + [len(content)]
        rots = [None, "rename", None, "gzip", "copytruncate", None, "rename"]
        crashes = [None, (0, "renamed"), (2, "save"), None, (3, "written"), (1, "read"), None]
        steps = [
            {"cut": c, "rotate": r, "glob": i % 2 == 0, "crash": x}
            for i, (c, r, x) in enumerate(zip(cuts, rots, crashes, strict=True))
        ]
        run_chain(content, steps, exact_new=False)
