"""Named queries: the only place SQL is written.

Every function takes the session first and is named for what it does
(``get_``, ``list_``, ``count_``, ``add_``, ``upsert_``, ``mark_``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from node.db import wakeups
from node.db.models import Activity, Actor, Delivery, Follow, Host, Object, PendingReply
from node.db.states import DeliveryState, FollowState, may_become
from node.db.types import utcnow
from node.federation.vocab import get_id


def insert_or_ignore(bind: Any, model: Any, index_elements: list[str]) -> Any:
    """``INSERT … ON CONFLICT (index_elements) DO NOTHING`` for ``model``, in ``bind``'s dialect.

    For rows that two workers or processes may create at once: the second one's insert is a no-op.
    """
    insert = pg_insert if bind.dialect.name == "postgresql" else sqlite_insert
    return insert(model).on_conflict_do_nothing(index_elements=index_elements)


# --- actors -----------------------------------------------------------------

async def get_actor(session: AsyncSession, ap_id: str) -> Actor | None:
    """The actor with this ActivityPub id, local or remote."""
    return await session.scalar(select(Actor).where(Actor.ap_id == ap_id))


async def get_local_actor(session: AsyncSession, username: str) -> Actor | None:
    """A local actor by its username (preferredUsername)."""
    return await session.scalar(select(Actor).where(Actor.is_local.is_(True), Actor.username == username))


async def get_local_actor_by_url(session: AsyncSession, url: str) -> Actor | None:
    """A local actor by its id or its profile page URL."""
    query = select(Actor).where(Actor.is_local.is_(True), or_(Actor.ap_id == url, Actor.url == url))
    return await session.scalar(query.limit(1))


async def get_actor_by_key_id(session: AsyncSession, key_id: str) -> Actor | None:
    """The actor whose public key has this id."""
    return await session.scalar(select(Actor).where(Actor.public_key_id == key_id))


async def list_local_actors(session: AsyncSession, ap_type: str | None = None) -> Sequence[Actor]:
    """Local actors, optionally of one type, by username."""
    query = select(Actor).where(Actor.is_local.is_(True)).order_by(Actor.username)
    if ap_type:
        query = query.where(Actor.ap_type == ap_type)
    return (await session.scalars(query)).all()


async def upsert_remote_actor(session: AsyncSession, values: dict[str, Any]) -> Actor:
    """Insert or refresh a remote actor from its parsed document (keyed by ap_id)."""
    actor = await get_actor(session, values["ap_id"])
    if actor is None:
        actor = Actor(is_local=False, **values)
        session.add(actor)
    elif actor.is_local:
        raise ValueError("refusing to overwrite a local actor with a remote document")
    else:
        for key, value in values.items():
            setattr(actor, key, value)
    actor.fetched_at = utcnow()
    await session.flush()
    return actor


# --- follows ------------------------------------------------------------------

def _follow_side(actor_id: int, which: str):
    """(the column naming ``actor_id``, the column naming the other side) for followers/following."""
    if which == "followers":
        return Follow.followed_id, Follow.follower_id
    return Follow.follower_id, Follow.followed_id


async def count_follows(session: AsyncSession, actor_id: int, which: str) -> int:
    """How many accepted followers (``which="followers"``) or followed actors an actor has."""
    mine, _ = _follow_side(actor_id, which)
    query = select(func.count(Follow.id)).where(mine == actor_id, Follow.state == FollowState.ACCEPTED)
    return int(await session.scalar(query) or 0)


async def list_follow_ids(session: AsyncSession, actor_id: int, which: str, *, limit: int, offset: int) -> Sequence[str]:
    """Actor ids of accepted followers or followed actors, newest first."""
    mine, other = _follow_side(actor_id, which)
    query = (
        select(Actor.ap_id).join(Follow, other == Actor.id)
        .where(mine == actor_id, Follow.state == FollowState.ACCEPTED)
        .order_by(Follow.id.desc()).limit(limit).offset(offset)
    )
    return (await session.scalars(query)).all()


# --- articles and comments ---------------------------------------------------

# Only comments in this moderation state are listed, counted or announced (node.moderation):
# held, rejected, removed and suspended ones stay out of every collection.
SHOWN_STATE = "published"
# On a discussion page a removed comment stays as a placeholder, so its replies keep their place.
ON_PAGE_STATES = (SHOWN_STATE, "removed")


def shown_clause() -> Any:
    """Objects anyone may see in a collection: not deleted, public or unlisted, and shown by the moderators."""
    return and_(Object.deleted_at.is_(None), Object.visibility.in_(("public", "unlisted")),
                Object.moderation == SHOWN_STATE)


async def get_object(session: AsyncSession, ap_id: str) -> Object | None:
    """An article or comment by its ActivityPub id."""
    return await session.scalar(select(Object).where(Object.ap_id == ap_id))


async def get_object_by_id(session: AsyncSession, object_id: int) -> Object | None:
    """An article or comment by its row id."""
    return await session.get(Object, object_id)


async def get_article_by_slug(session: AsyncSession, slug: str) -> Object | None:
    """A local article by its slug (deleted ones too: they answer 410)."""
    return await session.scalar(select(Object).where(Object.slug == slug, Object.kind == "article"))


async def get_article_by_url(session: AsyncSession, url: str) -> Object | None:
    """An article (local or remote) by its page URL, when that differs from its id."""
    return await session.scalar(select(Object).where(Object.url == url, Object.kind == "article").limit(1))


async def list_articles(
    session: AsyncSession, *, local_only: bool = True, actor_id: int | None = None, limit: int = 50, offset: int = 0
) -> Sequence[Object]:
    """Articles that are not deleted (by one actor when ``actor_id`` is given), newest first.

    Local ones are the site's own articles, which have a slug: a link thread (a discussion of
    another site's page, node.discussions) is a local thread root too, listed on /discussions.
    """
    query = select(Object).where(Object.kind == "article", Object.deleted_at.is_(None))
    if local_only:
        query = query.where(Object.is_local.is_(True), Object.slug.is_not(None))
    if actor_id is not None:
        query = query.where(Object.actor_id == actor_id)
    query = query.order_by(Object.published.desc(), Object.id.desc()).limit(limit).offset(offset)
    return (await session.scalars(query)).all()


async def list_remote_articles(session: AsyncSession, *, limit: int = 50) -> Sequence[Object]:
    """Articles from sites we follow that we hold with their threads, newest first."""
    query = (
        select(Object)
        .where(Object.kind == "article", Object.is_local.is_(False), Object.deleted_at.is_(None),
               Object.visibility.in_(("public", "unlisted")))
        .order_by(Object.published.desc(), Object.id.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def count_articles(session: AsyncSession, *, local_only: bool = True) -> int:
    """How many articles are not deleted."""
    query = select(func.count(Object.id)).where(Object.kind == "article", Object.deleted_at.is_(None))
    if local_only:
        query = query.where(Object.is_local.is_(True))
    return int(await session.scalar(query) or 0)


async def list_thread(session: AsyncSession, root_id: int) -> Sequence[Object]:
    """Every comment under an article (deleted placeholders included), in the order we received them."""
    query = select(Object).where(Object.root_id == root_id, Object.kind == "comment")
    return (await session.scalars(query.order_by(Object.id))).all()


async def list_replies(
    session: AsyncSession, parent_ap_id: str, *, public_only: bool = True, limit: int = 60, offset: int = 0
) -> Sequence[Object]:
    """Direct replies to an object, oldest first (for its ``replies`` collection)."""
    query = select(Object).where(Object.in_reply_to == parent_ap_id, Object.deleted_at.is_(None),
                                 Object.moderation == SHOWN_STATE)
    if public_only:
        query = query.where(shown_clause())
    query = query.order_by(Object.published, Object.id).limit(limit).offset(offset)
    return (await session.scalars(query)).all()


async def count_replies(session: AsyncSession, parent_ap_id: str, *, public_only: bool = True) -> int:
    """How many direct replies an object has."""
    query = select(func.count(Object.id)).where(Object.in_reply_to == parent_ap_id, Object.deleted_at.is_(None),
                                                Object.moderation == SHOWN_STATE)
    if public_only:
        query = query.where(shown_clause())
    return int(await session.scalar(query) or 0)


async def list_context(
    session: AsyncSession, root: Object, *, limit: int = 60, offset: int = 0
) -> Sequence[Object]:
    """The thread as FEP-f228 orders it: the root, then its public comments, chronologically."""
    query = (
        select(Object)
        .where(or_(Object.id == root.id, Object.root_id == root.id))
        .where(shown_clause())
        .order_by((Object.id != root.id), Object.published, Object.id)
        .limit(limit)
        .offset(offset)
    )
    return (await session.scalars(query)).all()


async def count_context(session: AsyncSession, root: Object) -> int:
    """How many public objects the thread's context collection holds."""
    query = (
        select(func.count(Object.id))
        .where(or_(Object.id == root.id, Object.root_id == root.id))
        .where(shown_clause())
    )
    return int(await session.scalar(query) or 0)


