"""Storing replies in their threads, whatever order they arrive in.

A reply is stored only inside a thread we hold: its parent (or an ancestor
within ``MAX_CHAIN`` hops) must be one of our articles or comments, or a
remote article we hold.  Missing ancestors are fetched from their own origin
and stored on the way down.  A reply whose parent cannot be fetched yet waits
in ``pending_replies`` and is attached when the parent arrives.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.content import sanitize_html
from node.db import notifications, queries
from node.federation.outcomes import Outcome
from node.db.models import Actor, Object, PendingReply, Tombstone
from node.errors import FetchError, InvalidDocument, OriginMismatch
from node.federation import outbox
from node.federation.actors import actor_values_from_ap, http_url
from node.federation.netguard import same_origin
from node.federation.timestamps import parse_time  # noqa: F401  (handlers import it from here)
from node.federation.vocab import PUBLIC_FORMS, as_list, attributed_author, get_id

if TYPE_CHECKING:
    from node.app import Node

log = logging.getLogger("fednode.comments")

COMMENT_TYPES = frozenset({"Note", "Article", "Page", "Question"})
MAX_CHAIN = 16  # ancestors fetched for one reply
MAX_PENDING_ATTACH = 500  # children attached in one go when a parent arrives
MAX_CONTENT = 100_000

# Reasons a reply is not stored that the batch path and the crawler recognise.
ALREADY_STORED = "already stored"
DELETED_BEFORE = "deleted before it arrived"


def visibility_of(document: dict[str, Any]) -> str:
    """public (Public in to), unlisted (Public in cc), followers (a collection only) or direct.

    A followers collection is ``…/users/a/followers`` (Mastodon, Misskey, Pleroma,
    GoToSocial, Mbin, NodeBB, Lemmy communities) or ``…/followers/a`` (Friendica).
    """
    def is_followers(value: Any) -> bool:
        return isinstance(value, str) and "followers" in urlsplit(value).path.split("/")

    to = {get_id(x) for x in as_list(document.get("to"))}
    cc = {get_id(x) for x in as_list(document.get("cc"))}
    if to & PUBLIC_FORMS:
        return "public"
    if cc & PUBLIC_FORMS:
        return "unlisted"
    if any(is_followers(x) for x in to | cc):
        return "followers"
    return "direct"


def html_of(document: dict[str, Any]) -> str:
    """The object's HTML (``content``, else the first ``contentMap`` entry), sanitised."""
    content = document.get("content")
    if not isinstance(content, str):
        content_map = document.get("contentMap")
        content = next((v for v in content_map.values() if isinstance(v, str)), "") if isinstance(content_map, dict) else ""
    return sanitize_html(content[:MAX_CONTENT])


def in_reply_to(document: dict[str, Any]) -> str | None:
    return get_id(document.get("inReplyTo"))


async def is_tombstoned(session: AsyncSession, ap_id: str) -> bool:
    """Whether this URI was deleted (held or not): it must never come back."""
    if await session.get(Tombstone, ap_id) is not None:
        return True
    held = await queries.get_object(session, ap_id)
    return held is not None and held.deleted_at is not None


async def author_of(fetcher: Any, session: AsyncSession, document: dict[str, Any]) -> Actor:
    """The actor a fetched object is attributed to, stored if new; it must share the object's origin.

    ``fetcher`` is the apply step's ``resolve.Resolved``: it answers from what was fetched
    before the transaction, never from the network."""
    try:
        author_id = attributed_author(document)
    except InvalidDocument:
        raise OriginMismatch("the object is attributed to several different actors") from None
    if not author_id or not same_origin(author_id, document["id"]):
        raise OriginMismatch("the object is attributed to an actor on another server")
    actor = await queries.get_actor(session, author_id)
    if actor is None:
        values = actor_values_from_ap(await fetcher.get_activitypub(author_id))
        actor = await queries.upsert_remote_actor(session, values)
    return actor


