"""The exports as library calls: read, fold, select and write in one call per command.

``jobstream summary|jobs|events`` are :func:`export` with a different *what*; ``validate``
is :func:`validate`.  The CLI only parses options into the values these take
(:class:`~jobstream.run.reader.ReadOptions`, :class:`~jobstream.reduce.filters.Selection`,
:class:`~jobstream.out.sinks.Output`) and maps the result to messages and exit codes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .decode.decoder import Model, Reject
from .decode.step import ReadStats
from .errors import OutputError
from .io.sources import PathArg, Source, display_name, expand_sources
from .out.sinks import (
    CHECKPOINT_FIELDS,
    DEFAULT_JOB_FIELDS,
    EVENT_FIELDS,
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
    "report",
    "validate",
    "ExportResult",
    "StateOptions",
    "EXPORTS",
    "BINARY_FORMATS",
    "REPORT_FORMATS",
]

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
    if output is not None and output.path not in (None, "-") and errors_path is not None:
        if os.path.abspath(output.path) == os.path.abspath(errors_path) or (
            os.path.exists(errors_path) and os.path.exists(output.path) and os.path.samefile(errors_path, output.path)
        ):
            raise OutputError(f"--errors and -o name the same file {errors_path}: the rejects would be overwritten")


class _Tee:
    """A reject callback that records into a :class:`RejectWriter` and tells a second callback."""

    def __init__(self, writer: RejectWriter, also: Callable[[Reject], Any]) -> None:
        self.writer = writer
        self.also = also

    def __call__(self, rej: Reject) -> None:
        self.writer(rej)
        self.also(rej)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.writer, name)


def _fold(
    sources: Sequence[Source],
    read: ReadOptions,
    model: Any,
    on_reject: Callable[[Reject], Any],
    on_progress: Callable[[int], Any] | None,
) -> Any:
    """Read and fold *sources* here (:func:`~jobstream.run.batch.fold_paths`) or on the Dask
    cluster ``read.dask`` names (:func:`jobstream.run.dask.fold`): the same table, stats and rejects."""
    if read.dask is None:
        return fold_paths(
            sources,
            model=model,
            strict=read.strict,
            on_reject=on_reject,
            on_progress=on_progress,
            workers=read.workers,
            max_line_bytes=read.max_line_bytes,
        )
    dask = _dask()
    with dask.connect(read.dask) as client:
        return dask.fold(
            sources,
            client,
            model=model,
            strict=read.strict,
            on_reject=on_reject,
            on_progress=on_progress,
            max_line_bytes=read.max_line_bytes,
        )


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
    read: ReadOptions = ReadOptions(),
    selection: Selection = Selection(),
    output: Output = Output(),
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
    if state is not None:
        from .run.state import State

        with State.load(state.path, model=model, max_line_bytes=read.max_line_bytes, reset=state.reset) as st:
            with RejectWriter(errors_path, protect=_protected(sources)) as rejects:
                callback: Callable[[Reject], Any] = rejects if on_reject is None else _Tee(rejects, on_reject)
                update = st.update(sources, workers=read.workers, strict=read.strict)
                for rej in update.rejects:
                    callback(rej)
            result = ExportResult(update.stats, rejects=rejects, read=update.read, warnings=list(update.warnings))
            if st.recovered:
                result.problems.append(st.recovered)
            changes = st.new_changes(selection) if new else None
            _write(what, update.table, result, sources, selection, output, fmt, by, fields, stdout, changes)
            st.save()  # after the output: a crash before this line repeats the run, never skips it
        return result
    if on_total is not None:
        on_total(total_size(sources))
    with RejectWriter(errors_path, protect=_protected(sources)) as rejects:
        callback = rejects if on_reject is None else _Tee(rejects, on_reject)
        table, stats = _fold(sources, read, model, callback, on_progress)
    result = ExportResult(stats, rejects=rejects)
    _write(what, table, result, sources, selection, output, fmt, by, fields, stdout, None)
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
            write_prometheus_file(summ, stats, output.path, protect=protect)  # type: ignore[arg-type]
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
    read: ReadOptions = ReadOptions(),
    selection: Selection = Selection(),
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

    charts._mpl()
    sources = expand_sources(paths)
    _check_outputs(sources, Output(path=out_path) if fmt == "html" else None, errors_path)
    if on_total is not None:
        on_total(total_size(sources))
    with RejectWriter(errors_path, protect=_protected(sources)) as rejects:
        callback: Callable[[Reject], Any] = rejects if on_reject is None else _Tee(rejects, on_reject)
        table, stats = _fold(sources, read, "view", callback, on_progress)
    result = ExportResult(stats, rejects=rejects)
    result.warnings = selection.unmatched(table.statuses(), table.job_types())
    jobs = None if selection.empty else selection.jobs(table.jobs())
    if fmt == "html":
        charts.write_report(
            table, stats, out_path, title=title, jobs=jobs, max_jobs=max_jobs, protect=_protected(sources)
        )
        result.rows = 1
    else:
        result.rows = len(charts.write_charts(table, stats, out_path, fmt, jobs=jobs, max_jobs=max_jobs))
    return result


def validate(
    paths: PathArg | Iterable[PathArg],
    *,
    read: ReadOptions = ReadOptions(),
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
    if state is not None:
        from .run.state import State

        with State.load(state.path, validate=True, max_line_bytes=read.max_line_bytes, reset=state.reset) as st:
            with RejectWriter(errors_path, protect=_protected(sources)) as rejects:
                callback: Callable[[Reject], Any] = rejects if on_reject is None else _Tee(rejects, on_reject)
                update = st.update(sources, workers=read.workers, strict=read.strict)
                for rej in update.rejects:
                    callback(rej)
            result = ExportResult(update.stats, rejects=rejects, read=update.read, warnings=list(update.warnings))
            if st.recovered:
                result.problems.append(st.recovered)
            st.save()
        return result
    if on_total is not None:
        on_total(total_size(sources))
    with RejectWriter(errors_path, protect=_protected(sources)) as rejects:
        callback = rejects if on_reject is None else _Tee(rejects, on_reject)
        if read.dask is None:
            stats = validate_paths(
                sources,
                strict=read.strict,
                on_reject=callback,
                on_progress=on_progress,
                workers=read.workers,
                max_line_bytes=read.max_line_bytes,
            )
        else:
            dask = _dask()
            with dask.connect(read.dask) as client:
                stats = dask.validate(
                    sources,
                    client,
                    strict=read.strict,
                    on_reject=callback,
                    on_progress=on_progress,
                    max_line_bytes=read.max_line_bytes,
                )
    return ExportResult(stats, rejects=rejects)
