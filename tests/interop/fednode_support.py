"""Helpers for the interop tests of Fednode against real peers: waiting, what the peer saw, publishing.

Shared by the Fedify tests (tests/interop/test_fedify_*.py) and the bovine test
(tests/interop/test_bovine_vs_fednode.py).  ``peer_view`` puts what a Fedify peer received,
rejected and logged into an assertion's message, so a failure says which side broke.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

from node.content import Draft
from node.db import queries
from node.services.publish import Published, publish_article
from tests.interop.fedify import FedifyPeer
from tests.support import RunningNode


async def peer_view(peer: FedifyPeer) -> str:
    """What the peer saw, for assertion messages: received, rejected, errors, output tail."""
    try:
        received = [(a["type"], a["id"], a["signature_scheme"]) for a in await peer.received()]
        rejected = await peer.rejected()
        errors = await peer.errors()
    except Exception as exc:  # the peer may be the thing that broke
        return f"(peer control API unavailable: {exc!r})\n--- peer output ---\n{peer.output[-3000:]}"
    return (
        f"peer received: {received}\npeer rejected: {rejected}\npeer listener errors: {errors}\n"
        f"--- peer output ---\n{peer.output[-3000:]}"
    )


async def wait_until(
    check: Callable[[], Awaitable[Any]], what: str, *, timeout: float = 10.0,
    peer: FedifyPeer | None = None,
) -> Any:
    """Poll the async ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = await check()
        if last:
            return last
        if time.monotonic() > deadline:
            view = await peer_view(peer) if peer is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})\n{view}")
        await asyncio.sleep(0.05)


async def publish(node: RunningNode, title: str, slug: str, body: str) -> Published:
    """Publish (or edit, when the slug exists) an article by the editor and wake the worker."""
    async with node.node.sessions.begin() as session:
        author = await queries.get_local_actor(session, "editor")
        published = await publish_article(session, node.settings, Draft(title, slug, body), author)
    node.node.wake_delivery()
    return published


async def follow_site(peer: FedifyPeer, node: RunningNode) -> tuple[dict, dict]:
    """The peer follows our site; returns (the control answer, the verified Accept)."""
    sent = await peer.follow(node.url("/actors/forum"))
    assert sent["ok"] is True, f"step: peer follows our site: {sent}\n{await peer_view(peer)}"
    accept = await peer.wait_for_received(type="Accept", object=sent["id"], timeout=15)
    return sent, accept


async def page_of(http, node: RunningNode, slug: str) -> str:
    """Our article ``slug`` as a browser gets it (its HTML page)."""
    async with http.get(node.url(f"/articles/{slug}"), headers={"Accept": "text/html"}) as response:
        return await response.text()
