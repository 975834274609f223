"""Fednode against a real bovine-herd 0.5.19 server, over real HTTP on 127.0.0.1.

bovine-herd is a second, independent ActivityPub implementation (Python: Quart, Hypercorn,
tortoise-orm), run from its own virtualenv (``interop/setup``). It answers unsigned GETs of
its actors with 401, verifies every inbox POST with its own HTTP-signature code (draft-cavage),
and signs its deliveries with draft-cavage ``rsa-sha256``. It is driven as its user would:
``bovine.BovineClient`` posts to the actor's outbox (client-to-server), and bovine's server
builds, signs and delivers the activities itself. Its state is read back through its own
collections (inbox, following), so "bovine holds X" means bovine's code accepted it.

One bovine server serves the whole module (``bovine_server``); every test has its own
Fednode on a port no earlier test of the module used (bovine caches remote keys by URL).
"""

from __future__ import annotations

from typing import Any

import pytest

from node.db import queries
from node.errors import BadStatus
from node.federation.lookup import find_actor_document
from tests.interop.bovine import BovinePeer
from tests.interop.fednode_support import page_of, publish
from tests.support import RunningNode, free_port, make_settings, running_node

pytestmark = pytest.mark.interop

AP = "application/activity+json"

_PORTS_USED: set[int] = set()


def unused_port() -> int:
    """A free port that no other Fednode of this module had: bovine caches our keys by URL."""
    while (port := free_port()) in _PORTS_USED:
        pass
    _PORTS_USED.add(port)
    return port


@pytest.fixture
async def fednode(tmp_path):
    """A real Fednode on 127.0.0.1 (allow_http and allow_private_network on, as make_settings does)."""
    async with running_node(make_settings(tmp_path, port=unused_port())) as running:
        yield running


# --- helpers -----------------------------------------------------------------------------


def id_of(value: Any) -> Any:
    """The id of a reference that bovine's store may give as a string or an embedded object."""
    return value.get("id") if isinstance(value, dict) else value


async def get_ap(http, url: str) -> tuple[int, Any]:
    async with http.get(url, headers={"Accept": AP}) as resp:
        try:
            return resp.status, await resp.json(content_type=None)
        except (ValueError, UnicodeDecodeError):
            return resp.status, await resp.text()


async def collection_items(http, url: str) -> tuple[int, list]:
    """One of our OrderedCollections: (totalItems, every item id, following its pages)."""
    status, top = await get_ap(http, url)
    assert status == 200, f"step: GET {url} -> {status}: {top}"
    items, page_url = list(top.get("orderedItems", [])), top.get("first")
    while page_url:
        status, page = await get_ap(http, page_url)
        assert status == 200, f"step: GET {page_url} -> {status}: {page}"
        items += page.get("orderedItems", page.get("items", []))
        page_url = page.get("next")
    return top.get("totalItems"), items


async def stored(node: RunningNode, ap_id: str):
    """Our stored object for ``ap_id`` once our inbox processor is idle (None when absent)."""
    await node.node.processor.drain()
    async with node.node.sessions() as session:
        return await queries.get_object(session, ap_id)


async def follow_site(peer: BovinePeer, node: RunningNode) -> str:
    """bovine follows our site Group; returns the Follow's id once bovine recorded our Accept."""
    group = node.url("/actors/forum")
    sent = await peer.follow(group)

    async def following_us():
        return group in await peer.following()

    await peer.wait_for(following_us, f"bovine's following collection lists {group} (our Accept)")
    return sent["location"]


def signed_by_us(peer: BovinePeer, node: RunningNode) -> bool:
    """bovine logged a GET of its actor whose verified signer was our instance actor."""
    return f"Getting {peer.actor_id} for {node.url('/actor')}" in peer.log()


# --- authorized fetch --------------------------------------------------------------------


async def test_we_read_bovine_actor_only_with_signed_get(fednode, bovine_peer, http):
    """bovine answers an unsigned GET of its actor with 401; our fetcher's signed GET (and a
    handle lookup through WebFinger) gets the actor, and bovine names our instance actor as
    the verified signer."""
    node, peer = fednode, bovine_peer

    status, body = await get_ap(http, peer.actor_id)
    assert status == 401, f"step: unsigned GET of bovine's actor -> {status}: {body}"
    with pytest.raises(BadStatus) as unsigned:
        await node.node.fetcher.get_activitypub(peer.actor_id, signed=False)
    assert unsigned.value.status == 401, f"step: our fetcher without a signature: {unsigned.value!r}"

    document = await node.node.fetcher.get_activitypub(peer.actor_id)
    assert (document["id"], document["type"]) == (peer.actor_id, "Person"), f"step: signed GET: {document}"
    assert document["publicKey"]["owner"] == peer.actor_id, document["publicKey"]
    assert signed_by_us(peer, node), (
        f"step: bovine verified our signed GET as {node.url('/actor')}\n{await peer.view()}"
    )

    found = await find_actor_document(node.node.fetcher, peer.server.address, allow_http=True)
    assert found["id"] == peer.actor_id, f"step: lookup of {peer.server.address}: {found}"


# --- bovine following us -----------------------------------------------------------------


