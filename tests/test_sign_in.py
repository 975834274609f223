"""Signing in and out from the web, and the session's security: fixation, cookies, expiry, redirects.

Real HTTP against a real node; the client keeps cookies like a browser (``member_client``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from node.db import members as db
from node.db.types import utcnow
from node.members.sessions import token_hash
from tests.members_support import (PASSWORD, csrf_of, form_token, login, make_member, member_client, post_login,
                                   session_cookie, set_cookies, signed_in_name)
from tests.support import free_port, make_settings, running_node


async def test_a_member_signs_in_and_sees_their_name(node):
    """The right password starts a session: the header shows the member's name and a sign-out button."""
    # Given alice
    await make_member(node, "alice", display_name="Alice Liddell")
    async with member_client() as http:
        # When she signs in
        await login(http, node.base, "alice")
        # Then every page shows her name
        assert await signed_in_name(http, node) == "Alice Liddell"


async def test_signing_in_by_e_mail_address_works_too(node):
    await make_member(node, "alice", email="alice@example.org")
    async with member_client() as http:
        await login(http, node.base, "ALICE@example.org")
        assert await signed_in_name(http, node) == "alice"


async def test_unknown_account_and_wrong_password_get_the_same_answer(node):
    """No account enumeration: an unknown name and a wrong password answer the same status and words."""
    # Given alice
    await make_member(node, "alice")
    async with member_client() as http:
        # When someone tries a wrong password for her, and any password for nobody
        wrong = await post_login(http, node, "alice", "not her password at all")
        unknown = await post_login(http, node, "nobody_here", "not her password at all")
    # Then both are 401 with the same message, and the pages differ only in the name typed back
    assert wrong[0] == unknown[0] == 401
    assert "Wrong username or password." in wrong[2] and "Wrong username or password." in unknown[2]
    same = lambda html: csrf_of(html) and html.replace(csrf_of(html), "").replace("nobody_here", "alice")  # noqa: E731
    assert same(wrong[2]) == same(unknown[2])


async def test_the_session_id_changes_at_sign_in(node):
    """Session fixation: a session cookie set before sign-in (planted or a real one) is never adopted."""
    # Given a browser that holds a session cookie an attacker chose, and one of a real earlier session
    await make_member(node, "alice")
    await make_member(node, "mallory")
    async with member_client() as http:
        await login(http, node.base, "mallory")
        mallorys = session_cookie(http, node.base)
        # When alice signs in on it
        status, _, _, cookies = await post_login(http, node, "alice", PASSWORD)
        alices = cookies["fednode_session"].value
    # Then she gets a new token, and the earlier session no longer exists
    assert status == 303 and alices != mallorys
    async with node.node.sessions() as session:
        assert await db.session_by_token_hash(session, token_hash(mallorys), utcnow()) is None
        assert await db.session_by_token_hash(session, token_hash(alices), utcnow()) is not None


async def test_a_planted_session_cookie_opens_nothing(node, http):
    """A cookie value the server never issued is no session: the reader is anonymous and the cookie is cleared."""
    async with http.get(node.url("/"), headers={"Cookie": "fednode_session=chosen-by-the-attacker-0123456789"}) as response:
        html = await response.text()
        cookies = set_cookies(response)
    assert 'class="member-name"' not in html
    assert cookies["fednode_session"]["max-age"] == "0"


async def test_the_session_cookie_is_httponly_and_samesite_lax(node):
    """On plain http (development) the cookie is HttpOnly and SameSite=Lax, and pages for the member are private."""
    await make_member(node, "alice")
    async with member_client() as http:
        status, _, _, cookies = await post_login(http, node, "alice", PASSWORD)
        async with http.get(node.url("/")) as response:
            cache = response.headers.get("Cache-Control")
    cookie = cookies["fednode_session"]
    assert status == 303
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert not cookie["secure"]
    assert cache == "private, no-store"


