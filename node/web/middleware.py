"""Middlewares: request ids, error pages in the format the client asked for, security headers.

No request may turn into a 500 that is not a bug of ours: a body that cannot be
read (corrupt gzip or chunking) is the client's 400, a busy database is a 503
with ``Retry-After``, and a client that went away is not an error at all.  Log
lines carry at most ``LOGGED_PATH`` characters of the path, however long the URL.
"""

from __future__ import annotations

import logging
import random

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from node.app import NODE
from node.db.busy import RETRY_AFTER_SECONDS, is_database_busy
from node.embed_policy import allowed_origins, frame_ancestors
from node.logs import REQUEST_ID, REQUEST_ID_RE
from node.web.error_pages import error_page
from node.web.inbox import is_inbox_post
from node.web.negotiate import wants_activity_json
from node.web.render import REQUEST

log = logging.getLogger("fednode.web")

# No script and no third-party resources on our pages: what remote servers send
# is sanitised, and this header is the second line of defence.
CSP = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self' https:; base-uri 'none'; frame-ancestors 'none'"
# A development node on plain http sends readers on to servers that may be plain
# http too (the reply form redirects there); production keeps https only.
CSP_DEV = CSP.replace("form-action 'self' https:", "form-action 'self' https: http:")
LOGGED_PATH = 200  # characters of a request path in a log line
# The framed discussion (node.web.embed) runs one script of ours, and only the sites in
# ``embed_origins`` may frame it; links and forms in it open in a new tab (its <base target>).
EMBED_PATH = "/embed/"


@web.middleware
async def request_id_middleware(request: web.Request, handler):
    """Give the request an id for every log line it causes, and echo it in ``X-Request-Id``.

    A proxy's id (nginx ``proxy_set_header X-Request-Id $request_id``) is kept when it is
    short and plain, so one id follows the request through both logs; otherwise one is made.
    """
    given = request.headers.get("X-Request-Id", "")
    # A made-up id only tells log lines apart, it guards nothing: 128 bits of the process's
    # random generator (reseeded in a forked child), not uuid4, whose getrandom call per
    # request was 2.6 % of the inbox's event-loop time (docs/performance.md).
    request_id = given if REQUEST_ID_RE.match(given) else f"{random.getrandbits(128):032x}"
    REQUEST_ID.set(request_id)  # the request's own task: it does not leak into others
    # A keep-alive connection answers its requests in one task: nothing of the previous
    # request (the member a page is rendered for) may be seen before the session middleware runs.
    REQUEST.set(None)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Request-Id"] = request_id
        raise
    response.headers["X-Request-Id"] = request_id
    return response


@web.middleware
async def error_middleware(request: web.Request, handler):
    """Answer errors as JSON to servers and as a small page to browsers, never as a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.text not in (None, "", f"{exc.status}: {exc.reason}"):
            raise
        return _error_response(request, exc.status, exc.reason, headers=exc.headers)
    except RequestPayloadError as exc:
        # The body's framing or Content-Encoding is broken (e.g. gzip that is not gzip).
        log.info("unreadable body on %s %s: %s", request.method, logged_path(request), str(exc)[:200].strip())
        # The rest of the body cannot be read either: end it here (aiohttp would otherwise try to
        # drain it after the answer and log the same error as unhandled) and close the connection.
        request.content.feed_eof()
        response = _error_response(request, 400, "The request body could not be read (corrupt encoding)")
        response.force_close()
        return response
    except ConnectionResetError:
        # The client went away mid-request (aiohttp's ClientConnectionResetError is one too):
        # nobody is left to answer, and it is not our error.
        log.debug("client disconnected during %s %s", request.method, logged_path(request))
        return web.Response(status=400, text="client disconnected")
    except Exception as exc:
        if is_database_busy(exc):
            log.warning("database busy on %s %s: %s", request.method, logged_path(request), exc.__class__.__name__)
            return _error_response(request, 503, "Service Unavailable: the database is busy, retry later",
                                   headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        log.exception("unhandled error on %s %s", request.method, logged_path(request))
        return _error_response(request, 500, "Internal Server Error")


def logged_path(request: web.Request) -> str:
    """The request path as it may appear in a log line: at most ``LOGGED_PATH`` characters."""
    path = request.path
    return path if len(path) <= LOGGED_PATH else f"{path[:LOGGED_PATH]}…({len(path)} characters)"


def _error_response(request: web.Request, status: int, reason: str, headers=None) -> web.Response:
    extra = {k: v for k, v in (headers or {}).items() if k.lower() in ("allow", "vary", "retry-after")}
    from_a_form = request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
    if (request.path.startswith(("/.well-known", "/nodeinfo", "/api/")) or wants_activity_json(request)
            or (request.method == "POST" and not from_a_form)):
        return web.json_response({"error": reason}, status=status, headers=extra)
    # A browser's form (a member's comment, a moderator's decision) gets a page saying what went wrong.
    return error_page(request, status, reason, headers=extra)


@web.middleware
async def security_headers_middleware(request: web.Request, handler):
    """Headers every response carries: no sniffing, a strict CSP on pages, no referrer leaks."""
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if (response.content_type or "").startswith("text/html"):
        node = request.app.get(NODE)
        dev = node is not None and node.settings.scheme == "http"
        policy = CSP_DEV if dev else CSP
        if node is not None and request.path.startswith(EMBED_PATH):
            policy = embed_csp(policy, node.settings.embed_origins)
        response.headers.setdefault("Content-Security-Policy", policy)
    return response


def embed_csp(policy: str, embed_origins: list[str]) -> str:
    """The page CSP for the framed discussion: our own script, framed only by the allowed sites."""
    ancestors = frame_ancestors(allowed_origins(embed_origins))
    return policy.replace("default-src 'none';", "default-src 'none'; script-src 'self';") \
        .replace("frame-ancestors 'none'", ancestors)


@web.middleware
async def site_settings_middleware(request: web.Request, handler):
    """Pages show the site settings in force: this process's snapshot, read again when it is old (node.site).

    An inbox POST shows no page: it does not wait for a read of the settings.
    """
    node = request.app.get(NODE)
    if node is not None and node.site is not None and not is_inbox_post(request):
        await node.site.fresh()
    return await handler(request)
