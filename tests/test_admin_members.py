"""The members page over real HTTP: applications approved or rejected, suspensions, roles.

Each decision is checked where it matters: an approved applicant can sign in, a
suspended member's session ends at once, a new moderator opens the queue.
"""

from __future__ import annotations

import re

import aiohttp
import pytest

from node.db import members as db_members
from node.db import moderation as db_moderation
from node.members.accounts import create_member
from node.members.roles import MemberStatus, Role
from tests.members_support import PASSWORD, login, make_member

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


@pytest.fixture
async def staff(node):
    """An admin and a moderator, each signed in."""
    await make_member(node, "ada", role=Role.ADMIN)
    await make_member(node, "mo", role=Role.MODERATOR)
    admin, moderator = browser(), browser()
    await login(admin, node.base, "ada")
    await login(moderator, node.base, "mo")
    try:
        yield admin, moderator
    finally:
        await admin.close()
        await moderator.close()


async def member_id(node, username: str) -> int:
    async with node.node.sessions() as session:
        return (await db_members.get_member_by_username(session, username)).id


async def act(client, node, path: str, **fields) -> aiohttp.ClientResponse:
    async with client.get(node.url("/admin/members")) as response:
        token = CSRF.search(await response.text()).group(1)
    async with client.post(node.url(path), data={"csrf": token, **fields}, allow_redirects=False) as response:
        response.text_body = await response.text()
        return response


async def can_sign_in(node, username: str) -> bool:
    async with browser() as client:
        async with client.get(node.url("/login")) as response:
            token = CSRF.search(await response.text()).group(1)
        async with client.post(node.url("/login"), allow_redirects=False,
                               data={"csrf": token, "login": username, "password": PASSWORD}) as response:
            return response.status == 303


async def test_an_application_is_listed_with_its_answer_and_approved(node, staff):
    admin, moderator = staff
    await create_member(node.node, "newcomer", PASSWORD, status=MemberStatus.PENDING,
                        application="I run a <b>river</b> club <script>alert(1)</script>")
    async with moderator.get(node.url("/admin/members")) as response:
        html = await response.text()
    assert "Applications" in html and "@newcomer" in html
    assert "I run a &lt;b&gt;river&lt;/b&gt; club &lt;script&gt;" in html  # shown as typed, never as markup
    assert not await can_sign_in(node, "newcomer")
    response = await act(moderator, node, f"/admin/members/{await member_id(node, 'newcomer')}/approve")
    assert response.status == 303 and "done=member-approved" in response.headers["Location"]
    assert await can_sign_in(node, "newcomer")
    async with node.node.sessions() as session:
        entry = (await db_moderation.list_log(session, limit=1))[0]
    assert (entry.moderator, entry.action) == ("mo", "member:approve") and entry.target.endswith("/actors/newcomer")


async def test_a_rejected_application_cannot_sign_in(node, staff):
    admin, moderator = staff
    await create_member(node.node, "spammy", PASSWORD, status=MemberStatus.PENDING, application="buy now")
    response = await act(moderator, node, f"/admin/members/{await member_id(node, 'spammy')}/reject", reason="spam")
    assert response.status == 303
    assert not await can_sign_in(node, "spammy")
    response = await act(moderator, node, f"/admin/members/{await member_id(node, 'spammy')}/approve")
    assert response.status == 409 and "not pending" in response.text_body


async def test_suspending_a_member_ends_their_session_at_once_and_unsuspending_lets_them_back(node, staff):
    admin, moderator = staff
    await make_member(node, "pat")
    async with browser() as pat:
        await login(pat, node.base, "pat")
        response = await act(moderator, node, f"/admin/members/{await member_id(node, 'pat')}/suspend",
                             reason="cool off")
        assert response.status == 303
        async with pat.get(node.url("/admin"), allow_redirects=False) as page:
            assert page.status == 303 and page.headers["Location"].startswith("/login")  # signed out
    assert not await can_sign_in(node, "pat")
    await act(moderator, node, f"/admin/members/{await member_id(node, 'pat')}/unsuspend")
    assert await can_sign_in(node, "pat")


