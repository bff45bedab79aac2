"""The ``jobstream`` command line: parses options, calls the library, maps errors to exit codes.

Exit codes: 0 success; 1 rejected input under ``--strict``, ``validate`` finding bad lines,
or an input that cannot be read; 2 usage errors.  A closed pipe (``| head``) exits 0 quietly.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import IO, Any, Callable, Iterator, Optional, Sequence

import click

from . import __version__
from .decoder import Model, Reject
from .errors import InvalidLineError, JobstreamError
from .filters import Selection, parse_time
from .pipeline import FoldResult, fold_paths, validate_paths
from .summary import GROUP_KEYS
from .sinks import (
    DEFAULT_JOB_FIELDS,
    EVENT_FIELDS,
    FORMATS,
    JOB_FIELDS,
    atomic_output,
    event_row,
    job_row,
    new_file_mode,
    write_rows,
    write_summary,
)
from .framing import DEFAULT_MAX_LINE_BYTES
from .sources import Source, expand_sources

F = Callable[..., Any]


# --------------------------------------------------------------------------- shared options


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _resolve_paths(paths: Sequence[str]) -> list[str]:
    """No PATH means stdin when it is piped; on a terminal, a usage hint rather than a hang."""
    if paths:
        return list(paths)
    if _stdin_is_tty():
        ctx = click.get_current_context()
        raise click.UsageError(
            f"no input: give PATH (files, directories, globs, .gz) or pipe NDJSON in, e.g. "
            f"`cat jobs.ndjson | jobstream {ctx.info_name}`",
            ctx=ctx,
        )
    return ["-"]


def _line_limit_option(f: F) -> F:
    """``--max-line-bytes``: kept in the context (every reading command has it)."""
    return click.option(
        "--max-line-bytes",
        type=click.IntRange(min=1),
        default=DEFAULT_MAX_LINE_BYTES,
        show_default=True,
        expose_value=False,
        is_eager=True,
        callback=lambda ctx, _param, value: ctx.meta.__setitem__("jobstream.max_line_bytes", value),
        help="Reject lines longer than this many bytes (they are skipped without being held).",
    )(f)


def _max_line_bytes() -> int:
    return int(click.get_current_context().meta.get("jobstream.max_line_bytes", DEFAULT_MAX_LINE_BYTES))


def input_options(f: F) -> F:
    """PATH arguments plus the options about reading them."""
    f = _line_limit_option(f)
    f = click.option(
        "-j",
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Worker processes for large inputs [default: the number of cores; 1 for stdin and small inputs].",
    )(f)
    f = click.option("--no-progress", is_flag=True, help="Never show the progress bar (shown on a terminal only).")(f)
    f = click.option("--strict", is_flag=True, help="Stop at the first rejected line, exit 1.")(f)
    f = click.option(
        "--errors",
        "errors_path",
        type=click.Path(dir_okay=False, writable=True),
        help="Write rejected lines as NDJSON {source,line,offset,error,raw} to this file.",
    )(f)
    f = click.argument("paths", nargs=-1, type=click.Path())(f)
    return f


def filter_options(f: F) -> F:
    """Selection options shared by the exports."""
    opts = [
        click.option("--status", "statuses", multiple=True, metavar="STATUS", help="Keep this status (repeatable)."),
        click.option(
            "--job-type",
            "job_types",
            multiple=True,
            type=click.Choice(["classifier", "completion", "FT"], case_sensitive=False),
            help="Keep this job type (repeatable; FT counts as completion).",
        ),
        click.option("--model", "models", multiple=True, metavar="MODEL", help="Keep this base model (repeatable)."),
        click.option("--job", "job_ids", multiple=True, metavar="ID", help="Keep this job id (repeatable)."),
        click.option("--since", metavar="TIME", help="From this time on (ISO-8601 or unix seconds, inclusive)."),
        click.option("--until", metavar="TIME", help="Before this time (ISO-8601 or unix seconds, exclusive)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def output_options(formats: Sequence[str] = FORMATS) -> Callable[[F], F]:
    def deco(f: F) -> F:
        f = click.option("--iso", is_flag=True, help="ISO-8601 UTC timestamps in json/ndjson/csv too.")(f)
        f = click.option("--no-headers", is_flag=True, help="Omit the header row (table, csv).")(f)
        f = click.option(
            "-o",
            "--output",
            type=click.Path(dir_okay=False),
            help="Write to FILE (atomically: a temp file renamed into place).",
        )(f)
        f = click.option(
            "-f",
            "--format",
            "fmt",
            type=click.Choice(list(formats)),
            default=None,
            help="Output format [default: table on a terminal, else ndjson/json].",
        )(f)
        return f

    return deco


def _selection(statuses: Sequence[str], job_types: Sequence[str], models: Sequence[str], job_ids: Sequence[str],
               since: Optional[str], until: Optional[str]) -> Selection:
    times = []
    for name, value in (("--since", since), ("--until", until)):
        try:
            times.append(parse_time(value) if value is not None else None)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=name) from None
    return Selection.of(statuses, job_types, models, job_ids, times[0], times[1])


def _default_format(output: Optional[str], machine: str) -> str:
    if output is None and sys.stdout.isatty():
        return "table"
    return machine


@contextlib.contextmanager
def _output(path: Optional[str], inputs: Sequence[str]) -> Iterator[IO[str]]:
    if path is None or path == "-":
        yield sys.stdout
        return
    sources = expand_sources(inputs) if inputs else []
    _refuse_input(path, sources, "-o")
    protect = [s.name for s in sources if not s.is_stdin]
    try:
        with atomic_output(path, protect=protect) as fh:
            yield fh
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _refuse_input(path: Optional[str], sources: Sequence[Source], option: str) -> None:
    """Stop before *path* (an output file) is opened for writing if it is one of the inputs,
    a file redirected into stdin included."""
    if path == "-" and option == "--errors":
        raise click.BadParameter("needs a file name ('-' is not one: stdout carries the data)", param_hint=option)
    if path is None or not os.path.exists(path):
        return
    for src in sources:
        if src.same_file(path):
            raise click.ClickException(f"refusing to overwrite input file {path} ({option})")


class _Rejects:
    """Collects rejects for the CLI: optional NDJSON file, count, first few for the note."""

    def __init__(self, path: Optional[str], echo_each: bool = False) -> None:
        self.count = 0
        self.first: Optional[Reject] = None
        self.echo_each = echo_each
        self._fh = open(path, "wb") if path else None
        self.path = path

    def __call__(self, rej: Reject) -> None:
        self.count += 1
        if self.first is None:
            self.first = rej
        if self._fh is not None:
            self._fh.write(rej.to_json() + b"\n")
        if self.echo_each:
            click.echo(str(rej), err=True)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()

    def note(self) -> None:
        if self.count and not self.echo_each:
            where = f" (written to {self.path})" if self.path else "; --errors FILE keeps them"
            click.echo(f"jobstream: {self.count} line(s) rejected{where}; first: {self.first}", err=True)


class _Progress:
    """A byte-counting progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, sources: Sequence[Source], disabled: bool) -> None:
        self.bar: Any = None
        if disabled or not sys.stderr.isatty():
            return
        sizes = [s.size() for s in sources]
        known = all(size is not None for size in sizes) and not any(s.name.endswith(".gz") for s in sources)
        total = sum(size or 0 for size in sizes)
        if known and total < (8 << 20):
            return  # too quick to be worth a bar
        self.bar = click.progressbar(length=total if known else None, label="reading", file=sys.stderr, width=30)
        self.bar.__enter__()

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _fold(paths: Sequence[str], errors_path: Optional[str], strict: bool, no_progress: bool,
          workers: Optional[int], model: Model = "view") -> FoldResult:
    sources = expand_sources(paths)  # before --errors creates its file, so it is never read back as input
    _refuse_input(errors_path, sources, "--errors")
    rejects = _Rejects(errors_path)
    progress = _Progress(sources, no_progress)
    try:
        result = fold_paths(sources, model=model, strict=strict, on_reject=rejects, on_progress=progress,
                            workers=workers, max_line_bytes=_max_line_bytes())
    except InvalidLineError as exc:
        progress.close()
        raise click.ClickException(f"{exc} (--strict: stopped at the first rejected line)") from None
    finally:
        progress.close()
        rejects.close()
    rejects.note()
    return result


