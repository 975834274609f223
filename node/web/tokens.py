"""``/account/tokens``: a signed-in member makes and revokes tokens for the write API (docs/api.md).

A new token is shown once, on the answer to the form that made it (``Cache-Control:
no-store``); afterwards the page lists each token's name, scopes, creation and last use, never
the token.  Every form carries the session's CSRF token (``node.web.csrf``).
"""

from __future__ import annotations

import logging

from aiohttp import web

from node.api import tokens
from node.app import NODE
from node.web import csrf, params
from node.web.guards import require_member
from node.web.render import render
from node import site

log = logging.getLogger("fednode.api")
NO_STORE = {"Cache-Control": "no-store"}


def _common(request: web.Request) -> dict:
    settings = request.app[NODE].settings
    return {"site_name": site.current(request.app[NODE]).name, "site_handle": f"@{settings.site_username}@{settings.host}"}


async def _page(request: web.Request, member_id: int, *, status: int = 200, new_token: str | None = None,
                new_name: str | None = None, error: str | None = None, name: str = "") -> web.Response:
    rows = await tokens.list_tokens(request.app[NODE], member_id)
    return render("account_tokens.html", status=status, tokens=rows, scopes=tokens.SCOPES, new_token=new_token,
                  new_name=new_name, error=error, name=name, api_base=request.app[NODE].settings.base + "/api/v1",
                  headers=NO_STORE, **_common(request))


async def tokens_page(request: web.Request) -> web.Response:
    """``GET /account/tokens``: the member's tokens and the form to make one."""
    member = require_member(request)
    return await _page(request, member.member_id)


async def create(request: web.Request) -> web.Response:
    """``POST /account/tokens``: make a token and show it, once."""
    member = require_member(request)
    form = await csrf.checked_form(request)
    name = form.get("name", "")
    name = name[:tokens.MAX_NAME * 2] if isinstance(name, str) else ""
    scopes = [s for s in form.getall("scope", []) if isinstance(s, str)]
    try:
        row, token = await tokens.create_token(request.app[NODE], member.member_id, name, scopes)
    except tokens.TokenError as exc:
        return await _page(request, member.member_id, status=400, error=exc.reason, name=name)
    log.info("member @%s made API token %d", member.username, row.id)
    return await _page(request, member.member_id, status=201, new_token=token, new_name=row.name)


async def revoke(request: web.Request) -> web.Response:
    """``POST /account/tokens/<id>/revoke``: the token stops working at once."""
    member = require_member(request)
    await csrf.checked_form(request)
    token_id = params.row_id(request.match_info["token_id"])
    if not await tokens.revoke_token(request.app[NODE], member.member_id, token_id):
        raise web.HTTPNotFound(reason="You have no such token")
    log.info("member @%s revoked API token %d", member.username, token_id)
    return web.Response(status=303, headers={"Location": "/account/tokens", **NO_STORE})
