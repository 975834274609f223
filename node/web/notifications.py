"""``/notifications``: what a member should know about (replies, mentions, followed threads, decisions).

Newest first, ``PAGE`` a page (``?before=<id>`` for older ones); the unread ones stand out
until the member marks them read (``POST /notifications/read``, up to the newest shown, so a
notification that arrives meanwhile stays unread).  Each links to the comment's permalink
(``/c/<id>``), which leads to its place in its discussion.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from markupsafe import Markup

from node.app import NODE
from node.db import notifications as db
from node.db.models import Actor, Notification, Object
from node.web import params
from node.web.csrf import checked_form
from node.web.guards import require_member
from node.web.render import render
from node import site

PAGE = 50
EXCERPT = 200  # characters of a comment's text shown in its notification

WHAT = {
    "reply": "replied to you",
    "mention": "mentioned you",
    "thread": "commented in a discussion you follow",
    "approve": "A moderator approved your comment",
    "reject": "A moderator did not approve your comment",
    "remove": "A moderator removed your comment",
    "restore": "A moderator restored your comment",
}


@dataclass(frozen=True)
class Item:
    """One notification as the page shows it."""

    notification: Notification
    comment: Object
    by: Actor | None  # who wrote the comment (None for a moderator's decision)
    what: str
    excerpt: str
    unread: bool
    thread: str | None  # the title of the discussion it is in


def _excerpt(comment: Object) -> str:
    if comment.deleted_at is not None:
        return "[deleted]"
    text = " ".join(Markup(comment.content or "").striptags().split())
    return text if len(text) <= EXCERPT else text[:EXCERPT - 1].rstrip() + "…"


async def notifications_page(request: web.Request) -> web.Response:
    """The member's notifications, newest first."""
    member = require_member(request)
    node = request.app[NODE]
    raw_before = request.query.get("before")
    before = None
    if raw_before is not None:
        before = params.ascii_number(raw_before, maximum=params.MAX_ROW_ID)
        if before is None:
            raise web.HTTPBadRequest(reason="before must be a notification number")
    async with node.sessions() as session:
        rows = await db.list_notifications(session, member.actor_id, limit=PAGE + 1, before=before)
    unread = member.unread  # read with the session (node.web.session)
    items = [Item(n, o, a, WHAT.get(n.kind, n.kind), _excerpt(o), n.read_at is None, title)
             for n, o, a, title in rows[:PAGE]]
    settings = node.settings
    return render("notifications.html", items=items, unread=unread,
                  older=items[-1].notification.id if len(rows) > PAGE else None,
                  newest=items[0].notification.id if items else 0, first_page=before is None,
                  site_name=site.current(node).name, site_handle=f"@{settings.site_username}@{settings.host}",
                  headers={"Cache-Control": "private, no-store"})


async def mark_read(request: web.Request) -> web.Response:
    """``POST /notifications/read``: mark read every notification up to the newest the page showed."""
    member = require_member(request)
    form = await checked_form(request)
    raw = form.get("up_to", "")
    up_to = params.ascii_number(raw, maximum=params.MAX_ROW_ID) if isinstance(raw, str) and raw else None
    async with request.app[NODE].sessions.begin() as session:
        await db.mark_read(session, member.actor_id, up_to=up_to)
    raise web.HTTPSeeOther("/notifications")
