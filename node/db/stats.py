"""Named queries for the node's metrics: what the database says about the queues right now.

Each is one cheap aggregate read at scrape time (``node.metrics``), so the figures are
the same whichever process answers the scrape: every process shares the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import Activity, CrawlState, Delivery, Host, Object, Report
from node.db.states import ActivityState, DeliveryState


@dataclass
class QueueSnapshot:
    """The queues as the database holds them at one moment."""

    deliveries_by_status: dict[str, int] = field(default_factory=dict)
    deliveries_due: int = 0
    oldest_due_at: datetime | None = None
    apply_waiting: int = 0
    oldest_waiting_at: datetime | None = None
    hosts_failing: int = 0
    hosts_unavailable: int = 0
    crawls_scheduled: int = 0
    crawls_due: int = 0
    held_comments: int = 0
    open_reports: int = 0


async def ping(session: AsyncSession) -> None:
    """A round trip to the database (raises when it is unreachable)."""
    await session.execute(text("SELECT 1"))


async def queue_snapshot(session: AsyncSession, now: datetime) -> QueueSnapshot:
    """Delivery, apply, host, crawl and moderation queue figures, in seven aggregate statements."""
    snap = QueueSnapshot()
    rows = await session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
    snap.deliveries_by_status = {status: count for status, count in rows.all()}
    # ix_deliveries_due (status, next_attempt_at) answers both from the index.
    due = (Delivery.status == DeliveryState.PENDING) & (Delivery.next_attempt_at <= now)
    snap.deliveries_due, snap.oldest_due_at = (await session.execute(
        select(func.count(), func.min(Delivery.next_attempt_at)).where(due)
    )).one()
    waiting = (Activity.status == ActivityState.RECEIVED) & Activity.is_local.is_(False)
    snap.apply_waiting, snap.oldest_waiting_at = (await session.execute(
        select(func.count(), func.min(Activity.created_at)).where(waiting)
    )).one()
    # Failing: the last thing we heard from the host was a failure.
    failing = Host.last_failure_at.is_not(None) & (
        Host.last_success_at.is_(None) | (Host.last_failure_at > Host.last_success_at))
    snap.hosts_failing, snap.hosts_unavailable = (await session.execute(
        select(func.count().filter(failing), func.count(Host.unavailable_since))
    )).one()
    snap.crawls_scheduled, snap.crawls_due = (await session.execute(
        select(func.count(CrawlState.next_crawl_at),
               func.count().filter(CrawlState.next_crawl_at <= now))
    )).one()
    # The moderation queue: comments held for a moderator (ix_objects_moderation), open reports.
    snap.held_comments = await session.scalar(select(func.count()).where(Object.moderation == "held"))
    snap.open_reports = await session.scalar(select(func.count()).where(Report.state == "open"))
    return snap
