"""Members' notifications and followed threads: who hears about a comment, and what they read.

A notification is written in the same transaction that stores a comment
(``notify_new_comments``, called by both store paths of node.federation and by the
members' own posting) or that decides on one (``notify_decision``, called by the
moderation actions), so a comment is never stored without its notifications nor
the other way round.  Only local members (local ``Person`` actors) are notified:

- ``reply``: a comment answers one of theirs (or their article);
- ``mention``: a comment names them (a ``Mention`` tag whose ``href`` is their actor,
  or, in a comment written here, ``@username`` in its text);
- ``thread``: a new comment in a thread they follow;
- ``approve`` / ``reject`` / ``remove`` / ``restore``: a moderator's decision about their comment.

One comment gives a member at most one notification (a reply that also mentions
them is a reply), and nobody hears about their own comments.  Only comments the
public pages show count: a held comment notifies when it is approved.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from node.db.models import Actor, Notification, Object, ThreadFollow
from node.db.types import utcnow

PRIORITY = ("reply", "mention", "thread")  # the kind a member gets when a comment concerns them twice
DECISIONS = ("approve", "reject", "remove", "restore")
KINDS = PRIORITY + DECISIONS
NOTIFIED_VISIBILITIES = ("public", "unlisted")
# "@name" or "@name@host" in the text of a comment written here (Mastodon's username characters).
LOCAL_MENTION = re.compile(r"(?<![\w@/])@([A-Za-z0-9_]{1,30})(?:@([A-Za-z0-9.-]+(?::\d+)?))?")
MAX_MENTIONS = 20  # names looked up per comment: a comment naming hundreds notifies the first few


def _member_actor(query):
    """``query`` restricted to local people (members and local authors; never the Group or the instance actor)."""
    return query.where(Actor.is_local.is_(True), Actor.ap_type == "Person")


def _mentioned_hrefs(raw: Any) -> list[str]:
    tags = raw.get("tag") if isinstance(raw, dict) else None
    if isinstance(tags, dict):
        tags = [tags]
    if not isinstance(tags, list):
        return []
    hrefs = [t.get("href") for t in tags if isinstance(t, dict) and t.get("type") == "Mention"]
    return [h for h in hrefs if isinstance(h, str)][:MAX_MENTIONS]


def _mentioned_names(text: str | None, host: str | None) -> list[str]:
    """Local usernames named as ``@name`` (or ``@name@<our host>``) in a comment written here."""
    if not text or "@" not in text:
        return []
    names = [m.group(1).lower() for m in LOCAL_MENTION.finditer(text)
             if m.group(2) is None or (host is not None and m.group(2).lower() == host)]
    return list(dict.fromkeys(names))[:MAX_MENTIONS]


async def notify_new_comments(session: AsyncSession, comments: Sequence[Mapping[str, Any]], *,
                              host: str | None = None) -> int:
    """Write the notifications for comments just stored; returns how many.

    Each comment is a mapping of its columns (``ap_id``, ``actor_id``, ``parent_id``,
    ``root_id``, ``moderation``, ``visibility``, ``raw``, ``is_local``, ``source``;
    ``id`` when known).  ``host`` is this node's host, for ``@name@host`` mentions.
    A few indexed reads per call, whatever the number of comments: the inbox's
    bulk path stores a run of replies in one transaction and calls this once.
    """
    shown = [c for c in comments if c.get("moderation", "published") == "published"
             and c.get("visibility", "public") in NOTIFIED_VISIBILITIES]
    if not shown:
        return 0
    parent_ids = {c["parent_id"] for c in shown if c.get("parent_id")}
    parent_authors: dict[int, int] = {}
    if parent_ids:
        rows = await session.execute(_member_actor(
            select(Object.id, Object.actor_id).join(Actor, Actor.id == Object.actor_id).where(Object.id.in_(parent_ids))))
        parent_authors = dict(rows.all())
    hrefs = {h for c in shown for h in _mentioned_hrefs(c.get("raw"))}
    names = {n for c in shown if c.get("is_local") for n in _mentioned_names(c.get("source"), host)}
    by_href: dict[str, int] = {}
    by_name: dict[str, int] = {}
    if hrefs:
        by_href = dict((await session.execute(_member_actor(select(Actor.ap_id, Actor.id).where(Actor.ap_id.in_(hrefs))))).all())
    if names:
        by_name = dict((await session.execute(_member_actor(select(Actor.username, Actor.id).where(Actor.username.in_(names))))).all())
    root_ids = {c["root_id"] for c in shown if c.get("root_id")}
    followers: dict[int, list[int]] = {}
    if root_ids:
        for actor_id, root_id in (await session.execute(
                select(ThreadFollow.actor_id, ThreadFollow.root_id).where(ThreadFollow.root_id.in_(root_ids)))).all():
            followers.setdefault(root_id, []).append(actor_id)

    wanted: list[tuple[Mapping[str, Any], dict[int, str]]] = []
    for comment in shown:
        recipients: dict[int, str] = {}
        for actor_id in followers.get(comment.get("root_id"), ()):
            recipients[actor_id] = "thread"
        mentioned = [by_href[h] for h in _mentioned_hrefs(comment.get("raw")) if h in by_href]
        if comment.get("is_local"):
            mentioned += [by_name[n] for n in _mentioned_names(comment.get("source"), host) if n in by_name]
        for actor_id in mentioned:
            recipients[actor_id] = "mention"
        if comment.get("parent_id") in parent_authors:
            recipients[parent_authors[comment["parent_id"]]] = "reply"
        recipients.pop(comment["actor_id"], None)  # nobody hears about their own comment
        if recipients:
            wanted.append((comment, recipients))
    if not wanted:
        return 0
    missing = [c["ap_id"] for c, _ in wanted if c.get("id") is None]
    ids = dict((await session.execute(select(Object.ap_id, Object.id).where(Object.ap_id.in_(missing)))).all()) if missing else {}
    now = utcnow()
    values = [dict(recipient_id=recipient, kind=kind, object_id=comment.get("id") or ids[comment["ap_id"]],
                   actor_id=comment["actor_id"], reason=None, created_at=now, read_at=None)
              for comment, recipients in wanted for recipient, kind in recipients.items()
              if comment.get("id") or comment["ap_id"] in ids]
    if values:
        await session.execute(insert(Notification.__table__), values)
    return len(values)


def comment_columns(comment: Object) -> dict[str, Any]:
    """What ``notify_new_comments`` reads of a comment, from a loaded row."""
    return dict(id=comment.id, ap_id=comment.ap_id, actor_id=comment.actor_id, parent_id=comment.parent_id,
                root_id=comment.root_id, moderation=comment.moderation, visibility=comment.visibility,
                raw=comment.raw, is_local=comment.is_local, source=comment.source)


async def notify_decision(session: AsyncSession, comment: Object, action: str, *, reason: str | None = None,
                          host: str | None = None) -> int:
    """Tell a member what the moderators decided about their comment (and, once approved, whom it answers)."""
    if action not in DECISIONS:
        raise ValueError(f"not a moderation decision: {action}")
    written = 0
    author = await session.scalar(_member_actor(select(Actor.id).where(Actor.id == comment.actor_id)))
    if author is not None:
        await session.execute(insert(Notification.__table__), [dict(
            recipient_id=author, kind=action, object_id=comment.id, actor_id=None, reason=reason,
            created_at=utcnow(), read_at=None)])
        written += 1
    if action == "approve":  # held until now: the people it concerns hear about it now
        written += await notify_new_comments(session, [comment_columns(comment)], host=host)
    return written


# --- reading them -------------------------------------------------------------------------------

async def list_notifications(session: AsyncSession, recipient_id: int, *, limit: int = 50,
                             before: int | None = None) -> Sequence[tuple[Notification, Object, Actor | None, str | None]]:
    """A member's notifications, newest first (``before``: only those older than that notification id),
    each with its comment, who caused it and the title of the comment's thread."""
    root = aliased(Object)
    query = (select(Notification, Object, Actor, root.name)
             .join(Object, Object.id == Notification.object_id)
             .outerjoin(Actor, Actor.id == Notification.actor_id)
             .outerjoin(root, root.id == Object.root_id)
             .where(Notification.recipient_id == recipient_id)
             .order_by(Notification.id.desc()).limit(limit))
    if before is not None:
        query = query.where(Notification.id < before)
    return [tuple(row) for row in (await session.execute(query)).all()]


