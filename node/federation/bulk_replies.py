"""Storing many plain replies in one transaction: the inbox's common case, made cheap.

Most of what a busy inbox receives is ``Create`` of a reply, by an actor we know,
to a post we already hold.  Applied one at a time (``comments.take_reply``) each
costs about ten small queries and a commit.  Here a run of them costs a fixed
handful: one query each for the posts, tombstones, authors and thread roots
involved, one multi-row insert, one update of the reply counts, one crawl
schedule, one status update, and a single commit.

The rules are ``take_reply``'s and ``store_comment``'s (both use
``comments.comment_values``): a post already held or deleted is not stored
again, replies count on their parent, the Group announces public comments of
our threads, the thread is crawled soon, and replies that were waiting for a
new comment are attached.  Whatever needs more (a parent we must fetch, an
author we don't know, a reply to a reply in the same run) is left out, and the
processor applies it the usual way.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import activities, notifications, queries
from node.db.models import Actor, Object, PendingReply, Tombstone
from node.federation import comments, outbox
from node.federation.outcomes import Outcome
from node.federation.vocab import get_id
from node.moderation.decide import Incoming, judge_many, moderation_state
from node.moderation.policy import Verdict

if TYPE_CHECKING:
    from node.app import Node

# The columns the checks read, fetched as plain rows instead of ORM objects.
_POST_COLUMNS = (Object.id, Object.ap_id, Object.kind, Object.root_id, Object.context, Object.is_local,
                 Object.deleted_at, Object.actor_id, Object.locked, Object.reply_policy, Object.replies_close_at)


def is_plain_reply(activity: Any, actor_ap_id: str) -> bool:
    """A ``Create`` with its reply embedded, written by the activity's actor: what ``store_replies`` takes."""
    if not isinstance(activity, dict) or activity.get("type") != "Create":
        return False
    document = activity.get("object")
    return (
        isinstance(document, dict)
        and isinstance(document.get("id"), str)
        and document.get("type") in comments.COMMENT_TYPES
        and get_id(document.get("attributedTo")) == actor_ap_id
        and comments.in_reply_to(document) is not None
    )


async def store_replies(node: "Node", rows: Sequence[Any], *, owner: str, now: datetime) -> dict[int, Outcome]:
    """Apply the plain replies among ``rows`` (each with ``id``, ``raw``, ``actor_ap_id``) in one transaction.

    Returns the outcome of each activity row it settled (and recorded on the row,
    which ``owner`` holds; ``LeaseLost`` rolls everything back otherwise); rows
    missing from the result are for the usual, one-at-a-time path.
    """
    async with node.sessions.begin() as session:
        outcomes = await _store(node, session, rows)
        await activities.settle_activities(session, owner, outcomes, now=now)
        return outcomes