# --------------------------------------------------------------------------- commands


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JobstreamError as exc:
            raise click.ClickException(f"{exc}") from None
        except BrokenPipeError:
            _quiet_broken_pipe()
        except OSError as exc:
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="jobstream")
def cli() -> None:
    """Answers from logs of Mistral fine-tuning job snapshots (NDJSON, one job object per line).

    \b
    Examples:
        jobstream summary jobs.ndjson
        jobstream events logs/ --status FAILED -f csv -o failures.csv
        jobstream jobs 'logs/*.ndjson.gz' --model open-mistral-7b
    """


@cli.command()
@input_options
@filter_options
@output_options(("table", "json", "ndjson", "csv"))
@click.option("--by", type=click.Choice(GROUP_KEYS), help="Also give the figures per group.")
def summary(paths: tuple[str, ...], errors_path: Optional[str], strict: bool, no_progress: bool, workers: Optional[int],
            statuses: tuple[str, ...], job_types: tuple[str, ...], models: tuple[str, ...], job_ids: tuple[str, ...],
            since: Optional[str], until: Optional[str], fmt: Optional[str], output: Optional[str],
            no_headers: bool, iso: bool, by: Optional[str]) -> None:
    """Overview of the jobs in snapshot logs: counts, success rate, durations, tokens, cost.

    Counts jobs by current status, job type and model; success rate among finished jobs;
    p50/p90/max of queue wait, run time and total duration; trained tokens and cost.

    \b
    Example:
        jobstream summary logs/ --by model
        jobstream summary jobs.ndjson.gz -f json | jq .by_status
    """
    sel = _selection(statuses, job_types, models, job_ids, since, until)
    paths = tuple(_resolve_paths(paths))
    result = _fold(paths, errors_path, strict, no_progress, workers, model="lean")
    summ = result.table.summary(by=by, jobs=sel.jobs(result.table.jobs(light=True)) if not sel.empty else None)
    with _output(output, paths) as out:
        write_summary(summ, fmt or _default_format(output, "json"), out, headers=not no_headers, stats=result.stats)


