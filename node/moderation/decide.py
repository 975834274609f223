"""The decide step: gather the facts about incoming comments, ask the policy, record what it said.

``judge_many`` is called by the one reply store path just before comments are
written (``comments.store_comments``, for one reply or a run), inside its
transaction: the facts are read with at most a handful of queries per batch, the
pure ``Policy`` decides each, and the rule hits and the mod log lines for holds
and rejections are written in the same transaction.  A rejection that the
author's server should hear about (a locked thread, a closed article, a reply
policy not met) queues the site Group's ``Reject`` here too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from node.db import moderation as db
from node.db import queries
from node.db.models import Actor
from node.db.types import utcnow
from node.federation import outbox
from node.federation.comments import html_of, parse_time
from node.moderation.policy import (RATE_RULES, Candidate, Judgement, Policy, Verdict, count_links, count_mentions,
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
    content: str | None = None  # the document's sanitised HTML, when the caller has it already


ACTOR_CACHE = 10_000  # actors whose unchanging facts (host, creation time) are kept in memory
TRUSTED = 1_000_000  # the approved count given to an actor known to be trusted (more than any rule asks)


class Decider:
    """The node's compiled policy and what the decide step keeps in memory between batches.

    An actor's host and creation time never change, an instance with a shown comment stays seen,
    and an actor that earned the trust the policy asks for keeps it (a moderator who changes their
    mind bans it), so those are read once; the other actors' trust is read for every batch, and the
    other instances and the rate counts for every batch that has a reply reaching their rules (a
    moderator may have approved something from another process, another process stored replies).
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.actors: dict[int, Any] = {}  # actor row id -> (id, ap_id, domain, published, followers)
        self.seen: set[str] = set()  # instances with a shown comment
        self.trusted: set[int] = set()  # actors with as many approved comments as the policy asks
        # Facts read only when a reply reaches a rule that reads them (the rules before it never do):
        # whether an instance has a shown comment (new-instance) and the counts of the last hour (the
        # rate rules, which come last).  A batch that earlier rules decide whole (first comments, blocks)
        # reads neither.  The index of the first rule that reads each, when that rule is on.
        names = [rule.name for rule in policy.rules]
        self.index = {name: i for i, name in enumerate(names)}
        config = policy.config
        self.reads_from = {
            "seen": _first(self.index, ["new-instance"] if config.hold_new_instances else []),
            "rates": _first(self.index, [name for name in RATE_RULES if getattr(config, name.replace("-", "_"))]),
        }

    def reaches(self, fact: str, judgement: Judgement) -> bool:
        """Whether the rules reached the first rule that reads ``fact`` when judging a reply so: it was
        published, or decided by that rule or a later one.  Otherwise an earlier rule decided,
        whatever the fact."""
        start = self.reads_from[fact]
        if start is None:
            return False
        return judgement.rule is None or self.index[judgement.rule] >= start

    async def actor_facts(self, session: AsyncSession, ids: set[int]) -> dict[int, Any]:
        missing = ids - self.actors.keys()
        if missing:
            if len(self.actors) + len(missing) > ACTOR_CACHE:
                self.actors.clear()
            for row in await db.actor_facts(session, missing):
                self.actors[row.id] = row
        return {i: self.actors[i] for i in ids if i in self.actors}

    async def seen_domains(self, session: AsyncSession, domains: set[str]) -> set[str]:
        unknown = domains - self.seen
        if unknown:
            self.seen |= await db.seen_domains(session, unknown)
        return self.seen & domains


def _first(index: dict[str, int], names: list[str]) -> int | None:
    """The position of the first of these rules, None when there is none."""
    found = [index[name] for name in names if name in index]
    return min(found) if found else None


def decider_of(node: "Node") -> Decider:
    """The node's decider, its policy compiled once from its settings."""
    if node.decider is None:
        node.decider = Decider(Policy.from_settings(node.settings))
    return node.decider


