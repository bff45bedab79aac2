"""Stage 2, decode: complete lines into snapshots (msgspec Structs) or rejects, every line counted.

``models`` (the API's job objects and the projections the fast paths decode), ``decoder``
(one line or a whole chunk at a time; a precise reason for each bad line) and ``step`` (the
decode-and-account step every way of reading goes through).
"""
