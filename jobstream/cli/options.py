"""Option groups shared by the commands, each folded into one value the library takes.

``@read_options`` gives a :class:`ReadArgs` (the library's
:class:`~jobstream.run.reader.ReadOptions` plus the CLI's ``--errors``/``--no-progress``),
``@selection_options`` a :class:`~jobstream.reduce.filters.Selection` and ``@output_options`` an
:class:`~jobstream.out.sinks.Output`.  Option values are parsed by click ``ParamType``\\ s, so a
bad ``--since`` or ``--fields`` is a usage error naming its option.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..columns import JOB_FIELDS, format_for
from ..io.framing import DEFAULT_MAX_LINE_BYTES
from ..times import TIME_HELP, parse_time, split_list
from .runtime import closed

if TYPE_CHECKING:  # the library's values are imported when a command runs, not at start-up
    from ..exports import StateOptions
    from ..out.sinks import Output
    from ..reduce.filters import Selection
    from ..run.reader import ReadOptions

__all__ = [
    "ReadArgs",
    "read_options",
    "selection_options",
    "output_options",
    "state_options",
    "paths_argument",
    "input_paths",
    "TIME",
    "FIELDS",
    "COLOR_OPTION",
]

F = TypeVar("F", bound=Callable[..., Any])


if TYPE_CHECKING:  # generic in the click that CI type-checks against, not in every click we accept
    _ParamType = click.ParamType[Any, Any]
else:
    _ParamType = click.ParamType


class TimeType(_ParamType):
    """``--since``/``--until``: dates, relative times and unix seconds.

    See :func:`~jobstream.reduce.filters.parse_time`."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_time(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class FieldsType(_ParamType):
    """``--fields a,b,c`` or ``all``: the job table's columns, checked against :data:`JOB_FIELDS`."""

    name = "fields"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        if str(value).strip() == "all":
            return JOB_FIELDS
        fields = tuple(split_list([str(value)]))
        if not fields:
            self.fail("name at least one field", param, ctx)
        bad = [f for f in fields if f not in JOB_FIELDS]
        if bad:
            self.fail(f"unknown field(s) {', '.join(bad)}; choose from {', '.join(JOB_FIELDS)} (or 'all')", param, ctx)
        return fields


class DaskAddressType(_ParamType):
    """``--dask``: a scheduler address (``tcp://host:8786``), or ``local`` / ``local:N``."""

    name = "address"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        where, _, n = text.partition(":")
        if where == "local" and n and (not n.isdigit() or int(n) < 1):
            self.fail(f"local:N needs a positive number of worker processes, not {n!r}", param, ctx)
        if not text:
            self.fail("give a scheduler address (tcp://host:8786) or local / local:N", param, ctx)
        return text


TIME = TimeType()
FIELDS = FieldsType()
DASK_ADDRESS = DaskAddressType()


