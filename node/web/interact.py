"""Replying from your own server: a reader types their handle once and is sent home to answer.

``GET /interact?uri=<object id>`` shows a small form asking for the reader's
fediverse handle (prefilled from the ``fednode_handle`` cookie).  ``POST
/interact`` looks the handle up with WebFinger, takes the link whose rel is
``http://ostatus.org/schema/1.0/subscribe`` (OStatus remote follow, as Mastodon's
``.well-known/webfinger`` serves it), puts the
object's URI into its ``template`` and answers 303 to the reader's server,
where they can reply.  Nothing changes on this node: the POST only redirects
and remembers the handle in the reader's own cookie.

Only objects this node holds and shows publicly can be the target, so the form
is no open redirect to arbitrary URIs; the reader's server URL must be http(s).
Nor can the form be used to make this node hammer a server: each server is
looked up at most ``LOOKUPS_PER_MINUTE`` times a minute (429 past that).
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from aiohttp import web
from markupsafe import Markup
from yarl import URL

from node.app import NODE, Node
from node.db import queries
from node.db.models import Object
from node.errors import (BadContentType, BadStatus, BlockedAddress, BlockedDomain, FetchError, InvalidDocument,
                         ResponseTooLarge, TooManyRedirects)
from node.federation.netguard import InvalidURL, normalize_host
from node.federation.lookup import webfinger_document
from node.federation.vocab import as_list
from node.web import csrf
from node.web.render import fold_leading_mentions, render, safe_href
from node import site

log = logging.getLogger("fednode.web")

SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
COOKIE = "fednode_handle"
COOKIE_MAX_AGE = 365 * 24 * 3600
MAX_HANDLE = 320
MAX_TEMPLATE = 2048
PUBLIC = ("public", "unlisted")
NO_STORE = {"Cache-Control": "private, no-store"}
LOOKUPS_PER_MINUTE = 30  # WebFinger lookups of one server through this form


class InteractError(Exception):
    """Why the reader cannot be sent to their server, said to them, with the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Handle:
    """A fediverse handle as typed: ``user`` at ``host`` (host in punycode, with a port if any)."""

    user: str
    host: str

    def __str__(self) -> str:
        return f"@{self.user}@{self.host}"


class LookupLimiter:
    """At most ``limit`` lookups of one host in any ``window`` seconds (a sliding window per host)."""

    def __init__(self, limit: int = LOOKUPS_PER_MINUTE, window: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic, hosts: int = 10_000) -> None:
        self.limit, self.window, self.clock, self.hosts = limit, window, clock, hosts
        self._recent: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, host: str) -> bool:
        """Count a lookup of ``host`` now, unless it would pass the limit (then False)."""
        now = self.clock()
        times = self._recent.pop(host, None) or deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        allowed = len(times) < self.limit
        if allowed:
            times.append(now)
        if times:
            self._recent[host] = times  # most recent last; the oldest hosts are forgotten first
            while len(self._recent) > self.hosts:
                self._recent.popitem(last=False)
        return allowed


LIMITER = web.AppKey("interact_lookup_limiter", LookupLimiter)


def parse_handle(text: str) -> Handle:
    """``@user@host``, ``user@host`` or ``acct:user@host``; InteractError for anything else."""
    text = (text or "").strip()
    if not text:
        raise InteractError("Please type your fediverse handle, for example @you@mastodon.social.")
    if len(text) > MAX_HANDLE:
        raise InteractError("That handle is too long.")
    if text.lower().startswith(("http://", "https://")):
        raise InteractError("Please type your handle (like @you@mastodon.social), not a web address.")
    if text.lower().startswith("acct:"):
        text = text[5:]
    user, sep, host = text.removeprefix("@").partition("@")
    bad = set(" \t\r\n/?#@\\<>\"'%")
    if not sep or not user or not host or bad & set(user) or bad & set(host):
        raise InteractError(f"“{text}” is not a fediverse handle; it should look like @you@mastodon.social.")
    name, colon, port = host.rpartition(":")
    if colon and port.isascii() and port.isdigit() and len(port) <= 5 and not name.endswith("]"):
        if not 0 < int(port) < 65536:
            raise InteractError(f"“{text}” names an impossible port.")
    else:
        name, port = host, ""
    try:
        name = normalize_host(name)
    except InvalidURL:
        raise InteractError(f"“{host}” is not a server name.") from None
    return Handle(user, f"{name}:{port}" if port else name)


