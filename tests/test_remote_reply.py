"""Replying from your own server: the reader types their handle, WebFinger finds their server, they are sent there."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import quote, urlencode

import pytest

from node.db import queries
from node.db.models import Object
from node.web.interact import LOOKUPS_PER_MINUTE, LookupLimiter
from tests.fakes.remote import fake_remote
from tests.members_fed_support import publish
from tests.members_support import form_token
from tests.remote_reply_support import JRD, jrd, submit
from tests.support import free_port, make_settings, running_node


@pytest.fixture
async def world(node):
    """A node with one article, and a fake remote server whose WebFinger serves alice with a subscribe template."""
    article = await publish(node)
    async with fake_remote() as remote:
        remote.serve("/.well-known/webfinger", jrd(remote), content_type=JRD)
        yield node, remote, article, f"@alice@{remote.base.removeprefix('http://')}"


async def open_form(http, node, uri: str, cookie: str | None = None) -> tuple[int, str]:
    headers = {"Cookie": f"fednode_handle={cookie}"} if cookie else {}
    async with http.get(node.url("/interact"), params={"uri": uri}, headers=headers) as response:
        return response.status, await response.text()


async def test_handle_sends_the_reader_to_their_servers_template(world, http):
    """Posting a handle answers 303 to the handle's subscribe template, with the article's URI filled in."""
    # Given alice's server, whose WebFinger offers a subscribe template
    node, remote, article, handle = world
    # When she submits her handle on the reply form of the article
    status, location, _, _ = await submit(http, node, handle, article)
    # Then she is sent to her server with the article's URI encoded into the template
    assert status == 303
    assert location == f"{remote.base}/authorize_interaction?uri={quote(article, safe='')}"
    host = remote.base.removeprefix("http://")
    assert f"/.well-known/webfinger?resource=acct:alice@{host}" in remote.gets


async def test_handle_is_remembered_in_a_cookie(world, http):
    """The redirect sets fednode_handle, HttpOnly, SameSite=Lax, for a year."""
    # Given alice's server with a subscribe template
    node, remote, article, handle = world
    # When she submits her handle
    _, _, cookie, _ = await submit(http, node, handle, article)
    # Then her browser keeps it for a year, out of reach of scripts
    assert cookie is not None and cookie.value == quote(handle, safe="")
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax" and cookie["max-age"] == str(365 * 24 * 3600)
    assert not cookie["secure"]  # this node runs on plain http in tests


async def test_form_is_prefilled_from_the_cookie(world, http):
    """Opening the form again shows the remembered handle."""
    # Given a handle remembered by an earlier reply
    node, remote, article, handle = world
    _, _, cookie, _ = await submit(http, node, handle, article)
    # When the reply form is opened again with that cookie
    status, html = await open_form(http, node, article, cookie=cookie.value)
    # Then the handle is already typed in
    assert status == 200
    assert f'value="{handle}"' in html


async def test_form_asks_for_the_handle_and_names_the_post(world, http):
    """The form (no script) asks for the handle and carries the URI of the post being answered."""
    # Given an article
    node, remote, article, handle = world
    # When its reply form is opened without a cookie
    status, html = await open_form(http, node, article)
    # Then it asks for a handle, empty, and will post the article's URI
    assert status == 200
    assert "Your fediverse handle (e.g. @you@mastodon.social)" in html
    assert f'<input type="hidden" name="uri" value="{article}">' in html
    assert 'name="handle" type="text" value=""' in html and "<script" not in html


async def test_comment_can_be_answered_too(world, http):
    """A comment held here is a valid target: the reader is sent to answer the comment's own URI."""
    # Given a public comment in the article's thread
    node, remote, article, handle = world
    async with node.node.sessions.begin() as session:
        root = await queries.get_object(session, article)
        actor = await queries.upsert_remote_actor(session, {
            "ap_id": f"{remote.base}/users/bob", "ap_type": "Person", "username": "bob", "domain": "remote.example"})
        session.add(Object(ap_id=f"{remote.base}/users/bob/statuses/1", ap_type="Note", kind="comment", actor_id=actor.id,
                           in_reply_to=root.ap_id, parent_id=root.id, root_id=root.id, visibility="public", content="<p>hi</p>"))
    # When alice answers it from her server
    status, location, _, _ = await submit(http, node, handle, f"{remote.base}/users/bob/statuses/1")
    # Then the template carries the comment's URI
    assert status == 303
    assert location.endswith(quote(f"{remote.base}/users/bob/statuses/1", safe=""))


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_unknown_uri_is_refused(world, http, method):
    """A URI that is not a post held here is 400, so the form is no open redirect."""
    # Given a URI this node does not hold
    node, remote, article, handle = world
    elsewhere = "https://evil.example/phish"
    # When the form is opened or posted with it
    if method == "GET":
        status, html = await open_form(http, node, elsewhere)
        location = None
    else:
        status, location, _, html = await submit(http, node, handle, elsewhere, form_of=article)
    # Then it is refused with a message, and nobody is redirected
    assert status == 400 and location is None
    assert "This site holds no public post at that address." in html


