"""Discuss any page, end to end: a fake news site on 127.0.0.1, a real node, real HTTP and signatures.

Every URL here ends in exactly one document and one thread, whatever spelling it was asked by;
every bad input is refused with its reason and stores nothing.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select

from node.db import discussions as db
from node.db import queries
from node.db.models import Activity, DiscussionAlias, DiscussionDocument, Follow, Object
from node.discussions.resolve import DiscussionError
from node.discussions.service import open_discussion
from node.federation.vocab import PUBLIC
from tests.fakes.remote import fake_remote, signed_post
from tests.fakes.website import article_html, fake_website
from tests.support import make_settings, running_node

AP = "application/activity+json"


@pytest.fixture
async def site():
    async with fake_website() as website:
        yield website


async def count(node, model) -> int:
    async with node.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)))


async def lookup(http, node, url: str) -> tuple[int, dict, dict]:
    async with http.get(node.url("/discussions.json"), params={"url": url}) as response:
        return response.status, await response.json(), dict(response.headers)


# --- one document, whatever the spelling ------------------------------------------------------


async def test_tracking_fragment_and_slash_variants_of_a_page_find_its_one_thread(node, site, http):
    """Opened by a link full of tracking parameters, the story is then found by every other spelling, fetched once."""
    site.page("/2026/12/03/harbour-plan", article_html(
        "The harbour plan", description="What the council decided.", site_name="Harbour News",
        canonical=site.url("/2026/12/03/harbour-plan")))
    opened = await open_discussion(node.node, site.url("/2026/12/03/harbour-plan?utm_source=mastodon&fbclid=AbC#comments"))
    assert opened.created and opened.document.kind == "link"
    assert opened.document.canonical_url == site.url("/2026/12/03/harbour-plan")
    assert site.requests[0][1] == "", "step: the tracking parameters were not sent on to the site"
    for variant in (site.url("/2026/12/03/harbour-plan/"), site.url("/2026/12/03/harbour-plan#top"),
                    site.url("/2026/12/03/harbour-plan?utm_medium=social&gclid=1"),
                    site.url("/2026/12/03/harbour-plan").replace("http://", "HTTP://").replace("127.0.0.1", "127.0.0.1."),
                    site.url("/2026/12/03/./x/../harbour-plan")):
        status, body, headers = await lookup(http, node, variant)
        assert status == 200, (variant, body)
        assert body["discussion"]["page"] == node.url(f"/discussions/{opened.document.id}")
        assert headers.get("Access-Control-Allow-Origin") == "*"
    again = await open_discussion(node.node, site.url("/2026/12/03/harbour-plan/?mc_cid=9"))
    assert not again.created and again.document.id == opened.document.id
    assert site.hits("/2026/12/03/harbour-plan") == 1, "step: known aliases answer without a fetch"
    assert await count(node.node, DiscussionDocument) == 1


async def test_redirects_and_the_canonical_link_become_aliases_of_one_document(node, site, http):
    """A short link redirects twice to an AMP page whose rel=canonical names the article: all four are one thread."""
    story = site.page("/news/tide", article_html("Tide tables", canonical=site.url("/news/tide")))
    site.page("/news/tide/amp-version", article_html("Tide tables (AMP)", canonical=site.url("/news/tide")))
    site.redirect("/s/1", site.url("/go/tide"), status=302)
    site.redirect("/go/tide", site.url("/news/tide/amp-version"), status=301)
    opened = await open_discussion(node.node, site.url("/s/1"))
    async with node.node.sessions() as session:
        aliases = set(await db.list_aliases(session, opened.document.id))
    assert aliases == {site.url("/s/1"), site.url("/go/tide"), site.url("/news/tide/amp-version"), story}
    assert opened.document.canonical_url == story
    assert opened.document.title == "Tide tables (AMP)"
    status, body, _ = await lookup(http, node, story)
    assert status == 200 and body["discussion"]["page"] == node.url(f"/discussions/{opened.document.id}")
    assert not (await open_discussion(node.node, story)).created
    assert site.hits("/news/tide") == 0, "step: the canonical URL was never fetched, it was already an alias"


async def test_a_canonical_link_to_another_site_is_not_believed(node, site):
    """A page claiming another site's article as its canonical URL is filed under its own address."""
    site.page("/copy", article_html("Copied story", canonical="https://news.example/original"))
    opened = await open_discussion(node.node, site.url("/copy"))
    assert opened.document.canonical_url == site.url("/copy")
    async with node.node.sessions() as session:
        assert await db.find_document(session, ["https://news.example/original"]) is None


