"""Posts from sites we follow become threads here, and their discussions are backfilled.

The site follows a remote actor over real HTTP (WebFinger-free: by its id; the fake
answers our Follow with a signed Accept).  Then that actor's top-level posts arrive
as the real software sends them — the WordPress ActivityPub plugin's ``Note`` for a
short or untitled post and ``Article`` for a titled one, a Mastodon status, a Plume
article attributed to its author and its blog — and each becomes a thread we hold,
whose remote ``replies`` collection is crawled soon and then on the decaying schedule.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from node.db import crawl as crawl_db
from node.db.models import CrawlState, Object
from node.db.types import utcnow
from node.federation import crawl
from node.federation.vocab import AS_NS, PUBLIC
from tests import payloads
from tests.fakes.remote import fake_remote
from tests.followed_sites_support import deliver, follow_accepted
from tests.threads_support import comment as held


@pytest.fixture
async def remote():
    async with fake_remote() as server:
        yield server


async def crawl_state(node, root: Object) -> CrawlState | None:
    async with node.node.sessions() as session:
        return await crawl_db.crawl_state(session, root.id)


# --- 1. Notes from followed sites are threads --------------------------------------------------


async def test_wordpress_untitled_post_sent_as_note_becomes_a_thread(node, http, remote):
    """The WordPress plugin sends a short or untitled post as a Note: from a followed blog it is a thread."""
    # Given the site follows a WordPress author
    author = payloads.wordpress_author(remote)
    await follow_accepted(node, http, remote, author)
    # When the blog publishes a short post without a title (a Note)
    activity = payloads.wordpress_post(author, 42, "<p>Quick thought: federation works.</p>")
    assert activity["object"]["type"] == "Note"
    # Then it is stored as a remote thread, shown on its thread page
    assert await deliver(node, http, author, activity) == "applied"
    thread = await held(node, activity["object"]["id"])
    assert (thread.kind, thread.is_local, thread.ap_type, thread.name) == ("article", False, "Note", None)
    async with http.get(node.url(f"/threads/{thread.id}")) as response:
        assert response.status == 200
        page = await response.text()
    assert "Quick thought: federation works." in page
    assert "<title>Post by Admin" in page


async def test_wordpress_titled_post_sent_as_article_still_becomes_a_thread(node, http, remote):
    """A long, titled WordPress post arrives as an Article with ``name``: a thread, titled."""
    author = payloads.wordpress_author(remote)
    await follow_accepted(node, http, remote, author)
    activity = payloads.wordpress_post(author, 43, "<p>" + "Long read. " * 60 + "</p>", title="On forums")
    assert await deliver(node, http, author, activity) == "applied"
    thread = await held(node, activity["object"]["id"])
    assert (thread.kind, thread.ap_type, thread.name) == ("article", "Article", "On forums")


async def test_author_post_of_a_followed_multi_author_wordpress_blog_becomes_a_thread(node, http, remote):
    """Following the blog actor is enough: an author's post names the blog in ``audience`` (same server)."""
    blog = payloads.wordpress_blog(remote)
    await follow_accepted(node, http, remote, blog)
    author = payloads.wordpress_author(remote)
    activity = payloads.wordpress_post(author, 46, "<p>Posted by one of the blog's authors.</p>", audience=blog.id)
    assert await deliver(node, http, author, activity) == "applied"
    assert (await held(node, activity["object"]["id"])).actor.ap_id == author.id


async def test_post_naming_a_followed_group_from_another_server_is_not_a_thread(node, http, remote):
    """A stranger's Note naming in ``audience`` a Group we follow on another server is not stored."""
    blog = payloads.wordpress_blog(remote)
    await follow_accepted(node, http, remote, blog)
    async with fake_remote() as stranger_server:
        mallory = stranger_server.add_actor("mallory", key_index=3)
        activity = payloads.mastodon_status(mallory, "<p>Buy now</p>")
        activity["object"]["audience"] = blog.id
        assert await deliver(node, http, mallory, activity) == "ignored: from nobody we follow"
    assert await held(node, activity["object"]["id"]) is None


async def test_mastodon_status_of_a_followed_account_becomes_a_thread(node, http, remote):
    """A top-level Mastodon status (a Note, no title) from an account we follow is a thread."""
    alice = remote.add_actor("alice")
    await follow_accepted(node, http, remote, alice)
    activity = payloads.mastodon_status(alice, "<p>Hello from Mastodon</p>")
    assert await deliver(node, http, alice, activity) == "applied"
    assert (await held(node, activity["object"]["id"])).kind == "article"


