"""What a member does, as the fediverse sees it: comment, edit, delete, like, boost, and their undoing.

Every function here is one transaction: the change, the activity that tells other servers about
it and one delivery row per inbox (``node.federation.outbox``) commit together, so a comment is
never stored without its ``Create`` queued and nothing is sent for a change that did not commit.
Nothing here touches the network; the delivery worker signs and sends after the commit, with the
member's own key (each member is a local ``Person`` actor with a key pair in ``keys_dir``).

**A member's comment** is a ``Note`` (``comment_to_ap``) that
- inherits its thread's ``context`` (FEP-7888; FEP-11dd: from the thread's root, none if it has none);
- is addressed, as FEP-11dd asks of a reply in a context owned elsewhere, to the parent's author
  and to the thread's owner (the root's author, and the community or Group the root names in
  ``audience``): ``to`` Public (or the member's followers only), ``cc`` the member's followers and
  those actors, with a ``Mention`` of the parent's author in ``tag``;
- is delivered to those actors' inboxes and to the member's followers' (shared inboxes collapse);
- goes through the moderation policy (``node.moderation.decide``) like a remote reply: a rejection
  is refused (``PostingRefused``), a held comment is stored, shown to nobody and sent nowhere until
  a moderator approves it (``deliver_approved``), and a published one on a local thread is announced
  by the site Group to its followers (FEP-1b12), exactly as for remote replies.

Edits send ``Update`` (the earlier version is kept as a revision, the page shows "edited"),
deletions send ``Delete`` with a ``Tombstone`` (a "[deleted]" placeholder keeps the replies in
place), both to the same recipients, and the Group passes them on when it had announced the comment.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from node.content import render_markdown_for_fediverse
from node.db import actor_documents, members, notifications
from node.db import posting as db
from node.db import queries
from node.db.models import Activity, Actor, Object, Reaction, Revision
from node.db.states import ActivityState
from node.db.types import utcnow
from node.federation import comments, outbox
from node.federation.convert import comment_to_ap, create_to_ap, iso
from node.federation.handlers.threads import placeholder
from node.federation.vocab import PUBLIC, PUBLIC_FORMS, as_list, get_id
from node.federation.actor_updates import actor_update, document_hash, local_actor_document
from node.members.roles import MemberStatus
from node.moderation.decide import judge_one, moderation_state
from node.moderation.policy import Verdict

if TYPE_CHECKING:
    from node.app import Node

MAX_MARKDOWN = 20_000  # characters of Markdown in one comment (Discourse's default post length is 32,000)
VISIBILITIES = ("public", "followers")
COUNTERS = {"like": "likes_count", "announce": "announces_count"}  # the post's column each reaction counts in

# What a member reads when the policy refuses a comment, by the rule that refused it.
REFUSALS = {
    "banned": "you are banned from commenting here",
    "suspended": "your server is suspended here",
    "locked": "this thread is locked: nobody can reply to it any more",
    "followers-only": "only followers of the site or of the article's author may reply to this article",
}


class PostingRefused(Exception):
    """A member's action that is not allowed: ``message`` says why, ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --- who and what ---------------------------------------------------------------------------------

async def _member(session: AsyncSession, actor_id: int) -> Actor:
    """The member's local Person actor; refused when there is none, it left, or its account may not act."""
    actor = await db.get_actor_by_id(session, actor_id)
    if actor is None or not actor.is_local or actor.ap_type != "Person":
        raise PostingRefused("no such member here", 403)
    if actor.deleted_at is not None:
        raise PostingRefused("this account was deleted", 403)
    account = await members.get_member_by_actor(session, actor.id)
    # A local author made with `fednode author add` has no account; an account must be active.
    if account is not None and account.status != MemberStatus.ACTIVE:
        raise PostingRefused(f"your account is {account.status}", 403)
    return actor


def _text(markdown: Any) -> str:
    if not isinstance(markdown, str) or not markdown.strip():
        raise PostingRefused("the comment is empty", 400)
    if len(markdown) > MAX_MARKDOWN:
        raise PostingRefused(f"the comment is longer than {MAX_MARKDOWN} characters", 413)
    return markdown.strip()


