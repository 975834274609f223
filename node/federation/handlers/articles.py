"""Articles published by sites we follow: stored as remote articles (their threads come later)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from node.content import sanitize_html
from node.db import queries
from node.db.models import Actor, Follow, Object
from node.federation.handlers import HandlerContext, handles
from node.federation.vocab import as_list, get_id, is_public

ARTICLE_TYPES = ("Article", "Page")


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp from a remote document (Fedify writes nanoseconds), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # Python reads at most microseconds
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        text = f"{head}.{digits[:6]}{tail[len(digits):]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


async def _we_follow(session, actor: Actor, audiences: list[str]) -> bool:
    """Whether our site follows the actor, or a Group named in the object's audience on its server."""
    site_follows = select(Follow).join(Actor, Actor.id == Follow.followed_id).where(
        Follow.state == "accepted", Actor.ap_id.in_([actor.ap_id, *audiences])
    )
    follow = await session.scalar(site_follows.limit(1))
    return follow is not None and follow.follower.is_local


@handles("Create", "Article")
@handles("Create", "Page")
async def on_create_article(ctx: HandlerContext) -> str:
    """Store an article from a site we follow (as remote, keyed by its id)."""
    session = ctx.session
    document = ctx.activity.get("object")
    if not isinstance(document, dict) or document.get("inReplyTo"):
        return "ignored: not a top-level article"
    author = await queries.get_actor(session, ctx.actor_id)
    audiences = [a for a in (get_id(x) for x in as_list(document.get("audience"))) if a]
    if author is None or not await _we_follow(session, author, audiences):
        return "ignored: from nobody we follow"
    if await queries.get_object(session, document["id"]) is not None:
        return "ignored: already stored"
    content = document.get("content")
    if not isinstance(content, str):
        content_map = document.get("contentMap")
        content = next(iter(content_map.values()), "") if isinstance(content_map, dict) and content_map else ""
    session.add(Object(
        ap_id=document["id"], ap_type=document.get("type", "Article"), kind="article", is_local=False,
        actor_id=author.id, name=document.get("name") if isinstance(document.get("name"), str) else None,
        content=sanitize_html(content), url=get_id(document.get("url")) or document["id"],
        context=get_id(document.get("context")), visibility="public" if is_public(document) else "followers",
        published=parse_time(document.get("published")) or datetime.now(timezone.utc),
        updated=parse_time(document.get("updated")), raw=document,
        tags=[t["name"].lstrip("#") for t in as_list(document.get("tag"))
              if isinstance(t, dict) and t.get("type") == "Hashtag" and isinstance(t.get("name"), str)],
    ))
    return "applied"
