"""The reducer (``jobstream.reduce.reducer``): each rule by hand-built scenario, then
order/duplication/merge properties, then regressions found by review.

The summary's figures are in test_summary.py."""

from __future__ import annotations

import json
import pickle
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
from helpers import REALWORLD, ROOT, T0, poll, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jobstream
from jobstream.decode.decoder import SnapshotDecoder
from jobstream.decode.models import TERMINAL_STATUSES, JobView, status_rank
from jobstream.generate import generate
from jobstream.reduce.reducer import JobTable, StatusChange, fold
from jobstream.run.batch import fold_paths

VIEW = SnapshotDecoder("view")
FULL = SnapshotDecoder("full")


def changes(table: JobTable, job_id: str = "j") -> list[tuple[str | None, str, int]]:
    return [(c.from_status, c.to_status, c.at) for c in table.changes(job_id)]


class TestStatusChanges:
    def test_status_change_emitted_only_when_status_differs(self) -> None:
        t = fold(
            [
                snapshot(status="QUEUED", modified_at=100),
                snapshot(status="RUNNING", modified_at=110),
                snapshot(status="RUNNING", modified_at=150),
                snapshot(status="SUCCESS", modified_at=200),
            ]
        )
        assert changes(t) == [(None, "QUEUED", 100), ("QUEUED", "RUNNING", 110), ("RUNNING", "SUCCESS", 200)]

    def test_events_without_data_give_nothing(self) -> None:
        t = fold([snapshot(status="RUNNING", modified_at=110, events=[(100, None), (110, None)])])
        assert changes(t) == [(None, "RUNNING", 110)]

    def test_status_seen_only_in_events_produces_its_change(self) -> None:
        # the poller missed VALIDATING; the event list has it
        t = fold(
            [
                snapshot(status="QUEUED", modified_at=100),
                snapshot(
                    status="RUNNING",
                    modified_at=130,
                    events=[(100, "QUEUED"), (105, "VALIDATING"), (120, "VALIDATED"), (130, "RUNNING")],
                ),
            ]
        )
        assert [c[1] for c in changes(t)] == ["QUEUED", "VALIDATING", "VALIDATED", "RUNNING"]
        assert changes(t)[1] == ("QUEUED", "VALIDATING", 105)

    def test_revisited_status_is_dated_by_the_snapshot_that_shows_it(self) -> None:
        # classifier jobs: QUEUED -> VALIDATED -> QUEUED with no new event for the second QUEUED
        ev = [(100, "QUEUED"), (103, "VALIDATING"), (103, "VALIDATED")]
        t = fold(
            [
                snapshot(status="QUEUED", modified_at=100, events=ev[:1]),
                snapshot(status="VALIDATED", modified_at=103, events=ev),
                snapshot(status="QUEUED", modified_at=106, events=ev),
                snapshot(status="RUNNING", modified_at=110, events=ev + [(110, "RUNNING")]),
            ]
        )
        assert changes(t) == [
            (None, "QUEUED", 100),
            ("QUEUED", "VALIDATING", 103),
            ("VALIDATING", "VALIDATED", 103),
            ("VALIDATED", "QUEUED", 106),
            ("QUEUED", "RUNNING", 110),
        ]

    def test_event_stamped_later_than_the_snapshot_does_not_move_the_change(self) -> None:
        t = fold([snapshot(status="RUNNING", modified_at=110, events=[(100, "QUEUED"), (112, "RUNNING")])])
        assert changes(t) == [(None, "QUEUED", 100), ("QUEUED", "RUNNING", 110)]

    def test_same_second_ties_follow_the_lifecycle(self) -> None:
        t = fold(
            [
                snapshot(
                    status="SUCCESS",
                    modified_at=100,
                    events=[
                        (100, "SUCCESS"),
                        (100, "RUNNING"),
                        (100, "QUEUED"),
                        (100, "MYSTERY"),
                        (100, "CANCELLATION_REQUESTED"),
                    ],
                )
            ]
        )
        assert [c[1] for c in changes(t)] == ["QUEUED", "RUNNING", "MYSTERY", "CANCELLATION_REQUESTED", "SUCCESS"]
        assert status_rank("STARTED") < status_rank("VALIDATING") < status_rank("VALIDATED") < status_rank("RUNNING")

    def test_identical_observations_count_once(self) -> None:
        s = snapshot(status="RUNNING", modified_at=110, events=[(110, "RUNNING"), (110, "RUNNING")])
        t = fold([s, s, s])
        (job,) = t.jobs()
        assert [(o.time, o.status, o.in_snapshot, o.in_event) for o in job.history] == [(110, "RUNNING", True, True)]
        assert job.observations == 1

    def test_events_output_sorted_by_time_then_job_then_history(self) -> None:
        t = fold(
            [snapshot("b", "RUNNING", 100, events=[(100, "QUEUED"), (100, "RUNNING")]), snapshot("a", "QUEUED", 100)]
        )
        assert [(c.at, c.job_id, c.to_status) for c in t.events()] == [
            (100, "a", "QUEUED"),
            (100, "b", "QUEUED"),
            (100, "b", "RUNNING"),
        ]

    def test_real_poll_log_with_dataless_events_newest_first(self) -> None:
        lines = (REALWORLD / "cookbook_ft_api_poll.ndjson").read_bytes().splitlines()
        t = fold(s for line in lines for s in VIEW.decode_line(line))
        (job,) = t.jobs()
        assert job.status == "SUCCESS" and job.observations == 2  # polls repeat (modified_at, status)
        assert [c.to_status for c in job.changes] == ["RUNNING", "SUCCESS"]