async def _own_comment(session: AsyncSession, member: Actor, ref: int | str) -> Object:
    """The member's own live comment ``ref`` (row id or ActivityPub id)."""
    comment = await db.get_object_by_row_or_ap_id(session, ref)
    if comment is None or comment.kind != "comment":
        raise PostingRefused("there is no such comment", 404)
    if comment.actor_id != member.id:
        raise PostingRefused("you can only change your own comments", 403)
    if comment.deleted_at is not None:
        raise PostingRefused("this comment was deleted", 410)
    if comment.moderation in ("removed", "rejected"):
        raise PostingRefused(f"this comment was {comment.moderation} by the moderators", 403)
    return comment


async def _root_of(session: AsyncSession, parent: Object) -> Object | None:
    root_id = comments.thread_root_id(parent)
    return parent if root_id == parent.id else await queries.get_object_by_id(session, root_id) if root_id else None


def _edit_time(now: datetime, previous: datetime) -> datetime:
    """Strictly after ``previous`` at whole seconds: Mastodon applies an edit only when ``updated`` is newer."""
    return max(now, previous.replace(microsecond=0) + timedelta(seconds=1))


# --- addressing -----------------------------------------------------------------------------------

async def _owners(session: AsyncSession, root: Object) -> list[str]:
    """Who owns the thread (FEP-11dd): the root's author, and the Group or community its ``audience`` names."""
    owners = [root.actor.ap_id]
    raw = root.raw if isinstance(root.raw, dict) and not root.is_local else {}
    for audience in as_list(raw.get("audience")):
        ident = get_id(audience)
        if ident and ident not in owners and ident not in PUBLIC_FORMS:
            held = await queries.get_actor(session, ident)
            if held is not None:  # an actor (not a collection) we know: Lemmy's community, another node's Group
                owners.append(ident)
    return owners


def _addressing(member: Actor, visibility: str, parent_author: Actor, owners: Iterable[str],
                mentioned: Iterable[Actor] = ()) -> dict[str, Any]:
    """``to``, ``cc`` and ``tag`` of a member's reply (FEP-11dd, as Mastodon addresses a reply): the
    parent's author, the thread's owners and whoever the text mentions by handle are addressed; the
    parent's author and the mentioned are ``Mention``s."""
    named = [a for a in [parent_author, *mentioned] if a.ap_id != member.ap_id]
    addressed = [a for a in dict.fromkeys([parent_author.ap_id, *owners, *(a.ap_id for a in named)])
                 if a != member.ap_id]
    to = [PUBLIC] if visibility == "public" else [member.followers]
    cc = ([member.followers] if visibility == "public" else []) + addressed
    tag = [{"type": "Mention", "href": a.ap_id, "name": f"@{a.handle}"}
           for a in {a.ap_id: a for a in named}.values()]
    return {"to": to, "cc": cc, "tag": tag}


# "@name@host" (or "@name" for someone on this node) in a member's Markdown, as Mastodon finds mentions.
MENTION = re.compile(r"(?<![\w@/])@([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})(?:@([A-Za-z0-9.-]+(?::\d+)?))?")
MAX_MENTIONS = 10  # actors a comment can address by mentioning them (Pleroma's and Mastodon's limits are higher)


async def _mentioned(session: AsyncSession, text: str, host: str) -> list[Actor]:
    """The actors a member's text names as ``@name@host`` (or ``@name`` here), among those this node knows.

    Nothing is looked up on the network: this runs inside the comment's transaction.
    """
    found: list[Actor] = []
    for match in MENTION.finditer(text):
        name, domain = match.group(1).rstrip(".-"), (match.group(2) or host).lower().rstrip(".")
        actor = await db.find_actor_by_handle(session, name, domain)
        if actor is not None and actor.ap_type != "Application" and actor not in found:
            found.append(actor)
        if len(found) >= MAX_MENTIONS:
            break
    return found


async def _recipients(session: AsyncSession, member: Actor, document: dict[str, Any]) -> list[str]:
    """The inboxes of a member's comment: each remote actor it is addressed to, and the member's followers."""
    inboxes = set(await outbox.follower_inboxes(session, [member.id]))
    for ident in dict.fromkeys(get_id(x) for x in as_list(document.get("to")) + as_list(document.get("cc"))):
        if not ident or ident in PUBLIC_FORMS or ident == member.followers:
            continue
        actor = await queries.get_actor(session, ident)
        if actor is not None and not actor.is_local:
            inbox = outbox.preferred_inbox(actor)
            if inbox:
                inboxes.add(inbox)
    return sorted(inboxes)


