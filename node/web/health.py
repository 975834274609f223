"""Operator endpoints: ``/healthz`` (alive), ``/readyz`` (can serve) and ``/metrics`` (Prometheus).

``/metrics`` tells a lot about the node (its queues, the hosts it talks to), so it is
served only to the addresses in ``metrics_allow`` (loopback by default) or to a request
carrying ``Authorization: Bearer <metrics_token>``.  A request that came through a
reverse proxy (``Forwarded`` or ``X-Forwarded-For`` present) is never trusted for its
socket address, which is the proxy's: behind nginx on the same machine every visitor
would otherwise look like 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import ipaddress
import logging

from aiohttp import web
from alembic.script import ScriptDirectory

from node.app import NODE
from node.db import stats
from node.db.engine import alembic_config, current_revision
from node.metrics import CONTENT_TYPE

log = logging.getLogger("fednode.health")

READY_TIMEOUT = 5.0  # seconds: a database slower than this is not ready to serve


@functools.cache
def head_revision() -> str | None:
    """The newest migration shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@functools.cache
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allowed)


def _bearer(request: web.Request) -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def _address_allowed(request: web.Request, allowed: list[str]) -> bool:
    if "Forwarded" in request.headers or "X-Forwarded-For" in request.headers:
        return False  # the socket address is the proxy's, not the client's
    try:
        address = ipaddress.ip_address((request.remote or "").split("%")[0])
    except ValueError:
        return False  # a Unix socket or no peer: no address to allow
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(tuple(allowed)))


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers HTTP (for a supervisor's liveness probe)."""
    return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: the database answers and its schema is at this code's newest migration; else 503."""
    node = request.app[NODE]
    problems: list[str] = []
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            async with node.sessions() as session:
                await stats.ping(session)
            revision = await current_revision(node.engine)
        if revision != head_revision():
            problems.append(f"database schema is at {revision or 'nothing'}, this code needs {head_revision()} "
                            "(run `fednode db upgrade`)")
    except Exception as exc:  # any failure to reach the database means "not ready", never a 500
        log.warning("readiness check: database unreachable: %s", exc.__class__.__name__)
        problems.append(f"database unreachable ({exc.__class__.__name__})")
    body = {"status": "ready" if not problems else "not ready", "problems": problems}
    return web.json_response(body, status=200 if not problems else 503, headers={"Cache-Control": "no-store"})


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text exposition, for allowed addresses or the bearer token."""
    node = request.app[NODE]
    settings = node.settings
    token = _bearer(request)
    if token is not None:
        if not settings.metrics_token or not hmac.compare_digest(token.encode(), settings.metrics_token.encode()):
            return web.json_response({"error": "wrong metrics token"}, status=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    elif not _address_allowed(request, settings.metrics_allow):
        return web.json_response(
            {"error": "metrics are served only to the addresses in metrics_allow, or with the metrics token"},
            status=403)
    body = await node.metrics.render(node.sessions)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})
