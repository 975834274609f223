"""Fednode against a real Fedify 2.3.6 peer (and against a second Fednode), over real HTTP.

Every test starts a real Fednode (the ``node`` fixture or ``running_node``) and, where a
peer is involved, a real Fedify peer process (interop/fedify-peer/peer.mjs on Node 22).
What the peer reports as ``received`` was verified by Fedify's own signature checks; what
its control calls report under ``requests`` are the HTTP exchanges Fedify made (so a 2xx
there is our inbox's answer to a real signer).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from node.db import queries
from node.db.models import Activity, Delivery, Follow, Object
from node.services import following
from node.services.publish import Published, delete_article
from tests.followed_sites_support import site_follows_site
from tests.interop.fedify import FedifyPeerError
from tests.interop.fednode_support import follow_site, page_of, peer_view, publish, wait_until
from tests.support import RunningNode, make_settings, running_node

pytestmark = pytest.mark.interop

AP = "application/activity+json"
KNOCKS = pytest.mark.parametrize("first_knock", ["rfc9421", "draft-cavage"])


# --- helpers -----------------------------------------------------------------------------


def posts_to(result: dict, base: str) -> list[tuple[str, int | None, str | None]]:
    """The inbox POSTs a peer control call made to ``base``: (url, status, signature scheme)."""
    return [
        (r["url"], r["status"], r["signature_scheme"])
        for r in result.get("requests", [])
        if r["method"] == "POST" and r["url"].startswith(base + "/")
    ]


def all_2xx(posts: list[tuple[str, int | None, str | None]]) -> bool:
    return bool(posts) and all(status is not None and 200 <= status < 300 for _, status, _ in posts)


async def delete(node: RunningNode, slug: str) -> Published:
    async with node.node.sessions.begin() as session:
        deleted = await delete_article(session, node.settings, slug)
    node.node.wake_delivery()
    return deleted


async def get_ap(http, url: str) -> tuple[int, Any]:
    async with http.get(url, headers={"Accept": AP}) as resp:
        try:
            body = await resp.json(content_type=None)
        except (ValueError, UnicodeDecodeError):
            body = await resp.text()
        return resp.status, body


async def followers_of(http, node: RunningNode, username: str = "forum") -> tuple[int, list[str]]:
    """Our followers collection of ``username``: (totalItems, ids on its first page)."""
    status, collection = await get_ap(http, node.url(f"/actors/{username}/followers"))
    assert status == 200, f"GET followers collection -> {status}: {collection}"
    status, page = await get_ap(http, collection["first"])
    assert status == 200, f"GET {collection['first']} -> {status}: {page}"
    return collection["totalItems"], page.get("orderedItems", page.get("items", []))


async def stored_activities(node: RunningNode, ids: list[str]) -> dict[str, str]:
    """Which of these activity ids our node stored from its inbox, once its processor is idle:
    id -> "status: error" (status applied | ignored | failed)."""
    await node.node.processor.drain()
    async with node.node.sessions() as session:
        rows = (await session.scalars(select(Activity).where(Activity.ap_id.in_(ids)))).all()
    return {row.ap_id: f"{row.status}: {row.error}" for row in rows}


def failed(stored: dict[str, str]) -> dict[str, str]:
    """The stored activities whose handler raised (an exception, not a deliberate "ignored")."""
    return {ident: outcome for ident, outcome in stored.items() if outcome.startswith("failed")}


async def deliveries_to(node: RunningNode, base: str) -> list[Delivery]:
    async with node.node.sessions() as session:
        rows = (await session.scalars(
            select(Delivery).where(Delivery.inbox.startswith(base + "/")).order_by(Delivery.id)
        )).all()
    return list(rows)


async def pending_deliveries(node: RunningNode) -> int:
    async with node.node.sessions() as session:
        return len((await session.scalars(select(Delivery.id).where(Delivery.status == "pending"))).all())


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- discovery ---------------------------------------------------------------------------


async def test_peer_finds_site_and_author_by_url(node, fedify_peer):
    """Fedify's lookupObject resolves our Group and Person actors by their URLs."""
    site = await fedify_peer.lookup(node.url("/actors/forum"))
    assert (site["type"], site["id"]) == ("Group", node.url("/actors/forum")), (
        f"step: lookup site by URL: {site}\n{await peer_view(fedify_peer)}"
    )
    assert site["object"]["preferredUsername"] == "forum"
    assert site["object"]["inbox"] == node.url("/actors/forum/inbox")

    author = await fedify_peer.lookup(node.url("/actors/editor"))
    assert (author["type"], author["id"]) == ("Person", node.url("/actors/editor")), (
        f"step: lookup author by URL: {author}\n{await peer_view(fedify_peer)}"
    )
    # Fedify parsed our public key (it is what it verifies our deliveries with).
    key = author["object"].get("publicKey")
    assert key and key["id"] == node.url("/actors/editor#main-key"), author["object"]


