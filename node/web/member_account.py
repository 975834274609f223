"""A member's own account from the web: edit the profile and avatar, export their data, delete the account.

- ``/account/profile``: display name, bio (plain text) and picture.  The form is
  ``multipart/form-data`` read as a stream: the CSRF field comes first and is checked
  before the file is read, and the file stops being read (413) as soon as it passes
  ``avatar_max_bytes``; what is accepted is re-encoded (``node.members.avatars``) in a
  thread.  Other servers hear of the change through the posting service's profile ``Update``.
- ``/account/export``: everything the node holds of the member as one JSON download: the
  profile, their comments (Markdown and HTML, edits and deletions included), the activities
  they sent, their likes and boosts, the threads they follow, their followers, their notifications.
- ``/account/delete``: with their password, the account is deleted (the actor's ``Delete``
  goes out to the servers that know it) and every session of it ends.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from datetime import datetime
from typing import Any

from aiohttp import web
from markupsafe import Markup

from node.app import NODE
from node.db import avatars as db_avatars
from node.db import member_export
from node.db import members as db_members
from node.db.models import Actor
from node.members import posting
from node.members.avatars import AvatarError, make_avatar
from node.members.passwords import verify_password
from node.members.sessions import end_all_sessions
from node.web import csrf
from node.web.guards import require_member
from node.web.render import render
from node.web.session import clear_session_cookie
from node import site

MAX_NAME = 100  # characters of a display name (Mastodon: 30; Lemmy: 20; forums allow more)
MAX_BIO = 1000  # characters of a bio (Mastodon: 500)
MAX_FIELD_BYTES = 16 * 1024  # a text field of the profile form, read from the stream
CHUNK = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _common(request: web.Request) -> dict:
    settings = request.app[NODE].settings
    return {"site_name": site.current(request.app[NODE]).name, "site_handle": f"@{settings.site_username}@{settings.host}"}


NO_STORE = {"Cache-Control": "private, no-store"}


# --- the bio: plain text in the form, simple HTML in the actor document -----------------------------

def bio_to_html(text: str) -> str:
    """A plain-text bio as the HTML of the actor's ``summary``: escaped, paragraphs and line breaks kept."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join("<p>" + "<br>".join(html.escape(line) for line in p.strip().split("\n")) + "</p>"
                   for p in paragraphs)


def bio_text(summary: str | None) -> str:
    """The plain text of a ``summary`` made by ``bio_to_html`` (what the form shows to edit)."""
    if not summary:
        return ""
    text = summary.replace("</p><p>", "\n\n").replace("<br>", "\n").replace("<br/>", "\n").replace("<br />", "\n")
    return html.unescape(Markup(text.replace("\n", "\x00")).striptags().replace("\x00", "\n")).strip()


def clean_line(value: str) -> str:
    """One line of text as typed, without control and direction-override characters, blanks squeezed."""
    return " ".join(_CONTROL.sub("", value).split())


# --- the profile --------------------------------------------------------------------------------

async def _profile_context(request: web.Request, member) -> dict[str, Any]:
    node = request.app[NODE]
    async with node.sessions() as session:
        actor = await session.get(Actor, member.actor_id)
        digests = await db_avatars.get_avatar_digests(session, [member.actor_id])
    avatar = node.urls.avatar(member.actor_id, digests[member.actor_id]) if member.actor_id in digests else None
    return {"actor": actor, "avatar": avatar, "max_mb": node.settings.avatar_max_bytes / 1024 / 1024}


async def profile_form(request: web.Request) -> web.Response:
    """``GET /account/profile``: the member's name, bio and picture, to change."""
    member = require_member(request)
    context = await _profile_context(request, member)
    actor = context["actor"]
    return render("account_profile.html", name=actor.name or "", bio=bio_text(actor.summary), error=None,
                  saved=request.query.get("saved") == "1", headers=NO_STORE, **context, **_common(request))


