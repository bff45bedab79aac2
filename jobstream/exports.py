"""The exports as library calls: read, fold, select and write in one call per command.

``jobstream summary|jobs|events`` are :func:`export` with a different *what*; ``validate``
is :func:`validate`.  The CLI only parses options into the values these take
(:class:`~jobstream.reader.ReadOptions`, :class:`~jobstream.filters.Selection`,
:class:`~jobstream.sinks.Output`) and maps the result to messages and exit codes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterable, Optional, Sequence, Union

from .decoder import Reject
from .errors import OutputError
from .filters import Selection
from .pipeline import fold_paths, validate_paths
from .reader import ReadOptions, ReadStats
from .sinks import (
    DEFAULT_JOB_FIELDS,
    EVENT_FIELDS,
    Output,
    RejectWriter,
    event_row,
    job_row,
    open_output,
    write_rows,
    write_summary,
)
from .sources import PathArg, Source, expand_sources

__all__ = ["export", "validate", "ExportResult", "EXPORTS"]

#: What :func:`export` can write, and the format each writes when none is chosen.
EXPORTS = {"summary": "json", "jobs": "ndjson", "events": "ndjson"}


@dataclass
class ExportResult:
    """What a run read (``stats``), how many rows it wrote, and warnings for the user."""

    stats: ReadStats
    rows: int = 0
    warnings: list[str] = field(default_factory=list)
    rejects: Optional[RejectWriter] = None


def total_size(sources: Sequence[Source]) -> Optional[int]:
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


def _check_outputs(sources: Sequence[Source], output: Optional[Output], errors_path: Optional[str]) -> None:
    """Refuse, before anything is read, outputs that would destroy an input or each other."""
    targets = [(errors_path, "--errors")]
    if output is not None:
        targets.append((output.path, "-o"))
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


def export(
    what: str,
    paths: Union[PathArg, Iterable[PathArg]],
    *,
    read: ReadOptions = ReadOptions(),
    selection: Selection = Selection(),
    output: Output = Output(),
    by: Optional[str] = None,
    fields: Sequence[str] = DEFAULT_JOB_FIELDS,
    errors_path: Optional[str] = None,
    on_reject: Optional[Callable[[Reject], Any]] = None,
    on_progress: Optional[Callable[[int], Any]] = None,
    on_total: Optional[Callable[[Optional[int]], Any]] = None,
    stdout: Optional[IO[str]] = None,
) -> ExportResult:
    """Read *paths*, fold them, and write the *what* (``summary``, ``jobs`` or ``events``).

    The output goes to ``output.path`` (atomically) or to *stdout*; rejected lines to
    *errors_path* (NDJSON, atomically) and to *on_reject*.  Inputs are expanded once, and
    an output that names an input (or ``--errors`` and ``-o`` the same file) is refused
    before anything is read.  Returns what was read and written, with warnings (a filter
    value that can never match).  Raises :class:`~jobstream.errors.InvalidLineError` under
    ``read.strict``, :class:`~jobstream.errors.SourceError` for inputs that name nothing.
    """
    if what not in EXPORTS:
        raise ValueError(f"cannot export {what!r}: choose one of {', '.join(EXPORTS)}")
    sources = expand_sources(paths)
    _check_outputs(sources, output, errors_path)
    if on_total is not None:
        on_total(total_size(sources))
    fmt = output.format or EXPORTS[what]
    model = "view" if what == "jobs" else "lean"
    with RejectWriter(errors_path, protect=_protected(sources)) as rejects:
        callback: Callable[[Reject], Any] = rejects if on_reject is None else _Tee(rejects, on_reject)
        folded = fold_paths(sources, model=model, strict=read.strict, on_reject=callback, on_progress=on_progress,
                            workers=read.workers, max_line_bytes=read.max_line_bytes)
    table, stats = folded.table, folded.stats
    result = ExportResult(stats, rejects=rejects)
    result.warnings = selection.unmatched(table.statuses(), table.job_types())
    with open_output(output, fmt, protect=_protected(sources), stdout=stdout) as out:
        if what == "summary":
            jobs = None if selection.empty else selection.jobs(table.jobs(light=True))
            write_summary(table.summary(by=by, jobs=jobs), fmt, out, headers=output.headers, stats=stats)
            result.rows = 1
        elif what == "jobs":
            rows = (job_row(j, fields, iso_times=output.iso) for j in selection.jobs(table.jobs()))
            result.rows = write_rows(rows, fields, fmt, out, headers=output.headers, csv_safe=output.csv_safe)
        else:
            rows = (event_row(c, iso_times=output.iso) for c in table.events() if selection.keep_change(c))
            result.rows = write_rows(rows, EVENT_FIELDS, fmt, out, headers=output.headers, csv_safe=output.csv_safe)
    return result


def validate(
    paths: Union[PathArg, Iterable[PathArg]],
    *,
    read: ReadOptions = ReadOptions(),
    errors_path: Optional[str] = None,
    on_reject: Optional[Callable[[Reject], Any]] = None,
    on_progress: Optional[Callable[[int], Any]] = None,
    on_total: Optional[Callable[[Optional[int]], Any]] = None,
) -> ExportResult:
    """Check every line of *paths* against the full schema; ``jobstream validate`` calls this."""
    sources = expand_sources(paths)
    _check_outputs(sources, None, errors_path)
    if on_total is not None:
        on_total(total_size(sources))
    with RejectWriter(errors_path, protect=_protected(sources)) as rejects:
        callback: Callable[[Reject], Any] = rejects if on_reject is None else _Tee(rejects, on_reject)
        stats = validate_paths(sources, on_reject=callback, on_progress=on_progress, workers=read.workers,
                               max_line_bytes=read.max_line_bytes)
    return ExportResult(stats, rejects=rejects)
