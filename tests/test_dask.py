"""The read and fold on real Dask clusters equal the single-process run, byte for byte.

No mocks: a module-scoped ``LocalCluster`` of two worker processes runs most tests; one
test starts ``dask scheduler`` and ``dask worker`` processes and drives the CLI through
them; one kills a worker process in the middle of a run.
"""

from __future__ import annotations

import bz2
import gzip
import itertools
import json
import logging
import lzma
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import servers
import zstandard
from distributed import Client, LocalCluster
from helpers import EXAMPLE_LOG, log_bytes, run_jobstream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jobstream
import jobstream.run.dask as jd
from jobstream.decode.decoder import Reject, SnapshotDecoder
from jobstream.decode.step import ReadStats
from jobstream.generate import generate
from jobstream.io.sources import Source
from jobstream.run.parallel import Unit

BOM = b"\xef\xbb\xbf"
#: The corpus of the parallel-equals-serial property: good lines, broken JSON, blanks,
#: whitespace, a wrong type, invalid UTF-8, and lines over the 3000-byte limit used below.
POOL = [line for line in generate(6, seed=31)][:12] + [
    b"{oops",
    b"",
    b"   ",
    b'{"id":"x","status":1}',
    b"\xff\xfe",
    b'{"id":"' + b"z" * 3500 + b'"}',
]
MAX_LINE = 3000


def cluster_kwargs() -> dict[str, Any]:
    return {
        "n_workers": 2,
        "threads_per_worker": 1,
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
        "silence_logs": logging.ERROR,
    }


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """Two worker processes, shared by the tests of this module."""
    with LocalCluster(**cluster_kwargs()) as cluster, Client(cluster) as c:
        yield c


def single(paths: Any, *, model: str = "view") -> tuple[Any, list[Reject]]:
    rejects: list[Reject] = []
    result = jobstream.fold_paths(
        paths,
        workers=1,
        model=model,
        on_reject=rejects.append,  # type: ignore[arg-type]
        max_line_bytes=MAX_LINE,
    )
    return result, rejects


def on_dask(paths: Any, client: Any, **kw: Any) -> tuple[Any, list[Reject]]:
    rejects: list[Reject] = []
    result = jd.fold(paths, client, on_reject=rejects.append, max_line_bytes=MAX_LINE, **kw)
    return result, rejects


def facts(result: Any, rejects: list[Reject]) -> tuple[Any, ...]:
    st_ = result.stats
    return (
        result.table.jobs(),
        result.table.events(),
        (st_.sources, st_.bytes, st_.lines, st_.blank, st_.accepted, st_.rejected, st_.snapshots, st_.failed),
        [(type(r).__name__, r.source, r.line, r.offset, r.raw, r.error) for r in rejects],
    )


def messy(lines: list[bytes], *, bom: bool, crlf: bool, final_newline: bool) -> bytes:
    sep = b"\r\n" if crlf else b"\n"
    return (BOM if bom else b"") + sep.join(lines) + (sep if final_newline else b"")


# --------------------------------------------------------------------------- alignment (no cluster)


def read_pieces(path: Path, cuts: list[int]) -> tuple[list[Any], ReadStats, list[Reject]]:
    """Read *path* as the blocks between *cuts*, one worker function call per block, then renumber."""
    size = path.stat().st_size
    bounds = sorted({0, size, *cuts})
    bounds = bounds if len(bounds) > 1 else [0, 0]  # an empty file: one empty block
    src = Source(str(path))
    decoder = SnapshotDecoder("view", max_line_bytes=MAX_LINE)
    table = jobstream.JobTable()
    units, results = [], []
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        unit = Unit(i, src, a, b, b - a)
        stats = ReadStats(sources=1 if a == 0 else 0)
        rejects: list[Reject] = []
        lines = jd._read_piece((unit, size), decoder, stats, rejects, table.update)
        units.append(unit)
        results.append(jobstream.run.parallel.UnitResult(i, lines, stats, rejects))
    total = ReadStats()
    for r in results:
        total = total.merge(r.stats)
    return table.jobs(), total, jobstream.run.parallel.renumber(units, results)


