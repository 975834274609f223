"""The database model.

Local and remote things are the same kinds of rows, each keyed by its
ActivityPub id (``ap_id``) with the raw JSON kept beside the indexed columns:
an ``Actor`` is a local author or a remote Mastodon account alike, an
``Object`` is an article or a comment wherever it was written.  Later stages
(remote articles, whole remote threads) add rows, not tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from node.db.states import ActivityState, DeliveryState, FollowState, check
from node.db.types import JSONType, UTCDateTime, utcnow

URI = String(2048)


class Base(DeclarativeBase):
    """Declarative base of every Fednode table."""


class Actor(Base):
    """A fediverse actor: the site Group, a local author, the instance actor, or a remote account."""

    __tablename__ = "actors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(URI, unique=True)
    ap_type: Mapped[str] = mapped_column(String(32))  # Person, Group, Application, Service...
    is_local: Mapped[bool] = mapped_column(Boolean, default=False)
    username: Mapped[str] = mapped_column(String(255))  # preferredUsername
    domain: Mapped[str] = mapped_column(String(255))  # host[:port], lowercase punycode
    name: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)  # sanitised HTML
    url: Mapped[str | None] = mapped_column(URI)  # profile page for people
    inbox: Mapped[str | None] = mapped_column(URI)
    shared_inbox: Mapped[str | None] = mapped_column(URI)
    outbox: Mapped[str | None] = mapped_column(URI)
    followers: Mapped[str | None] = mapped_column(URI)
    following: Mapped[str | None] = mapped_column(URI)
    public_key_id: Mapped[str | None] = mapped_column(URI, index=True)
    public_key_pem: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Local actors: SHA-256 of the actor document last sent to followers in an Update
    # (or found at first start), so a changed name or summary is sent once, at start-up.
    sent_document_hash: Mapped[str | None] = mapped_column(String(64))
    # Local actors: when the member deleted their account (node.members.posting.delete_account). The row
    # stays, so the name is never given to someone else and the key can still sign the Delete.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_actors_username_domain", "username", "domain"), Index("ix_actors_domain", "domain"))

    @property
    def handle(self) -> str:
        """``user@host`` as people type it."""
        return f"{self.username}@{self.domain}"


class Object(Base):
    """An article or a comment, local or remote, with its place in a thread."""

    __tablename__ = "objects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(URI, unique=True)
    ap_type: Mapped[str] = mapped_column(String(32))  # Article, Note, Page, Question...
    kind: Mapped[str] = mapped_column(String(16))  # "article" (thread root) or "comment"
    is_local: Mapped[bool] = mapped_column(Boolean, default=False)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str | None] = mapped_column(String(200), unique=True)  # local articles only
    name: Mapped[str | None] = mapped_column(Text)  # the title of an article
    content: Mapped[str | None] = mapped_column(Text)  # sanitised HTML
    source: Mapped[str | None] = mapped_column(Text)  # Markdown of local objects
    summary: Mapped[str | None] = mapped_column(Text)  # plain text: a local article's front matter description
    language: Mapped[str | None] = mapped_column(String(35))
    url: Mapped[str | None] = mapped_column(URI)
    in_reply_to: Mapped[str | None] = mapped_column(URI, index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("objects.id", ondelete="SET NULL"), index=True)
    root_id: Mapped[int | None] = mapped_column(ForeignKey("objects.id", ondelete="SET NULL"), index=True)
    context: Mapped[str | None] = mapped_column(URI, index=True)
    visibility: Mapped[str] = mapped_column(String(16), default="public")  # public|unlisted|followers|direct
    tags: Mapped[list[str] | None] = mapped_column(JSONType)  # hashtag names without '#'
    published: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replies_count: Mapped[int] = mapped_column(Integer, default=0)
    likes_count: Mapped[int] = mapped_column(Integer, default=0)
    announces_count: Mapped[int] = mapped_column(Integer, default=0)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # when we received it
    # Moderation (node.moderation): only "published" comments are shown, counted and announced.
    moderation: Mapped[str] = mapped_column(String(16), default="published", server_default="published")
    locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # no new replies below it
    reply_policy: Mapped[str | None] = mapped_column(String(16))  # articles: open|followers|approval|closed (None: open)
    replies_close_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # articles: closed after this moment
    # Set on insert and on every UPDATE (ORM or Core): the newest in a thread is the
    # thread's version, which keys the cache of rendered discussion pages (node.db.discussion).
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    actor: Mapped[Actor] = relationship(lazy="joined")

    __table_args__ = (
        Index("ix_objects_root_published", "root_id", "published"),
        Index("ix_objects_actor_moderation", "actor_id", "moderation"),
        Index("ix_objects_moderation", "moderation"),
        Index("ix_objects_actor_created", "actor_id", "created_at"),  # the moderation rate rules
        Index("ix_objects_root_changed", "root_id", "changed_at"),
        Index("ix_objects_parent_order", "parent_id", "id"),
    )


class Activity(Base):
    """An activity we sent or received: the outbox, and the inbox's de-duplication ledger."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(URI, unique=True)
    ap_type: Mapped[str] = mapped_column(String(32))
    is_local: Mapped[bool] = mapped_column(Boolean, default=False)
    actor_ap_id: Mapped[str] = mapped_column(URI, index=True)
    object_ap_id: Mapped[str | None] = mapped_column(URI, index=True)
    status: Mapped[str] = mapped_column(String(16), default=ActivityState.RECEIVED)  # ActivityState
    error: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A processor applying a received activity holds it until ``lease_until`` (node.db.activities).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_activities_waiting", "status", "id"),)

    @validates("status")
    def _move(self, _key: str, new: str) -> str:
        return check(ActivityState, self.status, new)


