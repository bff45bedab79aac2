"""The reducer: a pure, mergeable fold of snapshots into job states and status changes.

State per job is a *join-semilattice*: every part is a max, a min, a logical or, or a set
union, each under a total order that depends only on snapshot content.  So folding is
insensitive to order and duplication, and :meth:`JobTable.merge` is associative and
commutative: partial tables from chunks, processes or machines merge into exactly the
single-pass result.

What is kept per job:

* ``current``: the fields of the snapshot with the greatest ``(modified_at, lifecycle rank
  of status)``; exact ties are broken by the canonical msgpack encoding of those fields;
* the latest ``job_type`` a snapshot stated (same order), and whether any snapshot carried
  ``classifier_targets``;
* every checkpoint step, its metrics merged across polls: per metric, the value from the
  newest snapshot that reported one (a null never hides a value seen in another poll, and a
  validation loss of 0.0 is how the API says "not evaluated at this step": absent);
* first and last ``modified_at`` seen;
* the set of status observations ``(time, status)``, each flagged as seen in a snapshot
  and/or a ``status-updated`` event.  This set is the only part that grows, and it grows
  with distinct observations, not with lines.  Nothing in it can be dropped without
  changing some merge (a late observation may fall between any two), so it is kept
  exactly, with interned status strings.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from ..decode.models import STATUS_RANK, TERMINAL_STATUSES, UNKNOWN_RANK, status_rank

if TYPE_CHECKING:
    from ..decode.decoder import Snapshot
    from .summary import Summary

__all__ = ["JobTable", "JobState", "JobBrief", "StatusChange", "Observation", "CheckpointRow", "fold"]

_SNAPSHOT = 1
_EVENT = 2

_intern = sys.intern
_RANK = STATUS_RANK

# Observations are kept as one int each, ``time << 32 | status code``: a third of the memory
# of a (time, status) tuple.  Codes are per process; the wire form carries the strings.
_CODES: dict[str, int] = {}
_NAMES: list[str] = []
_LOW = (1 << 32) - 1


def _code(status: str) -> int:
    code = _CODES.get(status)
    if code is None:
        code = _CODES[status] = len(_NAMES)
        _NAMES.append(_intern(status))
    return code


def _unpack(key: int) -> tuple[int, str]:
    return key >> 32, _NAMES[key & _LOW]


# The history order of statuses (lifecycle rank, then name) as an int per status code, so a
# job's observations sort as plain ints: ``time << 32 | order``.  Rebuilt when a status not
# seen before gets a code.
_ORDER: list[int] = []


def _order() -> list[int]:
    if len(_ORDER) != len(_NAMES):
        ranked = sorted(range(len(_NAMES)), key=lambda c: (status_rank(_NAMES[c]), _NAMES[c]))
        _ORDER[:] = [0] * len(_NAMES)
        for pos, code in enumerate(ranked):
            _ORDER[code] = pos
    return _ORDER


_encode = msgspec.msgpack.encode


# --------------------------------------------------------------------------- output types


class Observation(msgspec.Struct, frozen=True, gc=False):
    """A status seen at a time, in a snapshot (``modified_at``) and/or an event."""

    time: int
    status: str
    in_snapshot: bool = False
    in_event: bool = False


class StatusChange(msgspec.Struct, frozen=True, gc=False):
    """A job's status changed: ``from_status`` is None for the first status seen."""

    job_id: str
    job_type: str
    model: str | None
    from_status: str | None
    to_status: str
    at: int