async def count_local_posts(session: AsyncSession) -> int:
    """Local articles and comments that are not deleted (NodeInfo ``localPosts``)."""
    query = select(func.count(Object.id)).where(Object.is_local.is_(True), Object.deleted_at.is_(None))
    return int(await session.scalar(query) or 0)


async def count_active_authors(session: AsyncSession, since: datetime | None) -> int:
    """Local people who published since ``since`` (all local people when None)."""
    if since is None:
        query = select(func.count(Actor.id)).where(Actor.is_local.is_(True), Actor.ap_type == "Person")
    else:
        query = (
            select(func.count(func.distinct(Object.actor_id)))
            .join(Actor, Actor.id == Object.actor_id)
            .where(Actor.is_local.is_(True), Actor.ap_type == "Person", Object.published >= since)
        )
    return int(await session.scalar(query) or 0)


# --- activities --------------------------------------------------------------

async def get_activity(session: AsyncSession, ap_id: str) -> Activity | None:
    """An activity we sent or received, by id."""
    return await session.scalar(select(Activity).where(Activity.ap_id == ap_id))


def _outbox_clauses(actor_ap_ids: Sequence[str], kind: str | None) -> list[Any]:
    """Local Create activities of these actors whose object is still there for everyone to read."""
    clauses = [
        Activity.is_local.is_(True),
        Activity.ap_type == "Create",
        Activity.actor_ap_id.in_(actor_ap_ids),
        Object.deleted_at.is_(None),
        Object.moderation == SHOWN_STATE,
        Object.visibility.in_(("public", "unlisted")),
    ]
    if kind is not None:
        clauses.append(Object.kind == kind)
    return clauses