def _parse_fields(text: Optional[str]) -> tuple[str, ...]:
    if not text:
        return DEFAULT_JOB_FIELDS
    if text.strip() == "all":
        return JOB_FIELDS
    fields = tuple(f.strip() for f in text.split(",") if f.strip())
    if not fields:
        raise click.BadParameter("name at least one field", param_hint="--fields")
    bad = [f for f in fields if f not in JOB_FIELDS]
    if bad:
        raise click.BadParameter(
            f"unknown field(s) {', '.join(bad)}; choose from {', '.join(JOB_FIELDS)} (or 'all')", param_hint="--fields"
        )
    return fields


@cli.command()
@input_options
@filter_options
@output_options()
@click.option("--fields", metavar="A,B,...", help="Columns to show (comma-separated, or 'all'). See --help for the list.")
def jobs(paths: tuple[str, ...], errors_path: Optional[str], strict: bool, no_progress: bool, workers: Optional[int],
         statuses: tuple[str, ...], job_types: tuple[str, ...], models: tuple[str, ...], job_ids: tuple[str, ...],
         since: Optional[str], until: Optional[str], fmt: Optional[str], output: Optional[str],
         no_headers: bool, iso: bool, fields: Optional[str]) -> None:
    """One row per job with its current state, ordered by creation time.

    Fields: id, job_type, model, status, created_at, modified_at, first_seen, last_seen,
    observations, fine_tuned_model, trained_tokens, cost, cost_currency, checkpoint_step,
    checkpoint_at, train_loss, valid_loss, valid_mean_token_accuracy, integrations,
    queue_wait, run_time, total.

    \b
    Example:
        jobstream jobs jobs.ndjson --status RUNNING --fields id,model,checkpoint_step,train_loss
    """
    cols = _parse_fields(fields)
    sel = _selection(statuses, job_types, models, job_ids, since, until)
    paths = tuple(_resolve_paths(paths))
    result = _fold(paths, errors_path, strict, no_progress, workers)
    fmt = fmt or _default_format(output, "ndjson")
    rows = (job_row(j, cols, iso_times=iso) for j in sel.jobs(result.table.jobs()))
    with _output(output, paths) as out:
        write_rows(rows, cols, fmt, out, headers=not no_headers)