async def test_followers_only_comment_is_not_a_target(world, http):
    """A followers-only comment held here is treated as unknown (400)."""
    # Given a followers-only comment in the thread
    node, remote, article, handle = world
    async with node.node.sessions.begin() as session:
        root = await queries.get_object(session, article)
        actor = await queries.upsert_remote_actor(session, {
            "ap_id": f"{remote.base}/users/bob", "ap_type": "Person", "username": "bob", "domain": "remote.example"})
        session.add(Object(ap_id=f"{remote.base}/users/bob/statuses/2", ap_type="Note", kind="comment", actor_id=actor.id,
                           in_reply_to=root.ap_id, parent_id=root.id, root_id=root.id, visibility="followers"))
    # When its reply form is opened
    status, _ = await open_form(http, node, f"{remote.base}/users/bob/statuses/2")
    # Then it is refused
    assert status == 400


@pytest.mark.allow_server_errors  # 502: the reader's server is at fault, on purpose
async def test_server_without_subscribe_template_is_explained(world, http):
    """A server whose WebFinger has no subscribe link gives a clear message (502), not a redirect."""
    # Given a server whose WebFinger answer has no subscribe template
    node, remote, article, handle = world
    remote.serve("/.well-known/webfinger", jrd(remote, template=None), content_type=JRD)
    # When alice submits her handle
    status, location, cookie, html = await submit(http, node, handle, article)
    # Then the form comes back, saying why, keeping what she typed
    assert (status, location, cookie) == (502, None, None)
    assert "does not offer replying from a link" in html and f'value="{handle}"' in html


@pytest.mark.allow_server_errors  # 502: the reader's server is at fault, on purpose
async def test_javascript_template_is_refused(world, http):
    """A subscribe template that is a javascript: URL is never a redirect target."""
    # Given a server whose subscribe template is javascript:
    node, remote, article, handle = world
    remote.serve("/.well-known/webfinger", jrd(remote, template="javascript:alert(document.cookie)//{{uri}}"), content_type=JRD)
    # When alice submits her handle
    status, location, _, html = await submit(http, node, handle, article)
    # Then nobody is sent there
    assert (status, location) == (502, None)
    assert "is not a web address" in html


@pytest.mark.parametrize("typed", ["alice", "@alice", "https://mastodon.example/@alice", "@alice@exa mple.org", ""])
async def test_malformed_handle_is_refused(world, http, typed):
    """What is not @user@host gets the form back with a message (400), and no lookup is made."""
    # Given the reply form of the article
    node, remote, article, handle = world
    # When something that is not a handle is submitted
    status, location, _, html = await submit(http, node, typed, article)
    # Then the form comes back with an explanation
    assert (status, location) == (400, None)
    assert 'class="error"' in html
    assert not remote.gets


