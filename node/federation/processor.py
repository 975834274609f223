"""Applying stored activities, after the inbox has answered.

The inbox stores each accepted activity with status ``received`` and answers
202; this processor applies it through ``handlers.DISPATCH`` in its own
transaction and records the outcome on the row.  Because the row is written
before the 202, a crash loses nothing: on start, every row still ``received``
is applied again (handlers are idempotent).

It takes what has queued up in batches, in arrival order: a run of plain
replies (the bulk of a busy inbox) is stored in one transaction by
``bulk_replies``; anything else, and whatever that leaves, is applied one at a
time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import select

from node.db.models import Activity
from node.db.states import ActivityState
from node.db.types import utcnow
from node.federation import bulk_replies, handlers
from node.federation.background import cancel
from node.federation.outcomes import Outcome

if TYPE_CHECKING:
    from node.app import Node

log = logging.getLogger("fednode.processor")

BATCH = 128  # activities taken from the queue at once


class Received(NamedTuple):
    """A stored activity waiting to be applied."""

    id: int
    raw: dict[str, Any]
    actor_ap_id: str


class Processor:
    """Applies received activities one at a time, in arrival order."""

    def __init__(self, node: "Node") -> None:
        self.node = node
        self.queue: asyncio.Queue[int] = asyncio.Queue()
        # Activities the inbox handed over with their row id, so they need not be read back.
        self._handed: dict[int, Received] = {}
        self._task: asyncio.Task | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        handlers.load_all()

    def notify(self, row_id: int, activity: dict[str, Any] | None = None, actor_ap_id: str | None = None) -> None:
        """Schedule a freshly stored activity (given with it, it is not read back from the database)."""
        self._idle.clear()
        if activity is not None and actor_ap_id is not None:
            self._handed[row_id] = Received(row_id, activity, actor_ap_id)
        self.queue.put_nowait(row_id)

    async def start(self) -> None:
        """Queue every activity left ``received`` (by a crash) and start applying."""
        async with self.node.sessions() as session:
            pending = (await session.scalars(
                select(Activity.id).where(Activity.status == ActivityState.RECEIVED, Activity.is_local.is_(False)).order_by(Activity.id)
            )).all()
        for row_id in pending:
            self.notify(row_id)
        self._task = asyncio.create_task(self._run(), name="fednode-processor")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def drain(self) -> None:
        """Wait until everything queued so far has been applied (used by tests and the CLI)."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            row_ids = [await self.queue.get()]
            while len(row_ids) < BATCH and not self.queue.empty():
                row_ids.append(self.queue.get_nowait())
            try:
                await self.apply_many(row_ids)
            except Exception:  # one bad batch must not stop the others
                log.exception("applying activity rows %s..%s failed", row_ids[0], row_ids[-1])
            if self.queue.empty():
                self._idle.set()

    async def apply_many(self, row_ids: list[int]) -> None:
        """Apply these stored activities in order: runs of plain replies together, the rest one by one."""
        handed = {row_id: self._handed.pop(row_id) for row_id in row_ids if row_id in self._handed}
        rows = await self._still_received(row_ids, handed)
        run: list[Received] = []
        for row in rows:
            if bulk_replies.is_plain_reply(row.raw, row.actor_ap_id):
                run.append(row)
                continue
            await self._apply_run(run)
            run = []
            await self._apply_one(row.id)
        await self._apply_run(run)

    async def _still_received(self, row_ids: list[int], handed: dict[int, Received]) -> list[Received]:
        """The rows among ``row_ids`` not applied yet, in arrival order (the inbox's copies where it gave them)."""
        async with self.node.sessions() as session:
            waiting = set((await session.scalars(
                select(Activity.id).where(Activity.id.in_(row_ids), Activity.status == ActivityState.RECEIVED)
            )).all())
            unknown = sorted(waiting - handed.keys())
            read = {row.id: Received(row.id, row.raw, row.actor_ap_id) for row in (await session.execute(
                select(Activity.id, Activity.raw, Activity.actor_ap_id).where(Activity.id.in_(unknown))
            )).all()} if unknown else {}
        rows = (handed.get(row_id) or read.get(row_id) for row_id in sorted(waiting))
        return [row for row in rows if row is not None]

    async def _apply_run(self, run: list[Received]) -> None:
        if not run:
            return
        try:
            outcomes = await bulk_replies.store_replies(self.node, run)
        except Exception:  # nothing of the run was committed: apply each alone, which records failures
            log.exception("storing %d replies together failed; applying them one by one", len(run))
            outcomes = {}
        if any(outcome.wrote for outcome in outcomes.values()):
            self.node.wake_delivery()  # the Group's announces were queued
        for row in run:
            if row.id not in outcomes:
                await self._apply_one(row.id)

    async def _apply_one(self, row_id: int) -> None:
        try:
            outcome = await self.apply_row(row_id)
            if outcome is not None and outcome.wrote:
                self.node.wake_delivery()  # an Accept (or an announce) may have been queued
        except Exception:  # one bad activity must not stop the others
            log.exception("applying activity row %s failed", row_id)

    async def apply(self, row_id: int) -> ActivityState | None:
        """Apply one stored activity; the state recorded on its row (None: it was not waiting)."""
        outcome = await self.apply_row(row_id)
        return None if outcome is None else outcome.state

    async def apply_row(self, row_id: int) -> Outcome | None:
        """Apply one stored activity and record the outcome; returns it (None: the row was not waiting)."""
        try:
            async with self.node.sessions.begin() as session:
                row = await session.get(Activity, row_id)
                if row is None or row.status != ActivityState.RECEIVED:
                    return None
                handler = handlers.handler_for(row.raw)
                outcome = Outcome.ignored("nothing handles this") if handler is None else await handler(
                    handlers.HandlerContext(self.node, session, row)
                )
                row.status = outcome.state
                row.error = outcome.error
                row.processed_at = utcnow()
                return outcome
        except Exception as exc:
            async with self.node.sessions.begin() as session:
                row = await session.get(Activity, row_id)
                if row is not None and row.status == ActivityState.RECEIVED:  # never over an outcome
                    row.status = ActivityState.FAILED
                    row.error = f"{exc.__class__.__name__}: {exc}"[:2000]
                    row.processed_at = utcnow()
            raise
