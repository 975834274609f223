"""The one place where the node makes outgoing HTTP requests.

Actors, keys, objects, collections, WebFinger and NodeInfo are all fetched through
a ``Fetcher``, and deliveries are posted through it, so the defences of
ActivityPub §B.1 (security considerations) and Mastodon's limits hold for every one of them:

* SSRF: only http(s); the resolver drops non-public addresses, and the connector
  connects only to the addresses it returned (no second DNS lookup to rebind);
  IP literals and ``localhost`` are refused before any connection.
* Redirects are followed by hand, at most ``max_redirects`` hops, each hop checked
  again; loops and https→http downgrades are refused (Fedify CVE-2026-34148 and
  CVE-2026-77632: redirects that looped or led a signed fetch to a private address).
* A total deadline per fetch, not only per socket read (Mastodon CVE-2023-36461:
  a trickling server held workers forever).
* A cap on the *decompressed* body (gzip bombs; aiohttp CVE-2025-69223).
* Fetched AS2 documents must have an AS2 content type (Mastodon CVE-2024-25623) and
  an ``id`` naming the URL they came from (R4, Mastodon CVE-2024-23832).
"""

from __future__ import annotations

import asyncio
import copy
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from node.errors import (BadContentType, BadStatus, BlockedAddress, BlockedDomain, FetchError, Gone, HostUnreachable,
                         InvalidDocument, NotFound,
                         OriginMismatch, ResponseTooLarge, TooManyRedirects)
from node.federation.httpsig import BodyDigests
from node.federation.jsonlimits import loads_bounded, loads_object
from node.federation.netguard import (IPAddress, InvalidURL, canonical_url, ip_literal, is_blocked, is_numeric_host,
                                      is_public_address, normalize_host, same_origin, same_url)
from node.federation.vocab import ACTIVITY_JSON, AP_ACCEPT, AS_NS

CAVAGE = "cavage"
RFC9421 = "rfc9421"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
# Delivery targets that passed ``_check_url``, kept this long: a fan-out posts to the same
# inboxes over and over, and the check depends only on the URL and the policy.
TARGET_TTL = 60.0
MAX_TARGETS = 4096
# A POST signed ahead of time (``sign_post``) is signed again when it waited longer than
# this to be sent: a signature's Date must stay close to when the request goes out.
PRESIGNED_MAX_AGE = 10.0
T = TypeVar("T")

