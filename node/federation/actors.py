"""Remote actors and their keys: who signed a request, proven both ways.

A ``keyId`` is trusted only when the key document and its owner point at each
other (the owner's ``publicKey`` lists that key id) and both live on the same
origin (rules R2 and R10 in ``origin.py``;
FEP-fe34 origin-based security).  Keys are cached in the actors
table and, parsed, in memory in front of it (an inbox busy with one thread
verifies the same few keys thousands of times).  A host that does not answer
(timeouts, refused connections, 5xx) is remembered: its keyIds are cached
negatively for a while, and after repeated failures its key fetches are paused
(a small circuit breaker), so one dead server cannot hold every request up.  A
404 or a bad document is neither: a forged request can name any missing page,
and must not pause a host or decide what a real actor's first request gets.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urldefrag, urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from node.content import sanitize_html
from node.db import queries
from node.errors import (BadStatus, FetchError, HostUnreachable, InvalidDocument, KeyMismatch, OriginMismatch,
                         SignatureError)
from node.federation import httpsig
from node.federation.netguard import host_of, normalize_host, same_origin
from node.federation.vocab import ACTOR_TYPES, as_list, get_id, has_type

MAX_NAME = 2048  # Mastodon's limit for remote usernames and display names
MAX_SUMMARY = 20_000


@dataclass(frozen=True)
class ResolvedKey:
    """A public key and the actor that owns it."""

    key_id: str
    owner: str
    public_key: Any
    from_cache: bool
    # Parsed owner document, to store once a signature made with this key verifies.
    actor_values: dict[str, Any] | None = field(default=None, repr=False)


def _string(value: Any, limit: int) -> str | None:
    if isinstance(value, str) and len(value) <= limit:
        return value
    return None


def http_url(value: Any) -> str | None:
    """The value (or its id) when it is an http(s) URL of sane length, else None."""
    url = get_id(value)
    if isinstance(url, str) and len(url) <= 2048 and urlsplit(url).scheme in ("http", "https"):
        return url
    return None


def find_public_key(document: dict[str, Any], key_id: str) -> dict[str, Any] | None:
    """The entry of the actor's ``publicKey`` (object or array) whose id is ``key_id``."""
    for entry in as_list(document.get("publicKey")):
        if isinstance(entry, dict) and entry.get("id") == key_id:
            return entry
    return None


