"""The change feed (``jobstream.reduce.changes``): which status changes are new, each emitted
once and never backwards, and when every followed job has ended."""

from __future__ import annotations

from typing import Any

import msgspec
from helpers import T0, poll

from jobstream.decode.models import JobView
from jobstream.reduce.changes import ChangeFeed
from jobstream.reduce.filters import Selection


def view(job_id: str, status: str, t: int, **kw: Any) -> JobView:
    """A snapshot line (see helpers.line) decoded as the follower decodes it."""
    return msgspec.json.decode(poll(job_id, status, t, **kw), type=JobView)


class TestChangeFeed:
    def test_late_older_snapshot_produces_no_backwards_change(self) -> None:
        feed = ChangeFeed()
        assert [(c.from_status, c.to_status) for c in feed.push([view("a", "RUNNING", T0 + 10)])] == [(None, "RUNNING")]
        assert feed.push([view("a", "QUEUED", T0)]) == []
        assert feed.push([view("a", "VALIDATED", T0 + 5)]) == []
        assert [(c.from_status, c.to_status) for c in feed.push([view("a", "SUCCESS", T0 + 20)])] == [
            ("RUNNING", "SUCCESS")
        ]

    def test_each_change_is_emitted_once_in_order(self) -> None:
        feed = ChangeFeed()
        first = feed.push([view("a", "RUNNING", T0 + 2, events=[("QUEUED", T0), ("RUNNING", T0 + 2)])])
        assert [(c.from_status, c.to_status, c.at) for c in first] == [
            (None, "QUEUED", T0),
            ("QUEUED", "RUNNING", T0 + 2),
        ]
        assert feed.push([view("a", "RUNNING", T0 + 2)]) == []  # the same snapshot again
        assert feed.push([view("a", "RUNNING", T0 + 3)]) == []  # polled, unchanged

    def test_learnt_content_is_not_emitted_but_known(self) -> None:
        feed = ChangeFeed()
        feed.learn([view("a", "QUEUED", T0), view("a", "RUNNING", T0 + 1)])
        feed.settle()
        assert feed.push([view("a", "RUNNING", T0 + 5)]) == []
        assert [(c.from_status, c.to_status) for c in feed.push([view("a", "SUCCESS", T0 + 9)])] == [
            ("RUNNING", "SUCCESS")
        ]

    def test_selection_filters_output_not_state(self) -> None:
        feed = ChangeFeed(Selection.of(statuses=["SUCCESS"]))
        assert feed.push([view("a", "RUNNING", T0)]) == []
        assert [c.to_status for c in feed.push([view("a", "SUCCESS", T0 + 1)])] == ["SUCCESS"]

    def test_all_terminal_needs_a_seen_job_and_every_named_one(self) -> None:
        feed = ChangeFeed(Selection.of(job_ids=["a", "b"]))
        assert not feed.all_terminal()
        feed.push([view("a", "SUCCESS", T0), view("z", "RUNNING", T0)])
        assert not feed.all_terminal()  # b not seen; z is not followed
        feed.push([view("b", "FAILED", T0)])
        assert feed.all_terminal()