async def test_peer_finds_site_and_author_by_handle(node, fedify_peer):
    """Fedify resolves @forum@host and @editor@host through our WebFinger to the right actors."""
    for username, kind in (("forum", "Group"), ("editor", "Person")):
        handle = f"@{username}@{node.settings.host}"
        found = await fedify_peer.lookup(handle)
        assert (found["type"], found["id"]) == (kind, node.url(f"/actors/{username}")), (
            f"step: lookup {handle}: {found}\n{await peer_view(fedify_peer)}"
        )
        webfinger = [r for r in found["requests"] if "/.well-known/webfinger" in r["url"]]
        assert webfinger and webfinger[0]["url"].startswith(node.base) and webfinger[0]["status"] == 200, (
            f"step: WebFinger request for {handle}: {found['requests']}"
        )


# --- following us ------------------------------------------------------------------------


async def test_peer_follows_site_and_gets_verified_accept(node, fedify_peer, http):
    """A Fedify Follow of our Group is answered with an Accept Fedify verifies; followers lists it."""
    sent, accept = await follow_site(fedify_peer, node)
    follow_posts = posts_to(sent, node.base)
    assert follow_posts == [(node.url("/actors/forum/inbox"), 202, "rfc9421")], (
        f"step: Follow delivery to our inbox: {follow_posts}"
    )
    assert accept["actor"] == node.url("/actors/forum"), accept
    assert (accept["recipient"], accept["signature_scheme"]) == ("alice", "draft-cavage"), accept["headers"]
    assert (await fedify_peer.following()) == [
        {"target": node.url("/actors/forum"), "follow_id": sent["id"], "state": "accepted"}
    ], f"step: peer's following state\n{await peer_view(fedify_peer)}"
    assert await fedify_peer.rejected() == [], await peer_view(fedify_peer)

    total, items = await followers_of(http, node)
    assert (total, items) == (1, [fedify_peer.actor_id]), (
        f"step: our followers collection: totalItems={total} items={items}"
    )


# --- our articles reaching the peer ------------------------------------------------------


async def test_article_create_update_delete_reach_peer(node, fedify_peer, http):
    """Create, Update (newer `updated`) and Delete of an article arrive verified; the URL then answers 410."""
    await follow_site(fedify_peer, node)
    url = node.url("/articles/interop")

    created = await publish(node, "Interop", "interop", "First version.")
    assert created.deliveries == 1, f"step: publish queued {created.deliveries} deliveries"
    create = await fedify_peer.wait_for_received(type="Create", object=url, timeout=15)
    assert create["id"] == created.activity.ap_id
    assert create["actor"] == node.url("/actors/editor")
    article = create["body"]["object"]
    assert article["type"] == "Article" and article["name"] == "Interop", article
    assert create["raw"]["object"]["type"] == "Article", f"Fedify's parse: {create['raw']}"

    edited = await publish(node, "Interop, edited", "interop", "Second version.")
    assert not edited.created and edited.deliveries == 1
    update = await fedify_peer.wait_for_received(type="Update", object=url, timeout=15)
    assert update["id"] == edited.activity.ap_id
    new = update["body"]["object"]
    assert new["name"] == "Interop, edited" and "Second version." in new["content"], new
    before = parse_time(article.get("updated") or article["published"])
    assert parse_time(new["updated"]) > before, (
        f"step: Update carries a newer `updated`: {new['updated']} vs {before.isoformat()}"
    )

    deleted = await delete(node, "interop")
    gone = await fedify_peer.wait_for_received(type="Delete", object=url, timeout=15)
    assert gone["id"] == deleted.activity.ap_id
    assert gone["body"]["object"]["type"] == "Tombstone"
    assert await fedify_peer.rejected() == [], await peer_view(fedify_peer)

    status, body = await get_ap(http, url)
    assert status == 410, f"step: GET deleted article -> {status}: {body}"


