"""Shared fixtures: a small generated log and its fold, the real-world fixture files, and
``tail`` processes closed after the test.  Plain helper functions are in helpers.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Tail, log_bytes, realworld_path

import jobstream

#: Test modules that leave threads running for the rest of the session (Dask's and fsspec's
#: event loops are process-wide).  A process with threads does not fork its workers (see
#: run.parallel.run), so these run last, after every test of a parallel fold.
THREADS_LINGER = ("test_dask", "test_remote")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.module is not None and item.module.__name__ in THREADS_LINGER)


@pytest.fixture
def forks() -> None:
    """For a test of the parallel fold: this process can fork its workers (no other thread
    runs), so the test compares real workers with one process, not one process with itself."""
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    assert not others, f"threads running, so no worker would be forked: {others}"


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