class TestJobState:
    def test_current_status_comes_from_the_greatest_modified_at(self) -> None:
        t = fold([snapshot(status="SUCCESS", modified_at=300), snapshot(status="RUNNING", modified_at=200)])
        assert t.get("j").status == "SUCCESS" and t.get("j").modified_at == 300

    def test_ties_on_modified_at_are_broken_deterministically(self) -> None:
        a = snapshot(status="RUNNING", modified_at=200, fine_tuned_model=None, trained_tokens=5)
        b = snapshot(status="RUNNING", modified_at=200, fine_tuned_model=None, trained_tokens=7)
        assert fold([a, b]).get("j") == fold([b, a]).get("j")
        c = snapshot(status="SUCCESS", modified_at=200)
        assert fold([c, a]).get("j").status == fold([a, c]).get("j").status == "SUCCESS"

    def test_job_type_is_the_latest_stated_one(self) -> None:
        t = fold(
            [
                snapshot(status="QUEUED", modified_at=100, job_type="classifier"),
                snapshot(status="RUNNING", modified_at=200),
            ]
        )  # later line from an SDK dump: no job_type
        assert t.get("j").job_type == "classifier"
        t2 = fold([snapshot(modified_at=100, job_type="classifier"), snapshot(modified_at=200, job_type="FT")])
        assert t2.get("j").job_type == "completion"  # legacy FT reported as completion

    def test_job_type_falls_back_to_classifier_targets(self) -> None:
        t = fold(
            [
                snapshot(modified_at=100),
                snapshot(status="VALIDATED", modified_at=103, classifier_targets=[{"name": "x", "labels": ["a"]}]),
            ]
        )
        assert t.get("j").job_type == "classifier"
        assert fold([snapshot(modified_at=100)]).get("j").job_type == "completion"

    def test_latest_checkpoint_by_time_not_position(self) -> None:
        cps = [
            {"metrics": {"train_loss": 0.5}, "step_number": 10, "created_at": 150},
            {"metrics": {"train_loss": 0.2}, "step_number": 30, "created_at": 190},
            {"metrics": {"train_loss": 0.3}, "step_number": 20, "created_at": 170},
        ]
        t = fold(
            [snapshot(status="RUNNING", modified_at=190, checkpoints=cps), snapshot(status="SUCCESS", modified_at=200)]
        )
        job = t.get("j")
        assert (job.checkpoint_step, job.train_loss, job.checkpoint_at) == (30, 0.2, 190)

    def test_checkpoint_metrics_filled_in_pieces_across_polls_are_merged(self) -> None:
        # The real pattern: one poll shows step 100 with its validation figures and no train
        # loss yet, the next polls show the train loss and null validation figures.
        first = {
            "step_number": 100,
            "created_at": 150,
            "metrics": {"train_loss": None, "valid_loss": 0.42098, "valid_mean_token_accuracy": 1.7},
        }
        later = {
            "step_number": 100,
            "created_at": 150,
            "metrics": {"train_loss": 0.39, "valid_loss": None, "valid_mean_token_accuracy": None},
        }
        polls = [
            snapshot(status="RUNNING", modified_at=160, checkpoints=[first]),
            snapshot(status="RUNNING", modified_at=170, checkpoints=[later]),
            snapshot(status="SUCCESS", modified_at=180, checkpoints=[later]),
        ]
        for order in (polls, polls[::-1], polls[1:] + polls[:1]):
            t = fold(order)
            (job,) = t.jobs()
            assert (job.checkpoint_step, job.train_loss, job.valid_loss, job.valid_mean_token_accuracy) == (
                100,
                0.39,
                0.42098,
                1.7,
            )
            assert t.checkpoints() == [jobstream.CheckpointRow("j", 100, 150, 0.39, 0.42098, 1.7)]

    def test_two_values_for_one_checkpoint_metric_resolve_to_the_newest_poll(self) -> None:
        cp = lambda loss: [{"step_number": 5, "created_at": 150, "metrics": {"train_loss": loss}}]  # noqa: E731
        polls = [
            snapshot(status="RUNNING", modified_at=170, checkpoints=cp(0.2)),
            snapshot(status="RUNNING", modified_at=160, checkpoints=cp(0.3)),
        ]
        assert fold(polls).jobs()[0].train_loss == fold(polls[::-1]).jobs()[0].train_loss == 0.2

    def test_zero_validation_figures_mean_not_evaluated(self) -> None:
        # real objects: a job without validation files reports valid_loss 0.0 at every step
        cps = [
            {
                "step_number": s,
                "created_at": 100 + s,
                "metrics": {"train_loss": 0.5 / s, "valid_loss": 0.0, "valid_mean_token_accuracy": 0.0},
            }
            for s in (1, 2, 3)
        ]
        (job,) = fold([snapshot(status="SUCCESS", modified_at=200, checkpoints=cps)]).jobs()
        assert (job.valid_loss, job.valid_mean_token_accuracy) == (None, None)
        assert job.train_loss == 0.5 / 3

    def test_validation_figures_come_from_the_newest_evaluated_step(self) -> None:
        cps = [
            {
                "step_number": 10,
                "created_at": 110,
                "metrics": {"train_loss": 0.3, "valid_loss": 0.35, "valid_mean_token_accuracy": 0.9},
            },
            {
                "step_number": 11,
                "created_at": 111,
                "metrics": {"train_loss": 0.29, "valid_loss": 0.0, "valid_mean_token_accuracy": 0.0},
            },
        ]
        (job,) = fold([snapshot(status="RUNNING", modified_at=200, checkpoints=cps)]).jobs()
        assert (job.checkpoint_step, job.checkpoint_at, job.train_loss) == (11, 111, 0.29)
        assert (job.valid_loss, job.valid_mean_token_accuracy) == (0.35, 0.9)
        rows = fold([snapshot(status="RUNNING", modified_at=200, checkpoints=cps)]).checkpoints()
        assert [(r.step, r.valid_loss) for r in rows] == [(10, 0.35), (11, None)]

    def test_realworld_job_without_validation_has_no_validation_loss(self) -> None:
        (line,) = [x for x in (REALWORLD / "cookbook_pixtral_satellite.ndjson").read_bytes().splitlines() if x]
        (job,) = fold(VIEW.decode_line(line)).jobs()
        assert job.valid_loss is None and job.valid_mean_token_accuracy is None and job.train_loss == 0.009326

    def test_cost_tokens_model_and_integrations_from_the_latest_snapshot(self) -> None:
        t = fold(
            [
                snapshot(status="RUNNING", modified_at=100, model="m1", metadata={"cost": 1.0, "cost_currency": "USD"}),
                snapshot(
                    status="SUCCESS",
                    modified_at=200,
                    model="m1",
                    trained_tokens=999,
                    fine_tuned_model="ft:m1:x",
                    metadata={"cost": 2.5, "cost_currency": "EUR"},
                    integrations=[{"project": "p", "run_name": "r"}, {"type": "mlflow"}],
                ),
            ]
        )
        job = t.get("j")
        assert (job.model, job.trained_tokens, job.fine_tuned_model, job.cost, job.cost_currency) == (
            "m1",
            999,
            "ft:m1:x",
            2.5,
            "EUR",
        )
        assert job.integrations == ["wandb:p/r", "mlflow"]

    def test_first_and_last_seen_and_distinct_observations(self) -> None:
        t = fold(
            [
                snapshot(status="QUEUED", modified_at=100),
                snapshot(status="RUNNING", modified_at=150),
                snapshot(status="RUNNING", modified_at=150),
                snapshot(status="SUCCESS", modified_at=300),
            ]
        )
        job = t.get("j")
        assert (job.first_seen, job.last_seen, job.observations) == (100, 300, 3)

    def test_durations(self) -> None:
        t = fold(
            [
                snapshot(
                    status="SUCCESS",
                    modified_at=400,
                    created_at=100,
                    events=[
                        (100, "QUEUED"),
                        (130, "VALIDATING"),
                        (140, "VALIDATED"),
                        (150, "RUNNING"),
                        (400, "SUCCESS"),
                    ],
                )
            ]
        )
        job = t.get("j")
        assert job.durations == {"QUEUED": 30, "VALIDATING": 10, "VALIDATED": 10, "RUNNING": 250}
        assert (job.queue_wait, job.run_time, job.total) == (50, 250, 300)

    def test_open_job_durations_run_to_the_last_observation(self) -> None:
        t = fold(
            [
                snapshot(status="QUEUED", modified_at=100),
                snapshot(status="RUNNING", modified_at=120),
                snapshot(status="RUNNING", modified_at=180),
            ]
        )
        job = t.get("j")
        assert job.durations == {"QUEUED": 20, "RUNNING": 60}
        assert (job.queue_wait, job.run_time, job.total) == (20, None, None)


