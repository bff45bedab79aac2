"""How fast `jobstream tail` reports what a writer appends, and what it costs while idle.

A standalone script (not a test, asserts nothing): it starts ``jobstream tail -f ndjson`` on
a file in a temp dir, then, as a separate writer,

1. leaves it idle and reads its CPU time from ``/proc/<pid>/stat`` (idle cost);
2. appends one snapshot of a new job at a time, a few ms apart, and times each line from
   its ``write()`` to its event on tail's stdout (latency: median, p90, p99, max);
3. does the same with gaps of 0.5-1.5 s (latency from idle: inotify wake-up or backoff);
4. floods the file with generated snapshots as fast as it can write, then one sentinel
   line, and times until the sentinel's event (snapshots processed per second, live).

Lines are real ones from ``jobstream.generate`` (about 1.7 kB each, with events and
checkpoints), so decoding costs what it costs on a poller's log.

    python benchmarks/tail_latency.py                 # inotify (the default)
    python benchmarks/tail_latency.py --poll          # stat polling with backoff
    python benchmarks/tail_latency.py --events 100 --flood 50000 --idle 2   # quicker
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import msgspec
import orjson

from jobstream import __version__
from jobstream.generate import generate


def cpu_seconds(pid: int) -> float:
    """utime + stime of *pid*, in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ns(pid: int) -> int:
    """Time *pid*'s threads spent on a CPU, in ns (``/proc/<pid>/schedstat``: finer than ticks)."""
    with open(f"/proc/{pid}/schedstat") as fh:
        return int(fh.read().split()[0])


