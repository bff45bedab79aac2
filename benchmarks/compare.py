"""Compare jobstream with other ways of getting the same answers, each task as a whole process.

    python benchmarks/compare.py                      # both logs (high- and low-repeat), ~176 MB each
    python benchmarks/compare.py --log low --only summary --peers duckdb --repeat 9
    python benchmarks/compare.py --scale 1gb --same-jobs --only summary   # memory flatness
    python benchmarks/compare.py --jobstream-python before=/work/bench-venvs/before/bin/python

Two logs: ``high`` is the polling log (``generate(2000, seed=1)``: most lines repeat an
earlier line byte for byte), ``low`` the same kind of jobs logged on change
(``generate(6600, seed=1, changes_only=True)``: no exact repeats, about the same size).

Every measured process is started with ``subprocess.Popen`` (through GNU ``/usr/bin/time`` when
present) in a clean environment (every ``PYTHON*`` variable removed) and an empty working
directory, and reaped with ``os.wait4``: wall time (perf_counter around start..exit), CPU time
of the process and its children, peak RSS of the largest process (GNU time's ``%M``, else
``ru_maxrss``) and the sampled peak PSS of the whole process tree (worker processes add up).
jobstream runs as users run it: the ``jobstream`` console script of the interpreter's
installation.  Each tool runs once first, untimed, with its output kept in ``DATA_DIR/out/``
and checked against jobstream's answer; then ``--repeat`` timed rounds run every tool in turn
(round-robin, so noise on a shared machine spreads over all tools) with stdout to /dev/null.
The table shows the median.  Peers whose package or program is missing are reported as
skipped (``pip install '.[bench]'`` installs them; jq comes from the OS).
"""

from __future__ import annotations

import argparse
import atexit
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
GENERATOR = HERE.parent / "jobstream" / "generate.py"
PY = sys.executable
TASKS = ("startup", "summary", "events", "decode")
LOGS = ("high", "low")
#: The changes-only log holds about 1/3.3 of the polling log's bytes per job: with 3.3x the
#: jobs the two logs are about the same size (176 MB each at --jobs 2000).
LOW_JOBS_PER_JOB = 3.3

# --------------------------------------------------------------------------- environment

#: Every measured process gets this environment: ours without any PYTHON* variable.
#: PYTHONUNBUFFERED makes every write a system call, PYTHONDONTWRITEBYTECODE makes an
#: install without bytecode compile at every start, PYTHONPATH can shadow the installed
#: package: none of them is what a user's shell has.
STRIPPED = sorted(k for k in os.environ if k.startswith("PYTHON"))
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
_run_dir: str | None = None


def run_dir() -> str:
    """An empty working directory for measured processes: nothing in it can shadow a package."""
    global _run_dir
    if _run_dir is None:
        _run_dir = tempfile.mkdtemp(prefix="compare-cwd-")
        atexit.register(shutil.rmtree, _run_dir, True)
    return _run_dir


# --------------------------------------------------------------------------- jobstream installs

_PROBE = r"""
import importlib.metadata as md, importlib.util, json, os, sys, sysconfig
out = {"python": sys.executable, "python_version": sys.version.split()[0], "scripts": sysconfig.get_path("scripts")}
try:
    import jobstream
except Exception as exc:
    out["error"] = f"cannot import jobstream: {exc}"
else:
    pkg = os.path.dirname(os.path.abspath(jobstream.__file__))
    mods = [os.path.join(d, f) for d, _, files in os.walk(pkg) for f in files if f.endswith(".py")]
    out.update(version=getattr(jobstream, "__version__", "?"), location=pkg, modules=len(mods),
               compiled=sum(os.path.exists(importlib.util.cache_from_source(m)) for m in mods))
    try:
        direct = md.distribution("jobstream").read_text("direct_url.json")
        url = json.loads(direct) if direct else {}
        out["source"] = url.get("url")
        out["editable"] = bool(url.get("dir_info", {}).get("editable"))
    except md.PackageNotFoundError:
        out["editable"] = None
    for dist in ("msgspec", "orjson", "click"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
print(json.dumps(out))
"""


@dataclass
class Install:
    """A jobstream installation to measure: an interpreter and how its CLI is started."""

    name: str  # "" for the interpreter running compare.py; rows of others are jobstream[NAME]
    python: str
    cli: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"jobstream[{self.name}]" if self.name else "jobstream"

    @property
    def problem(self) -> str:
        return str(self.info.get("error", ""))

    @property
    def warning(self) -> str:
        """Why this is not jobstream as users install it (empty if it is)."""
        i = self.info
        if self.problem:
            return ""
        if i.get("editable") is None:
            return "not an installed distribution (a source tree on sys.path)"
        if i.get("editable"):
            return "an editable install"
        if i.get("compiled", 0) < i.get("modules", 0):
            return f"only {i['compiled']} of {i['modules']} modules byte-compiled when probed"
        return ""

    def describe(self) -> str:
        i = self.info
        if self.problem:
            return f"{self.label}: {self.python}: {self.problem}"
        how = (
            ("editable" if i.get("editable") else "not editable") if i.get("editable") is not None else "not installed"
        )
        return (
            f"{self.label} {i['version']} on Python {i['python_version']} (msgspec {i.get('msgspec')}, orjson "
            f"{i.get('orjson')}): {i['location']}, from {i.get('source') or '?'}, {how}, "
            f"{i.get('compiled')}/{i.get('modules')} modules compiled; run as `{' '.join(self.cli)}`"
        )