# --------------------------------------------------------------------------- properties

STATUSES = [
    "QUEUED",
    "STARTED",
    "VALIDATING",
    "VALIDATED",
    "RUNNING",
    "CANCELLATION_REQUESTED",
    "SUCCESS",
    "FAILED",
    "CANCELLED",
    "FAILED_VALIDATION",
    "MYSTERY",
]


@st.composite
def snapshot_dicts(draw: Any) -> dict[str, Any]:
    """Adversarial snapshots: few jobs, few seconds, so ties of every kind are common."""
    obj: dict[str, Any] = {
        "id": draw(st.sampled_from(["a", "b", "c"])),
        "status": draw(st.sampled_from(STATUSES)),
        "created_at": 100,
        "modified_at": draw(st.integers(100, 106)),
        "model": draw(st.sampled_from(["m1", "m2", None])),
        "trained_tokens": draw(st.none() | st.integers(0, 3)),
        "metadata": draw(
            st.none()
            | st.fixed_dictionaries(
                {
                    "cost": st.none() | st.sampled_from([0.5, 1.25]),
                    "cost_currency": st.sampled_from(["USD", "EUR", None]),
                }
            )
        ),
    }
    jt = draw(st.sampled_from([None, "classifier", "completion", "FT"]))
    if jt is not None:
        obj["job_type"] = jt
    if draw(st.booleans()):
        obj["classifier_targets"] = [{"name": "t", "labels": ["x"]}]
    obj["events"] = [
        {
            "name": draw(st.sampled_from(["status-updated", "other"])),
            "created_at": draw(st.integers(99, 107)),
            **({"data": {"status": draw(st.sampled_from(STATUSES))}} if draw(st.booleans()) else {}),
        }
        for _ in range(draw(st.integers(0, 4)))
    ]
    metric = st.sampled_from([None, 0.0, -0.0, 0.1, 0.2])
    obj["checkpoints"] = [
        {
            "metrics": {
                "train_loss": draw(metric),
                "valid_loss": draw(metric),
                "valid_mean_token_accuracy": draw(metric),
            },
            "step_number": draw(st.sampled_from([1, 2, 3, None])),
            "created_at": draw(st.sampled_from([100, 101, 102, None])),
        }
        for _ in range(draw(st.integers(0, 3)))
    ]
    return obj


