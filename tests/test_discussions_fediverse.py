"""Pages that are on the fediverse, sources that close their comments, and affiliated forums.

Real HTTP throughout: the fake news site (tests/fakes/website.py), a fake fediverse server serving
Mastodon- and Lemmy-shaped posts with real keys (tests/fakes/remote.py), and real Fednodes.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from node.db import discussions as db
from node.db.models import DiscussionDocument, Object
from node.discussions.resolve import DiscussionError
from node.discussions.service import open_discussion, refresh_source
from node.federation.vocab import PUBLIC
from tests.factories import mastodon_status
from tests.fakes.remote import fake_remote
from tests.fakes.website import article_html, fake_website
from tests.followed_sites_support import site_follows_site
from tests.support import make_settings, running_node, wait_for


@pytest.fixture
async def site():
    async with fake_website() as website:
        yield website


@pytest.fixture
async def remote():
    async with fake_remote() as server:
        yield server


# --- a page that is itself on the fediverse -----------------------------------------------------


async def test_a_page_with_an_activitypub_alternate_is_discussed_in_that_posts_thread(node, site, remote, http):
    """A blog page advertising its post (WordPress ActivityPub plugin): the post is the thread, no link thread."""
    alice = remote.add_actor("alice")
    status = mastodon_status(remote, alice, 1)
    remote.serve("/users/alice/statuses/1", status)
    site.page("/blog/harbour", article_html("Harbour plan", alternate=status["id"]))
    opened = await open_discussion(node.node, site.url("/blog/harbour"))
    document = opened.document
    assert (document.kind, document.activitypub_id) == ("fediverse", status["id"])
    async with node.node.sessions() as session:
        thread = await session.get(Object, document.thread_id)
        pages = (await session.scalars(select(Object).where(Object.ap_type == "Page"))).all()
    assert (thread.ap_id, thread.is_local, thread.kind) == (status["id"], False, "article")
    assert thread.actor.ap_id == alice.id
    assert pages == [], "step: no link thread of our own for a page that is on the fediverse"
    async with http.get(node.url(f"/discussions/{document.id}"), headers={"Accept": "text/html"}) as response:
        html = await response.text()
        assert response.status == 200
    assert "A discussion of a fediverse post" in html and "Our new harbour plan, in a thread" in html
    async with http.get(node.url(f"/discussions/{document.id}"), headers={"Accept": "application/activity+json"},
                        allow_redirects=False) as response:
        assert response.status == 302 and response.headers["Location"] == status["id"]


async def test_a_url_that_content_negotiates_is_its_own_thread(node, remote):
    """A Mastodon status URL answers ActivityStreams to our Accept: the status is the thread, its URL an alias."""
    bob = remote.add_actor("bob")
    status = mastodon_status(remote, bob, 7)
    remote.serve("/users/bob/statuses/7", status)
    opened = await open_discussion(node.node, status["id"] + "?utm_source=share")
    assert opened.document.kind == "fediverse" and opened.document.activitypub_id == status["id"]
    assert opened.document.title == "Our new harbour plan, in a thread", "step: a Note is titled by its text"
    async with node.node.sessions() as session:
        assert set(await db.list_aliases(session, opened.document.id)) == {status["id"], status["url"]}
    assert not (await open_discussion(node.node, status["id"])).created


async def test_an_alternate_on_another_site_is_not_followed(node, site, remote):
    """A page naming someone else's post as its alternate gets a link thread; the post is never fetched."""
    remote.serve("/users/x/statuses/1", {"id": "unused"})
    site.page("/claims", article_html("Claims", alternate="https://elsewhere.example/users/x/statuses/1"))
    opened = await open_discussion(node.node, site.url("/claims"))
    assert opened.document.kind == "link"


