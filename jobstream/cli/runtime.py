"""What the command line owes the process it runs in: streams, signals, exit codes, progress.

jobstream promises no traceback for any input, file name, terminal or pipe state:

* closed standard streams (``>&-``, ``2>&-``, ``<&-``) are replaced by ``/dev/null`` so that
  no file jobstream opens lands on fd 0-2; writing output to a closed stdout is a one-line
  error;
* output goes through jobstream's own buffered writer on fd 1 (large writes whatever
  ``PYTHONUNBUFFERED`` says): UTF-8 for machine formats, the terminal's encoding with
  escapes for tables, so a non-ASCII id never fails on an ASCII terminal;
* a closed pipe (``| head``) ends the run quietly with the exit code the data already
  earned (``validate`` that saw a bad line still exits 1);
* Ctrl-C exits 130 and SIGTERM 143 (128 + the signal, as shells report them), after the
  temporary files of atomic writes are removed.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

import click

__all__ = [
    "Verdict",
    "prepare_streams",
    "closed",
    "stdout_writer",
    "Progress",
    "quiet_exit",
    "warn",
    "note",
    "EXIT_DATA",
    "EXIT_LOCKED",
    "EXIT_INTERRUPT",
    "EXIT_TERMINATED",
]

EXIT_DATA = 1
#: --state FILE is held by another run (sysexits' EX_TEMPFAIL: nothing was done, try again later)
EXIT_LOCKED = 75
EXIT_INTERRUPT = 130
EXIT_TERMINATED = 143


class Verdict:
    """The exit code the data has earned so far: a closed pipe must not turn 1 into 0."""

    code = 0

    @classmethod
    def fail(cls, code: int = EXIT_DATA) -> None:
        cls.code = max(cls.code, code)


class Terminated(BaseException):
    """SIGTERM, raised where the process is, so cleanups (temp files) run before exit 143."""


_CLOSED: set[str] = set()


def prepare_streams() -> None:
    """Make the standard streams safe to use, whatever state the caller left them in."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            closed = getattr(sys, name) is None
        except OSError:
            closed = True
            # hold the descriptor, so no file opened later becomes "stdout"
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if closed:
            _CLOSED.add(name)
            mode = "r" if name == "stdin" else "w"
            setattr(sys, name, open(os.devnull, mode))  # noqa: SIM115  (the process's stream from now on)
    with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation):
        sys.stderr.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main thread
        pass


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def closed(name: str) -> bool:
    """Whether the caller started jobstream with this standard stream (``stdin``, ...) closed."""
    return name in _CLOSED


@contextlib.contextmanager
def stdout_writer(fmt: str) -> Iterator[IO[str]]:
    """A text stream on fd 1 for the data: UTF-8 for machine formats; for ``table``, the
    terminal's encoding with unencodable characters escaped.  Buffered in 64 KiB writes."""
    if "stdout" in _CLOSED:
        raise click.ClickException("stdout is closed: there is nowhere to write the output (use -o FILE)")
    sys.stdout.flush()
    try:
        fd: int | None = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None  # not a real file (a test runner's capture): write through its own buffer
    if fd is not None:
        raw: IO[bytes] = open(fd, "wb", buffering=1 << 16, closefd=False)  # noqa: SIM115  (closed in the finally below)
    elif hasattr(sys.stdout, "buffer"):
        raw = sys.stdout.buffer
    else:
        yield sys.stdout
        return
    if fmt == "table":
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        text = io.TextIOWrapper(raw, encoding=encoding, errors="backslashreplace", newline="")
    else:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    try:
        yield text
        text.flush()
    finally:
        with contextlib.suppress(ValueError):
            text.detach()
        if fd is not None:
            with contextlib.suppress(BrokenPipeError):
                raw.close()  # closefd=False: flushes, leaves fd 1 open


def say(message: str) -> None:
    """One line on stderr, as it is read on a terminal: control and invisible characters in
    it (a file name's escape sequence or newline, a job id's) shown as ``\\xNN``."""
    from ..out.sinks import printable

    click.echo(printable(message), err=True)


def warn(message: str) -> None:
    say(f"jobstream: warning: {message}")


def note(message: str) -> None:
    say(f"jobstream: {message}")


def quiet_exit(code: int) -> None:
    """End now with *code*, quietly: stdout goes to /dev/null so the final flush cannot fail."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(code)


class Progress:
    """Bytes read, on stderr, when stderr is a terminal: ``reading  45.2 of 176.0 MB  26%``.

    The total may be unknown (stdin, pipes): then the bytes read so far are shown.  For
    gzip the bytes are the compressed ones, so the percentage is true.  The line appears
    once 8 MB have been read or a quarter second has passed (a short run needs none), is
    redrawn at most ten times a second, and is cleared at the end.
    """

    DELAY = 0.25
    BYTES = 8 << 20

    def __init__(self, enabled: bool = True) -> None:
        try:
            self.enabled = enabled and sys.stderr.isatty()
        except (AttributeError, ValueError):
            self.enabled = False
        self.total: int | None = None
        self.done = 0
        self.started = time.monotonic()
        self.last = 0.0
        self.drawn = False

    def set_total(self, total: int | None) -> None:
        self.total = total

    def __call__(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if (self.done < self.BYTES and now - self.started < self.DELAY) or now - self.last < 0.1:
            return
        self.last = now
        self._draw()

    def _draw(self) -> None:
        mb = self.done / 1e6
        if self.total:
            line = f"reading  {mb:,.1f} of {self.total / 1e6:,.1f} MB  {min(100, 100 * self.done // self.total)}%"
        else:
            line = f"reading  {mb:,.1f} MB"
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write("\r" + line + "\x1b[K")
            sys.stderr.flush()
            self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self._draw()  # the final figure (100%), then the line goes
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write("\r\x1b[K")
                sys.stderr.flush()
            self.drawn = False
