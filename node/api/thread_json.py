"""A thread as the read API gives it: its summary, and one page of its comments, nested.

A page is read the way a discussion page is (``node.web.discussion``): a bounded number of
the anchor's direct replies, then their replies level by level with per-parent ``LIMIT``ed
index reads, so a page of a 100,000-comment thread costs what a page of a small one does.
The anchor's direct replies are paged with a keyset cursor (the last one's row id), so a
client paging through a thread that grows meanwhile sees every comment once.

Only comments shown on public pages appear (public or unlisted, published): a comment the
moderators hold, a followers-only one, a direct message never do; their public replies take
their place (``orphan``).  A comment deleted by its author or removed by the moderators
stays as a placeholder without author or content, so its replies keep their place.
Content is the sanitised HTML stored with the comment (``node.content``: sanitised before
it was stored); titles and names are plain text for the client to escape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from node.db import api as db
from node.db import avatars as avatars_db
from node.db import discussion as discussion_db
from node.db.models import Actor, DiscussionDocument, Object
from node.discussions.service import closed_reason_now
from node.urls import Urls
from node.web.discussion import MAX_PAGE_DEPTH, REPLIES_PER_COMMENT, content_warning
from node.web.render import safe_href

MAX_LIMIT = 50  # direct replies of the anchor on one page, at most


def timestamp(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC to the second (``2026-12-03T14:05:00Z``), or None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_cursor(row_id: int) -> str:
    """The opaque cursor of the page after the one ending with the direct reply ``row_id``."""
    return f"a{row_id}"


def decode_cursor(raw: str) -> int | None:
    """The row id a cursor names, or None for anything this module never made."""
    digits = raw[1:] if raw.startswith("a") else ""
    if not digits or len(digits) > 18 or not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits)


def avatar(actor: Actor, urls: Urls, avatars: dict[int, str]) -> str | None:
    """The author's picture when this node serves it (a member's, ``/media/avatars/…``), else None.

    An embed shows the thread on someone else's page: a remote avatar would make every
    reader's browser ask a third party for it (issue 14: no requests to third parties).
    ``avatars`` is each local author's current picture digest (``node.db.avatars``).
    """
    digest = avatars.get(actor.id) if actor.is_local else None
    return urls.avatar(actor.id, digest) if digest else None


def author_json(actor: Actor, urls: Urls, avatars: dict[int, str]) -> dict[str, Any]:
    """Who wrote a comment: display name, ``@user@host`` handle, profile link, avatar."""
    return {
        "name": actor.name or actor.username,
        "handle": f"@{actor.username}@{actor.domain}",
        "url": safe_href(actor.url) or safe_href(actor.ap_id),
        "avatar": avatar(actor, urls, avatars),
    }


@dataclass(frozen=True)
class Thread:
    """A thread root and the document it discusses, if it is the discussion of a web page."""

    root: Object
    document: DiscussionDocument | None

    def html_url(self, urls: Urls) -> str:
        """Where people read it on this node."""
        if self.document is not None:
            return urls.discussion(self.document.id)
        return self.root.url if self.root.is_local and self.root.url else urls.thread(self.root.id)

    def page_url(self) -> str | None:
        """The page this is the discussion of: the document's canonical URL, else the article's own URL."""
        if self.document is not None:
            return self.document.canonical_url
        return safe_href(self.root.url) or safe_href(self.root.ap_id)


def summary_json(thread: Thread, urls: Urls, comments_count: int) -> dict[str, Any]:
    """The thread's summary: what it is, where it is read, how many comments, whether its source closed."""
    root, document = thread.root, thread.document
    if document is not None:
        closed = closed_reason_now(document.closed_reason, document.kind, root.raw, root.deleted_at is not None)
        kind, title = document.kind, document.title or root.name
    else:
        closed = None if root.is_local else closed_reason_now(None, "fediverse", root.raw, root.deleted_at is not None)
        kind, title = ("article" if root.is_local else "fediverse"), root.name
    return {
        "id": root.ap_id,
        "url": thread.page_url(),
        "title": title,
        "site_name": document.site_name if document is not None else None,
        "kind": kind,
        "comments_count": comments_count,
        "closed_at_source": closed is not None,
        "closed_reason": closed,
        "html_url": thread.html_url(urls),
        "published": timestamp(root.published),
    }