async def test_the_session_cookie_is_secure_on_an_https_site(tmp_path, http):
    """With an https base_url the cookie is Secure and named __Host- (no Domain, Path=/)."""
    # Given a node published at https (reached here over loopback http, as behind a TLS proxy)
    port = free_port()
    settings = make_settings(tmp_path, port=port, base_url=f"https://127.0.0.1:{port}")
    async with running_node(settings) as running:
        await make_member(running, "alice")
        local = f"http://127.0.0.1:{port}"
        async with http.get(local + "/login") as response:
            token = csrf_of(await response.text())
            form_cookie = set_cookies(response)["__Host-fednode_csrf"]
        # When alice signs in
        async with http.post(local + "/login", allow_redirects=False,
                             headers={"Cookie": f"__Host-fednode_csrf={form_cookie.value}"},
                             data={"csrf": token, "login": "alice", "password": PASSWORD}) as response:
            status, cookies = response.status, set_cookies(response)
    # Then both cookies are Secure, HttpOnly, SameSite=Lax, and carry no Domain
    session = cookies["__Host-fednode_session"]
    assert status == 303
    for cookie in (session, form_cookie):
        assert cookie["secure"] is True and cookie["httponly"] is True and cookie["samesite"] == "Lax"
        assert cookie["domain"] == "" and cookie["path"] == "/"


@pytest.mark.parametrize("path", ["/", "/discussions", "/@editor"])
async def test_readers_who_do_not_sign_in_get_no_cookie(node, http, path):
    """Reading pages sets no cookie at all."""
    async with http.get(node.url(path)) as response:
        assert response.status == 200
        assert response.headers.getall("Set-Cookie", []) == []


async def test_signing_out_ends_the_session_on_the_server(node):
    """After sign-out the old cookie, replayed, opens nothing."""
    # Given alice signed in
    await make_member(node, "alice")
    async with member_client() as http:
        await login(http, node.base, "alice")
        token = session_cookie(http, node.base)
        # When she signs out
        async with http.post(node.url("/logout"), data={"csrf": await form_token(http, node.url("/"))},
                             allow_redirects=False) as response:
            status = response.status
        assert status == 303 and await signed_in_name(http, node) is None
    # Then the token she had no longer works, even sent again by hand
    async with member_client() as other:
        async with other.get(node.url("/"), headers={"Cookie": f"fednode_session={token}"}) as response:
            assert 'class="member-name"' not in await response.text()


async def test_an_expired_session_opens_nothing(node):
    """A session past its expiry is no longer a sign-in."""
    # Given alice signed in, and her session's expiry passed
    await make_member(node, "alice")
    async with member_client() as http:
        await login(http, node.base, "alice")
        token = session_cookie(http, node.base)
        async with node.node.sessions.begin() as session:
            row, _ = await db.session_by_token_hash(session, token_hash(token), utcnow())
            row.expires_at = utcnow() - timedelta(seconds=1)
        # When she opens a page
        # Then she is a reader again
        assert await signed_in_name(http, node) is None