def probe(name: str, python: str) -> Install:
    """Ask *python* (in the clean environment) where its jobstream is and how it is installed."""
    js = Install(name, python)
    try:
        proc = subprocess.run(
            [python, "-c", _PROBE], capture_output=True, text=True, timeout=120, env=CLEAN_ENV, cwd=run_dir()
        )
        js.info = json.loads(proc.stdout) if proc.returncode == 0 else {"error": proc.stderr.strip()[-300:]}
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        js.info = {"error": f"cannot run {python}: {exc}"}
    script = Path(js.info.get("scripts") or Path(python).parent) / "jobstream"
    js.cli = [str(script)] if os.access(script, os.X_OK) else [python, "-m", "jobstream"]
    return js


def parse_install(text: str) -> tuple[str, str]:
    """``NAME=PATH`` or ``PATH`` (named after its venv: ``/v/before/bin/python`` -> ``before``)."""
    name, sep, path = text.partition("=")
    if not sep:
        path = text
        p = Path(text)
        name = p.parent.parent.name if p.parent.name == "bin" else p.stem
    if not re.fullmatch(r"[\w.+-]+", name):
        raise argparse.ArgumentTypeError(f"--jobstream-python: bad name {name!r} (use NAME=PATH)")
    if shutil.which(path) is None:
        raise argparse.ArgumentTypeError(f"--jobstream-python: {path} is not an executable")
    return name, path


# --------------------------------------------------------------------------- tools


@dataclass
class Tool:
    task: str
    name: str
    key: str  # what --peers matches ("jobstream" and "floor" always run)
    argv: Callable[[str], list[str]]
    needs: tuple[str, ...] = ()  # python modules, or "bin:NAME" for programs
    note: str = ""
    install: Install | None = None  # set on jobstream's own rows


def _py(script: str, *args: str, python: str = PY) -> Callable[[str], list[str]]:
    """``python peers/SCRIPT ARGS...``; the dataset path replaces ``{path}``."""
    return lambda path: [python, str(PEERS / script), *(path if a == "{path}" else a for a in args)]


def _jq(program: str) -> Callable[[str], list[str]]:
    return lambda path: [shutil.which("jq") or "jq", "-n", "-c", "-f", str(PEERS / "jq" / program), path]


def jobstream_tools(js: Install) -> list[Tool]:
    """jobstream's rows for one installation (notes only on the first one's)."""
    cli, tag, py = js.cli, js.label, js.python
    main = not js.name

    def row(task: str, name: str, argv: Callable[[str], list[str]], note: str = "") -> Tool:
        return Tool(task, f"{tag} {name}", "jobstream", argv, note=note if main else "", install=js)

    return [
        row(
            "startup",
            "--version",
            lambda p: [*cli, "--version"],
            "interpreter start-up, imports and click; what every command pays before reading",
        ),
        row(
            "summary",
            "summary",
            lambda p: [*cli, "summary", "-f", "json", p],
            "full summary: counts, rates, percentiles, tokens, cost",
        ),
        row(
            "summary",
            "summary -j 1",
            lambda p: [*cli, "summary", "-j", "1", "-f", "json", p],
            "one process (the default forks one worker per core for inputs >= 32 MB)",
        ),
        row("events", "events", lambda p: [*cli, "events", "-f", "ndjson", p]),
        row("events", "events -j 1", lambda p: [*cli, "events", "-j", "1", "-f", "ndjson", p]),
        row(
            "decode",
            "read(model='full')",
            _py("jobstream_decode.py", "{path}", python=py),
            "one process, every line decoded with the full schema",
        ),
        row(
            "decode",
            "validate_paths",
            _py("jobstream_validate.py", "{path}", python=py),
            "what `jobstream validate` runs: worker processes per core (0.1 also skipped repeated lines)",
        ),
    ]


