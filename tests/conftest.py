"""Shared fixtures: a small generated log and the real-world fixture files."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobstream.generate import write_log

TESTS = Path(__file__).resolve().parent


def realworld_path() -> Path:
    """The real job objects: vendored in ``tests/fixtures/realworld``, else ``../shared/realworld``."""
    vendored = TESTS / "fixtures" / "realworld"
    if vendored.is_dir():
        return vendored
    return Path(__file__).resolve().parents[2] / "shared" / "realworld"


@pytest.fixture(scope="session")
def realworld_dir() -> Path:
    path = realworld_path()
    assert path.is_dir(), f"real-world fixtures not found at {path}"
    return path


@pytest.fixture(scope="session")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated log of 40 jobs of every kind (about 1300 lines, 2.5 MB), fixed seed."""
    path = tmp_path_factory.mktemp("logs") / "small.ndjson"
    with path.open("wb") as fh:
        write_log(fh, 40, seed=3)
    return path