class TestAlignment:
    def test_a_cut_anywhere_inside_a_bom_or_a_crlf_or_a_line_changes_nothing(self, tmp_path: Path) -> None:
        lines = [
            b'{"id":"a","status":"QUEUED","created_at":1,"modified_at":1}',
            b"",
            b"{oops",
            b'{"id":"a","status":"RUNNING","created_at":1,"modified_at":5}',
        ]
        path = tmp_path / "x.ndjson"
        path.write_bytes(messy(lines, bom=True, crlf=True, final_newline=False))
        whole, whole_rej = single(path)
        want = (
            whole.table.jobs(),
            (whole.stats.lines, whole.stats.blank, whole.stats.bytes),
            [(r.line, r.offset, r.raw) for r in whole_rej],
        )
        size = path.stat().st_size
        for cut in range(1, size):  # every byte position: inside the BOM (1, 2), between \r and \n, ...
            jobs, stats, rejects = read_pieces(path, [cut])
            assert (
                jobs,
                (stats.lines, stats.blank, stats.bytes),
                [(r.line, r.offset, r.raw) for r in rejects],
            ) == want, cut
        assert want[2] == [(3, 3 + len(lines[0]) + 2 + 2, b"{oops")]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.lists(st.sampled_from(POOL), min_size=1, max_size=40),
        st.booleans(),
        st.booleans(),
        st.booleans(),
        st.lists(st.integers(min_value=1, max_value=1 << 20), max_size=8),
    )
    def test_blocks_aligned_by_each_worker_meet_exactly(
        self, tmp_path_factory: Any, lines: list[bytes], bom: bool, crlf: bool, final_newline: bool, cuts: list[int]
    ) -> None:
        path = tmp_path_factory.mktemp("a") / "log.ndjson"
        path.write_bytes(messy(lines, bom=bom, crlf=crlf, final_newline=final_newline))
        size = path.stat().st_size
        whole, whole_rej = single(path)
        jobs, stats, rejects = read_pieces(path, [c % size for c in cuts] if size else [])
        assert jobs == whole.table.jobs()
        assert (stats.lines, stats.blank, stats.accepted, stats.rejected, stats.bytes, stats.sources) == (
            whole.stats.lines,
            whole.stats.blank,
            whole.stats.accepted,
            whole.stats.rejected,
            whole.stats.bytes,
            1,
        )
        assert [(r.line, r.offset, r.raw, r.error) for r in rejects] == [
            (r.line, r.offset, r.raw, r.error) for r in whole_rej
        ]


# --------------------------------------------------------------------------- plans


