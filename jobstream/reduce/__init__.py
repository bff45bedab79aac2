"""Stage 3, reduce: snapshots folded into job states and status changes; pure and mergeable.

``reducer`` (:class:`~jobstream.reduce.reducer.JobTable`: order- and duplication-independent,
partial tables merge exactly, a compact wire form), ``summary`` (statistics over jobs),
``changes`` (which changes are new since last asked) and ``filters`` (selections).
"""
