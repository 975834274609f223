"""Discussions of any page against a real Fedify 2.3.6 peer (interop/fedify-peer), over real HTTP.

The peer replies to a link thread from its own server (it fetches our Page, finds the site Group
as its author and delivers a signed Create there); a blog page whose ActivityPub alternate is the
peer's note is discussed in that note's thread; when the peer deletes the note, the thread stays
here and is labelled closed at the source.
"""

from __future__ import annotations

import pytest

from node.db import queries
from node.discussions.service import open_discussion
from tests.fakes.website import article_html, fake_website
from tests.interop.fednode_support import wait_until
from tests.threads_support import comment as held

pytestmark = pytest.mark.interop


async def test_a_fedify_reply_to_a_link_thread_nests_under_it(node, fedify_peer, http):
    """Fedify fetches the Page, replies to its author (the Group), then answers its own reply: both nest."""
    async with fake_website() as site:
        site.page("/story", article_html("Harbour plan", description="The council decided."))
        opened = await open_discussion(node.node, site.url("/story"))
        page_id = node.url(f"/discussions/{opened.document.id}")
        first = await fedify_peer.reply(page_id, "<p>first from Fedify</p>")
        second = await fedify_peer.reply(first["note_id"], "<p>second from Fedify</p>",
                                         mention=node.url("/actors/forum"))

        one = await wait_until(lambda: held(node, first["note_id"]), "the first reply stored", timeout=20,
                               peer=fedify_peer)
        two = await wait_until(lambda: held(node, second["note_id"]), "the second reply stored", timeout=20,
                               peer=fedify_peer)
        assert one.root_id == opened.document.thread_id and one.parent_id == opened.document.thread_id
        assert two.root_id == opened.document.thread_id and two.parent_id == one.id
        async with http.get(page_id, headers={"Accept": "text/html"}) as response:
            html = await response.text()
        assert 'id="comment-1"' in html and 'id="comment-1.1"' in html
        assert html.index("first from Fedify") < html.index("second from Fedify")


async def test_a_page_whose_alternate_is_a_fedify_note_is_that_notes_thread(node, fedify_peer, http):
    """The page names the peer's note as its ActivityPub alternate: one thread, the note's; then the note is deleted."""
    note = await fedify_peer.note("<p>My blog post, on the fediverse</p>")
    async with fake_website() as site:
        site.page("/blog/post", article_html("My blog post", alternate=note["note_id"]))
        opened = await open_discussion(node.node, site.url("/blog/post?utm_source=fediverse"))
        again = await open_discussion(node.node, site.url("/blog/post/"))
    assert opened.created and not again.created and again.document.id == opened.document.id
    assert opened.document.kind == "fediverse" and opened.document.activitypub_id == note["note_id"]
    async with node.node.sessions() as session:
        thread = await queries.get_object(session, note["note_id"])
    assert thread is not None and thread.id == opened.document.thread_id and not thread.is_local

    # When the peer deletes its note, asking again finds it gone: closed there, open here.
    await fedify_peer.delete(note["note_id"])
    from node.discussions.service import refresh_source

    assert await refresh_source(node.node, opened.document) == "the source deleted the post"
    async with http.get(node.url(f"/discussions/{opened.document.id}"), headers={"Accept": "text/html"}) as response:
        assert response.status == 200
        assert "Comments are closed at the source" in await response.text()
