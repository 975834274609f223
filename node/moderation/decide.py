"""The decide step: gather the facts about incoming comments, ask the policy, record what it said.

``judge_many`` is called by the store path just before comments are written
(``comments.store_comment`` for one, ``bulk_replies`` for a run), inside their
transaction: the facts are read with a fixed handful of queries per batch, the
pure ``Policy`` decides each, and the rule hits and the mod log lines for holds
and rejections are written in the same transaction.  A rejection that the
author's server should hear about (a locked thread, a closed article, a reply
policy not met) queues the site Group's ``Reject`` here too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import moderation as db
from node.db import queries
from node.db.models import Actor, ActorBan, DomainBlock, Follow
from node.db.types import utcnow
from node.federation import outbox
from node.federation.comments import html_of, parse_time
from node.moderation.policy import (Candidate, Judgement, Policy, Verdict, count_links, count_mentions,
                                    mention_hrefs, plain_text)

if TYPE_CHECKING:
    from node.app import Node

MODERATOR = "policy"  # who the mod log names for the policy's own decisions
STATE_OF = {Verdict.PUBLISH: "published", Verdict.HOLD: "held"}


@dataclass(frozen=True)
class Incoming:
    """One comment about to be stored: its document, author row id, parent and thread root (rows or Objects)."""

    document: dict[str, Any]
    author_id: int
    parent: Any
    root: Any | None


def policy_of(node: "Node") -> Policy:
    """The node's policy, compiled once from its settings."""
    policy = getattr(node, "policy", None)
    if policy is None:
        policy = Policy.from_settings(node.settings)
        try:
            node.policy = policy
        except AttributeError:  # a read-only stand-in for the node: compile again next time
            pass
    return policy


def parent_domains(domain: str) -> list[str]:
    """``a.b.example`` → ``a.b.example``, ``b.example``, ``example``: the blocks that can cover it."""
    host = domain.lower().split(":")[0]
    parts = host.split(".")
    return [".".join(parts[i:]) for i in range(len(parts))]


async def judge_many(node: "Node", session: AsyncSession, items: Sequence[Incoming]) -> list[Judgement]:
    """The verdict on each incoming comment, in order (later ones see the earlier ones counted)."""
    if not items:
        return []
    now = utcnow()
    authors = {a.id: a for a in (await session.scalars(
        select(Actor).where(Actor.id.in_({item.author_id for item in items})))).all()}
    domains = {a.domain for a in authors.values()}
    approved = await db.approved_counts(session, authors)
    seen = await db.seen_domains(session, domains)
    per_actor, per_domain = await db.recent_comment_counts(session, authors, domains, db.hours_ago(1))
    banned = set((await session.scalars(select(ActorBan.actor_ap_id).where(
        ActorBan.actor_ap_id.in_({a.ap_id for a in authors.values()}))
        .where((ActorBan.expires_at.is_(None)) | (ActorBan.expires_at > now)))).all())
    covering = {d: parent_domains(d) for d in domains}
    blocks = {b.domain: b.severity for b in (await session.scalars(select(DomainBlock).where(
        DomainBlock.domain.in_({p for parents in covering.values() for p in parents})))).all()}
    followers = await _followers_of_sites(node, session, items, authors)

    policy = policy_of(node)
    judgements = []
    per_actor, per_domain = Counter(per_actor), Counter(per_domain)
    for item in items:
        author = authors[item.author_id]
        document = item.document
        content = html_of(document)
        root = item.root
        severity = _strongest(blocks.get(p) for p in covering[author.domain])
        candidate = Candidate(
            actor_ap_id=author.ap_id, domain=author.domain, now=now,
            text=plain_text(document, content), mentions=count_mentions(document),
            links=count_links(content, mention_hrefs(document)),
            approved=approved.get(author.id, 0), instance_seen=author.domain in seen,
            actor_published=parse_time((author.raw or {}).get("published")),
            actor_followers=_followers_count(author.raw),
            banned=author.ap_id in banned, domain_severity=severity,
            thread_locked=bool(getattr(item.parent, "locked", False) or getattr(root, "locked", False)),
            reply_policy=(getattr(root, "reply_policy", None) or "open"),
            replies_close_at=getattr(root, "replies_close_at", None),
            follows_site=(author.id, getattr(root, "actor_id", None)) in followers or (author.id, None) in followers,
            actor_recent=per_actor[author.id], instance_recent=per_domain[author.domain],
        )
        judgement = policy(candidate)
        judgements.append(judgement)
        per_actor[author.id] += 1
        per_domain[author.domain] += 1
        if judgement.verdict is Verdict.PUBLISH:
            approved[author.id] = approved.get(author.id, 0) + 1
            seen.add(author.domain)
        await _record(node, session, item, author, judgement)
    hits = Counter(name for j in judgements for name in j.hits)
    dry = Counter(name for j in judgements for name in j.dry_hits)
    await db.add_rule_hits(session, dict(hits), dict(dry))
    return judgements