class Follow(Base):
    """One actor following another: remote followers of our actors, and our site following others."""

    __tablename__ = "follows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    follower_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    followed_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    ap_id: Mapped[str | None] = mapped_column(URI, unique=True)  # the Follow activity's id
    state: Mapped[str] = mapped_column(String(16), default=FollowState.PENDING)  # FollowState
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @validates("state")
    def _move(self, _key: str, new: str) -> str:
        return check(FollowState, self.state, new)

    follower: Mapped[Actor] = relationship(foreign_keys=[follower_id], lazy="joined")
    followed: Mapped[Actor] = relationship(foreign_keys=[followed_id], lazy="joined")

    __table_args__ = (UniqueConstraint("follower_id", "followed_id", name="uq_follows_pair"),)


class Delivery(Base):
    """One activity to POST to one inbox: the database is the delivery queue.

    Lifecycle: pending → delivered | failed (``node.db.states.DeliveryState``).  A worker
    claims due rows by setting a lease; a row whose lease ran out (its worker
    died) is due again, so a crash never loses a delivery.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_ap_id: Mapped[str] = mapped_column(URI, index=True)
    object_ap_id: Mapped[str | None] = mapped_column(URI, index=True)
    signer: Mapped[str] = mapped_column(String(64))  # username of the local actor whose key signs
    inbox: Mapped[str] = mapped_column(URI)
    host: Mapped[str] = mapped_column(String(255), index=True)
    body: Mapped[str] = mapped_column(Text)  # the exact JSON sent
    status: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)  # DeliveryState
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("activity_ap_id", "inbox", name="uq_deliveries_activity_inbox"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )

    @validates("status")
    def _move(self, _key: str, new: str) -> str:
        return check(DeliveryState, self.status, new)


class Host(Base):
    """What we know about a remote server's reachability (Mastodon's unavailable-domain rule)."""

    __tablename__ = "hosts"

    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    failure_days: Mapped[list[str]] = mapped_column(JSONType, default=list)  # distinct UTC days, YYYYMMDD
    unavailable_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SiteSetting(Base):
    """A site setting an admin changed on the web (name, summary, rules...); the config file's value is the default."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(255))


class Revision(Base):
    """An earlier version of an article or comment, kept when an Update replaces it."""

    __tablename__ = "revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str | None] = mapped_column(Text)
    updated: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when this version was written
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reaction(Base):
    """A Like or an Announce (boost) of one of the objects we hold."""

    __tablename__ = "reactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(URI, unique=True)  # the Like/Announce activity id
    kind: Mapped[str] = mapped_column(String(16))  # like | announce
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("kind", "actor_id", "object_id", name="uq_reactions_once"),)


