"""jobstream peer for full-schema decoding: every line through ``jobstream.read(model="full")``.

python jobstream_decode.py FILE   -> {"accepted": lines, "rejected": lines, "snapshots": n}
"""

from __future__ import annotations

import json
import sys

import jobstream


def main() -> None:
    reader = jobstream.read(sys.argv[1], model="full")
    for _batch in reader.batches():
        pass
    st = reader.stats
    print(json.dumps({"accepted": st.accepted, "rejected": st.rejected, "snapshots": st.snapshots}))


if __name__ == "__main__":
    main()
