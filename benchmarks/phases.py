"""Where one process spends its time: each stage added to the ones before it, best of 5.

    python benchmarks/phases.py LOG [LOG ...]

Reads LOG as ``summary -j 1`` does (one refilled block, the framer, the decode step with the
lean projection, the fold and the summary), stopping after each stage in turn: ``read`` only
reads, ``frame`` also frames, ``decode`` also decodes, ``fold`` is the whole in-process work.
Interpreter start-up, imports and writing the output are not included (``compare.py``'s
whole-process rows have them).  Run it with a compiled, non-editable install.
"""

from __future__ import annotations

import gc
import os
import sys
import time

from jobstream.decode.decoder import SnapshotDecoder
from jobstream.decode.step import DecodeStep, ReadStats
from jobstream.io.framing import DEFAULT_BLOCK_SIZE, Framer
from jobstream.reduce.reducer import JobTable

STAGES = ("read", "frame", "decode", "fold")


def run(path: str, stage: str, model: str = "lean") -> float:
    """Seconds to take *path* through the stages up to *stage*."""
    gc.disable()  # as fold_paths does
    start = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    buf = bytearray(DEFAULT_BLOCK_SIZE)
    view = memoryview(buf)
    framer = Framer(path)
    step = DecodeStep(SnapshotDecoder(model), ReadStats(), [])  # type: ignore[arg-type]  (model: a str here)
    table = JobTable()
    while n := os.readv(fd, [view]):
        if stage == "read":
            continue
        for frame in framer.feed(buf if n == len(buf) else buf[:n]):
            if stage == "frame":
                continue
            snaps = step(frame)
            if stage == "fold":
                table.update(snaps)
    os.close(fd)
    if stage == "fold":
        table.summary()
    elapsed = time.perf_counter() - start
    gc.enable()
    return elapsed


def main() -> None:
    for path in sys.argv[1:]:
        row = [(stage, min(run(path, stage) for _ in range(5))) for stage in STAGES]
        print(os.path.basename(path), "  ".join(f"{stage} {secs:.3f}s" for stage, secs in row), flush=True)


if __name__ == "__main__":
    main()
