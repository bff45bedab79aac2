"""Stage 4, runs: the ways of driving stages 1-3 over real inputs.

``reader`` (one process), ``batch`` (whole runs, here or in ``parallel`` worker processes),
``follow`` (growing files, live), ``incremental`` and ``state`` (only what is new since the
last run, saved atomically), ``dask`` (the same fold on a cluster).  All read through the one
framer and decode step.
"""
