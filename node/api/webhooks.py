"""Webhooks for site owners: a new published comment, a comment held for moderation, POSTed as signed JSON.

Queuing and sending are apart, as for activities (the database is the queue):

- **queuing** happens in the transaction that stores or decides the comment
  (``node.federation.comments.comments_stored`` for remote comments, ``node.members.posting``
  for members', ``node.moderation.actions.approve`` for an approval): one ``webhook_deliveries``
  row per subscribed webhook, holding the exact JSON body.  No network I/O there.
- **sending** is ``WebhookSender``, run beside the delivery worker: it claims due rows with a
  lease (``node.db.webhooks.claim_due``), POSTs each outside any transaction through the
  node's guarded fetcher (private addresses refused unless ``webhook_allow_private_network``),
  signs it at that moment (``node.api.signature``: ``X-Fednode-Signature: t=…,v1=…``), and
  records the outcome: 2xx delivered; anything else tried again after a doubling wait
  (``BACKOFF_FIRST`` up to ``BACKOFF_MAX``) until ``MAX_ATTEMPTS``, then failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from node.api import signature, thread_json
from node.api.thread_json import Thread, timestamp
from node.db import api as api_db
from node.db import discussion as discussion_db
from node.db import webhooks as db
from node.db.models import Object, Webhook
from node.db.types import utcnow
from node.errors import BlockedAddress, FetchError, NodeError
from node.federation.fetch import Fetcher

if TYPE_CHECKING:
    from node.app import Node

log = logging.getLogger("fednode.webhooks")

EVENTS = {
    "comment.published": "a comment appears in a thread (received, posted by a member, or approved)",
    "comment.held": "the moderation policy held a comment for a moderator",
}
SECRET_PREFIX = "whsec_"
MAX_ATTEMPTS = 12  # 30 s doubling to 6 h: the last try is about a day and a half after the first
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=6)
LEASE = timedelta(seconds=60)  # longer than one POST may take (the fetcher's deadline is 30 s)
BATCH = 16  # rows claimed at once, sent concurrently
STOP_SECONDS = 5.0  # how long stopping waits for the requests in flight
POLL_SECONDS = 5.0  # how often due rows (retries, rows queued by other processes) are looked for
MAX_ERROR = 500


class WebhookError(NodeError):
    """A webhook that cannot be added (the reason is shown to the operator)."""


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try."""
    return min(BACKOFF_MAX, BACKOFF_FIRST * (2 ** max(0, attempts - 1)))


def parse_events(raw: Iterable[str] | None) -> list[str]:
    """The events asked for (all when none are named); WebhookError for an unknown one."""
    wanted = sorted({e.strip() for item in (raw or []) for e in item.split(",") if e.strip()}) or sorted(EVENTS)
    unknown = [e for e in wanted if e not in EVENTS]
    if unknown:
        raise WebhookError(f"unknown event {unknown[0]!r}: the events are {', '.join(sorted(EVENTS))}")
    return wanted


