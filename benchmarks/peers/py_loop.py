"""Plain-Python peer: a loop over lines with ``json.loads`` (or ``orjson.loads``) into dicts.

    python py_loop.py summary FILE [--orjson]   -> {"by_status": {...}}
    python py_loop.py events FILE [--orjson]    -> one NDJSON change row per line

What a script written by hand would do, with jobstream's semantics (see duckdb_peer.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

RANK = {
    "QUEUED": 0, "STARTED": 1, "VALIDATING": 2, "VALIDATED": 3, "RUNNING": 4,
    "CANCELLATION_REQUESTED": 6, "FAILED_VALIDATION": 7, "FAILED": 7, "SUCCESS": 7, "CANCELLED": 7,
}  # fmt: skip
UNKNOWN_RANK = 5


def summary(path: str, loads) -> None:
    current: dict[str, tuple[int, int, str]] = {}
    rank = RANK.get
    with open(path, "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            d = loads(line)
            status = d["status"]
            key = (d["modified_at"], rank(status, UNKNOWN_RANK), status)
            cur = current.get(d["id"])
            if cur is None or key > cur:
                current[d["id"]] = key
    counts = Counter(c[2] for c in current.values())
    print(json.dumps({"by_status": dict(sorted(counts.items()))}))


def events(path: str, loads, dumps) -> None:
    rank = RANK.get
    obs: dict[str, set[tuple[int, str]]] = {}
    latest: dict[str, tuple[int, int, str | None]] = {}  # id -> (modified_at, rank, model)
    stated: dict[str, tuple[int, int, str, str]] = {}
    targets: set[str] = set()
    with open(path, "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            d = loads(line)
            job_id = d["id"]
            status = d["status"]
            t = d["modified_at"]
            r = rank(status, UNKNOWN_RANK)
            seen = obs.get(job_id)
            if seen is None:
                seen = obs[job_id] = set()
            seen.add((t, status))
            cur = latest.get(job_id)
            if cur is None or (t, r) >= cur[:2]:
                latest[job_id] = (t, r, d.get("model"))
            jt = d.get("job_type")
            if jt is not None:
                st = (t, r, status, "completion" if jt == "FT" else jt)
                if job_id not in stated or st > stated[job_id]:
                    stated[job_id] = st
            if d.get("classifier_targets") is not None:
                targets.add(job_id)
            for ev in d.get("events") or ():
                if ev.get("name") != "status-updated" or ev.get("created_at") is None:
                    continue
                data = ev.get("data")
                s = data.get("status") if isinstance(data, dict) else None
                if isinstance(s, str):
                    seen.add((ev["created_at"], s))
    keyed = []
    for job_id, seen in obs.items():
        job_type = stated[job_id][3] if job_id in stated else ("classifier" if job_id in targets else "completion")
        model = latest[job_id][2]
        prev = None
        i = 0
        for t, s in sorted(seen, key=lambda o: (o[0], rank(o[1], UNKNOWN_RANK), o[1])):
            if s != prev:
                keyed.append(((t, job_id, i), (job_id, job_type, model, prev, s, t)))
                prev = s
                i += 1
    keyed.sort(key=lambda kc: kc[0])
    write = sys.stdout.buffer.write
    for _, (job_id, job_type, model, prev, s, t) in keyed:
        row = {"job_id": job_id, "job_type": job_type, "model": model, "from_status": prev, "to_status": s, "at": t}
        write(dumps(row) + b"\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task", choices=["summary", "events"])
    ap.add_argument("path")
    ap.add_argument("--orjson", action="store_true", help="orjson.loads/dumps instead of json")
    args = ap.parse_args()
    if args.orjson:
        import orjson

        loads, dumps = orjson.loads, orjson.dumps
    else:
        loads = json.loads

        def dumps(obj, _dumps=json.dumps):
            return _dumps(obj).encode()

    summary(args.path, loads) if args.task == "summary" else events(args.path, loads, dumps)


if __name__ == "__main__":
    main()
