"""Replying from your own server: the rules behind ``/interact`` (node/web/interact.py maps them to HTTP).

A reader types their fediverse handle; ``reply_url`` looks it up with WebFinger, takes the
link whose rel is ``http://ostatus.org/schema/1.0/subscribe`` (OStatus remote follow, as
Mastodon's ``.well-known/webfinger`` serves it), puts the post's id into its ``template`` and
gives the URL to send the reader to, where they can reply.  Nothing is stored.

Only posts this node holds and shows publicly can be the target (``find_target``), so the
form is no open redirect to arbitrary URIs; the reader's server URL must be http(s).  Nor can
the form be used to make this node hammer a server: each server is looked up at most
``LOOKUPS_PER_MINUTE`` times a minute (``LookupLimiter``; 429 past that).  Every refusal is an
``InteractError`` carrying the words for the reader and the HTTP status to answer.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable
from urllib.parse import quote, urlsplit, urlunsplit

from node.db import queries
from node.db.models import Object
from node.errors import (BadContentType, BadStatus, BlockedAddress, BlockedDomain, FetchError, InvalidDocument,
                         ResponseTooLarge, TooManyRedirects)
from node.federation.lookup import webfinger_document
from node.federation.netguard import InvalidURL, normalize_host
from node.federation.vocab import as_list
from node.web.render import safe_href

if TYPE_CHECKING:
    from node.app import Node

log = logging.getLogger("fednode.web")

SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
MAX_HANDLE = 320
MAX_TEMPLATE = 2048
PUBLIC = ("public", "unlisted")
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


async def subscribe_template(node: "Node", handle: Handle) -> str:
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


async def find_target(node: "Node", uri: str) -> Object:
    """The public, undeleted article or comment held here whose id is ``uri``."""
    if not uri or len(uri) > 2048:
        raise InteractError("No post was named. Use the “reply” link under an article or a comment.")
    async with node.sessions() as session:
        obj = await queries.get_object(session, uri)
    if obj is None or obj.deleted_at is not None or obj.visibility not in PUBLIC:
        raise InteractError("This site holds no public post at that address.")
    return obj


async def reply_url(node: "Node", limiter: LookupLimiter, target: Object, typed: str) -> tuple[Handle, str]:
    """The handle the reader typed and the URL on their server where they can reply to ``target``.

    InteractError when the handle is not one, names this site, its server was looked up too
    often in the last minute, or its server offers no usable subscribe template.
    """
    handle = parse_handle(typed)
    if handle.host == node.settings.host:
        raise InteractError(f"{handle.host} is this site, which has no accounts to reply from. "
                            f"Type the handle of your account on your own server.")
    if not limiter.allow(handle.host):
        raise InteractError(f"Too many people asked us to look up {handle.host} in the last minute. "
                            f"Please try again in a minute.", 429)
    return handle, fill_template(await subscribe_template(node, handle), target.ap_id)
