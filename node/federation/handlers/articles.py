"""Posts published by sites we follow, stored as remote articles (threads can then grow under them).

Any top-level post becomes a thread: an ``Article`` or ``Page`` (Lemmy, Mbin, Plume,
Fednode), and a ``Note`` too — the WordPress ActivityPub plugin sends a Note for a
post without a title or of 400 characters or less (and for every post when the blog
is set to publish notes), and Mastodon-like sites have nothing else.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from node.db import follows, queries
from node.federation.outcomes import Outcome
from node.db.models import Actor, Object
from node.discussions.service import register_affiliate
from node.federation.actors import http_url
from node.federation.comments import html_of, parse_time, visibility_of
from node.federation.netguard import same_origin
from node.federation.vocab import as_list, get_id

if TYPE_CHECKING:
    from node.federation.crawl import Crawler

ARTICLE_TYPES = ("Article", "Page")
THREAD_TYPES = frozenset({*ARTICLE_TYPES, "Note", "Question"})  # what a followed site's top-level post may be


async def _we_follow(session, actor: Actor, audiences: list[str]) -> bool:
    """Whether our site follows the actor, or a Group named in the object's audience on its server."""
    follow = await follows.accepted_follow_of_any(session, [actor.ap_id, *audiences])
    return follow is not None and follow.follower.is_local


async def store_remote_article(session: AsyncSession, document: dict[str, Any], author: Actor,
                               *, announced_by: str | None = None, crawler: "Crawler | None" = None) -> Outcome:
    """Store a top-level post by ``author`` from a site we follow (as remote, keyed by its id).

    ``announced_by``: the Group whose ``Announce`` brought it (FEP-1b12); following that
    Group is enough, whether or not the post names it in ``audience``.
    ``crawler``: schedules the new thread's first crawl, in this transaction.  Replies
    people sent only to the post's origin (a WordPress post's commenters, a Mastodon
    thread) reach us only through its ``replies``/``context`` collections, so the thread
    is read soon and then on the crawler's decaying schedule, answered here or not.
    """
    # A Group the post names in ``audience`` counts only on the post's own server (a WordPress
    # author's post names the blog's actor): a stranger naming a Group we follow proves nothing.
    audiences = [a for a in (get_id(x) for x in as_list(document.get("audience")))
                 if a and same_origin(a, document["id"])]
    if announced_by:
        audiences.append(announced_by)
    if not await _we_follow(session, author, audiences):
        return Outcome.ignored("from nobody we follow")
    if await queries.get_object(session, document["id"]) is not None:
        return Outcome.ignored("already stored")
    thread = Object(
        ap_id=document["id"], ap_type=document.get("type", "Article"), kind="article", is_local=False,
        actor_id=author.id, name=document.get("name") if isinstance(document.get("name"), str) else None,
        content=html_of(document), url=http_url(document.get("url")) or document["id"],
        context=get_id(document.get("context")), visibility=visibility_of(document),
        published=parse_time(document.get("published")) or datetime.now(timezone.utc),
        updated=parse_time(document.get("updated")), raw=document,
        tags=[t["name"].lstrip("#") for t in as_list(document.get("tag"))
              if isinstance(t, dict) and t.get("type") == "Hashtag" and isinstance(t.get("name"), str)],
    )
    session.add(thread)
    await session.flush()
    await register_affiliate(session, thread)  # a followed forum's link thread: filed under its page
    if crawler is not None:
        await crawler.schedule(thread.id, session=session)
    return Outcome.applied()
