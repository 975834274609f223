"""Named queries of the public API (node.api, node.web.api): threads by address, children by keyset.

Everything here only reads: the read API never opens a thread or fetches anything.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.discussion import counted, list_objects, shown
from node.db.models import DiscussionAlias, DiscussionDocument, DiscussionThread, Object


async def get_article(session: AsyncSession, ap_id: str) -> Object | None:
    """The thread root (an article: local, a followed site's, or a link thread) whose id is ``ap_id``."""
    return await session.scalar(select(Object).where(Object.ap_id == ap_id, Object.kind == "article"))


async def get_shown_object(session: AsyncSession, ap_id: str) -> Object | None:
    """An article, or a comment shown on public pages (as text or placeholder), by its id."""
    obj = await session.scalar(select(Object).where(Object.ap_id == ap_id))
    if obj is None or obj.visibility not in ("public", "unlisted"):
        return None
    if obj.kind == "comment":
        return await session.scalar(select(Object).where(Object.id == obj.id, shown()))
    return obj


async def list_children_after(session: AsyncSession, parent_id: int, *, after: int, limit: int) -> list[Object]:
    """Direct replies (any state) of one post received after row ``after``, oldest first, at most ``limit``.

    A keyset page over ``ix_objects_parent_order``: a cursor deep into a busy thread
    reads what its first page reads.
    """
    ids = (await session.scalars(
        select(Object.id).where(Object.parent_id == parent_id, Object.id > after).order_by(Object.id).limit(limit)
    )).all()
    rows = await list_objects(session, ids)
    return [rows[i] for i in ids if i in rows]


async def thread_ids_by_alias(session: AsyncSession, keys: Iterable[str]) -> dict[str, int]:
    """For each of ``keys`` filed as an alias of a document with a thread: that thread's row id."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    query = (select(DiscussionAlias.url, DiscussionDocument.thread_id)
             .join(DiscussionDocument, DiscussionDocument.id == DiscussionAlias.document_id)
             .where(DiscussionAlias.url.in_(wanted), DiscussionDocument.thread_id.is_not(None)))
    return {url: thread_id for url, thread_id in (await session.execute(query)).all()}


async def article_ids(session: AsyncSession, ap_ids: Sequence[str]) -> dict[str, int]:
    """For each of ``ap_ids`` that is an article (a thread root) we hold: its row id."""
    wanted = list(dict.fromkeys(ap_ids))
    if not wanted:
        return {}
    query = select(Object.ap_id, Object.id).where(Object.ap_id.in_(wanted), Object.kind == "article",
                                                  Object.visibility.in_(("public", "unlisted")))
    return {ap_id: row_id for ap_id, row_id in (await session.execute(query)).all()}


async def list_thread_comments(session: AsyncSession, root_id: int, *, limit: int) -> list[Object]:
    """A thread's newest counted comments (shown, published, not deleted), newest received first."""
    query = (select(Object).where(Object.root_id == root_id, Object.kind == "comment", counted())
             .order_by(Object.id.desc()).limit(limit))
    return list((await session.scalars(query)).all())


async def list_actor_comments(session: AsyncSession, actor_id: int, *, limit: int) -> list[Object]:
    """One actor's newest counted comments, in any thread, newest first."""
    query = (select(Object).where(Object.actor_id == actor_id, Object.kind == "comment", counted())
             .order_by(Object.id.desc()).limit(limit))
    return list((await session.scalars(query)).all())


async def documents_of_threads(session: AsyncSession, root_ids: Iterable[int]) -> dict[int, DiscussionDocument]:
    """The document each of these thread roots discusses (those that discuss one)."""
    wanted = sorted(set(root_ids))
    if not wanted:
        return {}
    query = (select(DiscussionThread.object_id, DiscussionDocument)
             .join(DiscussionDocument, DiscussionDocument.id == DiscussionThread.document_id)
             .where(DiscussionThread.object_id.in_(wanted)))
    return {object_id: document for object_id, document in (await session.execute(query)).all()}