async def test_charset_from_the_meta_tag_is_honoured(node, site):
    """A Latin-1 page that says so only in <meta charset> keeps its accents."""
    site.page("/fr", article_html("Café déjà vu", charset_meta="iso-8859-1"), content_type="text/html",
              encoding="iso-8859-1")
    opened = await open_discussion(node.node, site.url("/fr"))
    assert opened.document.title == "Café déjà vu"


# --- the link thread on the fediverse ---------------------------------------------------------


async def test_the_link_thread_is_a_page_with_a_link_attachment(node, site, http):
    """GET /discussions/N as ActivityStreams: a Page about the URL (FEP-8967), by the site Group, in its own context."""
    site.page("/story", article_html("A story", description="Short summary.", site_name="Daily"))
    opened = await open_discussion(node.node, site.url("/story"))
    page_id = node.url(f"/discussions/{opened.document.id}")
    async with http.get(page_id, headers={"Accept": AP}) as response:
        assert response.status == 200
        document = json.loads(await response.text())
    assert document["id"] == page_id and document["type"] == "Page"
    assert document["url"] == site.url("/story")
    assert document["attachment"] == [{"type": "Link", "href": site.url("/story"), "mediaType": "text/html",
                                       "name": "A story"}]
    assert document["name"] == "A story" and document["summary"] == "Short summary."
    assert document["attributedTo"] == node.url("/actors/forum")
    assert document["context"] == page_id + "/context" and document["to"] == [PUBLIC]
    async with http.get(document["replies"]["id"], headers={"Accept": AP}) as response:
        assert response.status == 200 and (await response.json())["totalItems"] == 0
    async with http.get(document["context"], headers={"Accept": AP}) as response:
        assert response.status == 200


async def test_the_group_sends_the_link_thread_to_its_followers(node, site, http):
    """A Mastodon account following the Group gets a signed Create of the Page in its inbox."""
    site.page("/story", article_html("Delivered story"))
    async with fake_remote() as remote:
        follower = remote.add_actor("reader")
        async with node.node.sessions.begin() as session:
            actor = await queries.upsert_remote_actor(session, {
                "ap_id": follower.id, "ap_type": "Person", "username": "reader", "domain": f"127.0.0.1:{remote.port}",
                "inbox": follower.inbox, "shared_inbox": None})
            group = await queries.get_local_actor(session, "forum")
            session.add(Follow(follower_id=actor.id, followed_id=group.id, state="accepted", ap_id=follower.id + "#f"))
        opened = await open_discussion(node.node, site.url("/story"))
        assert opened.deliveries == 1

        async def delivered():
            return remote.posts_to("/users/reader/inbox")

        for _ in range(200):
            if await delivered():
                break
            await asyncio.sleep(0.05)
        posts = await delivered()
    assert posts, "step: the Create reached the follower's inbox"
    create = json.loads(posts[0]["body"])
    assert create["type"] == "Create" and create["actor"] == node.url("/actors/forum")
    assert create["object"]["type"] == "Page" and create["object"]["url"] == site.url("/story")


async def test_a_signed_reply_to_the_link_thread_joins_it_and_shows_on_its_page(node, site, http):
    """A Mastodon-shaped reply to the Page is stored under it, numbered on the discussion page."""
    site.page("/story", article_html("Reply target", description="<b>not bold</b>"))
    opened = await open_discussion(node.node, site.url("/story"))
    page_id = node.url(f"/discussions/{opened.document.id}")
    async with fake_remote() as remote:
        alice = remote.add_actor("alice")
        note = {"id": remote.base + "/users/alice/statuses/1", "type": "Note", "attributedTo": alice.id,
                "inReplyTo": page_id, "content": "<p>Finally a place to talk about it</p>",
                "to": [PUBLIC], "cc": [alice.id + "/followers"], "published": "2026-12-03T08:00:00Z"}
        create = {"@context": "https://www.w3.org/ns/activitystreams", "id": note["id"] + "/activity",
                  "type": "Create", "actor": alice.id, "object": note, "to": note["to"], "cc": note["cc"]}
        status, _ = await signed_post(http, node.url("/inbox"), create, alice)
        assert status == 202
        await node.node.processor.drain()
    async with node.node.sessions() as session:
        stored = await queries.get_object(session, note["id"])
    assert stored is not None and stored.root_id == opened.document.thread_id
    async with http.get(page_id, headers={"Accept": "text/html"}) as response:
        html = await response.text()
    assert response.status == 200
    assert "A discussion of an external page" in html and "Finally a place to talk about it" in html
    assert 'id="comment-1"' in html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html, "step: the page's description is text, escaped"


