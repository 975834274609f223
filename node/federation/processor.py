"""Applying stored activities, after the inbox has answered.

The inbox stores each accepted activity with status ``received`` and answers
202; a processor claims rows with a lease (``node.db.activities``), applies
each through ``handlers.DISPATCH`` and records the outcome on the row while it
still holds the lease.  Any number of processors, in this process or others on
the same database, can run: each row is applied by the one that claimed it,
and a row left half-done by a crash is claimed again when its lease runs out
and applied again (handlers are idempotent).  Because the row is written before
the 202, a crash loses nothing.

The inbox of this process hands over what it stored (``notify``), so those rows
are claimed at once without being read back (up to ``HANDED`` of them kept in
memory; the database stays the record); rows stored elsewhere (another
process, or left by a crash) are found by polling, after a short grace that
leaves them to the process that stored them.

Claimed rows are applied in arrival order: a run of plain replies (the bulk of
a busy inbox) is stored in one transaction by ``comments.take_plain_replies``
(the one reply store path, applied to many); anything else, and whatever that
leaves, is applied one at a time.  An activity that needs a
document fetched (a missing parent, an object sent by reference, a post a Group
announced) is handed to a task of its own that fetches outside any transaction
and then applies it (``resolve.resolve_then_apply``), so one slow remote holds
neither the database nor the activities queued behind it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from node.db import activities, wakeups
from node.db.activities import LeaseLost
from node.db.models import Activity
from node.db.states import ActivityState
from node.db.types import utcnow
from node.federation import comments, handlers, resolve
from node.federation.background import cancel
from node.federation.outcomes import Outcome

if TYPE_CHECKING:
    from node.app import Node

log = logging.getLogger("fednode.processor")

BATCH = 128                       # activities claimed at once
LEASE = timedelta(minutes=10)     # default (apply_lease_seconds): a claimed row not settled by then is free again
POLL_SECONDS = 2.0                # how often rows stored by other processes are looked for
GRACE = timedelta(seconds=2)      # rows nobody told us about are left this long to the process that stored them
RESOLVING = 16                    # activities fetching what they need at once
RELEASE_SECONDS = 5.0             # how long stopping may spend giving back the rows it claimed
# Activities the inbox's hand-off keeps at most (some 10 MB of parsed documents); more are read back when
# claimed.  Reading back costs a reply's JSON decoding again (7 % of the apply side's CPU when a busy inbox
# ran ahead of its processor with 4 batches kept), so enough for the backlog a burst leaves.
HANDED = 32 * BATCH


class Received(NamedTuple):
    """A stored activity waiting to be applied."""

    id: int
    raw: dict[str, Any]
    actor_ap_id: str


class Processor:
    """Claims received activities and applies them, in arrival order."""

    def __init__(self, node: "Node", *, clock: Callable[[], datetime] = utcnow, owner: str | None = None) -> None:
        self.node = node
        self.clock = clock  # the lease tests move time instead of sleeping
        self.owner = owner or f"processor-{secrets.token_hex(6)}"
        # How long a claim holds: a processor killed outright leaves its rows to others after this.
        self.lease = timedelta(seconds=node.settings.apply_lease_seconds)
        # Activities the inbox handed over with their row id, so they need not be read back.
        self._handed: dict[int, Received] = {}
        self._notified: set[int] = set()
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._heard = False  # another process stored rows (PostgreSQL NOTIFY): look at every free row
        self._held: set[int] = set()  # rows claimed and not settled yet (given back on stop)
        self._resolving: dict[int, asyncio.Task] = {}  # rows fetching what they need, by row id
        self._resolve_slots = asyncio.Semaphore(RESOLVING)
        handlers.load_all()

    def notify(self, row_id: int, activity: dict[str, Any] | None = None, actor_ap_id: str | None = None) -> None:
        """Schedule a freshly stored activity (given with it, it is not read back from the database).

        The copies kept are bounded (``HANDED``): an inbox taking more than the processor applies
        must not grow its memory with them; rows beyond are read back when they are claimed, as rows
        stored before a restart or by another process are."""
        self._idle.clear()
        if activity is not None and actor_ap_id is not None and len(self._handed) < HANDED:
            self._handed[row_id] = Received(row_id, activity, actor_ap_id)
        self._notified.add(row_id)
        self._wake.set()

    def hear(self) -> None:
        """Another process stored activities (``wakeups.ACTIVITIES``): claim them now, not at the next poll."""
        self._heard = True
        self._idle.clear()
        self._wake.set()

    async def start(self) -> None:
        """Start applying: first every row left ``received`` (by a crash), then whatever arrives."""
        self._idle.clear()
        if self.node.wakeups is not None:  # PostgreSQL: rows stored by other processes wake this one
            self.node.wakeups.on(wakeups.ACTIVITIES, self.hear)
        self._task = asyncio.create_task(self._run(), name="fednode-processor")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None
        for task in list(self._resolving.values()):
            await cancel(task)
        # Rows claimed and not settled (waiting in a batch, or fetching what they need) are given back, so
        # another process applies them at once instead of after the lease.  Bounded: the cancellations above
        # have rolled their transactions back, but a busy database must not hold up a shutdown; if this
        # fails, the rows are free again when their lease runs out, as after a crash.
        held, self._held = sorted(self._held), set()
        if held:
            try:
                async with asyncio.timeout(RELEASE_SECONDS):
                    async with self.node.sessions.begin() as session:
                        await activities.release_activities(session, self.owner, held)
            except Exception as exc:
                log.warning("could not give back %d claimed activities (%s); they are free when their lease ends",
                            len(held), exc.__class__.__name__)

    async def drain(self) -> None:
        """Wait until everything notified so far has been applied (used by tests and the CLI)."""
        await self._idle.wait()

    async def _run(self) -> None:
        everything = True  # at start: every free row, however fresh (this process may have stored it before a crash)
        while True:
            self._wake.clear()
            try:
                done = await self.run_once(everything=everything)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad batch must not stop the others
                log.exception("applying received activities failed")
                done = 0
            if done:
                continue
            everything = False
            if not self._wake.is_set() and not self._notified and not self._resolving:
                self._idle.set()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)
            except TimeoutError:
                pass

    async def run_once(self, *, everything: bool = False) -> int:
        """Claim one batch and apply it; how many rows were claimed (0: nothing to do)."""
        now = self.clock()
        notified = sorted(self._notified)[:BATCH]
        async with self.node.sessions.begin() as session:
            if notified:
                self._notified.difference_update(notified)
                claimed = await activities.claim_activities(session, self.owner, BATCH, self.lease, now=now, ids=notified)
            else:
                # Woken by another process's NOTIFY, take its rows at once; a poll leaves fresh rows a grace
                # to the process that stored them (its inbox hands them to its own processor).
                fresh = everything or self._heard
                self._heard = False
                claimed = await activities.claim_activities(
                    session, self.owner, BATCH, self.lease, now=now, received_before=None if fresh else now - GRACE)
        for row_id in notified:
            if row_id not in claimed:
                self._handed.pop(row_id, None)  # applied already, or another processor has it
        self._held.update(claimed)
        if claimed:
            await self._apply_claimed(claimed)
        return len(claimed) or len(notified)

    async def apply_many(self, row_ids: list[int]) -> None:
        """Claim and apply these stored activities in order (rows not waiting, or held by another, are left)."""
        async with self.node.sessions.begin() as session:
            claimed = await activities.claim_activities(session, self.owner, len(row_ids), self.lease, now=self.clock(),
                                                        ids=row_ids)
        self._held.update(claimed)
        await self._apply_claimed(claimed)
        waiting = [self._resolving[row_id] for row_id in claimed if row_id in self._resolving]
        await asyncio.gather(*waiting, return_exceptions=True)

    async def apply(self, row_id: int) -> ActivityState | None:
        """Claim and apply one stored activity; the state recorded on its row (None: it was not waiting)."""
        async with self.node.sessions.begin() as session:
            claimed = await activities.claim_activities(session, self.owner, 1, self.lease, now=self.clock(), ids=[row_id])
        if not claimed:
            return None
        self._held.add(row_id)
        outcome = await self._apply_one(row_id)
        if row_id in self._resolving:
            outcome = await self._resolving[row_id]
        return None if outcome is None else outcome.state

    async def _apply_claimed(self, claimed: list[int]) -> None:
        """Apply rows this processor holds, in order: runs of plain replies together, the rest one by one."""
        rows = await self._rows(claimed)
        run: list[Received] = []
        for row in rows:
            if comments.is_plain_reply(row.raw, row.actor_ap_id):
                run.append(row)
                continue
            await self._apply_run(run)
            run = []
            await self._apply_one(row.id)
        await self._apply_run(run)

    async def _rows(self, claimed: list[int]) -> list[Received]:
        """The claimed rows in arrival order (the inbox's copies where it gave them)."""
        handed = {row_id: self._handed.pop(row_id) for row_id in claimed if row_id in self._handed}
        unknown = [row_id for row_id in claimed if row_id not in handed]
        if unknown:
            async with self.node.sessions() as session:
                for row in await activities.read_activities(session, unknown):
                    handed[row.id] = Received(row.id, row.raw, row.actor_ap_id)
        return [handed[row_id] for row_id in claimed if row_id in handed]

    async def _apply_run(self, run: list[Received]) -> None:
        if not run:
            return
        try:
            async with self.node.sessions.begin() as session:
                outcomes = await comments.take_plain_replies(self.node, session, run)
                # Recorded only while this processor holds the rows (LeaseLost rolls the run back).
                await activities.settle_activities(session, self.owner, outcomes, now=self.clock())
        except LeaseLost:  # nothing was committed; each row alone finds out whether it is still ours
            log.warning("a run of %d replies lost its lease; applying them one by one", len(run))
            outcomes = {}
        except Exception:  # nothing of the run was committed: apply each alone, which records failures
            log.exception("storing %d replies together failed; applying them one by one", len(run))
            outcomes = {}
        self._held.difference_update(outcomes)
        if any(outcome.wrote for outcome in outcomes.values()):
            self.node.wake_delivery()  # the Group's announces were queued
        for row in run:
            if row.id not in outcomes:
                await self._apply_one(row.id)

    async def _apply_one(self, row_id: int) -> Outcome | None:
        """Apply one claimed row and record its outcome; None when it went to fetch what it needs, is not
        ours any more, or failed."""
        try:
            outcome = await resolve.apply_without_fetching(self.node.sessions, self._applier(row_id))
        except resolve.Unresolved:
            self._resolving[row_id] = asyncio.create_task(self._resolve_and_apply(row_id),
                                                          name=f"fednode-resolve-{row_id}")
            return None
        except LeaseLost:
            log.warning("activity row %s was taken by another processor before it was settled", row_id)
            self._held.discard(row_id)
            return None
        except Exception as exc:  # one bad activity must not stop the others
            log.exception("applying activity row %s failed", row_id)
            await self._fail(row_id, exc)
            return None
        self._settled(row_id, outcome)
        return outcome

    async def _resolve_and_apply(self, row_id: int) -> Outcome | None:
        """Fetch what the row needs (outside any transaction), then apply it; in a task of its own."""
        try:
            async with self._resolve_slots:
                outcome = await resolve.resolve_then_apply(self.node.sessions, self.node.fetcher.get_activitypub,
                                                           self._applier(row_id))
        except LeaseLost:
            log.warning("activity row %s was taken by another processor before it was settled", row_id)
            self._held.discard(row_id)
            outcome = None
        except Exception as exc:  # one bad activity must not stop the others
            log.exception("applying activity row %s failed", row_id)
            await self._fail(row_id, exc)
            outcome = None
        else:
            self._settled(row_id, outcome)
        finally:
            self._resolving.pop(row_id, None)
            self._wake.set()  # the loop decides whether it is idle now
        return outcome

    def _applier(self, row_id: int):
        """The apply step of one row: its handler and its outcome, in one transaction, nothing fetched."""
        async def apply(session: AsyncSession, fetcher: resolve.Resolved) -> Outcome | None:
            row = await session.get(Activity, row_id)
            if row is None or row.status != ActivityState.RECEIVED:
                return None
            handler = handlers.handler_for(row.raw)
            outcome = Outcome.ignored("nothing handles this") if handler is None else await handler(
                handlers.HandlerContext(self.node, session, row, fetcher)
            )
            await activities.settle_activities(session, self.owner, {row_id: outcome}, now=self.clock())
            return outcome
        return apply

    def _settled(self, row_id: int, outcome: Outcome | None) -> None:
        self._held.discard(row_id)
        if outcome is not None and outcome.wrote:
            self.node.wake_delivery()  # an Accept (or an announce) may have been queued

    async def _fail(self, row_id: int, exc: Exception) -> None:
        """Record the failure (never over an outcome, nor on another processor's row)."""
        self._held.discard(row_id)
        try:
            async with self.node.sessions.begin() as session:
                await activities.fail_activity(session, self.owner, row_id, f"{exc.__class__.__name__}: {exc}",
                                               now=self.clock())
        except Exception:
            log.exception("could not record the failure of activity row %s", row_id)
