"""Stage 5, output: folded jobs, changes and summaries written where people and tools read them.

``sinks`` (table, JSON, NDJSON, CSV; atomic files; rejects), ``layout`` (terminal tables),
``arrow`` (Parquet, Arrow, dataframes), ``prom`` (Prometheus text), ``report`` (HTML and
charts) and ``hook`` (``tail --exec``).
"""
