"""What moderators do, each decision logged and federated.

One function per action, each taking the session of the caller's transaction
(the CLI's today, the web admin's later) and queueing what the decision owes
the fediverse in that same transaction:

* approve: the comment is shown, the site Group announces it (FEP-1b12), and
  its author counts as trusted from now on (``policy.first-comments``);
* reject: it stays hidden and its author's server gets the Group's ``Reject``;
* remove: a "removed by moderators" placeholder keeps its replies attached;
  if the Group had announced it, followers get ``Undo`` of that ``Announce``
  (Mastodon drops the boost) and the Group's ``Delete`` with the reason as
  ``summary`` (FEP-1b12 and Lemmy's moderator removal); restore undoes that;
* lock/unlock a thread, set an article's reply policy;
* ban an actor (optionally removing its comments), with an expiry;
* block a domain: ``silence`` holds its new comments, ``suspend`` refuses
  them, hides its existing comments and severs follows; lifting a suspension
  shows those comments again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from node.db import moderation as db
from node.db import notifications
from node.db import queries
from node.db.models import Actor, Object
from node.db.types import utcnow
from node.errors import NodeError
from node.federation import comments, outbox
from node.moderation.decide import send_reject

if TYPE_CHECKING:
    from node.app import Node
    from node.moderation.blocklist import Plan

SEVERITIES = ("silence", "suspend")
from node.content import REPLY_POLICIES  # noqa: E402  (one list: front matter and CLI)


class ModerationError(NodeError):
    """A moderator's request that cannot be carried out (unknown comment, wrong state...)."""


@dataclass(frozen=True)
class Outcome:
    """What an action did, for the CLI (and later the web admin) to say."""

    summary: str
    deliveries: int = 0


# --- finding what to act on ---------------------------------------------------------------------

async def find_comment(session: AsyncSession, ref: str) -> Object:
    """A comment by its row number (as ``fednode mod queue`` shows it) or its ActivityPub id or URL."""
    comment = None
    if ref.isdigit():
        comment = await queries.get_object_by_id(session, int(ref))
    else:
        comment = await queries.get_object(session, ref) or await db.object_by_url(session, ref, kind="comment")
    if comment is None or comment.kind != "comment":
        raise ModerationError(f"no comment {ref!r} (a number from `fednode mod queue`, or its URL)")
    return comment


async def find_thread(session: AsyncSession, ref: str) -> Object:
    """An article by its slug or URL, or a comment (a sub-thread) by number or URL."""
    found = await queries.get_article_by_slug(session, ref)
    if found is None and not ref.isdigit():
        found = await queries.get_object(session, ref) or await db.object_by_url(session, ref)
    if found is None and ref.isdigit():
        found = await queries.get_object_by_id(session, int(ref))
    if found is None:
        raise ModerationError(f"no article or comment {ref!r}")
    return found


async def find_actor(session: AsyncSession, ref: str) -> str:
    """An actor id from an id, or a handle (``@user@host``) of an actor we know."""
    if ref.startswith(("https://", "http://")):
        return ref
    username, _, domain = ref.lstrip("@").partition("@")
    actor = await db.actor_by_handle(session, username, domain)
    if actor is None:
        raise ModerationError(f"no known actor {ref!r}; give its id (URL)")
    return actor.ap_id


def normalize_domain(domain: str) -> str:
    text = domain.strip().lower().rstrip(".")
    if not text or "/" in text or " " in text or text.startswith("*"):
        raise ModerationError(f"{domain!r} is not a domain name")
    return text


# --- comments -----------------------------------------------------------------------------------

async def _site(node: "Node", session: AsyncSession) -> Actor | None:
    return await queries.get_local_actor(session, node.settings.site_username)


async def _root(session: AsyncSession, comment: Object) -> Object | None:
    return await queries.get_object_by_id(session, comment.root_id) if comment.root_id else None


