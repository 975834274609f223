"""Storing replies in their threads: one path for one reply, a run of them and the crawler alike.

A reply is stored only inside a thread we hold: its parent (or an ancestor
within ``MAX_CHAIN`` hops) must be one of our articles or comments, or a
remote article we hold.  Missing ancestors are fetched from their own origin
and stored on the way down.  A reply whose parent cannot be had yet waits in
``pending_replies`` and is attached when the parent arrives.

Every comment is stored by ``store_comments``, in three steps:

* **resolve** — the callers find each reply's parent and author first:
  ``take_reply`` walks one reply's ``inReplyTo`` chain through the apply step's
  ``resolve.Resolved`` fetcher (which answers only from documents fetched before
  the transaction), ``take_plain_replies`` reads a whole run's parents, authors
  and tombstones with one query each and leaves what it cannot place to
  ``take_reply``;
* **decide** — the moderation policy's verdict on each (``moderation.decide``)
  and the rows to write (``comment_values``, pure);
* **apply** — one multi-row insert, then ``comments_stored``: reply counts, the
  site Group's announces, the crawl schedule; then the replies that were
  waiting for the new comments are attached the same way, level by level.

All of it runs inside the caller's one short transaction, which holds nothing
but database statements (``federation/resolve.py``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from node.content import sanitize_html
from node.db import comments as db
from node.db import notifications, queries
from node.db.models import Actor, Object
from node.errors import FetchError, InvalidDocument, OriginMismatch
from node.federation import outbox
from node.federation.actors import actor_values_from_ap, http_url
from node.federation.netguard import same_origin
from node.federation.outcomes import Outcome
from node.federation.timestamps import parse_time  # noqa: F401  (handlers import it from here)
from node.federation.vocab import PUBLIC_FORMS, as_list, attributed_author, get_id

if TYPE_CHECKING:
    from node.app import Node
    from node.moderation.policy import Judgement

log = logging.getLogger("fednode.comments")

COMMENT_TYPES = frozenset({"Note", "Article", "Page", "Question"})
MAX_CHAIN = 16  # ancestors fetched for one reply
MAX_PENDING_ATTACH = 500  # waiting replies attached in one go when their parents arrive
MAX_CONTENT = 100_000

# Reasons a reply is not stored that the processor and the crawler recognise.
ALREADY_STORED = "already stored"
DELETED_BEFORE = "deleted before it arrived"
REJECTED = "rejected by the moderation policy"


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


# --- the one store path -------------------------------------------------------------------------


@dataclass(frozen=True)
class NewComment:
    """A reply about to be stored: its document, its author's row id and its parent (held; a row, an
    ``Object`` or a ``StoredComment``); ``activity`` is the received ``Create``, which the Group announces."""

    document: dict[str, Any]
    author_id: int
    parent: Any
    activity: dict[str, Any] | None = None


@dataclass(frozen=True)
class StoredComment:
    """A comment row just written, with its moderation state (``published`` or ``held``).

    It has the columns the store path reads of a parent, so a reply to it can be stored under it."""

    id: int
    ap_id: str
    actor_id: int
    parent_id: int
    root_id: int | None
    context: str | None
    visibility: str
    moderation: str
    document: dict[str, Any]
    activity: dict[str, Any] | None = None
    kind: str = "comment"
    is_local: bool = False
    locked: bool = False
    deleted_at: datetime | None = None

    @property
    def shown(self) -> bool:
        return self.moderation == "published"

    def columns(self) -> dict[str, Any]:
        """The row's columns as a mapping (what ``db.notifications.notify_new_comments`` reads)."""
        return dict(id=self.id, ap_id=self.ap_id, actor_id=self.actor_id, parent_id=self.parent_id,
                    root_id=self.root_id, moderation=self.moderation, visibility=self.visibility,
                    raw=self.document, is_local=self.is_local, source=None)


@dataclass(frozen=True)
class Stored:
    """What became of one ``NewComment``: the policy's judgement, and the row unless it was rejected."""

    judgement: "Judgement"
    comment: StoredComment | None

    def outcome(self) -> Outcome:
        if self.comment is None:
            return Outcome.ignored(f"{REJECTED} ({self.judgement.rule})")
        return Outcome.applied() if self.comment.shown else Outcome.applied(self.comment.moderation)


async def store_comments(node: "Node", session: AsyncSession, items: Sequence[NewComment]) -> list[Stored]:
    """Decide and store these replies (their parents held, their ids not), in the caller's transaction,
    then attach the replies that were waiting for them.  One ``Stored`` per item, in order."""
    results = await _store_level(node, session, items)
    await _attach_waiting(node, session, [r.comment for r in results if r.comment is not None])
    return results


