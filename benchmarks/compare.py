"""Compare jobstream with other ways of getting the same answers, each task as a whole process.

    python benchmarks/compare.py                      # standard dataset: 2000 jobs, ~100k snapshots, ~170 MB
    python benchmarks/compare.py --scale 1gb          # ~1 GB dataset (+ RSS flatness check vs the standard one)
    python benchmarks/compare.py --only summary --peers duckdb,jq --repeat 9 --markdown

Every measured process is started with ``subprocess.Popen`` (through GNU ``/usr/bin/time`` when
present) and reaped with ``os.wait4``: wall time (perf_counter around start..exit), CPU time
of the process and its children, peak RSS of the largest process (GNU time's ``%M``, else
``ru_maxrss``) and the sampled peak PSS of the whole process tree (worker processes add up).
Each tool runs once first, untimed, with its output kept in ``DATA_DIR/out/`` and checked
against jobstream's answer; then ``--repeat`` timed rounds run every tool in turn (round-robin,
so noise on a shared machine spreads over all tools) with stdout to /dev/null.  The table
shows the median.  Peers whose package or program is missing are reported as skipped
(``pip install -e '.[bench]'`` installs them; jq comes from the OS).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
PY = sys.executable
TASKS = ("summary", "events", "decode")


# --------------------------------------------------------------------------- tools


@dataclass
class Tool:
    task: str
    name: str
    key: str  # what --peers matches
    argv: Callable[[str], list[str]]
    needs: tuple[str, ...] = ()  # python modules, or "bin:NAME" for programs
    note: str = ""


def _py(script: str, *args: str) -> Callable[[str], list[str]]:
    """``python peers/SCRIPT ARGS...``; the dataset path replaces ``{path}``."""
    return lambda path: [PY, str(PEERS / script), *(path if a == "{path}" else a for a in args)]


def _jq(program: str) -> Callable[[str], list[str]]:
    return lambda path: [shutil.which("jq") or "jq", "-n", "-c", "-f", str(PEERS / "jq" / program), path]


TOOLS: list[Tool] = [
    # current status per job, counted
    Tool("summary", "jobstream summary", "jobstream", lambda p: [PY, "-m", "jobstream", "summary", "-f", "json", p],
         ("jobstream",), "full summary: counts, rates, percentiles, tokens, cost"),
    Tool("summary", "jobstream summary -j 1", "jobstream",
         lambda p: [PY, "-m", "jobstream", "summary", "-j", "1", "-f", "json", p], ("jobstream",),
         "one process (the default forks one worker per core for inputs >= 32 MB)"),
    Tool("summary", "duckdb", "duckdb", _py("duckdb_peer.py", "summary", "{path}"), ("duckdb",)),
    Tool("summary", "polars", "polars", _py("polars_peer.py", "summary", "{path}"), ("polars",)),
    Tool("summary", "python json", "python", _py("py_loop.py", "summary", "{path}")),
    Tool("summary", "python orjson", "python", _py("py_loop.py", "summary", "{path}", "--orjson"), ("orjson",)),
    Tool("summary", "jq", "jq", _jq("summary.jq"), ("bin:jq",)),
    # status-change events
    Tool("events", "jobstream events", "jobstream", lambda p: [PY, "-m", "jobstream", "events", "-f", "ndjson", p],
         ("jobstream",)),
    Tool("events", "jobstream events -j 1", "jobstream",
         lambda p: [PY, "-m", "jobstream", "events", "-j", "1", "-f", "ndjson", p], ("jobstream",)),
    Tool("events", "duckdb", "duckdb", _py("duckdb_peer.py", "events", "{path}"), ("duckdb",)),
    Tool("events", "duckdb lag() snapshots only", "duckdb", _py("duckdb_peer.py", "events", "{path}", "--snapshots-only"),
         ("duckdb",), "approximation: lag() over snapshot statuses only, blind to statuses seen only in events"),
    Tool("events", "polars", "polars", _py("polars_peer.py", "events", "{path}"), ("polars",)),
    Tool("events", "python json", "python", _py("py_loop.py", "events", "{path}")),
    Tool("events", "python orjson", "python", _py("py_loop.py", "events", "{path}", "--orjson"), ("orjson",)),
    Tool("events", "jq", "jq", _jq("events.jq"), ("bin:jq",)),
    # full-schema decoding of every line
    Tool("decode", "jobstream read(model='full')", "jobstream", _py("jobstream_decode.py", "{path}"), ("jobstream",)),
    Tool("decode", "jobstream validate_paths", "jobstream", _py("jobstream_validate.py", "{path}"), ("jobstream",),
         "what `jobstream validate` runs: workers per core, repeats of accepted lines not decoded again"),
    Tool("decode", "mistralai: orjson + model_validate", "sdk", _py("sdk_decode.py", "{path}", "--mode", "dict"),
         ("mistralai", "orjson"), "ClassifierDetailedJobOut / CompletionDetailedJobOut picked by job_type"),
    Tool("decode", "mistralai: TypeAdapter.validate_json", "sdk", _py("sdk_decode.py", "{path}", "--mode", "json"),
         ("mistralai",), "the SDK's GET-job response union, discriminated on job_type"),
    Tool("decode", "orjson.loads (no schema)", "orjson", _py("orjson_decode.py", "{path}"), ("orjson",),
         "parse only: dicts, no validation"),
]


def missing(tool: Tool) -> Optional[str]:
    for need in tool.needs:
        if need.startswith("bin:"):
            if shutil.which(need[4:]) is None:
                return f"{need[4:]} not found on PATH"
        elif importlib.util.find_spec(need) is None:
            return f"{need} not installed (pip install -e '.[bench]')"
    return None


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    wall: float
    cpu: float
    rss_kb: int  # ru_maxrss: the largest single process (the tool or a child it waited for)
    tree_kb: int  # peak of the sampled sum of PSS over the process tree (0: not sampled)
    rc: int
    stderr: str = ""


def _tree(pid: int) -> list[int]:
    """*pid* and its descendants, from /proc/PID/task/TID/children."""
    pids, i = [pid], 0
    while i < len(pids):
        p = pids[i]
        i += 1
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    pids.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            pass
    return pids


def _pss_kb(pid: int) -> int:
    """Proportional set size (shared pages split between sharers), else RSS; 0 if gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


