"""Micro benchmarks (pytest-benchmark): decoding, folding, merging, the wire form.

    pytest benchmarks/ --benchmark-only
    pytest benchmarks/ --benchmark-only --benchmark-group-by=group --benchmark-columns=median,iqr,ops

Not collected by the default test run (``testpaths = ["tests"]``).  Data is generated with a
fixed seed once per session.  Nothing here asserts a time; per-snapshot costs are added to
each result's ``extra_info`` (``us_per_snapshot``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

import jobstream
from jobstream.generate import generate
from jobstream.io.framing import Chunk

JOBS = 60
SEED = 1


@pytest.fixture(scope="session")
def lines() -> list[bytes]:
    return list(generate(JOBS, seed=SEED))


@pytest.fixture(scope="session")
def data(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


@pytest.fixture(scope="session")
def typical_line(lines: list[bytes]) -> bytes:
    """A detailed snapshot (with events and checkpoints) of median size."""
    detailed = sorted((ln for ln in lines if b'"events"' in ln and b'"checkpoints"' in ln), key=len)
    return detailed[len(detailed) // 2]


@pytest.fixture(scope="session")
def view_snaps(data: bytes) -> list[Any]:
    snaps, _, _, _ = jobstream.SnapshotDecoder("view").decode_chunk(Chunk("bench", 0, data), 1, [])
    return snaps


@pytest.fixture(scope="session")
def full_snaps(data: bytes) -> list[Any]:
    snaps, _, _, _ = jobstream.SnapshotDecoder("full").decode_chunk(Chunk("bench", 0, data), 1, [])
    return snaps


@pytest.fixture(scope="session")
def halves(view_snaps: list[Any]) -> tuple[jobstream.JobTable, jobstream.JobTable]:
    """Two partial tables over interleaved halves of the log (most jobs in both)."""
    return jobstream.fold(view_snaps[0::2]), jobstream.fold(view_snaps[1::2])


def _per_snapshot(benchmark: Any, n: int) -> None:
    benchmark.extra_info["snapshots"] = n
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        benchmark.extra_info["us_per_snapshot"] = round(stats.stats.median / n * 1e6, 3)


# --------------------------------------------------------------------------- decoding one snapshot


@pytest.mark.benchmark(group="decode one snapshot")
@pytest.mark.parametrize("model", ["full", "view"])
def test_decode_one_snapshot(benchmark: Any, typical_line: bytes, model: str) -> None:
    """SnapshotDecoder.decode_line: the per-line path (probe + decoder), full schema vs projection."""
    dec = jobstream.SnapshotDecoder(model)  # type: ignore[arg-type]
    benchmark.extra_info["line_bytes"] = len(typical_line)
    out = benchmark(dec.decode_line, typical_line)
    assert len(out) == 1


@pytest.mark.benchmark(group="decode one snapshot")
def test_decode_line_function(benchmark: Any, typical_line: bytes) -> None:
    """jobstream.decode_line: the module-level convenience (full schema, shared decoder)."""
    benchmark(jobstream.decode_line, typical_line)


@pytest.mark.benchmark(group="decode one snapshot")
def test_orjson_loads_one_snapshot(benchmark: Any, typical_line: bytes) -> None:
    """Reference: orjson.loads of the same line into dicts (no schema)."""
    import orjson

    benchmark(orjson.loads, typical_line)


# --------------------------------------------------------------------------- batch decode


@pytest.mark.benchmark(group="decode chunk")
@pytest.mark.parametrize("model", ["full", "view"])
def test_decode_chunk(benchmark: Any, data: bytes, lines: list[bytes], model: str) -> None:
    """SnapshotDecoder.decode_chunk on the whole log as one Chunk: the fast path the reader takes."""
    dec = jobstream.SnapshotDecoder(model)  # type: ignore[arg-type]
    chunk = Chunk("bench", 0, data)

    def run() -> int:
        rejects: list[jobstream.Reject] = []
        snaps, _, accepted, _ = dec.decode_chunk(chunk, 1, rejects)
        return accepted

    assert benchmark(run) == len(lines)
    benchmark.extra_info["MB"] = round(len(data) / 1e6, 2)
    _per_snapshot(benchmark, len(lines))


# --------------------------------------------------------------------------- folding


@pytest.mark.benchmark(group="fold")
@pytest.mark.parametrize("model", ["view", "full"])
def test_fold_all(benchmark: Any, request: Any, model: str) -> None:
    """JobTable.update over pre-decoded snapshots (no decoding): the reducer's cost per snapshot."""
    snaps = request.getfixturevalue(f"{model}_snaps")
    table = benchmark(jobstream.fold, snaps)
    assert len(table) == JOBS
    _per_snapshot(benchmark, len(snaps))


@pytest.mark.benchmark(group="fold")
def test_add_one_snapshot(benchmark: Any, view_snaps: list[Any]) -> None:
    """JobTable.add of one snapshot into a table already holding the log (the steady state of tail)."""
    table = jobstream.fold(view_snaps)
    cycle = itertools.cycle(view_snaps)
    benchmark(lambda: table.add(next(cycle)))


@pytest.mark.benchmark(group="fold")
@pytest.mark.parametrize("what", ["jobs", "events", "summary"])
def test_table_outputs(benchmark: Any, view_snaps: list[Any], what: str) -> None:
    """From a folded table to the answers: JobState per job, sorted changes, Summary."""
    table = jobstream.fold(view_snaps)
    fn: Callable[[], Any] = getattr(table, what)
    benchmark(fn)


# --------------------------------------------------------------------------- merging and the wire form


@pytest.mark.benchmark(group="merge")
def test_merge_two_partial_tables(
    benchmark: Any, halves: tuple[jobstream.JobTable, jobstream.JobTable], view_snaps: list[Any]
) -> None:
    """JobTable.merge of two partial tables (copy + merge_in)."""
    a, b = halves
    merged = benchmark(a.merge, b)
    assert merged == jobstream.fold(view_snaps)


@pytest.mark.benchmark(group="merge")
def test_to_bytes(benchmark: Any, view_snaps: list[Any]) -> None:
    """JobTable.to_bytes: the msgpack wire form of a whole table."""
    table = jobstream.fold(view_snaps)
    wire = benchmark(table.to_bytes)
    benchmark.extra_info["bytes"] = len(wire)


@pytest.mark.benchmark(group="merge")
def test_from_bytes(benchmark: Any, view_snaps: list[Any]) -> None:
    """JobTable.from_bytes: back from the wire form."""
    wire = jobstream.fold(view_snaps).to_bytes()
    table = benchmark(jobstream.JobTable.from_bytes, wire)
    assert len(table) == JOBS
