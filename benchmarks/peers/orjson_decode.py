"""orjson peer for decoding: ``orjson.loads`` of every line into dicts (no schema, no validation).

python orjson_decode.py FILE   -> {"accepted": lines, "rejected": lines}
"""

from __future__ import annotations

import json
import sys

import orjson


def main() -> None:
    accepted = rejected = 0
    loads = orjson.loads
    with open(sys.argv[1], "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                loads(line)
            except orjson.JSONDecodeError:
                rejected += 1
            else:
                accepted += 1
    print(json.dumps({"accepted": accepted, "rejected": rejected}))


if __name__ == "__main__":
    main()
