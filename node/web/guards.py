"""Guards for handlers: ``require_member`` (signed in) and ``require_role`` (moderator, admin).

A browser that is not signed in is sent to ``/login?next=<this page>`` (303); an API client gets
401 JSON.  A member without the role gets 403.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from aiohttp import web

from node.members.current import CurrentMember
from node.members.roles import Role
from node.web.request_keys import MEMBER


def _wants_json(request: web.Request) -> bool:
    if request.path.startswith("/api/"):
        return True
    accept = request.headers.get("Accept", "")
    return "json" in accept and "text/html" not in accept


def require_member(request: web.Request) -> CurrentMember:
    """The signed-in member, or the answer that asks to sign in first."""
    member = request.get(MEMBER)
    if member is not None:
        return member
    if _wants_json(request):
        raise web.HTTPUnauthorized(text=json.dumps({"error": "sign in first"}), content_type="application/json",
                                   headers={"WWW-Authenticate": 'Bearer realm="fednode"'})
    target = request.path_qs if request.method in ("GET", "HEAD") else "/"
    raise web.HTTPSeeOther(location="/login?" + urlencode({"next": target}))


def require_role(request: web.Request, role: Role) -> CurrentMember:
    """The signed-in member if their role includes ``role`` (admin ⊇ moderator ⊇ member); 403 otherwise."""
    member = require_member(request)
    if not member.role.includes(role):
        raise web.HTTPForbidden(reason=f"Only {role.value}s may do this.")
    return member
