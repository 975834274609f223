"""The embed over HTTP: the script, the framed discussion, who may frame it, and what a first view may open.

A blog on 127.0.0.2 (another site than the node on 127.0.0.1, as a browser sees it) is the
only origin in ``embed_origins``.  The browser side (the script in a real page, a strict CSP,
screenshots) is tests/test_embed_browser.py.
"""

from __future__ import annotations

import gzip

import pytest

from node.config import load
from node.config import problems
from node.discussions.service import open_discussion
from node.embed_policy import frame_ancestors, may_open, origin_of
from tests import payloads
from tests.embed_support import reply
from tests.fakes.remote import fake_remote
from tests.fakes.website import article_html, fake_website
from tests.followed_sites_support import deliver, follow_accepted
from tests.members_fed_support import publish
from tests.support import make_settings

SIZE_BUDGET = 15 * 1024  # bytes of embed.js after gzip (issue 14)
BLOG_HOST = "127.0.0.2"


@pytest.fixture
async def blog():
    """The blog that embeds the discussions, on its own loopback address."""
    async with fake_website(host=BLOG_HOST) as site:
        yield site


@pytest.fixture
def settings(tmp_path, blog):
    return make_settings(tmp_path, embed_origins=[blog.base])


def post_page(blog, path: str, title: str) -> str:
    return blog.page(path, article_html(title, canonical=blog.url(path), site_name="A Blog",
                                        description="What the post is about."))


def csp_directives(header: str) -> dict[str, str]:
    return {part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2] for part in header.split(";") if part.strip()}


# --- the script --------------------------------------------------------------------------------------


async def test_embed_script_is_served_as_javascript_within_its_gzip_budget(node, http):
    async with http.get(node.url("/embed.js")) as response:
        assert response.status == 200
        assert response.content_type == "text/javascript"
        body = await response.read()
    assert "set-cookie" not in response.headers
    assert len(gzip.compress(body, compresslevel=9)) <= SIZE_BUDGET


async def test_embed_script_is_not_sent_again_to_a_browser_that_holds_it(node, http):
    async with http.get(node.url("/embed.js")) as response:
        etag = response.headers["ETag"]
        assert "max-age=" in response.headers["Cache-Control"]
    async with http.get(node.url("/embed.js"), headers={"If-None-Match": etag}) as response:
        assert response.status == 304
        assert await response.read() == b""


async def test_count_script_is_served_as_javascript_within_the_same_budget(node, http):
    async with http.get(node.url("/count.js")) as response:
        assert response.status == 200
        assert response.content_type == "text/javascript"
        body = await response.read()
    assert len(gzip.compress(body, compresslevel=9)) <= SIZE_BUDGET


# --- the framed discussion ---------------------------------------------------------------------------


