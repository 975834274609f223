"""Admin routes answer only moderators and admins: readers are sent to sign in, members get 403.

The whole route table (``node.web.admin.routes.ROUTES``) is walked, GET and POST,
so a page added later without its guard fails here.  Admin-only pages also
refuse moderators.
"""

from __future__ import annotations

import re

import aiohttp
import pytest

from node.members.roles import Role
from node.web.admin.routes import ROUTES
from tests.members_support import login, make_member

ADMIN_ONLY = ("/admin/site", "/admin/members/1/role")


def concrete(path: str) -> str:
    """A route pattern with each ``{name:regex}`` replaced by a value it matches."""
    values = {"action": None}

    def fill(match: re.Match) -> str:
        name, _, pattern = match.group(1).partition(":")
        if name in values and pattern:
            return pattern.split("|")[0]
        return "1"
    return re.sub(r"\{([^}]+)\}", fill, path)


ROUTE_CASES = [(route.method, concrete(route.path)) for route in ROUTES]


async def client_as(node, name: str, role: Role) -> aiohttp.ClientSession:
    await make_member(node, name, role=role)
    client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    await login(client, node.base, name)
    return client


def test_every_admin_route_is_under_admin():
    assert ROUTE_CASES and all(path.startswith("/admin") for _, path in ROUTE_CASES)


@pytest.mark.parametrize("method, path", ROUTE_CASES, ids=[f"{m} {p}" for m, p in ROUTE_CASES])
async def test_a_reader_who_is_not_signed_in_is_sent_to_sign_in(node, http, method, path):
    async with http.request(method, node.url(path), allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"].startswith("/login?")


async def test_a_member_gets_403_from_every_admin_route(node):
    client = await client_as(node, "pat", Role.MEMBER)
    try:
        for method, path in ROUTE_CASES:
            async with client.request(method, node.url(path), allow_redirects=False) as response:
                assert response.status == 403, f"{method} {path} answered {response.status}"
    finally:
        await client.close()


async def test_a_moderator_gets_403_from_admin_only_pages_and_opens_the_others(node):
    client = await client_as(node, "mo", Role.MODERATOR)
    try:
        for method, path in ROUTE_CASES:
            async with client.request(method, node.url(path), allow_redirects=False) as response:
                if path.startswith(ADMIN_ONLY):
                    assert response.status == 403, f"{method} {path} answered {response.status}"
                elif method == "GET" and "{" not in path and not re.search(r"/\d+", path):
                    assert response.status == 200, f"{method} {path} answered {response.status}"
                elif method == "POST":
                    assert response.status == 403  # no CSRF token: refused before anything is done
    finally:
        await client.close()


async def test_an_admin_opens_every_page(node):
    client = await client_as(node, "ada", Role.ADMIN)
    try:
        for method, path in ROUTE_CASES:
            if method == "GET" and not re.search(r"/\d+", path):
                async with client.get(node.url(path), allow_redirects=False) as response:
                    assert response.status == 200, f"{path} answered {response.status}"
    finally:
        await client.close()


async def test_the_admin_navigation_shows_site_settings_to_admins_only(node):
    moderator, admin = await client_as(node, "mo", Role.MODERATOR), await client_as(node, "ada", Role.ADMIN)
    try:
        async with moderator.get(node.url("/admin")) as response:
            assert 'href="/admin/site"' not in await response.text()
        async with admin.get(node.url("/admin")) as response:
            assert 'href="/admin/site"' in await response.text()
    finally:
        await moderator.close()
        await admin.close()


@pytest.mark.parametrize("back", ["https://evil.example/", "//evil.example/admin", "/admin\\..\\x", "/elsewhere"])
async def test_a_forms_back_field_never_leaves_the_admin_area(node, back):
    """The ``back`` a form carries is only followed to a local admin page (no open redirect)."""
    client = await client_as(node, "mo", Role.MODERATOR)
    try:
        async with client.get(node.url("/admin/blocks")) as response:
            token = re.search(r'name="csrf" value="([^"]+)"', await response.text()).group(1)
        async with client.post(node.url("/admin/blocks"), allow_redirects=False,
                               data={"csrf": token, "domain": "spam.example", "severity": "silence",
                                     "back": back}) as response:
            assert response.status == 303 and response.headers["Location"].startswith("/admin/blocks")
        async with client.post(node.url("/admin/comments/1/approve"), allow_redirects=False,
                               data={"csrf": token, "back": back}) as response:
            assert response.status == 404
    finally:
        await client.close()
