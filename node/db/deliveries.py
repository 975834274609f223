"""Named queries of the delivery ledger and the hosts table.

Queuing (``federation/outbox.py``), claiming and recording (``federation/delivery.py``)
and the inbox's "this host is up again" (``federation/inbox_writer.py``) all write
here.  Statements that touch many rows are one statement each, whatever the number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Collection, Sequence

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from node.db import queries
from node.db.prepared import Prepared
from node.db.models import Activity, Actor, Delivery, Follow, Host
from node.db.states import DeliveryState, FollowState, may_become

DELIVERIES = Delivery.__table__


# --- queuing ------------------------------------------------------------------------------------


async def follower_inboxes(session: AsyncSession, followed_ids: Sequence[int]) -> list[str]:
    """Unique inboxes (shared ones first) of the accepted remote followers of these local actors."""
    # The database collapses followers onto inboxes: 10,000 followers on 1,000 servers
    # come back as 1,000 rows, not 10,000.
    inbox = func.coalesce(Actor.shared_inbox, Actor.inbox)
    query = (
        select(inbox).distinct()
        .join(Follow, Follow.follower_id == Actor.id)
        .where(Follow.followed_id.in_(followed_ids), Follow.state == FollowState.ACCEPTED, Actor.is_local.is_(False),
               inbox.is_not(None))
    )
    return sorted((await session.scalars(query)).all())


async def unavailable_hosts(session: AsyncSession) -> set[str]:
    """Hosts marked unavailable (failing on many days): nothing is queued for them."""
    return set((await session.scalars(select(Host.domain).where(Host.unavailable_since.is_not(None)))).all())


async def stored_activity_ids(session: AsyncSession, ap_ids: Collection[str]) -> set[str]:
    """Which of these activity ids have a row already."""
    if not ap_ids:
        return set()
    return set((await session.scalars(select(Activity.ap_id).where(Activity.ap_id.in_(list(ap_ids))))).all())


# Compiled once; a fan-out's rows differ only in their inbox and host, so the other columns are
# given once and converted once (SQLAlchemy's executemany built and processed every row's
# parameters: 10-16 ms of the event loop's CPU for 1,000 rows, 3 ms this way).
_INSERT_DELIVERIES = Prepared.insert(DELIVERIES)


async def insert_deliveries(session: AsyncSession, rows: Sequence[dict[str, Any]], **shared: Any) -> None:
    """Queue delivery rows: one executemany of an insert compiled once; ``shared``: the columns every row has."""
    if rows:
        await _INSERT_DELIVERIES.executemany(session, rows, **shared)


# --- claiming and recording -----------------------------------------------------------------------


def _due(now: datetime):
    free = or_(DELIVERIES.c.lease_until.is_(None), DELIVERIES.c.lease_until < now)
    return and_(DELIVERIES.c.status == DeliveryState.PENDING, DELIVERIES.c.next_attempt_at <= now, free)


async def claim_deliveries(session: AsyncSession | AsyncConnection, owner: str, limit: int, *, now: datetime,
                           lease_until: datetime, busy_hosts: Collection[str] = ()) -> list[Any]:
    """Lease up to ``limit`` due rows to ``owner`` (an expired lease counts as free), oldest due first.

    On PostgreSQL the candidates are locked with ``FOR UPDATE SKIP LOCKED``, so workers
    claiming at the same moment take different rows instead of waiting for each other;
    SQLite has one writer at a time and needs nothing.  Rows for ``busy_hosts`` are left
    to others.  The rows come back as read-only records with the ``Delivery`` columns.
    ``session`` may be a bare connection: the statements are Core.
    """
    due = _due(now)
    candidates = select(DELIVERIES.c.id).where(due)
    if busy_hosts:
        candidates = candidates.where(DELIVERIES.c.host.not_in(list(busy_hosts)))
    candidates = (candidates.order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id).limit(limit)
                  .with_for_update(skip_locked=True))
    # One UPDATE … RETURNING: atomic on SQLite; on PostgreSQL the repeated condition
    # drops rows another worker leased in the meantime.
    claimed = await session.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id.in_(candidates.scalar_subquery()), due)
        .values(lease_until=lease_until, lease_owner=owner)
        .returning(*DELIVERIES.c)
    )
    return sorted(claimed.all(), key=lambda row: (row.next_attempt_at, row.id))


# Built once: the common case of the ledger runs once per group commit, and building and
# hashing this statement anew cost about a third of the transaction's CPU on the event loop.
_MARK_DELIVERED = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id.in_(bindparam("ids", expanding=True)),
           may_become(DELIVERIES.c.status, DeliveryState, DeliveryState.DELIVERED))
    .values(status=DeliveryState.DELIVERED, attempts=DELIVERIES.c.attempts + 1, finished_at=bindparam("finished"),
            last_status=bindparam("code"), last_error=None, lease_until=None, lease_owner=None)
)


async def mark_delivered(executor: Any, delivered: dict[int, list[int]], now: datetime) -> None:
    """Successes (row ids by status code), the common case: one statement per status code, not per row.

    ``executor`` is a session or a bare connection (a run of plain successes needs no ORM)."""
    for status, ids in delivered.items():
        await executor.execute(_MARK_DELIVERED, {"ids": ids, "finished": now, "code": status})


async def record_attempts(session: AsyncSession, changes: Sequence[dict[str, Any]]) -> None:
    """Write each row's changed columns (``id`` names the row); only rows still pending change."""
    if changes:
        await session.execute(update(Delivery).where(
            may_become(Delivery.status, DeliveryState, DeliveryState.FAILED))
            .execution_options(synchronize_session=None), list(changes))


# --- hosts ----------------------------------------------------------------------------------------


async def host_states(session: AsyncSession | AsyncConnection, hosts: Collection[str]) -> list[Any]:
    """(domain, unavailable_since, last_failure_at, last_success_at) of the recorded hosts among ``hosts``."""
    query = select(Host.domain, Host.unavailable_since, Host.last_failure_at, Host.last_success_at).where(
        Host.domain.in_(list(hosts)))
    return list((await session.execute(query)).all())


async def host_failure_records(session: AsyncSession, hosts: Collection[str]) -> list[Any]:
    """(domain, unavailable_since, failure_days) of the recorded hosts among ``hosts``."""
    query = select(Host.domain, Host.unavailable_since, Host.failure_days).where(Host.domain.in_(list(hosts)))
    return list((await session.execute(query)).all())


async def clear_host_failures(session: AsyncSession, hosts: Collection[str], now: datetime) -> None:
    """These hosts answered: their failure days and unavailability are cleared."""
    if hosts:
        await session.execute(
            update(Host).where(Host.domain.in_(list(hosts)))
            .values(failure_days=[], unavailable_since=None, last_success_at=now)
            .execution_options(synchronize_session=False)
        )


async def hosts_to_update(session: AsyncSession, hosts: Collection[str]) -> dict[str, Host]:
    """The ``Host`` rows of these hosts, created first where missing, by domain.

    Another worker may record the same new host at the same moment: the missing rows are
    created with an insert that ignores conflicts, so its insert and ours cannot collide."""
    await session.execute(queries.insert_or_ignore(session.bind, Host, ["domain"]),
                          [{"domain": domain, "failure_days": []} for domain in sorted(hosts)])
    return {h.domain: h for h in (await session.scalars(select(Host).where(Host.domain.in_(list(hosts))))).all()}