async def test_embed_of_a_discussed_page_leads_to_its_framed_discussion(node, http, blog):
    url = post_page(blog, "/2026/12/harbour", "The harbour plan")
    opened = await open_discussion(node.node, url)
    async with http.get(node.url("/embed/thread"), params={"url": url}, allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == f"/embed/discussions/{opened.document.id}"


async def test_framed_discussion_shows_the_nested_thread_with_its_count(node, http, blog):
    url = post_page(blog, "/2026/12/harbour", "The harbour plan")
    opened = await open_discussion(node.node, url)
    thread = node.url(f"/discussions/{opened.document.id}")
    async with fake_remote() as remote:
        alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
        first = await reply(http, node, alice, thread, "The quay leaves no room for boats.")
        await reply(http, node, bob, first, "It does, on the east side.")
    async with http.get(node.url("/embed/thread"), params={"url": blog.url("/2026/12/harbour?utm_source=x")}) as response:
        assert response.status == 200
        assert str(response.url).startswith(node.url(f"/embed/discussions/{opened.document.id}"))
        html = await response.text()
    assert "2 comments" in html
    assert 'class="comment depth-0' in html and 'class="comment depth-1' in html
    assert "The quay leaves no room for boats." in html and "It does, on the east side." in html
    assert "Reply from your server" in html and "/interact?uri=" in html
    assert f"/login?next=%2Fdiscussions%2F{opened.document.id}%23comment-form" in html
    assert '<base target="_blank">' in html


async def test_embed_of_the_forums_own_article_shows_its_discussion(node, http):
    article_url = await publish(node, "harbour-plan", "The harbour plan")
    async with fake_remote() as remote:
        await reply(http, node, remote.add_actor("alice"), article_url, "Good summary of the vote.")
    async with http.get(node.url("/embed/thread"), params={"url": article_url}) as response:
        assert response.status == 200
        assert "/embed/threads/" in str(response.url)
        html = await response.text()
    assert "1 comment<" in html and "Good summary of the vote." in html
    assert 'href="/login?next=%2Farticles%2Fharbour-plan%23comment-form"' in html


async def test_embed_of_a_followed_wordpress_blogs_post_finds_it_by_its_permalink(node, http):
    async with fake_remote() as remote:
        author = payloads.wordpress_author(remote)
        await follow_accepted(node, http, remote, author)
        post = payloads.wordpress_post(author, 42, "<p>The quay, again.</p>", title="The quay")
        assert await deliver(node, http, author, post) == "applied"
        await reply(http, node, remote.add_actor("alice"), post["object"]["id"], "Again indeed.")
    async with http.get(node.url("/embed/thread"), params={"url": post["object"]["url"]}) as response:
        assert response.status == 200
        assert "/embed/threads/" in str(response.url)
        html = await response.text()
    assert "1 comment<" in html and "Again indeed." in html
    assert 'href="/login?next=%2Fthreads%2F' in html


async def test_framed_discussion_may_be_framed_only_by_the_allowed_origins(node, http, blog):
    opened = await open_discussion(node.node, post_page(blog, "/p", "A post"))
    async with http.get(node.url(f"/embed/discussions/{opened.document.id}")) as response:
        assert response.status == 200
        policy = csp_directives(response.headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] == blog.base
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'none'"


async def test_every_other_page_still_refuses_to_be_framed(node, http, blog):
    opened = await open_discussion(node.node, post_page(blog, "/p", "A post"))
    for path in ("/", f"/discussions/{opened.document.id}", "/discussions"):
        async with http.get(node.url(path)) as response:
            assert response.status == 200
            policy = csp_directives(response.headers["Content-Security-Policy"])
        assert policy["frame-ancestors"] == "'none'", path
        assert "script-src" not in policy, path


async def test_framed_discussion_sets_no_cookie(node, http, blog):
    url = post_page(blog, "/p", "A post")
    await open_discussion(node.node, url)
    for path, params in (("/embed/thread", {"url": url}), ("/embed.js", {}), ("/static/embed-frame.js", {})):
        async with http.get(node.url(path), params=params) as response:
            assert response.status == 200
            assert not response.headers.getall("Set-Cookie", []), path
            assert not response.history or not any(r.headers.getall("Set-Cookie", []) for r in response.history)
    assert not http.cookie_jar.filter_cookies(node.url("/"))


async def test_frame_posts_its_height_only_to_the_allowed_origins(node, http, blog):
    opened = await open_discussion(node.node, post_page(blog, "/p", "A post"))
    async with http.get(node.url(f"/embed/discussions/{opened.document.id}")) as response:
        html = await response.text()
    assert f'data-embed-origins="{blog.base}"' in html
    assert '<script src="/static/embed-frame.js" defer></script>' in html


async def test_a_theme_the_site_chose_reaches_the_frame_and_nothing_else_does(node, http, blog):
    url = post_page(blog, "/p", "A post")
    opened = await open_discussion(node.node, url)
    async with http.get(node.url("/embed/thread"), params={"url": url, "theme": "dark"},
                        allow_redirects=False) as response:
        assert response.headers["Location"] == f"/embed/discussions/{opened.document.id}?theme=dark"
    async with http.get(node.url(f"/embed/discussions/{opened.document.id}"), params={"theme": "dark"}) as response:
        assert 'class="embed theme-dark"' in await response.text()
    async with http.get(node.url(f"/embed/discussions/{opened.document.id}"),
                        params={"theme": '"><script>'}) as response:
        html = await response.text()
    assert 'class="embed"' in html and "<script>" not in html


async def test_a_page_nobody_discussed_gets_an_offer_and_nothing_is_fetched(node, http, blog):
    url = post_page(blog, "/new", "A new post")
    async with http.get(node.url("/embed/thread"), params={"url": url}) as response:
        assert response.status == 404
        html = await response.text()
    assert "No comments yet" in html
    assert "/discussions?url=http%3A%2F%2F127.0.0.2" in html
    assert blog.hits("/new") == 0


async def test_embed_names_a_bad_address_with_a_reason(node, http):
    for asked, reason in (("", "names no page"), ("ftp://blog.example/x", "http")):
        async with http.get(node.url("/embed/thread"), params={"url": asked}) as response:
            assert response.status == 400
            assert reason in await response.text()


# --- a first view opens the thread (embed_open_threads) --------------------------------------------------


@pytest.fixture
def opening_settings(tmp_path, blog):
    return make_settings(tmp_path, embed_origins=[blog.base], embed_open_threads=True, discuss_opens_per_hour=1)


@pytest.fixture
async def opening_node(opening_settings):
    from tests.support import running_node

    async with running_node(opening_settings) as running:
        yield running


async def test_first_view_opens_the_thread_of_a_page_on_an_allowed_site(opening_node, http, blog):
    url = post_page(blog, "/first", "First post")
    async with http.get(opening_node.url("/embed/thread"), params={"url": url}, allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"].startswith("/embed/discussions/")
    assert blog.hits("/first") == 1
    async with http.get(opening_node.url("/embed/thread"), params={"url": url}, allow_redirects=False) as response:
        assert response.status == 303
    assert blog.hits("/first") == 1  # found, not fetched again


async def test_first_view_never_opens_a_page_of_another_site(opening_node, http):
    async with fake_website() as elsewhere:
        url = post_page(elsewhere, "/other", "Someone else's post")
        async with http.get(opening_node.url("/embed/thread"), params={"url": url}) as response:
            assert response.status == 404
        assert elsewhere.hits("/other") == 0


async def test_first_views_open_no_more_threads_than_the_hourly_limit(opening_node, http, blog):
    first, second = post_page(blog, "/a", "A"), post_page(blog, "/b", "B")
    async with http.get(opening_node.url("/embed/thread"), params={"url": first}) as response:
        assert response.status == 200
    async with http.get(opening_node.url("/embed/thread"), params={"url": second}) as response:
        assert response.status == 429
        assert "try again later" in await response.text()
    assert blog.hits("/b") == 0


# --- the setting ------------------------------------------------------------------------------------


@pytest.mark.parametrize("written, origin", [
    ("https://blog.example", "https://blog.example"),
    ("https://Blog.Example/", "https://blog.example"),
    ("https://blog.example:443", "https://blog.example"),
    ("http://127.0.0.2:8080", "http://127.0.0.2:8080"),
    ("http://[::1]:8080", "http://[::1]:8080"),
    ("*", "*"),
])
def test_embed_origins_are_read_as_browser_origins(written, origin):
    assert origin_of(written) == origin


@pytest.mark.parametrize("written", ["blog.example", "https://blog.example/posts", "ftp://blog.example",
                                     "https://user@blog.example", "https://blog.example:99999"])
def test_an_entry_that_is_not_an_origin_is_a_configuration_problem(tmp_path, written):
    settings = make_settings(tmp_path, embed_origins=[written])
    assert any(p.startswith("embed_origins:") for p in problems(settings))


def test_without_embed_origins_no_site_may_frame_and_no_page_may_be_opened():
    assert load(config_file=None, environ={}, overrides={}, read_default_file=False).embed_origins == []
    assert frame_ancestors(()) == "frame-ancestors 'none'"
    assert not may_open("https://blog.example/post", ())


def test_any_site_may_frame_but_not_make_the_node_open_any_page():
    assert frame_ancestors(("*",)) == "frame-ancestors *"
    assert not may_open("https://blog.example/post", ("*",))
    assert may_open("https://blog.example/post?x=1", ("https://blog.example",))
