"""Batch runs (``jobstream.run.batch``): the library's entry points (fold_paths, summarize,
validate_paths, read) and reading a planned unit of a file.  The parallel fold against the
single-process one is in test_parallel.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from helpers import T0, log_with_bad_lines, poll

import jobstream
from jobstream.decode.decoder import SnapshotDecoder
from jobstream.decode.step import ReadStats, SourceFailure
from jobstream.io.sources import Source
from jobstream.run import parallel
from jobstream.run.batch import read_unit


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

    def test_a_non_path_is_a_type_error_not_characters(self) -> None:
        with pytest.raises(TypeError, match="path"):
            jobstream.fold_paths(42)  # type: ignore[arg-type]


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
def test_a_file_that_shrinks_during_a_parallel_read_is_reported(tmp_path: Path) -> None:
    """The ranges are planned from the size of the descriptor opened before the fork; a
    copytruncate after planning makes `preadv` return 0 before the range's end, and main treats
    that as the end of input: the planned bytes are silently not read (no failure record,
    stats.failed 0, exit 0).  A short read of a planned range is evidence the file changed and
    should be a source-failure record ("Every non-blank line is accepted, rejected or covered by
    such a record")."""
    path = tmp_path / "shrinks.ndjson"
    path.write_bytes(b"".join(poll(f"j{i}", "RUNNING", T0 + i) for i in range(3000)))
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