class Tombstone(Base):
    """A deleted URI we never held (Delete before Create): it must never be created afterwards."""

    __tablename__ = "tombstones"

    ap_id: Mapped[str] = mapped_column(URI, primary_key=True)
    actor_ap_id: Mapped[str | None] = mapped_column(URI)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PendingReply(Base):
    """A reply whose parent we could not fetch yet; attached when the parent arrives."""

    __tablename__ = "pending_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(URI, unique=True)
    in_reply_to: Mapped[str] = mapped_column(URI, index=True)
    actor_ap_id: Mapped[str] = mapped_column(URI)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CrawlState(Base):
    """When to read a thread's remote ``replies``/``context`` collections again (node.federation.crawl).

    One row per thread root; ``next_crawl_at`` None means the crawler gave up on
    the thread (nothing new for a long time) until a new comment arrives.
    """

    __tablename__ = "crawl_states"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), unique=True)
    next_crawl_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=300)  # the wait after the next crawl if it finds nothing
    last_crawled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_found: Mapped[int | None] = mapped_column(Integer)  # comments stored by the last crawl
    last_error: Mapped[str | None] = mapped_column(Text)  # hosts that failed in the last crawl
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # a comment arrived or was found
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DiscussionDocument(Base):
    """A web page people discuss here (node.discussions): one row per document, whatever its URLs.

    ``thread_id`` is the thread shown for it: our link thread (``kind`` "link"), the
    page's own fediverse object (``fediverse``) or an affiliated node's link thread
    (``affiliate``).  ``closed_reason`` is set when the source closed its comments.
    """

    __tablename__ = "discussion_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    canonical_url: Mapped[str] = mapped_column(URI, unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # link | fediverse | affiliate
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("objects.id", ondelete="SET NULL"), index=True)
    title: Mapped[str | None] = mapped_column(Text)  # plain text, as the page (or the affiliate) gave it
    description: Mapped[str | None] = mapped_column(Text)
    site_name: Mapped[str | None] = mapped_column(String(255))
    author: Mapped[str | None] = mapped_column(String(255))
    creator: Mapped[str | None] = mapped_column(String(255))  # fediverse:creator, "@user@host"
    published: Mapped[datetime | None] = mapped_column(UTCDateTime)
    activitypub_id: Mapped[str | None] = mapped_column(URI)  # the page's ActivityPub alternate
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    closed_reason: Mapped[str | None] = mapped_column(Text)  # why the source's comments are closed
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    thread: Mapped[Object | None] = relationship(lazy="joined")


class DiscussionAlias(Base):
    """One spelling of a document's address (canonicalised): the URL asked for, each redirect, the canonical."""

    __tablename__ = "discussion_aliases"

    url: Mapped[str] = mapped_column(URI, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("discussion_documents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DiscussionThread(Base):
    """Every thread known for a document, ours and affiliated nodes' (shown as "also discussed at")."""

    __tablename__ = "discussion_threads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("discussion_documents.id", ondelete="CASCADE"), index=True)
    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), unique=True)
    origin: Mapped[str] = mapped_column(String(16))  # link | fediverse | affiliate
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    object: Mapped[Object] = relationship(lazy="joined")
# --- moderation (node.moderation) -------------------------------------------------------------

# A comment is held on arrival or never; "suspended" hides it while its domain is suspended
# (or its author banned), and lifting that publishes it again.  Only "published" is shown.
COMMENT_STATES = ("published", "held", "rejected", "removed", "suspended")
COMMENT_TRANSITIONS = {
    "published": {"removed", "suspended"},
    "held": {"published", "rejected", "removed", "suspended"},
    "rejected": {"published"},
    "removed": {"published"},
    "suspended": {"published", "removed"},
}


