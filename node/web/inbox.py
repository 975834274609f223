"""The inbox endpoints (shared and per actor): a thin layer over ``federation.inbox``.

An inbox POST comes from another server: it is answered in JSON, never shows a page, and has
no member, so the middlewares skip the site settings and the session and CSRF cookies for
it (``is_inbox_post``); its request id, error answers and security headers are as for every
request.
"""

from __future__ import annotations

from aiohttp import web

from node.app import NODE
from node.db import queries
from node.federation.authenticate import addressed_to_us
from node.federation.inbox import InboxOutcome, InboxRequest, InboxResult

# The shared inbox, the instance actor's and each actor's (node.web.routes).
INBOX_PATHS = ("/inbox", "/actor/inbox", "/actors/{username}/inbox")


def is_inbox_post(request: web.Request) -> bool:
    """Whether ``request`` is a POST routed to an inbox: another server delivering an activity."""
    if request.method != "POST":
        return False
    resource = request.match_info.route.resource  # None for a 404 or 405
    return resource is not None and resource.canonical in INBOX_PATHS


def _answer(result: InboxResult, node=None) -> web.Response:
    if node is not None:
        node.metrics.inbox_answered(result.outcome.status, result.outcome.value[1])
    # A 2xx to a request we could not verify would teach Fedify the wrong
    # signature scheme, so every refusal gets its real status and a reason.
    body = {"status": result.outcome.value[1], "reason": result.reason}
    if result.activity_id:
        body["id"] = result.activity_id
    return web.json_response(body, status=result.outcome.status)


async def post_inbox(request: web.Request) -> web.Response:
    """Receive one activity: 202 when stored (or already known), 4xx with a reason otherwise."""
    node = request.app[NODE]
    username = request.match_info.get("username")
    if username is not None:
        async with node.sessions() as session:
            if await queries.get_local_actor(session, username) is None:
                raise web.HTTPNotFound()
    limit = node.settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _answer(InboxResult(InboxOutcome.TOO_LARGE, f"body is larger than {limit} bytes"), node)
    try:
        # client_max_size makes read() stop at the limit, counting decompressed bytes.
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _answer(InboxResult(InboxOutcome.TOO_LARGE, f"body is larger than {limit} bytes"), node)
    uri, headers = addressed_to_us(node.settings.scheme, node.settings.signature_hosts, request.host,
                                   request.raw_path, request.headers)
    result = await node.inbox.receive(InboxRequest(
        method=request.method,
        target_uri=uri,
        headers=headers,
        body=body,
        content_type=request.headers.get("Content-Type", ""),
    ))
    return _answer(result, node)
