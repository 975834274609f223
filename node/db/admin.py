"""Named queries of the web admin area: what its pages list (the moderation services write).

Every list is bounded and paged (``limit``/``offset``) so a page costs the same on a
node with ten comments or ten million; the writes stay in ``node.moderation.actions``,
``node.services`` and ``node.db.moderation``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import Activity, Actor, Delivery, Follow, ModerationEntry, Object, Report
from node.db.states import DeliveryState, FollowState


async def comments_in_state(session: AsyncSession, state: str, *, limit: int, offset: int = 0,
                            newest_first: bool = False) -> Sequence[Object]:
    """Comments in one moderation state: the queue (``held``) oldest first, the others newest first."""
    order = (Object.created_at.desc(), Object.id.desc()) if newest_first else (Object.created_at, Object.id)
    query = (select(Object).where(Object.kind == "comment", Object.moderation == state)
             .order_by(*order).limit(limit).offset(offset))
    return (await session.scalars(query)).all()


async def count_in_state(session: AsyncSession, states: Iterable[str]) -> dict[str, int]:
    """How many comments are in each of these moderation states (read from ``ix_objects_moderation``)."""
    wanted = list(states)
    rows = (await session.execute(
        select(Object.moderation, func.count(Object.id))
        .where(Object.moderation.in_(wanted), Object.kind == "comment").group_by(Object.moderation))).all()
    found = dict(rows)
    return {state: int(found.get(state, 0)) for state in wanted}


async def objects_by_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, Object]:
    """Objects by row id (the articles of the comments a page lists), in one statement."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {o.id: o for o in (await session.scalars(select(Object).where(Object.id.in_(wanted)))).all()}


async def count_open_reports(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(Report.id)).where(Report.state == "open")) or 0)


async def list_reports(session: AsyncSession, *, state: str | None, limit: int, offset: int = 0) -> Sequence[Report]:
    """Reports received and sent, newest first; only one state when ``state`` is given."""
    query = select(Report).order_by(Report.id.desc()).limit(limit).offset(offset)
    if state:
        query = query.where(Report.state == state)
    return (await session.scalars(query)).all()


async def objects_by_ap_ids(session: AsyncSession, ap_ids: Iterable[str]) -> dict[str, Object]:
    """The objects we hold among these ids (a report's reported posts), in one statement."""
    wanted = {i for i in ap_ids if i}
    if not wanted:
        return {}
    return {o.ap_id: o for o in (await session.scalars(select(Object).where(Object.ap_id.in_(wanted)))).all()}


async def list_log(session: AsyncSession, *, limit: int, offset: int = 0, target: str | None = None,
                   moderator: str | None = None) -> Sequence[ModerationEntry]:
    """The mod log, newest first, optionally about one target or by one moderator."""
    query = select(ModerationEntry).order_by(ModerationEntry.id.desc()).limit(limit).offset(offset)
    if target:
        query = query.where(ModerationEntry.target == target)
    if moderator:
        query = query.where(ModerationEntry.moderator == moderator)
    return (await session.scalars(query)).all()


# --- followers ----------------------------------------------------------------------------------

async def list_followers(session: AsyncSession, followed_id: int, *, limit: int, offset: int = 0) -> Sequence[Follow]:
    """Followers of one local actor (accepted and waiting), newest first."""
    query = (select(Follow).where(Follow.followed_id == followed_id,
                                  Follow.state.in_((FollowState.ACCEPTED, FollowState.PENDING)))
             .order_by(Follow.id.desc()).limit(limit).offset(offset))
    return (await session.scalars(query)).all()


async def count_followers(session: AsyncSession, followed_id: int) -> int:
    query = select(func.count(Follow.id)).where(Follow.followed_id == followed_id,
                                                 Follow.state == FollowState.ACCEPTED)
    return int(await session.scalar(query) or 0)


async def get_follow(session: AsyncSession, follow_id: int) -> Follow | None:
    return await session.get(Follow, follow_id)


async def delete_follow(session: AsyncSession, follow: Follow) -> None:
    await session.delete(follow)
    await session.flush()


# --- the delivery ledger ------------------------------------------------------------------------

@dataclass(frozen=True)
class LedgerSummary:
    """How the deliveries of one article's activities stand."""

    pending: int = 0
    delivered: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.delivered + self.failed


async def ledger_summaries(session: AsyncSession, object_ap_ids: Iterable[str]) -> dict[str, LedgerSummary]:
    """Per object, how many of its deliveries are pending, delivered and failed (one grouped read)."""
    wanted = list({i for i in object_ap_ids if i})
    if not wanted:
        return {}
    rows = (await session.execute(
        select(Delivery.object_ap_id, Delivery.status, func.count(Delivery.id))
        .where(Delivery.object_ap_id.in_(wanted)).group_by(Delivery.object_ap_id, Delivery.status))).all()
    counts: dict[str, dict[str, int]] = {}
    for ap_id, status, count in rows:
        counts.setdefault(ap_id, {})[status] = int(count)
    return {ap_id: LedgerSummary(pending=c.get(DeliveryState.PENDING, 0), delivered=c.get(DeliveryState.DELIVERED, 0),
                                 failed=c.get(DeliveryState.FAILED, 0)) for ap_id, c in counts.items()}


async def ledger_of_object(session: AsyncSession, object_ap_id: str, *, limit: int,
                           offset: int = 0) -> Sequence[Delivery]:
    """The deliveries of one object's activities (Create, Update, Delete…), newest first: one row per
    inbox and activity (an activity's rows are written together, so they stay together)."""
    query = (select(Delivery).where(Delivery.object_ap_id == object_ap_id)
             .order_by(Delivery.id.desc()).limit(limit).offset(offset))
    return (await session.scalars(query)).all()


async def activity_types(session: AsyncSession, activity_ap_ids: Iterable[str]) -> dict[str, tuple[str, object]]:
    """Each of our activities' type and when it was written, by id."""
    wanted = list({i for i in activity_ap_ids if i})
    if not wanted:
        return {}
    rows = (await session.execute(select(Activity.ap_id, Activity.ap_type, Activity.created_at)
                                  .where(Activity.ap_id.in_(wanted)))).all()
    return {ap_id: (kind, created) for ap_id, kind, created in rows}


async def local_articles(session: AsyncSession, *, limit: int, offset: int = 0) -> Sequence[Object]:
    """Local articles, deleted ones too (their Delete has deliveries), newest first."""
    query = (select(Object).where(Object.kind == "article", Object.is_local.is_(True))
             .order_by(Object.published.desc(), Object.id.desc()).limit(limit).offset(offset))
    return (await session.scalars(query)).all()


async def actors_by_ap_ids(session: AsyncSession, ap_ids: Iterable[str]) -> dict[str, Actor]:
    wanted = {i for i in ap_ids if i}
    if not wanted:
        return {}
    return {a.ap_id: a for a in (await session.scalars(select(Actor).where(Actor.ap_id.in_(wanted)))).all()}


async def failed_delivery_ids(session: AsyncSession, object_ap_id: str) -> list[int]:
    """The given-up deliveries of one object's activities (to send again)."""
    query = select(Delivery.id).where(Delivery.object_ap_id == object_ap_id, Delivery.status == DeliveryState.FAILED)
    return list((await session.scalars(query)).all())