class DomainBlock(Base):
    """A domain the moderators block, in Mastodon's terms: ``silence`` (held) or ``suspend`` (refused, hidden)."""

    __tablename__ = "domain_blocks"

    domain: Mapped[str] = mapped_column(String(255), primary_key=True)  # lowercase; subdomains are covered
    severity: Mapped[str] = mapped_column(String(16))  # silence | suspend
    reject_media: Mapped[bool] = mapped_column(Boolean, default=False)
    reject_reports: Mapped[bool] = mapped_column(Boolean, default=False)
    public_comment: Mapped[str | None] = mapped_column(Text)
    obfuscate: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(255), default="cli")  # cli, or import:<file name>
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ActorBan(Base):
    """A remote actor whose activities are refused, until ``expires_at`` (None: for good)."""

    __tablename__ = "actor_bans"

    actor_ap_id: Mapped[str] = mapped_column(URI, primary_key=True)
    reason: Mapped[str | None] = mapped_column(Text)
    moderator: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Report(Base):
    """A ``Flag``: received from another server (``direction="in"``) or sent by us (``"out"``)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str | None] = mapped_column(URI, unique=True)  # the Flag activity's id
    direction: Mapped[str] = mapped_column(String(8), default="in")  # in | out
    reporter_ap_id: Mapped[str] = mapped_column(URI)  # the actor that sent the Flag (often an instance actor)
    target_actor_ap_id: Mapped[str | None] = mapped_column(URI, index=True)
    object_ap_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    content: Mapped[str | None] = mapped_column(Text)  # the reporter's comment, plain text
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | resolved
    resolution: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ModerationEntry(Base):
    """The mod log: one line per decision, by a person or by a rule."""

    __tablename__ = "moderation_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    moderator: Mapped[str] = mapped_column(String(255))  # who: a person's name, or "policy"
    action: Mapped[str] = mapped_column(String(32))  # hold, approve, reject, remove, restore, ban, block...
    target: Mapped[str] = mapped_column(URI, index=True)  # a comment or actor id, a domain, a report number
    rule: Mapped[str | None] = mapped_column(String(64))  # the policy rule that decided, if any
    reason: Mapped[str | None] = mapped_column(Text)
    root_id: Mapped[int | None] = mapped_column(ForeignKey("objects.id", ondelete="SET NULL"), index=True)


class RuleHit(Base):
    """How often each policy rule matched (``dry_hits``: matched while in dry-run mode)."""

    __tablename__ = "rule_hits"

    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    dry_hits: Mapped[int] = mapped_column(Integer, default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- members on the web (node.web.member_pages): notifications, followed threads, avatars -------

class Notification(Base):
    """Something a local member should hear about: a reply to them, a mention, a decision on their comment.

    Written in the transaction that stores or decides the comment (``node.db.notifications``).
    ``kind`` is ``reply``, ``mention``, ``thread`` (a new comment in a thread they follow) or a
    moderation decision (``approve``, ``reject``, ``remove``, ``restore``).
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)  # who caused it
    reason: Mapped[str | None] = mapped_column(Text)  # a moderator's reason, as given
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_notifications_recipient", "recipient_id", "id"),
        Index("ix_notifications_unread", "recipient_id", "read_at"),
    )


class ThreadFollow(Base):
    """A member following a thread: every new comment in it becomes a notification."""

    __tablename__ = "thread_follows"

    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True)
    root_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Avatar(Base):
    """A local member's picture, as resized and re-encoded here (``node.members.avatars``).

    Kept in the database, not in a folder: every process serves it, and a backup holds it.
    """

    __tablename__ = "avatars"

    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of data: part of its URL, so it can be cached for good
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
# --- members: people with an account on this node (node/members/, docs/members.md) ---------------


class Member(Base):
    """An account on this node: a person who signs in, with a local ``Person`` actor of the same name."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), unique=True)
    username: Mapped[str] = mapped_column(String(30), unique=True)  # lowercase: unique case-insensitively
    email: Mapped[str | None] = mapped_column(String(320))  # as typed
    email_key: Mapped[str | None] = mapped_column(String(320), unique=True)  # lowercase, for lookups
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_hash: Mapped[str] = mapped_column(Text)  # argon2id, PHC string format
    role: Mapped[str] = mapped_column(String(16), default="member")  # node.members.roles.Role
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)  # roles.MemberStatus
    application: Mapped[str | None] = mapped_column(Text)  # "why do you want to join" (approval mode)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[Actor] = relationship(lazy="joined")


class MemberSession(Base):
    """A signed-in browser: the cookie holds a random token, this row only its SHA-256."""

    __tablename__ = "member_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the cookie's token
    csrf: Mapped[str] = mapped_column(String(64))  # this session's CSRF token (node.web.csrf)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_agent: Mapped[str | None] = mapped_column(String(200))


class Invite(Base):
    """An invite link (invite-only registration): single use, with an expiry; the link holds the code, this row its hash."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))


class MemberToken(Base):
    """A one-time link sent to a member: e-mail verification or password reset (only the hash is kept)."""

    __tablename__ = "member_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # verify | reset
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))  # the address a verification link proves
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed sign-ins of one account or one address, and until when more attempts are refused."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "member:<id>" or "ip:<address or /64>"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# --- the API (node.api): members' tokens, site owners' webhooks ------------------------------------


class ApiToken(Base):
    """A member's token for the write API (``Authorization: Bearer``); only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))  # the member's label ("my browser extension")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the token
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated, node.api.tokens.SCOPES
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Webhook(Base):
    """A site owner's webhook: events POSTed to ``url``, signed with HMAC-SHA256 under ``secret``."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(URI)
    secret: Mapped[str] = mapped_column(String(100))  # kept as is: signing needs it (shown once, at creation)
    events: Mapped[str] = mapped_column(String(200))  # space-separated, node.api.webhooks.EVENTS
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event to send to one webhook: claimed with a lease, retried with backoff (node.api.webhooks)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)  # the exact JSON sent (and signed)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)