def decoded(objs: list[dict[str, Any]], decoder: SnapshotDecoder = VIEW) -> list[Any]:
    return [s for o in objs for s in decoder.decode_line(orjson.dumps(o))]


def answers(t: JobTable) -> tuple[Any, ...]:
    from jobstream.reduce.summary import summarize_jobs

    # the summary's fast path (job briefs) must say what the job states say
    assert t.summary() == summarize_jobs(t.jobs()) and t.summary(by="day") == summarize_jobs(t.jobs(), by="day")
    return (t.jobs(), t.events(), t.summary(), t.summary(by="model"), t.checkpoints())


PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(st.lists(snapshot_dicts(), min_size=1, max_size=25), st.randoms(use_true_random=False))
def test_order_and_duplication_do_not_matter(objs: list[dict[str, Any]], rnd: random.Random) -> None:
    canonical = sorted({orjson.dumps(o, option=orjson.OPT_SORT_KEYS) for o in objs})
    reference = fold(decoded([orjson.loads(c) for c in canonical]))
    noisy = objs + [rnd.choice(objs) for _ in range(rnd.randint(0, 10))]
    rnd.shuffle(noisy)
    assert answers(fold(decoded(noisy))) == answers(reference)


@PROPS
@given(st.lists(snapshot_dicts(), min_size=1, max_size=25), st.randoms(use_true_random=False))
def test_any_split_merges_to_the_single_pass_fold(objs: list[dict[str, Any]], rnd: random.Random) -> None:
    snaps = decoded(objs)
    whole = fold(snaps)
    parts: list[list[Any]] = [[] for _ in range(rnd.randint(1, 5))]
    for s in snaps:
        rnd.choice(parts).append(s)
    tables = [fold(p) for p in parts]
    rnd.shuffle(tables)
    merged = JobTable()
    for t in tables:
        merged = merged.merge(t)
    assert answers(merged) == answers(whole)


