"""The names of outputs: columns, formats, group keys; constants only (cheap to import).

The command line builds its options from these before anything heavy is imported.
"""

from __future__ import annotations

import os

__all__ = [
    "FORMATS",
    "JOB_FIELDS",
    "DEFAULT_JOB_FIELDS",
    "EVENT_FIELDS",
    "CHECKPOINT_FIELDS",
    "TIME_FIELDS",
    "DURATION_FIELDS",
    "GROUP_KEYS",
    "EXTENSIONS",
    "format_for",
]

FORMATS = ("table", "json", "ndjson", "csv")

#: Every column ``jobs --fields`` can pick, in display order.
JOB_FIELDS = (
    "id",
    "job_type",
    "model",
    "status",
    "created_at",
    "modified_at",
    "first_seen",
    "last_seen",
    "observations",
    "fine_tuned_model",
    "trained_tokens",
    "cost",
    "cost_currency",
    "checkpoint_step",
    "checkpoint_at",
    "train_loss",
    "valid_loss",
    "valid_mean_token_accuracy",
    "integrations",
    "queue_wait",
    "run_time",
    "total",
)
DEFAULT_JOB_FIELDS = (
    "id",
    "job_type",
    "model",
    "status",
    "created_at",
    "modified_at",
    "fine_tuned_model",
    "trained_tokens",
    "cost",
    "cost_currency",
    "checkpoint_step",
    "train_loss",
    "valid_loss",
    "valid_mean_token_accuracy",
)
EVENT_FIELDS = ("job_id", "job_type", "model", "from_status", "to_status", "at")
#: ``jobstream checkpoints``: one row per job and checkpoint step (the training curves).
CHECKPOINT_FIELDS = ("job_id", "step", "created_at", "train_loss", "valid_loss", "valid_mean_token_accuracy")
TIME_FIELDS = frozenset({"created_at", "modified_at", "first_seen", "last_seen", "checkpoint_at", "at"})

#: Durations in seconds: ``table`` shows them for people (``26.6m``), machine formats as seconds.
DURATION_FIELDS = frozenset({"queue_wait", "run_time", "total"})

#: What ``summary --by`` can group on.
GROUP_KEYS = ("model", "job_type", "status", "day")

#: Output formats by file extension, for ``-o FILE`` without ``-f``.
EXTENSIONS = {
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".csv": "csv",
    ".txt": "table",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
    ".prom": "prom",
}


def format_for(path: str | None) -> str | None:
    """The format a file name asks for by its extension (``.csv`` -> ``csv``), or None."""
    if not path or path == "-":
        return None
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())