class TestPlan:
    def test_compressed_files_are_one_partition_plain_ones_blocks_small_ones_batched(self, tmp_path: Path) -> None:
        data = log_bytes(30, 2)
        big = tmp_path / "big.ndjson"
        big.write_bytes(data)
        gz = tmp_path / "big.ndjson.gz"
        gz.write_bytes(gzip.compress(data, compresslevel=1))
        hidden = tmp_path / "hidden.ndjson"  # compressed, named as plain: told by its first bytes
        hidden.write_bytes(gzip.compress(data, compresslevel=0))
        small = []
        for i in range(50):
            p = tmp_path / (f"s{i:02}.ndjson" if i != 7 else "s07.ndjson.xz")
            p.write_bytes(data[:20_000] if i != 7 else lzma.compress(data[:20_000]))
            small.append(p)
        blocksize = len(data) // 4 + 1
        parts = jd.plan([big, gz, hidden, *small], blocksize=blocksize)
        pieces = [[(Path(u.source.name).name, u.start, u.end) for u, _ in part] for part in parts]
        # a plain file larger than the block size: blocks (each worker aligns its own to lines)
        assert pieces[:4] == [[("big.ndjson", len(data) * k // 4, len(data) * (k + 1) // 4)] for k in range(4)]
        # compressed files are never split; one weighing a block (6x its size) is a partition of its own
        assert pieces[4] == [("big.ndjson.gz", 0, -1)] and pieces[5] == [("hidden.ndjson", 0, -1)]
        # small files, compressed or not, are batched, in order
        batched = pieces[6:]
        assert sum(len(p) for p in batched) == 50 and 2 <= len(batched) < 50
        assert [name for p in batched for name, _, _ in p] == [Path(p).name for p in small]
        assert all(end == -1 for p in batched for _, _, end in p)
        units = [u for part in parts for u, _ in part]
        assert [u.index for u in units] == list(range(len(units)))

    def test_relative_paths_travel_absolute_and_keep_their_names(self, tmp_path: Path, monkeypatch: Any) -> None:
        (tmp_path / "x.ndjson").write_bytes(b"{}\n")
        monkeypatch.chdir(tmp_path)
        (((unit, _),),) = jd.plan("x.ndjson")
        assert unit.source.name == str(tmp_path / "x.ndjson") and unit.source.label == "x.ndjson"

    def test_stdin_cannot_go_to_a_cluster(self) -> None:
        with pytest.raises(jobstream.SourceError, match="standard input"):
            jd.plan("-")

    def test_the_merge_is_a_tree(self, tmp_path: Path) -> None:
        import dask.core

        path = tmp_path / "x.ndjson"
        path.write_bytes(log_bytes(10, 1))
        bag = jd.tables(path, blocksize=path.stat().st_size // 16 + 1)
        assert bag.npartitions == 16
        graph = dict(jd.merge(bag, split_every=4).__dask_graph__())
        merges = [k for k in graph if "aggregate" in (k[0] if isinstance(k, tuple) else k)]
        fan_in = [len(dask.core.get_dependencies(graph, k)) for k in merges]
        assert len(merges) == 5 and max(fan_in) <= 4  # 16 -> 4 -> 1, never all 16 in one task
        # fold's own graph (two tasks per partition) merges the same way
        table, results = jd._graph(jd.plan(path, blocksize=path.stat().st_size // 16 + 1), "view", 1 << 20, True, 4)
        graph = dict(table.__dask_graph__())
        merges = [k for k in graph if str(k).startswith("jobstream-merge-")]
        fan_in = [len(dask.core.get_dependencies(graph, k)) for k in merges]
        assert len(merges) == 5 and max(fan_in) <= 4 and len(results) == 16


# --------------------------------------------------------------------------- on a cluster


class TestOnACluster:
    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.lists(st.sampled_from(POOL), min_size=4, max_size=60),
        st.booleans(),
        st.booleans(),
        st.booleans(),
        st.integers(min_value=2_000, max_value=20_000),
    )
    def test_equals_single_process_on_messy_logs(
        self,
        client: Client,
        tmp_path_factory: Any,
        lines: list[bytes],
        bom: bool,
        crlf: bool,
        final_newline: bool,
        blocksize: int,
    ) -> None:
        path = tmp_path_factory.mktemp("m") / "log.ndjson"
        path.write_bytes(messy(lines, bom=bom, crlf=crlf, final_newline=final_newline))
        assert facts(*on_dask(path, client, blocksize=blocksize)) == facts(*single(path))

    def test_mixed_inputs_compressed_split_batched_and_a_broken_one(self, client: Client, tmp_path: Path) -> None:
        data = messy(POOL * 8, bom=True, crlf=False, final_newline=True)
        (tmp_path / "a.ndjson").write_bytes(data)
        (tmp_path / "b.ndjson.gz").write_bytes(gzip.compress(data))
        (tmp_path / "c.ndjson.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
        (tmp_path / "d.ndjson.bz2").write_bytes(bz2.compress(data))
        (tmp_path / "e.ndjson.xz").write_bytes(lzma.compress(data))
        cut = gzip.compress(data * 3)
        (tmp_path / "f.ndjson.gz").write_bytes(cut[: len(cut) // 2])  # truncated: lines before kept, one record
        for i in range(20):
            (tmp_path / f"s{i:02}.jsonl").write_bytes(
                messy(POOL[i % 12 : i % 12 + 3], bom=False, crlf=True, final_newline=bool(i % 2))
            )
        parts = jd.plan(tmp_path, blocksize=8_000)
        assert len(parts) > 10
        got = on_dask(tmp_path, client, blocksize=8_000)
        want = single(tmp_path)
        assert facts(*got) == facts(*want)
        assert want[0].stats.failed == 1 and want[0].stats.rejected > 20

    def test_validate_and_the_full_model_equal_single_process(self, client: Client, tmp_path: Path) -> None:
        path = tmp_path / "log.ndjson"
        path.write_bytes(messy(POOL * 5, bom=False, crlf=True, final_newline=False))
        rej1: list[Reject] = []
        stats1 = jobstream.validate_paths(path, workers=1, on_reject=rej1.append, max_line_bytes=MAX_LINE)
        rej2: list[Reject] = []
        stats2 = jd.validate(path, client, blocksize=5_000, on_reject=rej2.append, max_line_bytes=MAX_LINE)
        assert stats2 == stats1 and [(r.line, r.offset, r.error) for r in rej2] == [
            (r.line, r.offset, r.error) for r in rej1
        ]
        assert facts(*on_dask(path, client, blocksize=5_000, model="full")) == facts(*single(path, model="full"))

    def test_strict_raises_for_the_first_reject_after_handing_it_out(self, client: Client, tmp_path: Path) -> None:
        path = tmp_path / "log.ndjson"
        path.write_bytes(messy(POOL * 3, bom=False, crlf=False, final_newline=True))
        seen: list[Reject] = []
        with pytest.raises(jobstream.InvalidLineError) as exc:
            jd.fold(path, client, blocksize=3_000, strict=True, on_reject=seen.append, max_line_bytes=MAX_LINE)
        with pytest.raises(jobstream.InvalidLineError) as local:
            jobstream.fold_paths(path, workers=1, strict=True, max_line_bytes=MAX_LINE)
        assert str(exc.value) == str(local.value) and len(seen) == 1

    def test_progress_counts_every_input_byte_and_the_result_unpacks(self, client: Client, tmp_path: Path) -> None:
        path = tmp_path / "log.ndjson"
        path.write_bytes(log_bytes(10, 4))
        seen: list[int] = []
        table, stats = jd.fold(path, client, blocksize=50_000, on_progress=seen.append)
        assert sum(seen) == path.stat().st_size and len(seen) == len(jd.plan(path, blocksize=50_000)) > 1
        assert table == jobstream.fold_paths(path).table and stats.lines == jobstream.fold_paths(path).stats.lines

    def test_each_partition_is_read_once(self, client: Client, tmp_path: Path) -> None:
        """The merged table and the gathered rejects share the partitions' tasks: an optimized
        (fused) graph renamed them, and every partition was read twice."""
        from distributed import get_task_stream

        path = tmp_path / "log.ndjson"
        path.write_bytes(log_bytes(10, 7))
        parts = jd.plan(path, blocksize=60_000)
        with get_task_stream(client) as ts:
            jd.fold(path, client, blocksize=60_000)
        names = [d["key"][0] if isinstance(d["key"], tuple) else d["key"] for d in ts.data]
        assert sum(n.startswith("jobstream-read-") for n in names) == len(parts) > 3

    def test_a_file_name_that_is_not_utf8_crosses_to_the_workers(self, client: Client, tmp_path: Path) -> None:
        odd = os.path.join(os.fsencode(tmp_path), b"log-\xff.ndjson")
        with open(odd, "wb") as fh:
            fh.write(messy(POOL * 3, bom=False, crlf=False, final_newline=True))
        got, want = on_dask(odd, client, blocksize=4_000), single(odd)
        assert facts(*got) == facts(*want) and got[1]
        assert all(r.source.endswith("log-\\xff.ndjson") for r in got[1])

    def test_the_bag_of_partial_tables_composes(self, client: Client, tmp_path: Path) -> None:
        path = tmp_path / "log.ndjson"
        path.write_bytes(log_bytes(10, 6))
        bag = jd.tables(path, blocksize=40_000)
        partials = bag.compute()
        assert len(partials) == bag.npartitions > 2 and all(isinstance(t, jobstream.JobTable) for t in partials)
        merged = jobstream.JobTable()
        for t in reversed(partials):  # any order of merging
            merged.merge_in(t)
        whole = jobstream.fold_paths(path).table
        assert merged == whole == jd.merge(bag, split_every=2).compute()
        assert bag.map(len).sum().compute() >= len(whole)

    def test_urls_are_read_by_the_workers_in_ranges(self, client: Client, tmp_path: Path) -> None:
        site = tmp_path / "site"
        site.mkdir()
        data = messy(POOL * 6, bom=True, crlf=True, final_newline=False)
        (site / "a.ndjson").write_bytes(data)
        (site / "b.ndjson.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
        for base in servers.http_server(str(site)):
            parts = jd.plan(f"{base}/", blocksize=len(data) // 5)
            assert sum(u.end > 0 for part in parts for u, _ in part) >= 5  # a.ndjson in ranges
            got = on_dask(f"{base}/", client, blocksize=len(data) // 5)
            want = single(site)
            assert facts(got[0], [])[:3] == facts(want[0], [])[:3]
            assert [(r.source.replace(base, str(site)), r.line, r.offset, r.raw) for r in got[1]] == [
                (r.source, r.line, r.offset, r.raw) for r in want[1]
            ]


# --------------------------------------------------------------------------- the command line


@pytest.fixture(scope="module")
def messy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Big enough to split into many blocks at --dask's default? No: the CLI uses the default
    block size, so the split is shown by the library tests; here: every kind of input."""
    root = tmp_path_factory.mktemp("cli")
    data = messy(POOL * 10, bom=True, crlf=True, final_newline=False)
    (root / "a.ndjson").write_bytes(data)
    (root / "b.ndjson.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    cut = gzip.compress(data)
    (root / "c.ndjson.gz").write_bytes(cut[: len(cut) * 2 // 3])
    return root


def same_run(args: list[Any], address: str, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    """The command here and with --dask ADDRESS: the same exit code, stdout, stderr and --errors file."""
    errors = tmp_path / "rejects.ndjson"  # one name: stderr mentions it
    local = run_jobstream(*args, "--errors", errors, timeout=180)
    local_errors = errors.read_bytes() if errors.exists() else None  # (absent when --strict stopped)
    errors.unlink(missing_ok=True)
    remote = run_jobstream(*args, "--errors", errors, "--dask", address, timeout=180)
    assert (remote.returncode, remote.stdout, remote.stderr) == (local.returncode, local.stdout, local.stderr)
    assert (errors.read_bytes() if errors.exists() else None) == local_errors
    return remote


class TestCommandLine:
    @pytest.mark.parametrize(
        "cmd",
        [
            ["summary"],
            ["jobs", "-f", "csv", "--fields", "all"],
            ["events"],
            ["validate"],
            ["checkpoints"],
            ["validate", "--strict"],
            ["jobs", "--strict"],
        ],
    )
    def test_output_and_rejects_are_byte_for_byte_those_of_a_local_run(
        self, client: Client, messy_dir: Path, tmp_path: Path, cmd: list[str]
    ) -> None:
        address = str(client.scheduler_info()["address"])
        proc = same_run([*cmd, messy_dir, "--max-line-bytes", MAX_LINE], address, tmp_path)
        assert proc.returncode == 1  # c.ndjson.gz is cut short (or --strict stopped at a reject)
        if "--strict" in cmd:
            assert b"--strict" in proc.stderr and not proc.stdout
            return
        records = [json.loads(x) for x in (tmp_path / "rejects.ndjson").read_bytes().splitlines()]
        assert len(records) > 20 and records[-1]["source"].endswith("c.ndjson.gz") and records[-1]["raw"] == ""
        assert proc.stdout or cmd == ["validate"]

    def test_local_n_starts_a_cluster_for_the_run(self, messy_dir: Path, tmp_path: Path) -> None:
        same_run(["summary", messy_dir / "a.ndjson", "--by", "model"], "local:2", tmp_path)

    def test_bad_addresses_and_stdin_are_one_line_errors(self, tmp_path: Path) -> None:
        for address in ("local:0", "local:two"):
            proc = run_jobstream("summary", EXAMPLE_LOG, "--dask", address, timeout=180)
            assert proc.returncode == 2 and b"local:N needs a positive number" in proc.stderr
        proc = run_jobstream("summary", "--dask", "local", stdin=None, input=b"{}\n")
        assert proc.returncode == 2 and b"cannot read this process's stdin" in proc.stderr
        with (
            pytest.raises(jobstream.JobstreamError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"),
            jd.connect("tcp://127.0.0.1:9", timeout=1),
        ):
            pass

    def test_without_the_extra_the_error_names_it(self) -> None:
        code = "import sys; sys.modules['dask'] = None\nfrom jobstream.cli import main; main()"
        proc = subprocess.run(
            [sys.executable, "-c", code, "summary", str(EXAMPLE_LOG), "--dask", "local"],
            capture_output=True,
            timeout=60,
        )
        assert (
            proc.returncode == 1
            and proc.stderr.strip() == b"Error: --dask needs the dask extra: pip install 'jobstream[dask]'"
        )

    def test_a_scheduler_and_a_worker_started_as_processes(self, messy_dir: Path, tmp_path: Path) -> None:
        """`dask scheduler` and `dask worker` on 127.0.0.1, free ports chosen by the OS."""
        info = tmp_path / "scheduler.json"
        common = ["--no-dashboard"]
        procs: list[subprocess.Popen[bytes]] = []
        with open(tmp_path / "scheduler.log", "wb") as scheduler_log, open(tmp_path / "worker.log", "wb") as worker_log:
            try:
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "dask",
                            "scheduler",
                            "--host",
                            "127.0.0.1",
                            "--port",
                            "0",
                            "--scheduler-file",
                            str(info),
                            *common,
                        ],
                        stdout=scheduler_log,
                        stderr=subprocess.STDOUT,
                    )
                )
                deadline = time.monotonic() + 60
                while not (info.exists() and info.stat().st_size) and time.monotonic() < deadline:
                    assert procs[0].poll() is None, (tmp_path / "scheduler.log").read_text()
                    time.sleep(0.1)
                address = json.loads(info.read_text())["address"]
                assert address.startswith("tcp://127.0.0.1:")
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "dask",
                            "worker",
                            address,
                            "--host",
                            "127.0.0.1",
                            "--nworkers",
                            "1",
                            "--nthreads",
                            "1",
                            *common,
                        ],
                        stdout=worker_log,
                        stderr=subprocess.STDOUT,
                    )
                )
                with Client(address, timeout=30) as c:
                    c.wait_for_workers(1, timeout=60)
                same_run(["events", messy_dir], address, tmp_path)
                same_run(["validate", messy_dir, "--max-line-bytes", MAX_LINE], address, tmp_path)
            finally:
                for p in reversed(procs):
                    p.terminate()
                for p in reversed(procs):
                    try:
                        p.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait(timeout=20)
        assert all(p.returncode is not None for p in procs)


# --------------------------------------------------------------------------- failures


def test_a_worker_killed_mid_run_is_retried_and_the_result_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "log.ndjson"
    with path.open("wb") as fh:
        for _ in range(4):
            fh.write(messy(POOL * 20, bom=False, crlf=False, final_newline=True))
        jobstream.generate.write_log(fh, 150, seed=12)
    want = single(path)
    blocksize = 64_000
    n_parts = len(jd.plan(path, blocksize=blocksize))
    assert n_parts > 100
    with LocalCluster(**cluster_kwargs()) as cluster, Client(cluster) as c:
        before = c.run(os.getpid)
        done: list[int] = []
        out: list[Any] = []
        failed: list[BaseException] = []

        def run() -> None:
            try:
                out.append(on_dask(path, c, blocksize=blocksize, on_progress=done.append))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                failed.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 60
        while len(done) < 5 and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.005)
        victim = sorted(before.values())[0]
        running = thread.is_alive() and len(done) < n_parts
        os.kill(victim, signal.SIGKILL)
        thread.join(timeout=180)
        assert not thread.is_alive() and not failed, failed
        assert running, "the run ended before the worker was killed"
        assert facts(*out[0]) == facts(*want)
        c.wait_for_workers(2, timeout=60)
        after = c.run(os.getpid)
        assert victim not in after.values() and len(after) == 2  # the nanny started a new worker process
