"""The decoder (``jobstream.decode.decoder``) and the schema it decodes (``jobstream.decode.models``):
real published job objects, both key styles, forgiving and strict parts, hostile lines, the
whole-chunk fast path against line-by-line decoding, and regressions found by review."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from helpers import REALWORLD, T0, job, log_bytes, poll

import jobstream
from jobstream.decode import models as m
from jobstream.decode.decoder import LineError, Reject, SnapshotDecoder, encode
from jobstream.generate import generate
from jobstream.io.framing import Chunk
from jobstream.run.reader import read

SNAKE_FILES = sorted(REALWORLD.glob("*.ndjson"))
CAMEL_FILES = sorted((REALWORLD / "camel").glob("*.ndjson"))


def lines_of(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def plain(obj: Any) -> Any:
    """Struct -> dict by attribute name (not wire name), so snake and camel twins compare."""
    if isinstance(obj, msgspec.Struct):
        return {f: plain(getattr(obj, f)) for f in obj.__struct_fields__}
    if isinstance(obj, list):
        return [plain(x) for x in obj]
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    return obj


@pytest.fixture(scope="module")
def full() -> SnapshotDecoder:
    return SnapshotDecoder("full")


@pytest.fixture(scope="module")
def view() -> SnapshotDecoder:
    return SnapshotDecoder("view")


class TestRealWorldFixtures:
    def test_every_published_object_decodes_in_both_models(self, full: SnapshotDecoder, view: SnapshotDecoder) -> None:
        count = 0
        for path in SNAKE_FILES + CAMEL_FILES:
            for line in lines_of(path):
                (snap,) = full.decode_line(line)
                (v,) = view.decode_line(line)
                assert isinstance(snap, (m.ClassifierJob, m.CompletionJob))
                assert (snap.id, snap.status, snap.created_at, snap.modified_at) == (
                    v.id,
                    v.status,
                    v.created_at,
                    v.modified_at,
                )
                assert snap.kind == v.kind
                count += 1
        assert count == 90 + 17  # 90 snake objects, 17 camel renderings

    def test_legacy_ft_is_a_completion_job(self, full: SnapshotDecoder) -> None:
        (snap,) = full.decode_line(lines_of(REALWORLD / "docs_finetuning_e2e.ndjson")[1])
        assert isinstance(snap, m.LegacyFTJob) and isinstance(snap, m.CompletionJob)
        assert snap.kind == "completion" and snap.stated_job_type == "FT"
        assert len(snap.checkpoints) == 10 and snap.checkpoints[0].step_number == 100
        # published as is: accuracy above 1 is not "fixed"
        assert snap.checkpoints[0].metrics.valid_mean_token_accuracy > 1

    def test_sdk_dump_without_job_type_uses_classifier_targets(self, full: SnapshotDecoder) -> None:
        first, second, *_ = lines_of(REALWORLD / "cookbook_classifier_intent.ndjson")
        (a,) = full.decode_line(first)
        (b,) = full.decode_line(second)
        # first snapshot: no job_type, no classifier_targets -> completion, nothing stated
        assert isinstance(a, m.CompletionJob) and a.stated_job_type is None
        assert isinstance(b, m.ClassifierJob) and b.stated_job_type is None
        assert b.classifier_targets[0].name == "intent"
        assert len(b.classifier_targets[0].labels) == 16

    def test_untyped_integration_is_read_as_wandb(self, full: SnapshotDecoder) -> None:
        (snap,) = full.decode_line(lines_of(REALWORLD / "cookbook_classifier_intent.ndjson")[0])
        (integ,) = snap.integrations
        assert isinstance(integ, m.WandbIntegration) and integ.project == "intent-classifier"
        assert isinstance(integ, m.Integration)

    def test_events_without_data_decode(self, full: SnapshotDecoder) -> None:
        (snap,) = full.decode_line(lines_of(REALWORLD / "cookbook_ft_api_poll.ndjson")[0])
        assert len(snap.events) == 5 and all(e.data is None for e in snap.events)

    def test_metadata_with_every_field_null(self, full: SnapshotDecoder) -> None:
        (snap,) = full.decode_line(lines_of(REALWORLD / "cookbook_ft_api_created.ndjson")[0])
        assert snap.metadata == m.JobMetadata()
        assert snap.object is None and snap.auto_start is True

    @pytest.mark.parametrize(
        "snake,camel",
        [
            ("cookbook_classifier_intent.ndjson", "ts_sdk_classifier_intent.ndjson"),
            ("cookbook_ft_api_poll.ndjson", "ts_sdk_legacy_ft_poll.ndjson"),
        ],
    )
    def test_camel_rendering_has_the_same_content(self, full: SnapshotDecoder, snake: str, camel: str) -> None:
        keys = (
            "id",
            "model",
            "status",
            "created_at",
            "modified_at",
            "training_files",
            "hyperparameters",
            "metadata",
            "events",
            "checkpoints",
            "fine_tuned_model",
            "trained_tokens",
        )
        for ls, lc in zip(lines_of(REALWORLD / snake), lines_of(REALWORLD / "camel" / camel), strict=True):
            (s,) = full.decode_line(ls)
            (c,) = full.decode_line(lc)
            assert type(c).__name__.endswith("Camel")
            ps, pc = plain(s), plain(c)
            # the SDK dump's first line reads as completion (no job_type, no targets): fim_ratio extra
            ps["hyperparameters"].pop("fim_ratio", None)
            pc["hyperparameters"].pop("fim_ratio", None)
            assert {k: ps[k] for k in keys} == {k: pc[k] for k in keys}
            if isinstance(s, m.ClassifierJob):  # the camel line states what the SDK dump may not
                assert isinstance(c, m.ClassifierJob)


class TestSchemaRules:
    def base(self, **extra: Any) -> bytes:
        obj = {"id": "j1", "status": "RUNNING", "created_at": 1717000000, "modified_at": 1717000100}
        obj.update(extra)
        return orjson.dumps(obj)

    def test_only_four_fields_are_required(self, full: SnapshotDecoder) -> None:
        (snap,) = full.decode_line(self.base())
        assert isinstance(snap, m.CompletionJob) and snap.model is None and snap.events is None
        for missing in ("id", "status", "created_at", "modified_at"):
            obj = orjson.loads(self.base())
            del obj[missing]
            with pytest.raises(LineError, match=f"missing required field `{missing}`"):
                full.decode_line(orjson.dumps(obj))

    def test_unknown_fields_are_ignored_and_unknown_status_kept(self, full: SnapshotDecoder) -> None:
        (snap,) = full.decode_line(self.base(status="PAUSED_FOR_REVIEW", brand_new_field={"x": [1, 2]}))
        assert snap.status == "PAUSED_FOR_REVIEW"

    def test_known_statuses_are_available_as_an_enum(self) -> None:
        assert m.Status.RUNNING == "RUNNING" and str(m.Status.SUCCESS) == "SUCCESS"
        assert {s.value for s in m.Status} >= set(m.TERMINAL_STATUSES)
        assert m.status_rank("SOMETHING_NEW") == m.status_rank("RUNNING") + 1

    def test_unknown_integration_and_repository_types_are_kept_raw(self, full: SnapshotDecoder) -> None:
        line = self.base(
            job_type="completion",
            integrations=[{"type": "mlflow", "tracking_uri": "http://x"}, {"type": "wandb", "project": "p"}],
            repositories=[
                {"type": "gitlab", "path": "a/b"},
                {"type": "github", "name": "r", "owner": "o", "commit_id": "c"},
            ],
        )
        (snap,) = full.decode_line(line)
        assert snap.integrations[0] == {"type": "mlflow", "tracking_uri": "http://x"}
        assert isinstance(snap.integrations[0], m.UnknownIntegration)
        assert isinstance(snap.integrations[1], m.WandbIntegration)
        assert isinstance(snap.repositories[0], m.UnknownRepository)
        assert isinstance(snap.repositories[1], m.GithubRepository) and snap.repositories[1].weight == 1.0
        # and they survive a round trip
        (again,) = full.decode_line(encode(snap))
        assert plain(again) == plain(snap)

    def test_bad_field_inside_an_integration_names_the_path(self, full: SnapshotDecoder) -> None:
        with pytest.raises(LineError, match=r"integrations\[0\]"):
            full.decode_line(self.base(integrations=[{"type": "wandb", "project": 5}]))

    def test_integral_floats_are_accepted_where_ints_are_expected(
        self, full: SnapshotDecoder, view: SnapshotDecoder
    ) -> None:
        line = self.base(
            created_at=1717000000.0, trained_tokens=5.0, checkpoints=[{"step_number": 3.0, "created_at": 1717000050.0}]
        )
        for dec in (full, view):
            (snap,) = dec.decode_line(line)
            assert snap.created_at == 1717000000 and type(snap.created_at) is int
            assert snap.checkpoints[0].step_number == 3

    @pytest.mark.parametrize(
        "extra,path",
        [
            ({"created_at": 1717000000.5}, "$.created_at"),
            ({"created_at": "1717000000"}, "$.created_at"),
            ({"status": 3}, "$.status"),
            ({"events": [{"name": "status-updated", "created_at": "soon"}]}, "$.events[0].created_at"),
            ({"checkpoints": [{"metrics": {"train_loss": "low"}}]}, "$.checkpoints[0].metrics.train_loss"),
        ],
    )
    def test_wrong_types_are_rejected_with_the_path(
        self, full: SnapshotDecoder, extra: dict[str, Any], path: str
    ) -> None:
        with pytest.raises(LineError) as err:
            full.decode_line(self.base(**extra))
        assert f"`{path}`" in str(err.value)

    def test_camel_path_names_the_camel_key(self, full: SnapshotDecoder) -> None:
        line = orjson.dumps({"id": "j", "status": "QUEUED", "createdAt": "x", "modifiedAt": 1})
        with pytest.raises(LineError, match=r"\$\.createdAt"):
            full.decode_line(line)

    def test_unknown_job_type_is_kept_as_stated(self, full: SnapshotDecoder, view: SnapshotDecoder) -> None:
        # a job type from the future is counted and shown, as the SDKs keep unknown enum values
        (snap,) = full.decode_line(self.base(job_type="reinforcement"))
        assert isinstance(snap, jobstream.OtherJob) and snap.kind == "reinforcement"
        (snap,) = view.decode_line(self.base(job_type="reinforcement"))
        assert snap.kind == "reinforcement"
        table = jobstream.fold(full.decode_line(self.base(job_type="reinforcement")))
        assert table.jobs()[0].job_type == "reinforcement"

    def test_job_type_of_wrong_type_is_rejected_everywhere(self, full: SnapshotDecoder, view: SnapshotDecoder) -> None:
        for dec in (full, view):
            with pytest.raises(LineError, match="job_type"):
                dec.decode_line(self.base(job_type=5))

    def test_null_job_type_is_inferred_the_same_everywhere(self, full: SnapshotDecoder, view: SnapshotDecoder) -> None:
        for targets, kind in ((None, "completion"), ([{"name": "t", "labels": ["a"]}], "classifier")):
            extra = {} if targets is None else {"classifier_targets": targets}
            for dec in (full, view, SnapshotDecoder("lean")):
                (snap,) = dec.decode_line(self.base(job_type=None, **extra))
                assert snap.kind == kind and snap.stated_job_type is None

    def test_a_list_page_yields_each_job(self, full: SnapshotDecoder) -> None:
        jobs = [orjson.loads(x) for x in lines_of(REALWORLD / "cookbook_ft_api_list.ndjson")[:3]]
        page = orjson.dumps({"object": "list", "total": 3, "data": jobs})
        snaps = full.decode_line(page)
        assert [s.id for s in snaps] == [j["id"] for j in jobs]
        assert full.decode_line(b'{"object":"list","total":0,"data":[]}') == []

    def test_a_bad_job_in_a_page_rejects_the_line_with_its_index(self, full: SnapshotDecoder) -> None:
        page = orjson.dumps({"object": "list", "data": [orjson.loads(self.base()), {"id": "x", "status": "QUEUED"}]})
        with pytest.raises(LineError, match=r"\$\.data\[1\]"):
            full.decode_line(page)

    @pytest.mark.parametrize(
        "line,reason",
        [
            (b'{"id":"a","status":"QUEUED","created_at":NaN,"modified_at":1}', "malformed"),
            (b'{"id":"a","status":"QUEUED","created_at":Infinity,"modified_at":1}', "malformed"),
            (b"[1,2,3]", "Expected `object`, got `array`"),
            (b'"just a string"', "Expected `object`, got `str`"),
            (b'{"id":"a","status":"QUEUED"', "malformed"),
            (b'{"id":"a","status":"QUEUED","created_at":1,"modified_at":1} trailing', "trailing characters"),
            (b'{"id":"a","status":"QUEUED","created_at":1,"modified_at":1}{"id":"b"}', "trailing characters"),
            (b'{"id":"a\xff","status":"QUEUED","created_at":1,"modified_at":1}', "invalid UTF-8"),
            (b'{"id":"a","status":"QUEUED","created_at":1,"modified_at":1,"skipped":"\xc3"}', "invalid UTF-8"),
        ],
    )
    def test_hazardous_lines_are_rejected_with_a_reason(
        self, full: SnapshotDecoder, view: SnapshotDecoder, line: bytes, reason: str
    ) -> None:
        for dec in (full, view):
            with pytest.raises(LineError, match=reason):
                dec.decode_line(line)

    def test_view_and_full_agree_on_what_the_reducer_reads(self, full: SnapshotDecoder, view: SnapshotDecoder) -> None:
        for path in SNAKE_FILES + CAMEL_FILES:
            for line in lines_of(path):
                (f,) = full.decode_line(line)
                (v,) = view.decode_line(line)
                assert f.stated_job_type == v.stated_job_type
                assert f.has_classifier_targets == v.has_classifier_targets
                assert len(f.events or []) == len(v.events or [])
                assert [c.step_number for c in f.checkpoints or []] == [c.step_number for c in v.checkpoints or []]


class TestPublicApi:
    def test_decode_line_and_encode_round_trip(self) -> None:
        line = lines_of(REALWORLD / "cookbook_pixtral_satellite.ndjson")[0]
        (snap,) = jobstream.decode_line(line)
        assert orjson.loads(encode(snap)) == orjson.loads(line)

    def test_all_names_are_exported(self) -> None:
        for name in jobstream.__all__:
            assert getattr(jobstream, name) is not None


def _job(**extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": "j1", "status": "RUNNING", "created_at": 1717000000, "modified_at": 1717000100}
    obj.update(extra)
    return obj


def _verdict(dec: SnapshotDecoder, line: bytes) -> str:
    """``ok`` or the reason, through decode_line and through the chunk fast path (which must agree)."""
    from jobstream.io.framing import Chunk

    try:
        dec.decode_line(line)
        one = "ok"
    except LineError as exc:
        one = str(exc)
    rejects: list[Reject] = []
    _, _, accepted, _ = dec.decode_chunk(Chunk("s", 0, line + b"\n"), 1, rejects)
    assert (accepted == 1) == (one == "ok") and [r.error for r in rejects] == ([] if one == "ok" else [one])
    return one


class TestHostileLines:
    """Lines built to crash or fool the decoder: each becomes a reject (or is accepted) on every path."""

    @pytest.mark.parametrize("model", ["full", "view", "lean"])
    @pytest.mark.parametrize("integral_float", [False, True])
    @pytest.mark.parametrize("levels", [600, 1000, 5000, 100_000])
    def test_deep_nesting_is_a_reject_with_its_reason_not_a_recursion_error(
        self, model: str, integral_float: bool, levels: int
    ) -> None:
        # ~1000 levels broke every command; with an integral float ~500 did (a Python retry)
        extra = b',"trained_tokens":5.0' if integral_float else b""
        line = (
            b'{"id":"a","status":"QUEUED","created_at":1,"modified_at":1'
            + extra
            + b',"x":'
            + b"[" * levels
            + b"]" * levels
            + b"}"
        )
        verdict = _verdict(SnapshotDecoder(model), line)  # type: ignore[arg-type]
        if levels <= 600:
            assert verdict == "ok"
        else:
            assert verdict.startswith("JSON is nested too deeply")

    def test_deep_nesting_in_a_list_page_is_a_reject(self, full: SnapshotDecoder) -> None:
        job = b'{"id":"a","status":"Q","created_at":1,"modified_at":1,"x":' + b"[" * 2000 + b"]" * 2000 + b"}"
        assert _verdict(full, b'{"object":"list","data":[' + job + b"]}").startswith("JSON is nested too deeply")

    @pytest.mark.parametrize("field", ["created_at", "modified_at"])
    @pytest.mark.parametrize("value", [100000000000000, 2**63 - 1, 253402300800, -1])
    @pytest.mark.parametrize("model", ["full", "view", "lean"])
    def test_times_outside_year_1970_to_9999_are_rejected_with_their_path(
        self, field: str, value: int, model: str
    ) -> None:
        reason = _verdict(SnapshotDecoder(model), orjson.dumps(_job(**{field: value})))  # type: ignore[arg-type]
        assert reason.endswith(f"at `$.{field}`") and ("<= 253402300799" in reason or ">= 0" in reason)

    def test_the_last_second_of_year_9999_is_accepted(self, full: SnapshotDecoder) -> None:
        assert _verdict(full, orjson.dumps(_job(created_at=253402300799, modified_at=253402300799))) == "ok"

    @pytest.mark.parametrize("where", ["events", "checkpoints"])
    def test_nested_times_are_bounded_too(self, where: str) -> None:
        item = {"name": "status-updated", "created_at": 10**15, "data": {"status": "RUNNING"}}
        if where == "checkpoints":
            item = {"metrics": {}, "step_number": 1, "created_at": 10**15}
        for model in ("full", "view"):
            reason = _verdict(SnapshotDecoder(model), orjson.dumps(_job(**{where: [item]})))  # type: ignore[arg-type]
            assert f"$.{where}[0].created_at" in reason

    def test_integral_float_on_a_classifier_line_is_accepted_by_every_model(self) -> None:
        line = orjson.dumps(
            _job(created_at=1717000000.0, job_type="classifier", classifier_targets=[{"name": "t", "labels": ["a"]}])
        )
        for model in ("full", "view", "lean"):
            assert _verdict(SnapshotDecoder(model), line) == "ok"  # type: ignore[arg-type]
        (snap,) = SnapshotDecoder("view").decode_line(line)
        assert snap.created_at == 1717000000 and snap.kind == "classifier"

    def test_an_escaped_snake_key_decodes_the_same_after_a_camel_line(self) -> None:
        # created\u005fat *is* created_at: the line is snake_case and lacks modified_at
        camel = b'{"id":"c","status":"RUNNING","createdAt":1,"modifiedAt":2}'
        tricky = b'{"id":"t","status":"RUNNING","created\\u005fat":1,"createdAt":1,"modifiedAt":2}'
        counts = []
        for order in ([camel, tricky], [tricky, camel]):
            for model in ("full", "view", "lean"):
                result = jobstream.fold_paths([_write(b"\n".join(order) + b"\n")], model=model, workers=1)  # type: ignore[arg-type]
                counts.append((len(result.table), result.stats.rejected))
        assert set(counts) == {(1, 1)}

    def test_object_must_say_job_when_present(self, full: SnapshotDecoder) -> None:
        assert _verdict(full, orjson.dumps(_job(object="job"))) == "ok"
        assert _verdict(full, orjson.dumps(_job(object=None))) == "ok"
        assert "$.object" in _verdict(full, orjson.dumps(_job(object="file")))

    def test_unknown_loss_function_is_kept_like_an_unknown_status(self, full: SnapshotDecoder) -> None:
        line = orjson.dumps(
            _job(job_type="classifier", classifier_targets=[{"name": "t", "labels": ["a"], "loss_function": "focal"}])
        )
        (snap,) = full.decode_line(line)
        assert snap.classifier_targets[0].loss_function == "focal"


_TMP_COUNTER = [0]


def _write(data: bytes) -> Path:
    import tempfile

    fd, name = tempfile.mkstemp(suffix=".ndjson")
    with open(fd, "wb") as fh:
        fh.write(data)
    return Path(name)


# --------------------------------------------------------------------------- projections vs the full schema

from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_REAL = [orjson.loads(line) for path in SNAKE_FILES for line in lines_of(path)]
_REAL_JOBS = [o for o in _REAL if o.get("object") != "list"]
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**65), 2**65)
    | st.text(max_size=4)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(
        [
            1717000000.0,
            2.0,
            0.0,
            -0.0,
            1e20,
            253402300799,
            253402300800,
            -1,
            "FT",
            "job",
            "classifier",
            "completion",
            "reward",
            "status-updated",
            "RUNNING",
        ]
    )
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["status", "type", "name", "created_at", "x"]), inner, max_size=3)
    ),
    max_leaves=5,
)
_KEYS = [
    "id",
    "status",
    "created_at",
    "modified_at",
    "job_type",
    "model",
    "object",
    "fine_tuned_model",
    "trained_tokens",
    "metadata",
    "integrations",
    "events",
    "checkpoints",
    "classifier_targets",
    "hyperparameters",
    "validation_files",
    "repositories",
    "auto_start",
    "suffix",
]


@st.composite
def _mutated(draw: Any) -> bytes:
    obj = orjson.loads(orjson.dumps(draw(st.sampled_from(_REAL_JOBS))))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(_KEYS))
        target = obj
        nested = draw(
            st.sampled_from([None, "events", "checkpoints", "metadata", "integrations", "classifier_targets"])
        )
        if nested and isinstance(obj.get(nested), list) and obj[nested] and isinstance(obj[nested][0], dict):
            target = obj[nested][0]
            key = draw(
                st.sampled_from(
                    [
                        "name",
                        "created_at",
                        "data",
                        "metrics",
                        "step_number",
                        "type",
                        "project",
                        "labels",
                        "loss_function",
                        "cost",
                    ]
                )
            )
        elif nested == "metadata" and isinstance(obj.get("metadata"), dict):
            target = obj["metadata"]
            key = draw(st.sampled_from(["cost", "cost_currency", "train_tokens", "estimated_start_time"]))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(_VALUES)
    return msgspec.json.encode(obj)  # orjson refuses ints beyond 64 bits; the lines may hold them


class TestProjectionsAcceptWhatValidateAccepts:
    @settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_mutated())
    @example(orjson.dumps(_job(created_at=1717000000.0, classifier_targets=[{"name": "t", "labels": ["a"]}])))
    @example(orjson.dumps(_job(job_type=None)))
    def test_every_line_the_full_schema_accepts_is_accepted_and_read_alike_by_the_projections(
        self, line: bytes
    ) -> None:
        verdicts = {}
        snaps = {}
        for model in ("full", "view", "lean"):
            try:
                snaps[model] = SnapshotDecoder(model).decode_line(line)  # type: ignore[arg-type]
                verdicts[model] = True
            except LineError:
                verdicts[model] = False
        if verdicts["full"]:
            assert verdicts["view"] and verdicts["lean"], line
            full_table, view_table = jobstream.fold(snaps["full"]), jobstream.fold(snaps["view"])
            assert full_table == view_table
            assert full_table.events() == jobstream.fold(snaps["lean"]).events()
        if verdicts["view"]:
            assert verdicts["lean"], line


# --------------------------------------------------------------------------- the whole-chunk fast path


class TestFastPathEqualsSlowPath:
    def test_chunk_decoded_fast_equals_line_by_line(self) -> None:
        data = log_bytes(30, 9)
        for model in ("full", "view", "lean"):
            dec = SnapshotDecoder(model)  # type: ignore[arg-type]
            rejects: list[Reject] = []
            fast, n, acc, _ = dec.decode_chunk(Chunk("s", 0, data), 1, rejects)
            slow, n2, acc2, _ = dec._by_line(Chunk("s", 0, data), 1, rejects)
            assert rejects == [] and n == n2 == acc == acc2 and [encode(x) for x in fast] == [encode(x) for x in slow]
        assert dec.fast_chunks >= 1


SNAPSHOT_LINES = [line for line in generate(40, seed=11)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SNAPSHOT_LINES), st.booleans())
def test_every_generated_snapshot_round_trips_in_both_key_styles(line: bytes, camel: bool) -> None:
    dec = SnapshotDecoder("full")
    if camel:
        from jobstream.generate import _camelize

        line = orjson.dumps(_camelize(orjson.loads(line)))
    (snap,) = dec.decode_line(line)
    (again,) = dec.decode_line(encode(snap))
    assert type(again) is type(snap)
    assert msgspec.structs.asdict(again) == msgspec.structs.asdict(snap)
    # nothing the schema knows is lost: every known key of the input survives
    original = orjson.loads(line)
    encoded = orjson.loads(encode(snap))
    for key, value in original.items():
        if key in encoded and value is not None and not isinstance(value, (list, dict)):
            assert encoded[key] == value


_FAST_LINES = SNAPSHOT_LINES[:6] + [
    b"",
    b"  ",
    b"\r",
    b"{oops",
    b'{"id":"x","status":1}',
    b"[1]",
    b"null",
    SNAPSHOT_LINES[0] + SNAPSHOT_LINES[1],  # two objects on one line
    SNAPSHOT_LINES[2] + b"\r",  # CRLF
    b" " + SNAPSHOT_LINES[3],  # leading blank
    SNAPSHOT_LINES[4].replace(b",", b",\n", 1),  # one object over two lines
    SNAPSHOT_LINES[5].replace(b'"id"', b'"i\\u0064"', 1),  # an escaped key
    b'{"id":"\xff","status":"Q","created_at":1,"modified_at":1}',  # bad UTF-8
    b'{"id":"a","status":"Q","created_at":1,"modified_at":1,"x":"' + b"\xc3\xa9" + b'"}',  # good UTF-8
]


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.sampled_from(_FAST_LINES), min_size=1, max_size=40),
    st.booleans(),
    st.sampled_from(["full", "view", "lean"]),
)
def test_the_whole_chunk_fast_path_equals_decoding_line_by_line(
    lines: list[bytes], final_newline: bool, model: str
) -> None:
    """decode_lines is taken only where it provably gives what line-by-line decoding gives."""
    data = b"\n".join(lines) + (b"\n" if final_newline else b"")
    results = []
    for how in ("decode_chunk", "_by_line"):
        dec = SnapshotDecoder(model, max_line_bytes=4096)  # type: ignore[arg-type]
        rejects: list[Reject] = []
        snaps, n, acc, blank = getattr(dec, how)(Chunk("s", 5, data), 3, rejects)
        results.append(
            ([encode(x) for x in snaps], n, acc, blank, [(r.line, r.offset, r.error, r.raw) for r in rejects])
        )
    assert results[0] == results[1]
    expected_lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    assert results[0][1] == expected_lines


def _scan_line_by_line(data: bytes, start: int, end: int, max_line_bytes: int) -> tuple[int, bool]:
    """What ``_scan`` answers, the obvious way: split the window into lines and look at each."""
    window = data[start:end]
    if not window:
        return 0, False
    lines = window.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    framed = all(
        len(line) <= max_line_bytes and line.startswith(b"{") and (line.endswith(b"}") or line.endswith(b"}\r"))
        for line in lines
    )
    if not window.endswith(b"\n"):  # the last line has no newline: its "\r" is its own
        framed = framed and window.endswith(b"}")
    return len(lines), framed


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.sampled_from([b"{}", b"{x}", b"}", b"{", b"", b"\r", b"}\r", b"{a}\r", b"{\r}", b"{}}{"]), max_size=12),
    st.sampled_from([b"", b"\n", b"\r\n"]),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(1, 6),
)
def test_scan_counts_lines_and_sees_one_object_per_line_as_splitting_would(
    lines: list[bytes], ending: bytes, before: int, after: int, max_line_bytes: int
) -> None:
    """_scan counts in C (``bytes.count``) what splitting the window into lines would show."""
    from jobstream.decode.decoder import _scan

    body = b"\n".join(lines) + ending
    data = b"}\n{"[:before] + body + b"\n{}"[:after]  # bytes outside the window must not count
    start, end = before, before + len(body)
    assert _scan(data, start, end, max_line_bytes) == _scan_line_by_line(data, start, end, max_line_bytes)


# --------------------------------------------------------------------------- regressions found by review


def outcome(path: Path, **kwargs: Any) -> tuple[Any, ...]:
    rejects: list[Reject] = []
    reader = jobstream.read(path, on_reject=rejects.append, **kwargs)
    snaps = list(reader)
    st = reader.stats
    return (
        sorted(s.id for s in snaps) if not kwargs.get("dedupe") else sorted({s.id for s in snaps}),
        (st.lines, st.accepted, st.rejected, st.blank),
        [(r.line, r.error) for r in rejects],
    )


class TestBigNumbers:
    """Found by review: numbers beyond 64 bits once broke an invariant (no line lost, the parallel
    fold equal to the single one; see test_parallel.py)."""

    @pytest.mark.parametrize(
        "raw",
        [
            b'{"id":"j1","status":"RUNNING","job_type":"completion","created_at":100,"modified_at":1e20}',
            b'{"id":"j1","status":"RUNNING","job_type":"completion","created_at":100,"modified_at":1e300}',
            b'{"id":"j1","status":"RUNNING","job_type":"completion","created_at":100,"modified_at":1180591620717411303424}',
            b'{"id":"j1","status":"RUNNING","job_type":"completion","created_at":2.0,"modified_at":1180591620717411303424}',
        ],
    )
    @pytest.mark.parametrize("model", ["full", "view", "lean"])
    def test_numbers_beyond_64_bits_are_rejected_with_their_path(self, raw: bytes, model: str) -> None:
        with pytest.raises(LineError, match=r"\$\.modified_at"):
            SnapshotDecoder(model).decode_line(raw)  # type: ignore[arg-type]

    def test_integral_float_retry_keeps_other_big_ints_exact(self) -> None:
        raw = job(1, trained_tokens=2.0, metadata={"train_tokens": -9223372036854775808})
        (snap,) = SnapshotDecoder("full").decode_line(raw)
        assert snap.metadata.train_tokens == -9223372036854775808 and snap.trained_tokens == 2


class TestKeyStylesAndPages:
    """Found by review: whether a line is accepted once depended on the lines before it and on how
    the input was cut into chunks."""

    def test_acceptance_does_not_depend_on_the_lines_before(self, tmp_path: Path) -> None:
        camel = orjson.dumps({"id": "c", "status": "RUNNING", "jobType": "completion", "createdAt": 1, "modifiedAt": 2})
        snake = job(0, id="s")
        mixed = orjson.dumps(
            {"id": "w", "status": "RUNNING", "jobType": "completion", "createdAt": 1, "modifiedAt": 2, "created_at": 1}
        )
        p = tmp_path / "log.ndjson"
        p.write_bytes(b"\n".join([camel, mixed, snake, mixed]) + b"\n")
        expected = (["c", "s"], (4, 2, 2, 0))
        for model in ("full", "view", "lean"):
            got = outcome(p, model=model)
            assert got[:2] == expected and [n for n, _ in got[2]] == [2, 4]

    @pytest.mark.parametrize("block", [8, 1 << 20])
    def test_an_object_with_an_id_is_a_job_even_if_it_says_list(self, tmp_path: Path, block: int) -> None:
        odd = job(0, id="x", object="list", data=[])
        p = tmp_path / "log.ndjson"
        p.write_bytes(odd + b'\n"\xff"\n')
        ids, counts, rejects = outcome(p, block_size=block, model="view")
        assert ids == ["x"] and counts == (2, 1, 1, 0) and [n for n, _ in rejects] == [2]


def test_only_the_crlf_carriage_return_is_stripped_from_raw(tmp_path: Path) -> None:
    """Found by review: more than the one carriage return of a CRLF was stripped from a reject's raw bytes."""
    p = tmp_path / "log.ndjson"
    p.write_bytes(b"{bad\r\r\n")
    got: list[Reject] = []
    list(jobstream.read(p, on_reject=got.append))
    assert got[0].raw == b"{bad\r"


