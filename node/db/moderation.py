"""Named queries of moderation: comment states, domain blocks, bans, reports, rule hits, the mod log.

The actions themselves (what a decision federates) are in ``node.moderation``;
this module only reads and writes rows, in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Collection, Iterable, Sequence

from sqlalchemy import Integer, bindparam, delete, func, literal, or_, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from node.db.models import (COMMENT_TRANSITIONS, Activity, Actor, ActorBan, DomainBlock, Follow, ModerationEntry,
                            Object, Report, RuleHit)
from node.db.prepared import Prepared
from node.db.queries import SHOWN_STATE
from node.db.types import UTCDateTime, utcnow

SHOWN = SHOWN_STATE  # the one moderation state whose comments are shown, counted, listed and announced


def domain_clause(column: Any, domain: str) -> Any:
    """``column`` (an actor's host[:port]) is ``domain`` or one of its subdomains, on any port.

    Mastodon's blocks name a domain without a port and cover its subdomains.
    """
    name = domain.lower().replace("\\", "").replace("%", "").replace("_", "\\_")
    return or_(column == domain.lower(), column.like(name + ":%", escape="\\"),
               column.like("%." + name, escape="\\"), column.like("%." + name + ":%", escape="\\"))


# --- finding what to act on -----------------------------------------------------------------------

async def object_by_url(session: AsyncSession, url: str, *, kind: str | None = None) -> Object | None:
    """An article or comment (only of ``kind``, when given) by its page URL, when that differs from its id."""
    query = select(Object).where(Object.url == url)
    if kind is not None:
        query = query.where(Object.kind == kind)
    return await session.scalar(query.limit(1))


async def actor_by_handle(session: AsyncSession, username: str, domain: str) -> Actor | None:
    """The actor we know as exactly ``username@domain`` (the domain in any case)."""
    return await session.scalar(
        select(Actor).where(Actor.username == username, Actor.domain == domain.lower()).limit(1))


async def received_create(session: AsyncSession, object_ap_id: str) -> Activity | None:
    """The ``Create`` of an object as received from its server (the Group's Announce wraps it)."""
    return await session.scalar(select(Activity).where(
        Activity.object_ap_id == object_ap_id, Activity.ap_type == "Create", Activity.is_local.is_(False)).limit(1))


async def announces_by(session: AsyncSession, actor_ap_id: str, object_ap_ids: Sequence[str]) -> Sequence[Activity]:
    """The ``Announce`` activities a local actor (the site Group) sent of any of these objects."""
    return (await session.scalars(select(Activity).where(
        Activity.is_local.is_(True), Activity.ap_type == "Announce", Activity.actor_ap_id == actor_ap_id,
        Activity.object_ap_id.in_(list(object_ap_ids))))).all()


# --- comment states -----------------------------------------------------------------------------

def can_move(old: str, new: str) -> bool:
    """Whether a comment may go from moderation state ``old`` to ``new`` (``COMMENT_TRANSITIONS``)."""
    return new in COMMENT_TRANSITIONS.get(old, set())


async def set_state(session: AsyncSession, comment: Object, new: str) -> str:
    """Move ``comment`` to ``new``, keeping its parent's public reply count right; returns the old state."""
    old = comment.moderation
    if old == new:
        return old
    if not can_move(old, new):
        raise ValueError(f"a {old} comment cannot become {new}")
    comment.moderation = new
    counted = comment.deleted_at is None and comment.visibility in ("public", "unlisted") and comment.parent_id
    if counted and SHOWN in (old, new):
        change = 1 if new == SHOWN else -1
        await session.execute(
            update(Object).where(Object.id == comment.parent_id, Object.replies_count + change >= 0)
            .values(replies_count=Object.replies_count + change)
        )
    return old


async def list_comments_in_state(session: AsyncSession, state: str, *, limit: int = 100) -> Sequence[Object]:
    """Comments in one moderation state (the queue is ``held``), oldest first."""
    query = (select(Object).where(Object.kind == "comment", Object.moderation == state)
             .order_by(Object.created_at, Object.id).limit(limit))
    return (await session.scalars(query)).all()


# Built once: the decide step runs these for every batch of replies, and building an ORM select costs
# more than SQLite takes to run it.  On the tables' columns: no ORM compile step for plain rows.
_OBJECTS, _ACTORS = Object.__table__.c, Actor.__table__.c
_SEEN_DOMAINS = (select(_ACTORS.domain).distinct().join(Object.__table__, _OBJECTS.actor_id == _ACTORS.id)
                 .where(_ACTORS.domain.in_(bindparam("domains", expanding=True)), _OBJECTS.kind == "comment",
                        _OBJECTS.moderation == SHOWN))
_APPROVED_COUNTS = (select(_OBJECTS.actor_id, func.count(_OBJECTS.id))
                    .where(_OBJECTS.actor_id.in_(bindparam("ids", expanding=True)), _OBJECTS.moderation == SHOWN,
                           _OBJECTS.kind == "comment")
                    .group_by(_OBJECTS.actor_id))


# The decide step's other per-batch reads, built once for the same reason.
_BANS, _BLOCKS, _FOLLOWS = ActorBan.__table__.c, DomainBlock.__table__.c, Follow.__table__.c
_ACTOR_FACTS = (select(_ACTORS.id, _ACTORS.ap_id, _ACTORS.domain,
                       _ACTORS.raw["published"].as_string().label("published"),
                       _ACTORS.raw["followers"]["totalItems"].as_integer().label("followers"))
                .where(_ACTORS.id.in_(bindparam("ids", expanding=True))))
_BLOCK_SEVERITIES = (select(_BLOCKS.domain, _BLOCKS.severity)
                     .where(_BLOCKS.domain.in_(bindparam("domains", expanding=True))))
_ACCEPTED_FOLLOWS = (select(_FOLLOWS.follower_id, _FOLLOWS.followed_id)
                     .where(_FOLLOWS.follower_id.in_(bindparam("followers", expanding=True)),
                            _FOLLOWS.followed_id.in_(bindparam("followed", expanding=True)),
                            _FOLLOWS.state == "accepted"))
_BANNED_AMONG = (select(_BANS.actor_ap_id)
                 .where(_BANS.actor_ap_id.in_(bindparam("ids", expanding=True)),
                        or_(_BANS.expires_at.is_(None),
                            _BANS.expires_at > bindparam("now", type_=_BANS.expires_at.type))))


async def seen_domains(session: AsyncSession, domains: Iterable[str]) -> set[str]:
    """Which of these instances already have a comment shown here."""
    wanted = set(domains)
    if not wanted:
        return set()
    return set((await session.execute(_SEEN_DOMAINS, {"domains": list(wanted)})).scalars().all())


async def approved_counts(session: AsyncSession, actor_ids: Iterable[int]) -> dict[int, int]:
    """How many of each actor's comments are shown here: its trust (read through ix_objects_actor_moderation)."""
    ids = set(actor_ids)
    if not ids:
        return {}
    found = dict((await session.execute(_APPROVED_COUNTS, {"ids": list(ids)})).all())
    return {actor_id: int(found.get(actor_id, 0)) for actor_id in ids}


def _count_up_to(recent: Any, cap: Any) -> Any:
    """The number of rows of ``recent`` (a select correlated to the outer ``Actor``), read no further than ``cap``."""
    return select(func.count()).select_from(recent.limit(cap).correlate(Actor).subquery()).scalar_subquery()


def _recent_statements() -> dict[tuple[bool, bool], Any]:
    """The rate counts' statements (actors, instances, both), built once: building and compiling such a
    statement costs several times what running it does.  Bound: ``since``, ``actor_cap``, ``actor_ids``,
    ``domain_cap``, ``domain_ids``."""
    since = bindparam("since", type_=UTCDateTime)
    member = aliased(Actor, name="member")
    per_actor = (select(literal(False).label("instance"), Actor.id, Actor.domain, _count_up_to(
        select(Object.id).where(Object.actor_id == Actor.id, Object.created_at >= since),
        bindparam("actor_cap", type_=Integer))).where(Actor.id.in_(bindparam("actor_ids", expanding=True))))
    per_domain = (select(literal(True).label("instance"), Actor.id, Actor.domain, _count_up_to(
        select(Object.id).join(member, member.id == Object.actor_id)
        .where(member.domain == Actor.domain, Object.created_at >= since),
        bindparam("domain_cap", type_=Integer))).where(Actor.id.in_(bindparam("domain_ids", expanding=True))))
    return {(True, False): per_actor, (False, True): per_domain, (True, True): union_all(per_actor, per_domain)}


_RECENT = _recent_statements()


async def recent_counts(session: AsyncSession, actor_ids: Collection[int], domain_actor_ids: Collection[int],
                        since: datetime, actor_cap: int, domain_cap: int) -> tuple[dict[int, int], dict[str, int]]:
    """Posts each actor of ``actor_ids``, and each instance of an actor of ``domain_actor_ids``, sent since
    ``since``, each counted up to its cap: all the rate rules need to know, so a busy actor or instance
    costs at most its cap's index entries (``ix_objects_actor_created``), not its whole hour.

    One statement for both: the per-actor counts over the actors' rows, and the per-instance ones over
    one actor of each instance (the caller picks it), as correlated ``LIMIT`` subqueries.
    """
    actors, domains = bool(actor_ids and actor_cap), bool(domain_actor_ids and domain_cap)
    per_actor: dict[int, int] = {}
    per_domain: dict[str, int] = {}
    if not (actors or domains):
        return per_actor, per_domain
    values = {"since": since, "actor_cap": actor_cap, "actor_ids": list(actor_ids),
              "domain_cap": domain_cap, "domain_ids": list(domain_actor_ids)}
    for instance, actor_id, domain, count in (await session.execute(_RECENT[actors, domains], values)).all():
        if instance:
            per_domain[domain] = int(count)
        else:
            per_actor[actor_id] = int(count)
    return per_actor, per_domain


async def actor_facts(session: AsyncSession, actor_ids: Iterable[int]) -> Sequence[Any]:
    """The facts the policy reads of each actor: rows of (id, ap_id, domain, published, followers).

    Only these columns: an actor's raw document (its key, its profile) is large.
    """
    return (await session.execute(_ACTOR_FACTS, {"ids": list(set(actor_ids))})).all()


async def comments_of_domain(session: AsyncSession, domain: str, states: Sequence[str]) -> Sequence[Object]:
    """Comments in these states written by actors of ``domain`` (and its subdomains)."""
    query = (select(Object).join(Actor, Actor.id == Object.actor_id)
             .where(domain_clause(Actor.domain, domain), Actor.is_local.is_(False), Object.kind == "comment",
                    Object.moderation.in_(states)))
    return (await session.scalars(query)).all()


async def comments_of_actor(session: AsyncSession, actor_id: int, states: Sequence[str]) -> Sequence[Object]:
    """An actor's comments in these states."""
    query = select(Object).where(Object.actor_id == actor_id, Object.kind == "comment", Object.moderation.in_(states))
    return (await session.scalars(query)).all()


async def count_removed(session: AsyncSession, root_id: int) -> int:
    """How many comments of a thread moderators removed (for the article's public line)."""
    query = select(func.count(Object.id)).where(Object.root_id == root_id, Object.moderation == "removed")
    return int(await session.scalar(query) or 0)


# --- domain blocks ------------------------------------------------------------------------------

async def list_domain_blocks(session: AsyncSession) -> Sequence[DomainBlock]:
    """Every domain block, by domain."""
    return (await session.scalars(select(DomainBlock).order_by(DomainBlock.domain))).all()


async def get_domain_block(session: AsyncSession, domain: str) -> DomainBlock | None:
    return await session.get(DomainBlock, domain.lower())


async def put_domain_block(session: AsyncSession, domain: str, severity: str, **fields: Any) -> DomainBlock:
    """Create or change the block of ``domain``."""
    block = await get_domain_block(session, domain)
    if block is None:
        block = DomainBlock(domain=domain.lower(), severity=severity, **fields)
        session.add(block)
    else:
        block.severity = severity
        for key, value in fields.items():
            setattr(block, key, value)
        block.updated_at = utcnow()
    await session.flush()
    return block


async def drop_domain_block(session: AsyncSession, domain: str) -> bool:
    """Lift the block of ``domain``; whether there was one."""
    return bool((await session.execute(delete(DomainBlock).where(DomainBlock.domain == domain.lower()))).rowcount)


async def block_severities(session: AsyncSession, domains: Iterable[str]) -> dict[str, str]:
    """The severity of the block of each of these exact domains that is blocked (one statement)."""
    found = await session.execute(_BLOCK_SEVERITIES, {"domains": list(set(domains))})
    return {domain: severity for domain, severity in found.all()}


async def accepted_follows_between(session: AsyncSession, follower_ids: Iterable[int],
                                   followed_ids: Iterable[int]) -> set[tuple[int, int]]:
    """(follower, followed) pairs of accepted follows from any of ``follower_ids`` to any of ``followed_ids``."""
    found = await session.execute(_ACCEPTED_FOLLOWS, {"followers": list(set(follower_ids)),
                                                      "followed": list(set(followed_ids))})
    return {(follower, followed) for follower, followed in found.all()}


async def sever_follows_of_domain(session: AsyncSession, domain: str) -> int:
    """Delete every follow to or from an actor of ``domain`` (a suspension severs them)."""
    actors = select(Actor.id).where(domain_clause(Actor.domain, domain), Actor.is_local.is_(False))
    result = await session.execute(delete(Follow).where(or_(Follow.follower_id.in_(actors),
                                                            Follow.followed_id.in_(actors))))
    return int(result.rowcount or 0)


# --- bans ---------------------------------------------------------------------------------------

async def active_bans(session: AsyncSession, now: datetime | None = None) -> Sequence[ActorBan]:
    """Bans that have not expired, newest first."""
    now = now or utcnow()
    query = (select(ActorBan).where(or_(ActorBan.expires_at.is_(None), ActorBan.expires_at > now))
             .order_by(ActorBan.created_at.desc()))
    return (await session.scalars(query)).all()


async def is_banned(session: AsyncSession, actor_ap_id: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    query = select(ActorBan.actor_ap_id).where(
        ActorBan.actor_ap_id == actor_ap_id, or_(ActorBan.expires_at.is_(None), ActorBan.expires_at > now))
    return await session.scalar(query) is not None


async def banned_among(session: AsyncSession, actor_ap_ids: Iterable[str], now: datetime | None = None) -> set[str]:
    """Which of these actors are under a ban that has not expired (one statement)."""
    found = await session.execute(_BANNED_AMONG, {"ids": list(set(actor_ap_ids)), "now": now or utcnow()})
    return set(found.scalars().all())


async def put_ban(session: AsyncSession, actor_ap_id: str, *, moderator: str, reason: str | None,
                  expires_at: datetime | None) -> ActorBan:
    ban = await session.get(ActorBan, actor_ap_id)
    if ban is None:
        ban = ActorBan(actor_ap_id=actor_ap_id, moderator=moderator, reason=reason, expires_at=expires_at)
        session.add(ban)
    else:
        ban.moderator, ban.reason, ban.expires_at, ban.created_at = moderator, reason, expires_at, utcnow()
    await session.flush()
    return ban


async def drop_ban(session: AsyncSession, actor_ap_id: str) -> bool:
    return bool((await session.execute(delete(ActorBan).where(ActorBan.actor_ap_id == actor_ap_id))).rowcount)


# --- reports ------------------------------------------------------------------------------------

async def add_report(session: AsyncSession, **values: Any) -> Report | None:
    """Store a report; None when a report with this Flag id is already stored."""
    if values.get("ap_id") is not None:
        existing = await session.scalar(select(Report).where(Report.ap_id == values["ap_id"]))
        if existing is not None:
            return None
    report = Report(**values)
    session.add(report)
    await session.flush()
    return report


async def list_reports(session: AsyncSession, *, state: str | None = "open", limit: int = 100) -> Sequence[Report]:
    query = select(Report).order_by(Report.id.desc()).limit(limit)
    if state:
        query = query.where(Report.state == state)
    return (await session.scalars(query)).all()


async def get_report(session: AsyncSession, report_id: int) -> Report | None:
    return await session.get(Report, report_id)


# --- rule hits ----------------------------------------------------------------------------------

def _hits_upsert(dialect: str) -> Any:
    """Add to one rule's hit counters, creating its row if needed (built once per dialect)."""
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = RuleHit.__table__
    statement = upsert(table).values(rule=bindparam("rule"), hits=bindparam("hits"), dry_hits=bindparam("dry_hits"),
                                     last_hit_at=bindparam("at", type_=UTCDateTime))
    return statement.on_conflict_do_update(index_elements=["rule"], set_={
        "hits": table.c.hits + statement.excluded.hits, "dry_hits": table.c.dry_hits + statement.excluded.dry_hits,
        "last_hit_at": statement.excluded.last_hit_at})


_HITS_UPSERT: dict[str, Any] = {}


async def add_rule_hits(session: AsyncSession, hits: dict[str, int], dry_hits: dict[str, int]) -> None:
    """Add to the hit counters of the policy rules that matched (one upsert, run for each of them)."""
    names = sorted(set(hits) | set(dry_hits))
    if not names:
        return
    now = utcnow()
    dialect = session.get_bind().dialect.name
    statement = _HITS_UPSERT.get(dialect)
    if statement is None:
        statement = _HITS_UPSERT[dialect] = _hits_upsert(dialect)
    await session.execute(statement, [{"rule": name, "hits": hits.get(name, 0), "dry_hits": dry_hits.get(name, 0),
                                       "at": now} for name in names])


async def list_rule_hits(session: AsyncSession) -> dict[str, RuleHit]:
    return {row.rule: row for row in (await session.scalars(select(RuleHit))).all()}


# --- the mod log --------------------------------------------------------------------------------

def log_entry(session: AsyncSession, *, moderator: str, action: str, target: str, rule: str | None = None,
              reason: str | None = None, root_id: int | None = None) -> ModerationEntry:
    """Add one line to the mod log (in the caller's transaction)."""
    entry = ModerationEntry(moderator=moderator, action=action, target=target, rule=rule, reason=reason,
                            root_id=root_id, at=utcnow())
    session.add(entry)
    return entry


_LOG_INSERT = Prepared.insert(ModerationEntry.__table__)


async def add_log_lines(session: AsyncSession, lines: Sequence[dict[str, Any]], **shared: Any) -> None:
    """Add many mod log lines in one ``executemany``: a spam wave holds many comments in one batch.

    Each line is a dict of the same columns (of moderator, action, target, rule, reason, root_id
    and at); ``shared`` gives the ones every line has (a batch's moderator and time), converted once.
    The insert is compiled once (``node.db.prepared``): building each row's parameters through
    SQLAlchemy cost three times SQLite's own insert of the row."""
    if lines:
        await _LOG_INSERT.executemany(session, lines, **shared)


async def list_log(session: AsyncSession, *, limit: int = 50, target: str | None = None,
                   since: datetime | None = None) -> Sequence[ModerationEntry]:
    """The mod log, newest first."""
    query = select(ModerationEntry).order_by(ModerationEntry.id.desc()).limit(limit)
    if target:
        query = query.where(ModerationEntry.target == target)
    if since:
        query = query.where(ModerationEntry.at >= since)
    return (await session.scalars(query)).all()


async def hold_reasons(session: AsyncSession, ap_ids: Sequence[str]) -> dict[str, ModerationEntry]:
    """The policy's latest "hold" line for each of these comments."""
    if not ap_ids:
        return {}
    query = (select(ModerationEntry).where(ModerationEntry.target.in_(list(ap_ids)), ModerationEntry.action == "hold")
             .order_by(ModerationEntry.id))
    return {entry.target: entry for entry in (await session.scalars(query)).all()}


def hours_ago(hours: float) -> datetime:
    return utcnow() - timedelta(hours=hours)



async def refusing_reports(session: AsyncSession, domains: Sequence[str]) -> str | None:
    """The first of ``domains`` whose block says its reports are not heard, if any."""
    return await session.scalar(select(DomainBlock.domain).where(
        DomainBlock.domain.in_(list(domains)), DomainBlock.reject_reports.is_(True)).limit(1))