async def _received_create(session: AsyncSession, comment: Object) -> dict[str, Any] | None:
    """The ``Create`` that brought the comment, as received (the Group's Announce wraps it)."""
    row = await db.received_create(session, comment.ap_id)
    return row.raw if row is not None else None


async def _announce(node: "Node", session: AsyncSession, comment: Object) -> int:
    if comment.is_local and comment.deleted_at is None:
        # A member's held comment was sent nowhere: its own Create goes out now, with the Group's announce.
        from node.members.posting import deliver_approved

        sent = await deliver_approved(node, session, comment)
        if sent is not None:
            return sent
    root = await _root(session, comment)
    site = await _site(node, session)
    if site is None or not comments.is_announced(root, comment.visibility) or comment.deleted_at is not None:
        return 0
    announce = comments.group_announce(node, site, comment.ap_id, await _received_create(session, comment))
    return await outbox.deliver_to_followers(session, announce, signer=site.username, followed=[site])


async def _withdraw(node: "Node", session: AsyncSession, comment: Object, reason: str | None) -> int:
    """Tell the Group's followers a comment it announced is gone: Undo of each Announce, and a Delete."""
    site = await _site(node, session)
    if site is None:
        return 0
    create = await _received_create(session, comment)
    wrapped = [comment.ap_id] + ([create["id"]] if create and isinstance(create.get("id"), str) else [])
    announces = await db.announces_by(session, site.ap_id, wrapped)
    if not announces:
        return 0  # never announced (held, followers-only, a remote thread): nobody holds a copy through us
    sent = 0
    public = "https://www.w3.org/ns/activitystreams#Public"
    for announce in announces:
        undo = {"id": outbox.new_activity_id(node.urls), "type": "Undo", "actor": site.ap_id,
                "object": {k: v for k, v in announce.raw.items() if k != "@context"},
                "to": [public], "cc": [site.followers]}
        sent += await outbox.deliver_to_followers(session, undo, signer=site.username, followed=[site])
    delete = {"id": outbox.new_activity_id(node.urls), "type": "Delete", "actor": site.ap_id,
              "object": comment.ap_id, "to": [public], "cc": [site.followers], "audience": site.ap_id}
    if reason:
        delete["summary"] = reason
    sent += await outbox.deliver_to_followers(session, delete, signer=site.username, followed=[site])
    return sent


async def approve(node: "Node", session: AsyncSession, comment: Object, *, moderator: str,
                  reason: str | None = None) -> Outcome:
    """Show a held (or rejected) comment; the Group announces it; its author becomes trusted."""
    if comment.moderation not in ("held", "rejected"):
        raise ModerationError(f"comment {comment.id} is {comment.moderation}, not held")
    await db.set_state(session, comment, "published")
    db.log_entry(session, moderator=moderator, action="approve", target=comment.ap_id, reason=reason,
                 root_id=comment.root_id)
    await notifications.notify_decision(session, comment, "approve", reason=reason, host=node.settings.host)
    from node.api.webhooks import queue_comments  # site owners hear of it as of any new comment

    await queue_comments(node, session, [comment.id])
    sent = await _announce(node, session, comment)
    return Outcome(f"approved comment {comment.id}", sent)


async def reject(node: "Node", session: AsyncSession, comment: Object, *, moderator: str,
                 reason: str | None = None) -> Outcome:
    """Keep a held comment hidden for good; its author's server gets the Group's ``Reject``."""
    if comment.moderation != "held":
        raise ModerationError(f"comment {comment.id} is {comment.moderation}, not held")
    await db.set_state(session, comment, "rejected")
    db.log_entry(session, moderator=moderator, action="reject", target=comment.ap_id, reason=reason,
                 root_id=comment.root_id)
    await notifications.notify_decision(session, comment, "reject", reason=reason, host=node.settings.host)
    await send_reject(node, session, comment.ap_id, comment.in_reply_to, comment.actor)
    return Outcome(f"rejected comment {comment.id}", 1)


