"""CSRF protection for every HTML form: ``csrf_token(request)`` for the hidden field, ``checked_form`` to read a POST.

Three kinds of token, so no cookie is ever set for a reader who does not sign in:

- **signed in**: the session's own random token (``member_sessions.csrf``), compared in constant time;
- **a sign-in or registration form** (the handler calls ``use_form_cookie``): a random
  ``fednode_csrf`` cookie (HttpOnly, SameSite=Lax, Secure behind https) and, in the form, an
  HMAC of it under the node's secret: the double-submit pattern of the OWASP CSRF Prevention
  Cheat Sheet, signed so a cookie planted by a sibling subdomain does not yield a valid token;
- **any other form of a reader** (``/interact``, whose POST only redirects): a timestamped HMAC
  valid for ``OPEN_TOKEN_SECONDS``.  It proves the form came from this site, not from which
  browser, so the sign-in forms never accept it (``checked_form(request, signin=True)``):
  a login CSRF would otherwise sign a victim into the attacker's account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from node.app import NODE
from node.members.secret import node_secret
from node.web.error_pages import error_page
from node.web.request_keys import SESSION

FIELD = "csrf"
COOKIE = "fednode_csrf"
SECURE_COOKIE = "__Host-fednode_csrf"  # https: the __Host- prefix pins it to our origin (RFC 6265bis §4.1.3.2)
OPEN_TOKEN_SECONDS = 24 * 3600
FORM_COOKIE_SECONDS = 24 * 3600
# This module's own request keys: a form cookie to set on the response, and that the page asked for one.
NEW_COOKIE = web.RequestKey("csrf_new_form_cookie", str)
WANTS_COOKIE = web.RequestKey("csrf_wants_form_cookie", bool)
REFUSED = "CSRF token missing or wrong"


def cookie_name(request: web.Request) -> str:
    return SECURE_COOKIE if request.app[NODE].settings.scheme == "https" else COOKIE


def _mac(request: web.Request, message: str) -> str:
    key = node_secret(request.app[NODE].settings.keys_dir)
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def use_form_cookie(request: web.Request) -> None:
    """Ask for a browser-bound token on this page (sign-in, registration, reset): sets the form cookie if missing."""
    request[WANTS_COOKIE] = True


def _form_cookie(request: web.Request) -> str | None:
    value = request.get(NEW_COOKIE) or request.cookies.get(cookie_name(request))
    return value if value and 20 <= len(value) <= 100 else None


def csrf_token(request: web.Request) -> str:
    """The value of the hidden ``csrf`` field for forms on this request's page."""
    opened = request.get(SESSION)
    if opened is not None:
        return opened.csrf
    cookie = _form_cookie(request)
    if cookie is None and request.get(WANTS_COOKIE):
        cookie = request[NEW_COOKIE] = secrets.token_urlsafe(32)
    if cookie is not None:
        return "c." + _mac(request, "cookie:" + cookie)
    stamp = str(int(time.time()))
    return f"o.{stamp}.{_mac(request, 'open:' + stamp)}"


def token_is_valid(request: web.Request, token: str, *, signin: bool = False) -> bool:
    """Whether ``token`` is this request's CSRF token (a sign-in form's must be browser-bound)."""
    if not token or len(token) > 200:
        return False
    opened = request.get(SESSION)
    if opened is not None:
        return hmac.compare_digest(token.encode(), opened.csrf.encode())
    cookie = request.cookies.get(cookie_name(request))
    if cookie and 20 <= len(cookie) <= 100 and token.startswith("c."):
        return hmac.compare_digest(token.encode(), ("c." + _mac(request, "cookie:" + cookie)).encode())
    if signin or not token.startswith("o."):
        return False
    _, _, rest = token.partition(".")
    stamp, _, mac = rest.partition(".")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        return False
    if not 0 <= time.time() - int(stamp) <= OPEN_TOKEN_SECONDS:
        return False
    return hmac.compare_digest(mac.encode(), _mac(request, "open:" + stamp).encode())


def refusal(request: web.Request) -> web.HTTPForbidden:
    """The 403 for a form without a valid token: a page for people, saying what to do."""
    page = error_page(request, 403, f"{REFUSED}: the form was too old or came from another site. "
                      "Go back, reload the page and send it again.")
    return web.HTTPForbidden(reason=REFUSED, text=page.text, content_type="text/html",
                             headers={"Cache-Control": "no-store"})


async def checked_form(request: web.Request, *, signin: bool = False):
    """The POSTed form, after checking its ``csrf`` field; raises 403 "CSRF token missing or wrong" otherwise.

    ``signin`` (sign-in, registration, password reset) accepts only browser-bound tokens.
    """
    try:
        form = await request.post()
    except (web.HTTPException, RequestPayloadError):
        raise  # the error middleware answers these
    except Exception:  # a body that is not a form (broken multipart, bad charset): the client's 400
        raise web.HTTPBadRequest(reason="The form could not be read") from None
    token = form.get(FIELD)
    if not isinstance(token, str) or not token_is_valid(request, token, signin=signin):
        raise refusal(request)
    return form


def set_form_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Put a form cookie made for this page on its response (called by the session middleware)."""
    value = request.get(NEW_COOKIE)
    if value and not response.prepared:
        response.set_cookie(cookie_name(request), value, max_age=FORM_COOKIE_SECONDS, path="/", httponly=True,
                            samesite="Lax", secure=request.app[NODE].settings.scheme == "https")


def drop_form_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Forget the form cookie (signed in: the session's token takes over)."""
    if request.cookies.get(cookie_name(request)):
        response.del_cookie(cookie_name(request), path="/", secure=request.app[NODE].settings.scheme == "https",
                            httponly=True, samesite="Lax")
