"""Members: applications to approve or reject (with their "why do you want to join"), suspensions, roles.

The account changes are ``node.members.accounts``' (approve, reject, suspend,
unsuspend, set_role: a suspended member's sessions end at once); this page adds
who may do what and writes each decision to the mod log.  Moderators approve,
reject, suspend and unsuspend members; only admins change roles or act on
another moderator or admin, and nobody suspends or demotes themselves (a site
always keeps the admin who is working on it).
"""

from __future__ import annotations

from aiohttp import web

from node.app import NODE
from node.db import members as db_members
from node.db import moderation as db_moderation
from node.members import accounts
from node.members.roles import MemberStatus, Role
from node.web import params
from node.web.admin import common

STATES = {"pending": "Applications", "active": "Active", "suspended": "Suspended", "rejected": "Rejected",
          "all": "All"}
ACTIONS = {
    "approve": (accounts.approve_member, "member-approved"),
    "reject": (accounts.reject_member, "member-rejected"),
    "suspend": (accounts.suspend_member, "member-suspended"),
    "unsuspend": (accounts.unsuspend_member, "member-unsuspended"),
}


async def members(request: web.Request) -> web.Response:
    """``/admin/members?status=pending``: accounts in one state, newest first (applications by default
    while there are any)."""
    me = common.moderator(request)
    node = request.app[NODE]
    number = common.page_number(request)
    async with node.sessions() as session:
        counts = {state: await db_members.count_members(session, None if state == "all" else state)
                  for state in STATES}
        status = request.query.get("status") or ("pending" if counts["pending"] else "active")
        if status not in STATES:
            raise web.HTTPBadRequest(reason=f"status must be one of {', '.join(STATES)}")
        rows = await db_members.list_members(session, status=None if status == "all" else status,
                                             limit=common.PAGE_SIZE + 1, offset=(number - 1) * common.PAGE_SIZE)
    return common.page(request, "admin/members.html", "members", members=rows[:common.PAGE_SIZE], shown_status=status,
                       states=STATES, counts=counts, roles=list(Role), me=me, is_admin=me.role == Role.ADMIN,
                       number=number, has_more=len(rows) > common.PAGE_SIZE, back=request.path_qs)


def _may_act_on(me, member, action: str) -> str | None:
    """Why ``me`` may not do ``action`` to ``member``, or None."""
    if member.id == me.member_id and action in ("suspend", "role", "reject"):
        return "You cannot do that to your own account."
    if Role(member.role) != Role.MEMBER and me.role != Role.ADMIN:
        return "Only an admin can act on a moderator's or an admin's account."
    return None


async def decide(request: web.Request) -> web.Response:
    """``POST /admin/members/<id>/<approve|reject|suspend|unsuspend>``."""
    me = common.moderator(request)
    form = await common.form(request)
    node = request.app[NODE]
    member_id = params.row_id(request.match_info["member_id"])
    action = request.match_info["action"]
    change, done = ACTIONS[action]
    back = common.safe_back(form.get("back"), "/admin/members")
    async with node.sessions() as session:
        member = await db_members.get_member(session, member_id)
    if member is None:
        raise web.HTTPNotFound(reason=f"There is no member {member_id}.")
    refusal = _may_act_on(me, member, action)
    if refusal:
        return common.refused(request, refusal, back=back, status=403)
    try:
        changed = await change(node, member_id)
    except accounts.AccountError as exc:
        return common.refused(request, exc.message, back=back)
    await _log(node, me.username, action, changed, common.reason_of(form))
    raise common.see_other(back, done)


async def role(request: web.Request) -> web.Response:
    """``POST /admin/members/<id>/role`` with ``role``: admins only."""
    me = common.admin(request)
    form = await common.form(request)
    node = request.app[NODE]
    member_id = params.row_id(request.match_info["member_id"])
    back = common.safe_back(form.get("back"), "/admin/members")
    try:
        new_role = Role(form.get("role") or "")
    except ValueError:
        return common.refused(request, f"A role is one of {', '.join(r.value for r in Role)}.", back=back, status=400)
    async with node.sessions() as session:
        member = await db_members.get_member(session, member_id)
    if member is None:
        raise web.HTTPNotFound(reason=f"There is no member {member_id}.")
    refusal = _may_act_on(me, member, "role")
    if refusal:
        return common.refused(request, refusal, back=back, status=403)
    if MemberStatus(member.status) != MemberStatus.ACTIVE and new_role != Role.MEMBER:
        return common.refused(request, f"@{member.username} is {member.status}: only active members get a role.",
                              back=back)
    changed = await accounts.set_role(node, member_id, new_role)
    await _log(node, me.username, f"role:{new_role.value}", changed, None)
    raise common.see_other(back, "role")


async def _log(node, moderator: str, action: str, member, reason: str | None) -> None:
    async with node.sessions.begin() as session:
        db_moderation.log_entry(session, moderator=moderator, action=f"member:{action}",
                                target=member.actor.ap_id if member.actor is not None else f"member {member.id}",
                                reason=reason)
