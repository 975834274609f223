"""``/media/avatars/<actor>/<digest>.webp``: members' pictures, as re-encoded on upload (node.members.avatars).

The digest in the URL names one version of the picture, so the answer is cached for
good (``immutable``); a new picture has a new URL.  An old URL answers 404.
"""

from __future__ import annotations

from aiohttp import web

from node.app import NODE
from node.db import avatars as db
from node.urls import AVATAR_DIGEST
from node.web import params

CACHE = "public, max-age=31536000, immutable"


async def avatar(request: web.Request) -> web.Response:
    """The avatar of a local member, when ``digest`` names the current one."""
    node = request.app[NODE]
    actor_id = params.row_id(request.match_info["actor_id"])
    digest = request.match_info["digest"]
    async with node.sessions() as session:
        row = await db.get_avatar(session, actor_id)
    if row is None or row.digest[:AVATAR_DIGEST] != digest:
        raise web.HTTPNotFound(reason="No such picture (the member may have changed it)")
    return web.Response(body=row.data, content_type=row.media_type, headers={
        "Cache-Control": CACHE, "Content-Security-Policy": "default-src 'none'; sandbox"})