def fill_template(template: str, uri: str) -> str:
    """The reader's URL: ``template`` with ``{uri}`` replaced by the encoded ``uri``; http(s) only."""
    if "{uri}" not in template:
        raise InteractError("Your server's remote-reply address has no place for the post's address.", 502)
    url = template.replace("{uri}", quote(uri, safe=""))
    if safe_href(url) is None:
        # javascript:, data:, relative paths and the like: never send a browser there.
        raise InteractError("Your server's remote-reply address is not a web address; we will not send you there.", 502)
    return ascii_url(url)


def ascii_url(url: str) -> str:
    """``url`` fit for a ``Location`` header, which is ASCII: an IDN host as punycode, other non-ASCII percent-encoded.

    A template may hold raw UTF-8 (an internationalised host or path); aiohttp
    would send it as it is, and browsers disagree on what such a header means.
    """
    if url.isascii():
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if not netloc.isascii():
        userinfo, at, hostport = netloc.rpartition("@")
        host, colon, port = hostport.rpartition(":") if hostport.rpartition(":")[2].isdigit() else (hostport, "", "")
        try:
            host = normalize_host(host)
        except InvalidURL:
            raise InteractError("Your server's remote-reply address names an invalid server.", 502) from None
        netloc = f"{quote(userinfo, safe='%:')}{at}{host}{colon}{port}"
    rest = urlunsplit(("", "", parts.path, parts.query, parts.fragment))
    # Only the non-ASCII characters change: what the template escaped or reserved stays as it was.
    encoded = "".join(ch if ch.isascii() else quote(ch, safe="") for ch in rest)
    return f"{parts.scheme}://{netloc}{encoded}"


def unreachable(handle: Handle, exc: Exception) -> str:
    """Why the reader's server could not be asked, in words for the reader (never an exception's class name)."""
    host = handle.host
    reason = getattr(exc, "reason", "") or ""
    if isinstance(exc, BlockedDomain):
        return f"This site does not deal with {host}."
    if isinstance(exc, BlockedAddress):
        return f"{host} is not a server on the public internet, so this site will not contact it."
    if isinstance(exc, TooManyRedirects):
        return f"{host} kept sending us elsewhere instead of answering. Try again later."
    if isinstance(exc, (InvalidDocument, ResponseTooLarge, BadContentType)):
        return f"{host} did not answer like a fediverse server. Is the handle spelled right?"
    if reason.startswith("timed out"):
        return f"{host} did not answer in time. It may be busy; try again in a minute."
    if "DNS" in reason or "Name or service not known" in reason or "getaddrinfo" in reason:
        return f"There is no server called {host}. Is the handle spelled right?"
    return f"Could not connect to {host}. The server may be down; try again later."


async def subscribe_template(node: Node, handle: Handle) -> str:
    """The ``template`` of the handle's subscribe link, by WebFinger through the node's guarded fetcher.

    https first; http too only when the node allows http (as ``lookup`` does).
    """
    try:
        data = await webfinger_document(node.fetcher, handle.user, handle.host, allow_http=node.settings.allow_http)
    except BadStatus as exc:
        if exc.status in (404, 410):
            raise InteractError(f"{handle.host} does not know {handle}. Is the handle spelled right?", 400) from None
        raise InteractError(
            f"{handle.host} answered {exc.status or 'with an error'} when asked about {handle}.", 502) from None
    except (FetchError, InvalidDocument) as exc:
        log.info("interact: WebFinger for %s failed: %s", handle, exc.reason)
        raise InteractError(unreachable(handle, exc), 502) from None
    for link in as_list(data.get("links")):
        if isinstance(link, dict) and link.get("rel") == SUBSCRIBE_REL:
            template = link.get("template")
            if isinstance(template, str) and 0 < len(template) <= MAX_TEMPLATE:
                return template
    raise InteractError(
        f"{handle.host} does not offer replying from a link (its WebFinger has no subscribe template). "
        f"Search for the post's address on your server instead.", 502)


async def _target(node: Node, uri: str) -> Object:
    """The public, undeleted article or comment held here whose id is ``uri``."""
    if not uri or len(uri) > 2048:
        raise InteractError("No post was named. Use the “reply” link under an article or a comment.")
    async with node.sessions() as session:
        obj = await queries.get_object(session, uri)
    if obj is None or obj.deleted_at is not None or obj.visibility not in PUBLIC:
        raise InteractError("This site holds no public post at that address.")
    return obj