async def _store(node: "Node", session: AsyncSession, rows: Sequence[Any]) -> dict[int, Outcome]:
    documents = {row.id: row.raw["object"] for row in rows}
    post_ids = {document["id"] for document in documents.values()}
    parent_ids = {comments.in_reply_to(document) for document in documents.values()}
    held = {post.ap_id: post for post in (await session.execute(
        select(*_POST_COLUMNS).where(Object.ap_id.in_(post_ids | parent_ids))
    )).all()}
    tombstoned = set((await session.scalars(select(Tombstone.ap_id).where(Tombstone.ap_id.in_(post_ids)))).all())
    authors = dict((await session.execute(
        select(Actor.ap_id, Actor.id).where(Actor.ap_id.in_({row.actor_ap_id for row in rows}))
    )).all())
    root_ids = {comments.thread_root_id(held[p]) for p in parent_ids if p in held} - {None}
    roots = {root.id: root for root in (await session.execute(
        select(*_POST_COLUMNS).where(Object.id.in_(root_ids))
    )).all()}

    outcomes: dict[int, Outcome] = {}
    new: list[tuple[Any, dict[str, Any]]] = []  # (activity row, comment columns)
    taken: set[str] = set()
    for row in rows:
        document = documents[row.id]
        if document["id"] in held or document["id"] in taken:
            outcomes[row.id] = Outcome.ignored(comments.ALREADY_STORED)
            continue
        if document["id"] in tombstoned:
            outcomes[row.id] = Outcome.ignored(comments.DELETED_BEFORE)
            continue
        parent = held.get(comments.in_reply_to(document))
        author_id = authors.get(row.actor_ap_id)
        if parent is None or author_id is None:
            continue  # its parent must be fetched, or its author is unknown: the usual path decides
        root = roots.get(comments.thread_root_id(parent))
        new.append((row, comments.comment_values(document, author_id, parent, root)))
        taken.add(document["id"])

    # The decide step: the moderation policy judges the run; rejected replies are not stored.
    judgements = await judge_many(node, session, [
        Incoming(documents[row.id], values["actor_id"], held[values["in_reply_to"]], roots.get(values["root_id"]),
                 values["content"])
        for row, values in new])
    kept = []
    for (row, values), judgement in zip(new, judgements):
        if judgement.verdict is Verdict.REJECT:
            outcomes[row.id] = Outcome.ignored(f"rejected by the moderation policy ({judgement.rule})")
            taken.discard(values["ap_id"])
            continue
        values["moderation"] = moderation_state(judgement)
        outcomes[row.id] = Outcome.applied() if judgement.shown else Outcome.applied(values["moderation"])
        kept.append((row, values))
    new = kept

    if new:
        # A Core executemany: one compiled statement, and none of the ORM's per-row bookkeeping.
        await session.execute(insert(Object.__table__), [values for _, values in new])
        await _count_replies(session, [values for _, values in new])
        await notifications.notify_new_comments(session, [values for _, values in new], host=node.settings.host)
        await _announce(node, session, [(row, values) for row, values in new if values["moderation"] == "published"
                                        and comments.is_announced(roots.get(values["root_id"]), values["visibility"])])
        if getattr(node, "crawler", None) is not None:
            await node.crawler.schedule_many([values["root_id"] for _, values in new if values["root_id"] in roots],
                                             session=session)
        await _attach_waiting(node, session, taken)
    return outcomes


async def _count_replies(session: AsyncSession, new: list[dict[str, Any]]) -> None:
    """Add the new shown public and unlisted comments to their parents' reply counts."""
    per_parent = Counter(values["parent_id"] for values in new
                         if values["moderation"] == "published" and comments.counts_as_reply(values["visibility"]))
    if per_parent:
        table = Object.__table__
        await session.execute(
            update(table).where(table.c.id == bindparam("parent")).values(replies_count=table.c.replies_count + bindparam("added")),
            [{"parent": parent, "added": added} for parent, added in per_parent.items()],
        )


async def _announce(node: "Node", session: AsyncSession, announced: list[tuple[Any, dict[str, Any]]]) -> None:
    """The site Group announces each new public comment of our threads to its followers (FEP-1b12)."""
    if not announced:
        return
    site = await queries.get_local_actor(session, node.settings.site_username)
    if site is None:
        return
    inboxes = await outbox.follower_inboxes(session, [site.id])
    if not inboxes:
        return
    announces = [comments.group_announce(node, site, values["ap_id"], row.raw) for row, values in announced]
    await outbox.enqueue_many(session, announces, signer=site.username, inboxes=inboxes)


async def _attach_waiting(node: "Node", session: AsyncSession, new_ap_ids: set[str]) -> None:
    """Attach the replies that arrived before one of the new comments did."""
    awaited = set((await session.scalars(
        select(PendingReply.in_reply_to).where(PendingReply.in_reply_to.in_(new_ap_ids))
    )).all())
    for ap_id in sorted(awaited):
        parent = await queries.get_object(session, ap_id)
        if parent is not None:
            await comments.attach_pending(node, session, parent)