async def _send(node: "Node", session: AsyncSession, member: Actor, document: dict[str, Any],
                inboxes: Iterable[str]) -> dict[str, Any]:
    """Record ``document`` (an activity by ``member``) as sent, served at its id, and queue it for ``inboxes``."""
    session.add(Activity(
        ap_id=document["id"], ap_type=document["type"], is_local=True, actor_ap_id=member.ap_id,
        object_ap_id=get_id(document.get("object")), status=ActivityState.SENT, raw=document, created_at=utcnow(),
    ))
    await session.flush()
    await outbox.enqueue(session, document, signer=member.username, inboxes=inboxes)
    return document


async def _site(node: "Node", session: AsyncSession) -> Actor:
    site = await queries.get_local_actor(session, node.settings.site_username)
    if site is None:
        raise PostingRefused("the site is not set up yet", 503)
    return site


async def _note(node: "Node", session: AsyncSession, comment: Object, member: Actor) -> dict[str, Any]:
    return comment_to_ap(comment, member, await _site(node, session), node.urls)


async def _was_announced(session: AsyncSession, comment: Object) -> bool:
    """Whether the site Group announced this comment (a shown, public comment of a local thread)."""
    if comment.moderation != "published" or comment.root_id is None:
        return False
    return comments.is_announced(await queries.get_object_by_id(session, comment.root_id), comment.visibility)


# --- comments -------------------------------------------------------------------------------------

async def post_comment(node: "Node", actor_id: int, parent_ap_id: str, markdown: str,
                       visibility: str = "public") -> Object:
    """Reply as the member ``actor_id`` to ``parent_ap_id`` (an article or comment this node holds).

    Returns the stored comment (``moderation`` says whether it is shown or held).  Raises
    ``PostingRefused`` for an empty or too long text, an unknown, deleted or hidden parent, a
    locked or closed thread, a banned member, or anything else the moderation policy rejects.
    """
    text = _text(markdown)
    if visibility not in VISIBILITIES:
        raise PostingRefused("visibility must be public or followers", 400)
    html = render_markdown_for_fediverse(text)
    async with node.sessions.begin() as session:
        member = await _member(session, actor_id)
        parent = await queries.get_object(session, parent_ap_id) if isinstance(parent_ap_id, str) else None
        if (parent is None or parent.deleted_at is not None or parent.moderation != "published"
                or parent.visibility not in ("public", "unlisted")):
            raise PostingRefused("there is no such post to reply to", 404)
        root = await _root_of(session, parent)
        if root is None or root.deleted_at is not None:
            raise PostingRefused("this thread was deleted", 410)
        site = await _site(node, session)
        now = utcnow()
        sent = _addressing(member, visibility, parent.actor, await _owners(session, root),
                           await _mentioned(session, text, node.settings.host))
        sent["audience"] = site.ap_id if root.is_local else (get_id((root.raw or {}).get("audience"))
                                                              if isinstance(root.raw, dict) else None)
        comment = Object(
            ap_id=f"urn:uuid:{uuid.uuid4()}", ap_type="Note", kind="comment", is_local=True, actor_id=member.id,
            content=html, source=text, in_reply_to=parent.ap_id, parent_id=parent.id, root_id=root.id,
            context=root.context, visibility=visibility, published=now, created_at=now, raw=sent,
            replies_count=0, likes_count=0, announces_count=0,
        )
        comment.actor = member
        # Judged before it is stored, as a remote reply is: the rate rules count the member's
        # earlier comments, not this one.
        provisional = comment_to_ap(comment, member, site, node.urls)
        judgement = await judge_one(node, session, provisional, member.id, parent, root, html)
        if judgement.verdict is Verdict.REJECT:
            raise PostingRefused(REFUSALS.get(judgement.rule or "", judgement.reason or "refused"), 403)
        comment.moderation = moderation_state(judgement)
        session.add(comment)
        await session.flush()
        # A local comment's id is its row's URL (/comments/<n>), known once the row exists.
        comment.ap_id = comment.url = node.urls.comment(comment.id)
        if judgement.verdict is Verdict.HOLD:
            await db.retarget_log(session, provisional["id"], comment.ap_id)
        document = comment_to_ap(comment, member, site, node.urls)
        comment.raw = {**document, **sent}
        if judgement.shown:
            if comments.counts_as_reply(visibility):
                parent.replies_count += 1
            await _deliver_create(node, session, member, comment, document)
        # Replies, mentions and followed threads notify members here, as for a remote reply.
        await notifications.notify_new_comments(session, [notifications.comment_columns(comment)],
                                                host=node.settings.host)
        from node.api.webhooks import queue_comments  # the site owner's webhooks, as for a remote comment

        await queue_comments(node, session, [comment.id])
    node.wake_delivery()
    return comment


