"""The session middleware: who is signed in (``request[MEMBER]``, ``node.web.request_keys``), and the session cookie.

For every request carrying a session cookie, the session is looked up (one indexed read,
``node.members.sessions``) and ``request[MEMBER]`` becomes a ``CurrentMember``; without a valid
one it is None.  A cookie that opens no session (expired, signed out elsewhere) is deleted.
Readers who never sign in get no cookie from here: the only cookies set are the session's, at
sign-in, and the CSRF form cookie of the sign-in and registration pages (``node.web.csrf``).
An inbox POST (another server delivering an activity, ``node.web.inbox.is_inbox_post``) passes
through untouched: no cookie of it is read, none is set on its answer.

The cookie is HttpOnly, SameSite=Lax, and Secure with the ``__Host-`` prefix when ``base_url``
is https (RFC 6265bis §4.1.3.2: no Domain, Path=/, so no subdomain can set or read it).
Pages answered to a signed-in browser are ``Cache-Control: private, no-store``: they carry the
member's name and CSRF token and must never sit in a shared cache.
"""

from __future__ import annotations

from aiohttp import web

from node.app import NODE
from node.members import sessions
from node.members.current import CurrentMember
from node.members.roles import MemberStatus, Role
from node.web import csrf
from node.web.inbox import is_inbox_post
from node.web.render import REQUEST
from node.web.request_keys import MEMBER, SESSION

COOKIE = "fednode_session"
SECURE_COOKIE = "__Host-fednode_session"
# Paths whose requests never need to know the member: files and server-to-server endpoints.
SKIPPED_PREFIXES = ("/static/", "/media/", "/inbox", "/.well-known/", "/nodeinfo/", "/healthz", "/readyz", "/metrics")
NO_STORE = "private, no-store"


def cookie_name(request: web.Request) -> str:
    return SECURE_COOKIE if _secure(request) else COOKIE


def _secure(request: web.Request) -> bool:
    return request.app[NODE].settings.scheme == "https"


def current_member(opened: sessions.OpenSession) -> CurrentMember:
    member = opened.member
    return CurrentMember(
        member_id=member.member_id, actor_id=member.actor_id, actor_ap_id=member.actor_ap_id, username=member.username,
        display_name=member.actor_name if member.actor_name != member.username else None,
        role=Role(member.role), status=MemberStatus(member.status), unread=int(member.unread or 0),
        follows=str(member.follows or ""),
    )


@web.middleware
async def session_middleware(request: web.Request, handler):
    """Set ``request[MEMBER]`` from the session cookie; set or clear cookies on the way out."""
    if is_inbox_post(request):
        # Another server delivering an activity: no member, and no cookie read or set.
        return await handler(request)
    REQUEST.set(request)
    request[MEMBER] = None
    token = request.cookies.get(cookie_name(request))
    stale = False
    if token and not request.path.startswith(SKIPPED_PREFIXES):
        opened = await sessions.find_session(request.app[NODE], token)
        if opened is None:
            stale = True
        else:
            request[SESSION] = opened
            request[MEMBER] = current_member(opened)
    response = await handler(request)
    if isinstance(response, web.StreamResponse) and not response.prepared:
        if stale and cookie_name(request) not in response.cookies:
            clear_session_cookie(request, response)
        csrf.set_form_cookie(request, response)
        if token:
            response.headers["Cache-Control"] = NO_STORE
    return response


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """Give the browser its session cookie (at sign-in), lasting as long as the session may."""
    days = request.app[NODE].settings.session_days
    response.set_cookie(cookie_name(request), token, max_age=days * 24 * 3600, path="/", httponly=True,
                        samesite="Lax", secure=_secure(request))
    response.headers["Cache-Control"] = NO_STORE


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Make the browser forget its session cookie (at sign-out)."""
    response.del_cookie(cookie_name(request), path="/", secure=_secure(request), httponly=True, samesite="Lax")


def session_token(request: web.Request) -> str | None:
    """The session token the browser sent, if any (valid or not)."""
    return request.cookies.get(cookie_name(request))
