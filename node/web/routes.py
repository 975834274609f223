"""The route table: every URL the node answers, in one place."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from node.web import (account, ap, api, api_write, avatars, commenting, discovery, discussions, embed, feeds, health,
                      inbox, interact, media, member_account, notifications, pages, tokens)
from node.web.admin.routes import ROUTES as ADMIN_ROUTES


def add_routes(app: web.Application) -> None:
    """Register every route of the node on ``app``."""
    app[interact.LIMITER] = interact.LookupLimiter()
    app[pages.PAGE_CACHE] = pages.discussion.PageCache()
    app[pages.MEMBER_STATES] = pages.member_view.StateCache()
    app[media.MEDIA] = media.MediaProxy()

    async def close_media(app: web.Application) -> None:
        await app[media.MEDIA].close()

    app.on_cleanup.append(close_media)
    app.router.add_routes([
        web.get("/", pages.index),
        web.get("/.well-known/webfinger", discovery.webfinger),
        web.get("/.well-known/host-meta", discovery.host_meta),
        web.get("/.well-known/nodeinfo", discovery.nodeinfo_links),
        web.get("/nodeinfo/{version}", discovery.nodeinfo),
        web.get("/actor", ap.actor),
        web.get("/actor/outbox", ap.outbox),
        web.get("/actor/{which:followers|following}", ap.follow_collection),
        web.get("/actors/{username}", ap.actor),
        web.get("/actors/{username}/outbox", ap.outbox),
        *(web.post(path, inbox.post_inbox) for path in inbox.INBOX_PATHS),  # /actor/inbox: the instance actor's
        web.get("/actors/{username}/{which:followers|following}", ap.follow_collection),
        web.get("/@{username}", pages.profile_by_handle),
        web.get("/articles/{slug}", ap.article),
        web.get("/articles/{slug}/replies", ap.replies),
        web.get("/articles/{slug}/context", ap.context),
        web.get(r"/comments/{comment_id:\d+}", ap.comment),
        web.get(r"/comments/{comment_id:\d+}/replies", ap.replies),
        web.get("/activities/{key}", ap.activity),
        web.get("/tags/{name}", pages.tag),
        web.get(r"/threads/{object_id:\d+}", pages.remote_thread),
        web.get(r"/media/{object_id:\d+}/{index:\d+}", media.media),
        web.get(r"/media/avatars/{actor_id:\d+}/{digest:[0-9a-f]+}.webp", avatars.avatar),
        web.get("/authorize_interaction", pages.authorize_interaction),
        web.get("/discussions", discussions.lookup_page),
        web.post("/discussions", discussions.open_submit),
        web.get("/discussions.json", discussions.lookup_json),
        web.get(r"/discussions/{document_id:\d+}", discussions.discussion),
        web.get(r"/discussions/{document_id:\d+}/replies", discussions.replies),
        web.get(r"/discussions/{document_id:\d+}/context", discussions.context),
        web.get("/embed.js", embed.embed_js),
        web.get("/count.js", embed.count_js),
        web.get("/embed/thread", embed.embed_thread),
        web.get(r"/embed/discussions/{document_id:\d+}", embed.embed_discussion),
        web.get(r"/embed/threads/{object_id:\d+}", embed.embed_article),
        web.get("/api/v1/thread", api.thread),
        web.get("/api/v1/counts", api.counts),
        web.post("/api/v1/comments", api_write.comments),
        web.post("/api/v1/discussions", api_write.discussions),
        web.get("/account/tokens", tokens.tokens_page),
        web.post("/account/tokens", tokens.create),
        web.post(r"/account/tokens/{token_id:\d+}/revoke", tokens.revoke),
        web.get("/feeds/articles.atom", feeds.articles),
        web.get(r"/feeds/threads/{object_id:\d+}.atom", feeds.thread_comments),
        web.get("/feeds/members/{username}.atom", feeds.member_comments),
        web.get("/interact", interact.interact_form),
        web.post("/interact", interact.interact_submit),
        web.get("/login", account.login_form),
        web.post("/login", account.login_submit),
        web.post("/logout", account.logout),
        web.get("/register", account.register_form),
        web.post("/register", account.register_submit),
        web.get("/verify", account.verify),
        web.get("/reset", account.reset_request_form),
        web.post("/reset", account.reset_request_submit),
        web.get("/reset/password", account.new_password_form),
        web.post("/reset/password", account.new_password_submit),
        web.get("/account", account.account_page),
        web.post("/account/password", account.change_password),
        web.post("/account/logout-everywhere", account.logout_everywhere),
        web.get("/account/invites", account.invites_page),
        web.post("/account/invites", account.make_invite),
        # Members taking part (node/web/commenting.py, notifications.py, member_account.py).
        web.get(r"/comments/{object_id:\d+}/reply", commenting.reply_form),
        web.post(r"/comments/{object_id:\d+}/reply", commenting.reply_submit),
        web.get(r"/comments/{object_id:\d+}/edit", commenting.edit_form),
        web.post(r"/comments/{object_id:\d+}/edit", commenting.edit_submit),
        web.get(r"/comments/{object_id:\d+}/delete", commenting.delete_form),
        web.post(r"/comments/{object_id:\d+}/delete", commenting.delete_submit),
        web.post(r"/comments/{object_id:\d+}/{action:like|unlike|boost|unboost}", commenting.react),
        web.post(r"/threads/{object_id:\d+}/comment", commenting.thread_comment),
        web.post(r"/threads/{object_id:\d+}/{action:follow|unfollow}", commenting.follow),
        web.get(r"/c/{object_id:\d+}", commenting.go),
        web.get("/notifications", notifications.notifications_page),
        web.post("/notifications/read", notifications.mark_read),
        web.get("/account/profile", member_account.profile_form),
        web.post("/account/profile", member_account.profile_submit),
        web.get("/account/export", member_account.export),
        web.get("/account/delete", member_account.delete_form),
        web.post("/account/delete", member_account.delete_submit),
        web.get("/healthz", health.healthz),
        web.get("/readyz", health.readyz),
        web.get("/metrics", health.metrics),
        web.static("/static", Path(__file__).parent / "static"),
    ])
    app.router.add_routes(ADMIN_ROUTES)
