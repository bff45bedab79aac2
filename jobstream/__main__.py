"""``python -m jobstream`` and the ``jobstream`` command (both run :func:`main`)."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Import the command line, then run it.

    The import takes tens of milliseconds, before the command line's own handlers exist: a
    Ctrl-C then would show a ``KeyboardInterrupt`` traceback from inside an import.  It
    exits 130, as an interrupted run does."""
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        try:
            sys.stderr.write("jobstream: interrupted\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):  # stderr closed or missing
            pass
        os._exit(130)
    run()


if __name__ == "__main__":
    main()
