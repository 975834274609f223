"""Opening and finding the one thread of a web page.

``open_discussion`` is what ``fednode discuss URL`` (and, once members exist, the "discuss this
page" form) runs: a URL already filed answers at once without any request; otherwise the page is
resolved (``resolve.resolve_page``: every network request, before any transaction), then in one
transaction the aliases are checked again (someone may have opened it meanwhile) and the document,
its thread and its aliases are stored together:

* a page that is itself on the fediverse: its own object becomes the thread (stored as a remote
  article; replies go to its origin; the crawler backfills its ``replies`` and ``context``);
* any other page: a local link thread, a ``Page`` attributed to whoever opened it (the site
  Group for the operator), delivered to the Group's followers in a ``Create``.

``find`` only reads: anyone may look a URL up, and looking up never fetches anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import discussions as db
from node.db import queries
from node.db.models import Activity, Actor, DiscussionDocument, Object
from node.db.types import utcnow
from node.discussions.canonical import canonicalize, lookup_keys
from node.discussions.convert import link_thread_html, link_thread_to_ap
from node.discussions.resolve import (DiscussionError, DiscussionRateLimited, ResolvedPage, closed_at_source,
                                      requested_form, resolve_page)
from node.errors import FetchError, Gone, InvalidDocument, NotFound, OriginMismatch
from node.federation import outbox
from node.federation.actors import actor_values_from_ap, http_url
from node.federation.comments import html_of, parse_time, visibility_of
from node.federation.convert import create_to_ap
from node.federation.fetch import Fetcher, FetchPolicy
from node.federation.netguard import InvalidURL, same_origin
from node.federation.vocab import as_list, get_id

if TYPE_CHECKING:
    from node.app import Node

log = logging.getLogger("fednode.discussions")

PAGE_REDIRECTS = 5
CLOSED_GONE = "the source deleted the post"
CLOSED_REJECTED = "the source refused a reply"  # it answered one of our members' replies with Reject


@dataclass(frozen=True)
class Opened:
    """The outcome of ``open_discussion``: the document, and whether this call created it."""

    document: DiscussionDocument
    created: bool
    deliveries: int = 0


def page_fetcher(node: "Node") -> Fetcher:
    """A Fetcher for web pages: the node's address rules, the discussion size and time limits, unsigned."""
    settings = node.settings
    base = node.fetcher.policy
    policy = FetchPolicy(
        allow_http=base.allow_http, allow_private_network=base.allow_private_network,
        max_bytes=settings.discuss_fetch_bytes, max_redirects=PAGE_REDIRECTS,
        connect_timeout=min(base.connect_timeout, settings.discuss_fetch_seconds),
        read_timeout=min(base.read_timeout, settings.discuss_fetch_seconds),
        total_timeout=settings.discuss_fetch_seconds, own_hosts=base.own_hosts,
        blocked_domains=base.blocked_domains,
    )
    return Fetcher(policy, user_agent=node.fetcher.user_agent)


async def find(session: AsyncSession, url: str) -> tuple[str, DiscussionDocument | None]:
    """(the canonical form of ``url``, the document filed under it or None); DiscussionError for a bad URL."""
    canonical = requested_form(url)
    return canonical, await db.find_document(session, lookup_keys(canonical))


async def open_discussion(node: "Node", url: str, *, opener: Actor | None = None) -> Opened:
    """The document for ``url``, opening its thread if no alias of it is filed yet.

    ``opener`` is the local actor who asks (a member); None means the operator, and
    the thread is the site Group's.  Raises DiscussionError with the reason to show.
    """
    async with node.sessions() as session:
        _, known = await find(session, url)
        if known is not None:
            return Opened(known, created=False)
        if opener is not None:
            await check_rate(node, session, opener)
    fetcher = page_fetcher(node)
    try:
        page = await resolve_page(fetcher, node.fetcher, url)
    finally:
        await fetcher.close()
    author_values = None
    if page.activitypub is not None:
        author_values = await _author_values(node, page.activitypub)
    try:
        return await _store(node, page, opener, author_values)
    except IntegrityError:
        # Opened at the same moment by another request or process (its insert won the unique
        # canonical URL, an alias or the post's id): that one is the document.
        async with node.sessions.begin() as session:
            keys = [key for alias in page.aliases for key in lookup_keys(alias)]
            existing = await db.find_document(session, keys)
            if existing is None:
                raise
            await db.add_aliases(session, existing.id, page.aliases)
        return Opened(existing, created=False)