# --- bad input: a clear reason, nothing stored ------------------------------------------------


async def assert_nothing_stored(node) -> None:
    assert await count(node, DiscussionDocument) == 0
    assert await count(node, DiscussionAlias) == 0
    async with node.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Object)) == 0
        assert await session.scalar(select(func.count()).select_from(Activity)) == 0


@pytest.mark.parametrize("url, reason", [
    ("ftp://files.example/report.pdf", "only http and https pages can be discussed, not ftp:"),
    ("javascript:alert(1)", "only http and https pages can be discussed, not javascript:"),
    ("/relative/page", "only http and https pages can be discussed, not a relative address"),
    ("https://user:secret@news.example/a", "the URL carries a user name or password; remove them"),
    ("https://news.example:99999/a", "not a valid URL"),
    ("", "give the address of a web page"),
])
async def test_a_url_that_names_no_web_page_is_refused_before_anything(node, url, reason):
    with pytest.raises(DiscussionError) as caught:
        await open_discussion(node.node, url)
    assert caught.value.reason.startswith(reason)
    await assert_nothing_stored(node.node)


async def test_a_private_address_is_refused_before_any_request(tmp_path, site):
    """With the production default (no private network), a page on 127.0.0.1 is never contacted."""
    site.page("/story", article_html("Internal"))
    async with running_node(make_settings(tmp_path, allow_private_network=False)) as running:
        with pytest.raises(DiscussionError) as caught:
            await open_discussion(running.node, site.url("/story"))
        assert "private or local" in caught.value.reason
        await assert_nothing_stored(running.node)
    assert site.requests == []


async def test_a_page_that_is_not_html_is_refused(node, site):
    site.raw("/report.pdf", b"%PDF-1.7 ...", content_type="application/pdf")
    with pytest.raises(DiscussionError) as caught:
        await open_discussion(node.node, site.url("/report.pdf"))
    assert caught.value.reason.startswith("that is not a web page (it is application/pdf)")
    await assert_nothing_stored(node.node)


async def test_a_page_over_the_size_limit_is_refused(tmp_path, site):
    site.page("/huge", article_html("Huge", body="<p>" + "x" * 40_000 + "</p>"))
    async with running_node(make_settings(tmp_path, discuss_fetch_bytes=16_384)) as running:
        with pytest.raises(DiscussionError) as caught:
            await open_discussion(running.node, site.url("/huge"))
        assert caught.value.reason == "the page is too large to read"
        await assert_nothing_stored(running.node)


async def test_a_page_slower_than_the_time_limit_is_refused(tmp_path, site):
    """A server that trickles its page (Mastodon CVE-2023-36461's slowloris) is cut off at the deadline."""
    site.slow("/trickle", article_html("Slow"), delay=0.3)
    async with running_node(make_settings(tmp_path, discuss_fetch_seconds=1)) as running:
        with pytest.raises(DiscussionError) as caught:
            await open_discussion(running.node, site.url("/trickle"))
        assert caught.value.reason == "the page took too long to answer"
        await assert_nothing_stored(running.node)


async def test_a_redirect_loop_is_refused(node, site):
    site.redirect("/a", site.url("/b"))
    site.redirect("/b", site.url("/a"))
    with pytest.raises(DiscussionError) as caught:
        await open_discussion(node.node, site.url("/a"))
    assert caught.value.reason.startswith("the page redirects too often or in a loop")
    await assert_nothing_stored(node.node)


async def test_a_missing_page_is_refused_with_its_status(node, site):
    with pytest.raises(DiscussionError) as caught:
        await open_discussion(node.node, site.url("/nothing-here"))
    assert caught.value.reason == "the page answered HTTP 404"
    await assert_nothing_stored(node.node)


