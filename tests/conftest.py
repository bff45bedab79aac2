"""Shared fixtures: a small generated log and its fold, the real-world fixture files, and
``tail`` processes closed after the test.  Plain helper functions are in helpers.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Tail, log_bytes, realworld_path

import jobstream


@pytest.fixture(scope="session")
def realworld_dir() -> Path:
    path = realworld_path()
    assert path.is_dir(), f"real-world fixtures not found at {path}"
    return path


@pytest.fixture(scope="session")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated log of 40 jobs of every kind (about 1300 lines, 2.5 MB), fixed seed."""
    path = tmp_path_factory.mktemp("logs") / "small.ndjson"
    path.write_bytes(log_bytes(40, seed=3))
    return path


@pytest.fixture(scope="session")
def folded(small_log: Path) -> jobstream.FoldResult:
    """The fold of ``small_log`` and its read counts (shared: tests only read it)."""
    return jobstream.fold_paths([small_log])


@pytest.fixture(scope="session")
def table(folded: jobstream.FoldResult) -> jobstream.JobTable:
    """The job table of ``small_log``."""
    return folded.table


@pytest.fixture
def tails() -> Iterator[Callable[..., Tail]]:
    """Start ``jobstream tail`` processes (see helpers.Tail); each is killed at the end of the test."""
    started: list[Tail] = []

    def start(*args: str, **kw: Any) -> Tail:
        t = Tail(*args, **kw)
        started.append(t)
        return t

    yield start
    for t in started:
        t.close()