async def test_note_from_an_account_we_do_not_follow_is_not_a_thread(node, http, remote):
    """The same status from someone the site does not follow is accepted at the door and not stored."""
    alice = remote.add_actor("alice")
    activity = payloads.mastodon_status(alice, "<p>Hello from Mastodon</p>")
    assert await deliver(node, http, alice, activity) == "ignored: from nobody we follow"
    assert await held(node, activity["object"]["id"]) is None


async def test_reply_note_from_a_followed_account_stays_a_reply(node, http, remote):
    """A followed account's reply to something outside our threads is not made a thread of its own."""
    alice = remote.add_actor("alice")
    await follow_accepted(node, http, remote, alice)
    activity = payloads.mastodon_status(alice, "<p>@bob I agree</p>")
    activity["object"]["inReplyTo"] = f"{remote.base}/users/bob/statuses/1"  # 404 there: the reply waits
    await deliver(node, http, alice, activity)
    stored = await held(node, activity["object"]["id"])
    assert stored is None or stored.kind == "comment"


async def test_plume_article_attributed_to_author_and_blog_becomes_a_thread(node, http, remote):
    """Plume attributes an article to ``[author, blog]``: it is the followed author's thread."""
    ana = payloads.plume_author(remote)
    await follow_accepted(node, http, remote, ana)
    activity = payloads.plume_article(ana, f"{remote.base}/~/notes/", "on-fediverse", "On the fediverse",
                                      "<p>A Plume article.</p>")
    assert await deliver(node, http, ana, activity) == "applied"
    thread = await held(node, activity["object"]["id"])
    assert (thread.kind, thread.name, thread.actor.ap_id) == ("article", "On the fediverse", ana.id)


# --- 6. Threads from followed sites are backfilled ----------------------------------------------


async def test_followed_sites_post_schedules_a_crawl_of_its_replies(node, http, remote):
    """A followed site's post that nobody answered here yet is scheduled for a crawl soon."""
    author = payloads.wordpress_author(remote)
    await follow_accepted(node, http, remote, author)
    activity = payloads.wordpress_post(author, 44, "<p>Comments welcome.</p>")
    assert await deliver(node, http, author, activity) == "applied"
    state = await crawl_state(node, await held(node, activity["object"]["id"]))
    assert state is not None
    assert timedelta(0) < state.next_crawl_at - utcnow() <= crawl.FIRST_DELAY


async def test_wordpress_comments_sent_only_to_the_blog_are_backfilled_and_recrawled(node, http, remote):
    """Replies the blog's ``replies`` collection lists (sent only to the blog) are stored by the crawl,
    and the thread stays on the decaying schedule afterwards."""
    # Given a followed WordPress author whose post's replies collection lists a Mastodon reply
    author = payloads.wordpress_author(remote)
    await follow_accepted(node, http, remote, author)
    bob = remote.add_actor("bob", key_index=1)
    post_id = f"{remote.base}/?p=45"
    reply = {"@context": AS_NS, "id": f"{bob.id}/statuses/7", "type": "Note", "attributedTo": bob.id,
             "inReplyTo": post_id, "content": "<p>Great post!</p>", "published": "2026-12-03T07:20:00Z",
             "to": [PUBLIC], "cc": [bob.document["followers"]]}
    remote.serve("/users/bob/statuses/7", reply)
    rest = f"{remote.base}/wp-json/activitypub/1.0/posts/45/replies"
    replies = {"id": rest, "type": "Collection",
               "first": {"id": f"{rest}?page=0", "type": "CollectionPage", "partOf": rest, "items": [reply["id"]]}}
    activity = payloads.wordpress_post(author, 45, "<p>Tell me what you think.</p>", replies=replies)
    assert await deliver(node, http, author, activity) == "applied"
    thread = await held(node, post_id)
    assert await held(node, reply["id"]) is None
    # When the crawl's turn comes (the first crawl is due in a minute)
    report = await node.node.crawler.run_once(utcnow() + crawl.FIRST_DELAY + timedelta(seconds=1))
    # Then Bob's reply is in the thread, and the thread is crawled again later
    assert report is not None and report.found == 1
    stored = await held(node, reply["id"])
    assert (stored.kind, stored.parent_id, stored.root_id) == ("comment", thread.id, thread.id)
    state = await crawl_state(node, thread)
    assert state.next_crawl_at is not None and state.next_crawl_at > utcnow()
    # When a later crawl finds nothing new, the wait grows (the decaying schedule)
    await node.node.crawler.crawl(thread.id)
    later = await crawl_state(node, thread)
    assert later.interval_seconds > crawl.MIN_INTERVAL and later.next_crawl_at is not None
