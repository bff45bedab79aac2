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
from .runtime import EXIT_INTERRUPT, Verdict, note, stdout_writer

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
    is decompressed as it streams.  `-` (or a pipe) reads stdin until it ends.  Without --from-start, existing content is read silently so that jobs already in
    the file are known: the next snapshot of a running job is not reported as a new job,
    and a late, older snapshot never reports a change backwards.  A partial line waits for
    its newline; a bad line is reported on stderr (and in --errors FILE) and following goes on.

    --state FILE resumes where the last tail with FILE stopped: the changes written while it
    was down are printed first, once (files are known by content, so rotated ones are found
    beside their names and finished), then following goes on; FILE is saved every second
    while changes come, and on exit.  A change saved as printed is never printed again (a
    kill -9 repeats those printed since the last save).  The first run with FILE starts as
    tail does without it (at the end, or with --from-start at the start).

    --exec CMD runs CMD once per event with the event as JSON on stdin and JOBSTREAM_JOB_ID,
    JOBSTREAM_FROM_STATUS, JOBSTREAM_TO_STATUS, ... in its environment; its stdout goes to
    stderr; it is stopped after --exec-timeout seconds.  SIGTERM ends following cleanly, after the current event, with exit 0; Ctrl-C
    does the same with exit 130.  With --exit-on-terminal --exit-status, the exit code says
    how the jobs ended: 0 when every followed job reached SUCCESS, 3 otherwise (one failed
    or was cancelled, or the input ended or following was stopped first).

    \b
    Example:
        jobstream tail jobs.ndjson
        jobstream tail jobs.ndjson --job ftjob-123 --exit-on-terminal --exit-status -f ndjson
        poller | jobstream tail - --status FAILED --exec 'notify-ops --channel ft'
        jobstream tail /var/log/ft/jobs.ndjson --state /var/lib/jobstream/tail.state --exec notify
    """
    import signal

    from ..io.sources import Source
    from ..out.hook import CommandHook
    from ..out.sinks import EventWriter, RejectWriter
    from ..run.follow import Follower

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
    no_stdin_with_state(names, state)
    hook = None
    stopping: list[bool] = []
    if exec_cmd is not None:
        try:
            hook = CommandHook(
                exec_cmd, iso_times=iso, on_failure=note, timeout=exec_timeout, should_stop=lambda: bool(stopping)
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--exec") from None
    if errors_path is not None:
        if errors_path == "-":
            raise click.BadParameter(
                "needs a file name ('-' is not one: stdout carries the data)", param_hint="--errors"
            )
        for p in names:
            if Source(p).same_file(errors_path) or (p != "-" and os.path.realpath(errors_path) == os.path.realpath(p)):
                # it would be followed: rejects read back as input, forever
                raise click.ClickException(f"refusing to write rejects to a followed file {errors_path} (--errors)")
    stopped_by: list[int] = []

    with contextlib.ExitStack() as stack:
        rejects = stack.enter_context(RejectWriter(errors_path, append=True))

        def on_reject(rej: Any) -> None:
            click.echo(str(rej), err=True)
            rejects(rej)

        saved = None
        if state is not None:
            from ..run.state import State

            saved = stack.enter_context(
                State.load(state.path, model="view", follow=True, max_line_bytes=max_line_bytes, reset=state.reset)
            )
            if saved.recovered:
                Verdict.fail()
                click.echo(f"Error: {saved.recovered}", err=True)
        follower = Follower(
            names,
            from_start=from_start,
            selection=selection,
            on_reject=on_reject,
            on_notice=note,
            until_terminal=exit_on_terminal,
            watch="poll" if poll else "auto",
            max_line_bytes=max_line_bytes,
            exclude=[errors_path] if errors_path else (),
            state=saved,
        )
        stack.callback(follower.close)
        if fmt is None:
            fmt = "table" if _tty() else "ndjson"
        stdout = stack.enter_context(stdout_writer(fmt))
        writer = EventWriter(stdout, fmt, headers=not no_headers, iso_times=iso, color=color)

        def on_signal(signum: int, frame: Any) -> None:
            if follower.stopping:  # a second Ctrl-C: stop waiting for --exec or a long read
                raise KeyboardInterrupt
            stopped_by.append(signum)
            stopping.append(True)  # an --exec command running now is stopped too
            follower.stop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: no handlers
                stack.callback(signal.signal, sig, signal.signal(sig, on_signal))
        try:
            writer.start()
            follower.start()
            if verbose:
                note(f"following {', '.join(names)} ({len(follower.table)} job(s) known)")
            for change in follower:
                writer.write(change)
                if hook is not None:
                    hook(change)
            writer.close()
            follower.save()  # every change yielded was written: the state may say so
        except KeyboardInterrupt:
            stopped_by.append(signal.SIGINT)
    if exit_status:  # even a stop by signal: CI killing a wait must not read as success
        ended = follower.feed.followed()
        if not ended or any(status != "SUCCESS" for status in ended.values()):
            unsuccessful = [f"{job} {status or 'never seen'}" for job, status in ended.items() if status != "SUCCESS"]
            note(f"not every followed job succeeded: {', '.join(unsuccessful) or 'none seen'}")
            sys.exit(EXIT_UNSUCCESSFUL)
        return
    if signal.SIGINT in stopped_by:
        Verdict.fail(EXIT_INTERRUPT)


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