@PROPS
@given(
    st.lists(snapshot_dicts(), max_size=10),
    st.lists(snapshot_dicts(), max_size=10),
    st.lists(snapshot_dicts(), max_size=10),
)
def test_merge_is_associative_and_commutative(
    a: list[dict[str, Any]], b: list[dict[str, Any]], c: list[dict[str, Any]]
) -> None:
    ta, tb, tc = fold(decoded(a)), fold(decoded(b)), fold(decoded(c))
    assert answers(ta.merge(tb)) == answers(tb.merge(ta))
    assert answers(ta.merge(tb).merge(tc)) == answers(ta.merge(tb.merge(tc)))
    # merging does not mutate its operands
    assert answers(ta) == answers(fold(decoded(a)))


@PROPS
@given(st.lists(snapshot_dicts(), max_size=20))
def test_state_serialises_and_full_schema_folds_the_same(objs: list[dict[str, Any]]) -> None:
    t = fold(decoded(objs))
    again = JobTable.from_bytes(t.to_bytes())
    assert answers(again) == answers(t)
    assert answers(pickle.loads(pickle.dumps(t))) == answers(t)
    assert answers(fold(decoded(objs, FULL))) == answers(t)


def test_rereading_the_same_snapshots_costs_nothing_more() -> None:
    lines = list(generate(15, seed=5))
    snaps = [s for line in lines for s in VIEW.decode_line(line)]
    once = fold(snaps)
    thrice = fold(snaps + snaps + snaps)
    size = lambda t: sum(len(a.obs) for a in t._accs.values())  # noqa: E731
    assert size(thrice) == size(once) and len(thrice.to_bytes()) == len(once.to_bytes())
    # and the observation set is bounded by distinct observations, far below the line count
    distinct = {(o["id"], o["modified_at"], o["status"]) for o in map(orjson.loads, lines)}
    assert size(once) <= len(distinct) + sum(len(o.get("events") or []) for o in map(orjson.loads, set(lines)))
    assert size(once) < len(lines)