def _remembered(request: web.Request) -> str:
    raw = request.cookies.get(COOKIE, "")
    handle = unquote(raw)[:MAX_HANDLE]
    return handle if handle.isprintable() else ""


EXCERPT = 280  # characters of an article's text quoted above the form


def _what_is_answered(target: Object | None) -> tuple[Markup | None, str]:
    """What the form quotes: a comment's text as shown in the discussion, or the start of an article's text."""
    if target is None:
        return None, ""
    if target.kind == "article":
        text = " ".join(html.unescape(re.sub(r"<[^>]*>", " ", target.content or "")).split())
        return None, text if len(text) <= EXCERPT else text[:EXCERPT - 1].rstrip() + "…"
    content = target.content or ""  # sanitised when stored
    return Markup(content if target.is_local else fold_leading_mentions(content)), ""


def _form(request: web.Request, *, target: Object | None, uri: str, handle: str, error: str | None,
          status: int = 200) -> web.Response:
    settings = request.app[NODE].settings
    quoted, excerpt = _what_is_answered(target)
    return render(
        "interact.html", status=status, headers=dict(NO_STORE), target=target, uri=uri, handle=handle, error=error,
        quoted=quoted, excerpt=excerpt,
        site_name=site.current(request.app[NODE]).name, site_handle=f"@{settings.site_username}@{settings.host}",
    )


def _cross_site(request: web.Request) -> bool:
    """Whether the form was posted from another site (it could plant a handle in the reader's cookie)."""
    if request.headers.get("Sec-Fetch-Site", "") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False  # not a browser, or an old one: nothing to plant
    if origin == "null":
        return True
    base = URL(request.app[NODE].settings.base)
    try:
        sent = URL(origin)
    except ValueError:
        return True
    return (sent.scheme, sent.host, sent.port) != (base.scheme, base.host, base.port)


def _over_https(request: web.Request) -> bool:
    """Whether the reader reached us over https: the public URL says so, or the connection or TLS proxy does."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return urlsplit(request.app[NODE].settings.base).scheme == "https" or request.secure or forwarded == "https"


async def interact_form(request: web.Request) -> web.Response:
    """``GET /interact?uri=``: the form asking for the reader's handle (400 for a post we do not show)."""
    node = request.app[NODE]
    uri = request.query.get("uri", "")
    try:
        target = await _target(node, uri)
    except InteractError as exc:
        return _form(request, target=None, uri="", handle=_remembered(request), error=exc.message, status=exc.status)
    return _form(request, target=target, uri=uri, handle=_remembered(request), error=None)


async def interact_submit(request: web.Request) -> web.Response:
    """``POST /interact``: look the handle's server up and send the reader there (303), remembering the handle."""
    node = request.app[NODE]
    try:
        form = await request.post()
    except Exception:  # a body that is not a form: answer like any other bad input
        form = {}
    uri = form.get("uri", "") if isinstance(form.get("uri", ""), str) else ""
    typed = form.get("handle", "") if isinstance(form.get("handle", ""), str) else ""
    target = None
    try:
        if _cross_site(request):
            raise InteractError("This form can only be sent from this site's own pages.", 403)
        target = await _target(node, uri)
        token = form.get(csrf.FIELD, "")
        if not isinstance(token, str) or not csrf.token_is_valid(request, token):
            # The form shown again carries a fresh token: sending it once more works.
            raise InteractError(f"{csrf.REFUSED}: the form was too old or came from another site. Send it again.", 403)
        handle = parse_handle(typed)
        if handle.host == node.settings.host:
            raise InteractError(f"{handle.host} is this site, which has no accounts to reply from. "
                                f"Type the handle of your account on your own server.")
        if not request.app[LIMITER].allow(handle.host):
            raise InteractError(f"Too many people asked us to look up {handle.host} in the last minute. "
                                f"Please try again in a minute.", 429)
        url = fill_template(await subscribe_template(node, handle), target.ap_id)
    except InteractError as exc:
        return _form(request, target=target, uri=uri if target else "", handle=typed[:MAX_HANDLE],
                     error=exc.message, status=exc.status)
    response = web.Response(status=303, headers={"Location": url, **NO_STORE})
    response.set_cookie(
        COOKIE, quote(str(handle), safe=""), max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="Lax",
        secure=_over_https(request),
    )
    return response