async def test_bovine_follows_site_and_records_our_accept(fednode, bovine_peer, http):
    """bovine's Follow of our Group gets our Accept, which bovine verifies, stores in its inbox
    and applies: its following collection lists our Group, and our followers list bovine."""
    node, peer = fednode, bovine_peer
    group = node.url("/actors/forum")

    follow_id = await follow_site(peer, node)

    accepts = [a for a in await peer.inbox() if a.get("type") == "Accept" and id_of(a.get("actor")) == group]
    assert len(accepts) == 1, f"step: bovine's inbox holds our Accept\n{await peer.view()}"
    assert id_of(accepts[0]["object"]) == follow_id, f"step: our Accept names bovine's Follow: {accepts[0]}"

    total, items = await collection_items(http, node.url("/actors/forum/followers"))
    assert (total, items) == (1, [peer.actor_id]), f"step: our followers collection: {total} {items}"


# --- our articles reaching bovine --------------------------------------------------------


async def test_our_article_create_lands_in_bovine_inbox(fednode, bovine_peer):
    """A new article's Create(Article), signed by us, is verified by bovine and stored: its
    inbox lists the activity and bovine's store gives back our Article."""
    node, peer = fednode, bovine_peer
    await follow_site(peer, node)
    article_url = node.url("/articles/moo")

    published = await publish(node, "Moo", "moo", "For the **herd**.")
    assert published.deliveries == 1, f"step: publish queued {published.deliveries} deliveries"
    create_id = published.activity.ap_id

    async def in_inbox():
        return create_id in await peer.inbox_ids()

    await peer.wait_for(in_inbox, f"bovine's inbox lists our Create {create_id}")
    held = await peer.proxy(create_id)
    assert held["status"] == 200, f"step: bovine's stored Create: {held}"
    create = held["body"]
    assert (create["type"], id_of(create["actor"])) == ("Create", node.url("/actors/editor")), create
    article = create["object"]
    assert isinstance(article, dict) and article["id"] == article_url, f"step: the Create's object: {article}"
    assert article["type"] == "Article" and article["name"] == "Moo", article
    assert "<strong>herd</strong>" in article["content"], article["content"]


# --- bovine writing to our inbox ---------------------------------------------------------


async def test_bovine_reply_appears_in_our_thread(fednode, bovine_peer, http):
    """bovine's reply to our article (draft-cavage rsa-sha256, key fetched with our signed GET)
    becomes a comment: stored under the article, shown on its page, listed in its replies."""
    node, peer = fednode, bovine_peer
    await publish(node, "Graze", "graze", "Where is the best grass?")
    article_url = node.url("/articles/graze")

    reply = await peer.reply(article_url, "<p>The north meadow, says bovine.</p>")
    note_id = reply["object_id"]
    assert note_id and note_id.startswith(peer.base + "/"), f"step: bovine's reply id: {reply}"

    comment = await peer.wait_for(lambda: stored(node, note_id), f"our node stores bovine's reply {note_id}")
    assert comment.in_reply_to == article_url, vars(comment)
    assert comment.actor.ap_id == peer.actor_id, vars(comment)
    assert signed_by_us(peer, node), (
        f"step: our key fetch from bovine was a GET signed by {node.url('/actor')}\n{await peer.view()}"
    )

    html = await page_of(http, node, "graze")
    assert "The north meadow, says bovine." in html, "step: the reply shows on our article page"
    _, replies = await collection_items(http, article_url + "/replies")
    assert note_id in replies, f"step: our replies collection lists bovine's reply: {replies}"


async def test_bovine_like_and_reply_delete_are_applied(fednode, bovine_peer, http):
    """bovine's Like of our article is counted; its Delete of its reply leaves our placeholder."""
    node, peer = fednode, bovine_peer
    await publish(node, "Chew", "chew", "Slowly.")
    article_url = node.url("/articles/chew")
    reply = await peer.reply(article_url, "<p>cud is underrated</p>")
    note_id = reply["object_id"]
    await peer.wait_for(lambda: stored(node, note_id), f"our node stores bovine's reply {note_id}")

    await peer.like(article_url)

    async def liked():
        return (await stored(node, article_url)).likes_count == 1

    await peer.wait_for(liked, "our article counts bovine's Like")

    await peer.delete(note_id)

    async def deleted():
        return "cud is underrated" not in await page_of(http, node, "chew")

    await peer.wait_for(deleted, "bovine's deleted reply leaves our page")
    assert "[deleted]" in await page_of(http, node, "chew"), "step: a placeholder keeps its place"
    _, replies = await collection_items(http, article_url + "/replies")
    assert note_id not in replies, f"step: the deleted reply left our replies collection: {replies}"


# --- unfollow ----------------------------------------------------------------------------


async def test_bovine_unfollow_leaves_our_followers(fednode, bovine_peer, http):
    """bovine's Undo(Follow) removes it from our followers; bovine no longer follows our Group."""
    node, peer = fednode, bovine_peer
    group = node.url("/actors/forum")
    follow_id = await follow_site(peer, node)
    followers = node.url("/actors/forum/followers")
    assert (await collection_items(http, followers))[0] == 1, "step: bovine follows us first"

    await peer.unfollow(follow_id)

    async def no_followers():
        return (await collection_items(http, followers))[0] == 0

    await peer.wait_for(no_followers, "our followers collection drops to 0 after bovine's Undo(Follow)")
    assert group not in await peer.following(), f"step: bovine's following after Undo\n{await peer.view()}"
