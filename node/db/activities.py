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

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import wakeups
from node.db.models import Activity
from node.db.states import ActivityState, may_become
from node.db.types import UTCDateTime

ACTIVITIES = Activity.__table__


class LeaseLost(RuntimeError):
    """A processor tried to settle a row it no longer holds (its lease ran out and another took it)."""


def _free(now: Any):
    return or_(ACTIVITIES.c.lease_until.is_(None), ACTIVITIES.c.lease_until < now)


def _waiting(now: Any) -> Any:
    """Received from elsewhere, not applied yet and not leased (its lease, if any, ran out by ``now``)."""
    table = ACTIVITIES
    return and_(table.c.status == ActivityState.RECEIVED.value, table.c.is_local.is_(False), _free(now))


# The processor claims and settles a batch of rows with these, several times a second on a busy inbox:
# built once (building a statement and its cache key costs more than SQLite takes to run it), on the
# table's columns (no ORM compile step), each value a parameter.
_NOW = bindparam("now", type_=UTCDateTime)
_CANDIDATES: dict[tuple[bool, bool], Any] = {}


def _candidates(by_ids: bool, before: bool) -> Any:
    """The oldest waiting rows (among ``ids``; stored before ``before``); bound: ``now``, ``limit``."""
    key = (by_ids, before)
    statement = _CANDIDATES.get(key)
    if statement is None:
        table = ACTIVITIES
        statement = select(table.c.id).where(_waiting(_NOW))
        if by_ids:
            statement = statement.where(table.c.id.in_(bindparam("ids", expanding=True)))
        if before:
            statement = statement.where(table.c.created_at < bindparam("before", type_=UTCDateTime))
        statement = _CANDIDATES[key] = (statement.order_by(table.c.id).limit(bindparam("limit"))
                                        .with_for_update(skip_locked=True))
    return statement


# The UPDATE repeats the conditions, so a row another claimer took in between is dropped.
_CLAIM = (update(ACTIVITIES).where(ACTIVITIES.c.id.in_(bindparam("found", expanding=True)), _waiting(_NOW))
          .values(lease_until=bindparam("until", type_=UTCDateTime), lease_owner=bindparam("owner"))
          .returning(ACTIVITIES.c.id))
_SETTLE: dict[ActivityState, Any] = {}


def _settle(state: ActivityState) -> Any:
    """Record ``state`` on rows still leased to ``owner``; bound: ``ids``, ``owner``, ``error``, ``at``."""
    statement = _SETTLE.get(state)
    if statement is None:
        table = ACTIVITIES
        statement = _SETTLE[state] = update(table).where(
            table.c.id.in_(bindparam("ids", expanding=True)), table.c.lease_owner == bindparam("owner"),
            may_become(table.c.status, ActivityState, state),
        ).values(status=state.value, error=bindparam("error"), processed_at=bindparam("at", type_=UTCDateTime),
                 lease_until=None, lease_owner=None)
    return statement


_READ = (select(ACTIVITIES.c.id, ACTIVITIES.c.raw, ACTIVITIES.c.actor_ap_id)
         .where(ACTIVITIES.c.id.in_(bindparam("ids", expanding=True))).order_by(ACTIVITIES.c.id))


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
    values: dict[str, Any] = {"now": now, "limit": limit}
    if ids is not None:
        values["ids"] = list(ids)
        if not values["ids"]:
            return []
    if received_before is not None:
        values["before"] = received_before
    # A read first: an idle poll then takes no write lock (SQLite has one for the whole database).
    candidates = _candidates(ids is not None, received_before is not None)
    found = list((await session.execute(candidates, values)).scalars().all())
    if not found:
        return []
    claimed = await session.execute(_CLAIM, {"found": found, "now": now, "until": now + lease, "owner": owner})
    return sorted(claimed.scalars().all())


async def read_activities(session: AsyncSession, ids: Sequence[int]) -> list[Any]:
    """``(id, raw, actor_ap_id)`` of these rows, in id order."""
    if not ids:
        return []
    return list((await session.execute(_READ, {"ids": list(ids)})).all())


async def settle_activities(session: AsyncSession, owner: str, outcomes: dict[int, Any], *, now: datetime) -> None:
    """Record each row's outcome (``state`` and ``error`` of a ``node.federation.outcomes.Outcome``) and free it.

    Raises ``LeaseLost`` (the caller's transaction then rolls back) when any row is
    no longer received and leased to ``owner``: someone else applies it now.
    """
    if not outcomes:
        return
    groups: dict[tuple[ActivityState, str | None], list[int]] = {}
    for row_id, outcome in outcomes.items():
        groups.setdefault((outcome.state, outcome.error), []).append(row_id)
    settled = 0
    # One statement per distinct outcome (a run of replies is nearly all "applied"); a plain
    # execute, whose row count every driver reports, unlike an executemany's.
    for (state, error), ids in groups.items():
        result = await session.execute(_settle(state),
                                       {"ids": ids, "owner": owner, "error": error, "at": now})
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