class _Refused(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


async def _read_text(part, limit: int = MAX_FIELD_BYTES) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        data += chunk
        if len(data) > limit:
            raise _Refused("A field of the form is too long.", 413)
    try:
        return data.decode(part.get_charset(default="utf-8"))
    except (UnicodeDecodeError, LookupError):
        raise _Refused("The form could not be read (text that is not UTF-8).", 400) from None


async def _read_profile_form(request: web.Request) -> dict[str, Any]:
    """The fields of the profile form, streamed: CSRF first, the picture bounded by ``avatar_max_bytes``."""
    limit = request.app[NODE].settings.avatar_max_bytes
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise _Refused("The form must be sent as multipart/form-data.", 400) from None
    fields: dict[str, Any] = {}
    checked = False
    try:
        while (part := await reader.next()) is not None:
            name = part.name
            if not checked:
                # Nothing is read (least of all a file) before the form is known to come from our page.
                token = await _read_text(part, 400) if name == csrf.FIELD else ""
                if not csrf.token_is_valid(request, token):
                    raise csrf.refusal(request)
                checked = True
                continue
            if name == "avatar":
                data = bytearray()
                while chunk := await part.read_chunk(CHUNK):
                    data += chunk
                    if len(data) > limit:
                        raise _Refused(f"The picture is larger than {limit / 1024 / 1024:.1f} MB.", 413)
                fields["avatar"] = bytes(data)
            elif name in ("display_name", "bio", "remove_avatar"):
                fields[name] = await _read_text(part)
            else:
                await part.release()
    except (ValueError, AssertionError, UnicodeDecodeError):
        raise _Refused("The form could not be read.", 400) from None
    if not checked:
        raise csrf.refusal(request)
    return fields


async def profile_submit(request: web.Request) -> web.Response:
    """``POST /account/profile``: save name, bio and picture; 303 back to the form, which says it is saved."""
    member = require_member(request)
    node = request.app[NODE]
    name = bio = ""
    try:
        fields = await _read_profile_form(request)
        name = clean_line(fields.get("display_name", ""))
        bio = _CONTROL.sub("", fields.get("bio", "").replace("\r\n", "\n")).strip()
        if len(name) > MAX_NAME:
            raise _Refused(f"The display name is {len(name)} characters long; at most {MAX_NAME} fit.", 400)
        if len(bio) > MAX_BIO:
            raise _Refused(f"The bio is {len(bio)} characters long; at most {MAX_BIO} fit.", 400)
        picture = None
        if fields.get("avatar"):
            try:
                picture = await asyncio.to_thread(make_avatar, fields["avatar"], max_bytes=node.settings.avatar_max_bytes,
                                                  max_pixels=node.settings.avatar_max_pixels)
            except AvatarError as exc:
                raise _Refused(exc.reason, exc.status) from None
    except _Refused as refused:
        context = await _profile_context(request, member)
        return render("account_profile.html", status=refused.status, name=name, bio=bio, error=refused.message,
                      saved=False, headers=NO_STORE, **context, **_common(request))
    async with node.sessions.begin() as session:
        actor = await session.get(Actor, member.actor_id)
        actor.name = name or member.username
        actor.summary = bio_to_html(bio) or None
        if picture is not None:
            await db_avatars.set_avatar(session, member.actor_id, data=picture.data, media_type=picture.media_type,
                                        digest=picture.digest, width=picture.width, height=picture.height)
        elif fields.get("remove_avatar"):
            await db_avatars.remove_avatar(session, member.actor_id)
    await posting.send_profile_update(node, member.actor_id)  # the followers' servers refresh their copy
    raise web.HTTPSeeOther("/account/profile?saved=1")


# --- the export ---------------------------------------------------------------------------------

def _iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


async def export(request: web.Request) -> web.Response:
    """``GET /account/export``: the member's data as one JSON file."""
    member = require_member(request)
    node = request.app[NODE]
    async with node.sessions() as session:
        data = await member_export.export_member(session, member.actor_id)
        digests = await db_avatars.get_avatar_digests(session, [member.actor_id])
    data["profile"]["avatar"] = node.urls.avatar(member.actor_id, digests[member.actor_id]) if digests else None
    data = {"format": "fednode-member-export/1", "exported_at": _iso(datetime.now().astimezone()), **data}
    body = json.dumps(data, ensure_ascii=False, indent=1, default=_iso)
    return web.Response(text=body, content_type="application/json", charset="utf-8", headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="{member.username}-{node.settings.host.split(":")[0]}.json"'})


# --- deleting the account -----------------------------------------------------------------------

async def delete_form(request: web.Request) -> web.Response:
    """``GET /account/delete``: what deleting means, and the password to confirm it."""
    require_member(request)
    return render("account_delete.html", error=None, headers=NO_STORE, **_common(request))


async def delete_submit(request: web.Request) -> web.Response:
    """``POST /account/delete``: with the right password, delete the account and sign out everywhere."""
    member = require_member(request)
    form = await csrf.checked_form(request)
    node = request.app[NODE]
    password = form.get("password", "")
    async with node.sessions() as session:
        row = await db_members.get_member(session, member.member_id)
    if row is None or not isinstance(password, str) or not await verify_password(row.password_hash, password):
        return render("account_delete.html", status=403, error="That is not your password; nothing was deleted.",
                      headers=NO_STORE, **_common(request))
    await posting.delete_account(node, member.actor_id)
    await end_all_sessions(node, member.member_id)
    response = web.HTTPSeeOther("/?account=deleted")
    clear_session_cookie(request, response)
    raise response