async def _store_level(node: "Node", session: AsyncSession, items: Sequence[NewComment]) -> list[Stored]:
    from node.moderation.decide import Incoming, judge_many, moderation_state  # decide reads this module's rules
    from node.moderation.policy import Verdict

    if not items:
        return []
    roots = await db.posts_by_id(session, {thread_root_id(item.parent) for item in items} - {None})
    rows = [comment_values(item.document, item.author_id, item.parent, roots.get(thread_root_id(item.parent)))
            for item in items]
    # Decide: the policy's verdict on each (later ones see the earlier ones counted); rejected ones are not stored.
    judgements = await judge_many(node, session, [
        Incoming(item.document, item.author_id, item.parent, roots.get(row["root_id"]), row["content"])
        for item, row in zip(items, rows)])
    kept = [(item, row) for item, row, judgement in zip(items, rows, judgements) if judgement.verdict is not Verdict.REJECT]
    for row, judgement in zip(rows, judgements):
        if judgement.verdict is not Verdict.REJECT:
            row["moderation"] = moderation_state(judgement)
    # Apply: one insert for the lot, then what follows from it.
    ids = await db.insert_comments(session, [row for _, row in kept])
    stored = {row["ap_id"]: StoredComment(
        id=ids[row["ap_id"]], ap_id=row["ap_id"], actor_id=row["actor_id"], parent_id=row["parent_id"],
        root_id=row["root_id"], context=row["context"], visibility=row["visibility"],
        moderation=row["moderation"], document=item.document, activity=item.activity) for item, row in kept}
    await comments_stored(node, session, list(stored.values()), roots)
    return [Stored(judgement, None if judgement.verdict is Verdict.REJECT else stored[row["ap_id"]])
            for row, judgement in zip(rows, judgements)]


async def comments_stored(node: "Node", session: AsyncSession, stored: list[StoredComment],
                          roots: dict[int, Any]) -> None:
    """Everything that follows from comments being stored, in the same transaction.

    THE place that knows "these comments were just stored, each ``published`` or ``held``", for
    every way a remote comment arrives (inbox, batch, crawler, ancestors, waiting replies).  Hook
    here what must follow a stored comment (notifications, webhooks...) as database writes in this
    transaction (rows a worker sends later); never network I/O.  ``roots``: the threads' roots by id.
    """
    if not stored:
        return
    shown = [comment for comment in stored if comment.shown]
    per_parent = Counter(c.parent_id for c in shown if counts_as_reply(c.visibility))
    await db.add_reply_counts(session, dict(per_parent))
    await notifications.notify_new_comments(session, [c.columns() for c in stored], host=node.settings.host)
    await _announce(node, session, [c for c in shown if is_announced(roots.get(c.root_id), c.visibility)])
    if node.crawler is not None:  # read the threads' remote collections soon
        await node.crawler.schedule_many([c.root_id for c in stored if c.root_id in roots], session=session)
    from node.api.webhooks import queue_comments  # here, not at the top: webhooks read threads as the API does

    await queue_comments(node, session, [c.id for c in stored])


async def _announce(node: "Node", session: AsyncSession, announced: list[StoredComment]) -> None:
    """The site Group announces each new public comment of our threads to its followers (FEP-1b12)."""
    if not announced:
        return
    site = await queries.get_local_actor(session, node.settings.site_username)
    if site is None:
        return
    inboxes = await outbox.follower_inboxes(session, [site.id])
    if inboxes:
        await outbox.enqueue_many(session, [group_announce(node, site, c.ap_id, c.activity) for c in announced],
                                  signer=site.username, inboxes=inboxes)


async def _attach_waiting(node: "Node", session: AsyncSession, parents: list[StoredComment]) -> None:
    """Store the replies that arrived before their parents (among ``parents``) did, and theirs in turn."""
    budget = MAX_PENDING_ATTACH
    while parents and budget > 0:
        by_ap_id = {parent.ap_id: parent for parent in parents}
        waiting = await db.take_pending(session, list(by_ap_id), budget)
        budget -= len(waiting)
        held = await db.posts_by_ap_id(session, {pending.ap_id for pending in waiting})
        authors = await db.actor_ids(session, {pending.actor_ap_id for pending in waiting})
        items, seen = [], set()
        for pending in waiting:
            if pending.ap_id in held or pending.ap_id in seen or pending.actor_ap_id not in authors:
                continue  # stored meanwhile, or its author is gone
            seen.add(pending.ap_id)
            items.append(NewComment(pending.raw, authors[pending.actor_ap_id], by_ap_id[pending.in_reply_to]))
        parents = [r.comment for r in await _store_level(node, session, items) if r.comment is not None]


