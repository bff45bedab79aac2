"""jobstream: turn logs of fine-tuning job snapshots into answers, fast.

    >>> import jobstream
    >>> table = jobstream.fold(jobstream.read("examples/jobs.ndjson"))   # doctest: +SKIP
    >>> table.summary().by_status                                         # doctest: +SKIP

The pipeline is ``source -> framing -> decode -> reduce -> sink``; each stage is a module
(:mod:`~jobstream.io.sources`, :mod:`~jobstream.io.framing`, :mod:`~jobstream.decode.decoder`,
:mod:`~jobstream.reduce.reducer`, :mod:`~jobstream.out.sinks`) and the names below are the public API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# Public names and the module each lives in.  They are imported on first use (PEP 562), so
# ``import jobstream`` (and the CLI's start-up) loads only what a run needs.
_HOMES = {
    "read": "run.reader",
    "Reader": "run.reader",
    "ReadStats": "decode.step",
    "ReadOptions": "run.reader",
    "Reject": "decode.decoder",
    "SnapshotDecoder": "decode.decoder",
    "decode_line": "decode.decoder",
    "encode": "decode.decoder",
    "fold": "reduce.reducer",
    "JobTable": "reduce.reducer",
    "JobState": "reduce.reducer",
    "StatusChange": "reduce.reducer",
    "Observation": "reduce.reducer",
    "CheckpointRow": "reduce.reducer",
    "fold_paths": "run.batch",
    "summarize": "run.batch",
    "FoldResult": "run.batch",
    "validate_paths": "run.batch",
    "Summary": "reduce.summary",
    "Percentiles": "reduce.summary",
    "follow": "run.follow",
    "Follower": "run.follow",
    "State": "run.state",
    "StateTable": "run.state",
    "Update": "run.state",
    "read_from": "run.incremental",
    "OffsetReader": "run.incremental",
    "FileMark": "run.incremental",
    "Status": "decode.models",
    "TERMINAL_STATUSES": "decode.models",
    "Job": "decode.models",
    "ClassifierJob": "decode.models",
    "CompletionJob": "decode.models",
    "LegacyFTJob": "decode.models",
    "OtherJob": "decode.models",
    "JobView": "decode.models",
    "Metric": "decode.models",
    "Checkpoint": "decode.models",
    "Event": "decode.models",
    "JobMetadata": "decode.models",
    "ClassifierTarget": "decode.models",
    "Integration": "decode.models",
    "WandbIntegration": "decode.models",
    "UnknownIntegration": "decode.models",
    "Repository": "decode.models",
    "GithubRepository": "decode.models",
    "UnknownRepository": "decode.models",
    "JobstreamError": "errors",
    "SourceError": "errors",
    "InvalidLineError": "errors",
    "LineError": "errors",
    "OutputError": "errors",
    "StateError": "errors",
    "StateLockedError": "errors",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        try:  # a submodule, as ``jobstream.io.sources`` (also imported on first use)
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError:
            raise AttributeError(f"module 'jobstream' has no attribute {name!r}") from None
    module = importlib.import_module(f".{home}", __name__)
    # bind every public name of that module now: importing it set ``jobstream.<home>`` to
    # the module, which must not hide a function of the same name (``jobstream.run.follow``)
    globals().update({k: getattr(module, k) for k, h in _HOMES.items() if h == home})
    return globals()[name]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


if TYPE_CHECKING:  # what static checkers and IDEs see
    from .decode.decoder import Reject, SnapshotDecoder, decode_line, encode
    from .decode.models import (
        TERMINAL_STATUSES,
        Checkpoint,
        ClassifierJob,
        ClassifierTarget,
        CompletionJob,
        Event,
        GithubRepository,
        Integration,
        Job,
        JobMetadata,
        JobView,
        LegacyFTJob,
        Metric,
        OtherJob,
        Repository,
        Status,
        UnknownIntegration,
        UnknownRepository,
        WandbIntegration,
    )
    from .decode.step import ReadStats
    from .errors import (
        InvalidLineError,
        JobstreamError,
        LineError,
        OutputError,
        SourceError,
        StateError,
        StateLockedError,
    )
    from .reduce.reducer import CheckpointRow, JobState, JobTable, Observation, StatusChange, fold
    from .reduce.summary import Percentiles, Summary
    from .run.batch import FoldResult, fold_paths, summarize
    from .run.follow import Follower, follow
    from .run.incremental import FileMark, OffsetReader, read_from
    from .run.reader import Reader, read
    from .run.state import State, StateTable, Update


__all__ = [
    "__version__",
    # reading
    "read",
    "Reader",
    "ReadStats",
    "Reject",
    "SnapshotDecoder",
    "decode_line",
    "encode",
    # folding
    "fold",
    "fold_paths",
    "summarize",
    "FoldResult",
    # following
    "follow",
    "Follower",
    # incremental runs
    "State",
    "StateTable",
    "Update",
    "read_from",
    "OffsetReader",
    "FileMark",
    "JobTable",
    "JobState",
    "StatusChange",
    "Observation",
    "CheckpointRow",
    "Summary",
    "Percentiles",
    # schema
    "Status",
    "TERMINAL_STATUSES",
    "Job",
    "ClassifierJob",
    "CompletionJob",
    "LegacyFTJob",
    "OtherJob",
    "JobView",
    "Metric",
    "Checkpoint",
    "Event",
    "JobMetadata",
    "ClassifierTarget",
    "Integration",
    "WandbIntegration",
    "UnknownIntegration",
    "Repository",
    "GithubRepository",
    "UnknownRepository",
    # errors
    "JobstreamError",
    "SourceError",
    "InvalidLineError",
    "LineError",
    "OutputError",
    "StateError",
    "StateLockedError",
]
