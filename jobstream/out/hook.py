"""``tail --exec``: run a command for each status change, safely.

The command is split once with :func:`shlex.split` and never run through a shell; event data
reaches it only as JSON on its stdin and ``JOBSTREAM_*`` environment variables, never as
command text.  A hung command cannot stop following: it gets a timeout, and a stop request
(SIGTERM, Ctrl-C) ends it at once.  A field too large for the environment (Linux refuses a
single variable over 128 KiB) is left out of it, and the event is on stdin as always.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import orjson

from ..reduce.reducer import StatusChange
from .sinks import event_row, iso

__all__ = ["CommandHook", "DEFAULT_EXEC_TIMEOUT", "ENV_VALUE_LIMIT"]

#: Seconds a command may run for one event before it is stopped.
DEFAULT_EXEC_TIMEOUT = 10.0
#: Longest value put in the environment (the kernel's limit is 128 KiB per variable).
ENV_VALUE_LIMIT = 32 << 10


class CommandHook:
    """Runs *command* once per change, with the change as JSON on its stdin.

    The command's stdout goes to *stdout* (stderr by default: stdout is data only).  It is
    stopped (SIGTERM, then SIGKILL) after *timeout* seconds, or as soon as *should_stop*
    returns true; failures are told to *on_failure* and following goes on.
    """

    def __init__(
        self,
        command: str,
        *,
        iso_times: bool = False,
        stdout: IO[Any] | None = None,
        on_failure: Callable[[str], Any] | None = None,
        timeout: float = DEFAULT_EXEC_TIMEOUT,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        import shlex  # --exec only: not worth every run's start-up
        import shutil

        argv = shlex.split(command)
        if not argv:
            raise ValueError("empty command")
        exe = shutil.which(argv[0])
        if exe is None:
            raise ValueError(f"command not found: {argv[0]}")
        self.argv = argv
        self.iso_times = iso_times
        self.timeout = timeout
        self.should_stop = should_stop
        out = stdout if stdout is not None else sys.stderr
        try:
            self._stdout: int | None = out.fileno()
        except (AttributeError, OSError, ValueError):
            self._stdout = None  # not a real file (e.g. under a test runner): inherit
        self.stdout = out
        self.on_failure = on_failure

    def _env(self, change: StatusChange) -> tuple[dict[str, str], list[str]]:
        env = dict(os.environ)
        values = {
            "JOBSTREAM_JOB_ID": change.job_id,
            "JOBSTREAM_JOB_TYPE": change.job_type,
            "JOBSTREAM_MODEL": change.model or "",
            "JOBSTREAM_FROM_STATUS": change.from_status or "",
            "JOBSTREAM_TO_STATUS": change.to_status,
            "JOBSTREAM_AT": (iso(change.at) or "") if self.iso_times else str(change.at),
        }
        left_out = []
        for key, value in values.items():
            value = value.replace("\x00", "\ufffd")  # an environment value cannot hold NUL
            if len(value.encode("utf-8", "surrogateescape")) > ENV_VALUE_LIMIT:
                left_out.append(key)  # too large for the environment: the event is on stdin
                continue
            env[key] = value
        return env, left_out

    def _fail(self, message: str) -> None:
        if self.on_failure is not None:
            self.on_failure(message)

    def __call__(self, change: StatusChange) -> int:
        import subprocess  # --exec only

        env, left_out = self._env(change)
        who = change.job_id if len(change.job_id) <= 80 else change.job_id[:77] + "..."
        if left_out:
            self._fail(
                f"--exec {self.argv[0]}: {', '.join(left_out)} for {who} too large for the environment; "
                f"the event is on stdin"
            )
        data = orjson.dumps(event_row(change, iso_times=self.iso_times)) + b"\n"
        with contextlib.suppress(AttributeError, OSError, ValueError):
            self.stdout.flush()
        try:
            proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=self._stdout, env=env, start_new_session=True
            )
        except (OSError, ValueError) as exc:
            self._fail(f"--exec {self.argv[0]}: {getattr(exc, 'strerror', None) or exc}")
            return 127
        deadline = time.monotonic() + self.timeout
        pending: bytes | None = data  # handed over by communicate(), which never blocks on a full pipe
        while True:
            try:
                proc.communicate(input=pending, timeout=0.05)
                rc = proc.returncode
                break
            except subprocess.TimeoutExpired:
                pending = None  # communicate() keeps writing what is left on the next call
            except (BrokenPipeError, OSError):
                pending = None  # the command does not read its stdin: fine
            stopping = self.should_stop is not None and self.should_stop()
            if stopping or time.monotonic() >= deadline:
                _stop(proc)
                if not stopping:
                    self._fail(f"--exec {self.argv[0]} for {who} took over {self.timeout:g}s: stopped")
                return 124
        if rc != 0:
            self._fail(f"--exec {self.argv[0]} exited {rc} for {who} {change.from_status or '-'} -> {change.to_status}")
        return rc


def _stop(proc: Any) -> None:
    """SIGTERM the command's process group, SIGKILL it if it lingers."""
    for sig, grace in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            return
        except Exception:  # noqa: BLE001 - TimeoutExpired: try harder
            continue