@cli.command()
@input_options
@filter_options
@output_options()
def events(paths: tuple[str, ...], errors_path: Optional[str], strict: bool, no_progress: bool, workers: Optional[int],
           statuses: tuple[str, ...], job_types: tuple[str, ...], models: tuple[str, ...], job_ids: tuple[str, ...],
           since: Optional[str], until: Optional[str], fmt: Optional[str], output: Optional[str],
           no_headers: bool, iso: bool) -> None:
    """Status changes (QUEUED -> RUNNING -> SUCCESS ...) of every job, by time then job id.

    Rows: job_id, job_type, model, from_status, to_status, at.  --status matches to_status;
    --since/--until match the time of the change.

    \b
    Example:
        jobstream events jobs.ndjson --status FAILED --since 2025-01-01 -f csv
    """
    sel = _selection(statuses, job_types, models, job_ids, since, until)
    paths = tuple(_resolve_paths(paths))
    result = _fold(paths, errors_path, strict, no_progress, workers, model="lean")
    fmt = fmt or _default_format(output, "ndjson")
    changes = result.table.events()
    rows = (event_row(c, iso_times=iso) for c in changes if sel.keep_change(c))
    with _output(output, paths) as out:
        write_rows(rows, EVENT_FIELDS, fmt, out, headers=not no_headers)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--errors", "errors_path", type=click.Path(dir_okay=False, writable=True),
              help="Write rejected lines as NDJSON {source,line,offset,error,raw} to this file.")
@click.option("-q", "--quiet", is_flag=True, help="Only the final count on stderr.")
@_line_limit_option
@click.option("-j", "--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes for large inputs [default: the number of cores; 1 for stdin and small inputs].")
def validate(paths: tuple[str, ...], errors_path: Optional[str], quiet: bool, workers: Optional[int]) -> None:
    """Check every line against the full job schema; exit 1 if any line is rejected.

    Each rejected line is printed to stderr as PATH:LINE: reason, then one count line.

    \b
    Example:
        jobstream validate logs/*.ndjson --errors rejects.ndjson
    """
    paths = tuple(_resolve_paths(paths))
    sources = expand_sources(paths)
    _refuse_input(errors_path, sources, "--errors")
    rejects = _Rejects(errors_path, echo_each=not quiet)
    try:
        st = validate_paths(sources, on_reject=rejects, workers=workers, max_line_bytes=_max_line_bytes())
    finally:
        rejects.close()
    click.echo(
        f"{st.lines} line(s) checked in {st.sources} source(s): {st.accepted} accepted, {st.rejected} rejected",
        err=True,
    )
    if st.rejected:
        sys.exit(1)