async def find_anchor(fetcher: Any, session: AsyncSession, document: dict[str, Any]) -> tuple[Object | None, list[dict], str]:
    """Walk ``inReplyTo`` up to an object we hold.

    Returns (anchor, ancestors to store from the top down, reason). The anchor is
    None when the chain ends outside our threads (reason says why). FetchError
    propagates: the caller parks the reply until the parent can be had.
    """
    chain: list[dict[str, Any]] = []
    parent_id = in_reply_to(document)
    for _ in range(MAX_CHAIN):
        if parent_id is None:
            return None, [], "not in a thread we hold"
        held = await queries.get_object(session, parent_id)
        if held is not None:
            return held, list(reversed(chain)), "found"
        if await session.get(Tombstone, parent_id) is not None:
            return None, [], "its parent was deleted"
        parent = await fetcher.get_activitypub(parent_id)
        if parent.get("type") not in COMMENT_TYPES:
            return None, [], "its parent is not a post"
        chain.append(parent)
        parent_id = in_reply_to(parent)
    return None, [], f"more than {MAX_CHAIN} unknown ancestors"


def thread_root_id(parent: Any) -> int | None:
    """The id of the article at the top of ``parent``'s thread (``parent`` is held)."""
    return parent.id if parent.kind == "article" else parent.root_id


def comment_values(document: dict[str, Any], author_id: int, parent: Any, root: Any | None) -> dict[str, Any]:
    """The columns of the comment row for ``document`` under ``parent`` in the thread of ``root``.

    ``parent`` and ``root`` are anything with the columns as attributes (an Object or a row).
    """
    published = parse_time(document.get("published")) or datetime.now(timezone.utc)
    updated = parse_time(document.get("updated"))
    return dict(
        ap_id=document["id"], ap_type=document.get("type", "Note"), kind="comment", is_local=False,
        actor_id=author_id, content=html_of(document),
        name=document.get("name") if isinstance(document.get("name"), str) and document.get("type") != "Note" else None,
        url=http_url(document.get("url")) or document["id"],
        in_reply_to=parent.ap_id, parent_id=parent.id, root_id=thread_root_id(parent),
        context=root.context if root is not None else get_id(document.get("context")),
        visibility=visibility_of(document), published=published,
        updated=updated if updated and updated > published else None, raw=document,
    )


def counts_as_reply(visibility: str) -> bool:
    """Whether a comment of this visibility counts in its parent's public ``replies``."""
    return visibility in ("public", "unlisted")


def is_announced(root: Any | None, visibility: str) -> bool:
    """Whether the site Group announces a comment of this visibility in the thread of ``root``."""
    return root is not None and root.is_local and visibility == "public"


async def store_comment(
    node: "Node", session: AsyncSession, document: dict[str, Any], author: Actor, parent: Object,
    *, activity: dict[str, Any] | None = None,
) -> Object | None:
    """Judge one reply under ``parent`` (held) and store it unless rejected; then attach the replies
    that were waiting for it.  None when the policy rejected it.

    ``bulk_replies.store_replies`` does the same for many plain replies at once; keep them in step.
    """
    from node.moderation.decide import judge_one, moderation_state
    from node.moderation.policy import Verdict

    root_id = thread_root_id(parent)
    root = await queries.get_object_by_id(session, root_id) if root_id else None
    values = comment_values(document, author.id, parent, root)
    judgement = await judge_one(node, session, document, author.id, parent, root, values["content"])
    if judgement.verdict is Verdict.REJECT:
        return None
    comment = Object(**values, moderation=moderation_state(judgement))
    session.add(comment)
    if judgement.shown and counts_as_reply(comment.visibility):
        parent.replies_count += 1
    await session.flush()
    await notifications.notify_new_comments(session, [notifications.comment_columns(comment)], host=node.settings.host)
    if judgement.shown and is_announced(root, comment.visibility):
        await announce_to_group_followers(node, session, comment, activity)
    if root is not None and getattr(node, "crawler", None) is not None:
        await node.crawler.schedule(root.id, session=session)  # read the thread's remote collections soon
    await attach_pending(node, session, comment)
    return comment