# --- one reply, and a run of plain ones ----------------------------------------------------------


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
    parent: Any = anchor
    for ancestor in ancestors:
        try:
            ancestor_author = await author_of(fetcher, session, ancestor)
        except (FetchError, InvalidDocument, OriginMismatch) as exc:
            await park(session, document, author.ap_id)
            return Outcome.waiting(f"waiting for an ancestor's author ({exc.reason})")
        held = await queries.get_object(session, ancestor["id"])
        if held is not None:
            parent = held
            continue
        [result] = await store_comments(node, session, [NewComment(ancestor, ancestor_author.id, parent)])
        if result.comment is None:
            return Outcome.ignored(f"an ancestor was {REJECTED}")
        parent = result.comment
    [result] = await store_comments(node, session, [NewComment(document, author.id, parent, activity)])
    return result.outcome()


def is_plain_reply(activity: Any, actor_ap_id: str) -> bool:
    """A ``Create`` with its reply embedded, written by the activity's actor: what ``take_plain_replies`` takes."""
    if not isinstance(activity, dict) or activity.get("type") != "Create":
        return False
    document = activity.get("object")
    return (
        isinstance(document, dict)
        and isinstance(document.get("id"), str)
        and document.get("type") in COMMENT_TYPES
        and get_id(document.get("attributedTo")) == actor_ap_id
        and in_reply_to(document) is not None
    )


async def take_plain_replies(node: "Node", session: AsyncSession, rows: Sequence[Any]) -> dict[int, Outcome]:
    """``take_reply`` for a run of plain replies (activity rows with ``id``, ``raw``, ``actor_ap_id``) at once.

    The bulk of a busy inbox: a reply by an actor we know to a post we hold.  Their parents,
    authors and tombstones are read with one query each and all are stored by one
    ``store_comments``.  Returns the outcome of each row it settled; a row missing from the
    result needs more (a parent to fetch, an unknown author, a parent in this same run) and is
    for ``take_reply``."""
    documents = {row.id: row.raw["object"] for row in rows}
    post_ids = {document["id"] for document in documents.values()}
    held = await db.posts_by_ap_id(session, post_ids | {in_reply_to(d) for d in documents.values()})
    deleted = await db.tombstoned(session, post_ids)
    authors = await db.actor_ids(session, {row.actor_ap_id for row in rows})
    outcomes: dict[int, Outcome] = {}
    taking: list[tuple[int, NewComment]] = []
    taken: set[str] = set()
    for row in rows:
        document = documents[row.id]
        if document["id"] in held or document["id"] in taken:
            outcomes[row.id] = Outcome.ignored(ALREADY_STORED)
        elif document["id"] in deleted:
            outcomes[row.id] = Outcome.ignored(DELETED_BEFORE)
        elif (parent := held.get(in_reply_to(document))) is not None and row.actor_ap_id in authors:
            taking.append((row.id, NewComment(document, authors[row.actor_ap_id], parent, row.raw)))
            taken.add(document["id"])
    results = await store_comments(node, session, [item for _, item in taking])
    for (row_id, _), result in zip(taking, results):
        outcomes[row_id] = result.outcome()
    return outcomes


# --- the rules of a comment (pure) ---------------------------------------------------------------


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


# --- resolving a reply's thread -----------------------------------------------------------------


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
        if await db.is_tombstoned(session, parent_id):
            return None, [], "its parent was deleted"
        parent = await fetcher.get_activitypub(parent_id)
        if parent.get("type") not in COMMENT_TYPES:
            return None, [], "its parent is not a post"
        chain.append(parent)
        parent_id = in_reply_to(parent)
    return None, [], f"more than {MAX_CHAIN} unknown ancestors"


async def is_tombstoned(session: AsyncSession, ap_id: str) -> bool:
    """Whether this URI was deleted (held or not): it must never come back."""
    if await db.is_tombstoned(session, ap_id):
        return True
    held = await queries.get_object(session, ap_id)
    return held is not None and held.deleted_at is not None


async def park(session: AsyncSession, document: dict[str, Any], actor_ap_id: str) -> None:
    """Keep a reply whose parent could not be fetched yet, keyed by the parent it waits for."""
    await db.park(session, document["id"], in_reply_to(document) or "", actor_ap_id, document)


async def forget_pending_of(session: AsyncSession, actor_ap_id: str) -> None:
    """Drop the parked replies of an actor (it was deleted)."""
    await db.forget_pending_of(session, actor_ap_id)