@cli.command()
@click.option("--jobs", "n_jobs", type=click.IntRange(min=1), default=100, show_default=True, help="Number of jobs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed: same seed, same bytes.")
@click.option("--camel", is_flag=True, help="camelCase keys, as the TypeScript SDK writes them.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout (.gz compresses).")
def generate(n_jobs: int, seed: int, camel: bool, output: Optional[str]) -> None:
    """Write a realistic synthetic snapshot log (deterministic for a seed).

    Jobs of every kind (classifier, completion, legacy FT) and lifecycle, polled while
    they run, with growing events and checkpoints, newest first.

    \b
    Example:
        jobstream generate --jobs 2000 --seed 1 -o bench.ndjson
    """
    from .generate import write_log  # only this command needs the generator

    if output is None or output == "-":
        n = write_log(sys.stdout.buffer, n_jobs, seed, camel)
        sys.stdout.buffer.flush()
    else:
        import gzip
        import tempfile

        directory = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(directory):
            raise click.ClickException(f"cannot write {output}: no such directory {directory}")
        fd, tmp = tempfile.mkstemp(prefix=".jobstream-", suffix=".tmp", dir=directory)
        try:
            os.fchmod(fd, new_file_mode(output))  # not mkstemp's 0600
            with os.fdopen(fd, "wb") as raw:
                if output.endswith(".gz"):
                    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                        n = write_log(gz, n_jobs, seed, camel)  # type: ignore[arg-type]
                else:
                    n = write_log(raw, n_jobs, seed, camel)
            os.replace(tmp, output)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        click.echo(f"wrote {n} snapshots of {n_jobs} jobs to {output}", err=True)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@filter_options
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "ndjson", "csv", "json"]), default=None,
              help="Output format [default: table on a terminal, else ndjson].  Each event is flushed.")
@click.option("--no-headers", is_flag=True, help="Omit the header line (table, csv).")
@click.option("--iso", is_flag=True, help="ISO-8601 UTC timestamps in ndjson/csv/json and --exec too.")
@click.option("--from-start", is_flag=True, help="Replay the existing content first (events for history).")
@click.option("--exit-on-terminal", is_flag=True,
              help="End once every followed job (after --job/--job-type/--model) is in a terminal status.")
@click.option("--exit-status", is_flag=True,
              help="With --exit-on-terminal: exit 3 unless every followed job ended in SUCCESS (for CI).")
@click.option("--exec", "exec_cmd", metavar="CMD",
              help="Run CMD for each event, the event as JSON on its stdin (split like a shell line, never run by one).")
@click.option("--errors", "errors_path", type=click.Path(dir_okay=False, writable=True),
              help="Append rejected lines as NDJSON {source,line,offset,error,raw} to this file.")