async def judge_one(node: "Node", session: AsyncSession, document: dict[str, Any], author_id: int,
                    parent: Any, root: Any | None) -> Judgement:
    return (await judge_many(node, session, [Incoming(document, author_id, parent, root)]))[0]


def moderation_state(judgement: Judgement) -> str:
    """The comment row's ``moderation`` for a verdict that stores it."""
    return STATE_OF[judgement.verdict]


def _strongest(severities: Any) -> str | None:
    found = {s for s in severities if s}
    return "suspend" if "suspend" in found else "silence" if "silence" in found else None


def _followers_count(raw: Any) -> int | None:
    """The followers count an actor document embeds, when its server says (few do)."""
    followers = raw.get("followers") if isinstance(raw, dict) else None
    if isinstance(followers, dict) and isinstance(followers.get("totalItems"), int):
        return followers["totalItems"]
    return None


async def _followers_of_sites(node: "Node", session: AsyncSession, items: Sequence[Incoming],
                              authors: dict[int, Actor]) -> set[tuple[int, int | None]]:
    """(author, article author) pairs where the author follows the article's author, and (author, None)
    where it follows the site Group; read only for articles that take replies from followers only."""
    asking = [item for item in items if getattr(item.root, "reply_policy", None) == "followers"]
    if not asking:
        return set()
    site = await queries.get_local_actor(session, node.settings.site_username)
    followed = {getattr(item.root, "actor_id", None) for item in asking} | ({site.id} if site else set())
    rows = (await session.execute(select(Follow.follower_id, Follow.followed_id).where(
        Follow.follower_id.in_({item.author_id for item in asking}), Follow.followed_id.in_(followed - {None}),
        Follow.state == "accepted"))).all()
    return {(follower, None if site is not None and followed_id == site.id else followed_id)
            for follower, followed_id in rows}


async def _record(node: "Node", session: AsyncSession, item: Incoming, author: Actor, judgement: Judgement) -> None:
    """The mod log line of a hold or a rejection, and the ``Reject`` its author's server is owed."""
    if judgement.verdict is Verdict.PUBLISH:
        return
    action = "hold" if judgement.verdict is Verdict.HOLD else "reject"
    db.log_entry(session, moderator=MODERATOR, action=action, target=item.document["id"], rule=judgement.rule,
                 reason=judgement.reason, root_id=getattr(item.root, "id", None))
    if judgement.send_reject:
        await send_reject(node, session, item.document["id"], getattr(item.parent, "ap_id", None), author)


async def send_reject(node: "Node", session: AsyncSession, reply_id: str, target: str | None, author: Actor) -> None:
    """Queue the site Group's ``Reject`` of a reply for its author's inbox.

    GoToSocial's interaction policies answer a reply they refuse with a
    ``Reject`` whose ``object`` is the reply and ``target`` the post it answers;
    Mastodon and others ignore what they do not understand.
    """
    site = await queries.get_local_actor(session, node.settings.site_username)
    if site is None or author.is_local:
        return
    reject = {"id": outbox.new_activity_id(node.urls), "type": "Reject", "actor": site.ap_id,
              "object": reply_id, "to": [author.ap_id]}
    if target:
        reject["target"] = target
    await outbox.deliver_to_actor(session, reject, signer=site.username, actor=author)