async def _deliver_create(node: "Node", session: AsyncSession, member: Actor, comment: Object,
                          document: dict[str, Any]) -> int:
    """Queue the member's ``Create`` of a shown comment, and the Group's announce of it; how many rows."""
    create = Activity(ap_id=outbox.new_activity_id(node.urls), actor_ap_id=member.ap_id)
    activity = create_to_ap(create, document)
    inboxes = await _recipients(session, member, document)
    await _send(node, session, member, activity, inboxes)
    root = await queries.get_object_by_id(session, comment.root_id) if comment.root_id else None
    if comments.is_announced(root, comment.visibility):
        await comments.announce_to_group_followers(node, session, comment, activity)
    return len(inboxes)


async def deliver_approved(node: "Node", session: AsyncSession, comment: Object) -> int | None:
    """A moderator showed a member's held comment: queue its ``Create`` and the Group's announce now.

    Returns how many inboxes get the ``Create``, or None when it had been sent already (a removed
    comment restored): then the caller has the Group announce it again, as for a remote comment.
    """
    member = comment.actor
    if await db.sent_activity(session, member.ap_id, "Create", comment.ap_id) is not None:
        return None
    return await _deliver_create(node, session, member, comment, await _note(node, session, comment, member))


async def edit_comment(node: "Node", actor_id: int, object_id: int | str, markdown: str) -> Object:
    """Replace the text of the member's own comment ``object_id`` (row id or ActivityPub id).

    The earlier version is kept as a revision and the comment shows as edited; a shown comment's
    recipients get an ``Update`` (and the Group passes it on if it had announced the comment).
    The same text again changes nothing.
    """
    text = _text(markdown)
    html = render_markdown_for_fediverse(text)
    async with node.sessions.begin() as session:
        member = await _member(session, actor_id)
        comment = await _own_comment(session, member, object_id)
        if comment.source == text:
            return comment
        now = utcnow()
        session.add(Revision(object_id=comment.id, name=comment.name, content=comment.content,
                             updated=comment.updated or comment.published, raw=comment.raw, created_at=now))
        comment.source = text
        comment.content = html
        comment.updated = _edit_time(now, comment.updated or comment.published)
        document = await _note(node, session, comment, member)
        comment.raw = {**(comment.raw or {}), **document}
        if comment.moderation == "published":
            update = {**create_to_ap(Activity(ap_id=outbox.new_activity_id(node.urls), actor_ap_id=member.ap_id),
                                     document), "type": "Update", "published": iso(comment.updated)}
            await _send(node, session, member, update, await _recipients(session, member, document))
            if await _was_announced(session, comment):
                await comments.announce_to_group_followers(node, session, comment, update)
    node.wake_delivery()
    return comment


async def delete_comment(node: "Node", actor_id: int, object_id: int | str) -> Object:
    """Delete the member's own comment: a "[deleted]" placeholder keeps its replies in place, its URL
    answers 410 with a ``Tombstone``, and whoever got it gets a ``Delete``."""
    async with node.sessions.begin() as session:
        member = await _member(session, actor_id)
        comment = await _own_comment(session, member, object_id)
        await _delete(node, session, member, comment)
    node.wake_delivery()
    return comment


async def _delete(node: "Node", session: AsyncSession, member: Actor, comment: Object) -> None:
    """Blank ``comment`` and tell whoever got it (its recipients, and the Group's followers if it announced it)."""
    was_sent = comment.moderation == "published"
    was_announced = await _was_announced(session, comment)
    addressed = dict(comment.raw or {})
    await placeholder(session, comment)
    await db.forget_revisions_of_object(session, comment.id)  # its earlier versions go with it, as on Mastodon
    if not was_sent:
        return  # held: nobody else ever saw it
    delete = {
        "id": outbox.new_activity_id(node.urls), "type": "Delete", "actor": member.ap_id,
        "object": {"id": comment.ap_id, "type": "Tombstone", "formerType": "Note", "deleted": iso(comment.deleted_at)},
        "to": addressed.get("to", [PUBLIC]), "cc": addressed.get("cc", []),
    }
    await _send(node, session, member, delete, await _recipients(session, member, addressed))
    if was_announced:
        await comments.announce_to_group_followers(node, session, comment, delete)