def _group(
    name: str, build: Callable[..., Any], options: Sequence[Callable[[F], F]], keys: Sequence[str]
) -> Callable[[F], F]:
    """A decorator adding *options* whose values (*keys*) reach the command as one value, *name*."""

    def deco(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs[name] = build(**{k: kwargs.pop(k) for k in keys})
            return f(*args, **kwargs)

        for opt in reversed(options):
            wrapper = opt(wrapper)
        return wrapper  # type: ignore[return-value]

    return deco


def paths_argument(f: F) -> F:
    # no readable= check: an unreadable input is a data problem (exit 1, reported with the others), not usage
    return click.argument("paths", nargs=-1, type=click.Path(readable=False), metavar="[PATH]...")(f)


def input_paths(paths: Sequence[str]) -> list[str]:
    """No PATH means stdin when something is piped or redirected in (a pipe, a socket, a file);
    a terminal, /dev/null (cron, CI with an unset variable) or a closed stdin gets a hint."""
    if paths:
        return list(paths)
    if not _stdin_has_data():
        ctx = click.get_current_context()
        raise click.UsageError(
            "no input: give PATH (files, directories, globs, .gz) or pipe NDJSON in, e.g. "
            f"`cat jobs.ndjson | jobstream {ctx.info_name}`",
            ctx=ctx,
        )
    return ["-"]


def _stdin_has_data() -> bool:
    import stat
    import sys

    try:
        if closed("stdin") or sys_stdin_isatty():
            return False
    except (AttributeError, ValueError):
        return False
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (AttributeError, ValueError, OSError):  # an in-memory stream (embedding, tests): it was handed over
        return True
    return not stat.S_ISCHR(mode)  # /dev/null: nothing was handed over


def sys_stdin_isatty() -> bool:
    import sys

    return bool(sys.stdin.isatty())


@dataclass(frozen=True)
class ReadArgs:
    """How to read, as the CLI takes it: the library's options, the rejects file, the progress bar."""

    options: ReadOptions
    errors_path: str | None = None
    progress: bool = True


def _read_args(
    errors_path: str | None,
    strict: bool,
    workers: int | None,
    max_line_bytes: int,
    max_rejects: int | None,
    no_progress: bool,
    dask: str | None,
) -> ReadArgs:
    if errors_path == "-":
        raise click.BadParameter("needs a file name ('-' is not one: stdout carries the data)", param_hint="--errors")
    from ..run.reader import ReadOptions

    opts = ReadOptions(
        max_line_bytes=max_line_bytes, workers=workers, strict=strict, max_rejects=max_rejects, dask=dask
    )
    return ReadArgs(opts, errors_path, not no_progress)


_ERRORS_OPTION = click.option(
    "--errors",
    "errors_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write rejected lines as NDJSON {source,line,offset,error,raw} to FILE (atomically).",
)
_MAX_LINE_OPTION = click.option(
    "--max-line-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_LINE_BYTES,
    show_default=True,
    help="Reject lines longer than this many bytes (they are skipped without being held).",
)

read_options = _group(
    "read",
    _read_args,
    [
        _ERRORS_OPTION,
        click.option("--strict", is_flag=True, help="Stop at the first rejected line, exit 1."),
        click.option(
            "--max-rejects",
            type=click.IntRange(min=0),
            metavar="N",
            help="Exit 1 when more than N lines are rejected (the output is still written).",
        ),
        click.option(
            "-j",
            "--workers",
            type=click.IntRange(min=1),
            default=None,
            help="Worker processes for large inputs [default: one per core; 1 for stdin and small inputs].",
        ),
        _MAX_LINE_OPTION,
        click.option("--no-progress", is_flag=True, help="Never show the progress line (shown on a terminal only)."),
        click.option(
            "--dask",
            type=DASK_ADDRESS,
            metavar="ADDRESS",
            help="Read and fold on a Dask cluster: its scheduler (tcp://host:8786), or local[:N] to start "
            "N worker processes here for the run (extra: pip install 'jobstream[dask]'). "
            "The workers must be able to read the inputs.",
        ),
    ],
    ["errors_path", "strict", "max_rejects", "workers", "max_line_bytes", "no_progress", "dask"],
)


def _state(state_path: str | None, reset_state: bool) -> StateOptions | None:
    if state_path is None:
        if reset_state:
            raise click.BadParameter("goes with --state FILE", param_hint="--reset-state")
        return None
    if state_path == "-":
        raise click.BadParameter("needs a file name ('-' is not one)", param_hint="--state")
    from ..exports import StateOptions

    return StateOptions(state_path, reset_state)


STATE_HELP = (
    "Read only what was appended since the last run with FILE, merge it into what FILE keeps, print what "
    "a full run would, and save FILE (atomically, after the output).  The first run reads everything."
)

state_options = _group(
    "state",
    _state,
    [
        click.option("--state", "state_path", type=click.Path(dir_okay=False), metavar="FILE", help=STATE_HELP),
        click.option(
            "--reset-state",
            is_flag=True,
            help="Ignore what --state FILE holds (damaged, or built with other options) and rebuild it.",
        ),
    ],
    ["state_path", "reset_state"],
)


def no_stdin_with_state(paths: Sequence[str], state: Any) -> None:
    """--state resumes files by offset: stdin and pipes have none, so they are a usage error with it."""
    if state is None:
        return
    import stat

    from ..io.sources import is_url

    for p in paths:
        if is_url(p) and not p.startswith("file://"):
            raise click.BadParameter(
                f"--state resumes local files; {p} is remote (read it without --state)", param_hint="PATHS"
            )
        try:
            pipe = p == "-" or stat.S_ISFIFO(os.stat(p).st_mode) or stat.S_ISCHR(os.stat(p).st_mode)
        except OSError:
            pipe = False
        if pipe:
            raise click.BadParameter(
                f"--state reads files, which it can resume; {'stdin' if p == '-' else p} cannot be resumed (a pipe)",
                param_hint="PATHS",
            )


def _selection(
    statuses: tuple[str, ...],
    job_types: tuple[str, ...],
    models: tuple[str, ...],
    job_ids: tuple[str, ...],
    since: int | None,
    until: int | None,
) -> Selection:
    from ..reduce.filters import Selection

    types = split_list(job_types)
    if any(t == "FT" or t.lower() == "ft" for t in types):
        raise click.BadParameter(
            "legacy FT jobs are completion jobs: use --job-type completion", param_hint="--job-type"
        )
    return Selection.of(
        statuses,
        [t.lower() if t.lower() in ("classifier", "completion") else t for t in types],
        models,
        job_ids,
        since,
        until,
    )


selection_options = _group(
    "selection",
    _selection,
    [
        click.option(
            "--status",
            "statuses",
            multiple=True,
            metavar="STATUS[,STATUS]",
            help="Keep jobs (changes) with this status; repeat or give a comma list.",
        ),
        click.option(
            "--job-type",
            "job_types",
            multiple=True,
            metavar="TYPE[,TYPE]",
            help="Keep this job type: classifier, completion (legacy FT jobs are completion jobs).",
        ),
        click.option("--model", "models", multiple=True, metavar="MODEL[,MODEL]", help="Keep this base model."),
        click.option("--job", "job_ids", multiple=True, metavar="ID[,ID]", help="Keep this job id."),
        click.option("--since", type=TIME, metavar="TIME", help=f"From this time on (inclusive): {TIME_HELP}."),
        click.option("--until", type=TIME, metavar="TIME", help="Before this time (exclusive), as --since."),
    ],
    ["statuses", "job_types", "models", "job_ids", "since", "until"],
)


#: ``--color``: statuses coloured in tables (never in machine formats).
COLOR_OPTION = click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour statuses in tables: auto is on a terminal, unless NO_COLOR is set.",
)


