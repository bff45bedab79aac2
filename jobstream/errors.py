"""Errors jobstream raises.  Every one subclasses :class:`JobstreamError`."""

from __future__ import annotations

__all__ = [
    "JobstreamError",
    "SourceError",
    "InvalidLineError",
    "OutputError",
    "StateError",
    "StateLockedError",
    "LineError",
]


class JobstreamError(Exception):
    """Base class: carries where the problem is (``path``, ``lineno``, ``line``) when known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        lineno: int | None = None,
        line: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.lineno = lineno
        self.line = line

    def __str__(self) -> str:
        if self.path is not None and self.lineno is not None:
            return f"{self.path}:{self.lineno}: {self.message}"
        if self.path is not None:
            return f"{self.path}: {self.message}"
        return self.message


class SourceError(JobstreamError):
    """An input cannot be opened or read (missing file, unreadable gzip, empty glob)."""


class InvalidLineError(JobstreamError):
    """A line was rejected and the reader runs in strict mode."""


class OutputError(JobstreamError):
    """An output cannot be written (no such directory, a full disk, it would replace an input)."""


class StateError(JobstreamError):
    """An incremental state (``--state FILE``) cannot be used: damaged, written by a newer
    jobstream, or built with options that change what is folded."""


class StateLockedError(StateError):
    """Another run holds the state (a cron run still going, or ``tail --state``)."""


class LineError(ValueError):
    """Why one line cannot be decoded (the message is the reject's reason)."""