PEER_TOOLS: list[Tool] = [
    Tool(
        "startup",
        "python -c pass",
        "floor",
        lambda p: [PY, "-c", "pass"],
        (),
        "the interpreter alone (site included): the floor under any Python tool's start-up",
    ),
    # summary
    Tool(
        "summary",
        "duckdb",
        "duckdb",
        _py("duckdb_peer.py", "summary", "{path}"),
        ("duckdb",),
        "the figures of jobstream summary: by_status, success rate, queue/run/total percentiles from each "
        "job's status history (snapshots + status-updated events)",
    ),
    Tool(
        "summary",
        "duckdb status counts only",
        "duckdb",
        _py("duckdb_peer.py", "summary", "{path}", "--counts-only"),
        ("duckdb",),
        "current status per job counted (arg_max), no history: by_status only",
    ),
    Tool("summary", "polars", "polars", _py("polars_peer.py", "summary", "{path}"), ("polars",)),
    Tool("summary", "python json", "python", _py("py_loop.py", "summary", "{path}")),
    Tool("summary", "python orjson", "python", _py("py_loop.py", "summary", "{path}", "--orjson"), ("orjson",)),
    Tool("summary", "jq", "jq", _jq("summary.jq"), ("bin:jq",)),
    # status-change events
    Tool("events", "duckdb", "duckdb", _py("duckdb_peer.py", "events", "{path}"), ("duckdb",)),
    Tool(
        "events",
        "duckdb lag() snapshots only",
        "duckdb",
        _py("duckdb_peer.py", "events", "{path}", "--snapshots-only"),
        ("duckdb",),
        "approximation: lag() over snapshot statuses only, blind to statuses seen only in events",
    ),
    Tool("events", "polars", "polars", _py("polars_peer.py", "events", "{path}"), ("polars",)),
    Tool("events", "python json", "python", _py("py_loop.py", "events", "{path}")),
    Tool("events", "python orjson", "python", _py("py_loop.py", "events", "{path}", "--orjson"), ("orjson",)),
    Tool("events", "jq", "jq", _jq("events.jq"), ("bin:jq",)),
    # full-schema decoding of every line
    Tool(
        "decode",
        "mistralai: orjson + model_validate",
        "sdk",
        _py("sdk_decode.py", "{path}", "--mode", "dict"),
        ("mistralai", "orjson"),
        "ClassifierDetailedJobOut / CompletionDetailedJobOut picked by job_type",
    ),
    Tool(
        "decode",
        "mistralai: TypeAdapter.validate_json",
        "sdk",
        _py("sdk_decode.py", "{path}", "--mode", "json"),
        ("mistralai",),
        "the SDK's GET-job response union, discriminated on job_type",
    ),
    Tool(
        "decode",
        "orjson.loads (no schema)",
        "orjson",
        _py("orjson_decode.py", "{path}"),
        ("orjson",),
        "parse only: dicts, no validation",
    ),
]


def tools_for(task: str, installs: list[Install], wanted: set[str] | None) -> list[Tool]:
    """jobstream's rows first (the first is the reference), then every other installation's, then the peers."""
    own = [t for js in installs for t in jobstream_tools(js) if t.task == task]
    peers = [t for t in PEER_TOOLS if t.task == task and (t.key == "floor" or wanted is None or t.key in wanted)]
    return own + peers


def missing(tool: Tool) -> str | None:
    if tool.install is not None and tool.install.problem:
        return tool.install.problem
    for need in tool.needs:
        if need.startswith("bin:"):
            if shutil.which(need[4:]) is None:
                return f"{need[4:]} not found on PATH"
        elif importlib.util.find_spec(need) is None:
            return f"{need} not installed (pip install '.[bench]')"
    return None


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    wall: float
    cpu: float
    rss_kb: int  # the largest single process (GNU time %M, else ru_maxrss)
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


def _gnu_time() -> str | None:
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
    """Run *argv* once in the clean environment: wall clock, CPU (with reaped children), peak
    RSS of the largest process and the sampled peak of the whole tree's PSS (worker processes
    run at the same time, so their memory adds up)."""
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
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=CLEAN_ENV, cwd=run_dir())
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