async def test_a_lemmy_post_with_comments_locked_is_labelled_closed_at_the_source(node, site, remote, http):
    """Lemmy writes commentsEnabled: false on a locked post: the thread is open here, and says so."""
    community = remote.add_actor("news", kind="Group")
    post_id = f"{remote.base}/post/42"
    remote.serve("/post/42", {
        "@context": ["https://join-lemmy.org/context.json", "https://www.w3.org/ns/activitystreams"],
        "id": post_id, "type": "Page", "attributedTo": community.id, "name": "Harbour plan thread",
        "to": [community.id, PUBLIC], "cc": [], "audience": community.id, "commentsEnabled": False,
        "sensitive": False, "published": "2026-12-01T10:00:00Z",
        "attachment": [{"type": "Link", "href": "https://news.example/harbour"}],
    })
    opened = await open_discussion(node.node, post_id)
    assert opened.document.closed_reason == "the source locked its comments"
    async with http.get(node.url(f"/discussions/{opened.document.id}"), headers={"Accept": "text/html"}) as response:
        html = await response.text()
    assert "Comments are closed at the source" in html and "the discussion continues here" in html
    async with http.get(node.url("/discussions.json"), params={"url": post_id}) as response:
        body = await response.json()
    assert body["discussion"]["closed_at_source"] is True


async def test_a_gotosocial_reply_policy_without_public_is_closed_at_the_source(node, remote):
    carol = remote.add_actor("carol")
    status = mastodon_status(remote, carol, 3, interactionPolicy={
        "canLike": {"always": [PUBLIC]},
        "canReply": {"always": [carol.id], "approvalRequired": []},
    })
    remote.serve("/users/carol/statuses/3", status)
    opened = await open_discussion(node.node, status["id"])
    assert opened.document.closed_reason == "the source allows replies only from people it chose"


async def test_a_deleted_source_post_closes_comments_there_and_the_thread_stays_here(node, remote, http):
    """Asked again (fednode discuss), the post answers 410: labelled closed, the page and its thread still served."""
    dave = remote.add_actor("dave")
    status = mastodon_status(remote, dave, 9)
    remote.serve("/users/dave/statuses/9", status)
    opened = await open_discussion(node.node, status["id"])
    assert opened.document.closed_reason is None
    remote.serve("/users/dave/statuses/9", {"id": status["id"], "type": "Tombstone"}, status=410)
    assert await refresh_source(node.node, opened.document) == "the source deleted the post"
    async with http.get(node.url(f"/discussions/{opened.document.id}"), headers={"Accept": "text/html"}) as response:
        assert response.status == 200
        assert "Comments are closed at the source" in await response.text()


# --- affiliated forums --------------------------------------------------------------------------


async def test_two_affiliated_fednodes_one_url_one_thread(tmp_path, site, http):
    """B follows A; A opens a link thread; asked about the URL (by another spelling), B shows A's thread and opens none."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    site.page("/harbour", article_html("Harbour plan", canonical=site.url("/harbour")))
    async with running_node(make_settings(tmp_path / "a")) as a, running_node(make_settings(tmp_path / "b")) as b:
        await site_follows_site(b, a)
        opened = await open_discussion(a.node, site.url("/harbour?utm_source=rss"))
        thread_id = a.url(f"/discussions/{opened.document.id}")

        async def filed_on_b():
            async with b.node.sessions() as session:
                return await db.find_document(session, [site.url("/harbour")])

        document = await wait_for(filed_on_b, 15, what="A's link thread filed on B")
        assert document.kind == "affiliate"
        async with http.get(b.url("/discussions.json"), params={"url": site.url("/harbour/#comments")}) as response:
            body = await response.json()
        assert response.status == 200 and body["discussion"]["id"] == thread_id
        again = await open_discussion(b.node, site.url("/harbour"))
        assert not again.created and again.document.thread.ap_id == thread_id
        assert site.hits("/harbour") == 1, "step: B never fetched the page"
        async with b.node.sessions() as session:
            assert len((await session.scalars(select(DiscussionDocument))).all()) == 1
            assert (await session.scalars(select(Object).where(Object.is_local.is_(True),
                                                                Object.ap_type == "Page"))).all() == []


async def test_two_forums_that_open_the_same_page_at_once_link_to_each_other(tmp_path, site, http):
    """A and B follow each other and open threads for one page before either hears of the other's: each shows both."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    site.page("/same", article_html("Same story"))
    settings_a = make_settings(tmp_path / "a", run_worker=False)
    settings_b = make_settings(tmp_path / "b", run_worker=False)
    async with running_node(settings_a) as a, running_node(settings_b) as b:
        # Follows both ways, delivered by hand (the workers are off so both opens happen "at once").
        for follower, followed in ((a, b), (b, a)):
            await follower.node.start_delivery()
            await followed.node.start_delivery()
            await site_follows_site(follower, followed)
            await follower.node.delivery.stop()
            await followed.node.delivery.stop()
            follower.node.delivery = followed.node.delivery = None
        opened_a, opened_b = await asyncio.gather(open_discussion(a.node, site.url("/same")),
                                                  open_discussion(b.node, site.url("/same")))
        assert opened_a.created and opened_b.created
        await a.node.start_delivery()
        await b.node.start_delivery()

        async def threads_of(running, document_id):
            async with running.node.sessions() as session:
                return len(await db.list_threads(session, document_id)) == 2

        await wait_for(lambda: threads_of(a, opened_a.document.id), 15, what="B's thread recorded on A")
        await wait_for(lambda: threads_of(b, opened_b.document.id), 15, what="A's thread recorded on B")
        for running, other, document in ((a, b, opened_a.document), (b, a, opened_b.document)):
            async with http.get(running.url(f"/discussions/{document.id}"), headers={"Accept": "text/html"}) as response:
                html = await response.text()
            assert "Also discussed at" in html
            other_id = other.url(f"/discussions/{(opened_b if other is b else opened_a).document.id}")
            assert f'href="{other_id}"' in html, html[html.index("Also discussed"):][:400]


