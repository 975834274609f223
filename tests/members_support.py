"""Test helpers for members: make an account, sign a client in, read a form's CSRF token.

``await make_member(node, "alice", role=Role.MODERATOR)`` creates the account (and its Person actor)
through ``node.members.accounts.create_member``; ``await login(http, base, "alice", PASSWORD)`` signs
an aiohttp ``ClientSession`` in through the real ``/login`` form, so the session's cookie jar then
carries the session.  Sessions that hold cookies for 127.0.0.1 need ``aiohttp.CookieJar(unsafe=True)``
(aiohttp ignores cookies of IP addresses otherwise): use ``member_client()``.
"""

from __future__ import annotations

import contextlib
import re
from html import unescape
from http.cookies import SimpleCookie
from typing import AsyncIterator

import aiohttp

from node.members.accounts import create_member
from node.members.roles import MemberStatus, Role

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def make_member(running, username: str, *, role: Role = Role.MEMBER, password: str = PASSWORD,
                      email: str | None = None, status: MemberStatus = MemberStatus.ACTIVE,
                      display_name: str | None = None, email_verified: bool = False):
    """Create an account on a running test node (``tests.support.RunningNode``) or a ``Node``; return the ``Member``."""
    node = getattr(running, "node", running)
    return await create_member(node, username, password, email, role=role, status=status, display_name=display_name,
                               email_verified=email_verified)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a csrf field"
    return unescape(found.group(1))


async def form_token(http: aiohttp.ClientSession, url: str) -> str:
    """Open the page at ``url`` like a browser and return its form's CSRF token."""
    async with http.get(url) as response:
        assert response.status == 200, f"{url} answered {response.status}"
        return csrf_of(await response.text())


@contextlib.asynccontextmanager
async def member_client() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session that keeps cookies of 127.0.0.1, as a browser would."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield http


async def login(http: aiohttp.ClientSession, base_url: str, username: str, password: str = PASSWORD,
                *, next_path: str = "/") -> aiohttp.ClientResponse:
    """Sign ``http`` in through the ``/login`` form; asserts it worked; returns the 303 response."""
    base = base_url.rstrip("/")
    token = await form_token(http, base + "/login")
    async with http.post(base + "/login", allow_redirects=False,
                         data={"csrf": token, "login": username, "password": password, "next": next_path}) as response:
        body = await response.text()
        assert response.status == 303, f"sign-in of {username} answered {response.status}: {body[:300]}"
        return response


async def page_token(http: aiohttp.ClientSession, base_url: str, path: str = "/") -> str:
    """The CSRF token a signed-in page carries (the sign-out form in the header has one on every page)."""
    return await form_token(http, base_url.rstrip("/") + path)


def session_cookie(http: aiohttp.ClientSession, base_url: str) -> str | None:
    """The session token in the client's cookie jar for ``base_url`` (http: ``fednode_session``), if any."""
    from yarl import URL

    cookies = http.cookie_jar.filter_cookies(URL(base_url))
    morsel = cookies.get("fednode_session") or cookies.get("__Host-fednode_session")
    return morsel.value if morsel is not None else None


async def signed_in_name(http, node) -> str | None:
    """The member name the header of the front page shows, or None when it offers to sign in."""
    async with http.get(node.url("/")) as response:
        html = await response.text()
    if 'class="member-name"' not in html:
        return None
    start = html.index('class="member-name"')
    return html[html.index(">", start) + 1:html.index("</a>", start)]


async def post_login(http, node, login_name: str, password: str, **extra):
    token = await form_token(http, node.url("/login"))
    async with http.post(node.url("/login"), allow_redirects=False,
                         data={"csrf": token, "login": login_name, "password": password, **extra}) as response:
        return response.status, response.headers.get("Location"), await response.text(), set_cookies(response)


def set_cookies(response) -> dict[str, "SimpleCookie"]:
    """The cookies a response sets, by name (each a Morsel)."""
    found = {}
    for header in response.headers.getall("Set-Cookie", []):
        found.update(SimpleCookie(header))
    return found
