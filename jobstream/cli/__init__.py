"""The ``jobstream`` command line: parses options into values and calls the library.

Exit codes: 0 success; 1 a data problem (a rejected line under ``--strict``, ``validate``
finding bad lines, more rejects than ``--max-rejects``, an input that cannot be read);
2 a usage error; 3 ``tail --exit-status`` when a followed job did not succeed; 130 Ctrl-C;
143 SIGTERM.  A closed pipe (``| head``) ends quietly with the code the data earned.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import click

from .. import __version__
from ..columns import GROUP_KEYS
from ..errors import InvalidLineError, JobstreamError, StateLockedError
from .options import (
    FIELDS,
    ReadArgs,
    input_paths,
    no_stdin_with_state,
    output_options,
    paths_argument,
    read_options,
    selection_options,
    state_options,
)
from .runtime import (
    EXIT_INTERRUPT,
    EXIT_LOCKED,
    EXIT_TERMINATED,
    Progress,
    Terminated,
    Verdict,
    note,
    prepare_streams,
    quiet_exit,
    say,
    stdout_writer,
    warn,
)

__all__ = ["cli", "main"]


class _Locked(click.ClickException):
    """``--state FILE`` is held by another run: exit 75 (EX_TEMPFAIL), nothing was done."""

    exit_code = EXIT_LOCKED


class _Group(click.Group):
    """Library errors become one-line messages; OS errors name the file; never a traceback."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:  # --help and --version print while parsing: a closed pipe then is a quiet success
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError:
            quiet_exit(Verdict.code)
            raise  # not reached

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidLineError as exc:
            raise click.ClickException(f"{exc} (--strict: stopped at the first rejected line)") from None
        except JobstreamError as exc:
            if isinstance(exc, StateLockedError):  # another run holds the state: try again later
                Verdict.fail(EXIT_LOCKED)
                raise _Locked(str(exc)) from None
            raise click.ClickException(str(exc)) from None
        except BrokenPipeError:
            quiet_exit(Verdict.code)
        except ImportError as exc:  # an optional extra that is not installed
            raise click.ClickException(str(exc)) from None
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
        jobstream events logs/ --status FAILED -o failures.csv
        jobstream jobs 'logs/*.ndjson.gz' --model open-mistral-7b
    """


class _Rejects:
    """The CLI's view of rejects: a count and the first at the end (``validate``: each at once),
    and the inputs that could not be read, which fail the run."""

    def __init__(self, echo_each: bool, limit: int | None = None) -> None:
        self.echo_each = echo_each
        self.limit = limit  # --max-rejects: past it the run has failed, whatever happens to the pipe
        self.count = 0
        self.first: Any = None
        self.failures: list[Any] = []

    def __call__(self, rej: Any) -> None:
        if type(rej).__struct_config__.tag == "input":  # a SourceFailure: an input not read to its end
            Verdict.fail()
            self.failures.append(rej)
            return
        self.count += 1
        if self.limit is not None and self.count > self.limit:
            Verdict.fail()
        if self.first is None:
            self.first = rej
        if self.echo_each:
            Verdict.fail()  # validate: a bad line is the verdict, whatever happens to the pipe
            say(str(rej))

    def summarize(self, errors_path: str | None) -> None:
        if self.count and not self.echo_each:
            where = f" (written to {errors_path})" if errors_path else "; --errors FILE keeps them"
            note(f"{self.count} line(s) rejected{where}; first: {self.first}")

    def fail(self) -> None:
        """One line naming every input that could not be read (the rest of the run is done)."""
        if self.failures:
            Verdict.fail()
            raise click.ClickException("; ".join(str(f) for f in self.failures))


def _finish(result: Any, read: ReadArgs, rejects: _Rejects) -> None:
    for message in result.warnings:
        warn(message)
    for message in getattr(result, "problems", ()):  # the output is written, but this must not pass silently
        Verdict.fail()
        say(f"Error: {message}")
    rejects.fail()
    problem = result.stats.verdict(read.options.max_rejects)
    if problem is not None:
        Verdict.fail()
        raise click.ClickException(problem)


def _inputs(paths: Sequence[str], read: ReadArgs, state: Any = None) -> list[str]:
    """The inputs (stdin when none is named and it is piped); a cluster cannot read stdin, and
    a state resumes local files read here."""
    names = input_paths(paths)
    no_stdin_with_state(names, state)
    if state is not None and read.options.dask is not None:
        raise click.UsageError("--state reads and resumes local files in this process: it does not go with --dask")
    if read.options.dask is not None and "-" in names:
        raise click.UsageError(
            "--dask: the cluster's workers cannot read this process's stdin; "
            "give files or URLs they can read (or drop --dask)"
        )
    return names


def _export(what: str, paths: Sequence[str], read: ReadArgs, selection: Any, out: Any, **kwargs: Any) -> None:
    """One implementation behind ``summary``, ``jobs``, ``events`` and ``checkpoints``."""
    from ..exports import BINARY_FORMATS, export

    if out.format in BINARY_FORMATS and out.path in (None, "-") and _stdout_tty():
        raise click.UsageError(f"-f {out.format} writes bytes, not for a terminal: give -o FILE (or pipe it)")
    rejects = _Rejects(echo_each=False, limit=read.options.max_rejects)
    progress = Progress(read.progress)
    names = _inputs(paths, read, kwargs.get("state"))  # usage errors before stdout is taken
    with contextlib.ExitStack() as stack:
        stack.callback(progress.close)
        stdout = stack.enter_context(stdout_writer(out.format)) if out.path in (None, "-") else None
        result = export(
            what,
            names,
            read=read.options,
            selection=selection,
            output=out,
            errors_path=read.errors_path,
            on_reject=rejects,
            on_progress=progress,
            on_total=progress.set_total,
            stdout=stdout,
            **kwargs,
        )
    rejects.summarize(read.errors_path)
    _finish(result, read, rejects)


@cli.command()
@paths_argument
@read_options
@state_options
@selection_options
@output_options(("table", "json", "ndjson", "csv", "prom", "parquet", "arrow"), "json")
@click.option("--by", type=click.Choice(GROUP_KEYS), help="Also give the figures per group (a table row each).")
def summary(paths: tuple[str, ...], read: ReadArgs, state: Any, selection: Any, out: Any, by: str | None) -> None:
    """Overview of the jobs in snapshot logs: counts, success rate, durations, tokens, cost.

    Counts jobs by current status, job type and model; success rate among finished jobs;
    p50/p90/max of queue wait, run time and total duration; trained tokens and cost.
    -f prom writes the Prometheus text format (for node_exporter's textfile collector);
    -f parquet/arrow need --by (one row per group).

    \b
    Example:
        jobstream summary logs/ --by model
        jobstream summary jobs.ndjson.gz -f json | jq .by_status
        jobstream summary logs/ -o /var/lib/node_exporter/textfile/jobstream.prom
        jobstream summary logs/ --state /var/lib/jobstream/summary.state   # nightly: new bytes only
    """
    if out.format in ("parquet", "arrow") and by is None:
        raise click.UsageError(f"-f {out.format} writes one row per group: give --by model|job_type|status|day")
    _export("summary", paths, read, selection, out, by=by, state=state)


@cli.command()
@paths_argument
@read_options
@state_options
@selection_options
@output_options(("table", "json", "ndjson", "csv", "parquet", "arrow"), "ndjson")
@click.option(
    "--fields",
    type=FIELDS,
    metavar="A,B,...",
    help="Columns to show (comma list, or 'all'; Parquet and Arrow default to all).",
)
def jobs(
    paths: tuple[str, ...], read: ReadArgs, state: Any, selection: Any, out: Any, fields: tuple[str, ...] | None
) -> None:
    """One row per job with its current state, ordered by creation time.

    Fields: id, job_type, model, status, created_at, modified_at, first_seen, last_seen,
    observations, fine_tuned_model, trained_tokens, cost, cost_currency, checkpoint_step,
    checkpoint_at, train_loss, valid_loss, valid_mean_token_accuracy, integrations,
    queue_wait, run_time, total.

    \b
    Example:
        jobstream jobs jobs.ndjson --status RUNNING --fields id,model,checkpoint_step,train_loss
    """
    _export("jobs", paths, read, selection, out, fields=fields, state=state)


@cli.command()
@paths_argument
@read_options
@state_options
@selection_options
@output_options(("table", "json", "ndjson", "csv", "parquet", "arrow"), "ndjson")
@click.option(
    "--new",
    is_flag=True,
    help="With --state: only the changes read since the last --new run with that state (a change "
    "logged late included), each once.",
)
def events(paths: tuple[str, ...], read: ReadArgs, state: Any, selection: Any, out: Any, new: bool) -> None:
    """Status changes (QUEUED -> RUNNING -> SUCCESS ...) of every job, by time then job id.

    Rows: job_id, job_type, model, from_status, to_status, at.  --status matches to_status;
    --since/--until match the time of the change.  --new --state FILE prints only the
    changes no earlier --new run with FILE printed: the nightly alert.

    \b
    Example:
        jobstream events jobs.ndjson --status FAILED --since 2025-01-01 -o failures.csv
        jobstream events logs/ --state /var/lib/jobstream/alerts.state --new --status FAILED
    """
    if new and state is None:
        raise click.BadParameter("goes with --state FILE (the state remembers what was printed)", param_hint="--new")
    _export("events", paths, read, selection, out, state=state, new=new)


@cli.command()
@paths_argument
@read_options
@state_options
@selection_options
@output_options(("table", "json", "ndjson", "csv", "parquet", "arrow"), "ndjson")
def checkpoints(paths: tuple[str, ...], read: ReadArgs, state: Any, selection: Any, out: Any) -> None:
    """Training curves: one row per job and checkpoint step, metrics merged across polls.

    Rows: job_id, step, created_at, train_loss, valid_loss, valid_mean_token_accuracy, for
    the jobs the filters select (as `jobs` selects them), by job then step.  The API fills
    a checkpoint's metrics over several polls; each metric is its newest reported value, and
    a validation loss of 0.0 (not evaluated at that step) is empty.

    \b
    Example:
        jobstream checkpoints jobs.ndjson --job ftjob-123 -o curve.csv
    """
    _export("checkpoints", paths, read, selection, out, state=state)


@cli.command()
@paths_argument
@read_options
@selection_options
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(),
    metavar="PATH",
    help="The HTML file to write (or, with --format png|svg, the directory for the chart files).",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["html", "png", "svg"]),
    default="html",
    show_default=True,
    help="One self-contained HTML report, or the charts as image files.",
)
@click.option("--title", help="The report's title [default: Fine-tuning jobs].")
@click.option(
    "--max-jobs",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Jobs on the timeline (the newest; the other figures count every job).",
)
def report(
    paths: tuple[str, ...], read: ReadArgs, selection: Any, output: str, fmt: str, title: str | None, max_jobs: int
) -> None:
    """An HTML report with charts: timeline, outcomes per day, durations, cost, training curves.

    One self-contained file (no network needed to view it) that cron can publish or mail;
    needs the report extra: pip install 'jobstream[report]'.  --format png|svg writes the
    same charts as image files into the directory -o names.

    \b
    Example:
        jobstream report logs/ -o report.html
        jobstream report logs/ --model open-mistral-7b --format png -o charts/
    """
    from ..exports import report as run_report

    rejects = _Rejects(echo_each=False, limit=read.options.max_rejects)
    progress = Progress(read.progress)
    try:
        result = run_report(
            _inputs(paths, read),
            output,
            fmt=fmt,
            read=read.options,
            selection=selection,
            title=title,
            max_jobs=max_jobs,
            errors_path=read.errors_path,
            on_reject=rejects,
            on_progress=progress,
            on_total=progress.set_total,
        )
    finally:
        progress.close()
    rejects.summarize(read.errors_path)
    _finish(result, read, rejects)


@cli.command()
@paths_argument
@read_options
@state_options
@click.option("-q", "--quiet", is_flag=True, help="Only the final count on stderr.")
def validate(paths: tuple[str, ...], read: ReadArgs, state: Any, quiet: bool) -> None:
    """Check every line against the full job schema; exit 1 if any line is rejected.

    Each rejected line is printed to stderr as PATH:LINE: reason, then one count line.

    \b
    Example:
        jobstream validate logs/*.ndjson --errors rejects.ndjson
    """
    from ..exports import validate as run_validate

    rejects = _Rejects(echo_each=not quiet)
    progress = Progress(read.progress)
    try:
        result = run_validate(
            _inputs(paths, read, state),
            read=read.options,
            errors_path=read.errors_path,
            on_reject=rejects,
            on_progress=progress,
            on_total=progress.set_total,
            state=state,
        )
    except InvalidLineError:
        if quiet:
            raise
        Verdict.fail()  # the line was shown as it was rejected
        raise click.ClickException("stopped at the first rejected line (--strict)") from None
    finally:
        progress.close()
    for message in result.warnings:
        warn(message)
    for message in result.problems:
        Verdict.fail()
        say(f"Error: {message}")
    st = result.stats
    say(f"{st.lines} line(s) checked in {st.sources} source(s): {st.accepted} accepted, {st.rejected} rejected")
    if st.failed:
        rejects.fail()
    if st.rejected:
        Verdict.fail()
        sys.exit(1)


@cli.command()
@click.option("--jobs", "n_jobs", type=click.IntRange(min=1), default=100, show_default=True, help="Number of jobs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed: same seed, same bytes.")
@click.option("--camel", is_flag=True, help="camelCase keys, as the TypeScript SDK writes them.")
@click.option(
    "--changes-only",
    is_flag=True,
    help="Log a poll only when the job changed (a low-repeat log: no line repeats an earlier one).",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout (.gz compresses)."
)
def generate(n_jobs: int, seed: int, camel: bool, changes_only: bool, output: str | None) -> None:
    """Write a realistic synthetic snapshot log (deterministic for a seed).

    Jobs of every kind (classifier, completion, legacy FT) and lifecycle, polled while
    they run, with growing events and checkpoints, newest first.

    \b
    Example:
        jobstream generate --jobs 2000 --seed 1 -o bench.ndjson
        jobstream generate --jobs 6600 --seed 1 --changes-only -o low-repeat.ndjson
    """
    from ..generate import write_log, write_log_file  # only this command needs the generator

    if output is None or output == "-":
        with stdout_writer("ndjson") as text:
            write_log(text.buffer, n_jobs, seed, camel, changes_only=changes_only)  # type: ignore[attr-defined]
        return
    n = write_log_file(output, n_jobs, seed, camel, changes_only=changes_only)
    say(f"wrote {n} snapshots of {n_jobs} jobs to {output}")


from .tail import tail  # noqa: E402  (registers the command; its code loads only when it runs)

cli.add_command(tail)


def _stdout_tty() -> bool:
    try:
        return bool(sys.stdout.isatty())
    except (AttributeError, ValueError):
        return False


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: safe streams, then the CLI; exit codes for pipes and signals.

    A finished run leaves with ``os._exit`` once its output is flushed: tearing down a
    large table object by object is work nobody waits for."""
    code: Any = 0
    try:
        prepare_streams()
        cli.main(args=list(argv) if argv is not None else None, prog_name="jobstream", standalone_mode=False)
    except click.exceptions.Abort:  # click's name for a KeyboardInterrupt in a prompt or command
        _interrupted(EXIT_INTERRUPT)
    except click.ClickException as exc:
        code = exc.exit_code
        with contextlib.suppress(OSError, ValueError):  # stderr closed: the exit code still says it
            _show(exc)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:
        _interrupted(EXIT_INTERRUPT)
    except Terminated:
        _interrupted(EXIT_TERMINATED)
    except BrokenPipeError:
        quiet_exit(Verdict.code)
    if code is None:
        code = 0
    elif not isinstance(code, int):
        say(str(code))
        code = 1
    code = code or Verdict.code
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_exit(Verdict.code)
    except (OSError, ValueError):
        pass
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def _show(exc: click.ClickException) -> None:
    """click's error display (usage, hint, "Error: ..."), with the message made safe for a
    terminal: it can quote a file name or an option as typed, escape sequences and all.
    The help that a bare ``jobstream`` shows (click 8.2+ raises it as an error) is ours: as is."""
    from ..out.sinks import printable

    help_shown = getattr(click.exceptions, "NoArgsIsHelpError", ())
    if isinstance(exc, help_shown):
        exc.show()
        return
    message = exc.format_message
    exc.format_message = lambda: printable(message())  # type: ignore[method-assign]
    exc.show()


def _interrupted(code: int) -> None:
    """Leave after Ctrl-C or SIGTERM: a second one while leaving (a key pressed twice, a
    supervisor's repeated TERM) must not break into the message with a traceback."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            signal.signal(sig, signal.SIG_IGN)
    try:
        note("interrupted" if code == EXIT_INTERRUPT else "terminated")
    except (OSError, ValueError, AttributeError):  # stderr closed, or gone
        pass
    sys.exit(code)
