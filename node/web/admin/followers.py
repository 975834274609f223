"""The site Group's followers: who receives what the forum publishes and announces; remove or approve them.

Removing a follower is what Mastodon's "remove follower" does: the Group sends
``Reject`` of the follower's ``Follow`` (their server drops the follow) and the
follow is forgotten here (``node.services.following.answer_follower``, as
``fednode followers reject`` does). With ``manual_approval`` on, waiting
follow requests are approved here too.
"""

from __future__ import annotations

from aiohttp import web

from node.app import NODE
from node.db import admin as db
from node.db import moderation as db_moderation
from node.db import queries
from node.services import following
from node.web import params
from node.web.admin import common


async def followers(request: web.Request) -> web.Response:
    """``/admin/followers``: the Group's followers, newest first, with their server and state."""
    common.moderator(request)
    node = request.app[NODE]
    number = common.page_number(request)
    async with node.sessions() as session:
        group = await queries.get_local_actor(session, node.settings.site_username)
        if group is None:
            raise web.HTTPNotFound(reason="The site is not set up yet (fednode init).")
        rows = await db.list_followers(session, group.id, limit=common.PAGE_SIZE + 1,
                                       offset=(number - 1) * common.PAGE_SIZE)
        total = await db.count_followers(session, group.id)
    return common.page(request, "admin/followers.html", "followers", follows=rows[:common.PAGE_SIZE], total=total,
                       group=group, number=number, has_more=len(rows) > common.PAGE_SIZE, back=request.path_qs)


async def answer(request: web.Request) -> web.Response:
    """``POST /admin/followers/<follow id>/remove`` (Reject, forget) or ``…/approve`` (Accept a waiting one)."""
    member = common.moderator(request)
    form = await common.form(request)
    node = request.app[NODE]
    follow_id = params.row_id(request.match_info["follow_id"])
    accept = request.match_info["action"] == "approve"
    back = common.safe_back(form.get("back"), "/admin/followers")
    async with node.sessions() as session:
        follow = await db.get_follow(session, follow_id)
        group = await queries.get_local_actor(session, node.settings.site_username)
        follower = follow.follower.ap_id if follow is not None else None
    if follow is None or group is None or follow.followed_id != group.id:
        raise web.HTTPNotFound(reason=f"There is no follower {follow_id} of the site.")
    try:
        await following.answer_follower(node, follow_id, accept)
    except following.FollowError as exc:
        return common.refused(request, str(exc), back=back, status=404)
    async with node.sessions.begin() as session:
        db_moderation.log_entry(session, moderator=member.username,
                                action="approve-follower" if accept else "remove-follower", target=follower,
                                reason=common.reason_of(form))
    node.wake_delivery()
    raise common.see_other(back, "follower-approved" if accept else "follower-removed")
