"""Helpers shared by the incremental-state tests (test_state.py, test_incremental.py): runs with
and without a state, rotations as logrotate does them, and crashes injected into a forked child.
Snapshot lines, appending and running the program are in helpers.py."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jobstream.exports import StateOptions, export, validate
from jobstream.out.sinks import Output
from jobstream.run import state as state_module
from jobstream.run.reader import ReadOptions


def out_of(
    what: str,
    paths: Sequence[Any],
    *,
    state: Path | None = None,
    new: bool = False,
    out: Path,
    errors: Path | None = None,
    reset: bool = False,
    max_line_bytes: int | None = None,
    fmt: str | None = None,
) -> tuple[bytes, Any]:
    """Run one export (or ``validate``) through the library, as the CLI does; its output bytes
    (the ``--errors`` records for ``validate``) and result."""
    read = ReadOptions() if max_line_bytes is None else ReadOptions(max_line_bytes=max_line_bytes)
    opts = StateOptions(str(state), reset) if state is not None else None
    for p in (out, errors):
        if p is not None and p.exists():
            p.unlink()
    if what == "validate":
        result = validate([str(p) for p in paths], read=read, errors_path=str(errors or out), state=opts)
        return (errors or out).read_bytes(), result
    fmt = fmt or {"summary": "json", "jobs": "ndjson", "events": "ndjson", "checkpoints": "ndjson"}[what]
    result = export(
        what,
        [str(p) for p in paths],
        read=read,
        output=Output(format=fmt, path=str(out)),
        errors_path=str(errors) if errors else None,
        state=opts,
        new=new,
    )
    return out.read_bytes(), result


def rotate(directory: Path, how: str, name: str = "jobs.ndjson") -> None:
    """Rotate *name* as logrotate does: ``rename`` (jobs.ndjson -> .1, older ones shifted, a
    ``.N`` past 1 compressed), ``gzip`` (the same, then .1 compressed to .1.gz at once) or
    ``copytruncate`` (copied to .1, then truncated in place)."""
    live = directory / name
    rotated = sorted(
        (p for p in directory.glob(name + ".*") if p.name[len(name) + 1 :].split(".")[0].isdigit()),
        key=lambda p: -int(p.name[len(name) + 1 :].split(".")[0]),
    )
    for p in rotated:  # shift: .2.gz -> .3.gz, .1 -> .2 (compressed, as logrotate's delaycompress does)
        n = int(p.name[len(name) + 1 :].split(".")[0])
        target = directory / f"{name}.{n + 1}.gz"
        if p.name.endswith(".gz"):
            p.rename(target)
        else:
            gzip_file(p, target)
    if not live.exists():
        live.touch()
    if how == "copytruncate":
        shutil.copyfile(live, directory / f"{name}.1")
        with open(live, "r+b") as fh:
            fh.truncate(0)
    else:
        live.rename(directory / f"{name}.1")
        live.touch()
        if how == "gzip":
            gzip_file(directory / f"{name}.1", directory / f"{name}.1.gz")


def gzip_file(src: Path, dst: Path) -> None:
    with open(src, "rb") as fh, gzip.open(dst, "wb") as gz:
        shutil.copyfileobj(fh, gz)
    src.unlink()


def crash_at(point: str, body: Callable[[], Any]) -> int:
    """Run *body* in a forked child that SIGKILLs itself when the state reaches *point*
    (see ``jobstream.run.state.FAULT``); returns the child's wait status."""
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 0
        try:

            def fault(where: str) -> None:
                if where == point:
                    os.kill(os.getpid(), signal.SIGKILL)

            state_module.FAULT = fault
            body()
        except BaseException:  # noqa: BLE001 - reported by the exit code
            code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status