async def attach_pending(node: "Node", session: AsyncSession, parent: Object) -> int:
    """Store the replies that arrived before ``parent`` did (and theirs, in turn)."""
    attached = 0
    queue = [parent]
    while queue and attached < MAX_PENDING_ATTACH:
        current = queue.pop()
        waiting = (await session.scalars(select(PendingReply).where(PendingReply.in_reply_to == current.ap_id))).all()
        for pending in waiting:
            await session.delete(pending)
            if await queries.get_object(session, pending.ap_id) is not None:
                continue
            author = await queries.get_actor(session, pending.actor_ap_id)
            if author is None:
                continue
            child = await store_comment(node, session, pending.raw, author, current)
            attached += 1
            if child is not None:
                queue.append(child)
    return attached


async def park(session: AsyncSession, document: dict[str, Any], actor_ap_id: str) -> None:
    """Keep a reply whose parent could not be fetched yet, keyed by the parent it waits for."""
    existing = await session.scalar(select(PendingReply).where(PendingReply.ap_id == document["id"]))
    if existing is None:
        session.add(PendingReply(ap_id=document["id"], in_reply_to=in_reply_to(document) or "",
                                 actor_ap_id=actor_ap_id, raw=document))


async def take_reply(node: "Node", session: AsyncSession, document: dict[str, Any], author: Actor,
                     *, fetcher: Any, activity: dict[str, Any] | None = None) -> Outcome:
    """Store ``document`` (a reply by ``author``) in its thread if it belongs to one we hold.

    Missing ancestors and their authors come from ``fetcher`` (a ``resolve.Resolved``):
    this runs inside the apply transaction and fetches nothing itself."""
    if await queries.get_object(session, document["id"]) is not None:
        return Outcome.ignored(ALREADY_STORED)
    if await is_tombstoned(session, document["id"]):
        return Outcome.ignored(DELETED_BEFORE)
    try:
        anchor, ancestors, reason = await find_anchor(fetcher, session, document)
    except (FetchError, InvalidDocument, OriginMismatch) as exc:
        await park(session, document, author.ap_id)
        return Outcome.waiting(f"waiting for its parent ({exc.reason})")
    if anchor is None:
        return Outcome.ignored(reason)
    parent = anchor
    for ancestor in ancestors:
        try:
            ancestor_author = await author_of(fetcher, session, ancestor)
        except (FetchError, InvalidDocument, OriginMismatch) as exc:
            await park(session, document, author.ap_id)
            return Outcome.waiting(f"waiting for an ancestor's author ({exc.reason})")
        parent = await queries.get_object(session, ancestor["id"]) or await store_comment(
            node, session, ancestor, ancestor_author, parent)
        if parent is None:
            return Outcome.ignored("an ancestor was rejected by the moderation policy")
    stored = await store_comment(node, session, document, author, parent, activity=activity)
    if stored is None:
        return Outcome.ignored("rejected by the moderation policy")
    return Outcome.applied() if stored.moderation == "published" else Outcome.applied(stored.moderation)


def group_announce(node: "Node", site: Actor, comment_ap_id: str, activity: dict[str, Any] | None) -> dict[str, Any]:
    """FEP-1b12: the site Group's Announce of an accepted public comment.

    The received Create is wrapped unchanged when we have it (followers can check
    it against its origin); a comment we fetched ourselves is announced by id.
    """
    return {
        "id": outbox.new_activity_id(node.urls),
        "type": "Announce",
        "actor": site.ap_id,
        # A transient Create (sent without an id) is announced by its object's id.
        "object": activity if activity is not None and activity.get("id") else comment_ap_id,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [site.followers],
        "audience": site.ap_id,
    }


async def announce_to_group_followers(node: "Node", session: AsyncSession, comment: Object,
                                      activity: dict[str, Any] | None) -> None:
    """Queue the site Group's Announce of ``comment`` for the Group's followers."""
    site = await queries.get_local_actor(session, node.settings.site_username)
    if site is None:
        return
    announce = group_announce(node, site, comment.ap_id, activity)
    await outbox.deliver_to_followers(session, announce, signer=site.username, followed=[site])


async def forget_pending_of(session: AsyncSession, actor_ap_id: str) -> None:
    """Drop the parked replies of an actor (it was deleted)."""
    await session.execute(delete(PendingReply).where(PendingReply.actor_ap_id == actor_ap_id))