async def list_outbox(
    session: AsyncSession, actor_ap_ids: Sequence[str], *, limit: int, offset: int, kind: str | None = None,
) -> Sequence[tuple[Activity, Object]]:
    """Local Create activities of these actors (of objects of ``kind``, or any) whose object is shown, newest first."""
    query = (
        select(Activity, Object)
        .join(Object, Object.ap_id == Activity.object_ap_id)
        .where(*_outbox_clauses(actor_ap_ids, kind))
        .order_by(Activity.created_at.desc(), Activity.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(activity, obj) for activity, obj in (await session.execute(query)).all()]


async def count_outbox(session: AsyncSession, actor_ap_ids: Sequence[str], *, kind: str | None = None) -> int:
    """How many items ``list_outbox`` has in all."""
    query = (
        select(func.count(Activity.id))
        .join(Object, Object.ap_id == Activity.object_ap_id)
        .where(*_outbox_clauses(actor_ap_ids, kind))
    )
    return int(await session.scalar(query) or 0)


def days_ago(days: int) -> datetime:
    """The moment ``days`` days before now."""
    return utcnow() - timedelta(days=days)


# --- deliveries ------------------------------------------------------------------

async def list_deliveries(
    session: AsyncSession, *, status: str | None = None, object_ap_id: str | None = None, limit: int = 50,
) -> Sequence[Delivery]:
    """Delivery rows, newest first, optionally of one status or one object's activities."""
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if status:
        query = query.where(Delivery.status == status)
    if object_ap_id:
        query = query.where(Delivery.object_ap_id == object_ap_id)
    return (await session.scalars(query)).all()


async def count_deliveries_by_status(session: AsyncSession) -> dict[str, int]:
    """How many deliveries are pending, delivered and failed."""
    rows = await session.execute(select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status))
    return {status: int(count) for status, count in rows.all()}