class JobState(msgspec.Struct, kw_only=True, gc=False):
    """The current state of one job, as folded from all its snapshots."""

    id: str
    job_type: str
    model: str | None
    status: str
    created_at: int
    modified_at: int
    first_seen: int
    last_seen: int
    #: distinct ``(modified_at, status)`` observations in snapshots: re-reading adds none
    observations: int
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    cost: float | None = None
    cost_currency: str | None = None
    #: the highest checkpoint step seen, and when that checkpoint was made
    checkpoint_step: int | None = None
    checkpoint_at: int | None = None
    #: the newest training loss reported (the highest step that has one)
    train_loss: float | None = None
    #: the newest validation figures (the highest step that was evaluated); None without validation
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None
    integrations: list[str] = msgspec.field(default_factory=list)
    history: list[Observation] = msgspec.field(default_factory=list)
    changes: list[StatusChange] = msgspec.field(default_factory=list)
    #: seconds spent in each status (the last, if not terminal, up to the last observation)
    durations: dict[str, int] = msgspec.field(default_factory=dict)
    queue_wait: int | None = None
    run_time: int | None = None
    total: int | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class CheckpointRow(msgspec.Struct, frozen=True, gc=False):
    """One checkpoint of one job, its metrics merged across every poll that showed it."""

    job_id: str
    step: int | None
    created_at: int | None
    train_loss: float | None
    valid_loss: float | None
    valid_mean_token_accuracy: float | None


class JobBrief(msgspec.Struct, array_like=True, gc=False):
    """What a summary reads of a job: a :class:`JobState`'s figures, without its history."""

    id: str
    job_type: str
    model: str | None
    status: str
    created_at: int
    modified_at: int
    observations: int
    trained_tokens: int | None
    cost: float | None
    cost_currency: str | None
    queue_wait: int | None
    run_time: int | None
    total: int | None


# --------------------------------------------------------------------------- accumulator


class _Current(msgspec.Struct, array_like=True, gc=False):
    """Fields taken from a job's latest snapshot (array-like: compact and canonical)."""

    modified_at: int
    rank: int
    status: str
    created_at: int
    model: str | None
    fine_tuned_model: str | None
    trained_tokens: int | None
    cost: float | None
    cost_currency: str | None
    integrations: list[str]


# Per checkpoint step, four merged fields, each ``(order key, value)`` with key -1 when no
# poll reported a value: the value of the greatest key wins, the greater value on equal keys
# (so any order of the same polls gives the same answer).  The key of a snapshot is its
# ``modified_at << 3 | lifecycle rank``.
_CP_FIELDS = 4  # created_at, train_loss, valid_loss, valid_mean_token_accuracy
_NO_CP = (-1, None, -1, None, -1, None, -1, None)


def _cp_merge(mine: list[Any], other: Any) -> None:
    for i in range(0, 2 * _CP_FIELDS, 2):
        key = other[i]
        if key > mine[i] or (key == mine[i] and key >= 0 and other[i + 1] > mine[i + 1]):
            mine[i] = key
            mine[i + 1] = other[i + 1]


def _integration_label(obj: Any) -> str:
    if isinstance(obj, dict):  # a type jobstream does not know; only a string names it (1, 1.0
        kind = obj.get("type")  # and true are equal values: a label must not depend on which came)
        return kind if isinstance(kind, str) else "unknown"
    project = getattr(obj, "project", None)
    run = getattr(obj, "run_name", None)
    label = "wandb"
    if project:
        label += f":{project}"
        if run:
            label += f"/{run}"
    return label


def _extract(snap: Snapshot, key: int) -> _Current:
    """The fields a job's state takes from its latest snapshot."""
    meta = snap.metadata
    integ = snap.integrations
    return _Current(
        key >> 3,
        key & 7,
        _intern(snap.status),
        snap.created_at,
        snap.model,
        snap.fine_tuned_model,
        snap.trained_tokens,
        # + 0.0: -0.0 becomes 0.0, so snapshots equal as values fold alike (an exact
        # repeat is skipped by comparison, and 0.0 == -0.0)
        (meta.cost + 0.0 if meta.cost is not None else None) if meta is not None else None,
        meta.cost_currency if meta is not None else None,
        [_integration_label(i) for i in integ] if integ else [],
    )


