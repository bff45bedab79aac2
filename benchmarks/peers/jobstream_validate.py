"""jobstream peer: what ``jobstream validate`` does, through the library's ``validate_paths``.

Full-schema check of every line, in worker processes for large inputs (up to 5cdc5f0 also
with byte-identical repeats of an accepted line not decoded again; the engine decodes every
line, in whole-chunk passes).

    python jobstream_validate.py FILE   -> {"accepted": lines, "rejected": lines, "snapshots": n}
"""

from __future__ import annotations

import json
import sys

try:
    from jobstream import validate_paths  # 0.2: the public name (the module moved)
except ImportError:  # 0.1 (the before install of the benchmarks)
    from jobstream.pipeline import validate_paths  # type: ignore[no-redef]


def main() -> None:
    st = validate_paths([sys.argv[1]])
    # up to 5cdc5f0 skipped repeats were counted apart, as duplicates; later versions count them in snapshots
    snapshots = st.snapshots + getattr(st, "duplicates", 0)
    print(json.dumps({"accepted": st.accepted, "rejected": st.rejected, "snapshots": snapshots}))


if __name__ == "__main__":
    main()
