"""From a URL to one document: fetch the page once, read what it says about itself, decide its aliases.

``resolve_page`` makes every request a discussion needs before anything is stored (network I/O
never happens inside a database transaction): one GET of the page through a guarded ``Fetcher``
(private addresses refused before any connection, redirects checked, size and time bounded, HTML
only) and, when the page is itself on the fediverse, one signed fetch of its ActivityPub object.
It asks with an ``Accept`` that puts ActivityStreams first, so a server that content-negotiates
(Mastodon, WordPress with the ActivityPub plugin, Fedify apps) answers with the object itself.

Every failure is a ``DiscussionError`` whose reason can be shown to the person who asked.
"""

from __future__ import annotations

import codecs
import logging
import re
from html import unescape as html_unescape
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from node.errors import (BadStatus, BlockedAddress, BlockedDomain, FetchError, InvalidDocument, NodeError,
                         OriginMismatch, ResponseTooLarge, TooManyRedirects)
from node.federation.comments import COMMENT_TYPES, parse_time
from node.federation.fetch import Fetcher, is_activitypub_content_type
from node.federation.netguard import InvalidURL
from node.federation.vocab import AP_ACCEPT, PUBLIC_FORMS, as_list, get_id
from node.discussions.canonical import canonicalize, fetchable, same_site
from node.discussions.metadata import MAX_TITLE, PageMeta, declared_charset, read_meta, text

log = logging.getLogger("fednode.discussions")

# ActivityStreams first: a fediverse server hands over the object, any other site its HTML.
PAGE_ACCEPT = f"{AP_ACCEPT}, text/html;q=0.9, application/xhtml+xml;q=0.9"
HTML_TYPES = ("text/html", "application/xhtml+xml")
MAX_EXCERPT = 120  # characters of a Note's text that title its discussion
_TAGS = re.compile(r"<[^>]*>")


class DiscussionError(NodeError):
    """Why a URL cannot be discussed (shown to the person who asked; nothing was stored)."""


class DiscussionRateLimited(DiscussionError):
    """The member opened as many discussions as ``discuss_opens_per_hour`` allows (the API's 429)."""


@dataclass(frozen=True)
class ResolvedPage:
    """What one fetch learned about a page: its canonical URL, every alias, its metadata, its fediverse object."""

    requested: str  # the URL asked for, canonicalised
    canonical: str
    aliases: tuple[str, ...]  # every spelling seen, canonicalised (requested, redirects, final, canonical)
    meta: PageMeta = field(default_factory=PageMeta)
    activitypub: dict[str, Any] | None = None  # the page's own fediverse object, when it has one
    published: datetime | None = None
    fediverse_error: str | None = None  # why an advertised fediverse object could not be used


def requested_form(url: str) -> str:
    """``canonicalize`` with its refusal as a DiscussionError."""
    try:
        return canonicalize(url)
    except InvalidURL as exc:
        raise DiscussionError(exc.reason) from None


def _explain(exc: Exception, url: str) -> DiscussionError:
    """A reason a reader understands for a failed page fetch."""
    if isinstance(exc, BlockedDomain):
        return DiscussionError("that site is blocked on this node")
    if isinstance(exc, BlockedAddress):
        return DiscussionError("that address is private or local; this node only fetches public web pages")
    if isinstance(exc, TooManyRedirects):
        return DiscussionError(f"the page redirects too often or in a loop ({exc.reason})")
    if isinstance(exc, ResponseTooLarge):
        return DiscussionError("the page is too large to read")
    if isinstance(exc, BadStatus):
        return DiscussionError(f"the page answered HTTP {exc.status}")
    if isinstance(exc, FetchError) and "timed out" in exc.reason:
        return DiscussionError("the page took too long to answer")
    if isinstance(exc, FetchError):
        return DiscussionError(exc.reason)
    return DiscussionError(f"could not read {url[:200]}")


def decode_html(body: bytes, content_type: str) -> str:
    """The page's text: the charset of the Content-Type, else of a ``<meta>``, else UTF-8 (bad bytes replaced)."""
    charset = None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if body.startswith(codecs.BOM_UTF8):
        charset = "utf-8"
    charset = charset or declared_charset(body) or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    return body.decode(charset, errors="replace")


def believed(page_url: str, claim: str | None) -> str | None:
    """The canonical form of a page's claim about its own address, when it stays within its site."""
    if not claim or not same_site(page_url, claim):
        return None
    try:
        return canonicalize(claim)
    except InvalidURL:
        return None