async def retry_deliveries(session: AsyncSession, ids: Sequence[int] | None = None) -> int:
    """Make failed and waiting deliveries due now; their hosts count as available again."""
    query = select(Delivery).where(may_become(Delivery.status, DeliveryState, DeliveryState.PENDING))
    if ids:
        query = query.where(Delivery.id.in_(ids))
    rows = (await session.scalars(query)).all()
    now = utcnow()
    for row in rows:
        if row.status == DeliveryState.FAILED:  # a fresh schedule, or its next failure would give up at once
            row.attempts = 0
        row.status, row.next_attempt_at, row.lease_until, row.lease_owner = DeliveryState.PENDING, now, None, None
    hosts = {row.host for row in rows}
    if hosts:
        for host in (await session.scalars(select(Host).where(Host.domain.in_(hosts)))).all():
            host.unavailable_since = None
            host.failure_days = []
    if rows:
        await wakeups.announce(session, wakeups.DELIVERIES)  # the running workers send them now
    return len(rows)


# --- parked replies -----------------------------------------------------------------

MAX_PENDING = 1000  # parked replies examined for one thread
MAX_PENDING_CHAIN = 16  # replies to parked replies, followed this many levels (comments.MAX_CHAIN)
MAX_CONTEXTS = 100


async def list_pending_for_thread(session: AsyncSession, root: Object, thread: Sequence[Object]) -> list[PendingReply]:
    """Replies parked in ``pending_replies`` that belong to this thread, as far as we can tell, oldest first.

    A parked reply belongs when it answers a post of the thread (the article or any
    comment), when its ``context`` names the thread's context (ours, or one its
    comments carry), or when it answers a parked reply that belongs (followed
    ``MAX_PENDING_CHAIN`` levels).  One that names neither cannot be placed until
    its parent arrives.
    """
    named = [root.context, root.ap_id, *(c.context for c in thread)]
    named += [get_id(c.raw.get("context")) for c in (root, *thread) if isinstance(c.raw, dict)]
    contexts = list(dict.fromkeys(c for c in named if isinstance(c, str)))  # the article's own first
    # Correlated: each parked reply costs one lookup of the post it answers, whatever the thread's size.
    answered = aliased(Object)
    in_thread = exists().where(answered.ap_id == PendingReply.in_reply_to,
                               or_(answered.id == root.id, answered.root_id == root.id))
    query = select(PendingReply).where(or_(
        in_thread,
        PendingReply.raw["context"].as_string().in_(contexts[:MAX_CONTEXTS]),
    ))
    found = {row.ap_id: row for row in (await session.scalars(query.limit(MAX_PENDING))).all()}
    frontier = list(found)
    for _ in range(MAX_PENDING_CHAIN):
        if not frontier or len(found) >= MAX_PENDING:
            break
        query = select(PendingReply).where(PendingReply.in_reply_to.in_(frontier)).limit(MAX_PENDING)
        frontier = []
        for row in (await session.scalars(query)).all():
            if row.ap_id not in found:
                found[row.ap_id] = row
                frontier.append(row.ap_id)
    return sorted(found.values(), key=lambda row: (row.received_at, row.id))
