"""Named queries of the crawler: its threads' schedule (``CrawlState``) and what a crawl stored.

The crawl itself (what is read, from where, within which budgets) is in
``node.federation.crawl``; this module only reads and writes rows, in the
caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import bindparam, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import CrawlState, Object
from node.db.prepared import Prepared
from node.db.types import UTCDateTime


async def last_object_id(session: AsyncSession) -> int:
    """The highest object row id so far (0 when there is none)."""
    return int(await session.scalar(select(func.max(Object.id))) or 0)


async def objects_after(session: AsyncSession, last_id: int) -> int:
    """How many objects have a row id above ``last_id`` (those this transaction stored)."""
    return int(await session.scalar(select(func.count(Object.id)).where(Object.id > last_id)) or 0)


def _request_upsert(dialect: str) -> Any:
    """Crawl a thread by ``soon`` (an earlier turn stays) and reset its wait: one upsert of its schedule row,
    made when the thread has none.  Bound: ``root_id``, ``soon``, ``now``, ``interval``."""
    table = CrawlState.__table__
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    soon, now = bindparam("soon", type_=UTCDateTime), bindparam("now", type_=UTCDateTime)
    statement = upsert(table).values(root_id=bindparam("root_id"), next_crawl_at=soon,
                                     interval_seconds=bindparam("interval"), last_activity_at=now, created_at=now)
    new = statement.excluded
    return statement.on_conflict_do_update(index_elements=[table.c.root_id], set_={
        "interval_seconds": new.interval_seconds, "last_activity_at": new.last_activity_at,
        "next_crawl_at": case((or_(table.c.next_crawl_at.is_(None), table.c.next_crawl_at > new.next_crawl_at),
                               new.next_crawl_at), else_=table.c.next_crawl_at),
    })


# Compiled once per dialect: every batch of replies the processor stores requests its threads' crawls.
_REQUEST = Prepared(_request_upsert)


async def request_crawls(session: AsyncSession, bind: Any, root_ids: Sequence[int], *, now: datetime,
                         soon: datetime, interval_seconds: int) -> None:
    """Crawl these threads by ``soon`` (an earlier turn stays) and reset their wait: one upsert, run for each
    thread in one executemany (``prepared``: no ORM bulk insert, no per-row parameter building)."""
    await _REQUEST.executemany(session, [{"root_id": root_id} for root_id in root_ids],
                               soon=soon, now=now, interval=interval_seconds)


async def first_due(session: AsyncSession, now: datetime) -> CrawlState | None:
    """The thread whose turn came first by ``now``, if any."""
    return await session.scalar(
        select(CrawlState).where(CrawlState.next_crawl_at <= now)
        .order_by(CrawlState.next_crawl_at, CrawlState.id).limit(1)
    )


async def claim(session: AsyncSession, state: CrawlState, until: datetime) -> bool:
    """Move a due thread's turn to ``until`` unless another process did first (compare-and-set on its turn)."""
    claimed = await session.execute(
        update(CrawlState).where(CrawlState.id == state.id, CrawlState.next_crawl_at == state.next_crawl_at)
        .values(next_crawl_at=until).execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


async def next_turn(session: AsyncSession) -> datetime | None:
    """When the next scheduled crawl is due, if any is."""
    return await session.scalar(select(CrawlState.next_crawl_at).where(CrawlState.next_crawl_at.is_not(None))
                                .order_by(CrawlState.next_crawl_at).limit(1))


async def crawl_state(session: AsyncSession, root_id: int) -> CrawlState | None:
    """The thread's crawl schedule, if it has one."""
    return await session.scalar(select(CrawlState).where(CrawlState.root_id == root_id))


async def drop_crawl_state(session: AsyncSession, root_id: int) -> None:
    """Forget a thread's schedule (its root is gone)."""
    await session.execute(delete(CrawlState).where(CrawlState.root_id == root_id))
