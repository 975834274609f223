"""The write API: members' tokens made and revoked on /account/tokens, comments and discussions by Bearer token.

Real node, real sign-in through the /login form, real tokens; the token's hash only is
stored, cookies never authenticate the API, and CORS lets only the configured origins write.
"""

from __future__ import annotations

import hashlib
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from node.content import Draft
from node.db import queries
from node.db.models import ApiToken
from node.members.accounts import suspend_member
from node.services.publish import publish_article
from tests.api_support import assert_valid, get_json
from tests.fakes.website import article_html, fake_website
from tests.members_support import login, make_member, member_client, page_token
from tests.support import make_settings, running_node
from tests.threads_support import publish_topic

TOKENS = "/account/tokens"


@pytest.fixture
async def forum(node):
    """A node with the article "Topic" and the member dana."""
    await publish_topic(node)
    member = await make_member(node, "dana", display_name="Dana")
    yield node, member, node.url("/articles/topic")


async def make_token(http, node, name: str = "my extension", scopes=("comment", "discuss")) -> str:
    """Make a token through the /account/tokens form of a signed-in client; return it as the page shows it."""
    csrf = await page_token(http, node.base, TOKENS)
    async with http.post(node.url(TOKENS), data=[("csrf", csrf), ("name", name)] + [("scope", s) for s in scopes]) as response:
        html = await response.text()
        assert response.status == 201, html[:500]
        assert "no-store" in response.headers["Cache-Control"]
    return unescape(re.search(r'<code id="new-token">([^<]+)</code>', html).group(1))


async def signed_in_token(node, **options) -> str:
    async with member_client() as http:
        await login(http, node.base, "dana")
        return await make_token(http, node, **options)


async def post(http, url: str, body=None, *, token: str | None = None, headers=None, data=None):
    sent = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    async with http.post(url, json=body if data is None else None, data=data, headers=sent) as response:
        return response.status, await response.json(content_type=None), dict(response.headers)


# --- the token page ---------------------------------------------------------------------------


async def test_the_token_page_asks_readers_to_sign_in(forum, http):
    node, _, _ = forum
    async with http.get(node.url(TOKENS), allow_redirects=False) as response:
        assert response.status == 303
        location = urlsplit(response.headers["Location"])
        assert (location.path, parse_qs(location.query)) == ("/login", {"next": [TOKENS]})


async def test_a_token_is_shown_once_and_only_its_hash_is_kept(forum):
    node, member, _ = forum
    async with member_client() as http:
        await login(http, node.base, "dana")
        token = await make_token(http, node, name="laptop <script>")
        assert token.startswith("fdn_") and len(token) > 40
        async with http.get(node.url(TOKENS)) as response:
            page = await response.text()
    assert token not in page, "step: the list never shows the token again"
    assert "laptop &lt;script&gt;" in page and "never used" in page
    async with node.node.sessions() as session:
        [row] = (await session.scalars(select(ApiToken))).all()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (row.member_id, row.name, row.scopes) == (member.id, "laptop <script>", "comment discuss")
    assert token not in repr(vars(row))


async def test_making_a_token_without_the_forms_csrf_token_is_refused(forum):
    node, _, _ = forum
    async with member_client() as http:
        await login(http, node.base, "dana")
        async with http.post(node.url(TOKENS), data={"name": "x", "scope": "comment"}) as response:
            assert response.status == 403
    async with node.node.sessions() as session:
        assert (await session.scalars(select(ApiToken))).all() == []


@pytest.mark.parametrize("data, reason", [
    ([("name", "  "), ("scope", "comment")], "give the token a name"),
    ([("name", "x")], "choose what the token may do"),
    ([("name", "x"), ("scope", "admin")], "choose what the token may do"),
])
async def test_a_token_needs_a_name_and_known_scopes(forum, data, reason):
    node, _, _ = forum
    async with member_client() as http:
        await login(http, node.base, "dana")
        csrf = await page_token(http, node.base, TOKENS)
        async with http.post(node.url(TOKENS), data=[("csrf", csrf)] + data) as response:
            assert response.status == 400
            assert reason in await response.text()


