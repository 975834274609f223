"""Taking an activity in: every check, in order, before anything is stored.

size → signature (no key yet) → JSON → blocked domains, suspended domains and
banned actors (``node.moderation.gate``) → key and signature →
signer is the actor → origin rules → de-duplication → store.  Each step can
refuse with an ``InboxOutcome``; only the last one writes, so a refused
request leaves nothing behind, and an accepted one is durable before the 202
(``InboxWriter`` commits the requests that arrive together in one transaction).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Collection

from sqlalchemy.ext.asyncio import async_sessionmaker

from node.db import queries
from node.errors import Blocked, InvalidDocument, KeyMismatch, OriginMismatch, SignatureError
from node.federation import authenticate, origin, storable
from node.federation.actors import KeyResolver
from node.federation.inbox_writer import Arrival, InboxWriter
from node.federation.jsonlimits import loads_object
from node.federation.netguard import host_of, is_blocked
from node.federation.vocab import get_id

log = logging.getLogger("fednode.inbox")

INBOX_CONTENT_TYPES = ("application/activity+json", "application/ld+json", "application/json")


class InboxOutcome(enum.Enum):
    """What became of an inbox request; each maps to one HTTP status."""

    # (HTTP status, label): the label keeps outcomes that share a status distinct.
    ACCEPTED = (202, "accepted")
    DUPLICATE = (202, "duplicate")
    IGNORED = (202, "ignored")
    MALFORMED = (400, "malformed")
    BAD_SIGNATURE = (401, "bad signature")
    KEY_MISMATCH = (401, "key mismatch")
    BLOCKED = (403, "blocked")
    FORBIDDEN_ORIGIN = (403, "forbidden origin")
    TOO_LARGE = (413, "too large")
    UNSUPPORTED_MEDIA_TYPE = (415, "unsupported media type")

    @property
    def status(self) -> int:
        return self.value[0]


@dataclass(frozen=True)
class InboxResult:
    """The outcome and a short reason that is sent back in the response body."""

    outcome: InboxOutcome
    reason: str
    activity_id: str | None = None


@dataclass(frozen=True)
class InboxRequest:
    """The parts of an HTTP request the inbox needs (the web layer fills it)."""

    method: str
    target_uri: str
    headers: Any
    body: bytes
    content_type: str


class Inbox:
    """Receives activities for every local inbox (shared or per actor)."""

    def __init__(
        self, sessions: async_sessionmaker, resolver: KeyResolver, *,
        blocked_domains: Collection[str] = (), now=None,
    ) -> None:
        self.sessions = sessions
        self.resolver = resolver
        self.blocked_domains = tuple(blocked_domains)
        self._now = now
        self.writer = InboxWriter(sessions)
        # node.moderation.gate.Gate: suspended domains and banned actors, refused before anything else
        self.gate: Any = None
        # Called with the row id, the activity and its actor for each newly stored
        # activity (the processor's notify; it need not read back what we just wrote).
        self.on_stored: Callable[[int, dict[str, Any], str], None] | None = None

    async def receive(self, request: InboxRequest) -> InboxResult:
        """Check and store one activity; never raises for bad input."""
        if request.content_type.split(";")[0].strip().lower() not in INBOX_CONTENT_TYPES:
            return InboxResult(InboxOutcome.UNSUPPORTED_MEDIA_TYPE, "send application/activity+json")
        now: datetime | None = self._now() if self._now else None
        try:
            sig = authenticate.signature_input(request.method, request.target_uri, request.headers, request.body, now)
        except SignatureError as exc:
            return InboxResult(InboxOutcome.BAD_SIGNATURE, exc.reason)
        try:
            activity = loads_object(request.body)
            activity_id, kind, actor = origin.activity_basics(activity)
            actor_host = host_of(actor)
        except InvalidDocument as exc:
            return InboxResult(InboxOutcome.MALFORMED, exc.reason)
        if is_blocked(actor_host, self.blocked_domains):
            return InboxResult(InboxOutcome.BLOCKED, f"{actor_host} is blocked here", activity_id)
        if self.gate is not None:
            refusal = await self.gate.refusal(actor, actor_host)
            if refusal is not None:
                return InboxResult(InboxOutcome.BLOCKED, refusal, activity_id)
        if kind == "Delete" and get_id(activity.get("object")) == actor and not await self._knows(actor):
            # An account we never heard of deleted itself: nothing to do, and
            # fetching its (gone) key would only cost us (Mastodon does the same).
            return InboxResult(InboxOutcome.IGNORED, "unknown actor deleted", activity_id)
        try:
            auth = await authenticate.verify(sig, self.resolver, self.blocked_domains)
            origin.check_signer_is_actor(auth.owner, actor)
            origin.check_activity_origin(activity, actor, activity_id)
            activity = origin.strip_foreign_embeds(origin.normalize_actors(activity, actor), actor)
            storable.check_timestamps(activity)  # what gets a 202 must be storable
        except Blocked as exc:
            return InboxResult(InboxOutcome.BLOCKED, exc.reason, activity_id)
        except KeyMismatch as exc:
            return InboxResult(InboxOutcome.KEY_MISMATCH, exc.reason, activity_id)
        except SignatureError as exc:
            return InboxResult(InboxOutcome.BAD_SIGNATURE, exc.reason, activity_id)
        except OriginMismatch as exc:
            return InboxResult(InboxOutcome.FORBIDDEN_ORIGIN, exc.reason, activity_id)
        except InvalidDocument as exc:
            return InboxResult(InboxOutcome.MALFORMED, exc.reason, activity_id)
        await self.resolver.remember(auth.key)
        return await self._store(activity, activity_id, kind, actor)

    async def _knows(self, actor: str) -> bool:
        async with self.sessions() as session:
            return await queries.get_actor(session, actor) is not None

    async def _store(self, activity: dict[str, Any], activity_id: str, kind: str, actor: str) -> InboxResult:
        stored = await self.writer.store(Arrival(
            ap_id=activity_id, ap_type=kind, actor_ap_id=actor, object_ap_id=get_id(activity.get("object")),
            raw=activity, host=host_of(actor),
        ))
        if stored.duplicate:
            return InboxResult(InboxOutcome.DUPLICATE, "already received", activity_id)
        log.debug("accepted %s %s from %s", kind, activity_id, actor)
        if self.on_stored is not None:
            self.on_stored(stored.row_id, activity, actor)
        return InboxResult(InboxOutcome.ACCEPTED, "accepted", activity_id)
