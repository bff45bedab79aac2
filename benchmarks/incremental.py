"""What a nightly incremental run (``--state``) costs, night by night, next to a full run and DuckDB.

    python benchmarks/incremental.py                        # 1 GB and 5 GB, 5 nights of ~8 MB each
    python benchmarks/incremental.py --sizes 1gb --nights 3 --repeat 3
    python benchmarks/incremental.py --markdown --json incremental.json --keep
    python benchmarks/incremental.py --same-jobs        # also 5 GB of the 1 GB log's jobs, polled for longer

A cron job runs ``jobstream summary logs/ --state FILE`` every night over a log that only
grows.  For each size (``--sizes``), this script:

1. generates a log with ``jobstream.generate.write_log(fh, jobs, seed)`` big enough for the
   size plus every night's growth (the generator writes polls in time order, so a prefix is
   the log as it was at some moment), and copies its first SIZE bytes (to a line's end) to
   ``night.ndjson``;
2. night 1: times a full ``jobstream summary`` and DuckDB scanning the whole file, twice:
   ``peers/duckdb_peer.py summary --counts-only`` (``read_ndjson`` of three columns and an
   ``arg_max`` per job: the cheapest full answer) and ``peers/duckdb_peer.py summary`` (the
   summary's figures, compare.py's peer), then the first ``summary --state`` run
   (it reads everything) and the first ``events --state --new`` run (another state);
3. nights 2..N: appends the next ``--growth`` bytes (to the end of a line: DuckDB refuses a
   cut last line; the tests cover cut lines), then times ``summary --state`` and
   ``events --state --new`` (each repetition starts from the state the last night left:
   the file is restored between repetitions) and again the full run and DuckDB, and checks
   that the incremental summary is byte for byte the full run's;
4. a last run with nothing new (only stat and fingerprint checks, and no state write);
5. state size (bytes per job), and ``State.load`` + ``save`` of the 1 GB state timed in
   one process against the full run (the target: under 5%);
6. ``tail --state`` restarted after a megabyte was written while it was down: the time from
   its start to the last change written while it was down (a sentinel job dated last).

The generator's logs hold jobs in proportion to their size (5 GB: ~54,000 jobs), and a
nightly summary looks at every job: its cost has a part that follows the new bytes and a
part that follows the jobs (state load and save, the figures of every job).  ``--same-jobs``
adds, for each size above the smallest, a log made of the smallest one re-exported until it
is that big (the same ~10,000 jobs polled for longer), where only the bytes grow.

Everything measured is a whole process (start-up, imports, state load and save included),
with ``compare.measure``: jobstream from a non-editable install in a venv
(``--venv``, made with ``pip install .`` and ``pip install duckdb`` unless it exists), in an
environment without any ``PYTHON*`` variable, from an empty working directory.  Medians of
``--repeat`` runs.  Nothing is asserted; the big files are removed at the end unless
``--keep``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compare  # noqa: E402  (the harness: clean environment, measure(), machine info)
from compare import CLEAN_ENV, Run, machine_info, measure, probe, render, run_dir  # noqa: E402

REPO = HERE.parent
PEER = HERE / "peers" / "duckdb_peer.py"
#: bytes of generated log per job (jobstream generate: ~93 KB a job)
BYTES_PER_JOB = 93_500


def parse_size(text: str) -> int:
    kind, value = compare.parse_size(text)
    if kind != "bytes":
        raise argparse.ArgumentTypeError(f"a size like 1gb or 500mb, not {text!r}")
    return int(value)


def source_digest() -> str:
    """What the venv's jobstream was installed from: a new install when the source changes."""
    h = hashlib.sha256()
    for p in sorted((REPO / "jobstream").rglob("*.py")):
        h.update(p.relative_to(REPO).as_posix().encode() + b"\0" + p.read_bytes())
    h.update((REPO / "pyproject.toml").read_bytes())
    return h.hexdigest()[:16]


def venv(path: Path) -> Path:
    """The venv's python, with jobstream installed from this checkout (not editable) and duckdb."""
    python = path / "bin" / "python"
    stamp = path / "jobstream-source.digest"
    digest = source_digest()
    if not python.exists():
        print(f"creating {path} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    if not stamp.exists() or stamp.read_text() != digest:
        print(f"installing jobstream (pip install .) and duckdb into {path} ...", file=sys.stderr, flush=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(REPO)],
            check=True,
            env=CLEAN_ENV,
            cwd=run_dir(),
        )
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", str(REPO), "duckdb"],
            check=True,
            env=CLEAN_ENV,
            cwd=run_dir(),
        )
        stamp.write_text(digest)
    return python


