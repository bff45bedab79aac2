"""jobstream: turn logs of fine-tuning job snapshots into answers, fast.

    >>> import jobstream
    >>> table = jobstream.fold(jobstream.read("examples/jobs.ndjson"))   # doctest: +SKIP
    >>> table.summary().by_status                                         # doctest: +SKIP

The pipeline is ``source -> framing -> decode -> reduce -> sink``; each stage is a module
(:mod:`~jobstream.sources`, :mod:`~jobstream.framing`, :mod:`~jobstream.decoder`,
:mod:`~jobstream.reducer`, :mod:`~jobstream.sinks`) and the names below are the public API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public names and the module each lives in.  They are imported on first use (PEP 562), so
# ``import jobstream`` (and the CLI's start-up) loads only what a run needs.
_HOMES = {
    "read": "reader", "Reader": "reader", "ReadStats": "reader", "ReadOptions": "reader",
    "Reject": "decoder", "SnapshotDecoder": "decoder", "decode_line": "decoder", "encode": "decoder",
    "fold": "reducer", "JobTable": "reducer", "JobState": "reducer", "StatusChange": "reducer",
    "Observation": "reducer", "CheckpointRow": "reducer",
    "fold_paths": "pipeline", "summarize": "pipeline", "FoldResult": "pipeline", "validate_paths": "pipeline",
    "Summary": "summary", "Percentiles": "summary",
    "follow": "follow", "Follower": "follow",
    "State": "state", "StateTable": "state", "Update": "state",
    "read_from": "incremental", "OffsetReader": "incremental", "FileMark": "incremental",
    "Status": "models", "TERMINAL_STATUSES": "models", "Job": "models", "ClassifierJob": "models",
    "CompletionJob": "models", "LegacyFTJob": "models", "OtherJob": "models", "JobView": "models",
    "Metric": "models", "Checkpoint": "models", "Event": "models", "JobMetadata": "models",
    "ClassifierTarget": "models", "Integration": "models", "WandbIntegration": "models",
    "UnknownIntegration": "models", "Repository": "models", "GithubRepository": "models",
    "UnknownRepository": "models",
    "JobstreamError": "errors", "SourceError": "errors", "InvalidLineError": "errors", "LineError": "errors",
    "OutputError": "errors", "StateError": "errors", "StateLockedError": "errors",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        try:  # a submodule, as ``jobstream.sources`` (also imported on first use)
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError:
            raise AttributeError(f"module 'jobstream' has no attribute {name!r}") from None
    module = importlib.import_module(f".{home}", __name__)
    # bind every public name of that module now: importing it set ``jobstream.<home>`` to
    # the module, which must not hide a function of the same name (``jobstream.follow``)
    globals().update({k: getattr(module, k) for k, h in _HOMES.items() if h == home})
    return globals()[name]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


if TYPE_CHECKING:  # what static checkers and IDEs see
    from .decoder import Reject, SnapshotDecoder, decode_line, encode
    from .errors import InvalidLineError, JobstreamError, LineError, OutputError, SourceError, StateError, \
        StateLockedError
    from .incremental import FileMark, OffsetReader, read_from
    from .state import State, StateTable, Update
    from .models import (
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
    from .follow import Follower, follow
    from .pipeline import FoldResult, fold_paths, summarize
    from .reader import Reader, ReadStats, read
    from .reducer import CheckpointRow, JobState, JobTable, Observation, StatusChange, fold
    from .summary import Percentiles, Summary



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
