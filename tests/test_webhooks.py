"""Webhooks: signed JSON POSTed to a real receiving server on 127.0.0.1, durably queued, retried, guarded.

The receiver checks every request's X-Fednode-Signature with the secret `add_webhook` printed,
using the same few lines docs/api.md gives site owners (node.api.signature.verify).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import select

from node.api import signature, webhooks
from node.db import queries
from node.db.models import WebhookDelivery
from node.members.posting import post_comment
from node.moderation import actions
from node.services.setup import add_author
from tests.api_support import assert_valid
from tests.fakes.remote import fake_remote
from tests.support import free_port, make_settings, running_node, serving
from tests.threads_support import publish_topic, reply


class Receiver:
    """A site owner's endpoint: records each request and whether its signature verified."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secret = ""
        self.requests: list[dict] = []
        self.answers: list[int] = []  # statuses to answer, in order (then 200)
        self.arrived = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append({
            "headers": dict(request.headers), "body": body,
            "verified": signature.verify(self.secret, request.headers.get(signature.HEADER, ""), body),
        })
        self.arrived.set()
        return web.Response(status=self.answers.pop(0) if self.answers else 200)

    async def wait(self, count: int, timeout: float = 15) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            self.arrived.clear()
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{len(self.requests)} of {count} webhook requests arrived"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)
        return self.requests


@contextlib.asynccontextmanager
async def receiver():
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    async with serving(app, hook.port):
        yield hook


async def publish(node) -> str:
    await publish_topic(node)
    return node.url("/articles/topic")


