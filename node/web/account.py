"""The account pages: sign in, sign out, register (docs/members.md).

Every form carries a CSRF token (``node.web.csrf``); the sign-in and registration forms accept
only a browser-bound one.  Signing in always starts a new session with a new token (a cookie
the browser had before, planted or not, is ended, never adopted: no session fixation), and
``next`` may only name a path on this site (no open redirect).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from aiohttp import web

from node.app import NODE
from node.members import accounts, sessions
from node.members.roles import MemberStatus
from node.web import csrf
from node.web.render import render
from node.web.session import clear_session_cookie, session_token, set_session_cookie

log = logging.getLogger("fednode.members")

MAX_NEXT = 2048
MAX_FIELD = 2048  # characters of any single-line field read from these forms
WRONG = "Wrong username or password."  # the same for unknown accounts and wrong passwords


def _common(request: web.Request) -> dict:
    settings = request.app[NODE].settings
    return {"site_name": settings.site_name, "site_handle": f"@{settings.site_username}@{settings.host}",
            "registration_mode": settings.registration_mode}


def safe_next(value: object) -> str:
    """Where to go after signing in: ``value`` if it is a path on this site, else ``/``.

    Refused: absolute URLs (``https://evil``), scheme-relative ones (``//evil``), backslashes
    (browsers read ``/\\evil`` as ``//evil``), control characters and whitespace.
    """
    if not isinstance(value, str) or not value.startswith("/") or len(value) > MAX_NEXT:
        return "/"
    if value.startswith("//") or "\\" in value or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7f for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _field(form, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def redirect(location: str) -> web.Response:
    """A 303 to ``location`` (a local path), as a response that can carry cookies."""
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


async def sign_in(request: web.Request, member_id: int, location: str) -> web.Response:
    """Start a new session for ``member_id`` and send the browser to ``location`` with its cookie.

    The session the browser had (if any) ends here: its token is never reused, so a token an
    attacker planted before sign-in opens nothing after it.
    """
    node = request.app[NODE]
    old = session_token(request)
    if old:
        await sessions.end_session(node, old)
    token = await sessions.open_session(node, member_id, user_agent=request.headers.get("User-Agent"))
    response = redirect(location)
    set_session_cookie(request, response, token)
    csrf.drop_form_cookie(request, response)
    return response


# --- sign in ------------------------------------------------------------------------------------


def _login_page(request: web.Request, *, next_path: str, login: str = "", error: str | None = None,
                status: int = 200) -> web.Response:
    csrf.use_form_cookie(request)
    return render("login.html", status=status, next_path=next_path, login=login, error=error,
                  headers={"Cache-Control": "no-store"}, **_common(request))


async def login_form(request: web.Request) -> web.Response:
    """``GET /login``: the sign-in form (a signed-in member goes straight on to ``next``)."""
    next_path = safe_next(request.query.get("next"))
    if request.get("member") is not None:
        return redirect(next_path)
    return _login_page(request, next_path=next_path)


async def login_submit(request: web.Request) -> web.Response:
    """``POST /login``: check the password, start a session, go to ``next``."""
    form = await csrf.checked_form(request, signin=True)
    node = request.app[NODE]
    next_path = safe_next(form.get("next"))
    login = _field(form, "login", 320).strip()
    password = _field(form, "password", 4096)
    if not login or not password:
        return _login_page(request, next_path=next_path, login=login, error="Enter your username and password.",
                           status=400)
    member = await accounts.authenticate(node, login, password)
    if member is None:
        return _login_page(request, next_path=next_path, login=login, error=WRONG, status=401)
    if member.status != MemberStatus.ACTIVE:
        # Only said to someone who knows the password.
        message = {MemberStatus.PENDING: "Your application is waiting for an administrator's approval.",
                   MemberStatus.SUSPENDED: "This account is suspended.",
                   MemberStatus.REJECTED: "This application was not accepted."}[MemberStatus(member.status)]
        return _login_page(request, next_path=next_path, login=login, error=message, status=403)
    log.info("member @%s signed in", member.username)
    return await sign_in(request, member.id, next_path)


async def logout(request: web.Request) -> web.Response:
    """``POST /logout``: end this browser's session."""
    await csrf.checked_form(request)
    token = session_token(request)
    if token:
        await sessions.end_session(request.app[NODE], token)
    response = redirect("/")
    clear_session_cookie(request, response)
    return response


# --- register -----------------------------------------------------------------------------------


def _register_page(request: web.Request, *, values: dict | None = None, error: str | None = None,
                   field: str | None = None, status: int = 200) -> web.Response:
    csrf.use_form_cookie(request)
    values = {"username": "", "email": "", "display_name": "", **(values or {})}
    return render("register.html", status=status, values=values, error=error, error_field=field, closed=False,
                  next_path=safe_next(request.query.get("next")), headers={"Cache-Control": "no-store"},
                  **_common(request))


def _registration_closed(request: web.Request) -> web.Response | None:
    mode = request.app[NODE].settings.registration_mode
    if mode == "open":
        return None
    return render("register.html", status=403, values={}, error=None, error_field=None, next_path="/",
                  closed=True, **_common(request))


async def register_form(request: web.Request) -> web.Response:
    """``GET /register``: the registration form (open mode), or why registering is not possible."""
    if request.get("member") is not None:
        return redirect("/")
    closed = _registration_closed(request)
    return closed or _register_page(request)


async def register_submit(request: web.Request) -> web.Response:
    """``POST /register``: make the account and sign it in."""
    form = await csrf.checked_form(request, signin=True)
    closed = _registration_closed(request)
    if closed is not None:
        return closed
    node = request.app[NODE]
    values = {"username": _field(form, "username", 100).strip(), "email": _field(form, "email", 400).strip(),
              "display_name": _field(form, "display_name", 200).strip()}
    password = _field(form, "password", 4096)
    if password != _field(form, "password_again", 4096):
        return _register_page(request, values=values, error="The two passwords differ.", field="password", status=400)
    try:
        member = await accounts.create_member(node, values["username"], password, values["email"] or None,
                                              display_name=values["display_name"] or None)
    except accounts.AccountError as exc:
        return _register_page(request, values=values, error=exc.message, field=exc.field, status=400)
    log.info("member @%s registered", member.username)
    return await sign_in(request, member.id, safe_next(form.get("next")))