async def _store(node: "Node", page: ResolvedPage, opener: Actor | None,
                 author_values: dict[str, Any] | None) -> Opened:
    """The one transaction of an open: check the aliases again, then store document, aliases and thread."""
    async with node.sessions.begin() as session:
        keys = [key for alias in page.aliases for key in lookup_keys(alias)]
        existing = await db.find_document(session, keys)
        if existing is not None:  # opened meanwhile, or known under another alias: one document
            await db.add_aliases(session, existing.id, page.aliases)
            return Opened(existing, created=False)
        if page.activitypub is not None:
            held = await queries.get_object(session, page.activitypub["id"])
            shared = await db.get_document_of_thread(session, held.id) if held is not None else None
            if shared is not None:  # another address of the same post (its page and its status URL)
                await db.add_aliases(session, shared.id, page.aliases)
                return Opened(shared, created=False)
        site = await queries.get_local_actor(session, node.settings.site_username)
        if site is None:
            raise DiscussionError("the site is not set up yet: run `fednode init`")
        document = await db.add_document(
            session, canonical_url=page.canonical, kind="fediverse" if page.activitypub else "link",
            title=page.meta.title, description=page.meta.description, site_name=page.meta.site_name,
            author=page.meta.author, creator=page.meta.creator, published=page.published,
            activitypub_id=page.activitypub["id"] if page.activitypub else None,
            opened_by_id=(opener or site).id, fetched_at=utcnow(), created_at=utcnow(),
        )
        await db.add_aliases(session, document.id, page.aliases)
        deliveries = 0
        if page.activitypub is not None:
            thread = await _fediverse_thread(node, session, page.activitypub, author_values)
            document.closed_reason = closed_at_source(page.activitypub)
            document.closed_at = utcnow() if document.closed_reason else None
        else:
            thread, deliveries = await _link_thread(node, session, document, opener or site, site)
        document.thread_id = thread.id
        await db.add_thread(session, document.id, thread.id, document.kind)
        if page.activitypub is not None:
            await _schedule_backfill(node, session, thread.id)
    node.wake_delivery()
    log.info("opened a discussion of %s (%s, %d deliveries)", page.canonical[:200], document.kind, deliveries)
    return Opened(document, created=True, deliveries=deliveries)


async def check_rate(node: "Node", session: AsyncSession, opener: Actor) -> None:
    """DiscussionError when ``opener`` already opened ``discuss_opens_per_hour`` discussions in the last hour.

    Only pages not discussed yet count (finding one is free), and only fetches are
    limited: each open costs a request to someone else's site.
    """
    limit = node.settings.discuss_opens_per_hour
    opened = await db.count_opened_since(session, opener.id, utcnow() - timedelta(hours=1))
    if opened >= limit:
        raise DiscussionRateLimited(f"you opened {opened} discussions in the last hour, the most this site allows "
                              f"({limit}); try again later")


async def _author_values(node: "Node", document: dict[str, Any]) -> dict[str, Any] | None:
    """The columns of the post's author (fetched unless held); it must share the post's origin."""
    author_id = get_id(document.get("attributedTo"))
    if not author_id or not same_origin(author_id, document["id"]):
        raise DiscussionError("its fediverse object is attributed to an actor on another server")
    async with node.sessions() as session:
        if await queries.get_actor(session, author_id) is not None:
            return None
    try:
        return actor_values_from_ap(await node.fetcher.get_activitypub(author_id))
    except (FetchError, InvalidDocument, OriginMismatch) as exc:
        raise DiscussionError(f"the author of its fediverse object could not be fetched ({exc.reason})") from None


async def _fediverse_thread(node: "Node", session: AsyncSession, document: dict[str, Any],
                            author_values: dict[str, Any] | None) -> Object:
    """The page's own fediverse object as a thread root (the one we hold, or a new remote article)."""
    held = await queries.get_object(session, document["id"])
    if held is not None:
        return held
    author = await queries.get_actor(session, get_id(document.get("attributedTo")) or "")
    if author is None:
        author = await queries.upsert_remote_actor(session, author_values or {})
    name = document.get("name")
    thread = Object(
        ap_id=document["id"], ap_type=str(document.get("type"))[:32], kind="article", is_local=False,
        actor_id=author.id, name=name if isinstance(name, str) else None, content=html_of(document),
        url=http_url(document.get("url")) or document["id"], context=get_id(document.get("context")),
        visibility=visibility_of(document), published=parse_time(document.get("published")) or utcnow(),
        updated=parse_time(document.get("updated")), raw=document,
    )
    session.add(thread)
    await session.flush()
    return thread