async def test_hostile_titles_and_descriptions_are_escaped_everywhere(node, site, http):
    """Markup in og:title and og:description is text: escaped on the page, the lookup page and in the Page's content."""
    hostile = '<script>alert("t")</script><img src=x onerror=alert(1)>'
    site.page("/xss", article_html(hostile, description=hostile, site_name=hostile))
    opened = await open_discussion(node.node, site.url("/xss"))
    async with http.get(node.url(f"/discussions/{opened.document.id}"), headers={"Accept": "text/html"}) as response:
        html = await response.text()
    async with http.get(node.url("/discussions")) as response:
        listing = await response.text()
    async with http.get(node.url(f"/discussions/{opened.document.id}"), headers={"Accept": AP}) as response:
        page = json.loads(await response.text())
    for text in (html, listing, page["content"]):
        assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;" in html


# --- finding the thread for a URL -------------------------------------------------------------


async def test_looking_up_an_unknown_page_offers_to_open_one_and_fetches_nothing(node, site, http):
    site.page("/new", article_html("Not yet discussed"))
    async with http.get(node.url("/discussions"), params={"url": site.url("/new?utm_source=x")}) as response:
        html = await response.text()
        assert response.status == 404
    assert "No discussion of this page yet" in html and f"fednode discuss {site.url('/new')}" in html
    status, body, headers = await lookup(http, node, site.url("/new"))
    assert status == 404 and body["canonical"] == site.url("/new") and "open" in body
    assert headers.get("Access-Control-Allow-Origin") == "*"
    assert site.requests == [], "step: a lookup never makes the node fetch the page"


async def test_looking_up_a_bad_url_answers_400_with_the_reason(node, http):
    async with http.get(node.url("/discussions"), params={"url": "mailto:a@b.example"}) as response:
        assert response.status == 400
        assert "only http and https pages can be discussed" in await response.text()
    async with http.get(node.url("/discussions.json"), params={"url": "mailto:a@b.example"}) as response:
        assert response.status == 400
        assert (await response.json())["error"].startswith("only http and https")
    async with http.get(node.url("/discussions.json")) as response:
        assert response.status == 400