async def remove(node: "Node", session: AsyncSession, comment: Object, *, moderator: str,
                 reason: str | None = None) -> Outcome:
    """Replace a comment with a "removed by moderators" placeholder; withdraw the Group's announce."""
    if comment.moderation == "removed":
        raise ModerationError(f"comment {comment.id} is already removed")
    await db.set_state(session, comment, "removed")
    db.log_entry(session, moderator=moderator, action="remove", target=comment.ap_id, reason=reason,
                 root_id=comment.root_id)
    await notifications.notify_decision(session, comment, "remove", reason=reason, host=node.settings.host)
    sent = await _withdraw(node, session, comment, reason)
    return Outcome(f"removed comment {comment.id}", sent)


async def restore(node: "Node", session: AsyncSession, comment: Object, *, moderator: str,
                  reason: str | None = None) -> Outcome:
    """Show a removed comment again; the Group announces it again."""
    if comment.moderation != "removed":
        raise ModerationError(f"comment {comment.id} is {comment.moderation}, not removed")
    await db.set_state(session, comment, "published")
    db.log_entry(session, moderator=moderator, action="restore", target=comment.ap_id, reason=reason,
                 root_id=comment.root_id)
    await notifications.notify_decision(session, comment, "restore", reason=reason, host=node.settings.host)
    sent = await _announce(node, session, comment)
    return Outcome(f"restored comment {comment.id}", sent)


# --- threads and articles -----------------------------------------------------------------------

async def lock(session: AsyncSession, target: Object, locked: bool, *, moderator: str,
               reason: str | None = None) -> Outcome:
    """Lock (or unlock) an article's whole discussion, or the replies directly under a comment."""
    target.locked = locked
    db.log_entry(session, moderator=moderator, action="lock" if locked else "unlock", target=target.ap_id,
                 reason=reason, root_id=target.id if target.kind == "article" else target.root_id)
    return Outcome(f"{'locked' if locked else 'unlocked'} {target.kind} {target.slug or target.ap_id}")


async def set_reply_policy(session: AsyncSession, article: Object, policy: str, *, moderator: str,
                           close_at: datetime | None = None, reason: str | None = None) -> Outcome:
    """Who may reply to an article (open, followers, approval, closed) and when it closes."""
    if article.kind != "article":
        raise ModerationError("reply policies are set on articles")
    if policy not in REPLY_POLICIES:
        raise ModerationError(f"{policy!r} is not one of {', '.join(REPLY_POLICIES)}")
    article.reply_policy = None if policy == "open" else policy
    article.replies_close_at = close_at
    closing = f", closing {close_at:%Y-%m-%d %H:%M} UTC" if close_at else ""
    db.log_entry(session, moderator=moderator, action="replies", target=article.ap_id,
                 reason=f"{policy}{closing}" + (f": {reason}" if reason else ""), root_id=article.id)
    return Outcome(f"replies to {article.slug or article.ap_id}: {policy}{closing}")


# --- actors -------------------------------------------------------------------------------------

async def ban(node: "Node", session: AsyncSession, actor_ap_id: str, *, moderator: str, reason: str | None = None,
              expires_at: datetime | None = None, remove_comments: bool = False) -> Outcome:
    """Refuse an actor's activities (403 at the inbox) until ``expires_at``; optionally remove its comments."""
    await db.put_ban(session, actor_ap_id, moderator=moderator, reason=reason, expires_at=expires_at)
    until = f" until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""
    db.log_entry(session, moderator=moderator, action="ban", target=actor_ap_id, reason=(reason or "") + until or None)
    sent = removed = 0
    actor = await queries.get_actor(session, actor_ap_id)
    if remove_comments and actor is not None:
        for comment in await db.comments_of_actor(session, actor.id, ("published", "held", "suspended")):
            sent += (await remove(node, session, comment, moderator=moderator, reason=reason or "author banned")).deliveries
            removed += 1
    return Outcome(f"banned {actor_ap_id}{until}" + (f"; removed {removed} comment(s)" if removed else ""), sent)