async def count_unread(session: AsyncSession, recipient_id: int) -> int:
    """How many of a member's notifications are unread."""
    return int(await session.scalar(select(func.count()).select_from(Notification).where(
        Notification.recipient_id == recipient_id, Notification.read_at.is_(None))) or 0)


async def mark_read(session: AsyncSession, recipient_id: int, *, up_to: int | None = None,
                    now: datetime | None = None) -> int:
    """Mark a member's unread notifications read (those up to notification id ``up_to``, or all)."""
    query = update(Notification).where(Notification.recipient_id == recipient_id, Notification.read_at.is_(None))
    if up_to is not None:
        query = query.where(Notification.id <= up_to)
    return (await session.execute(query.values(read_at=now or utcnow()))).rowcount or 0


async def list_notifications_for_export(session: AsyncSession, recipient_id: int) -> Sequence[Notification]:
    """Every notification of a member, oldest first (their data export)."""
    return (await session.scalars(select(Notification).where(Notification.recipient_id == recipient_id)
                                  .order_by(Notification.id))).all()


# --- followed threads ---------------------------------------------------------------------------

async def follow_thread(session: AsyncSession, actor_id: int, root_id: int) -> bool:
    """Follow a thread; False when already followed."""
    if await is_following(session, actor_id, root_id):
        return False
    session.add(ThreadFollow(actor_id=actor_id, root_id=root_id))
    await session.flush()
    return True


async def unfollow_thread(session: AsyncSession, actor_id: int, root_id: int) -> bool:
    """Stop following a thread; False when it was not followed."""
    result = await session.execute(delete(ThreadFollow).where(ThreadFollow.actor_id == actor_id,
                                                              ThreadFollow.root_id == root_id))
    return bool(result.rowcount)


async def is_following(session: AsyncSession, actor_id: int, root_id: int) -> bool:
    """Whether a member follows a thread."""
    return await session.scalar(select(ThreadFollow.root_id).where(
        ThreadFollow.actor_id == actor_id, ThreadFollow.root_id == root_id)) is not None


async def list_followed_threads(session: AsyncSession, actor_id: int) -> Sequence[int]:
    """The roots of the threads a member follows (their data export)."""
    return (await session.scalars(select(ThreadFollow.root_id).where(ThreadFollow.actor_id == actor_id)
                                  .order_by(ThreadFollow.created_at))).all()

