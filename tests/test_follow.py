"""The library's follower (``jobstream.run.follow``): ``Follower`` driven one cycle at a time with
poll() (no subprocess, no waiting), ``follow()``, replays, pipes, and its resources.

Rotation and truncation are in test_watch.py; the ``tail`` command in test_tail.py."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path
from typing import Any

from helpers import T0, append, events_of, log_lines, log_with_bad_lines, poll
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jobstream
from jobstream.run.follow import Follower


class TestFollower:
    """The Follower driven one cycle at a time with poll(): no subprocess, no waiting."""

    def test_from_start_replays_and_a_half_line_waits(self, tmp_path: Path) -> None:
        log = tmp_path / "jobs.ndjson"
        line = poll("a", "RUNNING", T0 + 1)
        log.write_bytes(poll("a", "QUEUED", T0) + line[:20])
        with Follower([str(log)], from_start=True, watch="poll") as f:
            f.start()
            assert [c.to_status for c in f._initial] == ["QUEUED"]
            append(log, line[20:])
            assert [c.to_status for c in f.poll()] == ["RUNNING"]
            assert f.read_stats.lines == 2 and f.read_stats.rejected == 0

    def test_until_terminal_waits_until_caught_up(self, tmp_path: Path) -> None:
        log = tmp_path / "jobs.ndjson"
        log.write_bytes(poll("a", "QUEUED", T0) + poll("a", "SUCCESS", T0 + 1) + poll("b", "RUNNING", T0 + 2))
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
        log = tmp_path / "jobs.ndjson"
        log.touch()
        f = Follower([str(log)])
        threading.Timer(0.1, f.stop).start()
        started = time.monotonic()
        assert list(f) == []
        assert time.monotonic() - started < 2
        f.close()

    def test_from_start_replays_exactly_what_events_gives_whatever_the_order(self, tmp_path: Path) -> None:
        """Found by an adversarial review: --from-start replays exactly what `jobstream events`
        gives, whatever the order of the lines."""
        import itertools

        log = tmp_path / "jobs.ndjson"
        log.write_bytes(b"".join(reversed(log_lines(30, 5))))
        expected = jobstream.fold_paths([log]).table.events()
        with Follower([str(log)], from_start=True, watch="poll", read_size=4096) as f:
            got = list(itertools.islice(iter(f), len(expected)))
        assert got == expected

    def test_a_fifo_path_does_not_block(self, tmp_path: Path) -> None:
        """Found by an adversarial review: a FIFO named as a path made start() block in open()
        until a writer came."""
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        notices: list[str] = []
        with Follower([str(fifo)], watch="poll", on_notice=notices.append) as f:
            f.start()  # used to block in open() until a writer came
            assert f.poll() == []  # no writer: the pipe has ended, nothing was read
            assert [s.path for s in f.sources] == [str(fifo)]
        assert notices == []

    def test_a_fifo_path_is_read_like_stdin(self, tmp_path: Path) -> None:
        """Found by an adversarial review: a FIFO named as a path is followed like stdin, to its end."""
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        fd = os.open(fifo, os.O_RDWR)  # a writer that stays: the follower's open finds one
        try:
            with Follower([str(fifo)], watch="poll", from_start=True) as f:
                f.start()
                os.write(fd, poll("a", "QUEUED", T0) + poll("a", "RUNNING", T0 + 5))
                changes: list[Any] = []
                for _ in range(100):  # bounded: 10 s
                    changes += f.poll()
                    if len(changes) == 2:
                        break
                    f.wait(0.1)
                assert [c.to_status for c in changes] == ["QUEUED", "RUNNING"]
        finally:
            os.close(fd)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 10_000), st.sampled_from(["plain", "gzip", "glob"]), st.randoms(use_true_random=False))
def test_from_start_replay_equals_events_for_every_kind_of_input(
    tmp_path_factory: Any, seed: int, kind: str, rnd: Any
) -> None:
    """tail --from-start replays exactly what `jobstream events` gives: plain, gzip, several files by glob,
    lines in any order, with bad and blank lines among them."""
    import gzip as gz

    d = tmp_path_factory.mktemp("replay")
    lines = log_lines(12, seed)
    lines += [b"not json\n", b"\n", b'{"id":"x","status":1}\n']
    rnd.shuffle(lines)
    parts = [lines] if kind != "glob" else [lines[i::3] for i in range(3)]
    paths = []
    for i, part in enumerate(parts):
        data = b"".join(part)
        p = d / (f"log{i}.ndjson" + (".gz" if kind == "gzip" else ""))
        p.write_bytes(gz.compress(data) if kind == "gzip" else data)
        paths.append(p)
    expected = events_of(paths)
    follow_paths = [str(d / "log*.ndjson")] if kind == "glob" else [str(p) for p in paths]
    with Follower(follow_paths, from_start=True, watch="poll") as f:
        f.start()
        got = list(f._initial)
    assert got == expected


def test_follow_and_follower_take_one_path(tmp_path: Path) -> None:
    """Like every library entry point (test_batch.py), follow and Follower take one path or many."""
    path, _ = log_with_bad_lines(tmp_path)
    expected = jobstream.fold_paths([path]).table.events()
    for one in (str(path), path):
        follower = jobstream.Follower(one, from_start=True, stop=lambda: True)
        assert [s.path for s in follower.sources] == [str(path)]
        follower.close()
        got: list[Any] = []

        def enough(got: list[Any] = got) -> bool:
            return len(got) >= len(expected)

        for change in jobstream.follow(one, from_start=True, stop=enough):
            got.append(change)
        assert got == expected


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
def test_a_follower_that_is_never_closed_releases_its_descriptors(tmp_path: Path) -> None:
    """Follower() opens two pipes and an inotify descriptor as bare fds with no finalizer: each
    Follower dropped without close() leaks 5 descriptors for the life of the process."""
    path = tmp_path / "jobs.ndjson"
    path.write_bytes(poll("a", "QUEUED", T0))
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        follower = Follower([str(path)])
        del follower
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) - before < 10
