"""Which thread a page address or an id names, for the read API (node/web/api.py) and the embeds (node/web/embed.py).

A page address names a local article (or link thread) by its URL, else the discussion filed
under any alias of the page's canonical form (node.discussions), else a post of a followed
site that we hold (its id, or its page: the WordPress plugin's post is ``?p=42`` and its
permalink the page).  An id names an article or a shown comment, whose thread is its root's.
Only database reads: finding never fetches the page.  What cannot be found or shown is
``Refused`` with the HTTP status and the reason the callers answer with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from node.api.thread_json import Thread
from node.db import api as db
from node.db import discussions as discussions_db
from node.db import queries
from node.db.models import Object
from node.discussions.canonical import lookup_keys
from node.discussions.resolve import DiscussionError, requested_form

if TYPE_CHECKING:
    from node.app import Node


class Refused(Exception):
    """A request the API answers with an error (status, reason, extra fields)."""

    def __init__(self, status: int, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status, self.reason, self.extra = status, reason, extra


def own_article_id(node: "Node", url: str) -> str | None:
    """``url`` without its fragment when it is an address on this node, else None."""
    if not url.startswith(node.settings.base + "/"):
        return None
    return url.split("#", 1)[0]


async def thread_of_root(session: AsyncSession, root: Object) -> Thread:
    """The thread whose root is ``root``, with its discussed page when it is a link thread."""
    return Thread(root, await discussions_db.get_document_of_thread(session, root.id))


async def find_by_url(node: "Node", session: AsyncSession, url: str) -> Thread:
    """The thread for a page address: a local article (or link thread) by its URL, else the discussion of the page.

    The page is found by any alias of its canonical form (node.discussions), as
    ``/discussions`` finds it, then among the articles we hold (a followed site's post).
    """
    own = own_article_id(node, url)
    if own is not None:
        root = await db.get_article(session, own)
        if root is not None:
            return await visible(session, root)
    try:
        canonical = requested_form(url)
    except DiscussionError as exc:
        raise Refused(400, f"url: {exc.reason}") from None
    document = await discussions_db.find_document(session, lookup_keys(canonical))
    if document is not None and document.thread is not None:
        return Thread(document.thread, document)
    # By its id, else by its page: the WordPress plugin's post is ``?p=42`` and its permalink the page.
    root = await db.get_article(session, url) or await queries.get_article_by_url(session, url)
    if root is not None:
        return await visible(session, root)
    raise Refused(404, "no discussion of this page yet", canonical=canonical)


async def visible(session: AsyncSession, root: Object) -> Thread:
    """The thread of ``root`` when the public may read it; Refused 404 otherwise."""
    thread = await thread_of_root(session, root)
    if root.visibility not in ("public", "unlisted"):
        raise Refused(404, "no such thread")
    if root.deleted_at is not None and thread.document is None:
        # A deleted page's discussion stays (labelled closed at the source); a deleted article does not.
        raise Refused(404, "this article was deleted")
    return thread


async def find_by_id(session: AsyncSession, ap_id: str) -> tuple[Thread, Object | None]:
    """The thread of an article or comment id, and the comment when it is one (the view's anchor)."""
    obj = await db.get_shown_object(session, ap_id)
    if obj is None:
        raise Refused(404, "no such thread or comment here")
    if obj.kind == "article":
        return await visible(session, obj), None
    root = await queries.get_object_by_id(session, obj.root_id) if obj.root_id else None
    if root is None:
        raise Refused(404, "no such thread or comment here")
    return await visible(session, root), obj
