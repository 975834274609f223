"""The mod log: every decision, a moderator's or a policy rule's, newest first (Lemmy's modlog, for moderators)."""

from __future__ import annotations

from aiohttp import web

from node.app import NODE
from node.db import admin as db
from node.web.admin import common

FILTER_MAX = 2048  # characters of a ?target= or ?moderator= filter


async def modlog(request: web.Request) -> web.Response:
    """``/admin/log``: ``?target=`` one comment, actor or domain; ``?moderator=`` one person (or ``policy``)."""
    common.moderator(request)
    node = request.app[NODE]
    target = request.query.get("target", "").strip() or None
    moderator = request.query.get("moderator", "").strip() or None
    if len(target or "") > FILTER_MAX or len(moderator or "") > FILTER_MAX:
        raise web.HTTPBadRequest(reason=f"a filter is at most {FILTER_MAX} characters")
    number = common.page_number(request)
    async with node.sessions() as session:
        rows = await db.list_log(session, limit=common.PAGE_SIZE + 1, offset=(number - 1) * common.PAGE_SIZE,
                                 target=target, moderator=moderator)
    return common.page(request, "admin/log.html", "log", entries=rows[:common.PAGE_SIZE], target=target or "",
                       moderator=moderator or "", number=number, has_more=len(rows) > common.PAGE_SIZE)
