"""Received activities as a work queue: claimed with a lease, settled once.

The inbox stores each accepted activity as a row in state ``received``.  Any
number of processors (in one process or many, on SQLite or PostgreSQL) take
rows with ``claim_activities``: a claim leases the oldest free rows to one
owner until ``lease_until``; a row whose lease ran out (its processor died
half-way) is free again and is applied again, idempotently.  An outcome is
written with ``settle_activities`` only while the owner still holds the lease
and the row is still ``received``, so each row is settled exactly once and a
failure can never overwrite an outcome (``fail_activity``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import wakeups
from node.db.models import Activity
from node.db.states import ActivityState, may_become

ACTIVITIES = Activity.__table__


class LeaseLost(RuntimeError):
    """A processor tried to settle a row it no longer holds (its lease ran out and another took it)."""


def _free(now: datetime):
    return or_(ACTIVITIES.c.lease_until.is_(None), ACTIVITIES.c.lease_until < now)


async def claim_activities(
    session: AsyncSession, owner: str, limit: int, lease: timedelta, *, now: datetime,
    ids: Iterable[int] | None = None, received_before: datetime | None = None,
) -> list[int]:
    """Lease up to ``limit`` received activities to ``owner`` until ``now + lease``; their ids, oldest first.

    ``ids``: only among these rows.  ``received_before``: only rows stored before then
    (rows nobody told this process about are left a moment to the process that stored them).
    The UPDATE repeats the conditions, so a row another claimer took in between is
    dropped (SQLite); on PostgreSQL the candidates are locked with ``FOR UPDATE SKIP
    LOCKED``, so concurrent claimers take different rows without waiting for each other.
    """
    table = ACTIVITIES
    waiting = and_(table.c.status == ActivityState.RECEIVED.value, table.c.is_local.is_(False), _free(now))
    candidates = select(table.c.id).where(waiting)
    if ids is not None:
        candidates = candidates.where(table.c.id.in_(list(ids)))
    if received_before is not None:
        candidates = candidates.where(table.c.created_at < received_before)
    candidates = candidates.order_by(table.c.id).limit(limit).with_for_update(skip_locked=True)
    # A read first: an idle poll then takes no write lock (SQLite has one for the whole database).
    found = list((await session.scalars(candidates)).all())
    if not found:
        return []
    claimed = await session.execute(
        update(table).where(table.c.id.in_(found), waiting)
        .values(lease_until=now + lease, lease_owner=owner).returning(table.c.id)
    )
    return sorted(claimed.scalars().all())


async def read_activities(session: AsyncSession, ids: Sequence[int]) -> list[Any]:
    """``(id, raw, actor_ap_id)`` of these rows, in id order."""
    if not ids:
        return []
    query = select(Activity.id, Activity.raw, Activity.actor_ap_id).where(Activity.id.in_(ids)).order_by(Activity.id)
    return list((await session.execute(query)).all())


async def settle_activities(session: AsyncSession, owner: str, outcomes: dict[int, Any], *, now: datetime) -> None:
    """Record each row's outcome (``state`` and ``error`` of a ``node.federation.outcomes.Outcome``) and free it.

    Raises ``LeaseLost`` (the caller's transaction then rolls back) when any row is
    no longer received and leased to ``owner``: someone else applies it now.
    """
    if not outcomes:
        return
    table = ACTIVITIES
    groups: dict[tuple[str, str | None], list[int]] = {}
    for row_id, outcome in outcomes.items():
        groups.setdefault((outcome.state.value, outcome.error), []).append(row_id)
    settled = 0
    # One statement per distinct outcome (a run of replies is nearly all "applied"); a plain
    # execute, whose row count every driver reports, unlike an executemany's.
    for (state, error), ids in groups.items():
        result = await session.execute(update(table).where(
            table.c.id.in_(ids), table.c.lease_owner == owner,
            may_become(table.c.status, ActivityState, ActivityState(state)),
        ).values(status=state, error=error, processed_at=now, lease_until=None, lease_owner=None))
        settled += result.rowcount
    if settled != len(outcomes):
        raise LeaseLost(f"{len(outcomes) - settled} of {len(outcomes)} activity rows are no longer ours")


async def fail_activity(session: AsyncSession, owner: str, row_id: int, error: str, *, now: datetime) -> bool:
    """Mark a row ``failed`` (applying it raised), unless it was settled or taken meanwhile."""
    result = await session.execute(
        update(ACTIVITIES).where(
            ACTIVITIES.c.id == row_id, ACTIVITIES.c.lease_owner == owner,
            may_become(ACTIVITIES.c.status, ActivityState, ActivityState.FAILED),
        ).values(status=ActivityState.FAILED.value, error=error[:2000], processed_at=now, lease_until=None,
                 lease_owner=None)
    )
    return result.rowcount == 1


async def release_activities(session: AsyncSession, owner: str, ids: Sequence[int]) -> None:
    """Give back rows claimed but not applied (the processor is stopping): free for anyone at once."""
    if ids:
        await session.execute(update(ACTIVITIES).where(
            ACTIVITIES.c.id.in_(list(ids)), ACTIVITIES.c.lease_owner == owner,
            ACTIVITIES.c.status == ActivityState.RECEIVED.value,
        ).values(lease_until=None, lease_owner=None))


async def count_waiting(session: AsyncSession) -> int:
    """Received activities not applied yet (any lease)."""
    query = select(func.count(Activity.id)).where(Activity.status == ActivityState.RECEIVED.value,
                                                   Activity.is_local.is_(False))
    return int(await session.scalar(query) or 0)


async def insert_received(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Store received activities (``Activity`` columns, status ``received``); the new rows' ids by ap_id.

    A row whose ``ap_id`` is stored already (a repeat, or one another process stored meanwhile)
    is skipped (``ON CONFLICT DO NOTHING``) and has no id in the result: the de-duplication and
    the insert are one statement.  A Core insert: no ORM bookkeeping for rows the inbox does not
    keep.  On PostgreSQL the processors of other processes are woken when the transaction
    commits (``wakeups``)."""
    if not rows:
        return {}
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    statement = insert(ACTIVITIES).on_conflict_do_nothing(index_elements=[ACTIVITIES.c.ap_id])
    result = await session.execute(statement.returning(ACTIVITIES.c.id, ACTIVITIES.c.ap_id), list(rows))
    await wakeups.announce(session, wakeups.ACTIVITIES)
    return {ap_id: row_id for row_id, ap_id in result.all()}
