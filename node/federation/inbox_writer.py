"""Writing accepted activities in groups: one transaction for every request that is waiting.

The inbox may answer 202 only once an activity is durable, and one commit per
request makes SQLite's single write lock the bottleneck (docs/performance.md, the inbox).  So
each verified activity joins a queue; whoever finds no write in progress
becomes the writer and stores everything queued in one transaction, while
later arrivals queue for the next one.  Each request still waits for the
commit that holds its own row, so "202" keeps meaning "stored".

In one transaction: one query for the failure records of the hosts that sent
us these signed requests (the few that have one are cleared), and one
multi-row insert that is also the de-duplication (``ON CONFLICT DO NOTHING``:
a row stored already gets no id; repeats inside the group are dropped before).

One sender must never fail another's request: when the group transaction fails
for any reason but a busy database, the group is retried one row per
transaction, so only the row that cannot be stored fails (and a duplicate
raced in by another process becomes a duplicate).  A busy database (a lock held
past the busy timeout) fails the whole group at once: it is nobody's row, each
row alone would wait for the lock again, and the senders are told to retry (503).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from node.db import activities
from node.db import deliveries as ledger
from node.db.busy import is_database_busy
from node.db.states import ActivityState
from node.federation.delivery import mark_host_available

log = logging.getLogger("fednode.inbox")

MAX_GROUP = 256  # rows per transaction; more wait for the next one


@dataclass(frozen=True)
class Arrival:
    """One verified activity to store."""

    ap_id: str
    ap_type: str
    actor_ap_id: str
    object_ap_id: str | None
    raw: dict[str, Any]
    host: str


@dataclass(frozen=True)
class Stored:
    """What became of an arrival: its new row id, or None when it was already stored."""

    row_id: int | None

    @property
    def duplicate(self) -> bool:
        return self.row_id is None


class InboxWriter:
    """Stores arrivals in group commits; ``store`` returns once its row is durable."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self.sessions = sessions
        self._waiting: list[tuple[Arrival, asyncio.Future[Stored]]] = []
        self._writer: asyncio.Task | None = None

    async def store(self, arrival: Arrival) -> Stored:
        """Queue ``arrival`` and wait for the commit that stores it (or finds it stored)."""
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._waiting.append((arrival, future))
        if self._writer is None or self._writer.done():
            # Its own task, so that a request cancelled mid-write cannot strand the others.
            self._writer = asyncio.create_task(self._drain(), name="fednode-inbox-writer")
        return await future

    async def close(self) -> None:
        """Finish the write in progress (the node is shutting down)."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _drain(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
            await self._write_group(group)

    async def _write_group(self, group: list[tuple[Arrival, asyncio.Future[Stored]]]) -> None:
        try:
            outcomes = await self._write(group)
        except Exception as exc:
            if is_database_busy(exc):
                _fail(group, exc)  # nothing was committed; the requests are answered 503 / refused
                return
            # One row spoiled the transaction (or another process stored one of these
            # between our check and our insert): one transaction per row, so each
            # request gets its own outcome and only a failing row fails.
            log.info("group of %d failed (%s); storing its rows one by one", len(group), exc.__class__.__name__)
            for arrival, future in group:
                try:
                    outcome = await self._write_one(arrival)
                except Exception as row_exc:
                    _fail([(arrival, future)], row_exc)
                else:
                    if not future.done():
                        future.set_result(outcome)
            return
        for (_, future), outcome in zip(group, outcomes):
            if not future.done():
                future.set_result(outcome)

    async def _write(self, group: list[tuple[Arrival, asyncio.Future[Stored]]]) -> list[Stored]:
        arrivals = [arrival for arrival, _ in group]
        fresh: dict[str, Arrival] = {}
        for arrival in arrivals:
            fresh.setdefault(arrival.ap_id, arrival)
        async with self.sessions.begin() as session:
            # A server that signs requests to us is up: deliver to it again.  One query finds the
            # few senders with a failure record to clear; it reads, so it runs before the insert,
            # and SQLite's write lock is held only for the insert and the commit.
            failing = [domain for domain, unavailable_since, failure_days in await ledger.host_failure_records(
                session, {a.host for a in arrivals}) if unavailable_since is not None or failure_days]
            # De-duplication is the insert itself: a row stored already gets no id.
            row_ids = await activities.insert_received(session, [
                {"ap_id": a.ap_id, "ap_type": a.ap_type, "is_local": False, "actor_ap_id": a.actor_ap_id,
                 "object_ap_id": a.object_ap_id, "status": ActivityState.RECEIVED.value, "raw": a.raw}
                for a in fresh.values()])
            for domain in failing:
                await mark_host_available(session, domain)
        outcomes = []
        for arrival in arrivals:
            # Only the first of repeats inside the group gets the row; the others are duplicates.
            outcomes.append(Stored(row_ids.pop(arrival.ap_id, None)))
        return outcomes

    async def _write_one(self, arrival: Arrival) -> Stored:
        try:
            async with self.sessions.begin() as session:
                row_ids = await activities.insert_received(session, [
                    {"ap_id": arrival.ap_id, "ap_type": arrival.ap_type, "is_local": False,
                     "actor_ap_id": arrival.actor_ap_id, "object_ap_id": arrival.object_ap_id,
                     "status": ActivityState.RECEIVED.value, "raw": arrival.raw}])
                if arrival.ap_id in row_ids:
                    await mark_host_available(session, arrival.host)
        except IntegrityError:
            return Stored(None)
        return Stored(row_ids.get(arrival.ap_id))


def _fail(group: list[tuple[Arrival, asyncio.Future[Stored]]], exc: BaseException) -> None:
    for _, future in group:
        if not future.done():
            future.set_exception(exc)