def _best_read_time(path: Path, block_size: int, runs: int = 2) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        list(read(str(path), model="lean", block_size=block_size, on_reject=lambda r: None))
        best = min(best, time.perf_counter() - t0)
    return best


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
class TestLinearTime:
    """The same bytes read in 16 MiB blocks and in 4 KiB blocks must cost about the same: the
    decode step is meant to be linear in a chunk's lines.  On main both cases below are
    quadratic in the lines of one chunk (20-30x slower whole at 20k lines; 222 s for an 18 MB
    log with a blank line after each record, 206 s for 80k bad lines)."""

    def test_blank_lines_between_records_decode_in_linear_time(self, tmp_path: Path) -> None:
        """decoder._by_line retries the whole rest of the chunk (`lines[pos:]`, a copy) after every
        blank line, and a blank line does not count as a failure, so the retries never stop."""
        path = tmp_path / "double-spaced.ndjson"
        path.write_bytes(b"\n".join(poll(f"j{i}", "RUNNING", T0 + i) for i in range(20000)))  # "}\n\n{"
        whole, small = _best_read_time(path, 16 << 20), _best_read_time(path, 4096)
        assert whole < 5 * small, f"16 MiB blocks {whole:.2f}s vs 4 KiB blocks {small:.2f}s"

    def test_rejected_lines_in_one_chunk_are_checked_in_linear_time(self, tmp_path: Path) -> None:
        """decoder._one computes each reject's offset as sum(map(len, lines[:where])): O(line index)
        per reject.  `jobstream validate` of a 640 KB file of 80k wrong-shaped lines took 206 s."""
        path = tmp_path / "wrong-shape.ndjson"
        path.write_bytes(b'{"a":1}\n' * 20000)
        whole, small = _best_read_time(path, 16 << 20), _best_read_time(path, 4096)
        assert whole < 5 * small, f"16 MiB blocks {whole:.2f}s vs 4 KiB blocks {small:.2f}s"