SAMPLE_EVERY = 0.02  # seconds between process-tree memory samples


def _gnu_time() -> Optional[str]:
    """/usr/bin/time if it is GNU time (``-f``/``-o``): it reports the tool's own peak RSS."""
    path = shutil.which("time", path="/usr/bin:/bin")
    if not path:
        return None
    try:
        probe = subprocess.run([path, "-f", "%M", "true"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return path if probe.returncode == 0 and probe.stderr.strip().isdigit() else None


GNU_TIME = _gnu_time()


def measure(argv: list[str], stdout_path: str, timeout: float) -> Run:
    """Run *argv* once: wall clock, CPU (with reaped children), peak RSS of the largest
    process (``ru_maxrss`` from ``os.wait4``) and the sampled peak of the whole tree's PSS
    (worker processes run at the same time, so their memory adds up)."""
    sample = os.path.isdir("/proc/self/task")
    tree_kb = 0
    # A forked child's ru_maxrss starts at its parent's RSS (it survives exec), so a tool
    # started straight from this Python process would show at least this process's size.
    # GNU time is a small C program: the tool's peak RSS it reports has no such floor.
    fd, rss_file = tempfile.mkstemp(prefix="compare-rss-")
    os.close(fd)
    if GNU_TIME:
        argv = [GNU_TIME, "-f", "%M", "-o", rss_file, *argv]
    with open(stdout_path, "wb") as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        deadline = t0 + timeout
        next_sample = t0
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter()
            if now > deadline:
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            if sample and now >= next_sample:
                tree_kb = max(tree_kb, sum(_pss_kb(p) for p in _tree(proc.pid)))
                next_sample = now + SAMPLE_EVERY
            time.sleep(0.002)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace")
    if wall > timeout:
        tail = f"timed out after {timeout:.0f} s\n" + tail
    rss_kb = ru.ru_maxrss
    try:
        last = Path(rss_file).read_text().strip().splitlines()
        if GNU_TIME and last and last[-1].isdigit():
            rss_kb = int(last[-1])
    finally:
        os.unlink(rss_file)
    return Run(wall, ru.ru_utime + ru.ru_stime, rss_kb, tree_kb, proc.returncode, tail)


# --------------------------------------------------------------------------- answers


def answer_of(task: str, out_path: str) -> Any:
    """The comparable answer in a tool's output: status counts, change rows, or accepted lines."""
    data = Path(out_path).read_bytes()
    if task == "events":
        return [tuple(json.loads(line).values()) for line in data.splitlines() if line.strip()]
    obj = json.loads(data)
    if task == "summary":
        return obj["by_status"]
    return obj


def check(task: str, ref: Any, got: Any) -> tuple[bool, str]:
    if task == "summary":
        if got == ref:
            return True, f"ok ({sum(ref.values())} jobs)"
        diff = {k: (got.get(k, 0), ref.get(k, 0)) for k in sorted(set(ref) | set(got)) if got.get(k) != ref.get(k)}
        return False, "MISMATCH " + ", ".join(f"{k} {a} vs {b}" for k, (a, b) in diff.items())
    if task == "events":
        if got == ref:
            return True, f"ok ({len(ref)} changes)"
        cg, cr = Counter(got), Counter(ref)
        extra, lost = sum((cg - cr).values()), sum((cr - cg).values())
        if not extra and not lost:
            return False, f"MISMATCH order differs ({len(got)} changes)"
        return False, f"MISMATCH {len(got)} changes vs {len(ref)}: {lost} missing, {extra} extra"
    if got["accepted"] == ref["accepted"] and got.get("rejected", 0) == ref.get("rejected", 0):
        return True, f"ok ({ref['accepted']} lines)"
    return False, f"MISMATCH accepted {got['accepted']} of {ref['accepted']} lines ({got.get('rejected', 0)} rejected)"


# --------------------------------------------------------------------------- data


def parse_size(text: str) -> tuple[str, float]:
    """``1gb``/``500MB`` -> ("bytes", n); ``5``/``5x`` -> ("factor", 5)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*(kb|mb|gb|k|m|g)?\s*(x?)\s*", text.lower())
    if not m:
        raise argparse.ArgumentTypeError(f"--scale: expected a size like 1gb or a factor like 5, got {text!r}")
    num, unit = float(m.group(1)), m.group(2)
    if unit:
        return "bytes", num * {"k": 1e3, "m": 1e6, "g": 1e9}[unit[0]]
    return "factor", num


def _generator_digest() -> str:
    spec = importlib.util.find_spec("jobstream.generate")
    src = Path(spec.origin).read_bytes() if spec and spec.origin else b""
    return hashlib.sha256(src).hexdigest()[:16]


def dataset(data_dir: Path, jobs: int, seed: int, regenerate: bool) -> Path:
    """``jobstream generate`` output, cached; regenerated when the generator's source changed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"jobs-{jobs}-s{seed}.ndjson"
    meta_path = path.with_suffix(".meta.json")
    digest = _generator_digest()
    if path.exists() and meta_path.exists() and not regenerate:
        meta = json.loads(meta_path.read_text())
        if meta.get("generator") == digest and meta.get("bytes") == path.stat().st_size:
            return path
    print(f"generating {path} ({jobs} jobs, seed {seed}) ...", file=sys.stderr, flush=True)
    subprocess.run([PY, "-m", "jobstream", "generate", "--jobs", str(jobs), "--seed", str(seed), "-o", str(path)],
                   check=True)
    with open(path, "rb") as fh:
        lines = sum(1 for _ in fh)
    meta_path.write_text(json.dumps({"jobs": jobs, "seed": seed, "lines": lines, "bytes": path.stat().st_size,
                                     "generator": digest}))
    return path


def reexported(data_dir: Path, std: Path, copies: int) -> Path:
    """The standard log appended *copies* times: the same jobs, as a nightly full export
    appended to one file gives them (memory should follow jobs, not bytes)."""
    path = data_dir / f"{std.stem}-x{copies}.ndjson"
    meta_path = path.with_suffix(".meta.json")
    std_meta = json.loads(std.with_suffix(".meta.json").read_text())
    if not (path.exists() and meta_path.exists() and path.stat().st_size == std.stat().st_size * copies
            and json.loads(meta_path.read_text()).get("generator") == std_meta["generator"]):
        print(f"writing {path} ({copies} copies of {std.name}) ...", file=sys.stderr, flush=True)
        with open(path, "wb") as out:
            for _ in range(copies):
                with open(std, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
    meta = dict(std_meta, lines=std_meta["lines"] * copies, bytes=std.stat().st_size * copies, copies=copies)
    meta_path.write_text(json.dumps(meta))
    return path


def dataset_info(path: Path) -> dict[str, Any]:
    meta = json.loads(path.with_suffix(".meta.json").read_text())
    meta["path"] = str(path)
    meta["mb"] = meta["bytes"] / 1e6
    return meta


# --------------------------------------------------------------------------- machine


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "CPU": cpu,
        "cores": f"{os.cpu_count()} ({usable} usable)",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
    }
    for dist in ("jobstream", "msgspec", "orjson", "duckdb", "polars", "mistralai", "pydantic"):
        try:
            info[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            info[dist] = "not installed"
    jq = shutil.which("jq")
    info["jq"] = subprocess.run([jq, "--version"], capture_output=True, text=True).stdout.strip() if jq else "not found"
    try:
        rev = subprocess.run(["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        if rev:
            info["jobstream rev"] = rev
    except (OSError, subprocess.SubprocessError):
        pass
    return info


# --------------------------------------------------------------------------- running


@dataclass
class Row:
    tool: Tool
    runs: list[Run] = field(default_factory=list)
    skipped: str = ""
    error: str = ""
    ok: Optional[bool] = None
    answer: str = ""
    extra: str = ""  # e.g. the SDK's rejection reasons

    @property
    def median(self) -> Optional[float]:
        return statistics.median(r.wall for r in self.runs) if self.runs else None


def run_task(task: str, tools: list[Tool], path: Path, args: argparse.Namespace) -> list[Row]:
    rows = [Row(t) for t in tools]
    out_dir = Path(args.data_dir) / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    ref: Any = None
    live = []
    for row in rows:  # answer runs (untimed; also the warm-up)
        why = missing(row.tool)
        if why:
            row.skipped = why
            continue
        slug = re.sub(r"[^a-z0-9]+", "-", f"{task}-{row.tool.name}".lower()).strip("-")
        out_path = str(out_dir / f"{slug}.out")
        print(f"  {task}: {row.tool.name} (answer run)", file=sys.stderr, flush=True)
        run = measure(row.tool.argv(str(path)), out_path, args.timeout)
        if run.rc != 0:
            row.error = f"exit {run.rc}: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else ''}"
            continue
        try:
            got = answer_of(task, out_path)
        except (ValueError, KeyError) as exc:
            row.error = f"unreadable answer: {exc}"
            continue
        if ref is None:  # jobstream comes first in every task: it is the reference
            ref = got
        row.ok, row.answer = check(task, ref, got)
        if task == "decode" and got.get("errors"):
            row.extra = "; ".join(f"{k} x{v}" for k, v in got["errors"].items())
        live.append(row)
    for i in range(args.repeat):
        for row in live:
            print(f"  {task}: {row.tool.name} (run {i + 1}/{args.repeat})", file=sys.stderr, flush=True)
            run = measure(row.tool.argv(str(path)), os.devnull, args.timeout)
            if run.rc != 0:
                row.error = f"exit {run.rc} in a timed run: {run.stderr.strip()[-200:]}"
                break
            row.runs.append(run)
    return rows


# --------------------------------------------------------------------------- report


HEADERS = ("task", "tool", "median s", "min-max s", "MB/s", "x jobstream", "CPU s", "max RSS MB", "tree PSS MB",
           "answer")


def table_rows(task: str, rows: list[Row], mb: float) -> list[tuple[str, ...]]:
    base = rows[0].median if rows and rows[0].runs else None
    out = []
    for row in rows:
        name = row.tool.name
        if row.skipped or (row.error and not row.runs):
            why = f"skipped: {row.skipped}" if row.skipped else f"error: {row.error}"
            out.append((task, name, "-", "-", "-", "-", "-", "-", "-", why))
            continue
        walls = [r.wall for r in row.runs]
        med = statistics.median(walls)
        ratio = f"{med / base:.2f}" if base else "-"
        out.append((
            task, name, f"{med:.2f}", f"{min(walls):.2f}-{max(walls):.2f}", f"{mb / med:.0f}", ratio,
            f"{statistics.median(r.cpu for r in row.runs):.2f}",
            f"{max(r.rss_kb for r in row.runs) / 1024:.0f}",
            f"{max(r.tree_kb for r in row.runs) / 1024:.0f}" if any(r.tree_kb for r in row.runs) else "-",
            row.answer + (f"; {row.error}" if row.error else ""),
        ))
    return out


def render(rows: list[tuple[str, ...]], markdown: bool, headers: tuple[str, ...] = HEADERS) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(headers), fmt(tuple("-" * w for w in widths)), *(fmt(r) for r in rows)])


def median_of(results: dict[str, list[Row]], task: str, name: str) -> Optional[float]:
    for row in results.get(task, []):
        if row.tool.name == name and row.runs:
            return row.median
    return None


def targets(results: dict[str, list[Row]], rss: Optional[dict[str, Any]]) -> list[tuple[str, str, str]]:
    out = []

    def verdict(ok: Optional[bool]) -> str:
        return "n/a" if ok is None else ("met" if ok else "MISSED")

    for task, js in (("summary", "jobstream summary"), ("events", "jobstream events")):
        a, b = median_of(results, task, js), median_of(results, task, "duckdb")
        out.append((f"{task}: jobstream wall time <= 0.7x DuckDB's",
                    f"{a / b:.2f}x" if a and b else "not measured", verdict(a / b <= 0.7 if a and b else None)))
    js = median_of(results, "decode", "jobstream read(model='full')")
    sdk = [m for m in (median_of(results, "decode", n) for n in (
        "mistralai: orjson + model_validate", "mistralai: TypeAdapter.validate_json")) if m]
    out.append(("decode: SDK models' wall time >= 5x jobstream's (fastest SDK way)",
                f"{min(sdk) / js:.2f}x" if js and sdk else "not measured",
                verdict(min(sdk) / js >= 5 if js and sdk else None)))
    a, b = median_of(results, "summary", "jobstream summary"), median_of(results, "summary", "jq")
    out.append(("summary: jq wall time >= 10x jobstream's", f"{b / a:.2f}x" if a and b else "not measured",
                verdict(b / a >= 10 if a and b else None)))
    if rss:
        big, small = rss["big_mb"], rss["small_mb"]
        out.append((f"summary peak memory (tree) on {rss['big_size']:.0f} MB <= 300 MB", f"{big:.0f} MB",
                    verdict(big <= 300)))
        out.append((f"summary peak memory (tree) {rss['big_size']:.0f} MB / {rss['small_size']:.0f} MB input <= 1.2x",
                    f"{big / small:.2f}x", verdict(big / small <= 1.2)))
    else:
        out.append(("summary peak RSS flat in input size (<= 300 MB at 1 GB, <= 1.2x)", "run with --scale 1gb", "n/a"))
    return out


# --------------------------------------------------------------------------- main


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--jobs", type=int, default=2000, help="jobs in the standard dataset [2000: ~100k snapshots]")
    ap.add_argument("--seed", type=int, default=1, help="generator seed [1]")
    ap.add_argument("--same-jobs", action="store_true",
                    help="with --scale: grow the input, not the jobs: the standard log re-exported N times")
    ap.add_argument("--scale", type=parse_size, metavar="SIZE|FACTOR",
                    help="run on a bigger dataset: a size (1gb, 500mb) or a factor of --jobs (5); "
                         "also checks summary's peak RSS against the standard dataset")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per tool; the table shows the median [5]")
    ap.add_argument("--data-dir", default=str(HERE / "data"), help="datasets and answer outputs [benchmarks/data]")
    ap.add_argument("--only", action="append", choices=TASKS, metavar="TASK",
                    help=f"run only this task (repeatable): {', '.join(TASKS)}")
    ap.add_argument("--peers", help="comma-separated peers besides jobstream: duckdb,polars,python,jq,sdk,orjson")
    ap.add_argument("--regenerate", action="store_true", help="regenerate the datasets even if cached")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds before a process is killed [1800]")
    ap.add_argument("--markdown", action="store_true", help="print README-ready markdown with machine info")
    ap.add_argument("--json", dest="json_out", metavar="FILE", help="also write every run's numbers to FILE")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")

    data_dir = Path(args.data_dir)
    std = dataset(data_dir, args.jobs, args.seed, args.regenerate)
    path, small = std, None
    if args.scale:
        kind, value = args.scale
        per_job = std.stat().st_size / args.jobs
        if args.same_jobs:
            copies = round(value / std.stat().st_size) if kind == "bytes" else round(value)
            path, small = reexported(data_dir, std, max(copies, 2)), std
        else:
            jobs = round(value / per_job) if kind == "bytes" else round(args.jobs * value)
            path, small = dataset(data_dir, max(jobs, 1), args.seed, args.regenerate), std
    info = dataset_info(path)

    tasks = [t for t in TASKS if not args.only or t in args.only]
    wanted = {p.strip() for p in args.peers.split(",")} if args.peers else None
    results: dict[str, list[Row]] = {}
    for task in tasks:
        tools = [t for t in TOOLS if t.task == task and (t.key == "jobstream" or wanted is None or t.key in wanted)]
        results[task] = run_task(task, tools, path, args)

    rss = None
    if small is not None and "summary" in results and results["summary"][0].runs:
        print("  rss: jobstream summary on the standard dataset", file=sys.stderr, flush=True)
        small_runs = [measure(TOOLS[0].argv(str(small)), os.devnull, args.timeout) for _ in range(args.repeat)]
        big_runs = results["summary"][0].runs
        rss = {
            "small_size": small.stat().st_size / 1e6, "big_size": info["mb"],
            "small_mb": max(max(r.tree_kb, r.rss_kb) for r in small_runs) / 1024,
            "big_mb": max(max(r.tree_kb, r.rss_kb) for r in big_runs) / 1024,
            "small_max_mb": max(r.rss_kb for r in small_runs) / 1024,
            "big_max_mb": max(r.rss_kb for r in big_runs) / 1024,
            "small_s": statistics.median(r.wall for r in small_runs),
        }

    md = args.markdown
    machine = machine_info()
    head = (f"dataset: {info['path']}: {info['jobs']} jobs, {info['lines']} lines, {info['mb']:.0f} MB "
            f"(jobstream generate --jobs {info['jobs']} --seed {info['seed']}"
            + (f", appended {info['copies']} times)" if info.get("copies") else ")"))
    cmd = "python benchmarks/compare.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if md:
        print("| machine | |\n|---|---|")
        for k, v in machine.items():
            print(f"| {k} | {v} |")
        print(f"\n{head}; median of {args.repeat} runs; command: `{cmd.strip()}`\n")
    else:
        print("; ".join(f"{k} {v}" for k, v in machine.items()))
        print(f"{head}; median of {args.repeat} runs; command: {cmd.strip()}\n")
    all_rows = [r for task in tasks for r in table_rows(task, results[task], info["mb"])]
    print(render(all_rows, md))
    notes = [f"{row.tool.name} ({task}): {row.tool.note}" for task in tasks for row in results[task] if row.tool.note]
    notes += [f"{row.tool.name} ({task}) rejections: {row.extra}" for task in tasks for row in results[task]
              if row.extra]
    print("\nx jobstream = tool's median wall time / jobstream's (above 1: jobstream is faster); "
          "CPU s = user+sys of the process and its children;")
    print(f"max RSS = peak RSS of the largest single process ({'GNU time %M' if GNU_TIME else 'ru_maxrss via os.wait4'}); tree PSS = peak of the summed PSS of the process "
          f"and its descendants, sampled every {SAMPLE_EVERY * 1000:.0f} ms (what worker processes use together).")
    print("answer = the tool's answer checked against jobstream's (status counts; change rows, in order; "
          "accepted lines).")
    for n in notes:
        print(("- " if md else "  ") + n)
    if rss:
        print(f"\njobstream summary memory: {rss['small_size']:.0f} MB input ({rss['small_s']:.2f} s): "
              f"tree {rss['small_mb']:.0f} MB, largest process {rss['small_max_mb']:.0f} MB; "
              f"{rss['big_size']:.0f} MB input: tree {rss['big_mb']:.0f} MB, largest process {rss['big_max_mb']:.0f} MB")
    print()
    print(render(targets(results, rss), md, ("target (measured, not asserted)", "measured", "verdict")))

    if args.json_out:
        dump = {
            "machine": machine, "dataset": info, "repeat": args.repeat, "rss": rss,
            "results": {task: [{"tool": r.tool.name, "skipped": r.skipped, "error": r.error, "ok": r.ok,
                                "answer": r.answer, "extra": r.extra,
                                "runs": [{"wall": x.wall, "cpu": x.cpu, "rss_kb": x.rss_kb, "tree_kb": x.tree_kb}
                                         for x in r.runs]}
                               for r in rows] for task, rows in results.items()},
        }
        Path(args.json_out).write_text(json.dumps(dump, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