def test_generated_log_against_an_independent_computation() -> None:
    """Plain loops over dicts, written from SCHEMA.md, against the reducer."""
    lines = list(generate(120, seed=21))
    latest: dict[str, tuple[int, int, str]] = {}
    obs: dict[str, set[tuple[int, str]]] = defaultdict(set)
    types: dict[str, tuple[tuple[int, int, str], str]] = {}
    targets: set[str] = set()
    for line in lines:
        o = json.loads(line)
        jid, status, t = o["id"], o["status"], o["modified_at"]
        key = (t, status_rank(status), status)
        if jid not in latest or key > latest[jid]:
            latest[jid] = key
        obs[jid].add((t, status))
        for ev in o.get("events") or []:
            data = ev.get("data")
            if ev.get("name") == "status-updated" and isinstance(data, dict) and isinstance(data.get("status"), str):
                obs[jid].add((ev["created_at"], data["status"]))
        if o.get("job_type"):
            jt = "completion" if o["job_type"] == "FT" else o["job_type"]
            if jid not in types or (key, jt) > (types[jid][0], types[jid][1]):
                types[jid] = (key, jt)
        if o.get("classifier_targets") is not None:
            targets.add(jid)
    n_changes = 0
    for seen in obs.values():
        prev = None
        for _, s in sorted(seen, key=lambda x: (x[0], status_rank(x[1]), x[1])):
            if s != prev:
                n_changes += 1
                prev = s
    table = fold(s for line in lines for s in VIEW.decode_line(line))
    jobs = {j.id: j for j in table.jobs()}
    assert set(jobs) == set(latest)
    assert {j: jobs[j].status for j in jobs} == {j: latest[j][2] for j in latest}
    expected_types = {
        j: types[j][1] if j in types else ("classifier" if j in targets else "completion") for j in latest
    }
    assert {j: jobs[j].job_type for j in jobs} == expected_types
    assert len(table.events()) == n_changes
    s = table.summary()
    finished = [j for j in latest if latest[j][2] in TERMINAL_STATUSES]
    assert s.finished == len(finished) and s.succeeded == sum(latest[j][2] == "SUCCESS" for j in finished)
    assert len({c.job_id for c in table.events() if c.from_status is None}) == len(latest)


def test_status_change_is_a_plain_value() -> None:
    c = StatusChange("j", "completion", "m", None, "QUEUED", 1)
    assert jobstream.StatusChange is StatusChange and c == StatusChange("j", "completion", "m", None, "QUEUED", 1)


def test_lean_view_and_full_models_give_the_same_events_and_summary() -> None:
    lines = list(generate(60, seed=13)) + [
        line for path in sorted(REALWORLD.rglob("*.ndjson")) for line in path.read_bytes().splitlines()
    ]
    tables = {}
    for model in ("full", "view", "lean"):
        dec = SnapshotDecoder(model)  # type: ignore[arg-type]
        tables[model] = fold(s for line in lines for s in dec.decode_line(line))
    assert tables["full"].events() == tables["view"].events() == tables["lean"].events()
    assert tables["full"].summary(by="day") == tables["view"].summary(by="day") == tables["lean"].summary(by="day")
    assert tables["full"] == tables["view"]  # the view keeps everything a JobState shows
    assert all(j.checkpoint_step is None for j in tables["lean"].jobs())  # lean: no checkpoints read


def test_times_past_2106_survive_the_wire_form(tmp_path: Path, forks: None) -> None:
    """An observation key (time << 32 | status) past 2**64 cannot be a msgpack int: the wire
    sends such a job's observations as triples (the decoder accepts times up to 9999)."""
    far = 253402300000
    t = fold(
        [
            snapshot("far", "QUEUED", far, created_at=far),
            snapshot("far", "ODD_STATUS", far + 1, created_at=far),
            snapshot("near", "RUNNING", 100),
        ]
    )
    for blob in (t.to_bytes(), t.to_bytes(["far"])):
        back = JobTable.from_bytes(blob)
        assert back.changes("far") == t.changes("far")
    assert JobTable.from_bytes(t.to_bytes()) == t
    # a parallel run ships worker tables through it: a 40 MB log with such a job in every range
    log = tmp_path / "far.ndjson"
    with log.open("w") as fh:
        for i in range(200_000):
            fh.write(
                json.dumps(
                    {
                        "id": f"j{i % 300}",
                        "status": "RUNNING",
                        "created_at": 100 + i,
                        "modified_at": 100 + i,
                        "pad": "x" * 150,
                    }
                )
                + "\n"
            )
            if i % 20_000 == 0:
                fh.write(
                    json.dumps({"id": f"far{i}", "status": "QUEUED", "created_at": far, "modified_at": far}) + "\n"
                )
    assert jobstream.fold_paths(log, workers=2).table == jobstream.fold_paths(log, workers=1).table


# --------------------------------------------------------------------------- regressions found by review