async def add_webhook(node: "Node", url: str, events: Iterable[str] | None = None) -> tuple[Webhook, str]:
    """Add a webhook; returns it and its signing secret (shown once)."""
    from yarl import URL

    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        raise WebhookError("not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host or parsed.user or parsed.password:
        raise WebhookError("the URL must be http(s)://host/path, without a user name or password")
    if len(url) > 2048:
        raise WebhookError("the URL is longer than 2048 characters")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    async with node.sessions.begin() as session:
        row = await db.add_webhook(session, url=url, secret=secret, events=" ".join(parse_events(events)),
                                   now=utcnow())
    return row, secret


async def list_webhooks(node: "Node") -> list[Webhook]:
    async with node.sessions() as session:
        return list(await db.list_webhooks(session))


async def remove_webhook(node: "Node", webhook_id: int) -> bool:
    async with node.sessions.begin() as session:
        return await db.delete_webhook(session, webhook_id)


# --- queuing (inside the transaction that stores or decides the comment) ---------------------------


def payload(node: "Node", event: str, comment: Object, thread: Thread, avatars: dict[int, str]) -> dict[str, Any]:
    """The JSON of one event (docs/api.md, node/web/api_schema/webhook.json)."""
    return {
        "id": str(uuid.uuid4()),  # the same in every retry: receivers drop a delivery they already handled
        "event": event,
        "created_at": timestamp(utcnow()),
        "site": node.settings.base,
        "thread": {"id": thread.root.ap_id, "url": thread.page_url(), "title": _title(thread),
                   "html_url": thread.html_url(node.urls)},
        "comment": thread_json.comment_json(comment, thread, node.urls, avatars),
    }


def _title(thread: Thread) -> str | None:
    return (thread.document.title if thread.document is not None else None) or thread.root.name


async def queue_comments(node: "Node", session: AsyncSession, comment_ids: list[int],
                         approved: bool = False) -> int:
    """Queue ``comment.published`` / ``comment.held`` for these stored comments; returns the rows queued.

    Public and unlisted comments only (a followers-only or direct one is nobody else's
    business); published ones as ``comment.published``, held ones as ``comment.held``.
    Costs one query when no webhook is configured.
    """
    hooks = await db.list_webhooks(session)
    if not hooks or not comment_ids:
        return 0
    comments = await discussion_db.list_objects(session, comment_ids)
    roots = await discussion_db.list_objects(session, sorted({c.root_id for c in comments.values() if c.root_id}))
    documents = await api_db.documents_of_threads(session, roots)
    avatars = await thread_json.local_avatars(session, comments.values())
    now, rows = utcnow(), []
    for comment_id in comment_ids:
        comment = comments.get(comment_id)
        root = roots.get(comment.root_id) if comment is not None else None
        if comment is None or root is None or comment.visibility not in discussion_db.SHOWN_VISIBILITIES:
            continue
        event = {"published": "comment.published", "held": "comment.held"}.get(comment.moderation)
        if event is None:
            continue
        body = json.dumps(payload(node, event, comment, Thread(root, documents.get(root.id)), avatars),
                          ensure_ascii=False, separators=(",", ":"))
        rows += [{"webhook_id": hook.id, "event": event, "body": body, "created_at": now, "next_attempt_at": now}
                 for hook in hooks if event in hook.events.split()]
    if rows:
        await db.add_deliveries(session, rows)
        # Wake the sender once the rows are committed (before, its claim would not see them).
        sa_event.listen(session.sync_session, "after_commit", lambda _: node.wake_webhooks(), once=True)
    return len(rows)


# --- sending --------------------------------------------------------------------------------------


def webhook_fetcher(node: "Node") -> Fetcher:
    """The node's guard for webhook requests; ``webhook_allow_private_network`` lets them reach a private address."""
    base = node.fetcher.policy
    if node.settings.webhook_allow_private_network:
        base = replace(base, allow_private_network=True, allow_http=True)
    return Fetcher(base, user_agent=node.fetcher.user_agent)


class WebhookSender:
    """Sends queued webhook deliveries from this process (any number of processes may run one)."""

    def __init__(self, node: "Node") -> None:
        self.node = node
        self.fetcher = webhook_fetcher(node)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.sent = 0  # deliveries that got a 2xx from this process (for tests and logs)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming; let the batch in flight record its outcomes (for a while), then stop."""
        self._stopping = True
        self.wake()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_SECONDS)
            except TimeoutError:
                # Rows still leased are claimed again once their lease ends: sent at least once.
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        await self.fetcher.close()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: log it and try again at the next tick
                log.exception("webhook sender failed; trying again")
                busy = False
            if not busy and not self._stopping:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
                except TimeoutError:
                    pass

    async def run_once(self) -> bool:
        """Claim and send one batch of due deliveries; True when there was any."""
        owner, now = uuid.uuid4().hex, utcnow()
        async with self.node.sessions.begin() as session:
            claimed = await db.claim_due(session, owner=owner, now=now, lease_until=now + LEASE, limit=BATCH)
            batch = [(d.id, d.attempts, d.event, d.body, hook.url, hook.secret) for d, hook in claimed]
        if not batch:
            return False
        # The POSTs run here, after the claim committed and before the outcomes' transaction.
        await asyncio.gather(*(self._send(owner, *item) for item in batch))
        return True

    async def _send(self, owner: str, delivery_id: int, attempts: int, event: str, body: str, url: str,
                    secret: str) -> None:
        data = body.encode()
        headers = {
            "Content-Type": "application/json", "X-Fednode-Event": event, "X-Fednode-Delivery": str(delivery_id),
            signature.HEADER: signature.sign(secret, data),
        }
        status, error, final = None, None, False
        try:
            posted = await self.fetcher.post_plain(url, data, headers)
            status = posted.status
            if 200 <= status < 300:
                final = True
            else:
                error = f"answered {status}: {posted.excerpt[:200]}"
                final = status == 410  # the receiver says this hook is gone
        except BlockedAddress as exc:
            error, final = f"refused: {exc.reason}", True  # a guard refusal will not change by waiting
        except FetchError as exc:
            error = exc.reason
        attempts += 1
        now = utcnow()
        delivered = status is not None and 200 <= status < 300
        if delivered:
            outcome, next_at, finished = db.DELIVERED, now, now
            self.sent += 1
        elif final or attempts >= MAX_ATTEMPTS:
            outcome, next_at, finished = db.FAILED, now, now
            log.warning("webhook delivery %d to %s failed for good: %s", delivery_id, url[:200], error)
        else:
            outcome, next_at, finished = db.PENDING, now + backoff(attempts), None
            log.info("webhook delivery %d to %s: %s; retry in %s", delivery_id, url[:200], error, backoff(attempts))
        async with self.node.sessions.begin() as session:
            await db.record_outcome(session, delivery_id, owner=owner, status=outcome, attempts=attempts,
                                    next_attempt_at=next_at, last_status=status,
                                    last_error=(error or "")[:MAX_ERROR] or None, finished_at=finished)
