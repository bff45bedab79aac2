"""The change feed: which status changes are new since the last time it was asked.

A :class:`ChangeFeed` is a :class:`~jobstream.reduce.reducer.JobTable` that remembers, per job, the
last change it reported, and reports only changes that come after it in the job's history
order, so a late, older snapshot never produces a backwards change.  ``tail`` prints what
it reports; ``events --new`` and ``tail --state`` keep its memory between runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..decode.models import TERMINAL_STATUSES, status_rank
from .filters import Selection
from .reducer import JobTable, StatusChange

if TYPE_CHECKING:
    from ..decode.decoder import Snapshot

__all__ = ["ChangeFeed", "change_key", "ChangeKey"]

ChangeKey = tuple[int, int, str]


def change_key(change: StatusChange) -> ChangeKey:
    """The order in which a job's changes happen: time, then lifecycle rank, then status."""
    return (change.at, status_rank(change.to_status), change.to_status)


class ChangeFeed:
    """A :class:`JobTable` that tells which status changes are new since the last call.

    :meth:`push` folds snapshots and returns the changes not emitted before, in order, for
    the jobs they touched; :meth:`learn` folds silently (existing content when following
    starts at the end) and :meth:`settle` marks everything learnt as already emitted.
    """

    def __init__(self, selection: Selection | None = None) -> None:
        self.table = JobTable()
        self.selection = selection if selection is not None else Selection()
        self._last: dict[str, ChangeKey] = {}
        self._dirty: dict[str, None] = {}
        self._seen: set[str] = set()  # jobs matching the job filters
        self._open: set[str] = set()  # ... whose current status is not terminal

    def push(self, snapshots: Sequence[Snapshot]) -> list[StatusChange]:
        """Fold *snapshots*; return the new changes that pass the selection."""
        if not snapshots:
            return []
        self.table.update(snapshots)
        keep = self.selection.keep_change
        out: list[StatusChange] = []
        for job_id in dict.fromkeys(s.id for s in snapshots):
            for change in self._advance(job_id):
                if keep(change):
                    out.append(change)
        return out

    def learn(self, snapshots: Sequence[Snapshot]) -> None:
        """Fold *snapshots* without emitting; call :meth:`settle` when done."""
        if snapshots:
            self.table.update(snapshots)
            self._dirty.update(dict.fromkeys(s.id for s in snapshots))

    def learn_table(self, table: JobTable) -> None:
        """Merge a folded *table* without emitting (consumed); like :meth:`learn`."""
        ids = list(table._accs)
        self.table.merge_in(table, consume=True)
        self._dirty.update(dict.fromkeys(ids))

    def resume(self, table: JobTable, last: dict[str, ChangeKey], pending: Iterable[str]) -> None:
        """Start from a saved state: its *table*, the key of the last change emitted per job,
        and the jobs that may have changes not emitted yet (learnt, for :meth:`replay`)."""
        self.table = table
        self._last = dict(last)
        self._dirty.update(dict.fromkeys(pending))

    def settled(self) -> dict[str, ChangeKey]:
        """Per job, the key of the last change emitted or settled."""
        return dict(self._last)

    def last(self, job_id: str) -> ChangeKey | None:
        """The key of the last change emitted (or settled) for *job_id*."""
        return self._last.get(job_id)

    def replay(self) -> list[StatusChange]:
        """Every change learnt so far that passes the selection, in export order (time, job,
        history), marked emitted: what ``jobstream events`` gives for the same content."""
        keep = self.selection.keep_change
        keyed = []
        for job_id in self._dirty:
            for i, change in enumerate(self._advance(job_id)):
                if keep(change):
                    keyed.append(((change.at, job_id, i), change))
        self._dirty.clear()
        keyed.sort(key=lambda kc: kc[0])
        return [change for _, change in keyed]

    def settle(self) -> None:
        """Mark every change learnt so far as emitted."""
        for job_id in self._dirty:
            self._advance(job_id)
        self._dirty.clear()

    def _advance(self, job_id: str) -> list[StatusChange]:
        changes = self.table.changes(job_id)
        if not changes:
            return []
        last = self._last.get(job_id)
        if last is None:
            new = changes
        else:
            i = len(changes)
            while i > 0 and change_key(changes[i - 1]) > last:
                i -= 1
            new = changes[i:]
        if new:
            self._last[job_id] = change_key(new[-1])
        self._track(job_id, changes[-1])
        return new

    def _track(self, job_id: str, latest: StatusChange) -> None:
        sel = self.selection
        if (
            (not sel.job_ids or job_id in sel.job_ids)
            and (not sel.job_types or latest.job_type in sel.job_types)
            and (not sel.models or latest.model in sel.models)
        ):
            self._seen.add(job_id)
            if self.table.current_status(job_id) in TERMINAL_STATUSES:
                self._open.discard(job_id)
            else:
                self._open.add(job_id)
        else:
            self._seen.discard(job_id)
            self._open.discard(job_id)

    def followed(self) -> dict[str, str | None]:
        """The jobs matching the job filters, with their current status; a job named by ``--job``
        and never seen is there with status None."""
        ids = self._seen | (self.selection.job_ids or set())
        return {job_id: self.table.current_status(job_id) if job_id in self._seen else None for job_id in sorted(ids)}

    def all_terminal(self) -> bool:
        """True once a job matching the job filters (``--job``, ``--job-type``, ``--model``) was
        seen and every such job is in a terminal status; every ``--job`` named must have been seen."""
        if not self._seen or self._open:
            return False
        return not self.selection.job_ids or self.selection.job_ids <= self._seen
