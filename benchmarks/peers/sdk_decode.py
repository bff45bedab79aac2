"""Official Python SDK peer for full-schema decoding: ``mistralai`` 1.9.x pydantic models.

    python sdk_decode.py FILE [--mode dict|json]   -> {"accepted": n, "rejected": n, "errors": {...}}

``--mode dict`` (default): ``orjson.loads`` each line, then ``ClassifierDetailedJobOut`` /
``CompletionDetailedJobOut.model_validate``, picked by ``job_type`` as jobstream picks (a line
without ``job_type`` is a classifier job if it has ``classifier_targets``).
``--mode json``: ``TypeAdapter(JobsAPIRoutesFineTuningGetFineTuningJobResponse).validate_json``:
the SDK's own response union for ``GET /v1/fine_tuning/jobs/{id}`` (discriminated on
``job_type``), built once; pydantic-core parses the JSON itself.  (The SDK's
``utils.unmarshal_json`` wraps the same type in a model created per call, which is slower.)

Lines the models reject are counted, not hidden: the SDK's models require fields real logs
omit, and have no ``"FT"`` job type.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import orjson
import pydantic
from mistralai.models import (
    ClassifierDetailedJobOut,
    CompletionDetailedJobOut,
    JobsAPIRoutesFineTuningGetFineTuningJobResponse,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--mode", choices=["dict", "json"], default="dict")
    args = ap.parse_args()
    accepted = rejected = 0
    reasons: Counter[str] = Counter()
    loads = orjson.loads
    classifier = ClassifierDetailedJobOut.model_validate
    completion = CompletionDetailedJobOut.model_validate
    validate_json = pydantic.TypeAdapter(JobsAPIRoutesFineTuningGetFineTuningJobResponse).validate_json
    with open(args.path, "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                if args.mode == "json":
                    validate_json(line)
                else:
                    d = loads(line)
                    jt = d.get("job_type")
                    if jt == "classifier" or (jt is None and d.get("classifier_targets") is not None):
                        classifier(d)
                    else:
                        completion(d)
            except pydantic.ValidationError as exc:
                rejected += 1
                err = exc.errors()[0]
                reasons[f"{'.'.join(map(str, err['loc'])) or '$'}: {err['type']}"] += 1
            except ValueError as exc:  # the union's discriminator raises on a missing job_type
                rejected += 1
                reasons[type(exc).__name__ + ": " + str(exc).split(" in {")[0]] += 1
            else:
                accepted += 1
    print(json.dumps({"accepted": accepted, "rejected": rejected, "errors": dict(reasons.most_common(5))}))


if __name__ == "__main__":
    main()