# --- the peer writing to our inbox -------------------------------------------------------


@KNOCKS
async def test_peer_reply_is_accepted_by_our_inbox(node, start_fedify_peer, first_knock):
    """A Fedify reply to our article, signed with either scheme first, gets a 2xx on the first knock."""
    peer = await start_fedify_peer(first_knock=first_knock)
    await publish(node, "Discuss", "discuss", "Say something.")
    article = node.url("/articles/discuss")

    reply = await peer.reply(article, "<p>A reply from Fedify</p>")
    posts = posts_to(reply, node.base)
    assert reply["ok"] is True and [d["recipient"] for d in reply["delivered"]] == [node.url("/actors/editor")], (
        f"step: reply delivery: {reply['delivered']}; posts: {posts}\n{await peer_view(peer)}"
    )
    # One POST, signed with the configured scheme, accepted: Fedify never fell back.
    assert posts == [(node.url("/actors/editor/inbox"), 202, first_knock)], (
        f"step: POSTs to our inbox (url, status, scheme): {posts}"
    )
    stored = await stored_activities(node, [reply["activity_id"]])
    assert list(stored) == [reply["activity_id"]], f"step: our activities table holds the Create: {stored}"
    assert not failed(stored), f"step: applying the stored Create raised: {stored}"


async def test_peer_reactions_and_reply_changes_are_accepted(node, fedify_peer):
    """Like, Announce, their Undo, and Update/Delete of a reply from Fedify all get 2xx from our inbox."""
    peer = fedify_peer
    await publish(node, "Reactions", "reactions", "Like me.")
    article = node.url("/articles/reactions")
    reply = await peer.reply(article, "<p>first words</p>")
    assert all_2xx(posts_to(reply, node.base)), f"step: reply: {posts_to(reply, node.base)}"

    steps: dict[str, dict] = {}
    steps["like"] = await peer.like(article)
    steps["announce"] = await peer.announce(article)
    steps["undo like"] = await peer.undo(steps["like"]["activity_id"])
    steps["undo announce"] = await peer.undo(steps["announce"]["activity_id"])
    steps["update reply"] = await peer.update(reply["note_id"], "<p>second words</p>")
    steps["delete reply"] = await peer.delete(reply["note_id"])

    answers = {name: posts_to(result, node.base) for name, result in steps.items()}
    refused = {name: posts for name, posts in answers.items() if not all_2xx(posts)}
    assert not refused, f"step(s) not accepted by our inbox: {refused}; all answers: {answers}"
    for name, result in steps.items():
        assert result["ok"] is True, f"step {name}: {result.get('delivered')}"

    ids = [result["activity_id"] for result in steps.values()]
    stored = await stored_activities(node, ids)
    assert sorted(stored) == sorted(ids), f"step: our activities table holds each: missing {set(ids) - set(stored)}"
    assert not failed(stored), f"step: applying stored activities raised: {failed(stored)}"


# --- signed fetches against a peer that requires them ------------------------------------


async def test_we_read_actor_of_peer_requiring_signed_fetch(node, start_fedify_peer):
    """Our fetcher reads a Fedify actor that requires signed GETs (signed by our instance actor)."""
    peer = await start_fedify_peer(require_signed_fetch=True)
    document = await node.node.fetcher.get_activitypub(peer.actor_id)
    assert document["id"] == peer.actor_id and document["type"] == "Person", document
    served = [r for r in await peer.incoming() if r["path"] == "/users/alice" and r["method"] == "GET"]
    assert served and served[-1]["status"] == 200, f"step: peer served our GET: {served}\n{await peer_view(peer)}"
    assert served[-1]["signer"] == node.url("/actor"), f"step: who Fedify says signed: {served}"