def policy_of(node: "Node") -> Policy:
    """The node's policy, compiled once from its settings."""
    return decider_of(node).policy


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
    decider = decider_of(node)
    authors = await decider.actor_facts(session, {item.author_id for item in items})
    domains = {a.domain for a in authors.values()}
    policy = decider.policy
    config = policy.config
    # An actor that reached the trust the rules ask for stays trusted (as WordPress's approved authors do).
    approved = {actor_id: TRUSTED for actor_id in authors if actor_id in decider.trusted}
    approved |= await db.approved_counts(session, set(authors) - decider.trusted)
    covering = {d: parent_domains(d) for d in domains}
    gate = getattr(node, "gate", None)
    if gate is not None:  # the inbox's snapshot of blocks and bans (read again every few seconds)
        await gate.fresh()
        blocks = gate.blocks
        banned = {a.ap_id for a in authors.values() if gate.is_banned(a.ap_id)}
    else:
        blocks = await db.block_severities(session, {p for parents in covering.values() for p in parents})
        banned = await db.banned_among(session, {a.ap_id for a in authors.values()}, now)
    followers = await _followers_of_sites(node, session, items, authors)
    severity = {d: _strongest(blocks.get(p) for p in parents) for d, parents in covering.items()}
    published = {a.id: parse_time(a.published) for a in authors.values()}
    host = node.settings.host

    # Read when a reply first reaches a rule that reads them (Decider.reads_from); until then an
    # instance not known to be seen counts as seen and the counts as this batch's own, values under
    # which those rules do not match, and a reply that reaches one is judged again once they are read.
    seen = decider.seen & domains
    unsure = domains - seen
    seen_read = not unsure
    rates_read = False
    recent_actors: dict[int, int] = {}
    recent_domains: dict[str, int] = {}
    judgements = []
    entries: list[dict[str, Any]] = []  # mod log lines of holds and rejections
    owed: list[Incoming] = []  # rejections whose author's server gets a Reject
    per_actor: Counter[int] = Counter()  # this batch's earlier replies, by author and by instance
    per_domain: Counter[str] = Counter()
    for item in items:
        author = authors[item.author_id]
        document = item.document
        content = item.content if item.content is not None else html_of(document)
        root = item.root
        trust = approved.get(author.id, 0)
        candidate = Candidate(
            actor_ap_id=author.ap_id, domain=author.domain, now=now,
            # Facts only a rule that can read them are gathered: the text for patterns, links for an
            # author never approved (the links rule reads no others), mentions when they are limited.
            text=plain_text(document, content) if policy.patterns else "",
            mentions=count_mentions(document) if config.max_mentions else 0,
            links=count_links(content, mention_hrefs(document)) if config.hold_links and not trust else 0,
            approved=trust,
            # This node's own members are not a new instance (their trust is earned as anyone's).
            instance_seen=not seen_read or author.domain in seen or author.domain == host,
            actor_published=published[author.id], actor_followers=author.followers,
            banned=author.ap_id in banned, domain_severity=severity[author.domain],
            thread_locked=bool(getattr(item.parent, "locked", False) or getattr(root, "locked", False)),
            reply_policy=(getattr(root, "reply_policy", None) or "open"),
            replies_close_at=getattr(root, "replies_close_at", None),
            follows_site=(author.id, getattr(root, "actor_id", None)) in followers or (author.id, None) in followers,
            actor_recent=recent_actors.get(author.id, 0) + per_actor[author.id],
            instance_recent=recent_domains.get(author.domain, 0) + per_domain[author.domain],
        )
        judgement = policy(candidate)
        while True:
            read_seen = not seen_read and decider.reaches("seen", judgement)
            read_rates = not rates_read and decider.reaches("rates", judgement)
            if not (read_seen or read_rates):
                break
            if read_seen:
                seen |= await decider.seen_domains(session, unsure)
                seen_read = True
            if read_rates:
                recent_actors, recent_domains = await _recent_counts(session, config, authors)
                rates_read = True
            judgement = policy(replace(
                candidate, instance_seen=author.domain in seen or author.domain == host,
                actor_recent=recent_actors.get(author.id, 0) + per_actor[author.id],
                instance_recent=recent_domains.get(author.domain, 0) + per_domain[author.domain]))
        judgements.append(judgement)
        per_actor[author.id] += 1
        per_domain[author.domain] += 1
        if judgement.verdict is Verdict.PUBLISH:
            approved[author.id] = trust + 1
            seen.add(author.domain)
            decider.seen.add(author.domain)
        else:
            entries.append(_log_line(item, judgement))
            if judgement.send_reject:
                owed.append(item)
        if config.trusted_after is not None and approved.get(author.id, 0) >= max(config.trusted_after, 1):
            decider.trusted.add(author.id)
    if entries:
        await db.add_log_lines(session, entries, moderator=MODERATOR, at=now)
    for item in owed:
        author = await session.get(Actor, item.author_id)
        await send_reject(node, session, item.document["id"], getattr(item.parent, "ap_id", None), author)
    hits = Counter(name for j in judgements for name in j.hits)
    dry = Counter(name for j in judgements for name in j.dry_hits)
    await db.add_rule_hits(session, dict(hits), dict(dry))
    return judgements


async def _recent_counts(session: AsyncSession, config: Any,
                         authors: dict[int, Any]) -> tuple[dict[int, int], dict[str, int]]:
    """Each author's posts of the last hour and its instance's, each counted only up to its rule's limit
    (a count at the limit holds, whatever lies beyond it); one statement for the batch."""
    one_per_domain = {a.domain: a.id for a in authors.values()}
    return await db.recent_counts(session, authors.keys(), one_per_domain.values(), db.hours_ago(1),
                                  config.actor_rate, config.instance_rate)


async def judge_one(node: "Node", session: AsyncSession, document: dict[str, Any], author_id: int,
                    parent: Any, root: Any | None, content: str | None = None) -> Judgement:
    """``judge_many`` of one comment."""
    return (await judge_many(node, session, [Incoming(document, author_id, parent, root, content)]))[0]


def moderation_state(judgement: Judgement) -> str:
    """The comment row's ``moderation`` for a verdict that stores it."""
    return STATE_OF[judgement.verdict]


def _strongest(severities: Any) -> str | None:
    found = {s for s in severities if s}
    return "suspend" if "suspend" in found else "silence" if "silence" in found else None


async def _followers_of_sites(node: "Node", session: AsyncSession, items: Sequence[Incoming],
                              authors: dict[int, Any]) -> set[tuple[int, int | None]]:
    """(author, article author) pairs where the author follows the article's author, and (author, None)
    where it follows the site Group; read only for articles that take replies from followers only."""
    asking = [item for item in items if getattr(item.root, "reply_policy", None) == "followers"]
    if not asking:
        return set()
    site = await queries.get_local_actor(session, node.settings.site_username)
    followed = {getattr(item.root, "actor_id", None) for item in asking} | ({site.id} if site else set())
    pairs = await db.accepted_follows_between(session, {item.author_id for item in asking}, followed - {None})
    return {(follower, None if site is not None and followed_id == site.id else followed_id)
            for follower, followed_id in pairs}


def _log_line(item: Incoming, judgement: Judgement) -> dict[str, Any]:
    """The mod log line of a hold or a rejection by the policy (its moderator and time are the batch's)."""
    return {"action": "hold" if judgement.verdict is Verdict.HOLD else "reject", "target": item.document["id"],
            "rule": judgement.rule, "reason": judgement.reason, "root_id": getattr(item.root, "id", None)}


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