class _Acc:
    """Mutable per-job accumulator (the semilattice described in the module docstring).

    The latest snapshot is kept as it came (``win``, with its order key ``modified_at << 3 |
    rank``) and its fields are extracted only when asked for: most snapshots of a growing
    log are superseded before anyone looks.
    """

    __slots__ = (
        "key",
        "win",
        "_current",
        "stated",
        "classifier",
        "cps",
        "first_seen",
        "last_seen",
        "obs",
        "last",
        "last_events",
    )

    def __init__(self) -> None:
        self.key = -1  # order key of the latest snapshot
        self.win: Snapshot | None = None  # that snapshot, fields not extracted yet (None once extracted)
        self._current: _Current | None = None
        self.stated: tuple[int, str, str] | None = None  # (order key, status, type)
        self.classifier = False
        self.cps: dict[int | None, list[Any]] = {}  # step -> merged fields (see _cp_merge)
        self.first_seen = 0
        self.last_seen = 0
        self.obs: dict[int, int] = {}  # (time << 32 | status code) -> flags
        # Not part of the state (never merged or shipped): the last snapshot folded, so an
        # exact repeat is skipped with one comparison, and its events list, so a poll whose
        # events did not change is not walked again.  Folding is idempotent: both are exact.
        self.last: Snapshot | None = None
        self.last_events: object = None

    @property
    def current(self) -> _Current | None:
        if self.win is not None:
            self._current = _extract(self.win, self.key)
            self.win = None
        return self._current

    def _take(self, key: int, cur: _Current) -> None:
        """Take *cur* (key *key*) as the latest if it is: greater key, or on a tie the greater
        canonical encoding (not !=: 0.0 == -0.0 but they encode apart)."""
        if key > self.key:
            self.key, self.win, self._current = key, None, cur
            return
        if key == self.key:
            mine = self.current
            if mine is None or _encode(cur) > _encode(mine):
                self.win, self._current = None, cur

    def add(self, snap: Snapshot) -> None:
        status = _intern(snap.status)
        modified_at = snap.modified_at
        rank = _RANK.get(status, UNKNOWN_RANK)
        obs = self.obs
        code = _CODES.get(status)
        k = (modified_at << 32) | (code if code is not None else _code(status))
        flags = obs.get(k)
        if flags is None:
            obs[k] = _SNAPSHOT
        elif not flags & _SNAPSHOT:
            obs[k] = flags | _SNAPSHOT

        key = modified_at << 3 | rank
        if self.key < 0:
            self.first_seen = self.last_seen = modified_at
            self.key, self.win = key, snap
        else:
            if modified_at < self.first_seen:
                self.first_seen = modified_at
            elif modified_at > self.last_seen:
                self.last_seen = modified_at
            if key > self.key:
                self.key, self.win, self._current = key, snap, None
            elif key == self.key:
                self._take(key, _extract(snap, key))

        stated = snap.stated_job_type
        if stated is not None:
            have = self.stated
            if have is None or key >= have[0]:
                st = (key, status, "completion" if stated == "FT" else stated)
                if have is None or st > have:
                    self.stated = st
        if not self.classifier and snap.has_classifier_targets:
            self.classifier = True

        events = snap.events
        if events and events != self.last_events:
            self.last_events = events
            for ev in events:
                if ev.name != "status-updated":
                    continue
                # a dict (full schema) or an _EventDataView (projections), told apart by exact
                # type below: the fastest test, which mypy does not narrow on (hence Any)
                data: Any = ev.data
                t = ev.created_at
                if data is None or t is None:
                    continue
                s = data.get("status") if type(data) is dict else data.status
                if type(s) is str:
                    code = _CODES.get(s)
                    ek = (t << 32) | (code if code is not None else _code(s))
                    flags = obs.get(ek)
                    if flags is None:
                        obs[ek] = _EVENT
                    elif not flags & _EVENT:
                        obs[ek] = flags | _EVENT

        cps = snap.checkpoints
        if cps:
            mine = self.cps
            for cp in cps:
                met = cp.metrics
                vl = met.valid_loss
                if vl:  # 0.0 (or null): this step was not evaluated
                    va = met.valid_mean_token_accuracy
                    vl_key, va_key, vl, va = (
                        key,
                        key if va is not None else -1,
                        vl + 0.0,
                        (va + 0.0) if va is not None else None,
                    )
                else:
                    vl_key = va_key = -1
                    vl = va = None
                tl = met.train_loss
                ct = cp.created_at
                fields = (
                    key if ct is not None else -1,
                    ct,
                    key if tl is not None else -1,
                    (tl + 0.0) if tl is not None else None,
                    vl_key,
                    vl,
                    va_key,
                    va,
                )
                step = cp.step_number
                have_cp = mine.get(step)
                if have_cp is None:
                    mine[step] = list(fields)
                else:
                    _cp_merge(have_cp, fields)

    def merge(self, other: _Acc) -> None:
        theirs = other.current
        if theirs is None:
            return
        if self.key < 0:
            self.key, self.win, self._current = other.key, None, theirs
            self.first_seen, self.last_seen = other.first_seen, other.last_seen
        else:
            self._take(other.key, theirs)
            self.first_seen = min(self.first_seen, other.first_seen)
            self.last_seen = max(self.last_seen, other.last_seen)
        if other.stated is not None and (self.stated is None or other.stated > self.stated):
            self.stated = other.stated
        self.classifier = self.classifier or other.classifier
        for step, fields in other.cps.items():
            have = self.cps.get(step)
            if have is None:
                self.cps[step] = list(fields)
            else:
                _cp_merge(have, fields)
        obs = self.obs
        for k, flags in other.obs.items():
            obs[k] = obs.get(k, 0) | flags

    def copy(self) -> _Acc:
        new = _Acc()
        new.key, new._current = self.key, self.current
        new.stated, new.classifier = self.stated, self.classifier
        new.cps = {k: list(v) for k, v in self.cps.items()}
        new.first_seen, new.last_seen = self.first_seen, self.last_seen
        new.obs = dict(self.obs)
        return new

    @property
    def job_type(self) -> str:
        if self.stated is not None:
            return self.stated[2]
        return "classifier" if self.classifier else "completion"

    def history(self) -> list[tuple[int, str, int]]:
        """Observations sorted by time, then lifecycle rank, then status name."""
        obs, names = self.obs, _NAMES
        keys = sorted(obs)  # by time; within one second by status code, fixed below if it matters
        times = [k >> 32 for k in keys]
        if len(set(times)) != len(times):  # statuses sharing a second: the lifecycle orders them
            order = _order()
            keys.sort(key=lambda k: (k & ~_LOW) | order[k & _LOW])
            times = [k >> 32 for k in keys]
        return [(t, names[k & _LOW], obs[k]) for t, k in zip(times, keys, strict=True)]

    @staticmethod
    def _transitions(hist: list[tuple[int, str, int]]) -> list[tuple[int, str | None, str]]:
        """``(time, from, to)`` for each observation whose status differs from the previous."""
        out: list[tuple[int, str | None, str]] = []
        prev: str | None = None
        for t, s, _ in hist:
            if s != prev:
                out.append((t, prev, s))
                prev = s
        return out

    def changes(self, job_id: str, hist: list[tuple[int, str, int]] | None = None) -> list[StatusChange]:
        """Walk the sorted history: each observation whose status differs from the previous is a change."""
        cur = self.current
        assert cur is not None
        job_type, model = self.job_type, cur.model
        return [
            StatusChange(job_id, job_type, model, a, b, t)
            for t, a, b in self._transitions(self.history() if hist is None else hist)
        ]

    def brief(self, job_id: str) -> JobBrief:
        """The job's summary figures in one pass over its observations (no history built)."""
        cur = self.current
        assert cur is not None
        obs, names = self.obs, _NAMES
        keys = sorted(obs)
        times = [k >> 32 for k in keys]
        if len(set(times)) != len(times):  # statuses sharing a second: the lifecycle orders them
            order = _order()
            keys.sort(key=lambda k: (k & ~_LOW) | order[k & _LOW])
        prev = ""
        running_at = last_at = None
        for k in keys:
            status = names[k & _LOW]
            if status != prev:
                last_at = k >> 32
                if running_at is None and status == "RUNNING":
                    running_at = last_at
                prev = status
        terminal_at = last_at if prev in TERMINAL_STATUSES else None
        created = cur.created_at
        return JobBrief(
            job_id,
            self.job_type,
            cur.model,
            cur.status,
            created,
            cur.modified_at,
            sum(f & _SNAPSHOT for f in obs.values()),
            cur.trained_tokens,
            cur.cost,
            cur.cost_currency,
            running_at - created if running_at is not None else None,
            terminal_at - running_at if terminal_at is not None and running_at is not None else None,
            terminal_at - created if terminal_at is not None else None,
        )

    def checkpoint_rows(self, job_id: str) -> list[CheckpointRow]:
        """Every checkpoint of the job, by step (a checkpoint without a step last)."""
        return [
            CheckpointRow(job_id, step, f[1], f[3], f[5], f[7])
            for step, f in sorted(self.cps.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        ]

    def latest_checkpoints(self) -> tuple[int | None, int | None, float | None, float | None, float | None]:
        """``(step, created_at)`` of the highest step, the newest train loss and validation figures."""
        steps = sorted((k for k in self.cps if k is not None), reverse=True)
        if not steps:
            return None, None, None, None, None
        top = self.cps[steps[0]]
        train = next((self.cps[k][3] for k in steps if self.cps[k][2] >= 0), None)
        valid = next((self.cps[k] for k in steps if self.cps[k][4] >= 0), None)
        return (steps[0], top[1], train, valid[5] if valid else None, valid[7] if valid else None)

    def state(self, job_id: str, light: bool = False) -> JobState:
        """The job's state; *light* leaves ``history`` and ``changes`` empty (for summaries)."""
        cur = self.current
        assert cur is not None
        job_type = self.job_type
        hist = self.history()
        moves = self._transitions(hist)
        durations: dict[str, int] = defaultdict(int)
        for (t0, _, s0), (t1, _, _) in zip(moves, moves[1:], strict=False):  # each move with the next
            durations[s0] += t1 - t0
        last_at, _, last = moves[-1] if moves else (0, None, "")
        if moves and last not in TERMINAL_STATUSES:
            durations[last] += hist[-1][0] - last_at
        running_at = next((t for t, _, to in moves if to == "RUNNING"), None)
        terminal_at = last_at if moves and last in TERMINAL_STATUSES else None
        cp = self.latest_checkpoints() if self.cps else (None, None, None, None, None)
        changes = [] if light else [StatusChange(job_id, job_type, cur.model, a, b, t) for t, a, b in moves]
        return JobState(
            id=job_id,
            job_type=job_type,
            model=cur.model,
            status=cur.status,
            created_at=cur.created_at,
            modified_at=cur.modified_at,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            observations=sum(f & _SNAPSHOT for f in self.obs.values()),
            fine_tuned_model=cur.fine_tuned_model,
            trained_tokens=cur.trained_tokens,
            cost=cur.cost,
            cost_currency=cur.cost_currency,
            checkpoint_step=cp[0],
            checkpoint_at=cp[1],
            train_loss=cp[2],
            valid_loss=cp[3],
            valid_mean_token_accuracy=cp[4],
            integrations=list(cur.integrations),
            history=[] if light else [Observation(t, s, bool(f & _SNAPSHOT), bool(f & _EVENT)) for t, s, f in hist],
            changes=[] if light else changes,
            durations=dict(durations),
            queue_wait=running_at - cur.created_at if running_at is not None else None,
            run_time=terminal_at - running_at if terminal_at is not None and running_at is not None else None,
            total=terminal_at - cur.created_at if terminal_at is not None else None,
        )


# --------------------------------------------------------------------------- wire form


class _WireAcc(msgspec.Struct, array_like=True, gc=False):
    id: str
    current: _Current
    stated: tuple[int, str, str] | None  # (order key, status, type)
    classifier: bool
    #: ``(step, merged fields...)`` per checkpoint step
    checkpoints: list[tuple[Any, ...]]
    first_seen: int
    last_seen: int
    #: observations, flat: ``key, flags, key, flags, ...``; a key is ``time << 32 | code``, the
    #: code indexing the table's ``statuses``.  A key does not fit msgpack's 64 bits for times
    #: after 2106 (the decoder accepts times up to 9999): a job with one is sent as ``-1`` then
    #: ``time, code, flags`` triples instead
    obs: list[int]


class _WireTable(msgspec.Struct, array_like=True):
    version: int
    statuses: list[str]
    jobs: list[_WireAcc]


_WIRE_VERSION = 5
#: versions :meth:`JobTable.from_bytes` reads: 4 is 5 without the triples (saved states hold it)
_WIRE_READS = (4, 5)
_WIDE = 1 << 64


def _flat_obs(obs: dict[int, int], codes: dict[int, int] | None = None) -> list[int]:
    """A job's observations in the wire form (see ``_WireAcc.obs``); *codes* maps this
    process's status codes to the table's."""
    if obs and max(obs) >= _WIDE:
        if codes is None:
            return [-1, *(x for k, f in obs.items() for x in (k >> 32, k & _LOW, f))]
        return [-1, *(x for k, f in obs.items() for x in (k >> 32, codes[k & _LOW], f))]
    if codes is None:
        return [x for kf in obs.items() for x in kf]
    return [x for k, f in obs.items() for x in ((k & ~_LOW) | codes[k & _LOW], f)]


_wire_decoder = msgspec.msgpack.Decoder(_WireTable)


# --------------------------------------------------------------------------- the table


class JobTable:
    """The folded state of every job.  Build with :func:`fold` or :meth:`add`; combine with :meth:`merge`."""

    __slots__ = ("_accs",)

    def __init__(self) -> None:
        self._accs: dict[str, _Acc] = {}

    # -- building ----------------------------------------------------------------------

    def add(self, snapshot: Snapshot) -> None:
        """Fold one snapshot (any decoded job: full schema or :class:`~jobstream.decode.models.JobView`)."""
        acc = self._accs.get(snapshot.id)
        if acc is None:
            acc = self._accs[snapshot.id] = _Acc()
        acc.add(snapshot)

    def update(self, snapshots: Iterable[Snapshot]) -> JobTable:
        """Fold many snapshots; returns self."""
        accs = self._accs
        for snap in snapshots:
            acc = accs.get(snap.id)
            if acc is None:
                acc = accs[snap.id] = _Acc()
            elif acc.last is not None and acc.last == snap:
                continue  # an exact repeat of the last poll adds nothing
            acc.add(snap)
            # kept for the comparison unless it is big (checkpoints): memory grows with jobs
            acc.last = snap if snap.checkpoints is None else None
        return self

    def merge(self, other: JobTable) -> JobTable:
        """A new table holding both: associative, commutative, and equal to one fold of both inputs."""
        out = self.copy()
        out.merge_in(other)
        return out

    def merge_in(self, other: JobTable, *, consume: bool = False) -> JobTable:
        """Merge *other* into this table in place; returns self.

        With *consume*, *other*'s per-job states are taken over rather than copied: for a
        table built only to be merged (a worker's), which must not be used afterwards.
        """
        accs = self._accs
        for job_id, acc in other._accs.items():
            mine = accs.get(job_id)
            if mine is None:
                accs[job_id] = acc if consume else acc.copy()
            else:
                mine.merge(acc)
        if consume:
            other._accs = {}
        return self

    def copy(self) -> JobTable:
        out = JobTable()
        out._accs = {k: a.copy() for k, a in self._accs.items()}
        return out

    # -- serialisation -----------------------------------------------------------------

    def to_bytes(self, job_ids: Iterable[str] | None = None) -> bytes:
        """The state as msgpack, to send a partial table across processes or machines.

        With *job_ids*, only those jobs (unknown ids are skipped), and a status table of only
        the statuses they use: an incremental state keeps each job's part apart, so a run
        re-encodes only the jobs it touched, each part small."""
        codes: dict[int, int] | None = None
        if job_ids is None:
            items: Iterable[tuple[str, _Acc]] = self._accs.items()
            names = list(_NAMES)
        else:
            accs = self._accs
            items = [(k, accs[k]) for k in job_ids if k in accs]
            codes = {}
            for _, a in items:
                for k in a.obs:
                    codes.setdefault(k & _LOW, len(codes))
            names = [_NAMES[c] for c in codes]
        jobs = [
            _WireAcc(
                job_id,
                a.current,  # type: ignore[arg-type]
                a.stated,
                a.classifier,
                [(step, *fields) for step, fields in a.cps.items()],
                a.first_seen,
                a.last_seen,
                _flat_obs(a.obs, codes),
            )
            for job_id, a in items
            if a.key >= 0
        ]
        return msgspec.msgpack.encode(_WireTable(_WIRE_VERSION, names, jobs))

    @classmethod
    def from_bytes(cls, data: bytes) -> JobTable:
        wire = _wire_decoder.decode(data)
        if wire.version not in _WIRE_READS:
            raise ValueError(f"unsupported JobTable wire version {wire.version}")
        out = cls()
        # the sender's status codes, as this process's (the same when forked from one parent)
        local = [_code(name) for name in wire.statuses]
        same = local == list(range(len(local)))
        for w in wire.jobs:
            a = _Acc()
            cur = w.current
            cur.status = _intern(cur.status)
            a.key, a._current, a.classifier = cur.modified_at << 3 | cur.rank, cur, w.classifier
            a.cps = {cp[0]: list(cp[1:]) for cp in w.checkpoints}
            a.stated = w.stated  # decoded as a tuple already
            a.first_seen, a.last_seen = w.first_seen, w.last_seen
            # pairs (or triples) of one iterator: strict=False, the wire's grouping idiom
            flat = iter(w.obs)
            if w.obs and w.obs[0] == -1:  # times past 2106: triples
                next(flat)
                a.obs = {t << 32 | local[c]: f for t, c, f in zip(flat, flat, flat, strict=False)}
            elif same:
                a.obs = dict(zip(flat, flat, strict=False))
            else:
                a.obs = {(k & ~_LOW) | local[k & _LOW]: f for k, f in zip(flat, flat, strict=False)}
            out._accs[w.id] = a
        return out

    def __reduce__(self) -> Any:
        # a module-level function: cloudpickle (Dask) pickles it by reference, as pickle does;
        # the bound classmethod it would pickle by value, with its unpicklable msgspec globals
        return (_table_from_bytes, (self.to_bytes(),))

    # -- reading -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._accs)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._accs

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JobTable):
            return NotImplemented
        return self.jobs() == other.jobs()

    def __repr__(self) -> str:
        return f"<JobTable: {len(self)} jobs>"

    def get(self, job_id: str) -> JobState | None:
        acc = self._accs.get(job_id)
        return acc.state(job_id) if acc is not None else None

    def changes(self, job_id: str) -> list[StatusChange]:
        """The status changes of one job (cheaper than :meth:`get` when that is all you need)."""
        acc = self._accs.get(job_id)
        return acc.changes(job_id) if acc is not None else []

    def current_status(self, job_id: str) -> str | None:
        """The job's current status (from its latest snapshot), or None for an unknown job."""
        acc = self._accs.get(job_id)
        return acc.current.status if acc is not None and acc.current is not None else None

    def statuses(self) -> set[str]:
        """Every status observed in any snapshot or event of any job."""
        codes = {k & _LOW for acc in self._accs.values() for k in acc.obs}
        return {_NAMES[c] for c in codes}

    def job_types(self) -> set[str]:
        """Every job's type (as :attr:`JobState.job_type` reports it)."""
        return {acc.job_type for acc in self._accs.values()}

    def jobs(self, *, light: bool = False) -> list[JobState]:
        """Every job's state, ordered by ``created_at`` then id.

        *light* leaves each state's ``history`` and ``changes`` empty: all a summary needs,
        in a fraction of the memory.
        """
        states = [a.state(k, light) for k, a in self._accs.items()]
        states.sort(key=lambda j: (j.created_at, j.id))
        return states

    def events(self, jobs: Iterable[JobState] | None = None) -> list[StatusChange]:
        """Status changes of every job (or of *jobs*), by time, then job id, then history order."""
        keyed = []
        per_job = (
            ((k, a.changes(k)) for k, a in self._accs.items()) if jobs is None else ((j.id, j.changes) for j in jobs)
        )
        for job_id, changes in per_job:
            for i, ch in enumerate(changes):
                keyed.append(((ch.at, job_id, i), ch))
        keyed.sort(key=lambda kc: kc[0])
        return [ch for _, ch in keyed]

    def checkpoints(self, jobs: Iterable[JobState] | None = None) -> list[CheckpointRow]:
        """One row per job and checkpoint step (every job's, or *jobs*'), metrics merged across polls.

        Jobs in :meth:`jobs` order, steps ascending: the training curves.
        """
        order = self.jobs(light=True) if jobs is None else list(jobs)
        rows: list[CheckpointRow] = []
        for job in order:
            acc = self._accs.get(job.id)
            if acc is not None:
                rows.extend(acc.checkpoint_rows(job.id))
        return rows

    def summary(self, by: str | None = None, jobs: Iterable[JobState] | None = None) -> Summary:
        """Figures over every job (or *jobs*), optionally per group (``model``, ``job_type``, ``status``, ``day``)."""
        from .summary import summarize_jobs

        states: list[Any] = [a.brief(k) for k, a in self._accs.items()] if jobs is None else list(jobs)
        return summarize_jobs(states, by=by)

    # -- columnar (pyarrow, an optional extra: see jobstream.out.arrow) -------------------------

    def to_arrow(self, what: str = "jobs", jobs: Iterable[JobState] | None = None, *, by: str | None = None) -> Any:
        """A ``pyarrow.Table`` of ``jobs``, ``events``, ``checkpoints``, ``durations`` or ``summary``."""
        from ..out.arrow import to_arrow

        return to_arrow(self, what, jobs, by=by)

    def to_pandas(self, what: str = "jobs", jobs: Iterable[JobState] | None = None, *, by: str | None = None) -> Any:
        """:meth:`to_arrow` as a pandas DataFrame (needs pyarrow and pandas)."""
        from ..out.arrow import to_arrow, to_pandas

        return to_pandas(to_arrow(self, what, jobs, by=by))

    def to_polars(self, what: str = "jobs", jobs: Iterable[JobState] | None = None, *, by: str | None = None) -> Any:
        """:meth:`to_arrow` as a polars DataFrame (needs pyarrow and polars)."""
        from ..out.arrow import to_arrow, to_polars

        return to_polars(to_arrow(self, what, jobs, by=by))


def fold(snapshots: Iterable[Snapshot], table: JobTable | None = None) -> JobTable:
    """Fold *snapshots* (into *table* if given) and return the table."""
    table = JobTable() if table is None else table
    return table.update(snapshots)


def _table_from_bytes(data: bytes) -> JobTable:
    """Unpickle a :class:`JobTable` (see :meth:`JobTable.__reduce__`)."""
    return JobTable.from_bytes(data)