async def test_a_lock_or_a_delete_arriving_later_closes_comments_at_the_source(node, remote, http):
    """Lemmy locks the post (a signed Update with commentsEnabled: false), then deletes it: labelled each time, still here."""
    from tests.fakes.remote import signed_post

    community = remote.add_actor("news", kind="Group")
    post_id = f"{remote.base}/post/43"
    post = {"id": post_id, "type": "Page", "attributedTo": community.id, "name": "Open for now",
            "content": "<p>open</p>", "to": [community.id, PUBLIC], "cc": [], "commentsEnabled": True,
            "published": "2026-12-01T10:00:00Z"}
    remote.serve("/post/43", {"@context": "https://www.w3.org/ns/activitystreams", **post})
    opened = await open_discussion(node.node, post_id)

    async def closed_reason():
        async with http.get(node.url("/discussions.json"), params={"url": post_id}) as response:
            return (await response.json())["discussion"]["closed_reason"]

    assert await closed_reason() is None
    locked = {**post, "commentsEnabled": False, "updated": "2026-12-02T10:00:00Z"}
    update = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{post_id}/update/1", "type": "Update",
              "actor": community.id, "object": locked, "to": [PUBLIC]}
    assert (await signed_post(http, node.url("/inbox"), update, community))[0] == 202
    await node.node.processor.drain()
    assert await closed_reason() == "the source locked its comments"
    delete = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{post_id}/delete/1", "type": "Delete",
              "actor": community.id, "object": post_id, "to": [PUBLIC]}
    assert (await signed_post(http, node.url("/inbox"), delete, community))[0] == 202
    await node.node.processor.drain()
    async with http.get(node.url(f"/discussions/{opened.document.id}"), headers={"Accept": "text/html"}) as response:
        assert response.status == 200
        assert "Comments are closed at the source" in await response.text()
    assert await closed_reason() == "the source deleted the post"


async def test_a_blocked_site_cannot_be_discussed(tmp_path, site):
    """The operator's blocked_domains hold for pages too: refused before any request."""
    site.page("/story", article_html("Blocked"))
    async with running_node(make_settings(tmp_path, blocked_domains=["127.0.0.1"])) as running:
        with pytest.raises(DiscussionError) as caught:
            await open_discussion(running.node, site.url("/story"))
        assert caught.value.reason == "that site is blocked on this node"
    assert site.requests == []


async def test_a_post_and_the_page_that_names_it_are_one_document(node, site, remote):
    """The status URL discussed first, then the blog page whose alternate is that status: one document, both aliases."""
    erin = remote.add_actor("erin")
    status = mastodon_status(remote, erin, 11)
    remote.serve("/users/erin/statuses/11", status)
    first = await open_discussion(node.node, status["id"])
    site.page("/blog/same-post", article_html("Same post", alternate=status["id"]))
    second = await open_discussion(node.node, site.url("/blog/same-post"))
    assert not second.created and second.document.id == first.document.id
    async with node.node.sessions() as session:
        assert site.url("/blog/same-post") in await db.list_aliases(session, first.document.id)