async def unban(session: AsyncSession, actor_ap_id: str, *, moderator: str, reason: str | None = None) -> Outcome:
    if not await db.drop_ban(session, actor_ap_id):
        raise ModerationError(f"{actor_ap_id} is not banned")
    db.log_entry(session, moderator=moderator, action="unban", target=actor_ap_id, reason=reason)
    return Outcome(f"unbanned {actor_ap_id}")


# --- domains ------------------------------------------------------------------------------------

async def block_domain(session: AsyncSession, domain: str, severity: str, *, moderator: str,
                       reason: str | None = None, source: str = "cli", reject_media: bool = False,
                       reject_reports: bool = False, obfuscate: bool = False, log: bool = True) -> Outcome:
    """Block a domain (and its subdomains), retroactively: a suspension hides its comments and severs follows."""
    domain = normalize_domain(domain)
    if severity not in SEVERITIES:
        raise ModerationError(f"severity {severity!r} is not silence or suspend")
    before = await db.get_domain_block(session, domain)
    was = before.severity if before else None
    await db.put_domain_block(session, domain, severity, public_comment=reason, source=source,
                              reject_media=reject_media, reject_reports=reject_reports, obfuscate=obfuscate)
    hidden = severed = shown = 0
    if severity == "suspend":
        # Only shown comments are hidden: a held one is hidden already and stays in the queue, since
        # lifting the suspension shows every "suspended" comment again and must not skip the queue.
        for comment in await db.comments_of_domain(session, domain, ("published",)):
            await db.set_state(session, comment, "suspended")
            hidden += 1
        severed = await db.sever_follows_of_domain(session, domain)
    elif was == "suspend":
        shown = await _unsuspend(session, domain)
    if log:
        db.log_entry(session, moderator=moderator, action=f"block:{severity}", target=domain, reason=reason)
    parts = [f"{severity} {domain}"]
    if hidden:
        parts.append(f"{hidden} comment(s) hidden")
    if severed:
        parts.append(f"{severed} follow(s) severed")
    if shown:
        parts.append(f"{shown} comment(s) shown again")
    return Outcome("; ".join(parts))


async def _unsuspend(session: AsyncSession, domain: str) -> int:
    """Show again the comments a suspension of ``domain`` hid (unless another suspension still covers them)."""
    shown = 0
    suspended = {b.domain for b in await db.list_domain_blocks(session) if b.severity == "suspend"}
    for comment in await db.comments_of_domain(session, domain, ("suspended",)):
        host = comment.actor.domain.split(":")[0]
        if any(host == d or host.endswith("." + d) for d in suspended):
            continue
        await db.set_state(session, comment, "published")
        shown += 1
    return shown


async def unblock_domain(session: AsyncSession, domain: str, *, moderator: str, reason: str | None = None,
                         log: bool = True) -> Outcome:
    """Lift a domain block; a lifted suspension shows the comments it hid (follows stay severed)."""
    domain = normalize_domain(domain)
    block = await db.get_domain_block(session, domain)
    if block is None:
        raise ModerationError(f"{domain} is not blocked")
    await db.drop_domain_block(session, domain)
    shown = await _unsuspend(session, domain) if block.severity == "suspend" else 0
    if log:
        db.log_entry(session, moderator=moderator, action="unblock", target=domain, reason=reason)
    return Outcome(f"unblocked {domain}" + (f"; {shown} comment(s) shown again" if shown else ""))



# --- blocklists and reports ---------------------------------------------------------------------

