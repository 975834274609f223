"""Replying from your own server, over HTTP: the form and its redirect (the rules are node/services/remote_reply.py).

``GET /interact?uri=<object id>`` shows a small form asking for the reader's
fediverse handle (prefilled from the ``fednode_handle`` cookie).  ``POST
/interact`` checks that the form came from this site (``Sec-Fetch-Site``/``Origin``
and the CSRF token), asks ``remote_reply.reply_url`` where the reader's server
takes replies, and answers 303 there, remembering the handle in the reader's own
cookie.  Nothing changes on this node.  Every refusal is the form again, with the
``InteractError``'s words and status.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, unquote, urlsplit

from aiohttp import web
from markupsafe import Markup
from yarl import URL

from node.app import NODE
from node.db.models import Object
from node.services.remote_reply import (LOOKUPS_PER_MINUTE, MAX_HANDLE, InteractError, LookupLimiter,  # noqa: F401
                                        find_target, reply_url)
from node.web import csrf
from node.web.render import fold_leading_mentions, render
from node import site

# (LOOKUPS_PER_MINUTE stays importable from here: tests/test_remote_reply.py reads it with LookupLimiter.)

COOKIE = "fednode_handle"
COOKIE_MAX_AGE = 365 * 24 * 3600
NO_STORE = {"Cache-Control": "private, no-store"}
LIMITER = web.AppKey("interact_lookup_limiter", LookupLimiter)


def _remembered(request: web.Request) -> str:
    raw = request.cookies.get(COOKIE, "")
    handle = unquote(raw)[:MAX_HANDLE]
    return handle if handle.isprintable() else ""


EXCERPT = 280  # characters of an article's text quoted above the form


def _what_is_answered(target: Object | None) -> tuple[Markup | None, str]:
    """What the form quotes: a comment's text as shown in the discussion, or the start of an article's text."""
    if target is None:
        return None, ""
    if target.kind == "article":
        text = " ".join(html.unescape(re.sub(r"<[^>]*>", " ", target.content or "")).split())
        return None, text if len(text) <= EXCERPT else text[:EXCERPT - 1].rstrip() + "…"
    content = target.content or ""  # sanitised when stored
    return Markup(content if target.is_local else fold_leading_mentions(content)), ""


def _form(request: web.Request, *, target: Object | None, uri: str, handle: str, error: str | None,
          status: int = 200) -> web.Response:
    settings = request.app[NODE].settings
    quoted, excerpt = _what_is_answered(target)
    return render(
        "interact.html", status=status, headers=dict(NO_STORE), target=target, uri=uri, handle=handle, error=error,
        quoted=quoted, excerpt=excerpt,
        site_name=site.current(request.app[NODE]).name, site_handle=f"@{settings.site_username}@{settings.host}",
    )


def _cross_site(request: web.Request) -> bool:
    """Whether the form was posted from another site (it could plant a handle in the reader's cookie)."""
    if request.headers.get("Sec-Fetch-Site", "") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False  # not a browser, or an old one: nothing to plant
    if origin == "null":
        return True
    base = URL(request.app[NODE].settings.base)
    try:
        sent = URL(origin)
    except ValueError:
        return True
    return (sent.scheme, sent.host, sent.port) != (base.scheme, base.host, base.port)


def _over_https(request: web.Request) -> bool:
    """Whether the reader reached us over https: the public URL says so, or the connection or TLS proxy does."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return urlsplit(request.app[NODE].settings.base).scheme == "https" or request.secure or forwarded == "https"


async def interact_form(request: web.Request) -> web.Response:
    """``GET /interact?uri=``: the form asking for the reader's handle (400 for a post we do not show)."""
    node = request.app[NODE]
    uri = request.query.get("uri", "")
    try:
        target = await find_target(node, uri)
    except InteractError as exc:
        return _form(request, target=None, uri="", handle=_remembered(request), error=exc.message, status=exc.status)
    return _form(request, target=target, uri=uri, handle=_remembered(request), error=None)


async def interact_submit(request: web.Request) -> web.Response:
    """``POST /interact``: look the handle's server up and send the reader there (303), remembering the handle."""
    node = request.app[NODE]
    try:
        form = await request.post()
    except Exception:  # a body that is not a form: answer like any other bad input
        form = {}
    uri = form.get("uri", "") if isinstance(form.get("uri", ""), str) else ""
    typed = form.get("handle", "") if isinstance(form.get("handle", ""), str) else ""
    target = None
    try:
        if _cross_site(request):
            raise InteractError("This form can only be sent from this site's own pages.", 403)
        target = await find_target(node, uri)
        token = form.get(csrf.FIELD, "")
        if not isinstance(token, str) or not csrf.token_is_valid(request, token):
            # The form shown again carries a fresh token: sending it once more works.
            raise InteractError(f"{csrf.REFUSED}: the form was too old or came from another site. Send it again.", 403)
        handle, url = await reply_url(node, request.app[LIMITER], target, typed)
    except InteractError as exc:
        return _form(request, target=target, uri=uri if target else "", handle=typed[:MAX_HANDLE],
                     error=exc.message, status=exc.status)
    response = web.Response(status=303, headers={"Location": url, **NO_STORE})
    response.set_cookie(
        COOKIE, quote(str(handle), safe=""), max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="Lax",
        secure=_over_https(request),
    )
    return response