async def test_inbox_verifies_reply_from_peer_requiring_signed_fetch(node, start_fedify_peer):
    """Our inbox verifies a reply from a peer whose key can only be fetched with a signed GET."""
    peer = await start_fedify_peer(require_signed_fetch=True)
    await publish(node, "Guarded", "guarded", "Reply from behind authorized fetch.")
    await peer.clear()

    reply = await peer.reply(node.url("/articles/guarded"), "<p>signed fetch works</p>")
    posts = posts_to(reply, node.base)
    assert reply["ok"] is True and all_2xx(posts), f"step: reply to our inbox: {posts}\n{await peer_view(peer)}"
    key_fetches = [
        (r["status"], r["signature_scheme"], r.get("signer"))
        for r in await peer.incoming() if r["method"] == "GET" and r["path"].startswith("/users/alice")
    ]
    # Our key resolver had to fetch alice's key, and only a signed GET got it.
    assert key_fetches and key_fetches[-1][0] == 200 and key_fetches[-1][2] == node.url("/actor"), (
        f"step: our key fetch from the guarded peer (status, scheme, signer): {key_fetches}"
    )
    stored = await stored_activities(node, [reply["activity_id"]])
    assert list(stored) == [reply["activity_id"]] and not failed(stored), f"step: stored Create: {stored}"


# --- our authorized fetch ----------------------------------------------------------------


@pytest.fixture
async def guarded_node(tmp_path):
    """A Fednode with authorized_fetch on."""
    async with running_node(make_settings(tmp_path, authorized_fetch=True)) as running:
        yield running


async def test_authorized_fetch_keeps_actor_public_and_follow_working(guarded_node, fedify_peer):
    """With our authorized fetch on, Fedify still looks up our actor unsigned and follows us."""
    node = guarded_node
    found = await fedify_peer.lookup(node.url("/actors/forum"))
    assert found["id"] == node.url("/actors/forum"), f"step: unsigned actor lookup: {found}"
    actor_gets = [r for r in found["requests"] if r["url"] == node.url("/actors/forum")]
    assert [(r["status"], r["signature_scheme"]) for r in actor_gets] == [(200, None)], actor_gets

    sent, accept = await follow_site(fedify_peer, node)
    assert accept["actor"] == node.url("/actors/forum")
    assert all_2xx(posts_to(sent, node.base)), posts_to(sent, node.base)


@KNOCKS
async def test_authorized_fetch_article_needs_signed_fetch(guarded_node, start_fedify_peer, first_knock):
    """With our authorized fetch on, Fedify's signed GET of an article works and an unsigned one fails."""
    node = guarded_node
    peer = await start_fedify_peer(first_knock=first_knock)
    await publish(node, "Members", "members", "Signed readers only.")
    url = node.url("/articles/members")

    with pytest.raises(FedifyPeerError) as unsigned:
        await peer.lookup(url)
    unsigned_gets = [
        (r["status"], r["signature_scheme"]) for r in unsigned.value.body.get("requests", []) if r["url"] == url
    ]
    assert unsigned_gets == [(401, None)], f"step: unsigned GET of our article: {unsigned_gets}"

    found = await peer.lookup(url, signed=True)
    assert (found["type"], found["id"]) == ("Article", url), f"step: signed lookup: {found}"
    signed_gets = [(r["status"], r["signature_scheme"]) for r in found["requests"] if r["url"] == url]
    assert signed_gets == [(200, first_knock)], f"step: signed GET of our article (status, scheme): {signed_gets}"


# --- unfollow ----------------------------------------------------------------------------


