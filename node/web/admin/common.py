"""What every admin page shares: who may open it, the page frame, the answer to a form.

Moderators (and admins) open the moderation pages; only admins open members'
roles and the site settings (``node.web.guards.require_role``: 303 to the login
page for readers who are not signed in, 403 for members without the role).
Every form is a plain POST carrying the CSRF token (``node.web.csrf``) and is
answered 303 back to the page it came from, with ``?done=<what>`` so the page
can say what happened: the message is chosen from ``DONE`` here, never taken
from the URL, so a crafted link cannot put words on an admin page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web

from node import site
from node.app import NODE
from node.members.roles import Role
from node.web import csrf, guards, params
from node.web.render import render
from node.web.request_keys import MEMBER

PAGE_SIZE = 50
REASON_MAX = 1000  # characters of a moderator's reason kept in the mod log


@dataclass(frozen=True)
class Section:
    """One entry of the admin area's navigation."""

    key: str
    path: str
    title: str
    role: Role


SECTIONS = (
    Section("queue", "/admin/queue", "Queue", Role.MODERATOR),
    Section("reports", "/admin/reports", "Reports", Role.MODERATOR),
    Section("blocks", "/admin/blocks", "Blocks", Role.MODERATOR),
    Section("log", "/admin/log", "Mod log", Role.MODERATOR),
    Section("members", "/admin/members", "Members", Role.MODERATOR),
    Section("followers", "/admin/followers", "Followers", Role.MODERATOR),
    Section("deliveries", "/admin/deliveries", "Deliveries", Role.MODERATOR),
    Section("site", "/admin/site", "Site", Role.ADMIN),
)

# What a form did, as the page it returns to says it (``?done=<key>``).
DONE = {
    "approve": "Approved: the comment is shown and the Group announced it to its followers.",
    "reject": "Rejected: the comment stays hidden and its server was sent the Group's Reject.",
    "remove": "Removed: a placeholder keeps its replies, and the Group's followers were told.",
    "restore": "Restored: the comment is shown again and announced.",
    "report": "Reported to the comment's server (a Flag signed by this node's instance actor).",
    "resolve": "The report is resolved.",
    "dismiss": "The report is dismissed.",
    "block": "The domain block is saved.",
    "unblock": "The domain block is lifted.",
    "ban": "The actor is banned.",
    "unban": "The ban is lifted.",
    "import": "The blocklist is imported.",
    "follower-removed": "The follower is removed; its server was sent a Reject of its Follow.",
    "follower-approved": "The follower is approved (Accept sent).",
    "retry": "The failed deliveries will be sent again now.",
    "member-approved": "The application is approved.",
    "member-rejected": "The application is rejected.",
    "member-suspended": "The member is suspended.",
    "member-unsuspended": "The member may sign in again.",
    "role": "The member's role is changed.",
    "site": "The site settings are saved.",
    "avatar": "The site's picture is saved.",
    "avatar-removed": "The site's picture is removed.",
    "site-update": "Followers of the site were sent an Update of the Group.",
}


def moderator(request: web.Request):
    """The signed-in moderator or admin; 303 to the login page or 403 for anyone else."""
    return guards.require_role(request, Role.MODERATOR)


def admin(request: web.Request):
    """The signed-in admin; 303 to the login page or 403 for anyone else."""
    return guards.require_role(request, Role.ADMIN)


async def form(request: web.Request):
    """The POSTed form, its CSRF token checked (403 when it is missing or wrong)."""
    return await csrf.checked_form(request)


def reason_of(form_data, field: str = "reason") -> str | None:
    """A free-text reason from a form: trimmed, bounded, None when empty."""
    text = (form_data.get(field) or "")
    if not isinstance(text, str):
        raise web.HTTPBadRequest(reason=f"{field} must be text")
    text = " ".join(text.split())
    if len(text) > REASON_MAX:
        raise web.HTTPBadRequest(reason=f"{field} is longer than {REASON_MAX} characters")
    return text or None


def page_number(request: web.Request) -> int:
    return params.page_number(request.query.get("page"))


def site_context(request: web.Request) -> dict[str, Any]:
    """Name and handle of the site for the page frame (the settings an admin may have changed)."""
    node = request.app[NODE]
    return {"site_name": site.current(node).name, "site_handle": f"@{node.settings.site_username}@{node.settings.host}"}


def page(request: web.Request, template: str, section: str, *, status: int = 200, **context: Any) -> web.Response:
    """An admin page: the site frame, the admin navigation for the member's role, the form's outcome."""
    member = request.get(MEMBER)
    done = request.query.get("done")
    sections = [s for s in SECTIONS if member is not None and (s.role != Role.ADMIN or member.role == Role.ADMIN)]
    return render(
        template, status=status, headers={"Cache-Control": "no-store"},
        current_member=member, csrf_token=lambda: csrf.csrf_token(request), sections=sections, section=section,
        done=DONE.get(done or ""), page_query=lambda number: page_query(request, number),
        **site_context(request), **context,
    )


def page_query(request: web.Request, number: int) -> str:
    """The current page's query string with another ``page`` (and without ``done``)."""
    query = [(k, v) for k, v in request.query.items() if k not in ("page", "done")]
    return urlencode(query + [("page", str(number))])


def refused(request: web.Request, message: str, *, back: str, status: int = 409) -> web.Response:
    """The answer to a form that cannot be carried out: the admin frame with the reason, and a way back."""
    return page(request, "admin/refused.html", "", status=status, message=message, back=safe_back(back))


def safe_back(path: str | None, default: str = "/admin") -> str:
    """A local admin path to return to (a form's ``back``), never another site (no open redirect)."""
    if not isinstance(path, str) or not path.startswith("/admin") or "//" in path or "\\" in path \
            or len(path) > 500 or any(ord(ch) < 0x21 for ch in path):
        return default
    return path


def see_other(path: str, done: str | None = None, anchor: str = "") -> web.HTTPSeeOther:
    """303 to ``path`` (a local admin path), saying what was done."""
    parts = urlsplit(safe_back(path))
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "done"] + ([("done", done)] if done else [])
    return web.HTTPSeeOther(urlunsplit(("", "", parts.path, urlencode(query), "")) + anchor)