def import_times(python: str, runs: int, timeout: float) -> dict[str, Any]:
    """``python -X importtime -c 'import jobstream.cli'``, *runs* times in the clean environment:
    the median self and cumulative microseconds of each module it imports beyond what the bare
    interpreter imports (``-c pass``), and their total."""

    def once(code: str) -> list[tuple[int, str, int, int]]:
        proc = subprocess.run(
            [python, "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            env=CLEAN_ENV,
            cwd=run_dir(),
            timeout=timeout,
        )
        rows = []
        for line in proc.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
            if m:
                rows.append((len(m.group(3)) // 2, m.group(4), int(m.group(1)), int(m.group(2))))
        return rows

    floor = {name for _, name, _, _ in once("pass")}
    per: dict[str, list[tuple[int, int]]] = {}
    totals = []
    first: list[tuple[int, str, int, int]] = []
    for _ in range(runs):
        rows = [r for r in once("import jobstream.cli") if r[1] not in floor]
        first = first or rows
        totals.append(sum(cum for depth, _, _, cum in rows if depth == 0))
        for _, name, own, cum in rows:
            per.setdefault(name, []).append((own, cum))
    # -X importtime prints a module after its imports (post-order); list parents first
    pending: dict[int, list[Any]] = {}
    for depth, name, _, _ in first:
        pending.setdefault(depth, []).append((depth, name, pending.pop(depth + 1, [])))
    order: list[tuple[int, str]] = []

    def walk(nodes: list[Any]) -> None:
        for depth, name, children in nodes:
            order.append((depth, name))
            walk(children)

    walk(pending.get(0, []))
    modules = [
        {
            "module": name,
            "depth": depth,
            "self_us": statistics.median(x[0] for x in per[name]),
            "cumulative_us": statistics.median(x[1] for x in per[name]),
        }
        for depth, name in order
    ]
    return {"runs": runs, "total_us": statistics.median(totals) if totals else 0, "modules": modules}


# --------------------------------------------------------------------------- answers


def answer_of(task: str, out_path: str) -> Any:
    """The comparable answer in a tool's output: version text, summary figures, change rows, or line counts."""
    data = Path(out_path).read_bytes()
    if task == "startup":
        return data.decode("utf-8", "replace").strip()
    if task == "events":
        return [tuple(json.loads(line).values()) for line in data.splitlines() if line.strip()]
    return json.loads(data)


_DURATIONS = ("queue_wait", "run_time", "total")
#: The summary figures compared, when a tool gives them.  ``snapshots`` is not one: jobstream
#: 0.1.0 up to 5cdc5f0 counted distinct (job, modified_at, status) observations under that
#: name, later versions count job objects read and call the distinct ones ``observations``;
#: the distinct count is compared under ``observations`` (see :func:`_summary_figures`).
SUMMARY_FIGURES = (
    "jobs",
    "lines",
    "rejected",
    "observations",
    "by_status",
    "by_job_type",
    "by_model",
    "finished",
    "succeeded",
    "success_rate",
    "queue_wait",
    "run_time",
    "total",
    "trained_tokens",
    "cost",
)


def _summary_figures(out: dict[str, Any]) -> dict[str, Any]:
    """The comparable figures of a summary answer (a jobstream version's, or a peer's)."""
    figures = {k: out[k] for k in SUMMARY_FIGURES if k in out}
    if "observations" not in out and "snapshots" in out and "lines" in out:  # jobstream up to 5cdc5f0
        figures["observations"] = out["snapshots"]
    return figures


def _figures(keys: list[str], ref: dict[str, Any]) -> str:
    """What a summary answer was compared on, briefly."""
    if set(keys) >= set(ref):
        return "every figure"
    if keys == ["by_status"]:
        return "by_status only"
    named = [k for k in keys if k not in _DURATIONS and k not in ("jobs", "finished", "succeeded")]
    if any(k in keys for k in _DURATIONS):
        named.append("/".join(k for k in _DURATIONS if k in keys) + " p50/p90/max")
    return ", ".join(named)


def check(task: str, ref: Any, got: Any) -> tuple[bool, str]:
    if task == "startup":
        return True, f"ok ({got})" if got else "ok (no output)"
    if ref is None:
        return False, "not checked: jobstream gave no answer"
    if task == "summary":
        if not isinstance(got, dict) or "by_status" not in got:
            return False, "MISMATCH no by_status in the answer"
        mine, theirs = _summary_figures(got), _summary_figures(ref)
        keys = [k for k in mine if k in theirs]
        diff = [k for k in keys if mine[k] != theirs[k]]
        if not diff:
            return True, f"ok ({sum(ref['by_status'].values())} jobs): {_figures(keys, theirs)}"
        return False, "MISMATCH " + "; ".join(f"{k} {mine[k]} vs {theirs[k]}" for k in diff)[:400]
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


def load_generator() -> ModuleType:
    """This checkout's ``jobstream.generate``, loaded from the checkout under another package
    name (it needs only msgspec and orjson): the datasets do not depend on the jobstream being
    measured, which may be an older one installed for this interpreter."""
    if not GENERATOR.exists():
        import jobstream.generate

        return jobstream.generate
    name = "_compare_jobstream"
    if name not in sys.modules:  # the checkout's package root (lazy: it imports nothing itself)
        spec = importlib.util.spec_from_file_location(
            name, GENERATOR.parent / "__init__.py", submodule_search_locations=[str(GENERATOR.parent)]
        )
        assert spec is not None and spec.loader is not None
        root = importlib.util.module_from_spec(spec)
        sys.modules[name] = root
        spec.loader.exec_module(root)
    return importlib.import_module(f"{name}.generate")


def _generator_digest() -> str:
    src = GENERATOR.read_bytes() if GENERATOR.exists() else Path(load_generator().__file__ or "").read_bytes()
    return hashlib.sha256(src).hexdigest()[:16]


def _distinct_lines(path: Path) -> int:
    seen = set()
    with open(path, "rb") as fh:
        for line in fh:
            seen.add(hashlib.blake2b(line, digest_size=16).digest())
    return len(seen)


def dataset(data_dir: Path, jobs: int, seed: int, changes_only: bool, regenerate: bool) -> Path:
    """``write_log(jobs, seed, changes_only=...)`` output, cached; regenerated when the generator's source changed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"jobs-{jobs}-s{seed}{'-changes' if changes_only else ''}.ndjson"
    meta_path = path.with_suffix(".meta.json")
    digest = _generator_digest()
    if path.exists() and meta_path.exists() and not regenerate:
        meta = json.loads(meta_path.read_text())
        if meta.get("generator") == digest and meta.get("bytes") == path.stat().st_size and "distinct" in meta:
            return path
    print(
        f"generating {path} ({jobs} jobs, seed {seed}{', changes only' if changes_only else ''}) ...",
        file=sys.stderr,
        flush=True,
    )
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        lines = load_generator().write_log(fh, jobs, seed, changes_only=changes_only)
    os.replace(tmp, path)
    meta_path.write_text(
        json.dumps(
            {
                "jobs": jobs,
                "seed": seed,
                "changes_only": changes_only,
                "lines": lines,
                "bytes": path.stat().st_size,
                "distinct": _distinct_lines(path),
                "generator": digest,
            }
        )
    )
    return path


def reexported(data_dir: Path, std: Path, copies: int) -> Path:
    """The standard log appended *copies* times: the same jobs, as a nightly full export
    appended to one file gives them (memory should follow jobs, not bytes)."""
    path = data_dir / f"{std.stem}-x{copies}.ndjson"
    meta_path = path.with_suffix(".meta.json")
    std_meta = json.loads(std.with_suffix(".meta.json").read_text())
    if not (
        path.exists()
        and meta_path.exists()
        and path.stat().st_size == std.stat().st_size * copies
        and json.loads(meta_path.read_text()).get("generator") == std_meta["generator"]
    ):
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
    meta["repeats"] = 1 - meta["distinct"] / meta["lines"] if meta["lines"] else 0.0
    return meta


@dataclass
class Log:
    kind: str  # "high" or "low"
    path: Path
    small: Path | None  # with --scale: the standard-size log of the same kind
    info: dict[str, Any]

    def describe(self) -> str:
        i = self.info
        call = f"generate(jobs={i['jobs']}, seed={i['seed']}{', changes_only=True' if i.get('changes_only') else ''})"
        copies = f", appended {i['copies']} times" if i.get("copies") else ""
        small = f"; memory compared with {self.small.name}" if self.small else ""
        return (
            f"{self.kind}-repeat log: {i['path']}: {i['jobs']} jobs, {i['lines']:,} lines, {i['mb']:.0f} MB, "
            f"{i['repeats']:.0%} of lines exact repeats of an earlier line ({call}{copies}){small}"
        )


def resolve_log(kind: str, args: argparse.Namespace) -> Log:
    """The dataset of *kind* at the standard size, or scaled with --scale (and --same-jobs)."""
    data_dir = Path(args.data_dir)
    changes_only = kind == "low"
    jobs = args.jobs if not changes_only else (args.low_jobs or round(args.jobs * LOW_JOBS_PER_JOB))
    std = dataset(data_dir, jobs, args.seed, changes_only, args.regenerate)
    path, small = std, None
    if args.scale:
        unit, value = args.scale
        size = std.stat().st_size
        if args.same_jobs:
            copies = round(value / size) if unit == "bytes" else round(value)
            path, small = reexported(data_dir, std, max(copies, 2)), std
        else:
            n = round(value / (size / jobs)) if unit == "bytes" else round(jobs * value)
            path, small = dataset(data_dir, max(n, 1), args.seed, changes_only, args.regenerate), std
    return Log(kind, path, small, dataset_info(path))


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
        "Python (compare.py, peers)": f"{platform.python_version()} ({PY})",
    }
    for dist in ("msgspec", "orjson", "duckdb", "polars", "mistralai", "pydantic"):
        try:
            info[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            info[dist] = "not installed"
    jq = shutil.which("jq")
    info["jq"] = subprocess.run([jq, "--version"], capture_output=True, text=True).stdout.strip() if jq else "not found"
    try:
        rev = subprocess.run(
            ["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        if rev:
            info["compare.py rev"] = rev  # the harness and generator, not necessarily the jobstream measured
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


# --------------------------------------------------------------------------- running


@dataclass
class Row:
    tool: Tool
    log: str  # "high", "low", or "-" for start-up
    runs: list[Run] = field(default_factory=list)
    skipped: str = ""
    error: str = ""
    ok: bool | None = None
    answer: str = ""
    extra: str = ""  # e.g. the SDK's rejection reasons

    @property
    def median(self) -> float | None:
        return statistics.median(r.wall for r in self.runs) if self.runs else None


def run_task(task: str, tools: list[Tool], log: Log | None, repeat: int, args: argparse.Namespace) -> list[Row]:
    kind = log.kind if log else "-"
    path = str(log.path) if log else ""
    rows = [Row(t, kind) for t in tools]
    out_dir = Path(args.data_dir) / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    ref: Any = None
    live = []
    for i, row in enumerate(rows):  # answer runs (untimed; also the warm-up)
        why = missing(row.tool)
        if why:
            row.skipped = why
            continue
        slug = re.sub(r"[^a-z0-9]+", "-", f"{kind}-{task}-{row.tool.name}".lower()).strip("-")
        out_path = str(out_dir / f"{slug}.out")
        print(f"  {kind} {task}: {row.tool.name} (answer run)", file=sys.stderr, flush=True)
        run = measure(row.tool.argv(path), out_path, args.timeout)
        if run.rc != 0:
            row.error = f"exit {run.rc}: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else ''}"
            continue
        try:
            got = answer_of(task, out_path)
        except (ValueError, KeyError) as exc:
            row.error = f"unreadable answer: {exc}"
            continue
        if i == 0:  # jobstream comes first in every task: it is the reference
            ref = got
        row.ok, row.answer = check(task, ref, got)
        if task == "decode" and got.get("errors"):
            row.extra = "; ".join(f"{k} x{v}" for k, v in got["errors"].items())
        live.append(row)
    for i in range(repeat):
        for row in live:
            if row.error:
                continue
            print(f"  {kind} {task}: {row.tool.name} (run {i + 1}/{repeat})", file=sys.stderr, flush=True)
            run = measure(row.tool.argv(path), os.devnull, args.timeout)
            if run.rc != 0:
                row.error = f"exit {run.rc} in a timed run: {run.stderr.strip()[-200:]}"
                continue
            row.runs.append(run)
    return rows


def memory(log: Log, rows: list[Row], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each jobstream summary row's peak memory on the scaled log (its timed runs) and on the
    standard-size log of the same kind (as many runs again)."""
    out = []
    for row in rows:
        if row.tool.install is None or not row.runs:
            continue
        assert log.small is not None
        print(f"  {log.kind} memory: {row.tool.name} on {log.small.name}", file=sys.stderr, flush=True)
        small = [measure(row.tool.argv(str(log.small)), os.devnull, args.timeout) for _ in range(args.repeat)]
        out.append(
            {
                "tool": row.tool.name,
                "small_size": log.small.stat().st_size / 1e6,
                "big_size": log.info["mb"],
                "small_mb": max(max(r.tree_kb, r.rss_kb) for r in small) / 1024,
                "big_mb": max(max(r.tree_kb, r.rss_kb) for r in row.runs) / 1024,
                "small_max_mb": max(r.rss_kb for r in small) / 1024,
                "big_max_mb": max(r.rss_kb for r in row.runs) / 1024,
                "small_s": statistics.median(r.wall for r in small),
                "big_s": row.median,
            }
        )
    return out


# --------------------------------------------------------------------------- report


HEADERS = (
    "log",
    "task",
    "tool",
    "median s",
    "min-max s",
    "MB/s",
    "x jobstream",
    "CPU s",
    "max RSS MB",
    "tree PSS MB",
    "answer",
)


def _s(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds < 1 else f"{seconds:.2f}"


def table_rows(task: str, rows: list[Row], mb: float | None) -> list[tuple[str, ...]]:
    base = rows[0].median if rows and rows[0].runs else None
    out: list[tuple[str, ...]] = []
    for row in rows:
        name = row.tool.name
        if row.skipped or (row.error and not row.runs):
            why = f"skipped: {row.skipped}" if row.skipped else f"error: {row.error}"
            out.append((row.log, task, name, "-", "-", "-", "-", "-", "-", "-", why))
            continue
        walls = [r.wall for r in row.runs]
        med = statistics.median(walls)
        out.append(
            (
                row.log,
                task,
                name,
                _s(med),
                f"{_s(min(walls))}-{_s(max(walls))}",
                f"{mb / med:.0f}" if mb else "-",
                f"{med / base:.2f}" if base else "-",
                f"{statistics.median(r.cpu for r in row.runs):.2f}",
                f"{max(r.rss_kb for r in row.runs) / 1024:.0f}",
                f"{max(r.tree_kb for r in row.runs) / 1024:.0f}" if any(r.tree_kb for r in row.runs) else "-",
                row.answer + (f"; {row.error}" if row.error else ""),
            )
        )
    return out


def render(rows: Sequence[tuple[str, ...]], markdown: bool, headers: tuple[str, ...] = HEADERS) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([fmt(headers), fmt(tuple("-" * w for w in widths)), *(fmt(r) for r in rows)])


def median_of(rows: list[Row], name: str, checked: bool = True) -> float | None:
    """The median of the row *name*; None if it did not run or (when *checked*) gave a wrong answer."""
    for row in rows:
        if row.tool.name == name and row.runs and (row.ok or not checked):
            return row.median
    return None


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def targets(kind: str, results: dict[str, list[Row]], mem: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """The targets on one log, as ratios of medians measured in this run (nothing is asserted)."""
    out = []

    def ratio(label: str, a: float | None, b: float | None, limit: float, at_most: bool = True) -> None:
        r = a / b if a and b else None
        out.append(
            (
                f"[{kind}] {label}",
                f"{r:.2f}x" if r else "not measured",
                _verdict(None if r is None else (r <= limit if at_most else r >= limit)),
            )
        )

    summary, events, decode = results.get("summary", []), results.get("events", []), results.get("decode", [])
    if summary:
        js = median_of(summary, "jobstream summary")
        ratio("summary: jobstream wall time <= 0.7x DuckDB's (same figures)", js, median_of(summary, "duckdb"), 0.7)
        ratio(
            "summary: jobstream wall time <= 1.0x DuckDB's status counts only",
            js,
            median_of(summary, "duckdb status counts only"),
            1.0,
        )
    if events:
        ratio(
            "events: jobstream wall time <= 0.5x DuckDB's",
            median_of(events, "jobstream events"),
            median_of(events, "duckdb"),
            0.5,
        )
    if decode:
        # the SDK's models reject lines jobstream reads: their answer never matches (listed in the notes)
        sdk = [
            m
            for m in (
                median_of(decode, n, checked=False)
                for n in ("mistralai: orjson + model_validate", "mistralai: TypeAdapter.validate_json")
            )
            if m
        ]
        ratio(
            "decode: SDK models' wall time >= 5x jobstream's (fastest SDK way)",
            min(sdk) if sdk else None,
            median_of(decode, "jobstream read(model='full')"),
            5,
            at_most=False,
        )
    for m in mem:
        if m["tool"] != "jobstream summary":
            continue
        big, small = m["big_mb"], m["small_mb"]
        out.append(
            (
                f"[{kind}] summary peak memory (tree) on {m['big_size']:.0f} MB <= 300 MB",
                f"{big:.0f} MB",
                _verdict(big <= 300),
            )
        )
        out.append(
            (
                f"[{kind}] summary peak memory (tree) {m['big_size']:.0f} MB / {m['small_size']:.0f} MB input <= 1.2x",
                f"{big / small:.2f}x",
                _verdict(big / small <= 1.2),
            )
        )
    return out


def startup_targets(rows: list[Row], installs: list[Install]) -> list[tuple[str, str, str]]:
    out = []
    now = median_of(rows, "jobstream --version")
    for js in installs[1:]:
        then = median_of(rows, f"{js.label} --version")
        r = now / then if now and then else None
        out.append(
            (
                f"start-up: jobstream --version <= 0.5x {js.label}'s",
                f"{r:.2f}x" if r else "not measured",
                _verdict(None if r is None else r <= 0.5),
            )
        )
    return out


def importtime_rows(imp: dict[str, Any], top: int = 15) -> list[tuple[str, str, str]]:
    """The *top* modules by cumulative time, as a tree (parents first; ``. `` per level)."""
    costly = sorted(imp["modules"], key=lambda m: -m["cumulative_us"])[:top]
    keep = {m["module"] for m in costly}
    return [
        (". " * m["depth"] + m["module"], f"{m['self_us'] / 1000:.1f}", f"{m['cumulative_us'] / 1000:.1f}")
        for m in imp["modules"]
        if m["module"] in keep
    ]


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc.split("\n\n", 1)[1],
    )
    ap.add_argument(
        "--log",
        choices=("high", "low", "both"),
        default="both",
        help="high: the polling log (most lines exact repeats); low: the changes-only log (none); both [default]",
    )
    ap.add_argument("--jobs", type=int, default=2000, help="jobs in the high-repeat log [2000: ~100k lines, 176 MB]")
    ap.add_argument(
        "--low-jobs",
        type=int,
        metavar="N",
        help=f"jobs in the low-repeat log [{LOW_JOBS_PER_JOB}x --jobs (6600): about the high log's size]",
    )
    ap.add_argument("--seed", type=int, default=1, help="generator seed [1]")
    ap.add_argument(
        "--same-jobs",
        action="store_true",
        help="with --scale: grow the input, not the jobs: the standard log re-exported N times",
    )
    ap.add_argument(
        "--scale",
        type=parse_size,
        metavar="SIZE|FACTOR",
        help="run on bigger logs: a size (1gb, 500mb) or a factor of the jobs (5); "
        "also compares jobstream summary's peak memory with the standard-size log",
    )
    ap.add_argument(
        "--jobstream-python",
        action="append",
        default=[],
        type=parse_install,
        metavar="[NAME=]PATH",
        help="also measure the jobstream installed for this interpreter, in rows named "
        "jobstream[NAME] (repeatable; NAME defaults to the venv's directory name)",
    )
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per tool; the table shows the median [5]")
    ap.add_argument("--startup-repeat", type=int, default=21, help="timed runs per start-up row [21]")
    ap.add_argument("--data-dir", default=str(HERE / "data"), help="datasets and answer outputs [benchmarks/data]")
    ap.add_argument(
        "--only",
        action="append",
        choices=TASKS,
        metavar="TASK",
        help=f"run only this task (repeatable): {', '.join(TASKS)}",
    )
    ap.add_argument("--peers", help="comma-separated peers besides jobstream: duckdb,polars,python,jq,sdk,orjson")
    ap.add_argument("--regenerate", action="store_true", help="regenerate the datasets even if cached")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds before a process is killed [1800]")
    ap.add_argument("--markdown", action="store_true", help="print README-ready markdown with machine info")
    ap.add_argument("--json", dest="json_out", metavar="FILE", help="also write every run's numbers to FILE")
    args = ap.parse_args(argv)
    if args.repeat < 1 or args.startup_repeat < 1:
        ap.error("--repeat and --startup-repeat must be >= 1")
    if args.same_jobs and not args.scale:
        ap.error("--same-jobs needs --scale")
    names = [n for n, _ in args.jobstream_python]
    if len(set(names)) != len(names) or "" in names:
        ap.error("--jobstream-python: give each interpreter its own NAME (NAME=PATH)")
    args.data_dir = str(Path(args.data_dir).resolve())  # measured processes run elsewhere

    load_start = _load()
    installs = [probe("", PY)] + [probe(name, path) for name, path in args.jobstream_python]
    for js in installs:
        if js.problem or js.warning:
            print(f"warning: {js.label}: {js.problem or js.warning}", file=sys.stderr, flush=True)
    tasks = [t for t in TASKS if not args.only or t in args.only]
    kinds = LOGS if args.log == "both" else (args.log,)
    logs = [resolve_log(kind, args) for kind in kinds] if any(t != "startup" for t in tasks) else []
    wanted = {p.strip() for p in args.peers.split(",")} if args.peers else None

    startup: list[Row] = []
    imports: dict[str, dict[str, Any]] = {}
    if "startup" in tasks:
        startup = run_task("startup", tools_for("startup", installs, wanted), None, args.startup_repeat, args)
        for js in installs:
            if not js.problem:
                print(f"  import times: {js.label}", file=sys.stderr, flush=True)
                imports[js.label] = import_times(js.python, args.repeat, args.timeout)
    results: dict[str, dict[str, list[Row]]] = {}
    mem: dict[str, list[dict[str, Any]]] = {}
    for log in logs:
        results[log.kind] = {}
        for task in tasks:
            if task != "startup":
                results[log.kind][task] = run_task(task, tools_for(task, installs, wanted), log, args.repeat, args)
        if log.small is not None and "summary" in results[log.kind]:
            mem[log.kind] = memory(log, results[log.kind]["summary"], args)
    load_end = _load()

    md = args.markdown
    item = "- " if md else "  "
    machine = machine_info()
    machine["load average (1/5/15 min) at start, end"] = f"{load_start}; {load_end}"
    cmd = "python benchmarks/compare.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if md:
        print("| machine | |\n|---|---|")
        for k, v in machine.items():
            print(f"| {k} | {v} |")
        print(
            f"\ncommand: `{cmd.strip()}`; median of {args.repeat} timed runs "
            f"({args.startup_repeat} for start-up) after one untimed answer run\n"
        )
    else:
        print("; ".join(f"{k} {v}" for k, v in machine.items()))
        print(f"command: {cmd.strip()}; median of {args.repeat} timed runs ({args.startup_repeat} for start-up)\n")
    print(
        f"Measured processes run with every PYTHON* variable removed from the environment "
        f"({', '.join(STRIPPED) or 'none was set'}), in an empty working directory, stdin from /dev/null."
    )
    for js in installs:
        print(item + js.describe() + (f" -- WARNING: {js.problem or js.warning}" if js.problem or js.warning else ""))
    for log in logs:
        print(item + log.describe())
    print()

    all_rows = table_rows("startup", startup, None) if startup else []
    for log in logs:
        for task, rows in results[log.kind].items():
            all_rows += table_rows(task, rows, log.info["mb"])
    print(render(all_rows, md))
    every = startup + [r for per in results.values() for rows in per.values() for r in rows]
    notes = list(dict.fromkeys(f"{r.tool.name} ({r.tool.task}): {r.tool.note}" for r in every if r.tool.note))
    notes += list(
        dict.fromkeys(f"{r.tool.name} ({r.log} {r.tool.task}) rejections: {r.extra}" for r in every if r.extra)
    )
    print(
        "\nx jobstream = tool's median wall time / jobstream's on the same log and task (above 1: jobstream is "
        "faster); CPU s = user+sys of the process and its children;"
    )
    print(
        "max RSS = peak RSS of the largest single process "
        f"({'GNU time %M' if GNU_TIME else 'ru_maxrss via os.wait4'}); "
        f"tree PSS = peak of the summed PSS of the process and its descendants, sampled every "
        f"{SAMPLE_EVERY * 1000:.0f} ms (what worker processes use together); both the max over the timed runs."
    )
    print(
        "answer = the tool's answer checked against jobstream's (the summary figures the tool gives; change rows, "
        "in order; accepted lines)."
    )
    for n in notes:
        print(item + n)
    if mem:
        print("\nPeak memory, the max over the timed runs on each input:")
    for kind, ms in mem.items():
        for m in ms:
            print(
                f"{item}{m['tool']} ({kind}): {m['small_size']:.0f} MB input ({m['small_s']:.2f} s): tree "
                f"{m['small_mb']:.0f} MB, largest process {m['small_max_mb']:.0f} MB; {m['big_size']:.0f} MB input "
                f"({m['big_s']:.2f} s): tree {m['big_mb']:.0f} MB, largest process {m['big_max_mb']:.0f} MB"
            )
    goals = startup_targets(startup, installs) + [
        t for log in logs for t in targets(log.kind, results[log.kind], mem.get(log.kind, []))
    ]
    if goals:
        print()
        print(render(goals, md, ("target (measured, not asserted)", "measured", "verdict")))
    for label, imp in imports.items():
        print(
            f"\n`python -X importtime -c 'import jobstream.cli'` for {label}: {imp['total_us'] / 1000:.1f} ms in "
            f"imports beyond the bare interpreter's (median of {imp['runs']} runs); the costliest:\n"
        )
        print(render(importtime_rows(imp), md, ("module", "self ms", "cumulative ms")))

    if args.json_out:

        def rows_json(rows: list[Row]) -> list[dict[str, Any]]:
            return [
                {
                    "tool": r.tool.name,
                    "skipped": r.skipped,
                    "error": r.error,
                    "ok": r.ok,
                    "answer": r.answer,
                    "extra": r.extra,
                    "median": r.median,
                    "runs": [{"wall": x.wall, "cpu": x.cpu, "rss_kb": x.rss_kb, "tree_kb": x.tree_kb} for x in r.runs],
                }
                for r in rows
            ]

        dump = {
            "command": cmd.strip(),
            "machine": machine,
            "repeat": args.repeat,
            "startup_repeat": args.startup_repeat,
            "environment": {"stripped": STRIPPED, "cwd": "empty temporary directory"},
            "installs": [{"label": js.label, "python": js.python, "cli": js.cli, **js.info} for js in installs],
            "logs": {log.kind: log.info for log in logs},
            "startup": rows_json(startup),
            "importtime": imports,
            "results": {kind: {task: rows_json(rows) for task, rows in per.items()} for kind, per in results.items()},
            "memory": mem,
            "targets": [{"target": t, "measured": m, "verdict": v} for t, m, v in goals],
        }
        Path(args.json_out).write_text(json.dumps(dump, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