async def _link_thread(node: "Node", session: AsyncSession, document: DiscussionDocument, opener: Actor,
                       site: Actor) -> tuple[Object, int]:
    """Our ``Page`` about the document, and its ``Create`` queued for the Group's (and the opener's) followers."""
    urls = node.urls
    ap_id = urls.discussion(document.id)
    now = utcnow()
    thread = Object(
        ap_id=ap_id, ap_type="Page", kind="article", is_local=True, actor_id=opener.id,
        name=document.title or document.canonical_url, content=link_thread_html(document), url=ap_id,
        context=urls.context(ap_id), visibility="public", published=now,
    )
    session.add(thread)
    await session.flush()
    page = link_thread_to_ap(thread, document, opener, site, urls)
    activity = Activity(ap_id=outbox.new_activity_id(urls), ap_type="Create", is_local=True, actor_ap_id=opener.ap_id,
                        object_ap_id=ap_id, status="sent", raw={}, created_at=now)
    activity.raw = create_to_ap(activity, page)
    session.add(activity)
    await session.flush()
    followed = [site] if opener.id == site.id else [opener, site]
    queued = await outbox.deliver_to_followers(session, activity.raw, signer=opener.username, followed=followed)
    return thread, queued


async def _schedule_backfill(node: "Node", session: AsyncSession, root_id: int) -> None:
    """Have the crawler read the object's ``replies`` and ``context`` soon (also from the command line)."""
    from node.federation.crawl import Crawler

    crawler = node.crawler if node.crawler is not None else Crawler(node)
    await crawler.schedule(root_id, session=session)


async def refresh_source(node: "Node", document: DiscussionDocument) -> str | None:
    """Ask the page's fediverse object again whether its comments are open; returns the closed reason.

    A 404 or 410 means the source deleted it: the thread stays here and open, labelled.
    """
    if document.kind != "fediverse" or not document.activitypub_id:
        return document.closed_reason
    reason = None
    try:
        current = await node.fetcher.get_activitypub(document.activitypub_id)
        reason = closed_at_source(current)
    except (NotFound, Gone):
        reason = CLOSED_GONE
    except (FetchError, InvalidDocument, OriginMismatch) as exc:
        log.info("could not refresh %s: %s", document.activitypub_id[:200], exc.reason)
        return document.closed_reason
    async with node.sessions.begin() as session:
        await mark_closed(session, document.id, reason)
    return reason


async def mark_closed(session: AsyncSession, document_id: int, reason: str | None) -> None:
    """Record (or clear, with None) that the source closed its comments."""
    row = await db.get_document(session, document_id)
    if row is None or row.closed_reason == reason:
        return
    row.closed_reason = reason
    row.closed_at = utcnow() if reason else None


def closed_reason_now(recorded: str | None, kind: str, thread_raw: Any, thread_deleted: bool) -> str | None:
    """Why the source's comments are closed, as of what we hold now; None when open.

    What was recorded when the discussion was opened or refreshed, else what the post we
    hold says today: an ``Update`` that locked it (Lemmy) or changed its reply policy, or a
    ``Delete`` that left it a placeholder.  Derived when read, so no activity handler
    has to know about discussions.
    """
    if recorded:
        return recorded
    if kind != "fediverse":
        return None
    if thread_deleted:
        return CLOSED_GONE
    return closed_at_source(thread_raw) if isinstance(thread_raw, dict) else None


def linked_page(document: dict[str, Any]) -> str | None:
    """The external page a fediverse post is about (FEP-8967 / Lemmy link post): its first ``Link`` attachment."""
    for item in as_list(document.get("attachment")):
        if isinstance(item, dict) and item.get("type") == "Link":
            href = http_url(item.get("href"))
            media = item.get("mediaType")
            if href and (media is None or media in ("text/html", "application/xhtml+xml")):
                return href
    return None


async def register_affiliate(session: AsyncSession, thread: Object) -> DiscussionDocument | None:
    """File a followed site's link thread (a top-level post with a ``Link`` attachment) under its page.

    Called when a remote article is stored.  No request is made: the page's address
    and title come from the post.  A document we already hold gains the thread as
    "also discussed at"; otherwise the affiliate's thread becomes the document's thread,
    so asking this node about the page shows it instead of opening a second one.
    """
    raw = thread.raw if isinstance(thread.raw, dict) else {}
    page = linked_page(raw)
    if page is None:
        return None
    try:
        canonical = canonicalize(page)
    except InvalidURL:
        return None
    document = await db.find_document(session, lookup_keys(canonical))
    if document is None:
        name = raw.get("name")
        document = await db.add_document(
            session, canonical_url=canonical, kind="affiliate", thread_id=thread.id,
            title=name[:300] if isinstance(name, str) else None, created_at=utcnow(),
        )
        await db.add_aliases(session, document.id, [canonical])
    await db.add_thread(session, document.id, thread.id, "affiliate")
    return document