def generated(data_dir: Path, size: int, seed: int) -> Path:
    """A generated log of at least *size* bytes (cached, with its job count beside it)."""
    for old in data_dir.glob(f"incremental-*-s{seed}.meta.json"):
        meta = json.loads(old.read_text())
        path = old.with_suffix("").with_suffix(".ndjson")
        if path.exists() and meta.get("bytes") == path.stat().st_size >= size:
            return path
    jobs = math.ceil(size * 1.03 / BYTES_PER_JOB)
    code = (
        "import sys; from jobstream.generate import write_log\n"
        "with open(sys.argv[1], 'wb') as fh: write_log(fh, int(sys.argv[2]), int(sys.argv[3]))"
    )
    for _ in range(3):  # bytes per job vary with the job count: grow it until the log is big enough
        path = data_dir / f"incremental-{jobs}-s{seed}.ndjson"
        print(f"generating {path} ({jobs} jobs) ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-c", code, str(path), str(jobs), str(seed)], check=True, cwd=REPO)
        got = path.stat().st_size
        if got >= size:
            path.with_suffix(".meta.json").write_text(json.dumps({"jobs": jobs, "seed": seed, "bytes": got}))
            return path
        path.unlink()
        jobs = math.ceil(jobs * size / got * 1.03)
    raise SystemExit(f"could not generate {size} bytes")


def copy_range(src: Path, dst: Path, start: int, length: int, mode: str = "ab") -> None:
    with open(src, "rb") as fin, open(dst, mode) as fout:
        fin.seek(start)
        left = length
        while left > 0:
            block = fin.read(min(left, 16 << 20))
            if not block:
                break
            fout.write(block)
            left -= len(block)


def line_end(path: Path, offset: int) -> int:
    """Just after the first newline at or after *offset*: nights end between lines, because
    DuckDB's read_ndjson refuses a file whose last line is cut (jobstream reads a cut line as a
    full run does and resumes it whole: the tests cover that)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        while True:
            block = fh.read(1 << 16)
            if not block:
                return offset
            nl = block.find(b"\n")
            if nl >= 0:
                return offset + nl + 1
            offset += len(block)


def med(runs: list[Run]) -> float:
    return statistics.median(r.wall for r in runs)


def timed(argv: list[str], out: Path, repeat: int, timeout: float, restore: Path | None = None) -> list[Run]:
    """*repeat* runs of *argv* (the last one's output in *out*); with *restore* (a state file),
    each run starts from the state as it was before the first."""
    backup = restore.with_name(restore.name + ".bench") if restore is not None and restore.exists() else None
    if backup is not None:
        shutil.copyfile(restore, backup)  # type: ignore[arg-type]
    runs = []
    try:
        for i in range(repeat):
            if i and backup is not None:
                shutil.copyfile(backup, restore)  # type: ignore[arg-type]
            run = measure(argv, str(out), timeout)
            if run.rc != 0:
                raise SystemExit(f"{' '.join(argv)}: exit {run.rc}: {run.stderr.strip()[-500:]}")
            runs.append(run)
    finally:
        if backup is not None:
            backup.unlink()
    return runs


def load_save(python: str, state: Path, repeat: int) -> tuple[float, float, int]:
    """Median seconds of ``State.load`` and of ``save`` (a full rewrite) in one process, and jobs."""
    code = r"""
import sys, time, json, shutil
from jobstream.run.state import State
p = sys.argv[1]
shutil.copyfile(p, p + ".bench")
t0 = time.perf_counter()
s = State.load(p)
t1 = time.perf_counter()
s._changed = True  # force the write a run with new bytes does (a run with nothing new writes nothing)
s.save()
t2 = time.perf_counter()
jobs = len(s._records)
s.close()
shutil.copyfile(p + ".bench", p)
print(json.dumps([t1 - t0, t2 - t1, jobs]))
"""
    loads, saves, jobs = [], [], 0
    for _ in range(repeat):
        proc = subprocess.run(
            [python, "-c", code, str(state)], capture_output=True, text=True, env=CLEAN_ENV, cwd=run_dir(), check=True
        )
        a, b, jobs = json.loads(proc.stdout)
        loads.append(a)
        saves.append(b)
    Path(str(state) + ".bench").unlink(missing_ok=True)
    return statistics.median(loads), statistics.median(saves), jobs


SENTINEL_AT = 253402300000  # dated after everything: the last change a restarted tail prints


def tail_restart(
    cli: list[str], log: Path, source: Path, offset: int, work: Path, repeat: int, timeout: float
) -> tuple[list[float], list[float], int]:
    """Start ``tail --state`` once (a new state: it learns the existing content and saves on
    SIGTERM), append ~1 MB plus a sentinel job while it is down, then restart it *repeat*
    times (the state restored each time): seconds from start to the first line and to the
    sentinel's change, and how many changes came before it."""
    state = work / "tail.state"
    for p in work.glob("tail.state*"):
        p.unlink()
    argv = [*cli, "tail", str(log), "--state", str(state), "-f", "ndjson", "-v"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=CLEAN_ENV, cwd=run_dir())
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # bounded: ready, or the deadline
        line = proc.stderr.readline()
        if not line or b"following" in line:
            break
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout)
    proc.stderr.close()
    copy_range(source, log, offset, 1 << 20)
    with open(log, "ab") as fh:  # end the cut line, then the sentinel
        fh.write(
            b"\n"
            + json.dumps(
                {"id": "sentinel", "status": "QUEUED", "created_at": SENTINEL_AT, "modified_at": SENTINEL_AT}
            ).encode()
            + b"\n"
        )
    backup = work / "tail.state.bench"
    shutil.copyfile(state, backup)
    firsts, lasts, count = [], [], 0
    for _ in range(repeat):
        shutil.copyfile(backup, state)
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=CLEAN_ENV, cwd=run_dir())
        assert proc.stdout is not None
        first = None
        count = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            first = first if first is not None else time.perf_counter() - t0
            if b'"sentinel"' in line:
                lasts.append(time.perf_counter() - t0)
                break
            count += 1
        firsts.append(first if first is not None else float("nan"))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
        proc.stdout.close()
    backup.unlink()
    return firsts, lasts, count


