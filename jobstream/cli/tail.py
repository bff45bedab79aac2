"""``jobstream tail``: follow growing logs and print each status change as it happens."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import click

from .options import (
    COLOR_OPTION,
    errors_option,
    input_paths,
    max_line_option,
    no_stdin_with_state,
    paths_argument,
    selection_options,
    state_options,
)
from .runtime import EXIT_INTERRUPT, Verdict, note, say, stdout_writer

__all__ = ["tail"]

#: ``tail --exit-status``: a followed job ended otherwise than SUCCESS (or never ended).
EXIT_UNSUCCESSFUL = 3


@click.command()
@paths_argument
@selection_options
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["table", "ndjson", "csv", "json"]),
    default=None,
    help="Output format [default: table on a terminal, else ndjson].  Each event is flushed.",
)
@click.option("--no-headers", is_flag=True, help="Omit the header line (table, csv).")
@COLOR_OPTION
@click.option("--iso", is_flag=True, help="ISO-8601 UTC timestamps in ndjson/csv/json and in --exec's JOBSTREAM_AT.")
@click.option("--from-start", is_flag=True, help="Replay the existing content first (events for history).")
@click.option(
    "--exit-on-terminal",
    is_flag=True,
    help="End once every followed job (after --job/--job-type/--model) is in a terminal status.",
)
@click.option(
    "--exit-status",
    is_flag=True,
    help="With --exit-on-terminal: exit 3 unless every followed job ended in SUCCESS (for CI).",
)
@click.option(
    "--exec",
    "exec_cmd",
    metavar="CMD",
    help="Run CMD for each event, the event as JSON on its stdin (split like a shell line, never run by one).",
)
@click.option(
    "--exec-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Stop an --exec command that runs longer than this (following goes on).",
)
@errors_option
@max_line_option
@click.option("--poll", is_flag=True, help="Poll files with stat instead of inotify (e.g. on network filesystems).")
@state_options
@click.option("-v", "--verbose", is_flag=True, help="Say on stderr when following has begun.")
def tail(
    paths: tuple[str, ...],
    selection: Any,
    fmt: str | None,
    no_headers: bool,
    color: str,
    iso: bool,
    from_start: bool,
    exit_on_terminal: bool,
    exit_status: bool,
    exec_cmd: str | None,
    exec_timeout: float,
    errors_path: str | None,
    max_line_bytes: int,
    poll: bool,
    state: Any,
    verbose: bool,
) -> None:
    """Follow growing logs (or a pipe) and print each status change as it happens.

    Files are followed by name like `tail -F`: through rotation (rename, or copytruncate),
    and a file that does not exist yet is waited for.  A glob ('logs/*.ndjson') follows
    every file that matches it, now or later.  A .gz file is read once, whole; gzip on stdin
    is decompressed as it streams.  `-` (or a pipe) reads stdin until it ends.  Without
    --from-start, existing content is read silently so that jobs already in the file are
    known: the next snapshot of a running job is not reported as a new job, and a late,
    older snapshot never reports a change backwards.  A partial line waits for its newline;
    a bad line is reported on stderr (and in --errors FILE) and following goes on.

    --state FILE resumes where the last tail with FILE stopped: the changes written while it
    was down are printed first, once (files are known by content, so rotated ones are found
    beside their names and finished), then following goes on; FILE is saved every second
    while changes come, and on exit.  A change saved as printed is never printed again (a
    kill -9 repeats those printed since the last save).  The first run with FILE starts as
    tail does without it (at the end, or with --from-start at the start).

    --exec CMD runs CMD once per event with the event as JSON on stdin and JOBSTREAM_JOB_ID,
    JOBSTREAM_FROM_STATUS, JOBSTREAM_TO_STATUS, ... in its environment; its stdout goes to
    stderr; it is stopped after --exec-timeout seconds.  SIGTERM ends following cleanly,
    after the current event, with exit 0; Ctrl-C does the same with exit 130; a second
    one ends it at once, exit 130 (while an --exec command runs, or stdout is not read).  With
    --exit-on-terminal --exit-status, the exit code says how the jobs ended: 0 when every
    followed job reached SUCCESS, 3 otherwise (one failed or was cancelled, or the input
    ended or following was stopped first).

    \b
    Example:
        jobstream tail jobs.ndjson
        jobstream tail jobs.ndjson --job ftjob-123 --exit-on-terminal --exit-status -f ndjson
        poller | jobstream tail - --status FAILED --exec 'notify-ops --channel ft'
        jobstream tail /var/log/ft/jobs.ndjson --state /var/lib/jobstream/tail.state --exec notify
    """
    import signal

    from ..exports import tail as follow_events
    from ..out.hook import CommandHook

    if exit_status and not exit_on_terminal:
        raise click.UsageError("--exit-status goes with --exit-on-terminal")
    names = [_local(p) for p in input_paths(paths)]
    for p in names:
        if p != "-" and os.path.isdir(p):
            raise click.BadParameter(
                f"{p} is a directory: tail follows files (name them, or a glob)", param_hint="PATHS"
            )
    if names.count("-") > 1:
        raise click.BadParameter("- (stdin) given more than once", param_hint="PATHS")
    if errors_path == "-":
        raise click.BadParameter("needs a file name ('-' is not one: stdout carries the data)", param_hint="--errors")
    no_stdin_with_state(names, state)
    stopped_by: list[int] = []
    hook = None
    if exec_cmd is not None:
        try:
            hook = CommandHook(
                exec_cmd, iso_times=iso, on_failure=note, timeout=exec_timeout, should_stop=lambda: bool(stopped_by)
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--exec") from None

    fmt = fmt or ("table" if _tty() else "ndjson")
    with contextlib.ExitStack() as stack:
        result = follow_events(
            names,
            lambda: stdout_writer(fmt),
            fmt=fmt,
            headers=not no_headers,
            iso_times=iso,
            color=color,
            selection=selection,
            from_start=from_start,
            until_terminal=exit_on_terminal,
            hook=hook,
            errors_path=errors_path,
            max_line_bytes=max_line_bytes,
            poll=poll,
            state=state,
            on_reject=lambda rej: say(str(rej)),
            on_notice=note,
            on_problem=_problem,
            on_follow=lambda follower: _stop_on_signals(stack, follower, stopped_by),
            announce=verbose,
        )
    if exit_status:  # even a stop by signal: CI killing a wait must not read as success
        _exit_status(result.followed)
    elif result.interrupted or signal.SIGINT in stopped_by:
        Verdict.fail(EXIT_INTERRUPT)


def _stop_on_signals(stack: contextlib.ExitStack, follower: Any, stopped_by: list[int]) -> None:
    """SIGINT and SIGTERM stop *follower* after the current event (until *stack* closes); a
    second one stops at once: waiting for --exec, a long read, or a write to a reader that
    stopped reading (stdout then goes to /dev/null, so that nothing left can block again)."""
    import signal

    def on_signal(signum: int, frame: Any) -> None:
        if follower.stopping:
            _stop_writing()
            raise KeyboardInterrupt
        stopped_by.append(signum)  # an --exec command running now is stopped too
        follower.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread: no handlers
            stack.callback(signal.signal, sig, signal.signal(sig, on_signal))


def _stop_writing() -> None:
    """Point fd 1 at /dev/null: a write blocked on a full pipe ends, and so does every flush
    after it (what was still buffered is dropped: its reader was not reading)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.dup2(null, 1)
    os.close(null)


def _problem(message: str) -> None:
    """A damaged state its previous generation stood in for: following goes on, the run fails."""
    Verdict.fail()
    say(f"Error: {message}")


def _exit_status(ended: dict[str, str | None]) -> None:
    """--exit-status: exit 3 unless every followed job ended in SUCCESS."""
    if not ended or any(status != "SUCCESS" for status in ended.values()):
        unsuccessful = [f"{job} {status or 'never seen'}" for job, status in ended.items() if status != "SUCCESS"]
        note(f"not every followed job succeeded: {', '.join(unsuccessful) or 'none seen'}")
        sys.exit(EXIT_UNSUCCESSFUL)


def _tty() -> bool:
    try:
        return bool(sys.stdout.isatty())
    except (AttributeError, ValueError):
        return False


def _local(name: str) -> str:
    """*name* as a local path to follow: a ``file://`` URL is one; another URL cannot be followed."""
    from ..io.sources import is_url

    if not is_url(name):
        return name
    from ..io.remote import local_path, protocol_of

    if protocol_of(name) == "file":
        return local_path(name)
    raise click.BadParameter(
        f"{name}: tail follows local files and stdin; a remote object cannot be followed as it "
        "grows (read it once with jobstream events)",
        param_hint="PATHS",
    )
