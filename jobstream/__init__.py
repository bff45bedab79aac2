"""jobstream: turn logs of fine-tuning job snapshots into answers, fast.

    >>> import jobstream
    >>> table = jobstream.fold(jobstream.read("examples/jobs.ndjson"))   # doctest: +SKIP
    >>> table.summary().by_status                                         # doctest: +SKIP

The pipeline is ``source -> framing -> decode -> reduce -> sink``; each stage is a module
(:mod:`~jobstream.sources`, :mod:`~jobstream.framing`, :mod:`~jobstream.decoder`,
:mod:`~jobstream.reducer`, :mod:`~jobstream.sinks`) and the names below are the public API.
"""

from __future__ import annotations

from .decoder import Reject, SnapshotDecoder, decode_line, encode
from .errors import InvalidLineError, JobstreamError, LineError, OutputError, SourceError
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

__version__ = "0.1.0"

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
]
