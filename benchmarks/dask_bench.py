"""jobstream on Dask against jobstream's own parallel reader, on this machine.

    python benchmarks/dask_bench.py                       # the 1 GB same-jobs log, --repeat 3
    python benchmarks/dask_bench.py --repeat 5 --markdown

Three measurements, none of them a test (nothing asserts a time):

1. **Engine overhead.**  ``jobstream summary|events LOG --dask local:2`` against the same
   command with ``-j 2``, each a whole process (interpreter, imports, and for ``--dask``
   the start and stop of a two-process ``LocalCluster``), median of ``--repeat`` runs; the
   outputs must be identical byte for byte.
2. **Scaling with the block size.**  ``jobstream.run.dask.fold`` on one ``LocalCluster`` of two
   workers, started once: partitions, bytes per partition, wall time.
3. **Merge cost per 10k jobs.**  A table of 10,000 distinct jobs (the standard log folded
   five times with its job ids renamed): its wire form's size, ``to_bytes``,
   ``from_bytes``, and a merge of two such tables (the same jobs: the worst case, every job
   merged field by field) as the tree merge does it.

The data is ``compare.py``'s: ``--scale 1gb --same-jobs`` (the standard 2000-job log
re-exported six times, 1,057 MB), cached in ``benchmarks/data``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402  (the dataset and the process measurement are compare.py's)

PY = sys.executable


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def overhead(path: Path, repeat: int, tasks: list[str], timeout: float) -> list[tuple[str, ...]]:
    rows = []
    for task in tasks:
        runs: dict[str, list[Any]] = {"-j 2": [], "--dask local:2": []}
        outputs: dict[str, bytes] = {}
        for _ in range(repeat):
            for name, extra in (("-j 2", ["-j", "2"]), ("--dask local:2", ["--dask", "local:2"])):
                with tempfile.NamedTemporaryFile(delete=False) as out:
                    out_path = out.name
                argv = [PY, "-m", "jobstream", task, str(path), "--no-progress", *extra]
                print(f"  {task} {name} ...", file=sys.stderr, flush=True)
                runs[name].append(compare.measure(argv, out_path, timeout))
                data = Path(out_path).read_bytes()
                os.unlink(out_path)
                if outputs.setdefault(name, data) != data:
                    raise SystemExit(f"{task} {name}: two runs wrote different outputs")
        same = outputs["-j 2"] == outputs["--dask local:2"]
        # each --dask run against the -j 2 run just before it: a shared machine's load moves
        # both alike, so the median of these ratios is steadier than a ratio of medians
        pairs = [d.wall / j.wall for j, d in zip(runs["-j 2"], runs["--dask local:2"], strict=True)]
        for name, rs in runs.items():
            wall = median([r.wall for r in rs])
            cpu = median([r.cpu for r in rs])
            rss = max(r.rss_kb for r in rs) / 1024
            tree = max(r.tree_kb for r in rs) / 1024
            ratio = median(pairs) if name != "-j 2" else 1.0
            rows.append(
                (
                    task,
                    f"jobstream {task} {name}",
                    f"{wall:.2f}",
                    f"{cpu:.2f}",
                    f"{ratio:.2f}",
                    f"{rss:.0f}",
                    f"{tree:.0f}",
                    "identical" if same else "**DIFFERENT**",
                )
            )
    return rows


def scaling(path: Path, blocksizes: list[int], repeat: int) -> tuple[list[tuple[str, ...]], float]:
    from distributed import Client, LocalCluster

    import jobstream.run.dask as jd

    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        start = time.perf_counter() - t0
        rows = []
        size = path.stat().st_size
        for bs in blocksizes:
            parts = jd.plan(path, blocksize=bs)
            walls = []
            for _ in range(repeat):
                print(f"  blocksize {bs >> 20} MiB ...", file=sys.stderr, flush=True)
                t = time.perf_counter()
                jd.fold(path, client, blocksize=bs, model="lean")
                walls.append(time.perf_counter() - t)
            rows.append(
                (
                    f"{bs >> 20} MiB",
                    str(len(parts)),
                    f"{size / len(parts) / 1e6:.1f}",
                    f"{median(walls):.2f}",
                    f"{size / median(walls) / 1e6:.0f}",
                )
            )
    return rows, start


def merge_cost(std: Path, repeat: int) -> list[tuple[str, ...]]:
    import jobstream
    from jobstream.run.dask import _merge_tables

    data = std.read_bytes()
    table = jobstream.JobTable()
    for k in range(5):  # 5 x 2000 jobs, ids made distinct
        renamed = data.replace(b'"id": "', f'"id": "v{k}-'.encode()).replace(b'"id":"', f'"id":"v{k}-'.encode())
        with tempfile.NamedTemporaryFile(suffix=".ndjson") as fh:
            fh.write(renamed)
            fh.flush()
            table.merge_in(jobstream.fold_paths(fh.name, model="lean", workers=1).table)
    jobs = len(table)
    per = 10_000 / jobs

    def timed(fn: Any) -> float:
        xs = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            xs.append(time.perf_counter() - t)
        return median(xs) * 1000 * per

    blob = table.to_bytes()
    import tracemalloc

    tracemalloc.start()
    other = jobstream.JobTable.from_bytes(blob)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return [
        ("memory of such a table received from another worker, MB per 10k jobs", f"{held * per / 1e6:.0f}"),
        ("jobs in the table", f"{jobs:,}"),
        ("wire form (msgpack), MB per 10k jobs", f"{len(blob) * per / 1e6:.2f}"),
        ("to_bytes, ms per 10k jobs", f"{timed(table.to_bytes):.0f}"),
        ("from_bytes, ms per 10k jobs", f"{timed(lambda: jobstream.JobTable.from_bytes(blob)):.0f}"),
        (
            "merge of two tables of the same jobs (one tree-merge step), ms per 10k jobs",
            f"{timed(lambda: _merge_tables([table, other])):.0f}",
        ),
    ]


def render(headers: tuple[str, ...], rows: list[tuple[str, ...]], markdown: bool) -> str:
    if markdown:
        out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)) for r in [headers, *rows])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parent / "data"))
    ap.add_argument("--copies", type=int, default=6, help="re-exports of the standard log (6: 1,057 MB)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tasks", default="summary,events")
    ap.add_argument("--blocksizes", default="16,32,64,128,256", help="MiB, comma separated")
    ap.add_argument("--skip", default="", help="comma list of: overhead, scaling, merge")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))

    data_dir = Path(args.data_dir)
    std = compare.dataset(data_dir, 2000, 1, False, False)
    path = compare.reexported(data_dir, std, args.copies)
    info = compare.machine_info()
    print(f"data: {path} ({path.stat().st_size / 1e6:,.0f} MB); machine: {info}", flush=True)
    if "overhead" not in skip:
        print(
            render(
                (
                    "task",
                    "command",
                    "median s",
                    "CPU s",
                    "x -j 2 (median of pairs)",
                    "largest process MB",
                    "process tree MB",
                    "output",
                ),
                overhead(path, args.repeat, args.tasks.split(","), args.timeout),
                args.markdown,
            ),
            flush=True,
        )
    if "scaling" not in skip:
        rows, start = scaling(path, [int(x) << 20 for x in args.blocksizes.split(",")], args.repeat)
        print(f"LocalCluster of 2 workers started in {start:.2f} s", flush=True)
        print(
            render(("block size", "partitions", "MB per partition", "median s", "MB/s"), rows, args.markdown),
            flush=True,
        )
    if "merge" not in skip:
        print(render(("merge", "value"), merge_cost(std, args.repeat), args.markdown), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