def wakeups(pid: int) -> int:
    """Voluntary context switches: how often the process went to sleep and woke up."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    return 0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], p: float) -> float:
    vs = sorted(values)
    return vs[min(len(vs) - 1, max(0, int(round(p / 100 * len(vs))) - 1))]


class Arrivals(threading.Thread):
    """Reads tail's stdout; notes when each job's first event arrived."""

    def __init__(self, stream: Any) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.first: dict[str, float] = {}
        self.count = 0
        self.cond = threading.Condition()

    def run(self) -> None:
        for line in self.stream:
            now = time.perf_counter()
            job_id = orjson.loads(line)["job_id"]
            with self.cond:
                self.count += 1
                self.first.setdefault(job_id, now)
                self.cond.notify_all()

    def wait_for(self, job_id: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while job_id not in self.first:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.first[job_id]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=500, help="latency samples (default 500)")
    ap.add_argument("--gap-ms", type=float, nargs=2, default=(5, 50), help="gap between them, min max (default 5 50)")
    ap.add_argument("--sparse", type=int, default=20, help="latency samples after 0.5-1.5 s idle (default 20)")
    ap.add_argument("--flood", type=int, default=200_000, help="snapshots in the flood (default 200000)")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU measurement (default 5)")
    ap.add_argument("--poll", action="store_true", help="run tail with --poll (stat polling, no inotify)")
    args = ap.parse_args()

    rng = random.Random(1)
    template = orjson.loads(next(iter(generate(1, seed=1))))

    def line(job_id: str) -> bytes:
        obj = dict(template, id=job_id, status="QUEUED")
        return orjson.dumps(obj) + b"\n"

    print(
        f"jobstream {__version__}, Python {platform.python_version()}, msgspec {msgspec.__version__}, "
        f"{platform.machine()} {os.cpu_count()} cpu(s), {platform.platform()}"
    )
    print(f"mode: {'stat polling (--poll)' if args.poll else 'inotify'}")

    with tempfile.TemporaryDirectory(prefix="tail-bench-") as tmp:
        path = os.path.join(tmp, "live.ndjson")
        open(path, "wb").close()
        cmd = [sys.executable, "-m", "jobstream", "tail", "-f", "ndjson", "-v", path] + (
            ["--poll"] if args.poll else []
        )
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert proc.stderr is not None and proc.stdout is not None
        ready = proc.stderr.readline().decode()
        assert "following" in ready, ready
        arrivals = Arrivals(proc.stdout)
        arrivals.start()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)

        # 1. idle
        time.sleep(0.5)
        c0, n0, w0, t0 = cpu_seconds(proc.pid), cpu_ns(proc.pid), wakeups(proc.pid), time.monotonic()
        time.sleep(args.idle)
        c1, n1, w1, t1 = cpu_seconds(proc.pid), cpu_ns(proc.pid), wakeups(proc.pid), time.monotonic()
        print(
            f"idle over {t1 - t0:.1f} s: CPU {(n1 - n0) / 1e9 / (t1 - t0) * 100:.4f} % "
            f"({(n1 - n0) / 1e6:.2f} ms on CPU by schedstat, {(c1 - c0) * 1000:.0f} ms by /proc/<pid>/stat ticks), "
            f"{(w1 - w0) / (t1 - t0):.1f} wake-ups/s"
        )

        # 2. and 3. latency
        def measure(n: int, gap: tuple[float, float], tag: str) -> list[float]:
            lat = []
            for i in range(n):
                job_id = f"{tag}-{i}"
                data = line(job_id)
                sent = time.perf_counter()
                os.write(fd, data)
                got = arrivals.wait_for(job_id, 5.0)
                if got is None:
                    print(f"  {job_id}: no event within 5 s")
                    continue
                lat.append((got - sent) * 1000)
                time.sleep(rng.uniform(*gap))
            return lat

        lat = measure(args.events, (args.gap_ms[0] / 1000, args.gap_ms[1] / 1000), "lat")
        print(
            f"latency write->event, {len(lat)} events {args.gap_ms[0]:g}-{args.gap_ms[1]:g} ms apart: "
            f"median {statistics.median(lat):.2f} ms, p90 {pct(lat, 90):.2f} ms, "
            f"p99 {pct(lat, 99):.2f} ms, max {max(lat):.2f} ms"
        )
        if args.sparse:
            lat = measure(args.sparse, (0.5, 1.5), "sparse")
            print(
                f"latency from idle, {len(lat)} events 0.5-1.5 s apart: median {statistics.median(lat):.2f} ms, "
                f"p90 {pct(lat, 90):.2f} ms, max {max(lat):.2f} ms"
            )

        # 4. flood
        lines: list[bytes] = []
        jobs = max(1, args.flood // 50)
        while len(lines) < args.flood:
            lines = list(generate(jobs, seed=7))
            jobs = int(jobs * 1.2) + 1
        blob = b"\n".join(lines[: args.flood]) + b"\n"  # generate() yields lines without their newline
        events_before = arrivals.count
        cpu0 = cpu_seconds(proc.pid)
        start = time.perf_counter()
        view = memoryview(blob)
        for off in range(0, len(blob), 1 << 20):
            os.write(fd, view[off : off + (1 << 20)])
        written = time.perf_counter()
        os.write(fd, line("flood-end"))
        done = arrivals.wait_for("flood-end", 600)
        cpu1 = cpu_seconds(proc.pid)
        if done is None:
            print("flood: sentinel not seen within 600 s")
        else:
            secs = done - start
            print(
                f"flood: {args.flood + 1} snapshots ({len(blob) / 1e6:.0f} MB) written in {written - start:.2f} s, "
                f"all processed live in {secs:.2f} s: {(args.flood + 1) / secs:,.0f} snapshots/s "
                f"({len(blob) / 1e6 / secs:.0f} MB/s); tail used {cpu1 - cpu0:.2f} s CPU "
                f"({(args.flood + 1) / (cpu1 - cpu0):,.0f} snapshots per CPU-second); "
                f"{arrivals.count - events_before} events printed; RSS {rss_mb(proc.pid):.0f} MB"
            )

        os.close(fd)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(10)
        arrivals.join(5)
        print(f"SIGTERM: exit {rc}")


if __name__ == "__main__":
    main()
