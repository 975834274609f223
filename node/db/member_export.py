"""Everything the node holds of one member, as plain data for their export (``/account/export``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from node.db.models import Activity, Actor, Follow, Notification, Object, Reaction, Revision, ThreadFollow

CHUNK = 500  # rows read at a time


async def _all(session: AsyncSession, query) -> list[Any]:
    rows: list[Any] = []
    offset = 0
    while True:
        chunk = (await session.execute(query.limit(CHUNK).offset(offset))).all()
        rows += chunk
        if len(chunk) < CHUNK:
            return rows
        offset += CHUNK


async def export_member(session: AsyncSession, actor_id: int) -> dict[str, Any]:
    """The member's profile, comments (with earlier versions), sent activities, reactions, followed threads,
    followers and notifications.  Datetimes stay datetimes: the caller writes them as ISO 8601."""
    actor = await session.get(Actor, actor_id)
    if actor is None:
        raise LookupError(f"no actor {actor_id}")
    parent = aliased(Object)
    comments = await _all(session, select(Object, parent.ap_id).outerjoin(parent, parent.id == Object.parent_id)
                          .where(Object.actor_id == actor_id).order_by(Object.id))
    revisions: dict[int, list[dict[str, Any]]] = {}
    for revision in (await _all(session, select(Revision).join(Object, Object.id == Revision.object_id)
                                .where(Object.actor_id == actor_id).order_by(Revision.id))):
        revision = revision[0]
        revisions.setdefault(revision.object_id, []).append(
            {"content": revision.content, "updated": revision.updated, "replaced_at": revision.created_at})
    activities = await _all(session, select(Activity.raw).where(Activity.is_local.is_(True),
                                                                Activity.actor_ap_id == actor.ap_id).order_by(Activity.id))
    reactions = await _all(session, select(Reaction.kind, Object.ap_id, Reaction.created_at)
                           .join(Object, Object.id == Reaction.object_id)
                           .where(Reaction.actor_id == actor_id).order_by(Reaction.id))
    followed = await _all(session, select(Object.ap_id, ThreadFollow.created_at)
                          .join(Object, Object.id == ThreadFollow.root_id)
                          .where(ThreadFollow.actor_id == actor_id).order_by(ThreadFollow.created_at))
    follower = aliased(Actor)
    followers = await _all(session, select(follower.ap_id, Follow.state, Follow.created_at)
                           .join(follower, follower.id == Follow.follower_id)
                           .where(Follow.followed_id == actor_id).order_by(Follow.id))
    notified = await _all(session, select(Notification, Object.ap_id)
                          .join(Object, Object.id == Notification.object_id)
                          .where(Notification.recipient_id == actor_id).order_by(Notification.id))
    return {
        "profile": {"id": actor.ap_id, "username": actor.username, "handle": f"@{actor.handle}",
                    "display_name": actor.name, "bio_html": actor.summary, "profile_page": actor.url,
                    "created_at": actor.created_at},
        "comments": [{
            "id": c.ap_id, "in_reply_to": parent_ap_id, "markdown": c.source, "html": c.content,
            "visibility": c.visibility, "moderation": c.moderation, "published": c.published, "updated": c.updated,
            "deleted_at": c.deleted_at, "likes": c.likes_count, "boosts": c.announces_count,
            "earlier_versions": revisions.get(c.id, []),
        } for c, parent_ap_id in comments],
        "activities": [raw for (raw,) in activities],
        "likes": [{"object": ap_id, "at": at} for kind, ap_id, at in reactions if kind == "like"],
        "boosts": [{"object": ap_id, "at": at} for kind, ap_id, at in reactions if kind == "announce"],
        "followed_threads": [{"thread": ap_id, "since": at} for ap_id, at in followed],
        "followers": [{"actor": ap_id, "state": state, "since": at} for ap_id, state, at in followers],
        "notifications": [{"kind": n.kind, "comment": ap_id, "reason": n.reason, "at": n.created_at,
                           "read_at": n.read_at} for n, ap_id in notified],
    }
