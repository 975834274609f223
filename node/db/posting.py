"""Named queries of what members do (node.members.posting): their sent activities and reactions."""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import (Activity, Actor, Avatar, Delivery, Follow, Member, ModerationEntry, Notification, Object,
                            Reaction, Revision, ThreadFollow)


async def get_actor_by_id(session: AsyncSession, actor_id: int) -> Actor | None:
    """An actor by its row id."""
    return await session.get(Actor, actor_id)


async def get_object_by_row_or_ap_id(session: AsyncSession, ref: int | str) -> Object | None:
    """An object by its row id (an int) or its ActivityPub id (a string)."""
    if isinstance(ref, int):
        return await session.get(Object, ref)
    return await session.scalar(select(Object).where(Object.ap_id == ref))


async def retarget_log(session: AsyncSession, old: str, new: str) -> None:
    """Point the mod log lines written for ``old`` (a provisional id) at ``new``."""
    await session.execute(update(ModerationEntry).where(ModerationEntry.target == old).values(target=new))


async def sent_activity(session: AsyncSession, actor_ap_id: str, ap_type: str, object_ap_id: str) -> Activity | None:
    """The newest activity of ``ap_type`` about ``object_ap_id`` that this local actor sent."""
    return await session.scalar(
        select(Activity).where(Activity.is_local.is_(True), Activity.actor_ap_id == actor_ap_id,
                               Activity.ap_type == ap_type, Activity.object_ap_id == object_ap_id)
        .order_by(Activity.id.desc()).limit(1))


async def get_reaction(session: AsyncSession, kind: str, actor_id: int, object_id: int) -> Reaction | None:
    """An actor's like or boost (``kind``) of an object, if it made one."""
    return await session.scalar(select(Reaction).where(
        Reaction.kind == kind, Reaction.actor_id == actor_id, Reaction.object_id == object_id))


async def add_to_count(session: AsyncSession, object_id: int, column: str, change: int) -> None:
    """Add ``change`` to an object's ``likes_count`` or ``announces_count``, never below zero."""
    counter = getattr(Object, column)
    await session.execute(update(Object).where(Object.id == object_id, counter + change >= 0)
                          .values({column: counter + change}))


async def list_reactions_of(session: AsyncSession, actor_id: int) -> Sequence[Reaction]:
    """Every like and boost an actor made."""
    return (await session.scalars(select(Reaction).where(Reaction.actor_id == actor_id))).all()


async def list_live_posts_of(session: AsyncSession, actor_id: int) -> Sequence[Object]:
    """An actor's articles and comments that are not deleted."""
    return (await session.scalars(
        select(Object).where(Object.actor_id == actor_id, Object.deleted_at.is_(None)).order_by(Object.id))).all()


async def inboxes_signed_by(session: AsyncSession, signer: str) -> list[str]:
    """Every inbox anything signed by this local actor was queued for (who has heard of it)."""
    return sorted((await session.scalars(select(Delivery.inbox).distinct().where(Delivery.signer == signer))).all())


async def list_follows_of(session: AsyncSession, actor_id: int) -> Sequence[Follow]:
    """Every follow from or of an actor, in either state."""
    return (await session.scalars(
        select(Follow).where((Follow.follower_id == actor_id) | (Follow.followed_id == actor_id)))).all()


async def reactions_on(session: AsyncSession, actor_id: int, object_ids: Sequence[int]) -> dict[int, set[str]]:
    """The kinds of reaction (like, announce) an actor made to each of these objects."""
    found: dict[int, set[str]] = {}
    if object_ids:
        rows = await session.execute(select(Reaction.object_id, Reaction.kind).where(
            Reaction.actor_id == actor_id, Reaction.object_id.in_(object_ids)))
        for object_id, kind in rows.all():
            found.setdefault(object_id, set()).add(kind)
    return found


async def collapse_to_shared_inboxes(session: AsyncSession, inboxes: set[str]) -> list[str]:
    """``inboxes`` with each personal inbox replaced by its server's shared inbox, when we know one."""
    wanted = sorted(inboxes)
    if not wanted:
        return []
    shared = dict((await session.execute(select(Actor.inbox, Actor.shared_inbox).where(
        Actor.inbox.in_(wanted), Actor.shared_inbox.is_not(None)))).all())
    return sorted({shared.get(inbox) or inbox for inbox in wanted})


async def forget_revisions_of(session: AsyncSession, actor_id: int) -> None:
    """Forget the earlier versions of an actor's posts."""
    posts = select(Object.id).where(Object.actor_id == actor_id).scalar_subquery()
    await session.execute(delete(Revision).where(Revision.object_id.in_(posts)))


async def forget_revisions_of_object(session: AsyncSession, object_id: int) -> None:
    """Forget the earlier versions of one post."""
    await session.execute(delete(Revision).where(Revision.object_id == object_id))


async def forget_account(session: AsyncSession, actor_id: int) -> None:
    """Delete the account of a local actor and what is only theirs: notifications, followed threads,
    avatar; the account's sessions and e-mail links go with it (their rows cascade from ``members``)."""
    await session.execute(delete(Notification).where(Notification.recipient_id == actor_id))
    await session.execute(delete(ThreadFollow).where(ThreadFollow.actor_id == actor_id))
    await session.execute(delete(Avatar).where(Avatar.actor_id == actor_id))
    await session.execute(delete(Member).where(Member.actor_id == actor_id))


async def find_actor_by_handle(session: AsyncSession, username: str, domain: str) -> Actor | None:
    """The actor we know as ``username@domain`` (case-insensitively), local or remote."""
    return await session.scalar(select(Actor).where(
        Actor.domain == domain.lower(), func.lower(Actor.username) == username.lower()).limit(1))  # domains are lowercase