async def test_looking_up_a_discussed_page_redirects_to_its_discussion(node, site, http):
    site.page("/known", article_html("Known"))
    opened = await open_discussion(node.node, site.url("/known"))
    async with http.get(node.url("/discussions"), params={"url": site.url("/known#x")}, allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == node.url(f"/discussions/{opened.document.id}")


async def test_unknown_discussion_numbers_answer_404(node, http):
    for path in ("/discussions/999", "/discussions/99999999999999999999", "/discussions/999/replies"):
        async with http.get(node.url(path)) as response:
            assert response.status == 404, path


# --- the command line -------------------------------------------------------------------------


async def test_fednode_discuss_opens_then_finds_the_thread(tmp_path, site):
    """`fednode discuss URL` opens the discussion as the Group; run again with another alias, it shows the same one."""
    from tests.cli_support import fednode

    site.page("/cli-story", article_html("From the terminal", site_name="Daily"))
    settings = make_settings(tmp_path)
    flags = ["--base-url", settings.base_url, "--database-url", settings.database_url, "--keys-dir",
             settings.keys_dir, "--allow-http", "--allow-private-network", "--signing-processes", "0"]
    first = await asyncio.to_thread(fednode, tmp_path, "discuss", site.url("/cli-story?utm_source=x"), *flags)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[:4] == [
        f"opened: {settings.base}/discussions/1", f"  page: {site.url('/cli-story')}",
        "  title: From the terminal", "  thread: a link thread of this site"]
    second = await asyncio.to_thread(fednode, tmp_path, "discuss", site.url("/cli-story/#top"), *flags)
    assert second.returncode == 0 and second.stdout.startswith(f"already discussed: {settings.base}/discussions/1")
    refused = await asyncio.to_thread(fednode, tmp_path, "discuss", "ftp://files.example/x", *flags)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "fednode: only http and https pages can be discussed, not ftp:"
    assert site.hits("/cli-story") == 1


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_one_thread_per_page_on_postgresql(tmp_path, site, http):
    """The same open, alias and lookup path on PostgreSQL (asyncpg)."""
    from tests.support import postgres_database

    site.page("/pg", article_html("On PostgreSQL", canonical=site.url("/pg")))
    site.redirect("/pg-short", site.url("/pg"))
    async with postgres_database() as url:
        async with running_node(make_settings(tmp_path, database_url=url)) as running:
            burst = await asyncio.gather(*(open_discussion(running.node, site.url(path)) for path in
                                           ("/pg-short?utm_source=x", "/pg", "/pg#top", "/pg?fbclid=1")))
            assert sum(result.created for result in burst) == 1, "step: concurrent transactions, one document"
            assert len({result.document.id for result in burst}) == 1
            assert not (await open_discussion(running.node, site.url("/pg/"))).created
            status, body, _ = await lookup(http, running, site.url("/pg-short"))
            assert status == 200 and body["discussion"]["comments"] == 0
            assert sorted(body["discussion"]["aliases"]) == sorted([site.url("/pg"), site.url("/pg-short")])
            status, _, _ = await lookup(http, running, site.url("/elsewhere"))
            assert status == 404


async def test_link_threads_are_listed_as_discussions_not_as_the_sites_articles(node, site, http):
    site.page("/listed", article_html("Somebody else's story"))
    await open_discussion(node.node, site.url("/listed"))
    async with http.get(node.url("/")) as response:
        index = await response.text()
    async with http.get(node.url("/discussions")) as response:
        listing = await response.text()
    assert "Somebody else&#39;s story" not in index and 'href="/discussions"' in index
    assert "Somebody else&#39;s story" in listing


# --- who opens ---------------------------------------------------------------------------------


async def test_a_member_opens_under_their_own_name_within_the_hourly_limit(tmp_path, site, http):
    """A local Person (what a member will be) is the Page's author; the third open in an hour is refused."""
    from node.services.setup import add_author

    for n in range(3):
        site.page(f"/m{n}", article_html(f"Story {n}"))
    async with running_node(make_settings(tmp_path, discuss_opens_per_hour=2)) as running:
        async with running.node.sessions.begin() as session:
            member, _ = await add_author(session, running.settings, "maria", "Maria")
        first = await open_discussion(running.node, site.url("/m0"), opener=member)
        await open_discussion(running.node, site.url("/m1"), opener=member)
        with pytest.raises(DiscussionError) as caught:
            await open_discussion(running.node, site.url("/m2"), opener=member)
        assert caught.value.reason == ("you opened 2 discussions in the last hour, the most this site allows (2); "
                                       "try again later")
        assert site.hits("/m2") == 0
        again = await open_discussion(running.node, site.url("/m0#again"), opener=member)
        assert not again.created, "step: finding a discussed page is never limited"
        assert (await open_discussion(running.node, site.url("/m2"))).created, "step: the operator is not limited"
        async with http.get(running.url(f"/discussions/{first.document.id}"), headers={"Accept": AP}) as response:
            page = json.loads(await response.text())
    assert page["attributedTo"] == running.url("/actors/maria")
    assert page["cc"] == [running.url("/actors/maria/followers"), running.url("/actors/forum/followers")]


async def test_another_fednodes_article_with_replies_closed_is_discussed_here_labelled(tmp_path, http):
    """Node A publishes an article with `replies: closed`; node B, asked about its URL, holds its thread, open here."""
    from node.content import Draft
    from node.services.publish import publish_article

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with running_node(make_settings(tmp_path / "a")) as a, running_node(make_settings(tmp_path / "b")) as b:
        async with a.node.sessions.begin() as session:
            editor = await queries.get_local_actor(session, "editor")
            await publish_article(session, a.settings, Draft("No comments here", "closed", "Body.", replies="closed"),
                                  editor)
        opened = await open_discussion(b.node, a.url("/articles/closed?utm_campaign=x"))
        assert opened.document.kind == "fediverse" and opened.document.activitypub_id == a.url("/articles/closed")
        assert opened.document.closed_reason == "the source locked its comments"
        async with http.get(b.url(f"/discussions/{opened.document.id}"), headers={"Accept": "text/html"}) as response:
            html = await response.text()
    assert "No comments here" in html and "the discussion continues here" in html


async def test_opening_one_page_several_times_at_once_gives_one_document(node, site):
    site.page("/burst", article_html("Everyone shares it at once"))
    site.redirect("/burst-short", site.url("/burst"))
    results = await asyncio.gather(*(open_discussion(node.node, site.url(path)) for path in
                                     ("/burst", "/burst?utm_source=a", "/burst-short", "/burst#x")))
    assert sum(result.created for result in results) == 1
    assert len({result.document.id for result in results}) == 1
    assert await count(node.node, DiscussionDocument) == 1
    async with node.node.sessions() as session:
        assert set(await db.list_aliases(session, results[0].document.id)) == {site.url("/burst"),
                                                                                site.url("/burst-short")}
