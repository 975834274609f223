"""The admin area's routes, in one table (``node.web.routes`` adds them)."""

from __future__ import annotations

from aiohttp import web

from node.web.admin import blocks, deliveries, followers, members, modlog, queue, reports, site

ROUTES = [
    web.get("/admin", queue.dashboard),
    web.get("/admin/queue", queue.queue),
    web.post(r"/admin/comments/{comment_id:\d+}/{action:approve|reject|remove|restore|report}", queue.decide),
    web.get("/admin/reports", reports.reports),
    web.post(r"/admin/reports/{report_id:\d+}/{action:resolve|dismiss}", reports.resolve),
    web.get("/admin/blocks", blocks.blocks),
    web.post("/admin/blocks", blocks.add_block),
    web.post("/admin/blocks/remove", blocks.remove_block),
    web.post("/admin/blocks/import", blocks.import_blocklist),
    web.get("/admin/blocks/export.csv", blocks.export_blocklist),
    web.post("/admin/bans", blocks.add_ban),
    web.post("/admin/bans/remove", blocks.remove_ban),
    web.get("/admin/log", modlog.modlog),
    web.get("/admin/members", members.members),
    web.post(r"/admin/members/{member_id:\d+}/{action:approve|reject|suspend|unsuspend}", members.decide),
    web.post(r"/admin/members/{member_id:\d+}/role", members.role),
    web.get("/admin/followers", followers.followers),
    web.post(r"/admin/followers/{follow_id:\d+}/{action:remove|approve}", followers.answer),
    web.get("/admin/deliveries", deliveries.articles),
    web.get(r"/admin/deliveries/{object_id:\d+}", deliveries.ledger),
    web.post(r"/admin/deliveries/{object_id:\d+}/retry", deliveries.retry),
    web.get("/admin/site", site.settings_page),
    web.post("/admin/site", site.save),
    web.post("/admin/site/reset", site.reset),
    web.post("/admin/site/avatar", site.avatar),
    web.post("/admin/site/avatar/remove", site.remove_avatar),
]
