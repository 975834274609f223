"""The site settings page (admins only): name, summary, rules, registration mode and picture.

Saving goes through ``node.services.site_settings``: the values are stored in the
database (overriding the configuration file's) and a changed name, summary or
picture sends the Group's followers an ``Update`` at once.  A value that cannot
be saved comes back in the form with the reason beside its field (400).
"""

from __future__ import annotations

from aiohttp import web

from node import config, site
from node.app import NODE
from node.db import site_settings as db
from node.members.avatars import AvatarError
from node.services import site_settings
from node.web.admin import common

MODES = {
    "open": "Open: anyone can join at once",
    "approval": "Approval: people say why they want to join; an admin approves them",
    "invite": "Invite only: people join with an invite link",
    "closed": "Closed: nobody can join",
}


def _form_page(request: web.Request, *, values=None, errors=None, status: int = 200, stored=None) -> web.Response:
    node = request.app[NODE]
    current = site.current(node)
    shown = {"site_name": current.name, "site_summary": current.summary, "site_rules": current.rules,
             "registration_mode": current.registration_mode, **(values or {})}
    defaults = {"site_name": node.settings.site_name, "site_summary": node.settings.site_summary,
                "site_rules": node.settings.site_rules,
                "registration_mode": getattr(node.settings, "registration_mode", "closed")}
    modes = [(mode, MODES.get(mode, mode)) for mode in config.REGISTRATION_MODES]
    return common.page(request, "admin/site.html", "site", status=status, values=shown, errors=errors or {},
                       defaults=defaults, overridden=set(stored or ()),
                       saved_keys=[k for k in ("site_name", "site_summary", "site_rules", "registration_mode")
                                   if k in (stored or ())], modes=modes, avatar_url=current.avatar_url,
                       avatar_max_mib=round(node.settings.avatar_max_bytes / 1024 / 1024, 1), limits={
                           "site_name": site_settings.NAME_MAX, "site_summary": site_settings.SUMMARY_MAX,
                           "site_rules": site_settings.RULES_MAX})


async def _stored(request: web.Request) -> dict:
    async with request.app[NODE].sessions() as session:
        return await db.load(session)


async def settings_page(request: web.Request) -> web.Response:
    """``/admin/site``: the form, showing the values in force and which differ from the configuration file."""
    common.admin(request)
    return _form_page(request, stored=await _stored(request))


async def save(request: web.Request) -> web.Response:
    """``POST /admin/site``: save the settings; the Group's followers hear of a new name or summary."""
    member = common.admin(request)
    form = await common.form(request)
    node = request.app[NODE]
    values = {key: form.get(key) for key in ("site_name", "site_summary", "site_rules", "registration_mode")
              if key in form}
    try:
        saved = await site_settings.save(node, values, by=member.username)
    except site_settings.SiteSettingsError as exc:
        shown = {k: v for k, v in values.items() if isinstance(v, str)}
        return _form_page(request, values=shown, errors={exc.field: str(exc)}, status=400,
                          stored=await _stored(request))
    raise common.see_other("/admin/site", "site-update" if saved.deliveries else "site")


async def reset(request: web.Request) -> web.Response:
    """``POST /admin/site/reset`` with ``key``: the configuration file's value applies again."""
    member = common.admin(request)
    form = await common.form(request)
    key = form.get("key")
    if key not in ("site_name", "site_summary", "site_rules", "registration_mode"):
        raise web.HTTPBadRequest(reason="key must be a site setting")
    saved = await site_settings.reset(request.app[NODE], (key,), by=member.username)
    raise common.see_other("/admin/site", "site-update" if saved.deliveries else "site")


async def avatar(request: web.Request) -> web.Response:
    """``POST /admin/site/avatar`` (multipart, ``picture``): the site's new picture, the Group's icon."""
    member = common.admin(request)
    form = await common.form(request)
    node = request.app[NODE]
    upload = form.get("picture")
    if upload is None or isinstance(upload, str) or getattr(upload, "file", None) is None:
        return _form_page(request, errors={"picture": "Choose a picture to upload."}, status=400,
                          stored=await _stored(request))
    data = upload.file.read(node.settings.avatar_max_bytes + 1)
    try:
        await site_settings.set_avatar(node, data, by=member.username)
    except AvatarError as exc:
        return _form_page(request, errors={"picture": str(exc)}, status=exc.status, stored=await _stored(request))
    raise common.see_other("/admin/site", "avatar")


async def remove_avatar(request: web.Request) -> web.Response:
    """``POST /admin/site/avatar/remove``: the site has no picture any more."""
    member = common.admin(request)
    await common.form(request)
    await site_settings.remove_avatar(request.app[NODE], by=member.username)
    raise common.see_other("/admin/site", "avatar-removed")
