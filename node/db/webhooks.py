"""Named queries of webhooks (``Webhook``) and their pending deliveries (``WebhookDelivery``).

Deliveries are claimed with a lease, as the activity deliveries are (``node.db.queries``): a
claim marks due rows with a fresh owner and a lease end, and only the holder of a row's lease
may record its outcome, so any number of processes share the queue and a row whose sender died
is claimed again once its lease runs out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import Webhook, WebhookDelivery

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


async def add_webhook(session: AsyncSession, *, url: str, secret: str, events: str, now: datetime) -> Webhook:
    row = Webhook(url=url, secret=secret, events=events, created_at=now)
    session.add(row)
    await session.flush()
    return row


async def list_webhooks(session: AsyncSession) -> Sequence[Webhook]:
    return (await session.scalars(select(Webhook).order_by(Webhook.id))).all()


async def delete_webhook(session: AsyncSession, webhook_id: int) -> bool:
    """Remove a webhook (its pending deliveries go with it); False when there is none."""
    result = await session.execute(delete(Webhook).where(Webhook.id == webhook_id))
    return (result.rowcount or 0) > 0


async def add_deliveries(session: AsyncSession, rows: list[dict]) -> None:
    """Queue deliveries (``webhook_id``, ``event``, ``body``, ``created_at``, ``next_attempt_at``)."""
    session.add_all(WebhookDelivery(status=PENDING, attempts=0, **row) for row in rows)
    await session.flush()


async def claim_due(session: AsyncSession, *, owner: str, now: datetime, lease_until: datetime,
                    limit: int) -> list[tuple[WebhookDelivery, Webhook]]:
    """Lease up to ``limit`` due deliveries to ``owner``; returns them with their webhooks."""
    free = or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now)
    due = (WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now, free)
    candidates = select(WebhookDelivery.id).where(*due).order_by(WebhookDelivery.next_attempt_at).limit(limit)
    if session.bind.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list((await session.scalars(candidates)).all())
    if not ids:
        return []
    # The WHERE is evaluated again row by row: a row another process leased meanwhile is skipped.
    await session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids), *due)
                          .values(lease_owner=owner, lease_until=lease_until))
    query = (select(WebhookDelivery, Webhook).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
             .where(WebhookDelivery.id.in_(ids), WebhookDelivery.lease_owner == owner)
             .order_by(WebhookDelivery.id).execution_options(populate_existing=True))
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def record_outcome(session: AsyncSession, delivery_id: int, *, owner: str, status: str, attempts: int,
                         next_attempt_at: datetime, last_status: int | None, last_error: str | None,
                         finished_at: datetime | None) -> bool:
    """Write an attempt's outcome, only while ``owner`` still holds the row's lease."""
    result = await session.execute(update(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.lease_owner == owner,
        WebhookDelivery.status == PENDING,
    ).values(status=status, attempts=attempts, next_attempt_at=next_attempt_at, last_status=last_status,
             last_error=last_error, finished_at=finished_at, lease_owner=None, lease_until=None))
    return (result.rowcount or 0) > 0


async def list_deliveries(session: AsyncSession, webhook_id: int | None = None, *,
                          limit: int = 50) -> Sequence[WebhookDelivery]:
    """The newest deliveries (of one webhook), newest first."""
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if webhook_id is not None:
        query = query.where(WebhookDelivery.webhook_id == webhook_id)
    return (await session.scalars(query)).all()