@click.option("--poll", is_flag=True, help="Poll files with stat instead of inotify (e.g. on network filesystems).")
@click.option("-v", "--verbose", is_flag=True, help="Say on stderr when following has begun.")
def tail(paths: tuple[str, ...], statuses: tuple[str, ...], job_types: tuple[str, ...], models: tuple[str, ...],
         job_ids: tuple[str, ...], since: Optional[str], until: Optional[str], fmt: Optional[str], no_headers: bool,
         iso: bool, from_start: bool, exit_on_terminal: bool, exit_status: bool, exec_cmd: Optional[str],
         errors_path: Optional[str], poll: bool, verbose: bool) -> None:
    """Follow growing logs (or a pipe) and print each status change as it happens.

    Files are followed by name like `tail -F`: through rotation (rename, or copytruncate),
    and a file that does not exist yet is waited for.  `-` (or a pipe) reads stdin until it
    ends.  Without --from-start, existing content is read silently so that jobs already in
    the file are known: the next snapshot of a running job is not reported as a new job,
    and a late, older snapshot never reports a change backwards.  A partial line waits for
    its newline; a bad line is reported on stderr (and in --errors FILE) and following goes on.

    --exec CMD runs CMD once per event with the event as JSON on stdin and JOBSTREAM_JOB_ID,
    JOBSTREAM_FROM_STATUS, JOBSTREAM_TO_STATUS, ... in its environment; its stdout goes to
    stderr.  Ctrl-C or SIGTERM ends following cleanly, after the current event, with exit 0.
    With --exit-on-terminal --exit-status, the exit code says how the jobs ended: 0 when
    every followed job reached SUCCESS, 3 otherwise (one failed or was cancelled, or the
    input ended or following was stopped first).

    \b
    Example:
        jobstream tail jobs.ndjson
        jobstream tail jobs.ndjson --job ftjob-123 --exit-on-terminal --exit-status -f ndjson
        poller | jobstream tail - --status FAILED --exec 'notify-ops --channel ft'
    """
    import signal

    from .follow import CommandHook, EventWriter, Follower

    if exit_status and not exit_on_terminal:
        raise click.UsageError("--exit-status goes with --exit-on-terminal")

    sel = _selection(statuses, job_types, models, job_ids, since, until)
    paths = tuple(_resolve_paths(paths))
    for p in paths:
        if p != "-" and os.path.isdir(p):
            raise click.BadParameter(f"{p} is a directory: tail follows files (name them, or a glob)",
                                     param_hint="PATHS")
    if paths.count("-") > 1:
        raise click.BadParameter("- (stdin) given more than once", param_hint="PATHS")
    hook = None
    if exec_cmd is not None:
        try:
            hook = CommandHook(exec_cmd, iso_times=iso, on_failure=lambda msg: click.echo(f"jobstream: {msg}", err=True))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--exec") from None
    _refuse_input(errors_path, [Source(p) for p in paths], "--errors")
    if errors_path and os.path.realpath(errors_path) in {os.path.realpath(p) for p in paths if p != "-"}:
        # not there yet, but it would be followed: rejects read back as input, forever
        raise click.ClickException(f"refusing to write rejects to a followed file {errors_path} (--errors)")
    rejects = _Rejects(None, echo_each=True)
    errors_fh = open(errors_path, "ab") if errors_path else None

    def on_reject(rej: Reject) -> None:
        rejects(rej)
        if errors_fh is not None:
            errors_fh.write(rej.to_json() + b"\n")
            errors_fh.flush()

    follower = Follower(paths, from_start=from_start, selection=sel, on_reject=on_reject,
                        on_notice=lambda msg: click.echo(f"jobstream: {msg}", err=True),
                        until_terminal=exit_on_terminal, watch="poll" if poll else "auto")
    writer = EventWriter(sys.stdout, fmt or _default_format(None, "ndjson"), headers=not no_headers, iso_times=iso)

    def on_signal(signum: int, frame: Any) -> None:
        if follower.stopping:  # a second Ctrl-C: stop waiting for --exec or a long read
            raise KeyboardInterrupt
        follower.stop()

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread: no handlers
            previous[sig] = signal.signal(sig, on_signal)
    try:
        writer.start()
        follower.start()
        if verbose:
            known = len(follower.table)
            click.echo(f"jobstream: following {', '.join(paths)} ({known} job(s) known)", err=True)
        for change in follower:
            writer.write(change)
            if hook is not None:
                hook(change)
        writer.close()
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        follower.close()
        if errors_fh is not None:
            errors_fh.close()
    if exit_status:  # even a stop by signal: CI killing a wait must not read as success
        ended = follower.feed.followed()
        if not ended or any(status != "SUCCESS" for status in ended.values()):
            unsuccessful = [f"{job} {status}" for job, status in ended.items() if status != "SUCCESS"]
            click.echo(f"jobstream: not every followed job succeeded: {', '.join(unsuccessful) or 'none seen'}",
                       err=True)
            sys.exit(3)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Console entry point: runs the CLI, quiet on a closed pipe."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="jobstream", standalone_mode=True)
    except BrokenPipeError:
        _quiet_broken_pipe()


def _quiet_broken_pipe() -> None:
    # Python flushes stdout at exit; point it at devnull so that flush cannot fail again.
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    os._exit(0)