AddressCheck = Callable[[str, IPAddress], bool]
"""``(host name, address) -> allowed?``: decides whether we may connect to one resolved address."""


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and switches for outgoing fetches (defaults: Mastodon's numbers, ``app/lib/request.rb``)."""

    allow_http: bool = False                 # https only unless the operator allows http
    allow_private_network: bool = False      # tests on loopback turn this on explicitly
    max_bytes: int = 1024 * 1024             # after decompression
    max_redirects: int = 3
    connect_timeout: float = 5
    read_timeout: float = 10
    total_timeout: float = 30
    own_hosts: frozenset[str] = frozenset()  # never fetch from ourselves (R7)
    blocked_domains: tuple[str, ...] = ()    # the operator's blocks: never contacted, subdomains included


class Signer(Protocol):
    """Signs one outgoing request; implemented with the instance actor's key elsewhere.

    A signer may also have ``async sign_async(method, url, headers, body, scheme, *,
    digests)`` (``ActorSigner`` has, to sign in a signing process); the Fetcher then
    awaits that instead of calling ``sign`` on the event loop.
    """

    def sign(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
             scheme: str) -> dict[str, str]:
        """The headers to add; ``scheme`` is ``"cavage"`` or ``"rfc9421"``."""
        ...


class SchemeMemory:
    """Per host, the signature scheme that last worked (bounded LRU, default cavage first)."""

    def __init__(self, max_hosts: int = 10_000, default: str = CAVAGE) -> None:
        self._hosts: OrderedDict[str, str] = OrderedDict()
        self._max_hosts = max_hosts
        self._default = default

    def preferred(self, host: str) -> str:
        """The scheme to try first for ``host``."""
        return self._hosts.get(host, self._default)

    def remember(self, host: str, scheme: str) -> None:
        """Record that ``scheme`` worked for ``host`` (evicting the least recently used host)."""
        self._hosts[host] = scheme
        self._hosts.move_to_end(host)
        while len(self._hosts) > self._max_hosts:
            self._hosts.popitem(last=False)

    def __len__(self) -> int:
        return len(self._hosts)


@dataclass(frozen=True)
class Fetched:
    """A 200 response: final URL after redirects, full Content-Type header, body, parsed JSON or None."""

    url: str
    status: int
    content_type: str
    body: bytes
    data: Any = None
    redirects: tuple[str, ...] = ()  # the URLs that redirected here, in order (the first is the one asked for)


@dataclass(frozen=True)
class Posted:
    """What a server answered to a signed POST (a delivery)."""

    status: int
    retry_after: str | None = None
    scheme: str | None = None  # the signature scheme of the request that got this answer
    excerpt: str = ""  # the start of the body, for the delivery log


@dataclass(frozen=True)
class SignedPost:
    """The headers of a POST signed ahead of sending (``Fetcher.sign_post``)."""

    url: str
    scheme: str
    headers: dict[str, str]
    signed_at: float  # time.monotonic()


@dataclass(frozen=True)
class _Reply:
    status: int
    content_type: str = ""
    body: bytes = b""
    location: str | None = None


class GuardedResolver(AbstractResolver):
    """Wraps a resolver and keeps only the addresses ``allowed`` accepts; BlockedAddress if none.

    The connector connects to what this returns, so the address checked is the
    address used: a DNS answer cannot change between the check and the connect.
    """

    def __init__(self, inner: AbstractResolver, allowed: AddressCheck) -> None:
        self._inner = inner
        self._allowed = allowed

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """Resolve with the wrapped resolver, then drop every address we must not reach."""
        kept = []
        for result in await self._inner.resolve(host, port, family):
            address = ip_literal(result["host"].split("%", 1)[0])  # drop a link-local zone id
            if address is not None and self._allowed(host, address):
                kept.append(result)
        if not kept:
            raise BlockedAddress(f"{host} resolves only to addresses we do not connect to")
        return kept

    async def close(self) -> None:
        """Close the wrapped resolver."""
        await self._inner.close()


def redirect_target(current: URL | str, location: str) -> URL:
    """The next URL of a redirect (relative Locations resolved); FetchError on https→http."""
    base = URL(current) if isinstance(current, str) else current
    try:
        target = base.join(URL(location))
    except (ValueError, TypeError) as exc:
        raise FetchError("invalid redirect Location") from exc
    if base.scheme == "https" and target.scheme != "https":
        raise FetchError("refusing a redirect from https to another scheme")
    return target.with_fragment(None)


def is_activitypub_content_type(value: str) -> bool:
    """R5: ``application/activity+json``, or ``application/ld+json`` with the AS2 profile."""
    mime, *params = (part.strip() for part in value.split(";"))
    mime = mime.lower()
    if mime == ACTIVITY_JSON:
        return True
    if mime != "application/ld+json":
        return False
    for param in params:
        name, _, raw = param.partition("=")
        if name.strip().lower() == "profile" and AS_NS in raw.strip().strip('"').split():
            return True
    return False


class Fetcher:
    """Performs every outgoing GET with the SSRF guard, limits and optional signing.

    ``resolver`` and ``is_allowed_address`` are seams for tests: the first replaces
    DNS, the second replaces ``is_public_address`` (it gets the host name too).
    """

    def __init__(self, policy: FetchPolicy, *, signer: Signer | None = None, user_agent: str = "Fednode/0.1",
                 scheme_memory: SchemeMemory | None = None, resolver: AbstractResolver | None = None,
                 is_allowed_address: AddressCheck | None = None, sign_pool: Any = None,
                 connection_limit: int = 100) -> None:
        self.policy = policy
        # Open connections in all (aiohttp's pool); the delivery lanes need more than the default.
        self.connection_limit = connection_limit
        # The signing processes (node.federation.signpool.SignPool) the signers use; the
        # Fetcher owns it and shuts it down in ``close``.
        self.sign_pool = sign_pool
        self.signer = signer
        self.user_agent = user_agent
        self.scheme_memory = scheme_memory if scheme_memory is not None else SchemeMemory()
        self._inner_resolver = resolver
        self._is_allowed_address = is_allowed_address
        self._own_hosts = frozenset(_normalize_own(h) for h in policy.own_hosts)
        self._session: aiohttp.ClientSession | None = None
        self._resolver: GuardedResolver | None = None
        self._inflight: dict[tuple[Any, ...], asyncio.Future[Any]] = {}
        # url -> (parsed URL, its text as sent and signed, authority, expiry, the policy it was checked under)
        self._targets: dict[str, tuple[URL, str, str, float, FetchPolicy]] = {}
        self._post_timeout: tuple[FetchPolicy, aiohttp.ClientTimeout] | None = None
        # Told the outcome of every GET ("ok", "timeout", "not_found"...): the node's metrics.
        self.on_fetch: Callable[[str], None] | None = None

    async def close(self) -> None:
        """Cancel in-flight fetches, close the HTTP session and stop the signing processes."""
        for task in list(self._inflight.values()):
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None and self._inner_resolver is None:
            await self._resolver.close()  # only the resolver we made; a caller's stays usable
        self._resolver = None
        if self.sign_pool is not None:
            await self.sign_pool.close()

    async def get(self, url: str, *, accept: str, signed: bool = True) -> Fetched:
        """GET ``url`` through the guard; a 200 with its raw body, or a FetchError subclass."""
        key = ("raw", _key(url), accept, signed)
        fetched, _ = await self._single_flight(key, lambda: self._get_with_deadline(url, accept, signed))
        return fetched

    async def get_json(self, url: str, *, accept: str = "application/json", signed: bool = False) -> Fetched:
        """Like ``get``, with ``data`` parsed by ``loads_bounded`` (the Content-Type is not checked)."""
        fetched = await self.get(url, accept=accept, signed=signed)
        return replace(fetched, data=loads_bounded(fetched.body))

    async def get_activitypub(self, url: str, *, signed: bool = True) -> dict[str, Any]:
        """An AS2 document whose ``id`` is the URL it was served from (R4, R5).

        Redirects: a document is accepted when its ``id`` equals the final URL (the
        server that answered vouches for it, like Akkoma's containment check), or
        the requested URL when the redirect stayed on the same origin (the server
        moved its own document). An ``id`` naming the requested URL but served by
        another origin is refused: an open redirect on a victim's site must not let
        a third party serve documents under the victim's ids. Like Mastodon we
        refetch by ``id`` when it differs (display URL → canonical id), but only
        when the id is on the origin of the URL we were given or the one that
        answered; the refetched document must then match its own URL exactly.
        Raises FetchError subclasses, InvalidDocument or OriginMismatch.
        """
        key = ("ap", _key(url), signed)
        document, leader = await self._single_flight(key, lambda: self._activitypub(url, signed))
        return document if leader else copy.deepcopy(document)

    async def _activitypub(self, url: str, signed: bool) -> dict[str, Any]:
        """Fetch, check the id, and refetch once by id when the URL was not the id."""
        final_url, document = await self._fetch_document(url, signed)
        ident = _document_id(document)
        if _id_matches(ident, url, final_url):
            return document
        if same_url(ident, url):
            raise OriginMismatch(f"{url} was redirected to another origin that served its id")
        if not (same_origin(ident, url) or same_origin(ident, final_url)):
            raise OriginMismatch(f"document at {url} claims the id {ident[:200]} of another origin")
        final_url, document = await self._fetch_document(ident, signed)
        if not _id_matches(_document_id(document), ident, final_url):
            raise OriginMismatch(f"document at {ident[:200]} does not carry its own id")
        return document

    async def _fetch_document(self, url: str, signed: bool) -> tuple[str, dict[str, Any]]:
        fetched = await self.get(url, accept=AP_ACCEPT, signed=signed)
        if not is_activitypub_content_type(fetched.content_type):
            raise BadContentType(f"{fetched.url} is {fetched.content_type[:100] or 'untyped'}, not ActivityStreams")
        return fetched.url, loads_object(fetched.body)

    async def _single_flight(self, key: tuple[Any, ...], start: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """Run ``start()`` once per key at a time; concurrent callers await the same task.

        Returns (result, whether this caller started it). Mastodon serialises work
        per URI with a lock for the same reason: a burst of activities naming one
        actor must not become a burst of fetches against its server.
        """
        task = self._inflight.get(key)
        leader = task is None
        if task is None:
            task = asyncio.ensure_future(start())
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        # shield: one waiter giving up must not cancel the fetch the others wait for.
        return await asyncio.shield(task), leader

    def _forget(self, key: tuple[Any, ...], task: asyncio.Future[Any]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # mark retrieved even when every waiter was cancelled

    async def sign_post(self, url: str, body: bytes, signer: Signer, *, content_type: str = ACTIVITY_JSON,
                        digests: BodyDigests | None = None) -> SignedPost:
        """Sign a POST ahead of ``post``, with the scheme the host wants now (the URL is checked first).

        The delivery worker signs while a row waits for a free slot, so that signing
        time is not spent holding one.  Raises FetchError (BlockedAddress) as ``post`` would.
        """
        _, text, authority = self._post_target(url)
        scheme = self.scheme_memory.preferred(authority)
        headers = await self._post_headers(text, body, signer, scheme, content_type, digests)
        return SignedPost(url, scheme, headers, time.monotonic())

    async def post(self, url: str, body: bytes, signer: Signer, *, content_type: str = ACTIVITY_JSON,
                   digests: BodyDigests | None = None, signed: SignedPost | None = None) -> Posted:
        """POST ``body`` signed by ``signer``; no redirects. Raises FetchError on network failure.

        Signs with the scheme remembered for the host (draft-cavage by default); on
        401 signs again once with the other scheme and remembers the one accepted.
        ``digests`` are ``BodyDigests(body)`` when the caller sends the same body often;
        ``signed`` are headers from ``sign_post``, used when still fresh and of the right
        scheme (otherwise the request is signed anew).
        """
        target, text, authority = self._post_target(url)
        first = self.scheme_memory.preferred(authority)
        headers = None
        if (signed is not None and signed.url == url and signed.scheme == first
                and signed.headers.get("Content-Type") == content_type
                and time.monotonic() - signed.signed_at < PRESIGNED_MAX_AGE):
            headers = signed.headers
        try:
            async with asyncio.timeout(self.policy.total_timeout):
                if headers is None:
                    headers = await self._post_headers(text, body, signer, first, content_type, digests)
                reply = await self._post_once(target, body, headers, first)
                if reply.status == 401:
                    second = RFC9421 if first == CAVAGE else CAVAGE
                    headers = await self._post_headers(text, body, signer, second, content_type, digests)
                    reply = await self._post_once(target, body, headers, second)
        except TimeoutError:
            raise FetchError(f"timed out posting to {url[:200]}") from None
        except aiohttp.ClientError as exc:
            raise FetchError(f"could not post to {url[:200]}: {exc.__class__.__name__}") from None
        if 200 <= reply.status < 300:
            self.scheme_memory.remember(authority, reply.scheme or first)
        return reply

    async def post_plain(self, url: str, body: bytes, headers: dict[str, str]) -> Posted:
        """POST ``body`` with ``headers`` and no HTTP signature (webhooks sign their own way); no redirects.

        The same guard as every request (scheme, own host, blocked domains, private addresses
        checked at each connection) and the same deadline.  Raises FetchError on network failure.
        """
        target, _, _ = self._post_target(url)
        sent = {"User-Agent": self.user_agent, **headers}
        try:
            async with asyncio.timeout(self.policy.total_timeout):
                return await self._post_once(target, body, sent, "")
        except TimeoutError:
            raise FetchError(f"timed out posting to {url[:200]}") from None
        except aiohttp.ClientError as exc:
            raise FetchError(f"could not post to {url[:200]}: {exc.__class__.__name__}") from None

    def _post_target(self, url: str) -> tuple[URL, str, str]:
        """``url`` parsed and checked by ``_check_url``, from a short-lived cache when it passed lately.

        The check looks only at the URL and the policy, never at DNS: the addresses are
        checked by the resolver at each connection, so caching the check loses nothing.
        A policy replaced since (tests do) makes the entry stale.
        """
        now = time.monotonic()
        cached = self._targets.get(url)
        if cached is not None and cached[3] > now and cached[4] is self.policy:
            return cached[0], cached[1], cached[2]
        try:
            target = URL(url)
        except (ValueError, TypeError) as exc:
            raise FetchError("invalid URL") from exc
        self._check_url(target)
        authority = target.host_port_subcomponent or ""
        if len(self._targets) >= MAX_TARGETS:
            self._targets.clear()  # cheaper than an LRU, and refilled at one check per URL
        text = str(target)
        self._targets[url] = (target, text, authority, now + TARGET_TTL, self.policy)
        return target, text, authority

    async def _post_headers(self, url: str, body: bytes, signer: Signer, scheme: str, content_type: str,
                            digests: BodyDigests | None) -> dict[str, str]:
        headers = {"Content-Type": content_type, "User-Agent": self.user_agent}
        headers.update(await _sign(signer, "POST", url, headers, body, scheme, digests))
        return headers

    async def _post_once(self, target: URL, body: bytes, headers: dict[str, str], scheme: str) -> Posted:
        # ``post`` bounds the whole exchange with its own deadline: aiohttp's total timer
        # would only duplicate it, so a POST keeps aiohttp's connect and read timeouts alone.
        policy = self.policy
        if self._post_timeout is None or self._post_timeout[0] is not policy:
            self._post_timeout = (policy, aiohttp.ClientTimeout(total=None, sock_connect=policy.connect_timeout,
                                                                sock_read=policy.read_timeout))
        async with self._get_session().post(target, data=body, headers=headers, allow_redirects=False,
                                            timeout=self._post_timeout[1]) as resp:
            excerpt = (await resp.content.read(2048)).decode("utf-8", "replace")
            return Posted(resp.status, resp.headers.get("Retry-After"), scheme, excerpt)

    async def _get_with_deadline(self, url: str, accept: str, signed: bool) -> Fetched:
        """One deadline for the whole fetch, redirects and the signature retry included."""
        outcome = "ok"
        try:
            async with asyncio.timeout(self.policy.total_timeout):
                return await self._follow(url, accept, signed)
        except TimeoutError:
            outcome = "timeout"
            raise HostUnreachable(f"timed out fetching {url[:200]}") from None
        except aiohttp.ClientError as exc:
            outcome = "error"
            raise HostUnreachable(f"could not fetch {url[:200]}: {exc.__class__.__name__}") from None
        except FetchError as exc:
            outcome = _FETCH_OUTCOMES.get(type(exc), "error")
            raise
        finally:
            if self.on_fetch is not None:
                self.on_fetch(outcome)

    async def _follow(self, url: str, accept: str, signed: bool) -> Fetched:
        try:
            current = URL(url)
        except (ValueError, TypeError) as exc:
            raise FetchError("invalid URL") from exc
        seen: set[str] = set()
        redirects = 0
        hops: list[str] = []
        while True:
            self._check_url(current)
            marker = canonical_url(str(current))
            if marker in seen:
                raise TooManyRedirects(f"redirect loop at {marker[:200]}")
            seen.add(marker)
            reply = await self._exchange(current, accept, signed)
            if reply.status in REDIRECT_STATUSES:
                if reply.location is None:
                    raise BadStatus(f"redirect without Location from {current}", status=reply.status)
                redirects += 1
                if redirects > self.policy.max_redirects:
                    raise TooManyRedirects(f"more than {self.policy.max_redirects} redirects")
                hops.append(str(current))
                current = redirect_target(current, reply.location)
                continue
            if reply.status == 200:
                return Fetched(str(current), 200, reply.content_type, reply.body, redirects=tuple(hops))
            error = {404: NotFound, 410: Gone}.get(reply.status, BadStatus)
            raise error(f"{current} answered {reply.status}", status=reply.status)

    def _check_url(self, url: URL) -> None:
        """Scheme, own-host and literal-address checks, before any connection."""
        allowed_schemes = ("https", "http") if self.policy.allow_http else ("https",)
        if url.scheme not in allowed_schemes:
            raise FetchError(f"refusing to fetch a {url.scheme or 'relative'}: URL")
        if url.raw_user or url.raw_password:
            raise FetchError("refusing a URL with credentials in it")
        try:
            host = normalize_host(url.raw_host or "")
        except InvalidURL as exc:
            raise FetchError(exc.reason) from None
        port = url.port
        if host in self._own_hosts or f"{host}:{port}" in self._own_hosts:
            raise FetchError(f"refusing to fetch from our own host {host} (R7)")
        if is_blocked(host, self.policy.blocked_domains):
            raise BlockedDomain(f"{host} is blocked here")
        if self.policy.allow_private_network:
            return
        address = ip_literal(host)
        if address is not None:
            # aiohttp does not ask the resolver about IP literals: check them here.
            if not self._address_allowed(host, address):
                raise BlockedAddress(f"{address} is not a public address")
        elif is_numeric_host(host):
            raise BlockedAddress(f"{host} is a numeric address spelling we do not resolve")
        elif host == "localhost" or host.endswith(".localhost"):
            raise BlockedAddress("refusing to fetch from localhost")

    def _address_allowed(self, host: str, address: IPAddress) -> bool:
        if self.policy.allow_private_network:
            return True
        if self._is_allowed_address is not None:
            return self._is_allowed_address(host, address)
        return is_public_address(address)

    async def _exchange(self, url: URL, accept: str, signed: bool) -> _Reply:
        """One hop; when signing, retry once with the other scheme on 400/401 (double knock)."""
        if not signed or self.signer is None:
            return await self._send(url, accept, None)
        authority = url.host_port_subcomponent or ""
        first = self.scheme_memory.preferred(authority)
        reply = await self._send(url, accept, first)
        if reply.status not in (400, 401):
            self.scheme_memory.remember(authority, first)
            return reply
        # Mastodon before 4.5 only knows draft-cavage; newer strict servers may want
        # RFC 9421: one retry with the other scheme, and remember what worked.
        second = RFC9421 if first == CAVAGE else CAVAGE
        retry = await self._send(url, accept, second)
        if retry.status not in (400, 401):
            self.scheme_memory.remember(authority, second)
        return retry

    async def _send(self, url: URL, accept: str, scheme: str | None) -> _Reply:
        headers = {"Accept": accept, "User-Agent": self.user_agent}
        if scheme is not None and self.signer is not None:
            headers.update(await _sign(self.signer, "GET", str(url), headers, None, scheme, None))
        session = self._get_session()
        async with session.get(url, headers=headers, allow_redirects=False) as resp:
            if resp.status in REDIRECT_STATUSES:
                return _Reply(resp.status, location=resp.headers.get("Location"))
            if resp.status != 200:
                return _Reply(resp.status)  # body left unread: the connection is dropped
            body = await self._read_limited(resp)
            return _Reply(200, content_type=resp.headers.get("Content-Type", ""), body=body)

    async def _read_limited(self, resp: aiohttp.ClientResponse) -> bytes:
        """The body, refused past ``max_bytes``: first by Content-Length, then while streaming.

        aiohttp inflates gzip/deflate as it streams, so the count is of decompressed
        bytes and a bomb is cut off at the cap instead of being inflated whole.
        """
        limit = self.policy.max_bytes
        if resp.content_length is not None and resp.content_length > limit:
            raise ResponseTooLarge(f"Content-Length {resp.content_length} is over {limit} bytes")
        body = bytearray()
        async for chunk in resp.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > limit:
                raise ResponseTooLarge(f"body is over {limit} bytes")
        return bytes(body)

    def _get_session(self) -> aiohttp.ClientSession:
        """The Fetcher's one session, created on first use inside the running loop."""
        if self._session is None or self._session.closed:
            inner = self._inner_resolver if self._inner_resolver is not None else DefaultResolver()
            self._resolver = GuardedResolver(inner, self._address_allowed)
            policy = self.policy
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=self._resolver, limit=self.connection_limit),
                timeout=aiohttp.ClientTimeout(total=policy.total_timeout, sock_connect=policy.connect_timeout,
                                              sock_read=policy.read_timeout),
                # No proxy from the environment: a proxy would resolve names itself and
                # bypass the address check; no cookies: one server must not set state
                # that we would replay to it (or that could track us) later.
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session


async def _sign(signer: Signer, method: str, url: str, headers: dict[str, str], body: bytes | None, scheme: str,
                digests: BodyDigests | None) -> dict[str, str]:
    """The signature headers: from ``sign_async`` (a signing process) when the signer has it."""
    sign_async = getattr(signer, "sign_async", None)
    if sign_async is not None:
        return await sign_async(method, url, dict(headers), body, scheme, digests=digests)
    return signer.sign(method, url, dict(headers), body, scheme)


# The outcome label each refusal is counted under in the fetch metrics.
_FETCH_OUTCOMES = {BlockedAddress: "blocked", BlockedDomain: "blocked", ResponseTooLarge: "too_large",
                   BadStatus: "bad_status", NotFound: "not_found", Gone: "gone",
                   BadContentType: "bad_content_type", TooManyRedirects: "too_many_redirects"}


def _normalize_own(host: str) -> str:
    """An ``own_hosts`` entry (``host`` or ``host:port``) in the form ``_check_url`` compares."""
    name, sep, port = host.rpartition(":")
    if ip_literal(host) is None and sep and port.isdigit():
        return f"{normalize_host(name)}:{port}"
    return normalize_host(host)


def _key(url: str) -> str:
    try:
        return canonical_url(url)
    except InvalidURL:
        return url


def _document_id(document: dict[str, Any]) -> str:
    ident = document.get("id")
    if not isinstance(ident, str) or not ident:
        raise InvalidDocument("the fetched document has no id")
    return ident


def _id_matches(ident: str, requested: str, final: str) -> bool:
    return same_url(ident, final) or (same_url(ident, requested) and same_origin(requested, final))