def one_size(
    size: int, args: argparse.Namespace, python: str, cli: list[str], same_jobs: int | None = None
) -> dict[str, Any]:
    """Nights over a log of *size*; with *same_jobs* (the smallest size), the log is the
    smallest size's log re-exported until it is *size* big: the jobs of the small log, polled
    for longer (bytes grow, jobs do not), and each night appends what the small log got."""
    data_dir = Path(args.data_dir)
    total = (same_jobs or size) + args.growth * args.nights + (2 << 20)
    source = generated(data_dir, total, args.seed)
    work = data_dir / f"incremental-work-{size}{'-same' if same_jobs else ''}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work / "night.ndjson"
    summary_state, events_state = work / "summary.state", work / "events.state"
    if same_jobs:
        offset = line_end(source, same_jobs)
        copies = max(1, round(size / offset))
        print(
            f"writing {copies} copies of the first {offset / 1e9:.1f} GB of {source.name} ...",
            file=sys.stderr,
            flush=True,
        )
        for i in range(copies):
            copy_range(source, log, 0, offset, "ab" if i else "wb")
    else:
        print(f"copying the first {size / 1e9:.1f} GB of {source.name} ...", file=sys.stderr, flush=True)
        offset = line_end(source, size)
        copy_range(source, log, 0, offset, "wb")
    duck = [python, str(PEER), "summary", str(log), "--counts-only"]
    duck_summary = [python, str(PEER), "summary", str(log)]
    full = [*cli, "summary", str(log), "-f", "json"]
    incr = [*cli, "summary", str(log), "--state", str(summary_state), "-f", "json"]
    new = [*cli, "events", str(log), "--state", str(events_state), "--new", "-f", "ndjson"]
    outs = {k: work / f"{k}.out" for k in ("full", "duck", "duck_summary", "incr", "new")}
    nights = []
    for night in range(1, args.nights + 1):
        added = 0
        if night > 1:
            added = line_end(source, offset + args.growth) - offset
            copy_range(source, log, offset, added)
            offset += added
        print(f"  {size / 1e9:g} GB night {night}: {log.stat().st_size / 1e6:,.0f} MB", file=sys.stderr, flush=True)
        r_full = timed(full, outs["full"], args.repeat, args.timeout)
        r_duck = timed(duck, outs["duck"], args.repeat, args.timeout)
        r_duck_summary = timed(duck_summary, outs["duck_summary"], args.repeat, args.timeout)
        if night == 1:  # the first run reads everything: once is enough to time it
            r_incr = timed(incr, outs["incr"], 1, args.timeout)
            r_new = timed(new, outs["new"], 1, args.timeout)
        else:
            r_incr = timed(incr, outs["incr"], args.repeat, args.timeout, restore=summary_state)
            r_new = timed(new, outs["new"], args.repeat, args.timeout, restore=events_state)
        same = outs["incr"].read_bytes() == outs["full"].read_bytes()
        by_status = json.loads(outs["full"].read_text())["by_status"]
        duck_ok = json.loads(outs["duck"].read_text())["by_status"] == by_status
        nights.append(
            {
                "night": night,
                "log_mb": log.stat().st_size / 1e6,
                "new_mb": added / 1e6,
                "jobs": json.loads(outs["full"].read_text())["jobs"],
                "state_mb": summary_state.stat().st_size / 1e6,
                "incr": med(r_incr),
                "new": med(r_new),
                "full": med(r_full),
                "duck": med(r_duck),
                "duck_summary": med(r_duck_summary),
                "incr_cpu": statistics.median(r.cpu for r in r_incr),
                "incr_rss_mb": max(r.rss_kb for r in r_incr) / 1024,
                "changes": sum(1 for _ in outs["new"].open("rb")),
                "same": same,
                "duck_ok": duck_ok,
            }
        )
    nothing = timed(incr, outs["incr"], args.repeat, args.timeout, restore=summary_state)
    result: dict[str, Any] = {
        "size": size,
        "same_jobs": bool(same_jobs),
        "source": str(source),
        "nights": nights,
        "nothing_new": med(nothing),
        "nothing_new_same": outs["incr"].read_bytes() == outs["full"].read_bytes(),
    }
    load, save, jobs = load_save(python, summary_state, args.repeat)
    result.update(load=load, save=save, state_jobs=jobs, state_bytes=summary_state.stat().st_size)
    if not args.no_tail and size == min(args.sizes) and not same_jobs:
        firsts, lasts, count = tail_restart(cli, log, source, offset, work, args.repeat, args.timeout)
        result.update(
            tail_first=statistics.median(firsts),
            tail_last=statistics.median(lasts) if lasts else None,
            tail_changes=count,
        )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


