"""Likes and boosts of what we hold, their Undo, and what a followed Group announces."""

from __future__ import annotations

from node.db import follows, queries, reactions
from node.federation.outcomes import Outcome
from node.errors import FetchError, Gone, InvalidDocument, NotFound, OriginMismatch
from node.db.models import Object, Reaction
from node.federation import comments
from node.federation.handlers import HandlerContext, handles, object_id
from node.federation.handlers.articles import THREAD_TYPES, store_remote_article
from node.federation.handlers.follows import on_undo_follow
from node.federation.handlers.threads import apply_edit, placeholder
from node.federation.vocab import attributed_author, get_id

async def _react(ctx: HandlerContext, kind: str, target: Object) -> Outcome:
    session = ctx.session
    actor = await queries.get_actor(session, ctx.actor_id)
    if actor is None:
        return Outcome.ignored("unknown actor")
    if await reactions.reaction_of(session, kind, actor.id, target.id) is not None:
        return Outcome.ignored(f"already {kind}d")
    session.add(Reaction(ap_id=ctx.row.ap_id, kind=kind, actor_id=actor.id, object_id=target.id))
    await reactions.count_reaction(session, kind, target.id, +1)
    return Outcome.applied()


@handles("Like")
@handles("EmojiReact")
async def on_like(ctx: HandlerContext) -> Outcome:
    """A like of an article or comment we hold: counted once per actor.

    Misskey sends reactions as a ``Like`` with ``_misskey_reaction``/``content`` (an
    emoji); Pleroma and Akkoma send ``EmojiReact``.  Both count as the actor's like.
    """
    target = await queries.get_object(ctx.session, object_id(ctx.activity) or "")
    if target is None or target.deleted_at is not None:
        return Outcome.ignored("not a post we hold")
    return await _react(ctx, "like", target)


async def _followed_group(ctx: HandlerContext) -> bool:
    """Whether the announcing actor is a Group our site follows (FEP-1b12)."""
    actor = await queries.get_actor(ctx.session, ctx.actor_id)
    if actor is None or actor.ap_type != "Group":
        return False
    return await follows.has_accepted_follower(ctx.session, actor.id)


@handles("Announce")
async def on_announce(ctx: HandlerContext) -> Outcome:
    """A boost of something we hold is counted; a followed Group's announce of a post brings it in."""
    inner = ctx.activity.get("object")
    target_id = get_id(inner)
    if isinstance(inner, dict) and inner.get("type") in ("Update", "Delete"):
        return await _relayed_change(ctx, inner["type"], get_id(inner.get("object")))
    # A Group announces the Create it accepted (FEP-1b12): the post is that Create's object.
    if isinstance(inner, dict) and inner.get("type") == "Create":
        target_id = get_id(inner.get("object"))
    target = await queries.get_object(ctx.session, target_id or "")
    if target is not None and not (isinstance(inner, dict) and inner.get("type") == "Create"):
        if target.deleted_at is not None:
            return Outcome.ignored("deleted")
        return await _react(ctx, "announce", target)
    if target is not None or target_id is None or not await _followed_group(ctx):
        return Outcome.ignored("nothing to count or bring in")
    # Trust the post only as its own server serves it (the Group may not forge it).
    try:
        document = await ctx.fetcher.get_activitypub(target_id)
        author = await comments.author_of(ctx.fetcher, ctx.session, document)
    except (FetchError, InvalidDocument, OriginMismatch) as exc:
        return Outcome.ignored(f"announced post unavailable ({exc.reason})")
    if document.get("type") not in comments.COMMENT_TYPES:
        return Outcome.ignored("announced object is not a post")
    if not comments.in_reply_to(document):
        # A new thread in the Group (a Lemmy or Mbin post reaches the community's
        # followers only inside the Group's Announce).
        if document.get("type") not in THREAD_TYPES:
            return Outcome.ignored("announced object is not a reply or a thread")
        return await store_remote_article(ctx.session, document, author, announced_by=ctx.actor_id,
                                          crawler=ctx.node.crawler)
    return await comments.take_reply(ctx.node, ctx.session, document, author, fetcher=ctx.fetcher)


async def _relayed_change(ctx: HandlerContext, kind: str, target_id: str | None) -> Outcome:
    """A followed Group passes on an edit or a delete of a post we hold (FEP-1b12).

    The Group may not speak for the post's author, so the post is read again from its
    own server: a newer version there is the edit; 404 or 410 (or a Tombstone) there
    is the delete.
    """
    target = await queries.get_object(ctx.session, target_id or "")
    if target is None or target.is_local or target.deleted_at is not None:
        return Outcome.ignored("not a post we hold")
    if not await _followed_group(ctx):
        return Outcome.ignored(f"{kind} passed on by a Group we do not follow")
    try:
        document = await ctx.fetcher.get_activitypub(target.ap_id)
    except (NotFound, Gone):
        document = None
    except (FetchError, InvalidDocument, OriginMismatch) as exc:
        return Outcome.ignored(f"post unavailable at its origin ({exc.reason})")
    if document is None or document.get("type") == "Tombstone":
        if kind != "Delete":
            return Outcome.ignored("the post is gone at its origin; its own Delete will say so")
        await placeholder(ctx.session, target)
        return Outcome.applied()
    if kind == "Delete":
        return Outcome.ignored("the post is still there at its origin")
    try:
        author = attributed_author(document)
    except InvalidDocument as exc:
        return Outcome.ignored(exc.reason)
    if author != target.actor.ap_id:
        return Outcome.ignored("the post at its origin is attributed to someone else")
    return await apply_edit(ctx.session, target, document)


@handles("Undo")
async def on_undo(ctx: HandlerContext) -> Outcome:
    """Undo of a Like or Announce (uncounted) or of a Follow, named by id or embedded."""
    session = ctx.session
    undone_id = object_id(ctx.activity) or ""
    reaction = await reactions.reaction_by_ap_id(session, undone_id)
    if reaction is None:
        stored = await queries.get_activity(session, undone_id)
        if stored is not None and stored.ap_type == "Follow":
            return await on_undo_follow(ctx)
        return Outcome.ignored("undoes nothing we hold")
    actor = await queries.get_actor(session, ctx.actor_id)
    if actor is None or reaction.actor_id != actor.id:
        return Outcome.ignored("only its author may undo it")
    await reactions.count_reaction(session, reaction.kind, reaction.object_id, -1)
    await session.delete(reaction)
    return Outcome.applied()


@handles("Undo", "Like")
@handles("Undo", "Announce")
async def on_undo_reaction(ctx: HandlerContext) -> Outcome:
    """Undo with the Like/Announce embedded: the same as by id."""
    return await on_undo(ctx)