async def test_unknown_account_is_explained(world, http):
    """A server that does not know the account (WebFinger 404) gives a 400 that says so."""
    # Given a server whose WebFinger answers 404
    node, remote, article, handle = world
    remote.serve("/.well-known/webfinger", {"error": "not found"}, status=404, content_type=JRD)
    # When alice submits her handle
    status, _, _, html = await submit(http, node, handle, article)
    # Then she is told the server does not know her handle
    assert status == 400
    assert "does not know" in html


@pytest.mark.allow_server_errors  # 502: the reader's server is at fault, on purpose
async def test_unreachable_server_is_explained(world, http):
    """A handle on a server that does not answer gives a 502 with the form again, never a 500."""
    # Given a handle on a port where nothing listens
    node, remote, article, handle = world
    # When it is submitted
    status, location, _, html = await submit(http, node, f"@alice@127.0.0.1:{free_port()}", article)
    # Then the form comes back saying, in words, that the server could not be reached
    assert (status, location) == (502, None)
    assert "Could not connect to 127.0.0.1:" in html and "Client" not in html


async def test_post_from_another_site_is_refused(world, http):
    """A form posted from another origin is refused (403): it could plant a handle in the reader's cookie."""
    # Given a page on another site that posts the form
    node, remote, article, handle = world
    # When the browser sends it with that site's Origin
    status, location, cookie, _ = await submit(http, node, handle, article, headers={"Origin": "https://evil.example"})
    # Then nothing is looked up, set or redirected
    assert (status, location, cookie) == (403, None, None)
    assert not remote.gets


async def test_post_from_our_own_page_is_accepted(world, http):
    """The same form posted from this site's own page (same Origin) works."""
    # Given the node's own origin
    node, remote, article, handle = world
    # When the form is posted with it
    status, _, _, _ = await submit(http, node, handle, article, headers={"Origin": node.base})
    # Then the reader is redirected
    assert status == 303


async def test_cookie_is_secure_on_an_https_site(tmp_path, http):
    """On a node whose base URL is https, the remembered-handle cookie is Secure."""
    # Given a node published at an https address (reached here over loopback http)
    port = free_port()
    settings = make_settings(tmp_path, port=port, base_url=f"https://127.0.0.1:{port}")
    async with running_node(settings) as node, fake_remote() as remote:
        article = await publish(node)
        remote.serve("/.well-known/webfinger", jrd(remote), content_type=JRD)
        # When a reader submits their handle
        token = await form_token(http, f"http://127.0.0.1:{port}/interact?" + urlencode({"uri": article}))
        async with http.post(f"http://127.0.0.1:{port}/interact", allow_redirects=False,
                             data={"handle": f"@alice@{remote.base.removeprefix('http://')}", "uri": article,
                                   "csrf": token}) as response:
            cookie = SimpleCookie(response.headers.get("Set-Cookie", ""))["fednode_handle"]
            status = response.status
    # Then the cookie is only ever sent back over https
    assert status == 303 and cookie["secure"] is True


async def test_one_server_is_looked_up_at_most_thirty_times_a_minute(world, http):
    """The 31st lookup of the same server within a minute is refused with 429; it fetched nothing."""
    # Given a node whose form already looked up alice's server thirty times this minute
    node, remote, article, handle = world
    for _ in range(LOOKUPS_PER_MINUTE):
        assert (await submit(http, node, handle, article))[0] == 303
    lookups = sum(1 for path in remote.gets if path.startswith("/.well-known/webfinger"))
    # When one more reader names the same server
    status, location, _, body = await submit(http, node, handle, article)
    # Then they are asked to wait, and the server is not asked again
    assert (status, location) == (429, None)
    assert "try again in a minute" in body
    assert sum(1 for path in remote.gets if path.startswith("/.well-known/webfinger")) == lookups


def test_the_lookup_limit_slides_with_time():
    """A host refused at the limit is allowed again once its oldest lookup is a window old."""
    now = [0.0]
    limiter = LookupLimiter(limit=2, window=60, clock=lambda: now[0])
    assert [limiter.allow("a.example") for _ in range(3)] == [True, True, False]
    assert limiter.allow("b.example") is True  # other servers are counted apart
    now[0] = 60.5
    assert limiter.allow("a.example") is True
