"""Whole runs: the parallel fold (real worker processes) equals the single-process fold."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import jobstream
from jobstream.decode.decoder import Reject
from jobstream.generate import generate
from jobstream.run import parallel

#: Small files split into several ranges, so real workers run in the tests.
SMALL = {"min_parallel_bytes": 1, "range_bytes": 20_000}


def log_with_bad_lines(tmp_path: Path, name: str = "log.ndjson") -> tuple[Path, list[int]]:
    lines = list(generate(30, seed=8))
    bad_at = [3, len(lines) // 3, len(lines) // 2, len(lines) - 1]
    for i in sorted(bad_at, reverse=True):
        lines.insert(i - 1, b'{"id": "broken", "status": 1}')
    lines.insert(10, b"")  # a blank line counts for numbering, not as a record
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    expected = [n for n, line in enumerate(lines, 1) if line.startswith(b'{"id": "broken"')]
    assert len(expected) == len(bad_at)
    return path, expected


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


class TestOnePathOrMany:
    """Every library entry point takes one path (str, bytes, PathLike, Source) or many, alike."""

    def test_read_summarize_fold_and_validate_take_one_path(self, tmp_path: Path) -> None:
        path, _ = log_with_bad_lines(tmp_path)
        many = jobstream.fold_paths([path])
        for one in (str(path), path, os.fsencode(path), jobstream.io.sources.Source(str(path))):
            assert jobstream.summarize(one) == many.table.summary()
            assert jobstream.fold_paths(one).table == many.table
            assert jobstream.run.batch.validate_paths(one).lines == many.stats.lines
            assert len(list(jobstream.read(one))) == many.stats.accepted

    def test_follow_and_follower_take_one_path(self, tmp_path: Path) -> None:
        path, _ = log_with_bad_lines(tmp_path)
        expected = jobstream.fold_paths([path]).table.events()
        for one in (str(path), path):
            follower = jobstream.Follower(one, from_start=True, stop=lambda: True)
            assert [s.path for s in follower.sources] == [str(path)]
            follower.close()
            got: list[Any] = []
            for change in jobstream.follow(one, from_start=True, stop=lambda: len(got) >= len(expected)):
                got.append(change)
            assert got == expected

    def test_a_non_path_is_a_type_error_not_characters(self) -> None:
        with pytest.raises(TypeError, match="path"):
            jobstream.fold_paths(42)  # type: ignore[arg-type]