def actor_values_from_ap(document: dict[str, Any]) -> dict[str, Any]:
    """The columns of a remote actor row from its (already origin-checked) document.

    Raises InvalidDocument when the document is not a usable actor.
    """
    ap_id = http_url(document.get("id"))
    if ap_id is None or not has_type(document.get("type"), ACTOR_TYPES):
        raise InvalidDocument("not an actor document")
    inbox = http_url(document.get("inbox"))
    if inbox is None:
        raise InvalidDocument("actor has no inbox")
    username = _string(document.get("preferredUsername"), MAX_NAME)
    if not username:
        # Mastodon needs preferredUsername for handles; fall back to the last path segment.
        username = urlsplit(ap_id).path.rstrip("/").rsplit("/", 1)[-1][:MAX_NAME] or "unknown"
    parts = urlsplit(ap_id)
    domain = normalize_host(parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    endpoints = document.get("endpoints") if isinstance(document.get("endpoints"), dict) else {}
    shared_inbox = http_url(endpoints.get("sharedInbox"))
    if shared_inbox and not same_origin(shared_inbox, ap_id):
        shared_inbox = None  # a shared inbox elsewhere could be used to redirect our deliveries
    return {
        "ap_id": ap_id,
        "ap_type": document["type"],
        "username": username,
        "domain": domain,
        "name": _string(document.get("name"), MAX_NAME),
        "summary": sanitize_html(_string(document.get("summary"), MAX_SUMMARY) or ""),
        "url": http_url(document.get("url")),
        "inbox": inbox,
        "shared_inbox": shared_inbox,
        "outbox": http_url(document.get("outbox")),
        "followers": http_url(document.get("followers")),
        "following": http_url(document.get("following")),
        "raw": document,
    }


class _Expiring:
    """A bounded map whose entries vanish after a time-to-live."""

    def __init__(self, ttl: float, limit: int, clock: Callable[[], float]) -> None:
        self.ttl, self.limit, self.clock = ttl, limit, clock
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str) -> Any:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] < self.clock():
            del self._items[key]
            return None
        return item[1]

    def put(self, key: str, value: Any) -> None:
        self._items[key] = (self.clock() + self.ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def pop(self, key: str) -> None:
        self._items.pop(key, None)

    def drop_where(self, condition: Callable[[Any], bool]) -> None:
        """Remove every entry whose value meets ``condition``."""
        for key in [k for k, (_, value) in self._items.items() if condition(value)]:
            del self._items[key]


class HostBreaker:
    """Pauses a host after ``threshold`` consecutive failures, for ``cool_off`` seconds."""

    def __init__(self, threshold: int, cool_off: float, clock: Callable[[], float], limit: int = 10_000) -> None:
        self.threshold = threshold
        self._failures = _Expiring(cool_off, limit, clock)

    def is_open(self, host: str) -> bool:
        """True while the host is paused."""
        return (self._failures.get(host) or 0) >= self.threshold

    def failed(self, host: str) -> None:
        self._failures.put(host, (self._failures.get(host) or 0) + 1)

    def succeeded(self, host: str) -> None:
        self._failures.pop(host)


def says_host_is_down(error: Exception) -> bool:
    """Whether a failed fetch says the host is down (no answer, or a 5xx), not just that a page is missing or bad.

    Anyone can name a missing page or a key that does not exist in a junk
    request's keyId, so only failures the host itself causes may pause it or be
    remembered: a 404 must not decide what a real actor gets later.
    """
    if isinstance(error, HostUnreachable):
        return True
    return isinstance(error, BadStatus) and error.status >= 500


class KeyResolver:
    """Finds the public key for a ``keyId`` and the actor that owns it."""

    def __init__(
        self, fetcher, sessions: async_sessionmaker, *, local_host: str,
        negative_ttl: float = 300, breaker_threshold: int = 3, breaker_cool_off: float = 300,
        memory_ttl: float = 600, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetcher = fetcher
        self.sessions = sessions
        self.local_host = local_host.lower()
        self.negative = _Expiring(negative_ttl, 10_000, clock)
        # Parsed keys already proven and stored: the same answer as the actors table,
        # without a query and a PEM parse per request.  A key that stops verifying is
        # refetched (``refresh``), and an actor's Update or Delete forgets its keys.
        self.known = _Expiring(memory_ttl, 10_000, clock)
        self.breaker = HostBreaker(breaker_threshold, breaker_cool_off, clock)

    async def resolve(self, key_id: str, *, refresh: bool = False) -> ResolvedKey:
        """The key ``key_id``: from the cache unless ``refresh``, else fetched and checked.

        Raises SignatureError (unusable key), KeyMismatch (ownership not proven) or FetchError.
        """
        if http_url(key_id) is None:
            raise SignatureError("keyId must be an http(s) URL")
        if not refresh:
            known = self.known.get(key_id)
            if known is not None:
                return known
        async with self.sessions() as session:
            cached = await queries.get_actor_by_key_id(session, key_id)
        if cached is not None and (cached.is_local or not refresh):
            resolved = ResolvedKey(key_id, cached.ap_id, httpsig.load_public_key(cached.public_key_pem), True)
            self.known.put(key_id, resolved)
            return resolved
        self.known.pop(key_id)
        if urlsplit(key_id).netloc.lower() == self.local_host:
            # Never fetch from ourselves: an unknown local key is forged (R7).
            raise SignatureError("unknown local key")
        failure = self.negative.get(key_id)
        if failure is not None:
            raise FetchError(f"key lookup failed recently: {failure}")
        host = host_of(key_id)
        if self.breaker.is_open(host):
            raise FetchError(f"key fetches from {host} are paused after repeated failures")
        try:
            resolved = await self._fetch(key_id)
        except (FetchError, InvalidDocument, OriginMismatch) as exc:
            if says_host_is_down(exc):
                self.negative.put(key_id, exc.reason)
                self.breaker.failed(host)
            raise FetchError(exc.reason) from None
        self.breaker.succeeded(host)
        return resolved

    async def _fetch(self, key_id: str) -> ResolvedKey:
        url = urldefrag(key_id).url
        document = await self.fetcher.get_activitypub(url)
        if has_type(document.get("type"), ACTOR_TYPES):
            owner_doc = document
        else:
            # A stand-alone key document: {id, owner, publicKeyPem}; its owner must claim it back.
            owner_id = http_url(document.get("owner"))
            if document.get("id") != key_id or owner_id is None or not document.get("publicKeyPem"):
                raise KeyMismatch("key document has no owner")
            owner_doc = await self.fetcher.get_activitypub(owner_id)
            if not has_type(owner_doc.get("type"), ACTOR_TYPES):
                raise KeyMismatch("key owner is not an actor")
        entry = find_public_key(owner_doc, key_id)
        if entry is None:
            raise KeyMismatch("the key's owner does not list this key")
        owner = owner_doc.get("id")
        if entry.get("owner", owner) != owner:
            raise KeyMismatch("the key names another owner")
        if not same_origin(key_id, owner):
            raise KeyMismatch("keyId and its owner are on different origins")
        pem = entry.get("publicKeyPem")
        if not isinstance(pem, str):
            raise KeyMismatch("the key has no publicKeyPem")
        public_key = httpsig.load_public_key(pem)
        values = actor_values_from_ap(owner_doc)
        values["public_key_id"] = key_id
        values["public_key_pem"] = pem
        return ResolvedKey(key_id, owner, public_key, False, values)

    async def remember(self, resolved: ResolvedKey) -> None:
        """Store the owner of a freshly fetched key (call only after a signature verified)."""
        if resolved.from_cache or resolved.actor_values is None or self.known.get(resolved.key_id) is not None:
            return  # already stored (requests from a new actor arrive together and all fetched its key)
        try:
            async with self.sessions.begin() as session:
                await queries.upsert_remote_actor(session, resolved.actor_values)
        except IntegrityError:
            # A concurrent request from the same new actor stored it first: refresh that row.
            async with self.sessions.begin() as session:
                await queries.upsert_remote_actor(session, resolved.actor_values)
        self.known.put(resolved.key_id, ResolvedKey(resolved.key_id, resolved.owner, resolved.public_key, True))

    def forget(self, owner: str) -> None:
        """Drop the keys of ``owner`` from memory (it updated or deleted itself)."""
        self.known.drop_where(lambda resolved: resolved.owner == owner)
