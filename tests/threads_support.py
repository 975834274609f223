"""Helpers for tests of comment threads: an article with remote repliers, Mastodon-shaped replies, delivery.

Replies are built as Mastodon sends them (a ``Note`` inside a ``Create``), signed with the fake
server's real keys and POSTed to the node's shared inbox; ``deliver`` returns once the processor
has applied them.
"""

from __future__ import annotations

import pytest

from node.content import Draft
from node.db import queries
from node.db.models import Object
from node.federation.vocab import AS_NS, PUBLIC
from node.services.publish import publish_article
from tests.fakes.remote import fake_remote, signed_post


async def publish_topic(node, body: str = "Let us talk.") -> None:
    """Publish the editor's article "Topic" (slug ``topic``), the root of the tests' threads."""
    async with node.node.sessions.begin() as session:
        author = await queries.get_local_actor(session, "editor")
        await publish_article(session, node.settings, Draft("Topic", "topic", body), author)


@pytest.fixture
async def thread(node):
    """A node with one article, and a fake remote server with actors alice, bob and carol."""
    await publish_topic(node)
    async with fake_remote() as remote:
        actors = {name: remote.add_actor(name, key_index=i) for i, name in enumerate(("alice", "bob", "carol"))}
        yield node, remote, actors, node.url("/articles/topic")


NOTE_COUNTER = iter(range(1, 10_000))


def note(actor, parent: str, content: str = "<p>hello</p>", *, public: bool = True, **extra) -> dict:
    """A Mastodon-shaped Note by ``actor`` replying to ``parent``."""
    number = next(NOTE_COUNTER)
    return {
        "id": f"{actor.id}/statuses/{number}", "type": "Note", "attributedTo": actor.id, "inReplyTo": parent,
        "content": content, "published": f"2026-11-24T10:{number % 60:02d}:00Z",
        "to": [PUBLIC] if public else [actor.document["followers"]], "cc": [actor.document["followers"]], **extra,
    }


def create(actor, obj: dict) -> dict:
    """The Create by ``actor`` that carries ``obj``, addressed as the object is."""
    return {"@context": AS_NS, "id": obj["id"] + "/activity", "type": "Create", "actor": actor.id,
            "to": obj["to"], "cc": obj["cc"], "object": obj}


async def deliver(node, http, actor, activity) -> None:
    """POST a signed activity to the shared inbox and wait until it has been applied."""
    status, body = await signed_post(http, node.url("/inbox"), activity, actor)
    assert status == 202, body
    await node.node.processor.drain()


async def comment(node, ap_id: str) -> Object | None:
    """The object stored under ``ap_id``, or None while the node holds none."""
    async with node.node.sessions() as session:
        return await queries.get_object(session, ap_id)


async def page(node, http) -> str:
    """The HTML page of the article "topic", as a browser gets it."""
    async with http.get(node.url("/articles/topic"), headers={"Accept": "text/html"}) as response:
        return await response.text()


async def reply(node, http, actor, parent: str, html: str = "<p>hello</p>", **extra) -> dict:
    """Deliver a Mastodon-shaped reply by ``actor`` to ``parent``; return the Note."""
    obj = note(actor, parent, html, **extra)
    await deliver(node, http, actor, create(actor, obj))
    return obj
