"""Reports: the ``Flag``s other servers sent (Mastodon's and Lemmy's shapes) and the ones we sent, to resolve.

Resolving calls ``node.moderation.actions.resolve_report`` (as ``fednode mod resolve``
does): optionally removing the reported comments we hold (the Group's followers
are told) and banning the reported actor; dismissing resolves with no action.
"""

from __future__ import annotations

from aiohttp import web

from node.app import NODE
from node.db import admin as db
from node.moderation import actions
from node.web import params
from node.web.admin import common

STATES = {"open": "Open", "resolved": "Resolved", "all": "All"}


async def reports(request: web.Request) -> web.Response:
    """``/admin/reports?state=open``: reports with what they point at, newest first."""
    common.moderator(request)
    node = request.app[NODE]
    state = request.query.get("state", "open")
    if state not in STATES:
        raise web.HTTPBadRequest(reason="state must be open, resolved or all")
    number = common.page_number(request)
    async with node.sessions() as session:
        rows = await db.list_reports(session, state=None if state == "all" else state,
                                     limit=common.PAGE_SIZE + 1, offset=(number - 1) * common.PAGE_SIZE)
        shown = rows[:common.PAGE_SIZE]
        objects = await db.objects_by_ap_ids(session, [i for r in shown for i in (r.object_ap_ids or [])])
        people = await db.actors_by_ap_ids(session, [r.target_actor_ap_id for r in shown]
                                           + [r.reporter_ap_id for r in shown])
    return common.page(request, "admin/reports.html", "reports", reports=shown, objects=objects, people=people,
                       state=state, states=STATES, number=number, has_more=len(rows) > common.PAGE_SIZE,
                       back=request.path_qs)


async def resolve(request: web.Request) -> web.Response:
    """``POST /admin/reports/<id>/resolve`` (with what was done) or ``…/dismiss`` (nothing to do)."""
    member = common.moderator(request)
    form = await common.form(request)
    node = request.app[NODE]
    report_id = params.row_id(request.match_info["report_id"])
    dismiss = request.match_info["action"] == "dismiss"
    resolution = "dismissed" if dismiss else (common.reason_of(form, "resolution") or "no action")
    back = common.safe_back(form.get("back"), "/admin/reports")
    try:
        async with node.sessions.begin() as session:
            await actions.resolve_report(session, report_id, moderator=member.username, resolution=resolution,
                                         node=node, remove_posts=not dismiss and form.get("remove") == "on",
                                         ban_actor=not dismiss and form.get("ban") == "on")
    except actions.ModerationError as exc:
        return common.refused(request, str(exc), back=back, status=404 if "no report" in str(exc) else 409)
    node.wake_delivery()
    node.gate.invalidate()  # a ban takes effect at the inbox at once
    raise common.see_other(back, "dismiss" if dismiss else "resolve")
