"""Authorized fetch: with the ``authorized_fetch`` setting on, our documents need a signed GET.

Actor documents stay public (they carry the keys everyone needs to verify us,
and the instance actor must be readable to break signed-fetch deadlocks);
articles, comments, collections and activities answer 401 to unsigned requests
and 403 to blocked domains.  Responses then vary on the signature too.
"""

from __future__ import annotations

import re

from aiohttp import web

from node.app import NODE
from node.errors import Blocked, SignatureError
from node.federation.authenticate import addressed_to_us, signature_input, verify
from node.web.negotiate import wants_activity_json

# Paths that anyone may read without signing: actors (keys live there) and discovery.
PUBLIC_PATHS = re.compile(r"^/(actor|actors/[^/]+|\.well-known/.*|nodeinfo/.*|static/.*)$")


def needs_signature(request: web.Request) -> bool:
    """Whether this request must be signed under authorized fetch."""
    return (
        request.method in ("GET", "HEAD")
        and wants_activity_json(request)
        and not PUBLIC_PATHS.match(request.path)
    )


@web.middleware
async def authorized_fetch_middleware(request: web.Request, handler):
    """Refuse unsigned ActivityStreams GETs when ``authorized_fetch`` is on."""
    node = request.app[NODE]
    if not node.settings.authorized_fetch:
        return await handler(request)
    vary = {"Vary": "Accept, Signature"}
    if needs_signature(request):
        try:
            uri, headers = addressed_to_us(node.settings.scheme, node.settings.signature_hosts, request.host,
                                           request.raw_path, request.headers)
            sig = signature_input("GET", uri, headers, b"")
            auth = await verify(sig, node.resolver, node.settings.blocked_domains)
        except Blocked as exc:
            return web.json_response({"error": exc.reason}, status=403, headers=vary)
        except SignatureError as exc:
            return web.json_response({"error": f"this server requires signed fetches: {exc.reason}"}, status=401, headers=vary)
        await node.resolver.remember(auth.key)
    response = await handler(request)
    if wants_activity_json(request):
        response.headers["Vary"] = "Accept, Signature"
    return response
