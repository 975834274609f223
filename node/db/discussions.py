"""Named queries of discussions of any page (node.discussions): documents, aliases, threads."""

from __future__ import annotations

from typing import Iterable, Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.discussion import counted
from node.db.models import DiscussionAlias, DiscussionDocument, DiscussionThread, Object
from node.db.types import utcnow


async def find_document(session: AsyncSession, keys: Iterable[str]) -> DiscussionDocument | None:
    """The document filed under any of these canonical URLs (the first one created wins a tie)."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return None
    query = (select(DiscussionDocument).join(DiscussionAlias, DiscussionAlias.document_id == DiscussionDocument.id)
             .where(DiscussionAlias.url.in_(keys)).order_by(DiscussionDocument.id).limit(1))
    return await session.scalar(query)


async def get_document(session: AsyncSession, document_id: int) -> DiscussionDocument | None:
    """A document by its row id."""
    return await session.get(DiscussionDocument, document_id)


async def get_document_of_thread(session: AsyncSession, object_id: int) -> DiscussionDocument | None:
    """The document a thread (its root object's row id) discusses, if any."""
    query = (select(DiscussionDocument).join(DiscussionThread, DiscussionThread.document_id == DiscussionDocument.id)
             .where(DiscussionThread.object_id == object_id).limit(1))
    return await session.scalar(query)


async def add_document(session: AsyncSession, **values) -> DiscussionDocument:
    """A new document row (flushed, so it has its id)."""
    document = DiscussionDocument(**values)
    session.add(document)
    await session.flush()
    return document


async def add_aliases(session: AsyncSession, document_id: int, urls: Iterable[str]) -> int:
    """File the document under each of ``urls`` not filed yet (under any document); returns how many were added."""
    wanted = list(dict.fromkeys(urls))
    if not wanted:
        return 0
    taken = set((await session.scalars(select(DiscussionAlias.url).where(DiscussionAlias.url.in_(wanted)))).all())
    now = utcnow()
    fresh = [url for url in wanted if url not in taken]
    session.add_all(DiscussionAlias(url=url, document_id=document_id, created_at=now) for url in fresh)
    await session.flush()
    return len(fresh)


async def list_aliases(session: AsyncSession, document_id: int) -> Sequence[str]:
    """Every URL the document is filed under, oldest first."""
    query = select(DiscussionAlias.url).where(DiscussionAlias.document_id == document_id).order_by(
        DiscussionAlias.created_at, DiscussionAlias.url)
    return (await session.scalars(query)).all()


async def add_thread(session: AsyncSession, document_id: int, object_id: int, origin: str) -> bool:
    """Record that ``object_id`` is a thread about the document; False when it was already recorded."""
    if await session.scalar(select(DiscussionThread.id).where(DiscussionThread.object_id == object_id)) is not None:
        return False
    session.add(DiscussionThread(document_id=document_id, object_id=object_id, origin=origin, created_at=utcnow()))
    await session.flush()
    return True


async def list_threads(session: AsyncSession, document_id: int) -> Sequence[DiscussionThread]:
    """Every thread about the document, the first recorded first."""
    query = select(DiscussionThread).where(DiscussionThread.document_id == document_id).order_by(DiscussionThread.id)
    return (await session.scalars(query)).all()


async def count_comments(session: AsyncSession, root_id: int) -> int:
    """A thread's comment count: the one definition, ``node.db.discussion.count_comments``."""
    from node.db.discussion import count_comments as count_thread_comments

    return await count_thread_comments(session, root_id)


async def count_comments_many(session: AsyncSession, root_ids: Iterable[int]) -> dict[int, int]:
    """``count_comments`` for several threads in one statement (threads without comments are absent).

    Held, rejected and removed comments are not counted (``node.db.discussion.counted``).
    """
    wanted = sorted(set(root_ids))
    if not wanted:
        return {}
    query = (select(Object.root_id, func.count()).where(
        Object.root_id.in_(wanted), Object.kind == "comment", counted()).group_by(Object.root_id))
    return {root_id: int(total) for root_id, total in (await session.execute(query)).all()}


async def count_opened_since(session: AsyncSession, actor_id: int, since) -> int:
    """How many documents ``actor_id`` opened since ``since`` (the members' rate limit)."""
    query = select(func.count()).select_from(DiscussionDocument).where(
        DiscussionDocument.opened_by_id == actor_id, DiscussionDocument.created_at >= since)
    return int(await session.scalar(query) or 0)


async def list_documents(session: AsyncSession, *, limit: int = 50) -> Sequence[DiscussionDocument]:
    """The newest documents first."""
    query = select(DiscussionDocument).order_by(DiscussionDocument.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


def _summary_statement():
    """The lookup's one statement, built once (a lookup runs it for most pages readers open)."""
    comments = (select(func.count()).select_from(Object).where(
        Object.root_id == DiscussionDocument.thread_id, Object.kind == "comment", counted())
        .correlate(DiscussionDocument).scalar_subquery())
    return (select(DiscussionDocument.id, DiscussionDocument.kind, DiscussionDocument.canonical_url,
                   DiscussionDocument.title, DiscussionDocument.site_name, DiscussionDocument.description,
                   DiscussionDocument.closed_reason, Object.ap_id.label("thread_ap_id"),
                   Object.raw.label("thread_raw"), Object.deleted_at.label("thread_deleted_at"),
                   comments.label("comments"))
            .select_from(DiscussionAlias)
            .join(DiscussionDocument, DiscussionDocument.id == DiscussionAlias.document_id)
            .outerjoin(Object, Object.id == DiscussionDocument.thread_id)
            .where(DiscussionAlias.url.in_(bindparam("keys", expanding=True)))
            .order_by(DiscussionDocument.id).limit(1))


_SUMMARY = _summary_statement()


async def find_summary(session: AsyncSession, keys: Iterable[str]) -> dict | None:
    """What a lookup answers about the document filed under any of ``keys`` (no ORM objects).

    The JSON lookup is what browser extensions and embeds ask for every page a reader
    opens, so it is one round trip for a miss and two for a hit (this, then the aliases).
    """
    keys = list(dict.fromkeys(keys))
    if not keys:
        return None
    row = (await session.execute(_SUMMARY, {"keys": keys})).first()
    return dict(row._mapping) if row is not None else None