def comment_json(comment: Object, thread: Thread, urls: Urls, avatars: dict[int, str], *,
                 orphan: bool = False) -> dict[str, Any]:
    """One comment without its replies (the caller nests them)."""
    placeholder = discussion_db.is_placeholder(comment)
    return {
        "id": comment.ap_id,
        "url": None if placeholder else safe_href(comment.url) or safe_href(comment.ap_id),
        "html_url": f"{thread.html_url(urls)}?thread={comment.id}#c-{comment.id}",
        "in_reply_to": comment.in_reply_to,
        "orphan": orphan,
        "deleted": placeholder,
        "author": None if placeholder else author_json(comment.actor, urls, avatars),
        "content": None if placeholder else comment.content or "",
        "summary": None if placeholder else content_warning(comment),
        "published": timestamp(comment.published),
        "updated": None if placeholder else timestamp(comment.updated),
        "likes": 0 if placeholder else int(comment.likes_count or 0),
        "boosts": 0 if placeholder else int(comment.announces_count or 0),
        "replies": [],
        "more_replies": 0,
        "replies_url": None,
    }


async def local_avatars(session: AsyncSession, comments) -> dict[int, str]:
    """The avatar digests of the local authors of ``comments`` (one query)."""
    return await avatars_db.get_avatar_digests(session, sorted({c.actor_id for c in comments if c.actor.is_local}))


def thread_api_url(urls: Urls, ap_id: str) -> str:
    """The read API's URL for the view anchored at ``ap_id`` (a thread or one comment's replies)."""
    return f"{urls.base}/api/v1/thread?id={quote(ap_id, safe='')}"


async def comments_page(session: AsyncSession, thread: Thread, anchor: Object | None, urls: Urls, *,
                        after: int, limit: int, budget: int) -> tuple[list[dict[str, Any]], int | None]:
    """The anchor's direct replies after row ``after`` (at most ``limit``), nested with their replies.

    At most ``budget`` comments in all, ``REPLIES_PER_COMMENT`` under one comment and
    ``MAX_PAGE_DEPTH`` levels; a comment with replies left out says how many
    (``more_replies``) and where to read them (``replies_url``).  Returns the comments
    and the last direct reply's row id when more direct replies follow (else None).
    """
    parent_id = anchor.id if anchor is not None else thread.root.id
    tops = await db.list_children_after(session, parent_id, after=after, limit=limit + 1)
    has_next = len(tops) > limit
    tops = tops[:limit]
    walk = await discussion_db.walk_replies(session, tops, budget=budget - len(tops),
                                            per_parent=REPLIES_PER_COMMENT, max_depth=MAX_PAGE_DEPTH)
    nodes, children = walk.nodes, walk.children
    avatars = await local_avatars(session, nodes.values())
    # Build the nesting without recursion (threads can be deep): a comment not shown on
    # public pages is left out and its replies take its place, marked as orphans.
    result: list[dict[str, Any]] = []
    stack: list[tuple[int, list[dict[str, Any]], bool]] = [(c.id, result, False) for c in reversed(tops)]
    while stack:
        comment_id, siblings, orphan = stack.pop()
        comment = nodes[comment_id]
        kids = children.get(comment_id, [])
        if not discussion_db.is_shown(comment):
            stack.extend((kid, siblings, True) for kid in reversed(kids))
            continue
        item = comment_json(comment, thread, urls, avatars, orphan=orphan)
        item["more_replies"] = walk.more_of(comment)
        if item["more_replies"]:
            item["replies_url"] = thread_api_url(urls, comment.ap_id)
        siblings.append(item)
        stack.extend((kid, item["replies"], False) for kid in reversed(kids))
    return result, (tops[-1].id if has_next and tops else None)
