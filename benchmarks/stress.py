"""Stress checks of the reading engine: whole processes, timed, never asserted in tests.

    python benchmarks/stress.py                 # all checks, into benchmarks/data/stress/
    python benchmarks/stress.py --only tiny     # 100k tiny files, -j 1 against the default workers
    python benchmarks/stress.py --only longline # one 256 MB line: time linear in its length

* **tiny**: 100,000 one-line files in a directory.  Parallel reading batches small files
  into a few work units, so the default workers must not be slower than ``-j 1`` (the old
  engine made one work unit per file and ran 2.8x slower in parallel).
* **longline**: lines of 32, 64, 128 and 256 MB (with ``--max-line-bytes`` raised), fed in
  1 MiB blocks: the framer keeps a partial line as pieces joined once, so the time per MB
  stays flat (the old engine re-joined ``pending + block`` and took 17 s for 256 MB).

Processes run with PYTHONUNBUFFERED/PYTHONDONTWRITEBYTECODE/PYTHONPATH removed; use the
interpreter of a non-editable install (``--python``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def clean_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH")
    }


def timed(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(), check=True, cwd="/")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tiny(python: str, data: Path, repeat: int) -> None:
    folder = data / "tiny"
    if not (folder / "99999.ndjson").exists():
        folder.mkdir(parents=True, exist_ok=True)
        line = (
            b'{"id":"job-%d","status":"RUNNING","job_type":"completion","created_at":1717000000,'
            b'"modified_at":%d,"model":"open-mistral-7b"}\n'
        )
        for i in range(100_000):
            (folder / f"{i:05}.ndjson").write_bytes(line % (i % 5000, 1717000000 + i))
    one = timed([python, "-m", "jobstream", "summary", "-j", "1", "-f", "json", str(folder)], repeat)
    many = timed([python, "-m", "jobstream", "summary", "-f", "json", str(folder)], repeat)
    print(f"| 100,000 tiny files | -j 1 {one:.2f} s | default workers {many:.2f} s | ratio {many / one:.2f} |")


def longline(python: str, data: Path, repeat: int) -> None:
    rows = []
    for mb in (32, 64, 128, 256):
        path = data / f"line-{mb}mb.ndjson"
        if not path.exists() or path.stat().st_size < mb << 20:
            with path.open("wb") as fh:
                fh.write(b'{"id":"big","status":"RUNNING","created_at":1,"modified_at":2,"pad":"')
                block = b"x" * (1 << 20)
                for _ in range(mb):
                    fh.write(block)
                fh.write(b'"}\n')
        took = timed(
            [
                python,
                "-m",
                "jobstream",
                "summary",
                "-j",
                "1",
                "-f",
                "json",
                "--max-line-bytes",
                str((mb + 1) << 20),
                str(path),
            ],
            repeat,
        )
        rows.append((mb, took))
        print(f"| one {mb} MB line | {took:.2f} s | {took / mb * 1000:.1f} ms per MB |")
    for mb, _ in rows:
        (data / f"line-{mb}mb.ndjson").unlink()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable, help="interpreter with jobstream installed (non-editable)")
    ap.add_argument("--data-dir", default=str(HERE / "data" / "stress"))
    ap.add_argument("--only", action="append", choices=["tiny", "longline"])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(data).free < 2 << 30:
        print("less than 2 GB free: not generating", file=sys.stderr)
        return 1
    for check in args.only or ["tiny", "longline"]:
        {"tiny": tiny, "longline": longline}[check](args.python, data, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
