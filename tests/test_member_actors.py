"""Every member is a Person actor: WebFinger, profile page and actor document, outbox, followers, follows."""

from __future__ import annotations

import pytest

from node.federation.vocab import ACTIVITY_JSON, AS_NS, PUBLIC
from node.members.posting import post_comment
from tests.factories import follow_of
from tests.fakes.remote import fake_remote, signed_post
from tests.members_fed_support import follow_member, make_person, publish, received
from tests.support import POLICY_DEFAULTS, make_settings, running_node, wait_for


async def get_json(http, url: str, accept: str = ACTIVITY_JSON) -> tuple[int, dict]:
    async with http.get(url, headers={"Accept": accept}) as response:
        return response.status, await response.json(content_type=None)


async def collection_items(http, url: str) -> list:
    """Every item of one of our paged collections, following its pages."""
    status, top = await get_json(http, url)
    assert status == 200, top
    items, page = [], top.get("first")
    while page:
        _, body = await get_json(http, page)
        items += body["orderedItems"]
        page = body.get("next")
    return items


@pytest.fixture
async def alice(node):
    return await make_person(node, "alice")


async def test_webfinger_finds_a_member_by_handle(node, http, alice):
    host = node.base.removeprefix("http://")
    status, jrd = await get_json(http, node.url(f"/.well-known/webfinger?resource=acct:alice@{host}"),
                                 "application/jrd+json")
    assert status == 200 and jrd["subject"] == f"acct:alice@{host}"
    assert {"rel": "self", "type": ACTIVITY_JSON, "href": node.url("/actors/alice")} in jrd["links"]


async def test_a_members_id_is_a_person_for_servers_and_a_profile_page_for_browsers(node, http, alice):
    status, person = await get_json(http, node.url("/actors/alice"))
    assert status == 200 and person["type"] == "Person" and person["preferredUsername"] == "alice"
    assert person["publicKey"]["id"] == node.url("/actors/alice#main-key")
    assert "BEGIN PUBLIC KEY" in person["publicKey"]["publicKeyPem"]
    assert (person["outbox"], person["followers"]) == (node.url("/actors/alice/outbox"), node.url("/actors/alice/followers"))
    async with http.get(node.url("/actors/alice"), headers={"Accept": "text/html"}) as response:
        assert response.status == 200 and response.content_type == "text/html"
        assert "@alice" in await response.text()


async def test_a_remote_follow_of_a_member_is_accepted_and_listed(node, http, alice):
    """Follow → a signed Accept from the member (verified by the follower's server); the follower is listed."""
    async with fake_remote() as remote:
        remote.verify_posts = True
        carol = remote.add_actor("carol")
        await follow_member(http, node, carol, "alice")
        accepts = await wait_for(lambda: received(remote, "Accept"), what="the Accept")
        assert accepts[0]["actor"] == node.url("/actors/alice") and accepts[0]["object"]["actor"] == carol.id
        assert remote.verified_signers == [node.url("/actors/alice#main-key")]
    assert await collection_items(http, node.url("/actors/alice/followers")) == [carol.id]


async def test_undo_follow_removes_a_members_follower(node, http, alice):
    async with fake_remote() as remote:
        carol = remote.add_actor("carol")
        await follow_member(http, node, carol, "alice")
        follow = follow_of(carol, node.url("/actors/alice"))
        undo = {"@context": AS_NS, "id": f"{carol.id}#undo/1", "type": "Undo", "actor": carol.id, "object": follow}
        status, _ = await signed_post(http, node.url("/actors/alice/inbox"), undo, carol)
        assert status == 202

        async def gone():
            return await collection_items(http, node.url("/actors/alice/followers")) == []
        await wait_for(gone, what="the follower to be removed")


async def test_a_members_outbox_lists_her_shown_comments_newest_first(tmp_path, http):
    """Create(Note) of each shown public comment, newest first; a held comment is not listed."""
    async with running_node(make_settings(tmp_path, **{**POLICY_DEFAULTS, "moderation_first_comments": "off",
                                                      "moderation_patterns": ["forbidden"]})) as node:
        alice = await make_person(node, "alice")
        article = await publish(node)
        first = await post_comment(node.node, alice, article, "first")
        second = await post_comment(node.node, alice, first.ap_id, "second")
        held = await post_comment(node.node, alice, article, "a forbidden word")
        assert (first.moderation, second.moderation, held.moderation) == ("published", "published", "held")
        items = await collection_items(http, node.url("/actors/alice/outbox"))
    assert [(item["type"], item["object"]["id"]) for item in items] == [("Create", second.ap_id), ("Create", first.ap_id)]
    assert items[0]["object"]["inReplyTo"] == first.ap_id and items[0]["to"] == [PUBLIC]


async def test_the_groups_outbox_still_lists_articles_only(node, http, alice):
    article = await publish(node)
    await post_comment(node.node, alice, article, "a comment is not a forum post")
    items = await collection_items(http, node.url("/actors/forum/outbox"))
    assert [item["object"]["id"] for item in items] == [article]


async def test_a_threads_context_names_its_owner(node, http):
    """FEP-11dd: the context collection's attributedTo is the thread root's author."""
    article = await publish(node)
    status, context = await get_json(http, article + "/context")
    assert status == 200 and context["attributedTo"] == node.url("/actors/editor")
