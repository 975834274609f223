"""Registration in each mode (open, approval, invite, closed), invite links, and the admin's reset link."""

from __future__ import annotations

import pytest

from node.db import members as db
from node.members import accounts, links
from node.members.roles import Role
from tests.members_support import PASSWORD, form_token, login, make_member, member_client
from tests.support import make_settings, running_node
from tests.cli_support import run_fednode
from tests.members_support import post_login, signed_in_name


@pytest.fixture
def mode_node(tmp_path):
    """A function starting a node in a registration mode."""
    def start(mode: str):
        return running_node(make_settings(tmp_path, registration_mode=mode))
    return start


async def register(http, node, path: str = "/register", **fields):
    token = await form_token(http, node.url(path))
    data = {"csrf": token, "password": PASSWORD, "password_again": PASSWORD, **fields}
    async with http.post(node.url("/register"), data=data, allow_redirects=False) as response:
        return response.status, response.headers.get("Location"), await response.text()


async def test_approval_mode_files_an_application_that_cannot_sign_in_yet(mode_node):
    """In approval mode the answer to "why do you want to join" is kept and the account waits, signed out."""
    async with mode_node("approval") as node:
        async with member_client() as http:
            # When someone applies
            status, _, html = await register(http, node, username="alice", application="I run the book club.")
            assert status == 200 and "Application received" in html
            assert await signed_in_name(http, node) is None
            # Then the application is pending with the answer, and signing in says it waits
            async with node.node.sessions() as session:
                member = await db.get_member_by_username(session, "alice")
            assert (member.status, member.application) == ("pending", "I run the book club.")
            status, _, html, _ = await post_login(http, node, "alice", PASSWORD)
            assert status == 403 and "waiting for an administrator" in html


async def test_an_approved_applicant_signs_in(mode_node):
    async with mode_node("approval") as node:
        async with member_client() as http:
            await register(http, node, username="alice", application="I run the book club.")
            async with node.node.sessions() as session:
                member = await db.get_member_by_username(session, "alice")
            await accounts.approve_member(node.node, member.id)
            await login(http, node.base, "alice")
            assert await signed_in_name(http, node) == "alice"


async def test_approval_mode_needs_an_answer(mode_node):
    async with mode_node("approval") as node:
        async with member_client() as http:
            status, _, html = await register(http, node, username="alice", application="  ")
    assert status == 400 and "why you want to join" in html


async def test_invite_mode_without_a_link_shows_no_form(mode_node):
    async with mode_node("invite") as node:
        async with member_client() as http:
            async with http.get(node.url("/register")) as response:
                status, html = response.status, await response.text()
    assert status == 403 and "invitation only" in html and 'action="/register"' not in html


async def test_an_invite_link_makes_one_account(mode_node):
    """The link opens the form once; after one account it no longer works."""
    async with mode_node("invite") as node:
        link = await links.make_invite(node.node)
        path = link.removeprefix(node.base)
        code = path.split("invite=")[1]
        async with member_client() as http:
            status, location, _ = await register(http, node, path, username="alice", invite=code)
            assert (status, location) == (303, "/")
        async with member_client() as second:
            async with second.get(node.url(path)) as response:
                assert response.status == 403 and "not valid" in await response.text()
            token = await form_token(second, node.url("/login"))
            async with second.post(node.url("/register"), allow_redirects=False,
                                   data={"csrf": token, "username": "bob", "password": PASSWORD,
                                         "password_again": PASSWORD, "invite": code}) as response:
                assert response.status == 403
        async with node.node.sessions() as session:
            assert await db.get_member_by_username(session, "bob") is None


async def test_an_expired_invite_is_refused(mode_node):
    async with mode_node("invite") as node:
        link = await links.make_invite(node.node, days=1)
        code = link.split("invite=")[1]
        invite = await links.find_invite(node.node, code)
        async with node.node.sessions.begin() as session:
            row = await db.invite_by_code_hash(session, invite.code_hash)
            row.expires_at = row.created_at
        async with member_client() as http:
            async with http.get(node.url("/register?invite=" + code)) as response:
                assert response.status == 403


async def test_closed_mode_refuses_a_post_too(mode_node):
    """Even a well-formed POST makes no account when registration is closed."""
    async with mode_node("closed") as node:
        async with member_client() as http:
            token = await form_token(http, node.url("/login"))
            async with http.post(node.url("/register"), data={"csrf": token, "username": "alice", "password": PASSWORD,
                                                              "password_again": PASSWORD}) as response:
                assert response.status == 403
        async with node.node.sessions() as session:
            assert await db.count_members(session) == 0


async def test_admins_make_invite_links_from_the_web(mode_node):
    """An admin's /account/invites makes a working link; a member gets 403 there."""
    async with mode_node("invite") as node:
        await make_member(node, "boss", role=Role.ADMIN)
        await make_member(node, "ann")
        async with member_client() as admin, member_client() as member:
            await login(admin, node.base, "boss")
            await login(member, node.base, "ann")
            async with member.get(node.url("/account/invites")) as response:
                assert response.status == 403
            token = await form_token(admin, node.url("/account/invites"))
            async with admin.post(node.url("/account/invites"), data={"csrf": token}) as response:
                html = await response.text()
        link = html.split('<code class="invite-link">')[1].split("</code>")[0]
        assert await links.find_invite(node.node, link.split("invite=")[1]) is not None


def test_admin_invite_prints_a_working_link(tmp_path):
    settings = make_settings(tmp_path, registration_mode="invite")
    flags = ["--database-url", settings.database_url, "--keys-dir", settings.keys_dir, "--base-url", settings.base_url,
             "--registration-mode", "invite"]
    result = run_fednode(tmp_path, "admin", "invite", *flags)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(settings.base_url + "/register?invite=")


async def test_admin_reset_link_lets_the_member_choose_a_new_password(tmp_path):
    """`fednode admin reset-link NAME` prints a link that works without any e-mail."""
    import asyncio

    settings = make_settings(tmp_path)
    async with running_node(settings) as node:
        await make_member(node, "alice")
        flags = ["--database-url", settings.database_url, "--keys-dir", settings.keys_dir,
                 "--base-url", settings.base_url]
        result = await asyncio.to_thread(run_fednode, tmp_path, "admin", "reset-link", "alice", *flags)
        assert result.returncode == 0, result.stderr
        link = result.stdout.strip()
        assert link.startswith(settings.base_url + "/reset/password?token=")
        async with member_client() as http:
            token = await form_token(http, link)
            async with http.post(node.url("/reset/password"), allow_redirects=False,
                                 data={"csrf": token, "token": link.split("token=")[1],
                                       "password": "brand new passphrase", "password_again": "brand new passphrase"}) as response:
                assert response.status == 303
            await login(http, node.base, "alice", "brand new passphrase")


def test_admin_reset_link_for_an_unknown_account_says_so(tmp_path):
    settings = make_settings(tmp_path)
    result = run_fednode(tmp_path, "admin", "reset-link", "nobody", "--database-url", settings.database_url,
                         "--keys-dir", settings.keys_dir)
    assert result.returncode == 2 and "no account @nobody" in result.stderr
