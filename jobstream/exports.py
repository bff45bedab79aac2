"""The exports as library calls: read, fold, select and write in one call per command.

``jobstream summary|jobs|events`` are :func:`export` with a different *what*; ``validate``
is :func:`validate`.  The CLI only parses options into the values these take
(:class:`~jobstream.run.reader.ReadOptions`, :class:`~jobstream.reduce.filters.Selection`,
:class:`~jobstream.out.sinks.Output`) and maps the result to messages and exit codes.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Any

from .columns import CHECKPOINT_FIELDS, DEFAULT_JOB_FIELDS, EVENT_FIELDS
from .decode.decoder import Model, Reject
from .decode.step import ReadStats
from .errors import OutputError
from .io.framing import DEFAULT_MAX_LINE_BYTES
from .io.sources import PathArg, Source, display_name, expand_sources
from .out.sinks import (
    Output,
    RejectWriter,
    checkpoint_row,
    event_row,
    job_row,
    open_output,
    write_rows,
    write_summary,
)
from .reduce.filters import Selection
from .run.batch import fold_paths, validate_paths
from .run.reader import ReadOptions

__all__ = [
    "export",
    "tail",
    "TailResult",
    "report",
    "validate",
    "ExportResult",
    "StateOptions",
    "EXPORTS",
    "BINARY_FORMATS",
    "REPORT_FORMATS",
]

#: The defaults of the calls below: each option as the command line has it when none is given.
DEFAULT_READ = ReadOptions()
EVERYTHING = Selection()
DEFAULT_OUTPUT = Output()
#: What :func:`export` can write, and the format each writes when none is chosen.
EXPORTS = {"summary": "json", "jobs": "ndjson", "events": "ndjson", "checkpoints": "ndjson"}
#: Formats written as bytes (never to a terminal), through the ``parquet`` extra (pyarrow).
BINARY_FORMATS = ("parquet", "arrow")


@dataclass
class ExportResult:
    """What a run read (``stats``), how many rows it wrote, and warnings for the user.

    With a state, ``stats`` is what a full run over all the input would count, ``read`` what
    this run read, and ``problems`` what must fail the run once its output is written (a
    damaged state that its previous generation stood in for)."""

    stats: ReadStats
    rows: int = 0
    warnings: list[str] = field(default_factory=list)
    rejects: RejectWriter | None = None
    read: ReadStats | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StateOptions:
    """``--state FILE`` (and ``--reset-state``): read only what is new since the last run with
    this state, and save it after the output is written (see :mod:`jobstream.run.state`)."""

    path: str
    reset: bool = False


def total_size(sources: Sequence[Source]) -> int | None:
    """Bytes on disk of every input (compressed size for .gz), None when one is a pipe or stdin."""
    total = 0
    for src in sources:
        size = src.size()
        if size is None:
            return None
        total += size
    return total


def _protected(sources: Sequence[Source]) -> list[str]:
    return [s.name for s in sources if not s.is_stdin]


def _check_outputs(
    sources: Sequence[Source], output: Output | None, errors_path: str | None, state: StateOptions | None = None
) -> None:
    """Refuse, before anything is read, outputs that would destroy an input or each other."""
    targets = [(errors_path, "--errors")]
    if output is not None:
        targets.append((output.path, "-o"))
    if state is not None:
        targets.append((state.path, "--state"))
        for path, option in targets[:-1]:
            if path not in (None, "-") and any(
                os.path.abspath(path) == os.path.abspath(state.path + suffix) for suffix in ("", ".prev", ".lock")
            ):
                raise OutputError(f"{option} and --state name the same file {display_name(path)}")
    for path, option in targets:
        if path is None or path == "-":
            continue
        for src in sources:
            if src.same_file(path):
                raise OutputError(f"refusing to overwrite input file {path} ({option})")
    if (
        output is not None
        and output.path not in (None, "-")
        and errors_path is not None
        and (
            os.path.abspath(output.path) == os.path.abspath(errors_path)
            or (
                os.path.exists(errors_path)
                and os.path.exists(output.path)
                and os.path.samefile(errors_path, output.path)
            )
        )
    ):
        raise OutputError(f"--errors and -o name the same file {errors_path}: the rejects would be overwritten")


class _Tee:
    """A reject callback that tells a second callback, then records into a :class:`RejectWriter`
    (shown first: a rejects file that cannot be written does not hide the line it failed on)."""

    def __init__(self, writer: RejectWriter, also: Callable[[Reject], Any]) -> None:
        self.writer = writer
        self.also = also

    def __call__(self, rej: Reject) -> None:
        self.also(rej)
        self.writer(rej)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.writer, name)


def _read_here(
    sources: Sequence[Source],
    read: ReadOptions,
    model: Model | None,
    on_reject: Callable[[Reject], Any],
    on_progress: Callable[[int], Any] | None,
) -> tuple[Any, ReadStats]:
    """Read *sources* and fold them with *model* (None: only check every line against the full
    schema), in this machine's processes (:mod:`jobstream.run.batch`) or on the Dask cluster
    ``read.dask`` names (:mod:`jobstream.run.dask`): the same table, stats and rejects."""
    kwargs: dict[str, Any] = dict(
        strict=read.strict, on_reject=on_reject, on_progress=on_progress, max_line_bytes=read.max_line_bytes
    )
    if read.dask is None:
        if model is None:
            return None, validate_paths(sources, workers=read.workers, **kwargs)
        folded = fold_paths(sources, model=model, workers=read.workers, **kwargs)
        return folded.table, folded.stats
    dask = _dask()
    with dask.connect(read.dask) as client:
        if model is None:
            return None, dask.validate(sources, client, **kwargs)
        table, stats = dask.fold(sources, client, model=model, **kwargs)
        return table, stats


@contextlib.contextmanager
def _reading(
    sources: Sequence[Source],
    read: ReadOptions,
    model: Model | None,
    *,
    errors_path: str | None,
    on_reject: Callable[[Reject], Any] | None,
    on_progress: Callable[[int], Any] | None,
    on_total: Callable[[int | None], Any] | None,
    state: StateOptions | None = None,
) -> Iterator[tuple[Any, ExportResult, Any]]:
    """The read behind every command: *sources* folded with *model* (None: checked only), rejects
    to *errors_path* and *on_reject*.  Yields ``(table, result, state)``: with a *state*, only
    what is new since its last run is read, the table is the state's (a full run's answer),
    and the state is saved when the block ends without an error (after the output: a crash
    before that repeats the run, never skips it)."""
    protect = _protected(sources)
    if state is None:
        if on_total is not None:
            on_total(total_size(sources))
        with RejectWriter(errors_path, protect=protect) as rejects:
            table, stats = _read_here(sources, read, model, _tee(rejects, on_reject), on_progress)
        yield table, ExportResult(stats, rejects=rejects), None
        return
    from .run.state import State

    with State.load(
        state.path,
        model=model or "lean",
        validate=model is None,
        max_line_bytes=read.max_line_bytes,
        reset=state.reset,
    ) as st:
        with RejectWriter(errors_path, protect=protect) as rejects:
            callback = _tee(rejects, on_reject)
            update = st.update(sources, workers=read.workers, strict=read.strict)
            for rej in update.rejects:
                callback(rej)
        result = ExportResult(update.stats, rejects=rejects, read=update.read, warnings=list(update.warnings))
        if st.recovered:
            result.problems.append(st.recovered)
        yield update.table, result, st
        st.save()


def _tee(writer: RejectWriter, also: Callable[[Reject], Any] | None) -> Callable[[Reject], Any]:
    return writer if also is None else _Tee(writer, also)


def _dask() -> Any:
    """:mod:`jobstream.run.dask`, or an ImportError naming the extra it needs."""
    try:
        from .run import dask
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("dask", "distributed"):
            raise
        raise ImportError("--dask needs the dask extra: pip install 'jobstream[dask]'") from None
    return dask


def export(
    what: str,
    paths: PathArg | Iterable[PathArg],
    *,
    read: ReadOptions = DEFAULT_READ,
    selection: Selection = EVERYTHING,
    output: Output = DEFAULT_OUTPUT,
    by: str | None = None,
    fields: Sequence[str] | None = None,
    errors_path: str | None = None,
    on_reject: Callable[[Reject], Any] | None = None,
    on_progress: Callable[[int], Any] | None = None,
    on_total: Callable[[int | None], Any] | None = None,
    stdout: IO[str] | None = None,
    state: StateOptions | None = None,
    new: bool = False,
) -> ExportResult:
    """Read *paths*, fold them, and write the *what* (``summary``, ``jobs``, ``events``, ``checkpoints``).

    Formats: ``table``, ``json``, ``ndjson``, ``csv``; ``parquet`` and ``arrow`` (the
    ``parquet`` extra); ``prom`` for the summary (Prometheus text exposition).

    *fields* are the ``jobs`` columns: by default :data:`~jobstream.columns.DEFAULT_JOB_FIELDS`
    in text formats and every column in Parquet and Arrow.

    The output goes to ``output.path`` (atomically) or to *stdout*; rejected lines to
    *errors_path* (NDJSON, atomically) and to *on_reject*.  Inputs are expanded once, and
    an output that names an input (or ``--errors`` and ``-o`` the same file) is refused
    before anything is read.  Returns what was read and written, with warnings (a filter
    value that can never match).  Raises :class:`~jobstream.errors.InvalidLineError` under
    ``read.strict``, :class:`~jobstream.errors.SourceError` for inputs that name nothing.

    With *state*, only what is new since the last run with that state is read; the output is
    what a full run over all the input would write, and the state is saved after it.  *new*
    (events only) writes just the changes no earlier ``new`` run with the state wrote.
    """
    if what not in EXPORTS:
        raise ValueError(f"cannot export {what!r}: choose one of {', '.join(EXPORTS)}")
    if new and (what != "events" or state is None):
        raise ValueError("new=True hands out the events not handed out before: it needs what='events' and a state")
    sources = expand_sources(paths)
    _check_outputs(sources, output, errors_path, state)
    fmt = output.format or EXPORTS[what]
    model: Model = "view" if what in ("jobs", "checkpoints") else "lean"
    with _reading(
        sources,
        read,
        model,
        errors_path=errors_path,
        on_reject=on_reject,
        on_progress=on_progress,
        on_total=on_total,
        state=state,
    ) as (table, result, st):
        changes = st.new_changes(selection) if new else None
        _write(what, table, result, sources, selection, output, fmt, by, fields, stdout, changes)
    return result


def _write(
    what: str,
    table: Any,
    result: ExportResult,
    sources: Sequence[Source],
    selection: Selection,
    output: Output,
    fmt: str,
    by: str | None,
    fields: Sequence[str] | None,
    stdout: IO[str] | None,
    changes: list[Any] | None,
) -> None:
    """Write the *what* of *table* (a :class:`JobTable`, or a state's); *changes*, when given,
    are the events to write instead of every one (``events --new``)."""
    stats = result.stats
    if selection.statuses or selection.job_types:
        result.warnings += selection.unmatched(table.statuses(), table.job_types())
    protect = _protected(sources)
    jobs = None  # every job: a selection of them only where one is asked for
    if what == "jobs" or (what in ("summary", "checkpoints") and not selection.empty):
        jobs = selection.jobs(table.jobs(light=what != "jobs" or fmt in BINARY_FORMATS))
    if fmt in BINARY_FORMATS:
        result.rows = _write_arrow(what, table, jobs, selection, by, fmt, output, protect, stdout, changes, fields)
        return
    if fmt == "prom":
        from .out.prom import write_prometheus, write_prometheus_file

        summ = table.summary(by=by, jobs=jobs)
        if output.path not in (None, "-"):
            write_prometheus_file(summ, stats, output.path, protect=protect)
        else:
            write_prometheus(summ, stats, stdout if stdout is not None else sys.stdout)
        result.rows = 1
        return
    with open_output(output, fmt, protect=protect, stdout=stdout) as out:
        if what == "summary":
            write_summary(
                table.summary(by=by, jobs=jobs), fmt, out, headers=output.headers, stats=stats, color=output.color
            )
            result.rows = 1
        elif what == "jobs":
            assert jobs is not None
            fields = fields or DEFAULT_JOB_FIELDS
            rows = (job_row(j, fields, iso_times=output.iso) for j in jobs)
            result.rows = write_rows(
                rows, fields, fmt, out, headers=output.headers, csv_safe=output.csv_safe, color=output.color
            )
        elif what == "checkpoints":
            rows = (checkpoint_row(r, iso_times=output.iso) for r in table.checkpoints(jobs))
            result.rows = write_rows(
                rows, CHECKPOINT_FIELDS, fmt, out, headers=output.headers, csv_safe=output.csv_safe, color=output.color
            )
        else:
            chosen = changes if changes is not None else (c for c in table.events() if selection.keep_change(c))
            rows = (event_row(c, iso_times=output.iso) for c in chosen)
            result.rows = write_rows(
                rows, EVENT_FIELDS, fmt, out, headers=output.headers, csv_safe=output.csv_safe, color=output.color
            )


def _write_arrow(
    what: str,
    table: Any,
    jobs: Any,
    selection: Selection,
    by: str | None,
    fmt: str,
    output: Output,
    protect: list[str],
    stdout: IO[str] | None,
    changes: list[Any] | None = None,
    fields: Sequence[str] | None = None,
) -> int:
    """Parquet or Arrow IPC, built from columns (see :mod:`jobstream.out.arrow`)."""
    from .out.arrow import events_to_arrow, to_arrow, write_arrow_file

    if what == "events":
        data = events_to_arrow(
            changes if changes is not None else [c for c in table.events() if selection.keep_change(c)]
        )
    else:
        data = to_arrow(table, what, jobs, by=by if what == "summary" else None)
        if what == "jobs" and fields:
            data = data.select(list(fields))
    if output.path not in (None, "-"):
        where: Any = output.path
    else:
        where = getattr(stdout if stdout is not None else sys.stdout, "buffer", None)
        if where is None:
            raise OutputError(f"-f {fmt} writes bytes: give -o FILE")
    write_arrow_file(data, fmt, where, protect=protect)
    return int(data.num_rows)


#: What ``jobstream report`` writes: one HTML file, or the charts as image files in a directory.
REPORT_FORMATS = ("html", "png", "svg")


def report(
    paths: PathArg | Iterable[PathArg],
    out_path: str,
    *,
    fmt: str = "html",
    read: ReadOptions = DEFAULT_READ,
    selection: Selection = EVERYTHING,
    title: str | None = None,
    max_jobs: int = 500,
    errors_path: str | None = None,
    on_reject: Callable[[Reject], Any] | None = None,
    on_progress: Callable[[int], Any] | None = None,
    on_total: Callable[[int | None], Any] | None = None,
) -> ExportResult:
    """Read and fold *paths*, then write the report (``html``: one self-contained file at
    *out_path*) or its charts (``png``/``svg``: files in the directory *out_path*)."""
    if fmt not in REPORT_FORMATS:
        raise ValueError(f"unknown report format {fmt!r}: choose one of {', '.join(REPORT_FORMATS)}")
    from .out import report as charts  # the report extra: imported (and checked) before reading

    charts.require_matplotlib()
    sources = expand_sources(paths)
    _check_outputs(sources, Output(path=out_path) if fmt == "html" else None, errors_path)
    with _reading(
        sources, read, "view", errors_path=errors_path, on_reject=on_reject, on_progress=on_progress, on_total=on_total
    ) as (table, result, _):
        result.warnings = selection.unmatched(table.statuses(), table.job_types())
        jobs = None if selection.empty else selection.jobs(table.jobs())
        if fmt == "html":
            charts.write_report(
                table, result.stats, out_path, title=title, jobs=jobs, max_jobs=max_jobs, protect=_protected(sources)
            )
            result.rows = 1
        else:
            result.rows = len(charts.write_charts(table, result.stats, out_path, fmt, jobs=jobs, max_jobs=max_jobs))
    return result


def validate(
    paths: PathArg | Iterable[PathArg],
    *,
    read: ReadOptions = DEFAULT_READ,
    errors_path: str | None = None,
    on_reject: Callable[[Reject], Any] | None = None,
    on_progress: Callable[[int], Any] | None = None,
    on_total: Callable[[int | None], Any] | None = None,
    state: StateOptions | None = None,
) -> ExportResult:
    """Check every line of *paths* against the full schema; ``jobstream validate`` calls this.

    With *state*, only lines new since the last run with that state are checked; the rejects
    of earlier runs are reported again from the state, so the report is a full run's."""
    sources = expand_sources(paths)
    _check_outputs(sources, None, errors_path, state)
    with _reading(
        sources,
        read,
        None,
        errors_path=errors_path,
        on_reject=on_reject,
        on_progress=on_progress,
        on_total=on_total,
        state=state,
    ) as (_, result, _):
        return result


@dataclass
class TailResult:
    """How :func:`tail` ended: the jobs it waited for (``until_terminal``) with the status each
    ended in (None: never seen), and whether a KeyboardInterrupt cut it short."""

    followed: dict[str, str | None]
    interrupted: bool = False


def tail(
    paths: Sequence[str],
    stdout: IO[str] | Callable[[], AbstractContextManager[IO[str]]],
    *,
    fmt: str = "ndjson",
    headers: bool = True,
    iso_times: bool = False,
    color: str = "auto",
    selection: Selection = EVERYTHING,
    from_start: bool = False,
    until_terminal: bool = False,
    hook: Callable[[Any], Any] | None = None,
    errors_path: str | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    poll: bool = False,
    state: StateOptions | None = None,
    on_reject: Callable[[Reject], Any] | None = None,
    on_notice: Callable[[str], Any] | None = None,
    on_problem: Callable[[str], Any] | None = None,
    on_follow: Callable[[Any], Any] | None = None,
    announce: bool = False,
) -> TailResult:
    """Follow *paths* (files by name through rotation, globs, ``-``) and write each status change
    to *stdout* in *fmt* as it happens (flushed), handing it to *hook* too (``--exec``).
    *stdout* may be a function that opens it (a context manager): it is then opened only once
    the inputs, ``--errors`` and the state have been checked and locked.

    Rejected lines go to *on_reject* and are appended to *errors_path*, which may not be a
    followed file.  With *state*, following resumes where the last run with that state stopped
    and the changes written in between come first, once; the state is saved as changes come
    and at the end.  *on_follow* receives the :class:`~jobstream.run.follow.Follower` before
    following starts (its ``stop()`` is safe from a signal handler); *on_problem* is told of a
    damaged state that its previous generation stood in for; *announce* says on *on_notice*
    when following has begun.  Ends at the end of piped input, on ``stop()``, or (with
    *until_terminal*) once every followed job is in a terminal status."""
    from .out.sinks import EventWriter
    from .run.follow import Follower

    if errors_path is not None:
        for p in paths:
            if Source(p).same_file(errors_path) or (p != "-" and os.path.realpath(errors_path) == os.path.realpath(p)):
                # it would be followed: rejects read back as input, forever
                raise OutputError(f"refusing to write rejects to a followed file {errors_path} (--errors)")
    interrupted = False
    with contextlib.ExitStack() as stack:
        rejects = stack.enter_context(RejectWriter(errors_path, append=True))
        saved = None
        if state is not None:
            from .run.state import State

            saved = stack.enter_context(
                State.load(state.path, model="view", follow=True, max_line_bytes=max_line_bytes, reset=state.reset)
            )
            if saved.recovered and on_problem is not None:
                on_problem(saved.recovered)
        follower = Follower(
            list(paths),
            from_start=from_start,
            selection=selection,
            on_reject=_tee(rejects, on_reject),
            on_notice=on_notice,
            until_terminal=until_terminal,
            watch="poll" if poll else "auto",
            max_line_bytes=max_line_bytes,
            exclude=[errors_path] if errors_path else (),
            state=saved,
        )
        stack.callback(follower.close)
        out = stdout if not callable(stdout) else stack.enter_context(stdout())
        writer = EventWriter(out, fmt, headers=headers, iso_times=iso_times, color=color)
        if on_follow is not None:
            on_follow(follower)
        try:
            writer.start()
            follower.start()
            if announce and on_notice is not None:
                on_notice(f"following {', '.join(paths)} ({len(follower.table)} job(s) known)")
            for change in follower:
                writer.write(change)
                if hook is not None:
                    hook(change)
            writer.close()
            follower.save()  # every change yielded was written: the state may say so
        except KeyboardInterrupt:
            interrupted = True
    return TailResult(follower.feed.followed(), interrupted)