async def settled(node, timeout: float = 10) -> list[WebhookDelivery]:
    """The deliveries once none is pending with an attempt in flight (the receiver answers before the outcome is written)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await deliveries(node)
        if all(row.status != "pending" or row.attempts > 0 and row.lease_owner is None for row in rows) \
                or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)


async def deliveries(node) -> list[WebhookDelivery]:
    async with node.node.sessions() as session:
        return list((await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))).all())


async def test_a_new_comment_is_posted_signed_to_the_webhook(node, http):
    """A Mastodon reply arrives: the receiver gets comment.published, signed with the secret, in the documented shape."""
    article = await publish(node)
    async with receiver() as hook, fake_remote() as remote:
        row, hook.secret = await webhooks.add_webhook(node.node, hook.url)
        assert hook.secret.startswith("whsec_")
        sent = await reply(node, http, remote.add_actor("alice"), article, "<p>First & <b>best</b></p>")
        [request] = await hook.wait(1)
    assert request["verified"]
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Fednode-Event"] == "comment.published"
    body = json.loads(request["body"])
    assert_valid("webhook", body)
    assert (body["event"], body["comment"]["id"], body["thread"]["id"]) == ("comment.published", sent["id"], article)
    assert body["comment"]["content"] == "<p>First &amp; <b>best</b></p>"
    assert body["thread"]["title"] == "Topic" and body["site"] == node.base
    [stored] = await settled(node)
    assert (stored.status, stored.attempts, stored.last_status) == ("delivered", 1, 200)


async def test_a_tampered_body_or_an_old_timestamp_does_not_verify(node, http):
    """What a receiver must refuse: another body under the same signature, or a replay past the tolerance."""
    article = await publish(node)
    async with receiver() as hook, fake_remote() as remote:
        _, hook.secret = await webhooks.add_webhook(node.node, hook.url)
        await reply(node, http, remote.add_actor("alice"), article)
        [request] = await hook.wait(1)
    header, body = request["headers"][signature.HEADER], request["body"]
    assert signature.verify(hook.secret, header, body)
    assert not signature.verify(hook.secret, header, body.replace(b"hello", b"HELLO"))
    assert not signature.verify("whsec_another", header, body)
    assert not signature.verify(hook.secret, header, body, now=time.time() + signature.TOLERANCE_SECONDS + 5)


async def test_held_comments_and_their_approval_are_events(tmp_path, http):
    """comment.held when the policy holds one; comment.published when a moderator approves it."""
    async with running_node(make_settings(tmp_path, moderation_hold_links=True)) as node, receiver() as hook, \
            fake_remote() as remote:
        article = await publish(node)
        _, hook.secret = await webhooks.add_webhook(node.node, hook.url)
        held = await reply(node, http, remote.add_actor("bob"), article, '<p><a href="https://x.example/">x</a></p>')
        [first] = await hook.wait(1)
        assert json.loads(first["body"])["event"] == "comment.held" and first["verified"]
        async with node.node.sessions.begin() as session:
            comment = await queries.get_object(session, held["id"])
            await actions.approve(node.node, session, comment, moderator="test")
        second = (await hook.wait(2))[1]
    body = json.loads(second["body"])
    assert (body["event"], body["comment"]["id"]) == ("comment.published", held["id"]) and second["verified"]


async def test_a_webhook_gets_only_the_events_it_asked_for(node, http):
    article = await publish(node)
    async with receiver() as hook, fake_remote() as remote:
        _, hook.secret = await webhooks.add_webhook(node.node, hook.url, ["comment.held"])
        await reply(node, http, remote.add_actor("alice"), article)
    assert await deliveries(node) == []


async def test_a_members_comment_is_an_event_too(node, http):
    article = await publish(node)
    async with receiver() as hook:
        _, hook.secret = await webhooks.add_webhook(node.node, hook.url)
        async with node.node.sessions.begin() as session:
            dana, _ = await add_author(session, node.settings, "dana", "Dana")
        posted = await post_comment(node.node, dana.id, article, "From the *web*")
        [request] = await hook.wait(1)
    body = json.loads(request["body"])
    assert body["comment"]["id"] == posted.ap_id and body["comment"]["author"]["handle"] == f"@dana@{node.settings.host}"


async def test_a_failing_receiver_is_tried_again_with_the_same_event(node, http, monkeypatch):
    """500, then 503, then 200: three attempts, one event id, each signed afresh."""
    monkeypatch.setattr(webhooks, "BACKOFF_FIRST", timedelta(milliseconds=200))
    monkeypatch.setattr(webhooks, "POLL_SECONDS", 0.2)
    article = await publish(node)
    async with receiver() as hook, fake_remote() as remote:
        hook.answers = [500, 503]
        _, hook.secret = await webhooks.add_webhook(node.node, hook.url)
        await reply(node, http, remote.add_actor("alice"), article)
        requests = await hook.wait(3)
        for _ in range(50):
            [row] = await deliveries(node)
            if row.status == "delivered":
                break
            await asyncio.sleep(0.1)
    assert len({json.loads(r["body"])["id"] for r in requests}) == 1
    assert all(r["verified"] for r in requests)
    assert (row.status, row.attempts, row.last_status) == ("delivered", 3, 200)


async def test_a_receiver_that_never_answers_2xx_is_given_up_after_the_last_attempt(node, http, monkeypatch):
    monkeypatch.setattr(webhooks, "BACKOFF_FIRST", timedelta(milliseconds=50))
    monkeypatch.setattr(webhooks, "BACKOFF_MAX", timedelta(milliseconds=50))
    monkeypatch.setattr(webhooks, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 3)
    article = await publish(node)
    async with receiver() as hook, fake_remote() as remote:
        hook.answers = [500] * 10
        _, hook.secret = await webhooks.add_webhook(node.node, hook.url)
        await reply(node, http, remote.add_actor("alice"), article)
        await hook.wait(3)
        for _ in range(50):
            [row] = await deliveries(node)
            if row.status != "pending":
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
    assert (row.status, row.attempts, row.last_status) == ("failed", 3, 500)
    assert len(hook.requests) == 3


async def test_a_delivery_queued_while_no_sender_ran_is_sent_when_one_starts(tmp_path, http):
    """Durable: the row waits in the database, not in memory."""
    settings = make_settings(tmp_path, run_worker=False)
    async with receiver() as hook:
        async with running_node(settings) as node:
            article = await publish(node)
            _, hook.secret = await webhooks.add_webhook(node.node, hook.url)
            async with node.node.sessions.begin() as session:
                dana, _ = await add_author(session, node.settings, "dana")
            await post_comment(node.node, dana.id, article, "queued")
            await asyncio.sleep(0.5)
            assert hook.requests == [] and [d.status for d in await deliveries(node)] == ["pending"]
        async with running_node(make_settings(tmp_path, port=settings.listen_port)) as node:
            [request] = await hook.wait(1)
    assert request["verified"] and json.loads(request["body"])["comment"]["content"].strip() == "<p>queued</p>"


async def test_a_webhook_to_a_private_address_is_refused_unless_allowed(tmp_path, http):
    """The fetch guard applies: loopback is refused (nothing reaches it) until webhook_allow_private_network."""
    async with receiver() as hook:
        settings = make_settings(tmp_path, allow_private_network=False)
        async with running_node(settings) as node:
            article = await publish(node)
            _, hook.secret = await webhooks.add_webhook(node.node, hook.url)
            async with node.node.sessions.begin() as session:
                dana, _ = await add_author(session, node.settings, "dana")
            await post_comment(node.node, dana.id, article, "to a private address")
            for _ in range(100):
                rows = await deliveries(node)
                if rows[0].status != "pending":
                    break
                await asyncio.sleep(0.1)
            assert rows[0].status == "failed" and "refused" in rows[0].last_error
            assert hook.requests == []
        allowed = make_settings(tmp_path, port=settings.listen_port, allow_private_network=False,
                                webhook_allow_private_network=True)
        async with running_node(allowed) as node:
            await post_comment(node.node, dana.id, article, "allowed now")
            [request] = await hook.wait(1)
    assert request["verified"]


@pytest.mark.parametrize("url, events, reason", [
    ("ftp://files.example/hook", None, "http(s)"),
    ("https://user:pw@blog.example/hook", None, "user name"),
    ("https://blog.example/hook", ["comment.deleted"], "unknown event"),
])
async def test_bad_webhooks_are_refused_with_a_reason(node, url, events, reason):
    with pytest.raises(webhooks.WebhookError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        await webhooks.add_webhook(node.node, url, events)
    assert await webhooks.list_webhooks(node.node) == []


async def test_removing_a_webhook_drops_its_pending_deliveries(tmp_path, http):
    async with running_node(make_settings(tmp_path, run_worker=False)) as node:
        article = await publish(node)
        row, _ = await webhooks.add_webhook(node.node, "https://blog.example/hook")
        async with node.node.sessions.begin() as session:
            dana, _ = await add_author(session, node.settings, "dana")
        await post_comment(node.node, dana.id, article, "x")
        assert len(await deliveries(node)) == 1
        assert await webhooks.remove_webhook(node.node, row.id)
        assert await deliveries(node) == []


async def test_the_command_line_adds_lists_and_removes_webhooks(tmp_path, http):
    """`fednode webhook add` prints the secret once; a receiver verifies deliveries with it; list never shows it."""
    from tests.cli_support import fednode

    settings = make_settings(tmp_path)
    env = {"FEDNODE_DATABASE_URL": settings.database_url, "FEDNODE_KEYS_DIR": settings.keys_dir,
           "FEDNODE_BASE_URL": settings.base_url}
    async with running_node(settings) as node:
        article = await publish(node)
        async with node.node.sessions.begin() as session:
            dana, _ = await add_author(session, node.settings, "dana")
    async with receiver() as hook:
        added = fednode(tmp_path, "webhook", "add", hook.url, "--events", "comment.published", env=env)
        assert added.returncode == 0, added.stderr
        hook.secret = added.stdout.split("secret: ")[1].split()[0]
        listed = fednode(tmp_path, "webhook", "list", env=env)
        assert hook.url in listed.stdout and "comment.published" in listed.stdout
        assert hook.secret not in listed.stdout
        async with running_node(settings) as node:
            await post_comment(node.node, dana.id, article, "hello hook")
            [request] = await hook.wait(1)
            await settled(node)
        assert request["verified"]
        assert "delivered after 1 attempt(s)" in fednode(tmp_path, "webhook", "list", env=env).stdout
    refused = fednode(tmp_path, "webhook", "add", "https://blog.example/h", "--events", "nope", env=env)
    assert refused.returncode != 0 and "unknown event" in refused.stderr
    assert fednode(tmp_path, "webhook", "remove", "1", env=env).stdout.strip() == "removed webhook 1"
    gone = fednode(tmp_path, "webhook", "remove", "1", env=env)
    assert gone.returncode == 1 and "no webhook 1" in gone.stdout