def closed_at_source(document: dict[str, Any]) -> str | None:
    """Why the object's own server takes no public replies, from what the object says; None when open.

    Lemmy writes ``commentsEnabled: false`` on a locked post; GoToSocial (and Mastodon's
    quote and reply policies after it) write ``interactionPolicy.canReply``, whose
    ``always``/``approvalRequired`` lists (``automaticApproval``/``manualApproval`` in
    newer GoToSocial) name who may reply: without the Public collection, the public may not.
    """
    if document.get("commentsEnabled") is False:
        return "the source locked its comments"
    policy = document.get("interactionPolicy")
    can_reply = policy.get("canReply") if isinstance(policy, dict) else None
    if isinstance(can_reply, dict):
        allowed = {get_id(item) for key in ("always", "approvalRequired", "automaticApproval", "manualApproval")
                   for item in as_list(can_reply.get(key))}
        if not allowed & PUBLIC_FORMS:
            return "the source allows replies only from people it chose"
    return None


async def fetch_object(fetcher: Fetcher, url: str) -> dict[str, Any]:
    """A fediverse post at ``url`` (its id checked by the fetcher); DiscussionError if it is not one."""
    try:
        document = await fetcher.get_activitypub(url)
    except (FetchError, InvalidDocument, OriginMismatch) as exc:
        raise DiscussionError(f"its fediverse object could not be fetched ({exc.reason})") from None
    if document.get("type") not in COMMENT_TYPES:
        raise DiscussionError(f"its fediverse object is a {str(document.get('type'))[:40]}, not a post")
    return document


async def resolve_page(page_fetcher: Fetcher, ap_fetcher: Fetcher, url: str) -> ResolvedPage:
    """Fetch ``url`` once and say which document it is; DiscussionError (nothing learned) otherwise."""
    requested = requested_form(url)
    target = fetchable(url)
    try:
        fetched = await page_fetcher.get(target, accept=PAGE_ACCEPT, signed=False)
    except (FetchError, InvalidDocument) as exc:
        raise _explain(exc, target) from None
    final = fetched.url
    hops = [requested, *(_canonical_or_none(hop) for hop in (*fetched.redirects, final))]
    mime = fetched.content_type.split(";")[0].strip().lower()
    if is_activitypub_content_type(fetched.content_type):
        # The URL itself is a fediverse post (content negotiation): its thread is the discussion.
        document = await fetch_object(ap_fetcher, final)
        canonical = believed(final, document.get("url") if isinstance(document.get("url"), str) else None) \
            or requested_form(final)
        aliases = tuple(dict.fromkeys(a for a in (*hops, canonical) if a))
        meta = PageMeta(title=post_title(document), activitypub=document["id"])
        return ResolvedPage(requested, canonical, aliases, meta, document, parse_time(document.get("published")))
    if mime not in HTML_TYPES:
        raise DiscussionError(f"that is not a web page (it is {mime[:60] or 'of no stated type'}); "
                              "only HTML pages can be discussed")
    meta = read_meta(decode_html(fetched.body, fetched.content_type), final)
    canonical = believed(final, meta.canonical) or believed(final, meta.og_url) or requested_form(final)
    aliases = tuple(dict.fromkeys(a for a in (*hops, canonical) if a))
    document = None
    problem = None
    if meta.activitypub and same_site(final, meta.activitypub):
        try:
            document = await fetch_object(ap_fetcher, meta.activitypub)
        except DiscussionError as exc:  # the page is still there to discuss: a link thread then
            problem = exc.reason
            log.info("page %s advertises %s: %s", final[:200], meta.activitypub[:200], exc.reason)
    elif meta.activitypub:
        problem = "its fediverse alternate is on another site"
    return ResolvedPage(requested, canonical, aliases, meta, document,
                        parse_time(meta.published) if meta.published else None, problem)


def _canonical_or_none(url: str) -> str | None:
    try:
        return canonicalize(url)
    except InvalidURL:
        return None


def post_title(document: dict[str, Any]) -> str | None:
    """A fediverse post's title: its ``name``, else the start of its text (a Note has no name)."""
    name = document.get("name")
    if isinstance(name, str) and name.strip():
        return text(name, MAX_TITLE)
    content = document.get("content")
    if not isinstance(content, str):
        return None
    plain = html_unescape(_TAGS.sub(" ", content[:4 * MAX_EXCERPT]))
    return text(plain, MAX_EXCERPT)
