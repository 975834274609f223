"""Domain blocks and actor bans: add and lift them, import and export Mastodon's CSV blocklists.

The work is done by ``node.moderation.actions`` (retroactive: a suspension hides
the domain's comments and severs its follows, lifting it shows them again) and
``node.moderation.blocklist`` (parsing, the preview, all-or-nothing import).  An
import is shown as a preview first; the moderator applies exactly the text they
previewed (it travels in the preview's form), so nothing changes unseen.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from node.app import NODE
from node.db import moderation as db_moderation
from node.db.types import utcnow
from node.moderation import actions, blocklist
from node.web.admin import common

BLOCKLIST_MAX_BYTES = 512 * 1024  # a Mastodon export of thousands of domains is well under this
SOURCE_MAX = 100  # characters of an imported list's name
MAX_BAN_DAYS = 36_500


async def blocks(request: web.Request) -> web.Response:
    """``/admin/blocks``: the domain blocks and the bans in force, with forms to add, lift and import."""
    common.moderator(request)
    node = request.app[NODE]
    async with node.sessions() as session:
        domain_blocks = await db_moderation.list_domain_blocks(session)
        bans = await db_moderation.active_bans(session)
    return common.page(request, "admin/blocks.html", "blocks", blocks=domain_blocks, bans=bans,
                       severities=actions.SEVERITIES)


async def _apply(request: web.Request, done: str, work) -> web.Response:
    """Run one block/ban change in a transaction; the inbox gate sees it at once; 303 back."""
    node = request.app[NODE]
    try:
        async with node.sessions.begin() as session:
            await work(node, session)
    except actions.ModerationError as exc:
        return common.refused(request, str(exc), back="/admin/blocks", status=400)
    node.gate.invalidate()
    node.wake_delivery()
    raise common.see_other("/admin/blocks", done)


async def add_block(request: web.Request) -> web.Response:
    """``POST /admin/blocks``: block a domain (``silence`` or ``suspend``), with a public comment."""
    member = common.moderator(request)
    form = await common.form(request)
    domain, severity = (form.get("domain") or "").strip(), form.get("severity") or ""
    if not isinstance(domain, str) or not domain:
        return common.refused(request, "Give the domain to block (for example spam.example).", back="/admin/blocks",
                              status=400)
    reason = common.reason_of(form)

    async def work(node, session):
        await actions.block_domain(session, domain, str(severity), moderator=member.username, reason=reason,
                                   source="web")
    return await _apply(request, "block", work)


async def remove_block(request: web.Request) -> web.Response:
    """``POST /admin/blocks/remove``: lift a domain block (a suspension's hidden comments are shown again)."""
    member = common.moderator(request)
    form = await common.form(request)
    domain = form.get("domain") or ""
    if not isinstance(domain, str):
        raise web.HTTPBadRequest(reason="domain must be text")

    async def work(node, session):
        await actions.unblock_domain(session, domain, moderator=member.username, reason=common.reason_of(form))
    return await _apply(request, "unblock", work)


async def add_ban(request: web.Request) -> web.Response:
    """``POST /admin/bans``: ban an actor (``@user@host`` or its id), optionally for some days, optionally
    removing its comments."""
    member = common.moderator(request)
    form = await common.form(request)
    who = form.get("actor") or ""
    if not isinstance(who, str) or not who.strip() or len(who) > 2048:
        return common.refused(request, "Give the account to ban: @user@host or its address.", back="/admin/blocks",
                              status=400)
    days_text = (form.get("days") or "").strip() if isinstance(form.get("days"), str) else ""
    days = None
    if days_text:
        try:
            days = float(days_text)
        except ValueError:
            days = -1.0
        if not 0 < days <= MAX_BAN_DAYS or days != days:
            return common.refused(request, f"Days must be a number from 1 to {MAX_BAN_DAYS}, or empty for a "
                                  "ban without end.", back="/admin/blocks", status=400)
    reason = common.reason_of(form)

    async def work(node, session):
        actor = await actions.find_actor(session, who.strip())
        await actions.ban(node, session, actor, moderator=member.username, reason=reason,
                          expires_at=utcnow() + timedelta(days=days) if days else None,
                          remove_comments=form.get("remove_comments") == "on")
    return await _apply(request, "ban", work)


async def remove_ban(request: web.Request) -> web.Response:
    """``POST /admin/bans/remove``: lift a ban."""
    member = common.moderator(request)
    form = await common.form(request)
    who = form.get("actor") or ""
    if not isinstance(who, str):
        raise web.HTTPBadRequest(reason="actor must be text")

    async def work(node, session):
        await actions.unban(session, who.strip(), moderator=member.username, reason=common.reason_of(form))
    return await _apply(request, "unban", work)


def _blocklist_text(form) -> str:
    """The CSV of an import form: an uploaded file, or the text carried over from the preview."""
    upload = form.get("file")
    if upload is not None and not isinstance(upload, str) and getattr(upload, "file", None) is not None:
        data = upload.file.read(BLOCKLIST_MAX_BYTES + 1)
    else:
        data = (form.get("csv") or "").encode("utf-8") if isinstance(form.get("csv"), str) else b""
    if len(data) > BLOCKLIST_MAX_BYTES:
        raise blocklist.BlocklistError(f"the list is larger than {BLOCKLIST_MAX_BYTES // 1024} KiB")
    if not data.strip():
        raise blocklist.BlocklistError("choose a CSV file (Mastodon's domain_blocks.csv)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise blocklist.BlocklistError("the file is not UTF-8 text") from None


def _source_name(form) -> str:
    upload = form.get("file")
    given = form.get("source") if isinstance(form.get("source"), str) else ""
    name = given.strip() or (getattr(upload, "filename", "") or "").strip() or "web"
    name = "".join(ch for ch in name if ch.isprintable())[:SOURCE_MAX]
    return name if name.startswith("import:") else "import:" + name


async def import_blocklist(request: web.Request) -> web.Response:
    """``POST /admin/blocks/import``: ``preview`` shows what would change; ``apply`` imports all or nothing."""
    member = common.moderator(request)
    form = await common.form(request)
    node = request.app[NODE]
    apply = form.get("apply") == "1"
    try:
        text = _blocklist_text(form)
        source = _source_name(form)
        entries = blocklist.parse(text)
        async with node.sessions.begin() as session:
            plan = await actions.import_blocklist(session, entries, source, moderator=member.username, apply=apply)
    except (blocklist.BlocklistError, actions.ModerationError) as exc:
        return common.refused(request, str(exc), back="/admin/blocks", status=400)
    if not apply:
        return common.page(request, "admin/import_preview.html", "blocks", plan=plan, lines=plan.lines(),
                           csv=text, source=source)
    node.gate.invalidate()
    node.wake_delivery()
    raise common.see_other("/admin/blocks", "import")


async def export_blocklist(request: web.Request) -> web.Response:
    """``/admin/blocks/export.csv``: the domain blocks as Mastodon's CSV, to download."""
    common.moderator(request)
    node = request.app[NODE]
    async with node.sessions() as session:
        text = blocklist.export(await db_moderation.list_domain_blocks(session))
    return web.Response(text=text, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="{node.settings.host.split(":")[0]}_domain_blocks.csv"',
        "Cache-Control": "no-store"})
