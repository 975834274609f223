"""Articles published by sites we follow, stored as remote articles (threads can then grow under them)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import queries
from node.federation.outcomes import Outcome
from node.db.models import Actor, Follow, Object
from node.db.states import FollowState
from node.federation.actors import http_url
from node.federation.comments import html_of, parse_time, visibility_of
from node.federation.vocab import as_list, get_id

ARTICLE_TYPES = ("Article", "Page")


async def _we_follow(session, actor: Actor, audiences: list[str]) -> bool:
    """Whether our site follows the actor, or a Group named in the object's audience on its server."""
    site_follows = select(Follow).join(Actor, Actor.id == Follow.followed_id).where(
        Follow.state == FollowState.ACCEPTED, Actor.ap_id.in_([actor.ap_id, *audiences])
    )
    follow = await session.scalar(site_follows.limit(1))
    return follow is not None and follow.follower.is_local


async def store_remote_article(session: AsyncSession, document: dict[str, Any], author: Actor,
                               *, announced_by: str | None = None) -> Outcome:
    """Store a top-level article by ``author`` from a site we follow (as remote, keyed by its id).

    ``announced_by``: the Group whose ``Announce`` brought it (FEP-1b12); following that
    Group is enough, whether or not the post names it in ``audience``.
    """
    audiences = [a for a in (get_id(x) for x in as_list(document.get("audience"))) if a]
    if announced_by:
        audiences.append(announced_by)
    if not await _we_follow(session, author, audiences):
        return Outcome.ignored("from nobody we follow")
    if await queries.get_object(session, document["id"]) is not None:
        return Outcome.ignored("already stored")
    session.add(Object(
        ap_id=document["id"], ap_type=document.get("type", "Article"), kind="article", is_local=False,
        actor_id=author.id, name=document.get("name") if isinstance(document.get("name"), str) else None,
        content=html_of(document), url=http_url(document.get("url")) or document["id"],
        context=get_id(document.get("context")), visibility=visibility_of(document),
        published=parse_time(document.get("published")) or datetime.now(timezone.utc),
        updated=parse_time(document.get("updated")), raw=document,
        tags=[t["name"].lstrip("#") for t in as_list(document.get("tag"))
              if isinstance(t, dict) and t.get("type") == "Hashtag" and isinstance(t.get("name"), str)],
    ))
    return Outcome.applied()
