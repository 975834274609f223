"""A ``Reject`` of one of our members' replies: the source closed its comments.

Some servers answer a reply they do not take with ``Reject`` (GoToSocial's interaction policies:
``{"type": "Reject", "object": <the reply>, "target": <the post it answers>}``; others name the
``Create``).  When the post our member answered is the fediverse post a discussed page is (a
discussion of kind ``fediverse``, docs/discussions.md), the discussion is marked closed at the
source: it stays open here and says so, as for ``commentsEnabled: false`` or a deleted post.
Only the thread's own server may say it (the root's author, the parent's author, or an actor on
the root's origin): anyone else's ``Reject`` of our reply is ignored.
"""

from __future__ import annotations

from typing import Any

from node.db import discussions, queries
from node.discussions.service import CLOSED_REJECTED, mark_closed
from node.federation.handlers import HandlerContext, object_id
from node.federation.netguard import same_origin
from node.federation.outcomes import Outcome
from node.federation.vocab import get_id


async def _our_reply(ctx: HandlerContext) -> Any:
    """The local comment the Reject is about: named, embedded, or through the Create that carried it."""
    session = ctx.session
    ident = object_id(ctx.activity) or ""
    held = await queries.get_object(session, ident)
    if held is None:
        sent = await queries.get_activity(session, ident)
        if sent is not None and sent.is_local and sent.ap_type == "Create":
            held = await queries.get_object(session, sent.object_ap_id or "")
    if held is None:
        inner = ctx.activity.get("object")
        inner = inner.get("object") if isinstance(inner, dict) else None  # Reject{Create{Note}}
        held = await queries.get_object(session, get_id(inner) or "") if inner else None
    if held is None or not held.is_local or held.kind != "comment":
        return None
    return held


async def reply_rejected(ctx: HandlerContext) -> Outcome:
    """Mark the discussion closed at the source when its server rejects one of our members' replies."""
    session = ctx.session
    reply = await _our_reply(ctx)
    if reply is None or reply.root_id is None:
        return Outcome.ignored("rejects nothing we sent")
    root = await queries.get_object_by_id(session, reply.root_id)
    parent = await queries.get_object_by_id(session, reply.parent_id) if reply.parent_id else None
    if root is None or root.is_local:
        return Outcome.ignored("a reply in one of our own threads")
    speakers = {root.actor.ap_id} | ({parent.actor.ap_id} if parent is not None else set())
    if ctx.actor_id not in speakers and not same_origin(ctx.actor_id, root.ap_id):
        return Outcome.ignored("only the thread's own server can refuse a reply in it")
    document = await discussions.get_document_of_thread(session, root.id)
    if document is None or document.kind != "fediverse":
        return Outcome.ignored("the thread is not the discussion of a page")
    await mark_closed(session, document.id, CLOSED_REJECTED)
    return Outcome.applied("the discussion is closed at the source")