@pytest.mark.parametrize("given, lands", [
    ("/articles/topic?page=2#c-3", "/articles/topic?page=2#c-3"),
    ("//evil.example/", "/"),
    ("/\\evil.example/", "/"),
    ("https://evil.example/", "/"),
    ("http:/evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("/%0d%0aSet-Cookie:x=1", "/%0d%0aSet-Cookie:x=1"),
    ("/\tevil", "/"),
])
async def test_after_sign_in_next_only_goes_to_local_paths(node, given, lands):
    """No open redirect: ``next`` is followed only when it is a path on this site."""
    await make_member(node, "alice")
    async with member_client() as http:
        status, location, _, _ = await post_login(http, node, "alice", PASSWORD, next=given)
    assert (status, location) == (303, lands)


async def test_the_sign_in_page_sends_a_signed_in_member_on(node):
    await make_member(node, "alice")
    async with member_client() as http:
        await login(http, node.base, "alice")
        async with http.get(node.url("/login?next=/discussions"), allow_redirects=False) as response:
            assert (response.status, response.headers["Location"]) == (303, "/discussions")


async def test_a_pending_applicant_cannot_sign_in(node):
    """An application waiting for approval cannot sign in; only someone with its password learns why."""
    from node.members.roles import MemberStatus

    await make_member(node, "alice", status=MemberStatus.PENDING)
    async with member_client() as http:
        status, _, html, cookies = await post_login(http, node, "alice", PASSWORD)
    assert status == 403 and "waiting for an administrator" in html and "fednode_session" not in cookies


async def register(http, node, **fields):
    token = await form_token(http, node.url("/register"))
    data = {"csrf": token, "password": PASSWORD, "password_again": PASSWORD, **fields}
    async with http.post(node.url("/register"), data=data, allow_redirects=False) as response:
        return response.status, response.headers.get("Location"), await response.text()


async def test_in_open_mode_anyone_registers_and_is_signed_in(tmp_path):
    """With registration_mode = "open", the form makes the account and signs it in."""
    async with running_node(make_settings(tmp_path, registration_mode="open")) as running:
        async with member_client() as http:
            status, location, _ = await register(http, running, username="Newcomer", display_name="New Comer")
            assert (status, location) == (303, "/")
            assert await signed_in_name(http, running) == "New Comer"


async def test_a_refused_registration_says_why_and_keeps_what_was_typed(tmp_path):
    """A reserved name comes back as the form, with the reason and the typed values."""
    async with running_node(make_settings(tmp_path, registration_mode="open")) as running:
        async with member_client() as http:
            status, _, html = await register(http, running, username="admin", email="me@example.org")
    assert status == 400 and "reserved" in html and 'value="me@example.org"' in html


async def test_registration_is_closed_by_default(node, http):
    """The shipped mode is closed: the page says so and a POST makes nothing."""
    async with http.get(node.url("/register")) as response:
        status, html = response.status, await response.text()
    assert status == 403 and "Registration is closed" in html and "<form" not in html.split("<main>")[1]


async def test_signing_out_everywhere_ends_every_other_session(node):
    """"Sign out everywhere" on one browser signs the member out on all the others too."""
    # Given alice signed in on two browsers
    await make_member(node, "alice")
    async with member_client() as laptop, member_client() as phone:
        await login(laptop, node.base, "alice")
        await login(phone, node.base, "alice")
        # When she signs out everywhere from the laptop
        token = await form_token(laptop, node.url("/account"))
        async with laptop.post(node.url("/account/logout-everywhere"), data={"csrf": token},
                               allow_redirects=False) as response:
            assert (response.status, response.headers["Location"]) == (303, "/login")
        # Then neither browser is signed in any more
        assert await signed_in_name(phone, node) is None
        assert await signed_in_name(laptop, node) is None


async def test_signing_out_everywhere_else_keeps_this_browser(node):
    await make_member(node, "alice")
    async with member_client() as laptop, member_client() as phone:
        await login(laptop, node.base, "alice")
        await login(phone, node.base, "alice")
        token = await form_token(laptop, node.url("/account"))
        async with laptop.post(node.url("/account/logout-everywhere"), data={"csrf": token, "keep": "this"}) as response:
            assert response.status == 200 and "Your other sign-ins have ended." in await response.text()
        assert await signed_in_name(phone, node) is None
        assert await signed_in_name(laptop, node) == "alice"


async def test_changing_the_password_signs_out_the_other_browsers(node):
    await make_member(node, "alice")
    async with member_client() as laptop, member_client() as phone:
        await login(laptop, node.base, "alice")
        await login(phone, node.base, "alice")
        token = await form_token(laptop, node.url("/account"))
        async with laptop.post(node.url("/account/password"), data={
                "csrf": token, "current": PASSWORD, "password": "another fine passphrase",
                "password_again": "another fine passphrase"}) as response:
            assert response.status == 200 and "Your password was changed" in await response.text()
        assert await signed_in_name(phone, node) is None
        assert await signed_in_name(laptop, node) == "alice"


async def test_the_account_page_needs_a_sign_in(node, http):
    async with http.get(node.url("/account"), allow_redirects=False) as response:
        assert (response.status, response.headers["Location"]) == (303, "/login?next=/account")