async def test_an_admin_makes_a_member_a_moderator_who_then_opens_the_queue(node, staff):
    admin, moderator = staff
    await make_member(node, "pat")
    async with browser() as pat:
        await login(pat, node.base, "pat")
        async with pat.get(node.url("/admin/queue"), allow_redirects=False) as page:
            assert page.status == 403
        response = await act(admin, node, f"/admin/members/{await member_id(node, 'pat')}/role", role="moderator")
        assert response.status == 303 and "done=role" in response.headers["Location"]
        async with pat.get(node.url("/admin/queue"), allow_redirects=False) as page:
            assert page.status == 200


async def test_only_admins_change_roles_or_act_on_staff(node, staff):
    admin, moderator = staff
    await make_member(node, "pat")
    response = await act(moderator, node, f"/admin/members/{await member_id(node, 'pat')}/role", role="admin")
    assert response.status == 403
    response = await act(moderator, node, f"/admin/members/{await member_id(node, 'ada')}/suspend")
    assert response.status == 403 and "Only an admin" in response.text_body
    async with node.node.sessions() as session:
        assert (await db_members.get_member_by_username(session, "pat")).role == "member"
        assert (await db_members.get_member_by_username(session, "ada")).status == "active"


async def test_an_admin_cannot_suspend_or_demote_themselves(node, staff):
    admin, moderator = staff
    me = await member_id(node, "ada")
    response = await act(admin, node, f"/admin/members/{me}/suspend")
    assert response.status == 403 and "your own account" in response.text_body
    response = await act(admin, node, f"/admin/members/{me}/role", role="member")
    assert response.status == 403


async def test_a_role_that_does_not_exist_is_refused(node, staff):
    admin, moderator = staff
    await make_member(node, "pat")
    response = await act(admin, node, f"/admin/members/{await member_id(node, 'pat')}/role", role="overlord")
    assert response.status == 400 and "A role is one of" in response.text_body
    response = await act(admin, node, "/admin/members/999999/approve")
    assert response.status == 404


async def test_switching_to_approval_on_the_site_page_opens_applications_that_reach_the_members_page(node, staff):
    """The registration mode and rules saved at /admin/site are what /register uses, over the config's
    ``closed``; an application sent there waits on the members page with its answer."""
    admin, moderator = staff
    async with browser() as visitor:
        async with visitor.get(node.url("/register")) as response:
            assert response.status == 403  # the configuration's default: closed
        async with admin.get(node.url("/admin/site")) as response:
            token = CSRF.search(await response.text()).group(1)
        async with admin.post(node.url("/admin/site"), allow_redirects=False, data={
                "csrf": token, "site_name": node.settings.site_name, "site_summary": node.settings.site_summary,
                "site_rules": "1. Be kind.\n2. No spam.", "registration_mode": "approval"}) as response:
            assert response.status == 303
        async with visitor.get(node.url("/register")) as response:
            html = await response.text()
        assert response.status == 200 and "Apply to join" in html
        assert "<li>Be kind.</li><li>No spam.</li>" in html
        async with visitor.post(node.url("/register"), allow_redirects=False, data={
                "csrf": CSRF.search(html).group(1), "username": "river_fan", "password": PASSWORD,
                "password_again": PASSWORD, "application": "I paddle every weekend"}) as response:
            assert response.status in (200, 303), await response.text()
    async with moderator.get(node.url("/admin/members?status=pending")) as response:
        html = await response.text()
    assert "@river_fan" in html and "I paddle every weekend" in html


async def test_the_header_links_staff_to_the_admin_area_only(node, staff):
    admin, moderator = staff
    await make_member(node, "pat")
    async with browser() as pat:
        await login(pat, node.base, "pat")
        async with pat.get(node.url("/")) as response:
            assert 'href="/admin"' not in await response.text()
    async with moderator.get(node.url("/")) as response:
        assert 'class="admin-link" href="/admin"' in await response.text()
