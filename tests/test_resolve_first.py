"""Fetch first, then apply: a slow remote never holds the database or the senders queued behind it.

Every test of the suite also runs under ``tests/txguard.py``: a fetch started by a
task that holds an uncommitted write fails the test.  These tests prove the guard
bites, and that a remote hanging while we fetch a missing parent does not stop
other senders' replies from being stored and shown meanwhile.
"""

from __future__ import annotations

import asyncio

import pytest

from node.content import Draft
from node.db import queries
from node.db.models import Activity, Tombstone
from node.federation.fetch import FetchPolicy
from node.federation.resolve import Resolved, Unresolved, resolve_then_apply
from node.services.publish import publish_article
from tests import txguard
from tests.fakes.remote import fake_remote, signed_post

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def note(actor, note_id: str, parent: str, text: str) -> dict:
    """A Mastodon-shaped public reply."""
    return {"id": note_id, "type": "Note", "attributedTo": actor.id, "inReplyTo": parent, "content": f"<p>{text}</p>",
            "published": "2026-12-01T10:00:00Z", "to": [PUBLIC], "cc": [actor.document["followers"]]}


def create(actor, document: dict) -> dict:
    return {"id": document["id"] + "/activity", "type": "Create", "actor": actor.id, "to": [PUBLIC],
            "object": document}


async def publish(node) -> str:
    async with node.node.sessions.begin() as session:
        author = await queries.get_local_actor(session, "editor")
        published = await publish_article(session, node.settings, Draft("Topic", "topic", "Let us talk."), author)
    return published.article.ap_id


async def test_the_guard_fails_a_fetch_started_inside_a_write_transaction(node):
    """The instrumented fetcher refuses, loudly, a GET made by a task holding an uncommitted write."""
    async with fake_remote() as remote:
        url = remote.serve("/notes/1", {"id": "x"})
        with pytest.raises(txguard.FetchInsideWriteTransaction):
            async with node.node.sessions.begin() as session:
                session.add(Tombstone(ap_id="https://gone.example/1"))
                await session.flush()  # the INSERT is sent: the transaction now holds the write lock
                await node.node.fetcher.get_activitypub(url)
        assert remote.gets == []  # refused before any request went out
        txguard.violations.clear()  # provoked on purpose


async def test_resolve_then_apply_fetches_between_tries_never_inside_one(node):
    """The apply step asks for a document it lacks: rolled back, fetched outside, run again with it."""
    async with fake_remote() as remote:
        url = remote.serve("/notes/2", {"id": "placeholder"})
        tries: list[bool] = []

        async def apply(session, fetcher: Resolved):
            session.add(Tombstone(ap_id=f"https://gone.example/{len(tries)}"))
            await session.flush()
            tries.append(True)
            return await fetcher.get_activitypub(url)  # raises Unresolved on the first try

        async def fetch(wanted: str, *, signed: bool = True) -> dict:
            assert not txguard.holds_write()
            return {"id": wanted, "type": "Note"}

        document = await resolve_then_apply(node.node.sessions, fetch, apply)
        async with node.node.sessions() as session:
            first = await session.get(Tombstone, "https://gone.example/0")  # rolled back with the first try
            second = await session.get(Tombstone, "https://gone.example/1")
        assert (document["id"], len(tries), first, second is not None) == (url, 2, None, True)
        assert issubclass(Unresolved, Exception) and not issubclass(Unresolved, txguard.FetchInsideWriteTransaction)


async def test_a_remote_hanging_on_a_missing_parent_does_not_hold_up_other_senders(node, http):
    """While a parent's server hangs for the whole read timeout, another server's reply is stored and shown."""
    article = await publish(node)
    timeout = FetchPolicy().read_timeout
    async with fake_remote() as slow, fake_remote() as quick:
        alice, bob = slow.add_actor("alice", key_index=0), quick.add_actor("bob", key_index=1)
        parent = note(alice, f"{slow.base}/notes/parent", article, "the parent we never got")
        slow.serve("/notes/parent", parent, delay=timeout + 5)  # answers only after our read timeout
        early = note(alice, f"{slow.base}/notes/child", parent["id"], "a reply to it")
        status, _ = await signed_post(http, node.url("/inbox"), create(alice, early), alice)
        assert status == 202
        for _ in range(200):  # until our GET of the parent is in flight
            if "/notes/parent" in slow.gets:
                break
            await asyncio.sleep(0.05)
        assert "/notes/parent" in slow.gets

        meanwhile = note(bob, f"{quick.base}/notes/meanwhile", article, "stored meanwhile")
        status, _ = await signed_post(http, node.url("/inbox"), create(bob, meanwhile), bob)
        assert status == 202
        stored = None
        for _ in range(200):
            async with node.node.sessions() as session:
                stored = await queries.get_object(session, meanwhile["id"])
            if stored is not None:
                break
            await asyncio.sleep(0.05)
        async with node.node.sessions() as session:
            waiting = await session.scalar(queries_activity(early))
        async with http.get(node.url("/articles/topic"), headers={"Accept": "text/html"}) as response:
            page = await response.text()
        # Then bob's reply is in the thread and on the page, while alice's is still waiting for its parent
        assert stored is not None and stored.parent_id is not None
        assert "stored meanwhile" in page
        assert waiting.status == "received"


def queries_activity(document: dict):
    from sqlalchemy import select

    return select(Activity).where(Activity.ap_id == document["id"] + "/activity")
