"""CORS for the API: public reads for any origin, writes only for the origins the operator allows.

Read endpoints (GET/HEAD, and their preflight) answer ``Access-Control-Allow-Origin: *``
and never ``Access-Control-Allow-Credentials``: a browser sends no cookies with them and
the answer is the same public JSON for everyone (Fetch standard, "CORS protocol and
credentials").  Write endpoints authenticate with a Bearer token only, never a cookie,
so a page on another origin cannot borrow a signed-in reader's session (no CSRF
exposure); browsers may call them only from the origins listed in ``api_origins``, and
even those get no ``Allow-Credentials``.

The middleware sits outside the error middleware, so a 400 or 404 carries the same
headers and a script can read its reason.
"""

from __future__ import annotations

from aiohttp import web

from node.app import NODE

API_PREFIX = "/api/"
READ_METHODS = ("GET", "HEAD")
WRITE_METHODS = ("POST", "DELETE")
ALLOWED_HEADERS = "Authorization, Content-Type"
PREFLIGHT_MAX_AGE = "600"  # seconds a browser may keep a preflight's answer (Chromium caps it at 7200)

PUBLIC = {"Access-Control-Allow-Origin": "*"}


def write_origin(request: web.Request) -> str | None:
    """The request's ``Origin`` when the operator allows it to call the write API, else None."""
    origin = request.headers.get("Origin", "")
    node = request.app.get(NODE)
    allowed = node.settings.api_origins if node is not None else []
    return origin if origin and origin in allowed else None


def cors_headers(request: web.Request, method: str) -> dict[str, str]:
    """The CORS headers for a request (or a preflight) of ``method`` on an API path."""
    if method in READ_METHODS:
        return dict(PUBLIC)
    origin = write_origin(request)
    if origin is None:
        return {"Vary": "Origin"}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def preflight(request: web.Request) -> web.Response:
    """Answer a CORS preflight (``OPTIONS`` with ``Access-Control-Request-Method``)."""
    method = request.headers.get("Access-Control-Request-Method", "").upper()
    headers = cors_headers(request, method)
    if "Access-Control-Allow-Origin" in headers and (method in READ_METHODS or method in WRITE_METHODS):
        allowed = ", ".join(READ_METHODS if method in READ_METHODS else WRITE_METHODS)
        headers.update({"Access-Control-Allow-Methods": f"{allowed}, OPTIONS",
                        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE})
    # Without Allow-Origin the browser refuses the real request; the 204 itself says nothing.
    return web.Response(status=204, headers=headers)


@web.middleware
async def cors_middleware(request: web.Request, handler):
    """Add the API's CORS headers to every answer under ``/api/`` (errors too); answer preflights."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return preflight(request)
    headers = cors_headers(request, request.method)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(headers)
        raise
    response.headers.update(headers)
    return response