def output_options(formats: Sequence[str], default: str) -> Callable[[F], F]:
    """``-f/-o/--no-headers/--iso/--csv-safe/--color`` as one :class:`~jobstream.out.sinks.Output`.

    Without ``-f``, ``-o FILE`` picks the format from FILE's extension (``.csv``, ``.json``,
    ``.ndjson``/``.jsonl``, ``.txt`` for a table, ...); an extension naming a format this
    command does not write is refused.  Otherwise: a table on a terminal, else *default*.
    """

    def build(fmt: str | None, output: str | None, no_headers: bool, iso: bool, csv_safe: bool, color: str) -> Output:
        from ..out.sinks import Output

        if fmt is None:
            by_ext = format_for(output)
            if by_ext is not None and by_ext not in formats:
                raise click.BadParameter(
                    f"{output} asks for {by_ext} by its extension, which this command does not write; "
                    f"choose -f {'/'.join(formats)}",
                    param_hint="-o",
                )
            fmt = by_ext or ("table" if output in (None, "-") and _stdout_is_tty() else default)
        return Output(format=fmt, path=output, headers=not no_headers, iso=iso, csv_safe=csv_safe, color=color)

    return _group(
        "out",
        build,
        [
            click.option(
                "-f",
                "--format",
                "fmt",
                type=click.Choice(list(formats)),
                default=None,
                help=f"Output format [default: from -o's extension; table on a terminal; else {default}].",
            ),
            click.option(
                "-o",
                "--output",
                type=click.Path(dir_okay=False),
                metavar="FILE",
                help="Write to FILE (atomically: a temp file, fsync'd, renamed into place).",
            ),
            click.option("--no-headers", is_flag=True, help="Omit header rows (table, csv)."),
            click.option("--iso", is_flag=True, help="ISO-8601 UTC timestamps in json/ndjson/csv too."),
            click.option(
                "--csv-safe",
                is_flag=True,
                help="Quote CSV cells starting with = + - @ (spreadsheet formula injection).",
            ),
            COLOR_OPTION,
        ],
        ["fmt", "output", "no_headers", "iso", "csv_safe", "color"],
    )


def _stdout_is_tty() -> bool:
    import sys

    try:
        return not closed("stdout") and bool(sys.stdout.isatty())
    except (AttributeError, ValueError):
        return False


def max_line_option(f: F) -> F:
    return _MAX_LINE_OPTION(f)


def errors_option(f: F) -> F:
    """``tail``'s --errors: rejects appended as they come (a followed run has no end to wait for)."""
    return click.option(
        "--errors",
        "errors_path",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="Append rejected lines as NDJSON {source,line,offset,error,raw} to FILE, each as it comes.",
    )(f)


def same_path(a: str, b: str) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)
