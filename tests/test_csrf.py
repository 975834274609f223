"""CSRF: every POST form of the node refuses a request without the form's token.

Signed in, the token is the session's own; on the sign-in and registration forms it is bound to a
cookie those pages set; on a reader's other forms (/interact) it is a signed, dated token, which
the sign-in forms do not accept (a login CSRF would sign a victim into the attacker's account).
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.members_fed_support import publish
from tests.members_support import PASSWORD, csrf_of, form_token, login, make_member, member_client, session_cookie
from tests.members_support import signed_in_name
from tests.support import make_settings, running_node


@pytest.fixture
async def open_node(tmp_path):
    async with running_node(make_settings(tmp_path, registration_mode="open")) as running:
        yield running


SIGNIN_FORMS = {
    "/login": {"login": "alice", "password": PASSWORD},
    "/register": {"username": "newcomer", "password": PASSWORD, "password_again": PASSWORD},
}


@pytest.mark.parametrize("path", sorted(SIGNIN_FORMS))
@pytest.mark.parametrize("token", [None, "", "c.forged", "o.1.forged"])
async def test_sign_in_forms_refuse_a_missing_or_forged_token(open_node, path, token):
    """POST /login and /register without the form's token are 403 and do nothing."""
    await make_member(open_node, "alice")
    data = dict(SIGNIN_FORMS[path])
    if token is not None:
        data["csrf"] = token
    async with member_client() as http:
        async with http.post(open_node.url(path), data=data, allow_redirects=False) as response:
            status, html = response.status, await response.text()
        assert status == 403 and "CSRF token missing or wrong" in html
        assert session_cookie(http, open_node.base) is None


@pytest.mark.parametrize("path", sorted(SIGNIN_FORMS))
async def test_sign_in_forms_refuse_a_token_without_their_cookie(open_node, path):
    """A valid token from a reader's form (/interact) is not enough to sign in: login CSRF is refused."""
    # Given a token an attacker can fetch for anyone: the dated one of a reader's form
    await make_member(open_node, "alice")
    article = await publish(open_node)
    async with member_client() as attacker:
        token = await form_token(attacker, open_node.url("/interact?" + urlencode({"uri": article})))
    assert token.startswith("o.")
    # When a victim's browser, without the sign-in form's cookie, posts the form with it
    async with member_client() as victim:
        async with victim.post(open_node.url(path), data={**SIGNIN_FORMS[path], "csrf": token},
                               allow_redirects=False) as response:
            status = response.status
        # Then it is refused, and the victim is not signed in
        assert status == 403 and session_cookie(victim, open_node.base) is None


async def test_a_token_of_another_browsers_cookie_is_refused(open_node):
    """The sign-in token is bound to its own browser's cookie: one copied from another browser fails."""
    await make_member(open_node, "alice")
    async with member_client() as attacker, member_client() as victim:
        token = await form_token(attacker, open_node.url("/login"))
        await form_token(victim, open_node.url("/login"))  # the victim has a form cookie of their own
        async with victim.post(open_node.url("/login"), data={"csrf": token, "login": "alice", "password": PASSWORD},
                               allow_redirects=False) as response:
            assert response.status == 403


async def test_sign_out_refuses_a_missing_token_and_keeps_the_session(open_node):
    """A forged POST /logout (no token, or a reader's token) does not sign the member out."""
    await make_member(open_node, "alice")
    async with member_client() as http:
        await login(http, open_node.base, "alice")
        async with member_client() as reader:
            readers = await form_token(reader, open_node.url("/login"))
        for data in ({}, {"csrf": ""}, {"csrf": readers}):
            async with http.post(open_node.url("/logout"), data=data, allow_redirects=False) as response:
                assert response.status == 403
        assert await signed_in_name(http, open_node) == "alice"


async def test_the_signed_in_token_is_the_sessions_own(open_node):
    """Signed in, a form's token is the session's: another member's token is refused."""
    await make_member(open_node, "alice")
    await make_member(open_node, "bob")
    async with member_client() as alice, member_client() as bob:
        await login(alice, open_node.base, "alice")
        await login(bob, open_node.base, "bob")
        bobs = await form_token(bob, open_node.url("/"))
        async with alice.post(open_node.url("/logout"), data={"csrf": bobs}, allow_redirects=False) as response:
            assert response.status == 403
        assert await signed_in_name(alice, open_node) == "alice"


async def test_the_reply_from_your_server_form_refuses_a_missing_token(open_node, http):
    """POST /interact without its token is 403, and the form is shown again with a fresh token."""
    article = await publish(open_node)
    async with http.post(open_node.url("/interact"), data={"handle": "@alice@example.org", "uri": article},
                         allow_redirects=False) as response:
        status, html = response.status, await response.text()
    assert status == 403 and "CSRF token missing or wrong" in html
    assert csrf_of(html).startswith("o.")


async def test_every_form_the_node_renders_carries_a_token(open_node):
    """The forms on the pages a reader and a member see each have a csrf field."""
    await make_member(open_node, "alice")
    async with member_client() as http:
        for path in ("/login", "/register"):
            async with http.get(open_node.url(path)) as response:
                html = await response.text()
            assert html.count("<form") == html.count('name="csrf"') >= 1, path
        await login(http, open_node.base, "alice")
        async with http.get(open_node.url("/")) as response:
            html = await response.text()
        assert html.count("<form") == html.count('name="csrf"') >= 1


# Every POST form of the account pages, signed in (the session's token) or not (the form cookie's).
SIGNED_IN_FORMS = {
    "/logout": {},
    "/account/logout-everywhere": {},
    "/account/password": {"current": PASSWORD, "password": "another fine passphrase",
                          "password_again": "another fine passphrase"},
    "/account/invites": {},
}
READER_FORMS = {
    "/login": {"login": "boss", "password": PASSWORD},
    "/register": {"username": "newcomer", "password": PASSWORD, "password_again": PASSWORD},
    "/reset": {"login": "boss"},
    "/reset/password": {"token": "x" * 43, "password": "another fine passphrase",
                        "password_again": "another fine passphrase"},
}


@pytest.mark.parametrize("path", sorted(SIGNED_IN_FORMS))
async def test_every_signed_in_form_refuses_a_post_without_the_sessions_token(open_node, path):
    """A signed-in admin's browser posting any account form without the token gets 403 and nothing changes."""
    from node.members.roles import Role

    await make_member(open_node, "boss", role=Role.ADMIN)
    async with member_client() as http:
        await login(http, open_node.base, "boss")
        async with http.post(open_node.url(path), data=SIGNED_IN_FORMS[path], allow_redirects=False) as response:
            status, html = response.status, await response.text()
        assert status == 403 and "CSRF token missing or wrong" in html
        assert await signed_in_name(http, open_node) == "boss"
    async with member_client() as http:
        await login(http, open_node.base, "boss")  # the password did not change


@pytest.mark.parametrize("path", sorted(READER_FORMS))
async def test_every_reader_form_refuses_a_post_without_the_form_cookies_token(open_node, path):
    from node.members.roles import Role

    await make_member(open_node, "boss", role=Role.ADMIN)
    async with member_client() as http:
        async with http.post(open_node.url(path), data=READER_FORMS[path], allow_redirects=False) as response:
            status, html = response.status, await response.text()
    assert status == 403 and "CSRF token missing or wrong" in html