def test_signed_zero_does_not_make_the_fold_order_dependent() -> None:
    """Found by review: a cost of 0.0 and one of -0.0 made the fold's answer depend on the order of
    the lines (the invariant: order and chunking do not matter)."""
    a, b = (
        snapshot("j1", "RUNNING", 200, job_type="completion", metadata={"cost": cost, "cost_currency": "USD"})
        for cost in (0.0, -0.0)
    )
    cost = lambda t: orjson.dumps(t.get("j1").cost)  # noqa: E731
    assert cost(fold([a, b])) == cost(fold([b, a])) == cost(fold([a]).merge(fold([b])))


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
def test_times_after_2106_survive_the_wire_form_and_parallel_reads(tmp_path: Path, forks: None) -> None:
    """The README accepts times up to the end of 9999, but observations are packed as
    `time << 32 | code`, which passes 2**64 for any time after 2106-02-07 (2**32 s): msgpack
    cannot encode it.  `to_bytes` raises OverflowError and every parallel run over such a line
    fails ("a worker process failed"), while -j 1 works."""
    t = 5_000_000_000  # 2128-06-11
    table = JobTable().update(
        [
            JobView(id="a", status="QUEUED", created_at=t, modified_at=t),
            JobView(id="a", status="SUCCESS", created_at=t, modified_at=t + 60),
        ]
    )
    assert JobTable.from_bytes(table.to_bytes()) == table

    path = tmp_path / "future.ndjson"
    path.write_bytes(
        b"".join(
            b'{"id":"j%d","status":"RUNNING","created_at":%d,"modified_at":%d}\n' % (i, t, t + i) for i in range(2000)
        )
    )
    one = fold_paths(path, workers=1)
    two = fold_paths(path, workers=2, min_parallel_bytes=1, range_bytes=1000)
    assert two.table == one.table and two.stats.accepted == 2000


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
def test_fold_order_does_not_change_unknown_integration_labels(tmp_path: Path) -> None:
    """Two polls equal as Python values ({"type": 1} == {"type": true} == {"type": 1.0}) but labelled
    differently ("1", "True", "1.0").  The fold skips the second as an exact repeat
    (`acc.last == snap`), so the label depends on which came first, while a merge of the two
    halves breaks the tie by encoding: A,B gives ['1'], B,A gives ['True'], merge gives ['True'].
    README: "The result is the same whatever the order or duplication of the input."."""
    a = poll("j", "RUNNING", T0 + 5, integrations=[{"type": 1}])
    b = poll("j", "RUNNING", T0 + 5, integrations=[{"type": True}])
    ab, ba, pa, pb = (tmp_path / n for n in ("ab.ndjson", "ba.ndjson", "a.ndjson", "b.ndjson"))
    ab.write_bytes(a + b)
    ba.write_bytes(b + a)
    pa.write_bytes(a)
    pb.write_bytes(b)
    t_ab, t_ba = fold_paths(ab).table, fold_paths(ba).table
    merged = fold_paths(pa).table.merge(fold_paths(pb).table)
    assert t_ab.jobs() == t_ba.jobs() == merged.jobs()


HISTORY_SCRIPT = r"""
from jobstream.reduce.reducer import JobTable
from jobstream.decode.models import JobView
t = JobTable()
t.update([JobView(id=f"x{i}", status=f"S{i:06d}", created_at=1, modified_at=1) for i in range(70000)])
t.update([JobView(id="j", status="ZZZ_UNKNOWN", created_at=1, modified_at=2),
          JobView(id="j", status="QUEUED", created_at=1, modified_at=2),
          JobView(id="j", status="RUNNING", created_at=1, modified_at=3)])
print([o.time for o in t.get("j").history])
"""


# regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
def test_history_stays_in_time_order_after_65536_distinct_statuses() -> None:
    """Ties within one second are sorted by `(time << 16) | order[code]`: once a process has seen
    more than 65,536 distinct status strings (any log can carry them: unknown statuses are kept),
    order values spill into the time bits and a job's history goes out of time order, giving a
    change RUNNING -> ZZZ_UNKNOWN dated before the change it follows.  (In a subprocess: the
    status table is process-wide.)"""
    out = subprocess.run([sys.executable, "-c", HISTORY_SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    times = json.loads(out.stdout)
    assert times == sorted(times)