def label(res: dict[str, Any]) -> str:
    return f"{res['size'] / 1e9:g} GB" + (", same jobs" if res.get("same_jobs") else "")


def report(results: list[dict[str, Any]], md: bool) -> str:
    headers = (
        "log",
        "night",
        "log MB",
        "new MB",
        "jobs",
        "state MB",
        "summary --state s",
        "events --new s",
        "changes",
        "full summary s",
        "DuckDB scan s",
        "DuckDB summary s",
        "x full",
        "x DuckDB scan",
        "x DuckDB summary",
        "same output",
    )
    rows = []
    for res in results:
        for n in res["nights"]:
            rows.append(
                (
                    label(res),
                    str(n["night"]),
                    f"{n['log_mb']:,.0f}",
                    f"{n['new_mb']:.1f}",
                    f"{n['jobs']:,}",
                    f"{n['state_mb']:.1f}",
                    f"{n['incr']:.2f}",
                    f"{n['new']:.2f}",
                    f"{n['changes']:,}",
                    f"{n['full']:.2f}",
                    f"{n['duck']:.2f}",
                    f"{n['duck_summary']:.2f}",
                    f"{n['incr'] / n['full']:.3f}",
                    f"{n['incr'] / n['duck']:.3f}",
                    f"{n['incr'] / n['duck_summary']:.3f}",
                    ("yes" if n["same"] else "NO") + ("" if n["duck_ok"] else " (DuckDB differs)"),
                )
            )
        last = res["nights"][-1]
        rows.append(
            (
                label(res),
                "rerun, nothing new",
                f"{last['log_mb']:,.0f}",
                "0",
                f"{last['jobs']:,}",
                f"{last['state_mb']:.1f}",
                f"{res['nothing_new']:.2f}",
                "-",
                "-",
                f"{last['full']:.2f}",
                f"{last['duck']:.2f}",
                f"{last['duck_summary']:.2f}",
                f"{res['nothing_new'] / last['full']:.3f}",
                f"{res['nothing_new'] / last['duck']:.3f}",
                f"{res['nothing_new'] / last['duck_summary']:.3f}",
                "yes" if res["nothing_new_same"] else "NO",
            )
        )
    out = [render(rows, md, headers), ""]
    for res in results:
        gb = label(res)
        full = res["nights"][-1]["full"]
        out.append(
            f"{gb}: state {res['state_bytes'] / 1e6:.1f} MB for {res['state_jobs']:,} jobs = "
            f"{res['state_bytes'] / res['state_jobs']:,.0f} bytes per job; State.load {res['load'] * 1000:.0f} ms "
            f"+ save {res['save'] * 1000:.0f} ms = {(res['load'] + res['save']) / full * 100:.1f}% of a full run "
            f"({full:.2f} s)"
        )
        if res.get("tail_first") is not None:
            last = res["tail_last"]
            out.append(
                f"{gb}: tail --state restarted after 1 MB was written while it was down: first change after "
                f"{res['tail_first']:.2f} s, all {res['tail_changes']:,} changes and the sentinel after "
                + (f"{last:.2f} s" if last is not None else "(not seen)")
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    ap.add_argument(
        "--sizes",
        type=lambda t: [parse_size(x) for x in t.split(",")],
        default=[10**9, 5 * 10**9],
        help="log sizes, comma-separated [1gb,5gb]",
    )
    ap.add_argument("--nights", type=int, default=5, help="nights per size, the first reading everything [5]")
    ap.add_argument(
        "--growth", type=parse_size, default=8 * 10**6, help="bytes appended per night [8mb: 0.8%% of 1 GB]"
    )
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per measurement; medians [3]")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data-dir", default=str(HERE / "data"), help="logs and work files [benchmarks/data]")
    ap.add_argument("--venv", default=None, help="the venv to install jobstream into [DATA_DIR/venv-incremental]")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--no-tail", action="store_true", help="skip the tail --state restart")
    ap.add_argument(
        "--same-jobs",
        action="store_true",
        help="also each size above the smallest made of the smallest log re-exported: bytes grow, jobs do not",
    )
    ap.add_argument("--keep", action="store_true", help="keep the generated logs and work files")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", dest="json_out", metavar="FILE")
    args = ap.parse_args(argv)
    args.sizes.sort()
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    need = sum(2 * s + args.growth * args.nights for s in args.sizes) + (args.sizes[-1] if args.same_jobs else 0)
    free = shutil.disk_usage(data_dir).free
    if free < need * 1.2:
        raise SystemExit(f"{data_dir}: {free / 1e9:.1f} GB free, the logs need about {need / 1e9:.1f} GB")
    python = venv(Path(args.venv) if args.venv else data_dir / "venv-incremental")
    js = probe("", str(python))
    if js.problem:
        raise SystemExit(js.describe())
    if js.warning:
        print(f"warning: {js.warning}", file=sys.stderr)
    results = []
    sources = []
    try:
        for size in args.sizes:
            results.append(one_size(size, args, str(python), js.cli))
            sources.append(Path(results[-1]["source"]))
        if args.same_jobs:
            for size in args.sizes[1:]:
                results.append(one_size(size, args, str(python), js.cli, same_jobs=args.sizes[0]))
    finally:
        if not args.keep:
            for src in sources:
                src.unlink(missing_ok=True)
                src.with_suffix(".meta.json").unlink(missing_ok=True)
    machine = machine_info()
    machine["jobstream"] = js.describe()
    cmd = "python benchmarks/incremental.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.markdown:
        print("| machine | |\n|---|---|")
        for k, v in machine.items():
            print(f"| {k} | {v} |")
        print(f"\ncommand: `{cmd.strip()}`; median of {args.repeat} runs; load average at the end {compare._load()}\n")
    else:
        print("; ".join(f"{k} {v}" for k, v in machine.items()))
        print(f"command: {cmd.strip()}; median of {args.repeat} runs\n")
    print(report(results, args.markdown))
    print(
        "\nx full = summary --state / full summary; x DuckDB scan = summary --state / DuckDB's cheapest full "
        "answer (status per job, counted); x DuckDB summary = summary --state / DuckDB computing the summary's "
        "figures (compare.py's peer); all whole processes, start-up, state load and save included; same output = "
        "summary --state printed byte for byte what the full run printed."
    )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