# --- likes and boosts -----------------------------------------------------------------------------

async def _shown_target(session: AsyncSession, ref: int | str) -> Object:
    """An article or comment anyone can see here (not deleted, not held, public or unlisted)."""
    target = await db.get_object_by_row_or_ap_id(session, ref)
    if (target is None or target.deleted_at is not None or target.moderation != "published"
            or target.visibility not in ("public", "unlisted")):
        raise PostingRefused("there is no such post", 404)
    return target


async def _reaction_inboxes(session: AsyncSession, member: Actor, target: Object, *, followers: bool) -> list[str]:
    """Who hears of a like or boost: the post's author and its thread's owners (Lemmy counts votes in the
    community), and for a boost the member's followers too."""
    inboxes = set(await outbox.follower_inboxes(session, [member.id])) if followers else set()
    root = await _root_of(session, target) if target.kind == "comment" else target
    for ident in [target.actor.ap_id, *(await _owners(session, root) if root is not None else [])]:
        actor = await queries.get_actor(session, ident)
        if actor is not None and not actor.is_local and outbox.preferred_inbox(actor):
            inboxes.add(outbox.preferred_inbox(actor))
    return sorted(inboxes)


async def _react(node: "Node", actor_id: int, ref: int | str, kind: str) -> Object:
    """Like (``like``) or boost (``announce``) ``ref`` once; doing it again changes nothing."""
    async with node.sessions.begin() as session:
        member = await _member(session, actor_id)
        target = await _shown_target(session, ref)
        if kind == "announce" and target.visibility != "public":
            raise PostingRefused("only public posts can be boosted", 403)
        if await db.get_reaction(session, kind, member.id, target.id) is None:
            activity: dict[str, Any] = {"id": outbox.new_activity_id(node.urls), "actor": member.ap_id,
                                        "object": target.ap_id}
            if kind == "like":
                # Mastodon's Like: to the post's author only.
                activity |= {"type": "Like", "to": [target.actor.ap_id]}
            else:
                # Mastodon's Announce: public, cc the post's author and the booster's followers.
                activity |= {"type": "Announce", "to": [PUBLIC], "cc": [target.actor.ap_id, member.followers],
                             "published": iso(utcnow())}
            session.add(Reaction(ap_id=activity["id"], kind=kind, actor_id=member.id, object_id=target.id))
            await db.add_to_count(session, target.id, COUNTERS[kind], 1)
            await _send(node, session, member, activity,
                        await _reaction_inboxes(session, member, target, followers=kind == "announce"))
            await session.refresh(target)
    node.wake_delivery()
    return target


async def _unreact(node: "Node", actor_id: int, ref: int | str, kind: str) -> Object:
    """Take back a like or boost with ``Undo`` embedding it; nothing to take back changes nothing."""
    async with node.sessions.begin() as session:
        member = await _member(session, actor_id)
        target = await db.get_object_by_row_or_ap_id(session, ref)
        if target is None:
            raise PostingRefused("there is no such post", 404)
        reaction = await db.get_reaction(session, kind, member.id, target.id)
        if reaction is not None:
            sent = await queries.get_activity(session, reaction.ap_id)
            undone = {k: v for k, v in (sent.raw if sent is not None else {"id": reaction.ap_id}).items()
                      if k != "@context"}
            undo = {"id": outbox.new_activity_id(node.urls), "type": "Undo", "actor": member.ap_id,
                    "object": undone, "to": undone.get("to", []), "cc": undone.get("cc", [])}
            await session.delete(reaction)
            await db.add_to_count(session, target.id, COUNTERS[kind], -1)
            await _send(node, session, member, undo,
                        await _reaction_inboxes(session, member, target, followers=kind == "announce"))
            await session.refresh(target)
    node.wake_delivery()
    return target