async def test_unfollow_empties_followers_and_stops_deliveries(node, fedify_peer, http):
    """After Fedify's Undo(Follow) our followers drop to 0 and a new article is delivered to nobody."""
    peer = fedify_peer
    await follow_site(peer, node)
    assert (await followers_of(http, node))[0] == 1

    undone = await peer.unfollow(node.url("/actors/forum"))
    assert all_2xx(posts_to(undone, node.base)), f"step: Undo(Follow): {posts_to(undone, node.base)}"

    async def no_followers():
        return (await followers_of(http, node))[0] == 0

    await wait_until(no_followers, "our followers collection to drop to 0", peer=peer)
    received_before = [(a["type"], a["id"]) for a in await peer.received()]

    published = await publish(node, "After", "after", "Nobody should get this.")
    assert published.deliveries == 0, f"step: publish after unfollow queued {published.deliveries} deliveries"

    async def worker_idle():
        return await pending_deliveries(node) == 0

    await wait_until(worker_idle, "our delivery worker to finish")
    await asyncio.sleep(1.0)  # a late delivery would land here
    rows = await deliveries_to(node, peer.base)
    kinds = [json.loads(row.body)["type"] for row in rows]
    assert kinds == ["Accept"], f"step: our deliveries to the peer (only the Accept expected): {kinds}"
    received_after = [(a["type"], a["id"]) for a in await peer.received()]
    assert received_after == received_before, (
        f"step: peer received nothing new after unfollow\n{await peer_view(peer)}"
    )


# --- two Fednodes --------------------------------------------------------------------------


async def test_two_fednodes_site_follows_site_and_gets_articles(tmp_path):
    """Node B's site follows node A's site, A accepts, and A's new article is stored on B as remote."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with running_node(make_settings(tmp_path / "a")) as a, running_node(make_settings(tmp_path / "b")) as b:
        follow = await following.follow(b.node, a.url("/actors/forum"))
        assert follow.state == "pending"
        b.node.wake_delivery()

        async def accepted():
            async with b.node.sessions() as session:
                row = await session.scalar(select(Follow).where(Follow.ap_id == follow.ap_id))
                return row is not None and row.state == "accepted"

        async def a_side():
            async with a.node.sessions() as session:
                rows = (await session.scalars(select(Follow))).all()
                return [(r.follower.ap_id, r.followed.ap_id, r.state) for r in rows]

        try:
            await wait_until(accepted, "B's follow of A to be accepted", timeout=15)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nA's follows: {await a_side()}") from None
        assert await a_side() == [(b.url("/actors/forum"), a.url("/actors/forum"), "accepted")]

        published = await publish(a, "Across", "across", "From A to B.")
        assert published.deliveries == 1, f"step: A queued {published.deliveries} deliveries"
        ap_id = a.url("/articles/across")

        async def held_on_b():
            async with b.node.sessions() as session:
                return await session.scalar(select(Object).where(Object.ap_id == ap_id))

        async def b_activities():
            async with b.node.sessions() as session:
                rows = (await session.scalars(select(Activity).where(Activity.is_local.is_(False)))).all()
                return [(r.ap_type, r.object_ap_id, r.status) for r in rows]

        try:
            article = await wait_until(held_on_b, "A's article on B", timeout=15)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nB's received activities: {await b_activities()}") from None
        assert (article.kind, article.is_local, article.name) == ("article", False, "Across"), vars(article)
        assert article.actor.ap_id == a.url("/actors/editor")


async def test_two_fednodes_carry_the_same_thread(tmp_path, fedify_peer, http):
    """The peer replies on A (then answers itself); B, following A's site, ends up with the same nested thread."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    peer = fedify_peer
    async with running_node(make_settings(tmp_path / "a")) as a, running_node(make_settings(tmp_path / "b")) as b:
        # Given B's site follows A's site, and A published an article that B holds
        await site_follows_site(b, a)
        await publish(a, "Shared topic", "shared", "Discuss on every node.")
        article = a.url("/articles/shared")

        async def held_on_b(ap_id: str):
            async with b.node.sessions() as session:
                return await session.scalar(select(Object).where(Object.ap_id == ap_id))

        await wait_until(lambda: held_on_b(article), "A's article on B", timeout=15)

        # When the peer replies to A's article, then replies to its own reply mentioning A's forum
        first = await peer.reply(article, "<p>first level</p>")
        second = await peer.reply(first["note_id"], "<p>second level</p>", mention=a.url("/actors/forum"))

        # Then A holds both, nested, and announces them; B fetches each from the peer and nests it the same
        for note in (first, second):
            await wait_until(lambda n=note: held_on_b(n["note_id"]), f"comment {note['note_id']} on B",
                             timeout=20, peer=peer)
        on_b = {n["note_id"]: await held_on_b(n["note_id"]) for n in (first, second)}
        assert on_b[second["note_id"]].parent_id == on_b[first["note_id"]].id
        # And B shows the thread on its own page, nested as on A
        async with http.get(b.url("/"), headers={"Accept": "text/html"}) as response:
            index = await response.text()
        thread_page = b.url(f"/threads/{(await held_on_b(article)).id}")
        assert f'href="{thread_page}"' in index, "step: B's index links A's article to B's own thread page"
        async with http.get(thread_page, headers={"Accept": "text/html"}) as response:
            html = await response.text()
            assert response.status == 200, html[:500]
        assert 'id="comment-1"' in html and 'id="comment-1.1"' in html, "step: B's page nests 1 and 1.1"
        assert html.index("first level") < html.index("second level")
        async with a.node.sessions() as session:
            on_a = await queries.get_object(session, second["note_id"])
            assert on_a is not None and on_a.in_reply_to == first["note_id"]


