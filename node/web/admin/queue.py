"""The moderation queue: held comments to approve or reject, shown ones to remove, removed ones to restore.

Each decision calls the same service as ``fednode mod`` (``node.moderation.actions``)
in one transaction, so it is logged and federated exactly as from the command line:
approving makes the Group announce the comment, rejecting sends its server the
Group's ``Reject``, removing withdraws the Group's announce.  The delivery worker is
woken after the commit, so what the decision owes the fediverse goes out at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from node.app import NODE
from node.db import admin as db
from node.db import members as db_members
from node.db import moderation as db_moderation
from node.db import queries
from node.db.models import Object
from node.moderation import actions
from node.web import params
from node.web.admin import common

# The states a moderator looks through, with what can be done to a comment in each.
STATES = {
    "held": ("Waiting", ("approve", "reject")),
    "published": ("Shown", ("remove",)),
    "removed": ("Removed", ("restore",)),
    "rejected": ("Rejected", ("approve",)),
    "suspended": ("Hidden by a domain suspension", ()),
}
ACTIONS = {
    "approve": actions.approve,
    "reject": actions.reject,
    "remove": actions.remove,
    "restore": actions.restore,
    "report": actions.report_remote,
}


@dataclass(frozen=True)
class QueueItem:
    comment: Object
    article: Object | None
    parent: Object | None
    rule: str | None
    why: str | None


async def dashboard(request: web.Request) -> web.Response:
    """``/admin``: what waits for a moderator, at a glance."""
    common.moderator(request)
    node = request.app[NODE]
    async with node.sessions() as session:
        counts = await db.count_in_state(session, ("held",))
        reports = await db.count_open_reports(session)
        applications = await db_members.count_members(session, "pending")
        failed = (await queries.count_deliveries_by_status(session)).get("failed", 0)
        recent = await db.list_log(session, limit=10)
    return common.page(request, "admin/dashboard.html", "", held=counts["held"], reports=reports,
                       applications=applications, failed=failed, recent=recent)


async def queue(request: web.Request) -> web.Response:
    """``/admin/queue?state=held``: comments in one moderation state, the queue oldest first."""
    common.moderator(request)
    node = request.app[NODE]
    state = request.query.get("state", "held")
    if state not in STATES:
        raise web.HTTPBadRequest(reason=f"state must be one of {', '.join(STATES)}")
    number = common.page_number(request)
    async with node.sessions() as session:
        rows = await db.comments_in_state(session, state, limit=common.PAGE_SIZE + 1,
                                          offset=(number - 1) * common.PAGE_SIZE, newest_first=state != "held")
        shown = rows[:common.PAGE_SIZE]
        related = await db.objects_by_ids(session, [c.root_id for c in shown] + [c.parent_id for c in shown])
        reasons = await db_moderation.hold_reasons(session, [c.ap_id for c in shown])
        counts = await db.count_in_state(session, STATES)
    items = [QueueItem(comment=c, article=related.get(c.root_id), parent=related.get(c.parent_id),
                       rule=reasons[c.ap_id].rule if c.ap_id in reasons else None,
                       why=reasons[c.ap_id].reason if c.ap_id in reasons else None) for c in shown]
    return common.page(request, "admin/queue.html", "queue", state=state, states=STATES, counts=counts, items=items,
                       number=number, has_more=len(rows) > common.PAGE_SIZE,
                       back=request.path_qs)


async def decide(request: web.Request) -> web.Response:
    """``POST /admin/comments/<id>/<action>``: approve, reject, remove, restore or report one comment."""
    member = common.moderator(request)
    form = await common.form(request)
    node = request.app[NODE]
    act = ACTIONS.get(request.match_info["action"])
    if act is None:
        raise web.HTTPNotFound()
    comment_id = params.row_id(request.match_info["comment_id"])
    reason = common.reason_of(form)
    back = common.safe_back(form.get("back"), "/admin/queue")
    try:
        async with node.sessions.begin() as session:
            comment = await queries.get_object_by_id(session, comment_id)
            if comment is None or comment.kind != "comment":
                raise web.HTTPNotFound(reason=f"There is no comment {comment_id}.")
            await act(node, session, comment, moderator=member.username, reason=reason)
    except actions.ModerationError as exc:
        return common.refused(request, str(exc), back=back)
    node.wake_delivery()
    raise common.see_other(back, request.match_info["action"])