async def like(node: "Node", actor_id: int, object_id: int | str) -> Object:
    """The member likes a post (``Like`` to its author); returns the post with its new count."""
    return await _react(node, actor_id, object_id, "like")


async def unlike(node: "Node", actor_id: int, object_id: int | str) -> Object:
    """The member takes back a like (``Undo`` of the ``Like``)."""
    return await _unreact(node, actor_id, object_id, "like")


async def boost(node: "Node", actor_id: int, object_id: int | str) -> Object:
    """The member boosts a public post (``Announce`` to its author and the member's followers)."""
    return await _react(node, actor_id, object_id, "announce")


async def unboost(node: "Node", actor_id: int, object_id: int | str) -> Object:
    """The member takes back a boost (``Undo`` of the ``Announce``)."""
    return await _unreact(node, actor_id, object_id, "announce")


async def reactions_of(node: "Node", actor_id: int, object_ids: Iterable[int]) -> dict[int, set[str]]:
    """Which of these posts (row ids) the member liked or boosted: {object id: {"like", "announce"}}."""
    async with node.sessions() as session:
        return await db.reactions_on(session, actor_id, list(object_ids))


# --- the account ----------------------------------------------------------------------------------

async def send_profile_update(node: "Node", actor_id: int) -> int:
    """Tell the member's followers their profile changed (name, bio, avatar): an ``Update`` of the Person
    with its whole document, as Mastodon sends.  Returns how many inboxes; 0 when nothing they hold changed."""
    async with node.sessions.begin() as session:
        member = await _member(session, actor_id)
        document = await local_actor_document(node, session, member)
        digest = document_hash(document)
        if digest == member.sent_document_hash:
            return 0
        # The same compare-and-set as at start-up (federation.actor_updates): sent once, whoever is first.
        if not await actor_documents.claim_document_hash(session, member.id, member.sent_document_hash, digest):
            return 0
        inboxes = await outbox.follower_inboxes(session, [member.id])
        await _send(node, session, member, actor_update(node, member, document), inboxes)
    node.wake_delivery()
    return len(inboxes)


async def delete_account(node: "Node", actor_id: int) -> int:
    """Delete the member's account, as Mastodon does, and tell everyone who should know.

    - A ``Delete`` whose object is the actor goes, signed with the member's key, to the servers of
      their followers, of the site Group's followers (who hold the comments the Group announced) and
      of everyone anything they sent reached (one request per server where a shared inbox is known).
      Servers drop a deleted actor's posts on it (Mastodon, and this node too), so no ``Delete`` per
      comment is sent.
    - Here, each of their comments becomes a "[deleted]" placeholder (the replies keep their place),
      the earlier versions of their comments are forgotten, their likes and boosts are taken back
      from the counts, their follows, notifications, followed threads and avatar are removed, and
      the account (e-mail, password, sessions) is deleted.  Articles and link threads they opened
      stay: they are the site's discussions of those pages, and an admin can delete them.
    - The actor row stays with ``deleted_at``: the name is never given to anyone else, the id keeps
      answering (a stub with the key, so the ``Delete`` can be checked), the profile page answers 410.

    Returns how many inboxes get the ``Delete``.
    """
    async with node.sessions.begin() as session:
        member = await _member(session, actor_id)
        site = await _site(node, session)
        known = set(await outbox.follower_inboxes(session, [member.id, site.id]))
        known |= set(await db.inboxes_signed_by(session, member.username))
        inboxes = await db.collapse_to_shared_inboxes(session, known)
        for post in await db.list_live_posts_of(session, member.id):
            if post.kind == "comment":
                await placeholder(session, post)
        await db.forget_revisions_of(session, member.id)
        for reaction in await db.list_reactions_of(session, member.id):
            await db.add_to_count(session, reaction.object_id, COUNTERS[reaction.kind], -1)
            await session.delete(reaction)
        for follow in await db.list_follows_of(session, member.id):
            await session.delete(follow)
        await db.forget_account(session, member.id)
        member.deleted_at = utcnow()
        member.name, member.summary = None, None
        delete = {"id": outbox.new_activity_id(node.urls), "type": "Delete", "actor": member.ap_id,
                  "object": member.ap_id, "to": [PUBLIC], "cc": [member.followers]}
        await _send(node, session, member, delete, inboxes)
    node.wake_delivery()
    return len(inboxes)