async def collection_items(http, url: str) -> list[str]:
    """Every item id of an OrderedCollection of ours, following its pages."""
    status, top = await get_ap(http, url)
    assert status == 200, f"step: GET {url} answered {status}: {top}"
    items, page_url = [], top.get("first")
    while page_url:
        status, page = await get_ap(http, page_url)
        items += page.get("orderedItems", [])
        page_url = page.get("next")
    return items


async def test_peer_comment_appears_changes_and_disappears(node, fedify_peer, http):
    """A Fedify reply shows on our page and in replies/context; its edit shows; likes count; its delete leaves a placeholder."""
    peer = fedify_peer
    await publish(node, "Visible", "visible", "Comments welcome.")
    article = node.url("/articles/visible")

    reply = await peer.reply(article, "<p>hello from fedify</p>")
    await node.node.processor.drain()
    assert "hello from fedify" in await page_of(http, node, "visible"), f"step: reply on page\n{await peer_view(peer)}"
    assert reply["note_id"] in await collection_items(http, article + "/replies"), "step: reply in replies collection"
    assert reply["note_id"] in await collection_items(http, article + "/context"), "step: reply in context collection"

    await peer.update(reply["note_id"], "<p>edited by fedify</p>")
    await peer.like(article)
    await node.node.processor.drain()
    html = await page_of(http, node, "visible")
    assert "edited by fedify" in html and "hello from fedify" not in html, "step: the edit shows"
    async with node.node.sessions() as session:
        assert (await queries.get_object(session, article)).likes_count == 1, "step: the like is counted"

    await peer.delete(reply["note_id"])
    await node.node.processor.drain()
    html = await page_of(http, node, "visible")
    assert "edited by fedify" not in html and "[deleted]" in html, "step: the delete leaves a placeholder"
    assert reply["note_id"] not in await collection_items(http, article + "/replies"), "step: gone from replies"


async def test_peer_reply_to_another_actors_comment_keeps_the_shape(node, start_fedify_peer, http):
    """Peer 2 answers peer 1's comment (mentioning our forum): it nests under peer 1's comment here."""
    first_peer, second_peer = await start_fedify_peer(), await start_fedify_peer()
    await publish(node, "Shape", "shape", "Nest here.")
    article = node.url("/articles/shape")
    top = await first_peer.reply(article, "<p>top comment</p>")
    answer = await second_peer.reply(top["note_id"], "<p>an answer</p>", mention=node.url("/actors/forum"))
    await node.node.processor.drain()
    async with node.node.sessions() as session:
        parent = await queries.get_object(session, top["note_id"])
        child = await queries.get_object(session, answer["note_id"])
    assert parent is not None and child is not None, f"step: both stored\n{await peer_view(second_peer)}"
    assert child.parent_id == parent.id
    html = await page_of(http, node, "shape")
    assert html.index("top comment") < html.index("an answer") and 'id="comment-1.1"' in html
