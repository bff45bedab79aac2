"""Stage 1, input: what the user named into bytes, and bytes into complete lines.

``sources`` (files, directories, globs, ``-``, compressed streams), ``remote`` (URLs through
fsspec), ``framing`` (the one push-style framer: bytes into :class:`~jobstream.io.framing.Chunk`
windows of complete lines with offsets) and ``watch`` (followed files: rotation, truncation).
"""