async def test_a_revoked_token_stops_working_at_once(forum, http):
    node, _, article = forum
    async with member_client() as browser:
        await login(browser, node.base, "dana")
        token = await make_token(browser, node)
        async with node.node.sessions() as session:
            [row] = (await session.scalars(select(ApiToken))).all()
        csrf = await page_token(browser, node.base, TOKENS)
        async with browser.post(node.url(f"{TOKENS}/{row.id}/revoke"), data={"csrf": csrf},
                                allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == TOKENS
    status, body, headers = await post(http, node.url("/api/v1/comments"),
                                       {"in_reply_to": article, "content": "hi"}, token=token)
    assert status == 401 and 'error="invalid_token"' in headers["WWW-Authenticate"]


async def test_a_member_cannot_revoke_someone_elses_token(forum):
    node, _, _ = forum
    await make_member(node, "erin")
    await signed_in_token(node)
    async with node.node.sessions() as session:
        [row] = (await session.scalars(select(ApiToken))).all()
    async with member_client() as http:
        await login(http, node.base, "erin")
        csrf = await page_token(http, node.base, TOKENS)
        async with http.post(node.url(f"{TOKENS}/{row.id}/revoke"), data={"csrf": csrf}) as response:
            assert response.status == 404
    async with node.node.sessions() as session:
        assert len((await session.scalars(select(ApiToken))).all()) == 1


# --- commenting -------------------------------------------------------------------------------


async def test_a_member_comments_with_a_token_and_it_joins_the_thread(forum, http):
    node, member, article = forum
    token = await signed_in_token(node)
    status, body, headers = await post(http, node.url("/api/v1/comments"),
                                       {"in_reply_to": article, "content": "I *agree* <script>x</script>"}, token=token)
    assert status == 201, body
    assert_valid("comment_created", body)
    comment = body["comment"]
    assert body["held"] is False and body["thread_id"] == article
    assert headers["Location"] == comment["id"] and comment["id"].startswith(node.url("/comments/"))
    assert comment["author"]["handle"] == f"@dana@{node.settings.host}" and comment["author"]["name"] == "Dana"
    assert comment["content"].startswith("<p>I <em>agree</em>") and "<script" not in comment["content"]
    _, thread, _ = await get_json(http, node.url("/api/v1/thread"), params={"url": article})
    assert [c["id"] for c in thread["comments"]] == [comment["id"]]
    async with node.node.sessions() as session:
        [row] = (await session.scalars(select(ApiToken))).all()
        stored = await queries.get_object(session, comment["id"])
    assert row.last_used_at is not None
    assert stored.actor_id == member.actor_id and stored.is_local


async def test_a_reply_to_a_comment_nests_under_it(forum, http):
    node, _, article = forum
    token = await signed_in_token(node)
    _, first, _ = await post(http, node.url("/api/v1/comments"), {"in_reply_to": article, "content": "one"}, token=token)
    status, second, _ = await post(http, node.url("/api/v1/comments"),
                                   {"in_reply_to": first["comment"]["id"], "content": "two"}, token=token)
    assert status == 201 and second["comment"]["in_reply_to"] == first["comment"]["id"]
    _, thread, _ = await get_json(http, node.url("/api/v1/thread"), params={"url": article})
    assert thread["comments"][0]["replies"][0]["id"] == second["comment"]["id"]


async def test_the_session_cookie_alone_never_authenticates_the_api(forum):
    """A signed-in browser without a Bearer token is refused: another site's page cannot post as the reader."""
    node, _, article = forum
    async with member_client() as http:
        await login(http, node.base, "dana")
        status, body, headers = await post(http, node.url("/api/v1/comments"), {"in_reply_to": article, "content": "x"},
                                           headers={"Origin": "https://evil.example"})
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert "Access-Control-Allow-Origin" not in headers


@pytest.mark.parametrize("token, status, error", [
    (None, 401, "Authorization: Bearer"),
    ("fdn_not-a-real-token", 401, "not valid"),
    ("Basic Zm9vOmJhcg==", 401, "not valid"),
])
async def test_missing_or_unknown_tokens_are_401(forum, http, token, status, error):
    node, _, article = forum
    got, body, headers = await post(http, node.url("/api/v1/comments"), {"in_reply_to": article, "content": "x"},
                                    token=token)
    assert got == status and error in body["error"]
    assert_valid("error", body)
    assert headers["WWW-Authenticate"].startswith('Bearer realm="fednode"')


async def test_a_token_without_the_scope_is_403(forum, http):
    node, _, article = forum
    token = await signed_in_token(node, scopes=("discuss",))
    status, body, headers = await post(http, node.url("/api/v1/comments"), {"in_reply_to": article, "content": "x"},
                                       token=token)
    assert status == 403 and "comment" in body["error"]
    assert 'error="insufficient_scope"' in headers["WWW-Authenticate"]


async def test_a_suspended_members_tokens_are_refused(forum, http):
    node, member, article = forum
    token = await signed_in_token(node)
    await suspend_member(node.node, member.id)
    status, _, _ = await post(http, node.url("/api/v1/comments"), {"in_reply_to": article, "content": "x"}, token=token)
    assert status == 401


@pytest.mark.parametrize("body, headers, status, reason", [
    (None, {"Content-Type": "text/plain"}, 415, "application/json"),
    (b"{not json", {"Content-Type": "application/json"}, 400, "not valid JSON"),
    (b"[1, 2]", {"Content-Type": "application/json"}, 400, "JSON object"),
    (b'{"content": "x"}', {"Content-Type": "application/json"}, 400, "in_reply_to"),
    (b'{"in_reply_to": "ART", "content": "   "}', {"Content-Type": "application/json"}, 400, "content"),
    (b'{"in_reply_to": "ART", "content": 5}', {"Content-Type": "application/json"}, 400, "content"),
    (b'{"in_reply_to": "https://elsewhere.example/1", "content": "x"}', {"Content-Type": "application/json"}, 404,
     "no such post"),
    (b'{"in_reply_to": "ART", "content": "x", "visibility": "direct"}', {"Content-Type": "application/json"}, 400,
     "visibility"),
    (b'{"in_reply_to": "ART", "content": "' + b"x" * 70_000 + b'"}', {"Content-Type": "application/json"}, 413,
     "larger than"),
])
async def test_bad_comment_requests_are_4xx_with_a_reason(forum, http, body, headers, status, reason):
    node, _, article = forum
    token = await signed_in_token(node)
    data = body.replace(b"ART", article.encode()) if body is not None else b"hello"
    got, answer, _ = await post(http, node.url("/api/v1/comments"), token=token, headers=headers, data=data)
    assert got == status, answer
    assert reason in answer["error"]


# --- opening discussions ----------------------------------------------------------------------


async def test_a_member_opens_a_discussion_of_a_page_and_then_finds_it(forum, http):
    node, member, _ = forum
    token = await signed_in_token(node)
    async with fake_website() as site:
        site.page("/story", article_html("A story", site_name="Daily"))
        status, body, headers = await post(http, node.url("/api/v1/discussions"),
                                           {"url": site.url("/story?utm_source=x")}, token=token)
        assert status == 201, body
        assert_valid("discussion_opened", body)
        assert body["created"] is True and body["thread"]["title"] == "A story" and body["thread"]["kind"] == "link"
        assert headers["Location"] == body["thread"]["html_url"]
        again, second, _ = await post(http, node.url("/api/v1/discussions"), {"url": site.url("/story/")}, token=token)
        assert again == 200 and second["created"] is False and second["thread"]["id"] == body["thread"]["id"]
        assert site.hits("/story") == 1
    async with node.node.sessions() as session:
        thread = await queries.get_object(session, body["thread"]["id"])
    assert thread.actor_id == member.actor_id, "step: the member is the link thread's attributedTo"


async def test_opening_is_held_to_the_members_hourly_limit(tmp_path, http):
    settings = make_settings(tmp_path, discuss_opens_per_hour=1)
    async with running_node(settings) as node, fake_website() as site:
        await make_member(node, "dana")
        token = await signed_in_token(node)
        site.page("/a", article_html("A"))
        site.page("/b", article_html("B"))
        assert (await post(http, node.url("/api/v1/discussions"), {"url": site.url("/a")}, token=token))[0] == 201
        status, body, headers = await post(http, node.url("/api/v1/discussions"), {"url": site.url("/b")}, token=token)
        assert status == 429 and "the most this site allows" in body["error"] and headers["Retry-After"]
        assert site.hits("/b") == 0


@pytest.mark.parametrize("url, reason", [("javascript:alert(1)", "http"), ("", "url")])
async def test_opening_a_bad_address_is_400_and_stores_nothing(forum, http, url, reason):
    node, _, _ = forum
    token = await signed_in_token(node)
    status, body, _ = await post(http, node.url("/api/v1/discussions"), {"url": url}, token=token)
    assert status == 400 and reason in body["error"]


async def test_a_token_for_comments_only_cannot_open_discussions(forum, http):
    node, _, _ = forum
    token = await signed_in_token(node, scopes=("comment",))
    status, _, _ = await post(http, node.url("/api/v1/discussions"), {"url": "https://a.example/"}, token=token)
    assert status == 403


# --- CORS of writes ---------------------------------------------------------------------------


async def test_writes_answer_cors_only_for_the_configured_origins_and_never_with_credentials(tmp_path, http):
    settings = make_settings(tmp_path, api_origins=["https://blog.example"])
    async with running_node(settings) as node:
        async with node.node.sessions.begin() as session:
            author = await queries.get_local_actor(session, "editor")
            await publish_article(session, node.settings, Draft("Topic", "topic", "Talk."), author)
        await make_member(node, "dana")
        token = await signed_in_token(node)
        preflight = {"Origin": "https://blog.example", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization, content-type"}
        async with http.options(node.url("/api/v1/comments"), headers=preflight) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == "https://blog.example"
            assert "POST" in response.headers["Access-Control-Allow-Methods"]
            assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
            assert "Access-Control-Allow-Credentials" not in response.headers
        article = node.url("/articles/topic")
        status, _, headers = await post(http, node.url("/api/v1/comments"), {"in_reply_to": article, "content": "x"},
                                        token=token, headers={"Origin": "https://blog.example"})
        assert status == 201 and headers["Access-Control-Allow-Origin"] == "https://blog.example"
        assert "Access-Control-Allow-Credentials" not in headers
        status, _, headers = await post(http, node.url("/api/v1/comments"), {"in_reply_to": article, "content": "y"},
                                        token=token, headers={"Origin": "https://other.example"})
        assert "Access-Control-Allow-Origin" not in headers


async def test_the_account_page_links_to_the_tokens(forum):
    node, _, _ = forum
    async with member_client() as http:
        await login(http, node.base, "dana")
        async with http.get(node.url("/account")) as response:
            assert 'href="/account/tokens"' in await response.text()