async def import_blocklist(session: AsyncSession, entries, source: str, *, moderator: str,
                           apply: bool = True) -> "Plan":
    """Plan (and unless ``apply`` is False, carry out) the import of a parsed blocklist, in one transaction."""
    from node.moderation.blocklist import plan as plan_import

    plan = plan_import(entries, await db.list_domain_blocks(session), source)
    if not apply:
        return plan
    for entry in [*plan.add, *(entry for _, entry in plan.change)]:
        await block_domain(session, entry.domain, entry.severity, moderator=moderator, reason=entry.public_comment,
                           source=source, reject_media=entry.reject_media, reject_reports=entry.reject_reports,
                           obfuscate=entry.obfuscate, log=False)
    for domain in plan.retract:
        await unblock_domain(session, domain, moderator=moderator, log=False)
    db.log_entry(session, moderator=moderator, action="import", target=source,
                 reason=f"{len(plan.add)} added, {len(plan.change)} changed, {len(plan.retract)} lifted")
    return plan


async def resolve_report(session: AsyncSession, report_id: int, *, moderator: str, resolution: str,
                         node: "Node | None" = None, remove_posts: bool = False, ban_actor: bool = False) -> Outcome:
    """Close a report, saying what was done; optionally remove the reported posts we hold and ban their author."""
    report = await db.get_report(session, report_id)
    if report is None:
        raise ModerationError(f"no report {report_id}")
    if report.state == "resolved":
        raise ModerationError(f"report {report_id} is already resolved")
    done, sent = [], 0
    reason = f"report {report_id}: {report.content}" if report.content else f"report {report_id}"
    if remove_posts and node is not None:
        for ident in report.object_ap_ids or []:
            comment = await queries.get_object(session, ident)
            if comment is not None and comment.kind == "comment" and comment.moderation != "removed":
                sent += (await remove(node, session, comment, moderator=moderator, reason=reason)).deliveries
                done.append(f"removed comment {comment.id}")
    if ban_actor and node is not None and report.target_actor_ap_id:
        await ban(node, session, report.target_actor_ap_id, moderator=moderator, reason=reason)
        done.append(f"banned {report.target_actor_ap_id}")
    summary = "; ".join([resolution, *done]) if resolution != "no action" or not done else "; ".join(done)
    report.state, report.resolution, report.resolved_at = "resolved", summary, utcnow()
    db.log_entry(session, moderator=moderator, action="resolve", target=f"report {report_id}", reason=summary)
    return Outcome(f"resolved report {report_id}: {summary}", sent)


async def report_remote(node: "Node", session: AsyncSession, comment: Object, *, moderator: str,
                        reason: str | None = None) -> Outcome:
    """Report a remote comment to its origin server: a ``Flag`` in Mastodon's shape, signed by the instance actor.

    Mastodon's ``Flag``: ``actor`` the reporting server's instance actor (never the moderator, so
    the reporter stays anonymous), ``object`` the account then the reported post, ``content`` the
    comment; delivered to the reported account's inbox.
    """
    from node.urls import INSTANCE_ACTOR_USERNAME

    author = comment.actor
    if comment.is_local or author.is_local:
        raise ModerationError(f"comment {comment.id} was written here: there is no other server to tell")
    instance = await queries.get_local_actor(session, INSTANCE_ACTOR_USERNAME)
    if instance is None:
        raise ModerationError("the instance actor is missing: run `fednode init`")
    flag = {"id": outbox.new_activity_id(node.urls), "type": "Flag", "actor": instance.ap_id,
            "content": reason or "", "object": [author.ap_id, comment.ap_id]}
    sent = await outbox.deliver_to_actor(session, flag, signer=instance.username, actor=author)
    await db.add_report(session, ap_id=flag["id"], direction="out", reporter_ap_id=instance.ap_id,
                        target_actor_ap_id=author.ap_id, object_ap_ids=[comment.ap_id], content=reason,
                        raw=flag, state="resolved", resolution=f"sent to {author.domain} by {moderator}",
                        resolved_at=utcnow())
    db.log_entry(session, moderator=moderator, action="report", target=comment.ap_id, reason=reason,
                 root_id=comment.root_id)
    return Outcome(f"reported comment {comment.id} to {author.domain}", sent)
