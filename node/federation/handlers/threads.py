"""Replies and their changes: Create, Update and Delete of posts, and Delete of actors."""

from __future__ import annotations

from typing import Any

from node.db import comments as db_comments
from node.db import follows, queries
from node.db.models import Object, Revision, Tombstone
from node.federation.outcomes import Outcome
from node.db.types import utcnow
from node.errors import FetchError, InvalidDocument, OriginMismatch
from node.federation import comments
from node.federation.actors import actor_values_from_ap
from node.federation.handlers import HandlerContext, handles, object_id
from node.federation.handlers.articles import THREAD_TYPES, store_remote_article
from node.federation.vocab import ACTOR_TYPES, attributed_author, get_id, has_type


async def embedded_or_fetched(ctx: HandlerContext) -> dict[str, Any] | None:
    """The activity's object: embedded (the inbox checked its origin) or fetched from its origin."""
    inner = ctx.activity.get("object")
    if isinstance(inner, dict):
        return inner
    ident = get_id(inner)
    if ident is None:
        return None
    try:
        return await ctx.fetcher.get_activitypub(ident)
    except (FetchError, InvalidDocument, OriginMismatch):
        return None


@handles("Create")
async def on_create(ctx: HandlerContext) -> Outcome:
    """A new post: a reply joins its thread; a top-level post (article or note) from a site we follow is stored."""
    document = await embedded_or_fetched(ctx)
    if document is None or document.get("type") not in comments.COMMENT_TYPES:
        return Outcome.ignored("not a post")
    try:
        if attributed_author(document, ctx.actor_id) != ctx.actor_id:
            return Outcome.ignored("attributed to someone else")
    except InvalidDocument:
        return Outcome.ignored("attributed to several different actors")
    author = await queries.get_actor(ctx.session, ctx.actor_id)
    if author is None:
        return Outcome.ignored("unknown author")
    if comments.in_reply_to(document):
        return await comments.take_reply(ctx.node, ctx.session, document, author, fetcher=ctx.fetcher,
                                         activity=ctx.activity)
    if document.get("type") in THREAD_TYPES:
        return await store_remote_article(ctx.session, document, author, crawler=ctx.node.crawler)
    return Outcome.ignored("a post outside our threads")


@handles("Update")
async def on_update(ctx: HandlerContext) -> Outcome:
    """An edit: applied only when ``updated`` is newer than what we hold; the old version is kept."""
    document = ctx.activity.get("object")
    if not isinstance(document, dict):
        return Outcome.ignored("Update without the new version")
    if has_type(document.get("type"), ACTOR_TYPES):
        if document.get("id") != ctx.actor_id:
            return Outcome.ignored("an actor updates only itself")
        values = actor_values_from_ap(document)
        await queries.upsert_remote_actor(ctx.session, values)
        ctx.node.resolver.forget(ctx.actor_id)
        return Outcome.applied()
    held = await queries.get_object(ctx.session, document.get("id") or "")
    if held is None or held.is_local or held.deleted_at is not None:
        return Outcome.ignored("not a post we hold")
    if held.actor.ap_id != ctx.actor_id:
        return Outcome.ignored("only its author may edit it")
    was_announced = await _announced_by_our_group(ctx, held)
    outcome = await apply_edit(ctx.session, held, document)
    if outcome.is_applied and was_announced and comments.visibility_of(document) == "public":
        # FEP-1b12: the Group passes the edit on, so its followers' copies don't go stale.
        await comments.announce_to_group_followers(ctx.node, ctx.session, held, ctx.activity)
    return outcome


async def apply_edit(session, held: Object, document: dict[str, Any]) -> Outcome:
    """Make ``document`` (the new version of ``held``, by its author) current if it is newer; keep the old one."""
    new_time = comments.parse_time(document.get("updated"))
    if new_time is None or new_time <= (held.updated or held.published):
        return Outcome.ignored("not newer than what we hold")
    session.add(Revision(object_id=held.id, name=held.name, content=held.content,
                         updated=held.updated or held.published, raw=held.raw))
    held.content = comments.html_of(document)
    if isinstance(document.get("name"), str) and held.kind == "article":
        held.name = document["name"]
    held.updated = new_time
    held.visibility = comments.visibility_of(document)
    held.raw = document
    return Outcome.applied()


async def _announced_by_our_group(ctx: HandlerContext, held: Object) -> bool:
    """Whether the site Group announced this comment to its followers (a public comment of our thread,
    shown by the moderators: a held, rejected, removed or suspended one was never announced)."""
    if held.kind != "comment" or held.root_id is None or held.moderation != "published":
        return False
    root = await queries.get_object_by_id(ctx.session, held.root_id)
    return comments.is_announced(root, held.visibility)


@handles("Delete")
async def on_delete(ctx: HandlerContext) -> Outcome:
    """A deleted post stays as a placeholder (its replies stay in place); an actor's delete removes its posts."""
    target = object_id(ctx.activity)
    session = ctx.session
    if target is None:
        return Outcome.ignored("Delete of nothing")
    if target == ctx.actor_id:
        return await _delete_actor(ctx)
    held = await queries.get_object(session, target)
    if held is None:
        if not await db_comments.is_tombstoned(session, target):
            session.add(Tombstone(ap_id=target, actor_ap_id=ctx.actor_id))
        return Outcome.applied("remembered, never to be created")
    if held.is_local or held.actor.ap_id != ctx.actor_id:
        return Outcome.ignored("only its author may delete it")
    was_announced = held.deleted_at is None and await _announced_by_our_group(ctx, held)
    await placeholder(session, held)
    if was_announced:
        # FEP-1b12: the Group passes the delete on to the followers it announced the comment to.
        await comments.announce_to_group_followers(ctx.node, session, held, ctx.activity)
    return Outcome.applied()


async def placeholder(session, held: Object) -> None:
    """Blank a post but keep its row, so the thread keeps its shape."""
    if held.deleted_at is not None:
        return
    held.deleted_at = utcnow()
    held.content = None
    held.name = None if held.kind == "comment" else held.name
    # Only a shown comment was counted in its parent's replies (a held one never was).
    if held.parent_id is not None and held.visibility in ("public", "unlisted") and held.moderation == "published":
        await db_comments.uncount_reply(session, held.parent_id)


async def _delete_actor(ctx: HandlerContext) -> Outcome:
    session = ctx.session
    actor = await queries.get_actor(session, ctx.actor_id)
    if actor is None or actor.is_local:
        return Outcome.ignored("unknown actor")
    ctx.node.resolver.forget(actor.ap_id)
    for post in await db_comments.live_posts_of(session, actor.id):
        await placeholder(session, post)
    for follow in await follows.follows_by(session, actor.id):
        await session.delete(follow)
    await comments.forget_pending_of(session, actor.ap_id)
    return Outcome.applied()
