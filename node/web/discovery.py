"""Handlers for WebFinger, host-meta and NodeInfo."""

from __future__ import annotations

from aiohttp import web

from node.app import NODE
from node.db import queries
from node.federation import wellknown
from node.federation.vocab import JRD_JSON
from node.urls import INSTANCE_ACTOR_USERNAME
from node import site

CORS = {"Access-Control-Allow-Origin": "*"}


def _json(data, *, content_type: str, status: int = 200, cache: str | None = None) -> web.Response:
    headers = dict(CORS)
    if cache:
        headers["Cache-Control"] = cache
    return web.json_response(data, status=status, content_type=content_type, headers=headers)


async def webfinger(request: web.Request) -> web.Response:
    """RFC 7033: 400 for a missing or malformed resource, 404 for an unknown one."""
    node = request.app[NODE]
    resource = request.query.get("resource")
    if not resource:
        return _json({"error": "missing resource parameter"}, content_type=JRD_JSON, status=400)
    async with node.sessions() as session:
        actor = None
        if resource.startswith(("http://", "https://")):
            # Some servers look actors up by their URL (id or profile page).
            actor = await queries.get_local_actor_by_url(session, resource)
        else:
            try:
                username = wellknown.parse_acct(resource, node.settings.host)
            except ValueError as exc:
                return _json({"error": str(exc)}, content_type=JRD_JSON, status=400)
            if username is not None:
                actor = await queries.get_local_actor(session, username)
            if actor is None and username == INSTANCE_ACTOR_USERNAME:
                actor = await queries.get_local_actor(session, INSTANCE_ACTOR_USERNAME)
    if actor is None:
        return _json({"error": "no such account here"}, content_type=JRD_JSON, status=404, cache="max-age=180")
    if actor.deleted_at is not None:
        # Mastodon answers 410 for an account that was deleted: the name will not come back.
        return _json({"error": "this account was deleted"}, content_type=JRD_JSON, status=410, cache="max-age=180")
    return _json(
        wellknown.webfinger_jrd(actor, node.urls, node.settings.host),
        content_type=JRD_JSON,
        cache="max-age=259200, public",
    )


async def host_meta(request: web.Request) -> web.Response:
    """host-meta (XRD) with the WebFinger template."""
    node = request.app[NODE]
    return web.Response(
        text=wellknown.host_meta_xrd(node.urls),
        content_type="application/xrd+xml",
        headers={**CORS, "Vary": "Accept", "Cache-Control": "max-age=259200, public"},
    )


async def nodeinfo_links(request: web.Request) -> web.Response:
    """``/.well-known/nodeinfo``: links to each NodeInfo version."""
    node = request.app[NODE]
    return _json(wellknown.nodeinfo_links(node.urls), content_type="application/json", cache="max-age=259200, public")


async def nodeinfo(request: web.Request) -> web.Response:
    """NodeInfo 2.0 or 2.1, with usage counted from the database."""
    node = request.app[NODE]
    version = request.match_info["version"]
    if version not in wellknown.NODEINFO_VERSIONS:
        raise web.HTTPNotFound()
    async with node.sessions() as session:
        document = wellknown.nodeinfo_document(
            version,
            users_total=await queries.count_active_authors(session, None),
            active_month=await queries.count_active_authors(session, queries.days_ago(30)),
            active_halfyear=await queries.count_active_authors(session, queries.days_ago(180)),
            local_posts=await queries.count_local_posts(session),
            # Mastodon reports approval-mode sign-ups as open too: anyone may ask for an account.
            open_registrations=node.settings.open_registrations
            or site.current(node).registration_mode in ("open", "approval"),
            node_name=site.current(node).name,
        )
    profile = f'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/{version}#"'
    response = _json(document, content_type="application/json", cache="max-age=1800, public")
    response.headers["Content-Type"] = profile
    return response
